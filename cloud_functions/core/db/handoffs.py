"""Handoff rows: stored with the event that caused them, claimed, published once, marked sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cloud_functions.core.db.schema import handoffs
from contracts.handoff import Handoff


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


def handoff_unsent(connection: Connection, capture_id: str) -> bool:
    """True when ``capture_id`` has a stored handoff that no worker has published yet."""
    row = connection.execute(
        sa.select(handoffs.c.message_id).where(handoffs.c.capture_id == capture_id)
    ).first()
    return row is not None and row.message_id is None


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


def door_handoff_exists(
    connection: Connection, usn: str, room_id: str, since: datetime, until: datetime
) -> bool:
    """Whether the student was handed off to the room by the door camera between the two times."""
    return (
        connection.execute(
            sa.select(handoffs.c.id)
            .where(
                handoffs.c.usn == usn,
                handoffs.c.room_id == room_id,
                handoffs.c.source == "face",
                handoffs.c.captured_at >= since,
                handoffs.c.captured_at <= until,
            )
            .limit(1)
        ).first()
        is not None
    )
