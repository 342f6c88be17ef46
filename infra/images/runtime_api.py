"""The Lambda Runtime API (version 2018-06-01), serving invocations to a function's runtime.

Inside every Lambda image a runtime interface client (``awslambdaric`` for Python) imports the
handler, then long-polls ``GET /runtime/invocation/next`` for an event and posts the handler's
result to ``/runtime/invocation/<id>/response`` (or ``/error``); a handler that cannot be imported
is reported to ``/runtime/init/error``. AWS's Runtime Interface Emulator plays the other side on a
developer machine, but it is not on PyPI; :class:`RuntimeApiServer` is that side, small and on
127.0.0.1: :meth:`~RuntimeApiServer.invoke` hands one event to the next poll and waits for the answer.

The first poll marks the end of the runtime's initialisation (interpreter start and handler
import), which is what Lambda reports as *Init Duration*.
"""

from __future__ import annotations

import json
import logging
import queue
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from infra.local_stack.endpoint import LOCALHOST

logger = logging.getLogger(__name__)

API_VERSION = "2018-06-01"
_PREFIX = f"/{API_VERSION}/runtime"


class RuntimeApiError(RuntimeError):
    """The runtime failed to start, did not answer in time, or broke the protocol."""


@dataclass
class Invocation:
    """One event handed to the runtime, and what came back."""

    request_id: str
    event: bytes
    deadline_ms: int
    sent_at: float | None = None
    """When the runtime received the event (``time.monotonic``)."""
    answered_at: float | None = None
    response: bytes | None = None
    error: dict[str, Any] | None = None
    error_type: str | None = None
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def duration_s(self) -> float:
        """From the runtime receiving the event to its answer: Lambda's *Duration*."""
        if self.sent_at is None or self.answered_at is None:
            raise RuntimeApiError(f"invocation {self.request_id} was not answered")
        return self.answered_at - self.sent_at

    def result(self) -> Any:
        """The handler's return value (JSON), or ``RuntimeApiError`` with the function's error."""
        if self.error is not None:
            message = self.error.get("errorMessage", "")
            raise RuntimeApiError(
                f"the function failed: {self.error_type or self.error.get('errorType')}: {message}"
            )
        return json.loads(self.response or b"null")


