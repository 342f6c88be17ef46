"""API Gateway's HTTP API (payload format 2.0) in front of the template's ``HttpApi`` functions.

What ``sam local start-api`` does, without Docker: an HTTP server (uvicorn) on 127.0.0.1 turns each request
into the event API Gateway sends (``version`` 2.0, ``routeKey``, ``rawPath``, ``rawQueryString``,
``cookies``, ``headers``, ``queryStringParameters``, ``pathParameters``, ``requestContext.http``,
``body``, ``isBase64Encoded``), calls the route's handler in this process, and turns its return
value into the HTTP response by API Gateway's rules (a dict with ``statusCode`` is a full response;
anything else is a 200 JSON body). A handler that raises gives 500, no matching route 404, as on AWS.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import re
import socket
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import anyio.to_thread
import uvicorn

from infra.local_stack.endpoint import LOCALHOST
from infra.local_stack.poller import Handler, LambdaContext, invocation_event_loop
from infra.local_stack.provisioner import HttpRoute, LocalFunction

logger = logging.getLogger(__name__)

_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript", "+json", "+xml")
_FORM = "application/x-www-form-urlencoded"
# Requests served at once; more get 503, as API Gateway throttles. Each runs on its own thread.
_MAX_CONCURRENT_REQUESTS = 200


@dataclass(frozen=True)
class BoundRoute:
    """A route of the HTTP API with the function and handler that serve it."""

    route: HttpRoute
    function: LocalFunction
    handler: Handler

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters if this route serves ``method path``, else None."""
        if self.route.path == "$default":
            return {}
        if self.route.method not in ("ANY", method):
            return None
        pattern = ""
        for segment in self.route.path.strip("/").split("/"):
            greedy = re.fullmatch(r"\{(\w+)\+\}", segment)
            named = re.fullmatch(r"\{(\w+)\}", segment)
            if greedy:
                pattern += rf"/(?P<{greedy.group(1)}>.+)"
            elif named:
                pattern += rf"/(?P<{named.group(1)}>[^/]+)"
            elif segment:
                pattern += "/" + re.escape(segment)
        found = re.fullmatch(pattern or "/", path)
        return dict(found.groupdict()) if found else None

    @property
    def priority(self) -> tuple[int, int, int]:
        """Sort key, most specific first: literal paths, then parameters, then greedy, then $default."""
        path = self.route.path
        return (
            path == "$default",
            "+}" in path,
            -sum(1 for segment in path.split("/") if segment and not segment.startswith("{")),
        )


