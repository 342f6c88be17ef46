"""Attendance rows: one per (usn, course_code, class_date), written with an atomic upsert.

Two deliveries of the same capture, or two captures of the same student, may be processed
at the same moment by two function instances. The UNIQUE key decides; the upsert never
raises on a duplicate and never creates a second row.

An ``absent`` written by the sweep (source ``sweep``) is a placeholder: a capture that arrives
later (a door sighting, a room confirmation, a body match confirmed in the room) replaces it
whole, whichever of the two reaches the database first. The sweep itself only inserts where no
row exists (``core.db.sessions.write_absences``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.engine import Connection

from cloud_functions.core.db.schema import attendance

DoorStatus = Literal["entered", "late"]
AttendanceSource = Literal["face", "body", "manual", "sweep"]
SWEEP = "sweep"


@dataclass(frozen=True)
class DoorSighting:
    """A student recognised at a room's door during a class."""

    usn: str
    course_code: str
    class_date: date
    room_id: str
    seen_at: datetime
    status: DoorStatus
    source: AttendanceSource
    similarity: float | None
    capture_id: str | None


@dataclass(frozen=True)
class AttendanceRow:
    """The stored attendance of one student for one class."""

    usn: str
    course_code: str
    class_date: date
    room_id: str
    first_seen_at: datetime | None
    confirmed_at: datetime | None
    status: str
    source: str
    similarity: float | None
    capture_id: str | None


ColumnAccessor = Any
"""The would-be-inserted row in an upsert (MySQL's ``inserted``, SQLite's ``excluded``)."""
Least = Callable[[sa.ColumnElement[Any], sa.ColumnElement[Any]], sa.ColumnElement[Any]]


def upsert_attendance(
    connection: Connection,
    values: dict[str, object],
    updates: Callable[[ColumnAccessor, Least], list[tuple[str, sa.ColumnElement[object]]]],
) -> None:
    """Insert an attendance row, or apply ``updates`` to the existing one for the same key.

    ``updates(new, least)`` gets the would-be row and a two-argument minimum, and returns the
    assignments in the order MySQL must apply them (left to right, each seeing the ones before).
    """
    dialect = connection.dialect.name
    if dialect == "mysql":
        mysql_stmt = mysql.insert(attendance).values(**values)
        # A list of pairs keeps the order; keyword arguments would be put in table order.
        connection.execute(mysql_stmt.on_duplicate_key_update(updates(mysql_stmt.inserted, sa.func.least)))
    elif dialect == "sqlite":
        sqlite_stmt = sqlite.insert(attendance).values(**values)
        # SQLite's two-argument min() is a scalar function.
        assignments = dict(updates(sqlite_stmt.excluded, sa.func.min))
        connection.execute(
            sqlite_stmt.on_conflict_do_update(
                index_elements=["usn", "course_code", "class_date"], set_=assignments
            )
        )
    else:  # pragma: no cover - only MySQL/MariaDB and SQLite are supported
        raise NotImplementedError(f"no attendance upsert for dialect {dialect}")


def earliest(
    stored: sa.ColumnElement[Any], incoming: sa.ColumnElement[Any], least: Least
) -> sa.ColumnElement[Any]:
    """The earlier of a stored time and an incoming one; the incoming one where none is stored."""
    return sa.func.coalesce(least(stored, incoming), incoming)


def record_door_sighting(connection: Connection, sighting: DoorSighting) -> AttendanceRow:
    """Insert the student's attendance for this class, or fold the sighting into the existing row.

    The earliest door sighting wins: a later one changes nothing, an earlier one delivered late
    (queues do not keep order) takes over the time, status, similarity and capture. A status set
    by presence or by hand ('present', 'absent', 'excused') is never downgraded by a door sighting.
    The sweep's 'absent' is replaced: status, source, room and the sighting's fields.
    """
    values = {
        "usn": sighting.usn,
        "course_code": sighting.course_code,
        "class_date": sighting.class_date,
        "room_id": sighting.room_id,
        "first_seen_at": sighting.seen_at,
        "status": sighting.status,
        "source": sighting.source,
        "similarity": sighting.similarity,
        "capture_id": sighting.capture_id,
    }
    table = attendance

    def updates(new: ColumnAccessor, least: Least) -> list[tuple[str, sa.ColumnElement[object]]]:
        earlier = sa.or_(table.c.first_seen_at.is_(None), new.first_seen_at < table.c.first_seen_at)
        swept = table.c.source == SWEEP
        door_status = sa.or_(table.c.status.in_(("entered", "late")), swept)

        def take_if_earlier(column: sa.Column[object]) -> sa.ColumnElement[object]:
            return sa.case((earlier, getattr(new, column.name)), else_=column)

        # first_seen_at and source last: MySQL applies assignments in order, and the ones before
        # them must still compare against the stored values. A sweep row has no first_seen_at,
        # so every "earlier" test holds for it.
        return [
            ("status", sa.case((sa.and_(earlier, door_status), new.status), else_=table.c.status)),
            ("room_id", sa.case((swept, new.room_id), else_=table.c.room_id)),
            ("similarity", take_if_earlier(table.c.similarity)),
            ("capture_id", take_if_earlier(table.c.capture_id)),
            (
                "first_seen_at",
                sa.func.coalesce(least(table.c.first_seen_at, new.first_seen_at), new.first_seen_at),
            ),
            ("source", sa.case((swept, new.source), else_=table.c.source)),
        ]

    upsert_attendance(connection, values, updates)
    row = connection.execute(
        sa.select(table).where(
            table.c.usn == sighting.usn,
            table.c.course_code == sighting.course_code,
            table.c.class_date == sighting.class_date,
        )
    ).one()
    return AttendanceRow(
        usn=row.usn,
        course_code=row.course_code,
        class_date=row.class_date,
        room_id=row.room_id,
        first_seen_at=row.first_seen_at,
        confirmed_at=row.confirmed_at,
        status=row.status,
        source=row.source,
        similarity=row.similarity,
        capture_id=row.capture_id,
    )
