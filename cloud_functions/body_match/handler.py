"""body_match: body crops of a room → today's body gallery, or a long-unknown track → handoff.

An hourly schedule (EventBridge) deletes body prints older than the retention.

Wiring only. S3 ObjectCreated notifications of ``captures/bodies/`` (crops of tracks unknown for
too long) and ``captures/gallery/`` (crops of tracks a door handoff just tagged) arrive inside
SQS messages (partial batch failures are reported, so only failed records come back) or straight
from S3. Each object is handed to ``BodyMatchService.process``; bad input ends in a recorded
outcome, and only transient failures raise, so the message is retried and finally kept in the DLQ.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from pathlib import PurePosixPath
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from cloud_functions.core.aws import aws_client
from cloud_functions.core.bodies import BodyMatchRules, BodyMatchService, BodyResult
from cloud_functions.core.db.engine import engine_for
from cloud_functions.core.events import handle_s3_notifications
from cloud_functions.core.handoff import SnsHandoffPublisher
from cloud_functions.core.reid import osnet_embedder
from cloud_functions.core.settings import function_settings
from cloud_functions.core.storage import S3ObjectStore

logger = Logger(service="body_match")
processor = BatchProcessor(event_type=EventType.SQS)


@lru_cache(maxsize=1)
def body_match_service() -> BodyMatchService:
    """The service with its model and clients, built once per warm container."""
    settings = function_settings()
    engine = engine_for(settings)
    return BodyMatchService(
        engine=engine,
        store=S3ObjectStore(aws_client("s3", settings), settings.bucket_name),
        embedder=osnet_embedder(settings.reid_weights_path, settings.onnx_intra_op_threads),
        publisher=SnsHandoffPublisher(aws_client("sns", settings), settings.handoff_topic_arn),
        rules=BodyMatchRules(
            threshold=settings.body_match_threshold,
            margin=settings.body_match_margin,
            min_body_px=settings.min_body_px,
            gallery_max_per_student=settings.body_gallery_max_per_student,
            retention_days=settings.body_print_retention_days,
            max_image_bytes=settings.max_image_bytes,
            max_image_pixels=settings.max_image_pixels,
        ),
        grace=settings.grace_windows,
        capture_times=settings.capture_time_bounds,
        publish_lease=settings.handoff_publish_lease,
    )


def process_crop(object_key: str) -> BodyResult:
    """One crop object; logs its outcome and per-stage timings (never the image or embedding)."""
    logger.set_correlation_id(PurePosixPath(object_key).stem)
    result = body_match_service().process(object_key)
    logger.info(
        "body crop processed",
        extra=result.log_fields(),
    )
    return result


def expire_body_prints(event: EventBridgeEvent) -> Mapping[str, object]:
    """The scheduled retention run: body prints older than the retention are deleted."""
    now = datetime.fromisoformat(event.time)
    deleted = body_match_service().expire_body_prints(now)
    logger.info("body print retention applied", extra={"at": now.isoformat(), "deleted": deleted})
    return {"deleted": deleted}


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Mapping[str, object]:
    """Lambda entry point for SQS batches, direct S3 notifications and the retention schedule."""
    if event.get("detail-type") == "Scheduled Event":
        return expire_body_prints(EventBridgeEvent(event))
    return handle_s3_notifications(event, context, process_crop, processor)