def http_api_event(
    method: str,
    target: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    *,
    route_key: str,
    path_parameters: Mapping[str, str],
    source_ip: str,
    account_id: str,
    api_id: str = "local",
) -> dict[str, Any]:
    """The payload-2.0 event API Gateway's HTTP API sends for one request."""
    url = urlsplit(target)
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        name = name.lower()
        if name == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
            continue
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    query: dict[str, str] = {}
    for name, value in parse_qsl(url.query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": url.path,
        "rawQueryString": url.query,
        "headers": joined,
        "requestContext": {
            "accountId": account_id,
            "apiId": api_id,
            "domainName": joined.get("host", f"{api_id}.execute-api.localhost"),
            "domainPrefix": api_id,
            "http": {
                "method": method,
                "path": url.path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if body:
        content_type = joined.get("content-type", "")
        if any(t in content_type for t in (*_TEXT_TYPES, _FORM)):
            try:
                event["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
        else:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    return event


@dataclass(frozen=True)
class HttpResponse:
    """What goes back to the HTTP client."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


def http_response(result: Any) -> HttpResponse:
    """API Gateway's reading of a payload-2.0 handler's return value."""
    if isinstance(result, Mapping) and "statusCode" in result:
        headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers += [(str(name), str(v)) for v in values]
        headers += [("set-cookie", str(c)) for c in result.get("cookies") or []]
        raw = result.get("body") or ""
        body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode("utf-8")
        return HttpResponse(int(result["statusCode"]), headers, body)
    text = result if isinstance(result, str) else json.dumps(result)
    return HttpResponse(200, [("content-type", "application/json")], text.encode("utf-8"))


def _error(status: int, message: str) -> HttpResponse:
    return HttpResponse(
        status, [("content-type", "application/json")], json.dumps({"message": message}).encode()
    )


class HttpApiGateway:
    """The template's HTTP API on ``127.0.0.1:port``, served by uvicorn.

    uvicorn does the HTTP (malformed or negative ``Content-Length`` is a 400, chunked bodies are
    read whole, keep-alive and pipelining work); this class only turns each request into
    API Gateway's event and the handler's answer back into a response. Each request's handler
    runs on a worker thread, as concurrent Lambda invocations run side by side.

    Args:
        routes: The routes with their functions and handlers.
        port: TCP port; 0 picks a free one.
        account_id: Account written into ``requestContext``.
    """

    def __init__(
        self, routes: Sequence[BoundRoute], *, port: int = 0, account_id: str = "123456789012"
    ) -> None:
        self.routes = sorted(routes, key=lambda r: r.priority)
        self.account_id = account_id
        # Bound here, so a busy port fails at once (OSError) rather than inside the server thread.
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit it: the head and the body of a response are two writes, and
        # Nagle's algorithm would hold the second until the client's delayed ACK (40 ms).
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self._socket.bind((LOCALHOST, port))
        except OSError:
            self._socket.close()
            raise
        self._port = int(self._socket.getsockname()[1])
        self._server = uvicorn.Server(
            uvicorn.Config(
                self._asgi,
                interface="asgi3",
                lifespan="off",
                log_level="warning",
                access_log=False,
                limit_concurrency=_MAX_CONCURRENT_REQUESTS,
                timeout_keep_alive=5,
            )
        )
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port it listens on."""
        return self._port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{LOCALHOST}:{self.port}"

    def start(self) -> HttpApiGateway:
        """Serve in a background thread; returns once it accepts connections."""
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="http-api", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the local HTTP API did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)
            self._thread = None
        with contextlib.suppress(OSError):  # uvicorn closes the sockets it served on
            self._socket.close()

    def invoke(
        self, method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes, source_ip: str
    ) -> HttpResponse:
        """Route one request, call its handler, and shape the response."""
        path = urlsplit(target).path or "/"
        for bound in self.routes:
            parameters = bound.match(method, path)
            if parameters is None:
                continue
            event = http_api_event(
                method,
                target,
                headers,
                body,
                route_key=bound.route.route_key,
                path_parameters=parameters,
                source_ip=source_ip,
                account_id=self.account_id,
            )
            context = LambdaContext(
                function_name=bound.function.function_name,
                invoked_function_arn=f"arn:aws:lambda:local:{self.account_id}:{bound.function.arn_suffix}",
                memory_limit_in_mb=bound.function.memory_mb,
                timeout_s=bound.function.timeout_s,
            )
            try:
                with invocation_event_loop():
                    return http_response(bound.handler(event, context))
            except Exception:  # API Gateway answers 500 when the integration fails
                logger.exception("%s failed on %s %s", bound.function.logical_id, method, path)
                return _error(500, "Internal Server Error")
        return _error(404, "Not Found")

    async def _asgi(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        target = scope["raw_path"].decode("latin-1") or "/"
        if scope["query_string"]:
            target += "?" + scope["query_string"].decode("latin-1")
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]]
        client = scope.get("client") or ("127.0.0.1", 0)
        response = await anyio.to_thread.run_sync(
            self.invoke, scope["method"], target, headers, b"".join(chunks), client[0]
        )
        names = {name.lower() for name, _ in response.headers}
        out = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.headers]
        if "content-length" not in names:
            out.append((b"content-length", str(len(response.body)).encode()))
        if "date" not in names:
            out.append((b"date", formatdate(usegmt=True).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": out})
        body = b"" if scope["method"] == "HEAD" else response.body
        await send({"type": "http.response.body", "body": body})
