"""presence: a cam2 presence report → the class in session → attendance confirmed after the dwell.

Wiring only. S3 ObjectCreated notifications of ``captures/presence/`` arrive inside SQS messages
(partial batch failures are reported, so only failed records come back) or straight from S3.
Each object is handed to ``PresenceService.process``; bad input ends in a recorded outcome, and
only transient failures raise, so the message is retried and finally kept in the DLQ.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import PurePosixPath
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.typing import LambdaContext

from cloud_functions.core.aws import aws_client
from cloud_functions.core.db.engine import engine_for
from cloud_functions.core.events import handle_s3_notifications
from cloud_functions.core.presence import PresenceResult, PresenceService
from cloud_functions.core.settings import function_settings
from cloud_functions.core.storage import S3ObjectStore

logger = Logger(service="presence")
processor = BatchProcessor(event_type=EventType.SQS)


@lru_cache(maxsize=1)
def presence_service() -> PresenceService:
    """The service with its clients, built once per warm container."""
    settings = function_settings()
    engine = engine_for(settings)
    return PresenceService(
        engine=engine,
        store=S3ObjectStore(aws_client("s3", settings), settings.bucket_name),
        min_dwell=settings.presence_min_dwell,
        grace=settings.grace_windows,
        capture_times=settings.capture_time_bounds,
        proxy_rules=settings.proxy_rules,
    )


def process_report(object_key: str) -> PresenceResult:
    """One report object; logs its outcome and who was confirmed."""
    logger.set_correlation_id(PurePosixPath(object_key).stem)
    result = presence_service().process(object_key)
    logger.info(
        "presence report processed",
        extra=result.log_fields(),
    )
    return result


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Mapping[str, object]:
    """Lambda entry point for SQS batches and direct S3 notifications."""
    return handle_s3_notifications(event, context, process_report, processor)
