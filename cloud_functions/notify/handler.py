"""notify: once a day (EventBridge schedule), one notification per teacher on the topic.

Wiring only: the scheduled event's ``time`` is the run's "now"; ``TeacherNotifier.run`` builds,
claims, publishes and records each teacher's message (cloud_functions.core.notifications). A
redelivered or repeated event sends nothing twice; a failed publish raises, and the next run
(or Lambda's retry of the event) publishes the stored message.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from cloud_functions.core.aws import aws_client
from cloud_functions.core.db.engine import engine_for
from cloud_functions.core.errors import InvalidEventError
from cloud_functions.core.marks import CountingRule
from cloud_functions.core.notifications import NotificationRules, SnsNotificationPublisher, TeacherNotifier
from cloud_functions.core.settings import NotifySettings, load_settings

logger = Logger(service="notify")


@lru_cache(maxsize=1)
def notify_settings() -> NotifySettings:
    """The function's settings, read once per warm container."""
    return load_settings(NotifySettings)


@lru_cache(maxsize=1)
def teacher_notifier() -> TeacherNotifier:
    """The notifier with its engine and topic client, built once per warm container."""
    settings = notify_settings()
    return TeacherNotifier(
        engine=engine_for(settings),
        publisher=SnsNotificationPublisher(
            aws_client("sns", settings), settings.teacher_notifications_topic_arn
        ),
        rules=NotificationRules(
            rule=CountingRule(late_weight=settings.late_weight, absent_after_end_grace=settings.sweep_grace),
            default_min_pct=settings.min_attendance_pct,
            timezone=settings.notification_timezone,
            publish_lease=settings.notification_publish_lease,
        ),
    )


def _event_time(event: EventBridgeEvent) -> datetime:
    try:
        at = datetime.fromisoformat(event.time)
    except (KeyError, TypeError, ValueError) as e:
        raise InvalidEventError(f"not a scheduled event with a time: {e}") from e
    if at.tzinfo is None:
        raise InvalidEventError(f"the event time {event.time!r} has no offset")
    return at


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Mapping[str, object]:
    """Lambda entry point for the daily EventBridge schedule."""
    at = _event_time(EventBridgeEvent(event))
    run = teacher_notifier().run(at)
    logger.info("teacher notifications done", extra=run.log_fields())
    return run.log_fields()
