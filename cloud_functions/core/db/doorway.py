"""Queries behind the doorway flow: rooms, timetable, recognition events and handoffs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cloud_functions.core.db.schema import handoffs, recognition_events, rooms, timetable
from cloud_functions.core.handoff import Handoff
from cloud_functions.core.timetable import TimetableEntry


@dataclass(frozen=True)
class Room:
    """A room and its cameras."""

    room_id: str
    timezone: str
    cam1_id: str | None
    cam2_id: str | None


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


def get_room(connection: Connection, room_id: str) -> Room | None:
    """The room, or None if there is no such room."""
    row = connection.execute(sa.select(rooms).where(rooms.c.room_id == room_id)).first()
    if row is None:
        return None
    return Room(room_id=row.room_id, timezone=row.timezone, cam1_id=row.cam1_id, cam2_id=row.cam2_id)


def timetable_for_room(connection: Connection, room_id: str) -> list[TimetableEntry]:
    """Every timetable entry of the room (all weekdays; a room has few)."""
    rows = connection.execute(sa.select(timetable).where(timetable.c.room_id == room_id))
    return [
        TimetableEntry(
            course_code=r.course_code,
            weekday=r.weekday,
            start_time=r.start_time,
            end_time=r.end_time,
            valid_from=r.valid_from,
            valid_to=r.valid_to,
        )
        for r in rows
    ]


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


@dataclass(frozen=True)
class PublishClaim:
    """The right to publish one stored handoff, held by one worker until ``until``."""

    capture_id: str
    token: str
    until: datetime


def insert_handoff(connection: Connection, handoff: Handoff, claim: PublishClaim | None = None) -> None:
    """Store a handoff for publishing, claimed by the worker that stores it (or unclaimed).

    Its row exists before the message does; the claim keeps a concurrent redelivery of the same
    object from publishing it while this worker is between its commit and marking it sent.
    """
    connection.execute(
        handoffs.insert().values(
            capture_id=handoff.capture_id,
            usn=handoff.usn,
            room_id=handoff.room_id,
            course_code=handoff.course_code,
            source=handoff.source,
            captured_at=handoff.captured_at,
            similarity=handoff.similarity,
            claim_token=claim.token if claim else None,
            claimed_until=claim.until if claim else None,
        )
    )


def claim_unpublished_handoff(connection: Connection, claim: PublishClaim, now: datetime) -> bool:
    """Take the right to publish ``claim.capture_id`` if it is unsent and nobody holds a live claim.

    One conditional UPDATE: of several workers trying at once, exactly one changes the row.
    A claim whose ``claimed_until`` has passed belongs to a worker that crashed or timed out.
    """
    result = connection.execute(
        handoffs.update()
        .where(
            handoffs.c.capture_id == claim.capture_id,
            handoffs.c.message_id.is_(None),
            sa.or_(handoffs.c.claimed_until.is_(None), handoffs.c.claimed_until < now),
        )
        .values(claim_token=claim.token, claimed_until=claim.until)
    )
    return result.rowcount == 1


def release_claim(connection: Connection, claim: PublishClaim) -> None:
    """Give the claim up (the publish failed): the next delivery may publish at once."""
    connection.execute(
        handoffs.update()
        .where(handoffs.c.capture_id == claim.capture_id, handoffs.c.claim_token == claim.token)
        .values(claim_token=None, claimed_until=None)
    )


def stored_handoff(connection: Connection, capture_id: str, camera_id: str | None) -> Handoff | None:
    """The stored handoff of ``capture_id``, if any."""
    row = connection.execute(sa.select(handoffs).where(handoffs.c.capture_id == capture_id)).first()
    if row is None:
        return None
    return Handoff(
        usn=row.usn,
        capture_id=row.capture_id,
        captured_at=row.captured_at,
        similarity=row.similarity,
        course_code=row.course_code,
        room_id=row.room_id,
        camera_id=camera_id,
        source=row.source,
    )


def mark_handoff_published(connection: Connection, claim: PublishClaim, message_id: str) -> None:
    """Remember the broker's message id: the handoff is out, and the claim is done."""
    connection.execute(
        handoffs.update()
        .where(handoffs.c.capture_id == claim.capture_id)
        .values(message_id=message_id, claim_token=None, claimed_until=None)
    )
