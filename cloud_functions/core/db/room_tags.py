"""Room tags: which room track each door capture (or body crop) named, from cam2's presence reports.

A report lists every identified track every few seconds, so the same tag arrives many times:
the unique (camera, track, capture) key keeps one row, and storing it again changes nothing.
The proxy rules read these rows beside the door's recognitions (``recognition_events``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cloud_functions.core.db.engine import insert_ignoring_duplicate
from cloud_functions.core.db.schema import recognition_events, room_tags
from cloud_functions.core.outcomes import Outcome


@dataclass(frozen=True)
class RoomTag:
    """A room track named by a capture: the track, the student, and how the track came in."""

    room_id: str
    camera_id: str
    tracker_id: int
    usn: str
    capture_id: str
    entered_through_door: bool
    entered_at: datetime
    tagged_at: datetime


@dataclass(frozen=True)
class DoorSightingRecord:
    """A door recognition as ``recognition_events`` holds it."""

    usn: str
    room_id: str
    capture_id: str
    seen_at: datetime


def record_tags(connection: Connection, tags: Iterable[RoomTag]) -> int:
    """Store the tags not stored yet; return how many were new."""
    rows = [
        {
            "room_id": t.room_id,
            "camera_id": t.camera_id,
            "tracker_id": t.tracker_id,
            "usn": t.usn,
            "capture_id": t.capture_id,
            "entered_through_door": t.entered_through_door,
            "entered_at": t.entered_at,
            "tagged_at": t.tagged_at,
        }
        for t in {(t.camera_id, t.tracker_id, t.capture_id): t for t in tags}.values()
    ]
    return sum(
        insert_ignoring_duplicate(connection, room_tags, row, ["camera_id", "tracker_id", "capture_id"])
        for row in rows
    )


def tags_in_room(connection: Connection, room_id: str, since: datetime, until: datetime) -> list[RoomTag]:
    """The room's tags whose evidence was captured between ``since`` and ``until``."""
    query = sa.select(room_tags).where(
        room_tags.c.room_id == room_id, room_tags.c.tagged_at.between(since, until)
    )
    return [
        RoomTag(
            room_id=r.room_id,
            camera_id=r.camera_id,
            tracker_id=r.tracker_id,
            usn=r.usn,
            capture_id=r.capture_id,
            entered_through_door=r.entered_through_door,
            entered_at=r.entered_at,
            tagged_at=r.tagged_at,
        )
        for r in connection.execute(query.order_by(room_tags.c.tagged_at))
    ]


def door_recognitions(
    connection: Connection,
    since: datetime,
    until: datetime,
    *,
    room_id: str | None = None,
    usns: Sequence[str] | None = None,
) -> list[DoorSightingRecord]:
    """Students recognised at a door between ``since`` and ``until``, in one room or of ``usns``."""
    conditions = [
        recognition_events.c.outcome == Outcome.RECOGNISED.value,
        recognition_events.c.captured_at.between(since, until),
        recognition_events.c.usn.is_not(None),
        recognition_events.c.capture_id.is_not(None),
        recognition_events.c.room_id.is_not(None),
    ]
    if room_id is not None:
        conditions.append(recognition_events.c.room_id == room_id)
    if usns is not None:
        if not usns:
            return []
        conditions.append(recognition_events.c.usn.in_(sorted(set(usns))))
    query = sa.select(
        recognition_events.c.usn,
        recognition_events.c.room_id,
        recognition_events.c.capture_id,
        recognition_events.c.captured_at,
    ).where(*conditions)
    return [
        DoorSightingRecord(usn=r.usn, room_id=r.room_id, capture_id=r.capture_id, seen_at=r.captured_at)
        for r in connection.execute(query.order_by(recognition_events.c.captured_at))
    ]
