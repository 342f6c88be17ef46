"""AWS-shaped sample events (as AWS sends them), for handler tests and ``sam local invoke -e``.

| file | what |
|---|---|
| ``sqs_s3_face_capture.json`` | SQS event wrapping an S3 put under ``captures/faces/`` (face_match) |
| ``sqs_s3_enrollment.json`` | SQS event wrapping an S3 put under ``enrollment/``, key with a space (enroll) |
| ``sqs_s3_body_capture.json`` | SQS event wrapping an S3 put under ``captures/bodies/`` (body_match) |
| ``sqs_s3_presence_report.json`` | SQS event wrapping an S3 put under ``captures/presence/`` (presence) |
| ``sqs_s3_test_event.json`` | the ``s3:TestEvent`` S3 sends when notifications are set; handlers skip it |
| ``s3_put_face_capture.json`` | a direct S3 notification (bucket -> function, no queue) |
| ``sns_handoff.json`` | a handoff as an SNS-triggered function would get it |
| ``sqs_handoff_raw_delivery.json`` | a handoff as cam2 receives it from its room queue (raw delivery) |
| ``http_api_get_course.json`` | API Gateway HTTP API (payload 2.0) request for the api function |
| ``eventbridge_schedule.json`` | EventBridge's scheduled event (the sweep, the body print retention) |
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parent


def load_event(name: str) -> dict[str, Any]:
    """The sample event ``name`` (with or without ``.json``) as a fresh dict."""
    path = EVENTS_DIR / (name if name.endswith(".json") else f"{name}.json")
    event: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return event


def event_names() -> list[str]:
    """Every sample event's name, without ``.json``."""
    return sorted(path.stem for path in EVENTS_DIR.glob("*.json"))
