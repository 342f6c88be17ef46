"""What the API refuses and what it never tells: authentication, roles, oversized and malformed
bodies, hostile input, and server-side failures that must not leak SQL or stack traces."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from cloud_functions.api.app import create_app
from cloud_functions.api.auth import MAX_TOKEN_CHARS
from cloud_functions.core.errors import ConfigurationError
from tests.integration.test_api_helpers import ADMIN, TEACHER, Api, api_settings, running_api, seed

LEAK_MARKERS = (
    "select",
    "insert",
    "traceback",
    "sqlalchemy",
    "pymysql",
    "sqlite3",
    "integrityerror",
    'file "',
)


@pytest.fixture
def api(engine: Engine, database_url: str) -> Iterator[Api]:
    seed(engine)
    with running_api(engine, database_url, max_body_bytes=4_096) as api:
        yield api


def _assert_no_leak(text: str) -> None:
    lowered = text.lower()
    assert not [marker for marker in LEAK_MARKERS if marker in lowered], text


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer not-a-known-token"}, 401),
        ({"Authorization": "Basic YWRtaW46YWRtaW4="}, 401),
        ({"Authorization": "Bearer " + "a" * (MAX_TOKEN_CHARS + 1)}, 401),
        ({"Authorization": "Bearer"}, 401),
        (TEACHER, 200),
        (ADMIN, 200),
    ],
)
def test_reading_needs_a_known_token(api: Api, headers: dict[str, str], status: int) -> None:
    response = api.client.get("/students", headers=headers)
    assert response.status_code == status
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"


ADMIN_ONLY: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/students", {"usn": "1MS21CS300", "name": "X"}),
    ("PATCH", "/students/1MS21CS000", {"name": "Renamed"}),
    ("DELETE", "/students/1MS21CS000", None),
    ("PUT", "/students/1MS21CS000/consent", {"given_by": "me"}),
    ("POST", "/students/1MS21CS000/enrollment/frontal/upload", None),
    ("DELETE", "/students/1MS21CS000/biometrics", None),
    ("POST", "/courses", {"course_code": "CS700", "title": "X"}),
    ("PATCH", "/courses/CS501", {"title": "X"}),
    ("DELETE", "/courses/CS501", None),
    ("POST", "/rooms", {"room_id": "R300", "name": "X"}),
    ("PATCH", "/rooms/R101", {"name": "X"}),
    ("DELETE", "/rooms/R102", None),
    (
        "POST",
        "/timetable",
        {"course_code": "CS501", "room_id": "R102", "weekday": 0, "start_time": "08:00", "end_time": "09:00"},
    ),
    ("DELETE", "/timetable/1", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ONLY)
def test_teachers_cannot_manage(api: Api, method: str, path: str, body: dict[str, Any] | None) -> None:
    # GIVEN a teacher's token
    # WHEN the teacher tries an admin's change
    response = api.client.request(method, path, json=body, headers=TEACHER)
    # THEN it is forbidden and nothing changed
    assert response.status_code == 403
    assert api.client.get("/students/1MS21CS000", headers=TEACHER).json()["name"] == "Ada Lovelace"
    assert api.client.get("/courses/CS501", headers=TEACHER).json()["title"] == "Computer Vision"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/students"),
        ("GET", "/students/1MS21CS000/enrollment"),
        ("GET", "/students/1MS21CS000/attendance"),
        ("GET", "/courses"),
        ("GET", "/rooms"),
        ("GET", "/timetable"),
        ("GET", "/classes/today"),
        ("GET", "/attendance/CS501/2026-11-24"),
        ("GET", "/attendance/CS501/2026-11-24/export.csv"),
        ("GET", "/rooms/R101/events"),
    ],
)
def test_teachers_read_everything(api: Api, method: str, path: str) -> None:
    assert api.client.request(method, path, headers=TEACHER).status_code == 200


def test_health_needs_no_token(api: Api) -> None:
    assert api.client.get("/health").json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize(
    ("headers", "me"), [(ADMIN, ("Ada Admin", "admin")), (TEACHER, ("Tom Teacher", "teacher"))]
)
def test_me_names_the_caller_and_role(api: Api, headers: dict[str, str], me: tuple[str, str]) -> None:
    body = api.client.get("/me", headers=headers).json()
    assert (body["name"], body["role"]) == me


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        (
            b'{"usn": "1MS21CS300", "name": "' + b"x" * 5_000 + b'"}',
            {"content-type": "application/json"},
            413,
        ),
        (b"{not json", {"content-type": "application/json"}, 422),
        (b'["usn", "name"]', {"content-type": "application/json"}, 422),
        (b'{"usn": "1MS21CS300", "name": "X"}', {"content-type": "text/plain"}, 422),
        (b"", {"content-type": "application/json"}, 422),
        (b'{"usn": 300, "name": ["X"]}', {"content-type": "application/json"}, 422),
        (
            b'{"usn": "1MS21CS300", "name": "X"}',
            {"content-type": "application/json", "content-length": "abc"},
            400,
        ),
    ],
)
def test_oversized_and_malformed_bodies_are_refused(
    api: Api, content: bytes, headers: dict[str, str], status: int
) -> None:
    response = api.client.post("/students", content=content, headers={**ADMIN, **headers})
    assert response.status_code == status, response.text
    assert api.client.get("/students/1MS21CS300", headers=ADMIN).status_code == 404


def test_oversized_body_without_length_is_cut_off(api: Api) -> None:
    # GIVEN a chunked body (no Content-Length) larger than the limit
    def chunks() -> Iterator[bytes]:
        yield b'{"usn": "1MS21CS300", "name": "'
        for _ in range(10):
            yield b"x" * 1_000
        yield b'"}'

    # WHEN it is posted
    response = api.client.post(
        "/students", content=chunks(), headers={**ADMIN, "content-type": "application/json"}
    )
    # THEN it is refused before anything is stored
    assert response.status_code == 413
    assert api.client.get("/students/1MS21CS300", headers=ADMIN).status_code == 404


def test_validation_errors_do_not_echo_the_input(api: Api) -> None:
    hostile = "<script>alert('x')</script>" * 10
    response = api.client.post("/students", json={"usn": hostile, "name": "X"}, headers=ADMIN)
    assert response.status_code == 422
    assert "<script>" not in response.text
    assert response.json()["detail"][0]["loc"] == ["body", "usn"]


def test_constraint_violation_is_409_without_sql(api: Api) -> None:
    # GIVEN attendance in R101 (rooms with attendance cannot be deleted: the foreign key refuses)
    api.client.put(
        "/attendance/CS501/2026-11-24/1MS21CS000", json={"status": "present", "reason": "x"}, headers=ADMIN
    )
    # WHEN an admin deletes the room
    response = api.client.delete("/rooms/R101", headers=ADMIN)
    # THEN the conflict is reported without the driver's message
    assert response.status_code == 409
    assert response.json() == {"detail": "conflicts with stored data"}
    _assert_no_leak(response.text)


def test_unexpected_failure_is_500_without_details(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a bug that raises with internals in its message
    from cloud_functions.api.crud import catalog

    def broken(*_: object) -> None:
        raise RuntimeError('SELECT secret FROM students; File "/var/task/app.py"')

    monkeypatch.setattr(catalog, "list_courses", broken)
    # WHEN the route runs
    response = api.client.get("/courses", headers=TEACHER)
    # THEN the client learns only that it failed
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error"}
    _assert_no_leak(response.text)


def test_unreachable_database_is_503_without_driver_text() -> None:
    # GIVEN a database server that is not there
    settings = api_settings("mysql+pymysql://classsight:secret@127.0.0.1:1/classsight")
    app = create_app(settings)
    from fastapi.testclient import TestClient

    with TestClient(app, raise_server_exceptions=False) as client:
        listed = client.get("/students", headers=TEACHER)
        health = client.get("/health")
    app.state.engine.dispose()
    # THEN reads are 503 (retry later) and health says degraded, with no connection details
    assert listed.status_code == 503
    assert listed.json() == {"detail": "a dependency is unavailable; try again"}
    assert "secret" not in listed.text and "127.0.0.1" not in listed.text
    assert (health.status_code, health.json()) == (503, {"status": "degraded", "database": "unavailable"})


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        (None, "CLASSSIGHT_API_TOKENS"),
        ("{}", "CLASSSIGHT_API_TOKENS"),
        ('{"plain-token": {"name": "x", "role": "admin"}}', "sha256"),
        (json.dumps({"a" * 64: {"name": "x", "role": "root"}}), "CLASSSIGHT_API_TOKENS"),
    ],
)
def test_api_refuses_to_start_without_valid_tokens(
    monkeypatch: pytest.MonkeyPatch, tokens: str | None, message: str
) -> None:
    monkeypatch.setenv("CLASSSIGHT_DATABASE_URL", "sqlite://")
    monkeypatch.setenv("CLASSSIGHT_BUCKET_NAME", "b")
    if tokens is None:
        monkeypatch.delenv("CLASSSIGHT_API_TOKENS", raising=False)
    else:
        monkeypatch.setenv("CLASSSIGHT_API_TOKENS", tokens)
    with pytest.raises(ConfigurationError, match=message):
        create_app()


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [("http://127.0.0.1:8080", True), ("https://evil.example", False)],
)
def test_cors_allows_only_the_configured_portal(
    engine: Engine, database_url: str, origin: str, allowed: bool
) -> None:
    with running_api(engine, database_url, cors_origins=["http://127.0.0.1:8080"]) as api:
        response = api.client.options(
            "/students",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )
    assert (response.headers.get("access-control-allow-origin") == origin) is allowed


def test_new_token_entry_admits_its_token_and_holds_only_its_hash() -> None:
    from cloud_functions.api.auth import authenticate
    from cloud_functions.api.tokens import new_token_entry
    from cloud_functions.core.settings import ApiToken

    token, entry = new_token_entry("Ada", "admin")
    tokens = {digest: ApiToken(**value) for digest, value in entry.items()}
    assert authenticate(token, tokens).name == "Ada"
    assert token not in json.dumps(entry)