class RuntimeApiServer:
    """Lambda's Runtime API on ``127.0.0.1:port`` for one function's runtime process.

    Args:
        function_arn: Sent as ``Lambda-Runtime-Invoked-Function-Arn``.
        timeout_s: The function's timeout; each event's deadline (``Lambda-Runtime-Deadline-Ms``).
        port: TCP port; 0 picks a free one.
    """

    def __init__(self, *, function_arn: str, timeout_s: int, port: int = 0) -> None:
        self.function_arn = function_arn
        self.timeout_s = timeout_s
        self._pending: queue.Queue[Invocation | None] = queue.Queue()
        self._invocations: dict[str, Invocation] = {}
        self._lock = threading.Lock()
        self.first_poll_at: float | None = None
        """When the runtime first asked for an event (``time.monotonic``): its init was done."""
        self.init_error: dict[str, Any] | None = None
        self._polled = threading.Event()
        self._server = _Server((LOCALHOST, port), self._request_handler())
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>``, the value of ``AWS_LAMBDA_RUNTIME_API``."""
        return f"{LOCALHOST}:{self._server.server_address[1]}"

    def start(self) -> RuntimeApiServer:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="runtime-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release a waiting poll, stop serving and close the socket."""
        self._pending.put(None)
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def wait_initialised(self, timeout_s: float, alive: Callable[[], bool] | None = None) -> float:
        """Wait for the runtime's first poll and return its time; ``RuntimeApiError`` on an init error.

        ``alive`` is asked every tenth of a second whether the runtime still runs.
        """
        deadline = time.monotonic() + timeout_s
        while not self._polled.wait(0.1):
            if self.init_error is not None:
                raise RuntimeApiError(f"the handler could not be loaded: {_describe(self.init_error)}")
            if alive is not None and not alive():
                raise RuntimeApiError("the runtime exited before asking for an event")
            if time.monotonic() > deadline:
                raise RuntimeApiError(f"the runtime did not ask for an event within {timeout_s} s")
        assert self.first_poll_at is not None
        return self.first_poll_at

    def invoke(self, event: Any, *, alive: Callable[[], bool] | None = None) -> Invocation:
        """Hand ``event`` (JSON-serialisable) to the runtime's next poll and wait for its answer.

        Waits up to the function's timeout (plus a second), as Lambda would, then raises.
        """
        invocation = Invocation(
            request_id=str(uuid.uuid4()),
            event=json.dumps(event).encode(),
            deadline_ms=int((time.time() + self.timeout_s) * 1000),
        )
        with self._lock:
            self._invocations[invocation.request_id] = invocation
        self._pending.put(invocation)
        limit = time.monotonic() + self.timeout_s + 1
        while not invocation.done.wait(0.1):
            if alive is not None and not alive():
                raise RuntimeApiError(f"the runtime exited during invocation {invocation.request_id}")
            if time.monotonic() > limit:
                raise RuntimeApiError(
                    f"invocation {invocation.request_id} timed out after {self.timeout_s} s"
                )
        return invocation

    # --- the protocol --------------------------------------------------------------------------------

    def _next(self) -> Invocation | None:
        if self.first_poll_at is None:
            self.first_poll_at = time.monotonic()
            self._polled.set()
        invocation = self._pending.get()
        if invocation is not None:
            invocation.sent_at = time.monotonic()
        return invocation

    def _answer(self, request_id: str, kind: str, body: bytes, error_type: str | None) -> bool:
        with self._lock:
            invocation = self._invocations.get(request_id)
        if invocation is None or invocation.done.is_set():
            return False
        invocation.answered_at = time.monotonic()
        if kind == "response":
            invocation.response = body
        else:
            invocation.error = _json_object(body)
            invocation.error_type = error_type
        invocation.done.set()
        return True

    def _request_handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out as two writes; without this each answer waits for a delayed ACK.
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                if self.path != f"{_PREFIX}/invocation/next":
                    self._reply(404, {"errorMessage": f"no route {self.path}"})
                    return
                invocation = server._next()
                if invocation is None:  # the server is stopping
                    self._reply(410, {"errorMessage": "the runtime API is shutting down"})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(invocation.event)))
                self.send_header("Lambda-Runtime-Aws-Request-Id", invocation.request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(invocation.deadline_ms))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", server.function_arn)
                self.send_header(
                    "Lambda-Runtime-Trace-Id", f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
                )
                self.end_headers()
                self.wfile.write(invocation.event)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = self.path.removeprefix(_PREFIX).strip("/").split("/")
                error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
                if parts == ["init", "error"]:
                    server.init_error = _json_object(body) | {"errorType": error_type or "Runtime.Unknown"}
                    self._reply(202, {"status": "OK"})
                elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                    if server._answer(parts[1], parts[2], body, error_type):
                        self._reply(202, {"status": "OK"})
                    else:
                        self._reply(400, {"errorMessage": f"no invocation {parts[1]} waits for an answer"})
                else:
                    self._reply(404, {"errorMessage": f"no route {self.path}"})

            def _reply(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the runtime went away (stopped); nobody waits for this answer

            def log_message(self, format: str, *args: Any) -> None:
                logger.debug("runtime api: " + format, *args)

        return _Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A runtime that is stopped drops its long poll; that is no error worth a traceback.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return {"errorMessage": body.decode(errors="replace")}
    return value if isinstance(value, dict) else {"errorMessage": str(value)}


def _describe(error: dict[str, Any]) -> str:
    return f"{error.get('errorType')}: {error.get('errorMessage')}"
