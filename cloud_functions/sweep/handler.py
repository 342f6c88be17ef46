"""sweep: every few minutes (EventBridge schedule), absent marks for the sessions that just ended.

Wiring only: the scheduled event's ``time`` is "now"; ``sweep_absences`` applies the rules
(cloud_functions.core.sweep). Safe to run twice at once or on a redelivered event: it adds
nothing the first run wrote. A database failure raises, and the next scheduled run catches up.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from sqlalchemy.engine import Engine

from cloud_functions.core.db.engine import engine_for
from cloud_functions.core.errors import InvalidEventError
from cloud_functions.core.settings import SweepSettings, sweep_settings
from cloud_functions.core.sweep import sweep_absences

logger = Logger(service="sweep")


def sweep_dependencies() -> tuple[Engine, SweepSettings]:
    """The settings, and the engine (pooled once per process and database URL)."""
    settings = sweep_settings()
    return engine_for(settings), settings


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
    """Lambda entry point for the EventBridge schedule."""
    now = _event_time(EventBridgeEvent(event))
    engine, settings = sweep_dependencies()
    report = sweep_absences(engine, now, settings.sweep_grace)
    logger.info("absent sweep done", extra=report.log_fields())
    return report.log_fields()
