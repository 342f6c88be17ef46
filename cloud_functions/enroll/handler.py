"""enroll: an enrollment photo in the bucket → quality gates → faceprint, or a recorded rejection.

Wiring only. S3 ObjectCreated notifications for ``enrollment/<usn>/<pose>.jpg`` arrive inside
SQS messages (partial batch failures are reported, so only failed records come back) or
straight from S3. Each object goes to ``enroll_stored_photo``. A rejected photo is an outcome,
stored in ``enrollments``; only transient failures (storage, database) raise, so the message is
retried and finally kept in the DLQ. Re-delivery re-enrolls the same photo: same end state.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.typing import LambdaContext

from cloud_functions.core.aws import aws_client
from cloud_functions.core.db.engine import engine_for
from cloud_functions.core.events import handle_s3_notifications
from cloud_functions.core.faces import EnrollmentService
from cloud_functions.core.faces.enrollment import EnrollmentOutcome, enroll_stored_photo, enrollment_service
from cloud_functions.core.settings import function_settings
from cloud_functions.core.storage import ObjectStore, S3ObjectStore

logger = Logger(service="enroll")
processor = BatchProcessor(event_type=EventType.SQS)


@lru_cache(maxsize=1)
def enrollment() -> tuple[EnrollmentService, ObjectStore]:
    """The enrollment service and the bucket, built once per warm container."""
    settings = function_settings()
    engine = engine_for(settings)
    service = enrollment_service(settings, engine)
    return service, S3ObjectStore(aws_client("s3", settings), settings.bucket_name)


def process_enrollment_photo(object_key: str) -> EnrollmentOutcome | None:
    """One enrollment photo; logs its outcome (never the image or the embedding)."""
    service, store = enrollment()
    outcome = enroll_stored_photo(object_key, store, service)
    if outcome is not None:
        logger.info(
            "enrollment photo processed",
            extra={"object_key": object_key, **outcome.log_fields()},
        )
    return outcome


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Mapping[str, object]:
    """Lambda entry point for SQS batches and direct S3 notifications."""
    return handle_s3_notifications(event, context, process_enrollment_photo, processor)
