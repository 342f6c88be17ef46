"""AWS event shapes, parsed once at the boundary into the objects the functions care about.

Handlers get S3 notifications two ways: wrapped in an SQS message body (bucket → queue →
function, the wiring in template.yaml) or directly (bucket → function). Both become a list of
``S3ObjectRef``. Object keys arrive URL-encoded (spaces as ``+``) and are decoded here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.batch import BatchProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, ValidationError

from cloud_functions.core.errors import InvalidEventError


@dataclass(frozen=True)
class S3ObjectRef:
    """One object named by an S3 ObjectCreated notification."""

    bucket: str
    key: str
    size_bytes: int | None
    event_name: str


class _Lenient(BaseModel):
    # Only the fields the functions use are required: emulators leave out some that AWS sends
    # (requestParameters, ownerIdentity ...), and nothing here needs them.
    model_config = ConfigDict(extra="ignore")


class _S3Object(_Lenient):
    key: str
    size: int | None = None


class _S3Bucket(_Lenient):
    name: str


class _S3Entity(_Lenient):
    bucket: _S3Bucket
    object: _S3Object


class _S3Record(_Lenient):
    eventName: str  # noqa: N815 - AWS's field name
    s3: _S3Entity


class _S3Notification(_Lenient):
    Records: list[_S3Record]


def _is_test_event(payload: Any) -> bool:
    # S3 sends one "s3:TestEvent" when a notification is configured; it names no object.
    return isinstance(payload, dict) and payload.get("Event") == "s3:TestEvent"


def s3_objects(payload: Any) -> list[S3ObjectRef]:
    """The created objects in an S3 notification (a parsed dict). Test events give none."""
    if _is_test_event(payload):
        return []
    try:
        event = _S3Notification.model_validate(payload)
    except ValidationError as e:
        raise InvalidEventError(f"not an S3 notification: {e.error_count()} problems") from e
    return [
        S3ObjectRef(
            bucket=record.s3.bucket.name,
            key=unquote_plus(record.s3.object.key),
            size_bytes=record.s3.object.size,
            event_name=record.eventName,
        )
        for record in event.Records
        if record.eventName.startswith("ObjectCreated")
    ]


def s3_objects_in_sqs_body(body: str) -> list[S3ObjectRef]:
    """The created objects in an SQS message body carrying an S3 notification."""
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, TypeError) as e:
        raise InvalidEventError("SQS body is not JSON") from e
    return s3_objects(payload)


def is_direct_s3_event(event: Any) -> bool:
    """True for an S3 notification delivered straight to the function (not through SQS)."""
    records = event.get("Records") if isinstance(event, dict) else None
    return bool(records) and all(
        isinstance(r, dict) and r.get("eventSource") == "aws:s3" for r in records or []
    )


def handle_s3_notifications(
    event: dict[str, Any],
    context: LambdaContext,
    process_object: Callable[[str], object],
    processor: BatchProcessor,
) -> Mapping[str, object]:
    """The body of every S3-triggered function: call ``process_object`` with each created key.

    SQS batches (the template's wiring) get a partial batch response, so only the records whose
    processing raised come back; a direct S3 notification is an asynchronous invocation, where
    raising makes Lambda retry the whole event.
    """
    if is_direct_s3_event(event):
        for ref in s3_objects(event):
            process_object(ref.key)
        return {"batchItemFailures": []}

    def record_handler(record: SQSRecord) -> None:
        for ref in s3_objects_in_sqs_body(record.body):
            process_object(ref.key)

    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
