"""The Lambda entry point: ``handler`` (Mangum) on API Gateway HTTP API payload-2.0 events, called
directly with the sample event and served by the local stack's HTTP API over real HTTP."""

from __future__ import annotations

import base64
import importlib
import json
import subprocess
import sys
from collections.abc import Callable
from types import ModuleType, SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from infra.local_stack import LocalStack
from tests.events import load_event
from tests.integration.test_api_helpers import ADMIN, TEACHER, TOKENS, seed

HANDLER_MODULE = "cloud_functions.api.handler"
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@pytest.fixture
def handler(engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Handler:
    """A fresh import of the handler module with the environment a deployed function gets."""
    seed(engine)
    monkeypatch.setenv("CLASSSIGHT_DATABASE_URL", database_url)
    monkeypatch.setenv("CLASSSIGHT_BUCKET_NAME", "classsight-handler-tests")
    monkeypatch.setenv("CLASSSIGHT_API_TOKENS", json.dumps(TOKENS))
    monkeypatch.delitem(sys.modules, HANDLER_MODULE, raising=False)
    module: ModuleType = importlib.import_module(HANDLER_MODULE)
    monkeypatch.delitem(sys.modules, HANDLER_MODULE)
    return module.handler  # type: ignore[no-any-return]


def _context() -> SimpleNamespace:
    return SimpleNamespace(
        function_name="ApiFunction", aws_request_id="req-1", get_remaining_time_in_millis=lambda: 30_000
    )


def test_handler_answers_the_sample_http_api_event(handler: Handler) -> None:
    # GIVEN API Gateway's payload-2.0 event for GET /courses/CS501 with a teacher's token
    event = load_event("http_api_get_course")
    # WHEN Lambda calls the handler
    response = handler(event, _context())
    # THEN the response is API Gateway's shape with the course as JSON
    assert response["statusCode"] == 200, response
    body = base64.b64decode(response["body"]) if response.get("isBase64Encoded") else response["body"]
    assert json.loads(body) == {
        "course_code": "CS501",
        "title": "Computer Vision",
        "teacher_email": "cv.teacher@example.edu",
    }
    assert response["headers"]["content-type"] == "application/json"
    assert response["headers"]["x-content-type-options"] == "nosniff"


def test_handler_refuses_the_sample_event_without_its_token(handler: Handler) -> None:
    event = load_event("http_api_get_course")
    del event["headers"]["authorization"]
    response = handler(event, _context())
    assert response["statusCode"] == 401
    assert response["headers"]["www-authenticate"] == "Bearer"


def test_handler_behind_the_local_http_api(handler: Handler, local_stack: LocalStack) -> None:
    # GIVEN the template's HTTP API served locally with this handler for ApiFunction
    gateway = local_stack.http_api({"ApiFunction": handler}).start()
    try:
        with httpx.Client(base_url=gateway.url, timeout=10) as client:
            # WHEN a client creates a student and reads the list over HTTP
            created = client.post("/students", json={"usn": "1MS21CS200", "name": "Over Http"}, headers=ADMIN)
            listed = client.get("/students", params={"q": "over"}, headers=TEACHER)
            health = client.get("/health")
            oversized = client.post("/students", content=b"{" + b" " * 70_000 + b"}", headers=ADMIN)
    finally:
        gateway.stop()
    # THEN the API answers through API Gateway's event and response shapes
    assert created.status_code == 201, created.text
    assert [s["usn"] for s in listed.json()["items"]] == ["1MS21CS200"]
    assert health.json() == {"status": "ok", "database": "ok"}
    assert oversized.status_code == 413


def test_api_imports_no_model_or_migration_code() -> None:
    # The api image installs only the `api` extra: no OpenCV, ONNX, DeepFace, TensorFlow or Alembic.
    heavy = ("cv2", "onnxruntime", "deepface", "tensorflow", "alembic", "aws_lambda_powertools")
    script = (
        "import sys, cloud_functions.api.app; "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r})))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert completed.stdout.strip() == "[]"
