"""The Lambda Runtime API server, driven over HTTP on 127.0.0.1 the way a runtime interface client
drives Lambda's: poll for the next event, post the response or the error."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from infra.images.runtime_api import API_VERSION, RuntimeApiError, RuntimeApiServer

ARN = "arn:aws:lambda:us-east-1:123456789012:function:classsight-test-FaceMatchFunction"


@pytest.fixture
def server() -> Iterator[RuntimeApiServer]:
    api = RuntimeApiServer(function_arn=ARN, timeout_s=2).start()
    yield api
    api.stop()


def request(
    api: RuntimeApiServer, method: str, path: str, body: Any = None, **headers: str
) -> tuple[int, Any, Any]:
    connection = http.client.HTTPConnection(api.address, timeout=10)
    payload = None if body is None else json.dumps(body)
    connection.request(method, f"/{API_VERSION}/runtime/{path}", payload, headers=headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, response.headers, json.loads(data or b"null")


def runtime(
    api: RuntimeApiServer, answer: Callable[[dict[str, Any], Any], tuple[str, Any]], events: int
) -> threading.Thread:
    """A runtime that polls ``events`` times and answers each event with ``answer(event, headers)``."""

    def loop() -> None:
        for _ in range(events):
            status, headers, event = request(api, "GET", "invocation/next")
            assert status == 200
            kind, body = answer(event, headers)
            extra = {"Lambda-Runtime-Function-Error-Type": "Function.Error"} if kind == "error" else {}
            request_id = headers["Lambda-Runtime-Aws-Request-Id"]
            assert request(api, "POST", f"invocation/{request_id}/{kind}", body, **extra)[0] == 202

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


def test_events_go_to_the_next_poll_and_responses_come_back(server: RuntimeApiServer) -> None:
    # GIVEN a runtime that echoes each event with the headers Lambda sends it
    seen: list[Any] = []

    def echo(event: dict[str, Any], headers: Any) -> tuple[str, Any]:
        seen.append(headers)
        return "response", {"echo": event, "arn": headers["Lambda-Runtime-Invoked-Function-Arn"]}

    thread = runtime(server, echo, events=2)
    # WHEN two events are invoked one after the other
    ready_at = server.wait_initialised(5)
    first = server.invoke({"Records": [1]})
    second = server.invoke({"Records": [2]})
    thread.join(5)
    # THEN each answer is the handler's, in order, and the first poll marked the end of init
    assert first.result() == {"echo": {"Records": [1]}, "arn": ARN}
    assert second.result()["echo"] == {"Records": [2]}
    assert ready_at <= first.sent_at <= first.answered_at  # type: ignore[operator]
    assert first.duration_s >= 0
    # AND every event came with its own request id and a deadline within the function's timeout
    assert len({h["Lambda-Runtime-Aws-Request-Id"] for h in seen}) == 2
    assert 0 < int(seen[0]["Lambda-Runtime-Deadline-Ms"]) / 1000 - time.time() <= 2


def test_a_function_error_is_raised_with_its_type(server: RuntimeApiServer) -> None:
    runtime(
        server, lambda event, headers: ("error", {"errorType": "ValueError", "errorMessage": "bad"}), events=1
    )
    invocation = server.invoke({})
    with pytest.raises(RuntimeApiError, match=r"Function\.Error: bad"):
        invocation.result()


def test_an_init_error_stops_the_wait_for_the_first_poll(server: RuntimeApiServer) -> None:
    # GIVEN a runtime whose handler cannot be imported: it reports to /init/error and never polls
    error = {"errorType": "Runtime.ImportModuleError", "errorMessage": "Unable to import module 'x'"}
    status, _, _ = request(
        server,
        "POST",
        "init/error",
        error,
        **{"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"},
    )
    assert status == 202
    # THEN waiting for it fails at once with the reason
    with pytest.raises(RuntimeApiError, match="Unable to import module 'x'"):
        server.wait_initialised(5)


def test_an_event_nobody_answers_times_out_after_the_function_timeout(server: RuntimeApiServer) -> None:
    # GIVEN a runtime that takes the event and never answers
    thread = threading.Thread(target=lambda: request(server, "GET", "invocation/next"), daemon=True)
    thread.start()
    started = time.monotonic()
    # THEN the invocation fails after the timeout (2 s) and a little more, as Lambda's would
    with pytest.raises(RuntimeApiError, match="timed out after 2 s"):
        server.invoke({})
    assert 2 <= time.monotonic() - started < 5


def test_a_runtime_that_exits_fails_the_wait(server: RuntimeApiServer) -> None:
    with pytest.raises(RuntimeApiError, match="exited before asking"):
        server.wait_initialised(5, alive=lambda: False)


def test_answers_to_unknown_invocations_and_unknown_routes_are_refused(server: RuntimeApiServer) -> None:
    assert request(server, "POST", "invocation/nope/response", {})[0] == 400
    assert request(server, "GET", "invocation/other")[0] == 404
