"""Recognition events: what became of each capture object (face, body or gallery crop).

``object_key`` is unique, so a redelivered object finds its event and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cloud_functions.core.db.schema import recognition_events


@dataclass(frozen=True)
class RecognitionEvent:
    """What became of one capture object. ``object_key`` is unique: one event per object."""

    object_key: str
    outcome: str
    capture_id: str | None = None
    camera_id: str | None = None
    room_id: str | None = None
    captured_at: datetime | None = None
    usn: str | None = None
    similarity: float | None = None
    latency_ms: float | None = None
    detail: str | None = None


def get_event(connection: Connection, object_key: str) -> RecognitionEvent | None:
    """The event recorded for ``object_key``, if any."""
    row = connection.execute(
        sa.select(recognition_events).where(recognition_events.c.object_key == object_key)
    ).first()
    if row is None:
        return None
    return RecognitionEvent(
        object_key=row.object_key,
        outcome=row.outcome,
        capture_id=row.capture_id,
        camera_id=row.camera_id,
        room_id=row.room_id,
        captured_at=row.captured_at,
        usn=row.usn,
        similarity=row.similarity,
        latency_ms=row.latency_ms,
        detail=row.detail,
    )


def capture_id_owner(connection: Connection, capture_id: str, object_key: str) -> str | None:
    """The object key of another object already recorded under ``capture_id``, if any.

    A capture id names one capture; the same id under a second key is a replayed or forged
    upload, and recording it as a capture of its own would hand off one person twice.
    """
    return connection.execute(
        sa.select(recognition_events.c.object_key)
        .where(recognition_events.c.capture_id == capture_id, recognition_events.c.object_key != object_key)
        .limit(1)
    ).scalar_one_or_none()


def insert_event(connection: Connection, event: RecognitionEvent) -> None:
    """Record the event; a second event for the same object raises ``IntegrityError``."""
    detail = event.detail[:255] if event.detail else None
    connection.execute(
        recognition_events.insert().values(
            object_key=event.object_key,
            outcome=event.outcome,
            capture_id=event.capture_id,
            camera_id=event.camera_id,
            room_id=event.room_id,
            captured_at=event.captured_at,
            usn=event.usn,
            similarity=event.similarity,
            latency_ms=event.latency_ms,
            detail=detail,
        )
    )
