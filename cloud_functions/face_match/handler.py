"""face_match: a doorway face capture → identity → timetable → attendance → SNS handoff.

Wiring only. S3 ObjectCreated notifications arrive inside SQS messages (the template's wiring;
partial batch failures are reported so only failed records come back) or straight from S3.
Each object is handed to ``DoorwayService.process``; bad input ends in a recorded outcome, and
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
from cloud_functions.core.db.negatives import FaceNegativeRepository
from cloud_functions.core.doorway import DoorwayResult, DoorwayService
from cloud_functions.core.events import handle_s3_notifications
from cloud_functions.core.faces import FacePipeline, FaceprintRepository, Matcher
from cloud_functions.core.handoff import SnsHandoffPublisher
from cloud_functions.core.liveness import DoorLivenessCheck
from cloud_functions.core.settings import function_settings
from cloud_functions.core.storage import S3ObjectStore
from vision.liveness import LivenessChecker

logger = Logger(service="face_match")
processor = BatchProcessor(event_type=EventType.SQS)


@lru_cache(maxsize=1)
def doorway_service() -> DoorwayService:
    """The service with its models and clients, built once per warm container."""
    settings = function_settings()
    engine = engine_for(settings)
    pipeline = FacePipeline.from_settings(settings)
    liveness = (
        None if settings.liveness_mode == "off" else DoorLivenessCheck(LivenessChecker(settings), settings)
    )
    negatives = FaceNegativeRepository(engine)
    return DoorwayService(
        engine=engine,
        store=S3ObjectStore(aws_client("s3", settings), settings.bucket_name),
        faces=pipeline,
        matcher=Matcher.from_settings(settings, FaceprintRepository(engine), pipeline.model_id, negatives),
        publisher=SnsHandoffPublisher(aws_client("sns", settings), settings.handoff_topic_arn),
        grace=settings.grace_windows,
        max_image_bytes=settings.max_image_bytes,
        capture_times=settings.capture_time_bounds,
        publish_lease=settings.handoff_publish_lease,
        liveness=liveness,
        negatives=negatives,
    )


def process_capture(object_key: str) -> DoorwayResult:
    """One capture object; logs its outcome and per-stage timings (never the image or embedding)."""
    logger.set_correlation_id(PurePosixPath(object_key).stem)
    result = doorway_service().process(object_key)
    logger.info(
        "capture processed",
        extra=result.log_fields(),
    )
    return result


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Mapping[str, object]:
    """Lambda entry point for SQS batches and direct S3 notifications."""
    return handle_s3_notifications(event, context, process_capture, processor)
