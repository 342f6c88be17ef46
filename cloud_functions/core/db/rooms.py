"""Rooms, their cameras and time zones, and their timetable entries."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cloud_functions.core.db.schema import rooms, timetable
from cloud_functions.core.timetable import TimetableEntry


@dataclass(frozen=True)
class Room:
    """A room and its cameras."""

    room_id: str
    timezone: str
    cam1_id: str | None
    cam2_id: str | None


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


def room_time_zones(connection: Connection) -> dict[str, str]:
    """Every room and its time zone name."""
    return {
        row.room_id: row.timezone for row in connection.execute(sa.select(rooms.c.room_id, rooms.c.timezone))
    }
