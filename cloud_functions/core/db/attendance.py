"""Attendance rows: one per (usn, course_code, class_date), written with an atomic upsert.

Two deliveries of the same capture, or two captures of the same student, may be processed
at the same moment by two function instances. The UNIQUE key decides; the upsert never
raises on a duplicate and never creates a second row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.engine import Connection

from cloud_functions.core.db.schema import attendance

DoorStatus = Literal["entered", "late"]
AttendanceSource = Literal["face", "body", "manual"]


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


def record_door_sighting(connection: Connection, sighting: DoorSighting) -> AttendanceRow:
    """Insert the student's attendance for this class, or fold the sighting into the existing row.

    The earliest door sighting wins: a later one changes nothing, an earlier one delivered late
    (queues do not keep order) takes over the time, status, similarity and capture. A status set
    by presence or by hand ('present', 'absent', 'excused') is never downgraded by a door sighting.
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
    dialect = connection.dialect.name
    if dialect == "mysql":
        stmt = mysql.insert(table).values(**values)
        new = stmt.inserted
        least_name = "least"
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).values(**values)  # type: ignore[assignment]
        new = stmt.excluded  # type: ignore[attr-defined]
        least_name = "min"  # SQLite's two-argument min() is a scalar function
    else:  # pragma: no cover - only MySQL/MariaDB and SQLite are supported
        raise NotImplementedError(f"no attendance upsert for dialect {dialect}")

    earlier = sa.or_(table.c.first_seen_at.is_(None), new.first_seen_at < table.c.first_seen_at)
    door_status = table.c.status.in_(("entered", "late"))

    def take_if_earlier(column: sa.Column[object]) -> sa.ColumnElement[object]:
        return sa.case((earlier, getattr(new, column.name)), else_=column)

    # MySQL applies assignments left to right, each seeing the ones before it: first_seen_at
    # must come last so the comparisons above still see the stored value.
    updates: dict[str, sa.ColumnElement[object]] = {
        "status": sa.case((sa.and_(earlier, door_status), new.status), else_=table.c.status),
        "similarity": take_if_earlier(table.c.similarity),
        "capture_id": take_if_earlier(table.c.capture_id),
        "first_seen_at": sa.func.coalesce(
            getattr(sa.func, least_name)(table.c.first_seen_at, new.first_seen_at), new.first_seen_at
        ),
    }
    if dialect == "mysql":
        # A list of pairs keeps the order above; keyword arguments would be put in table order.
        upsert = stmt.on_duplicate_key_update(list(updates.items()))
    else:
        upsert = stmt.on_conflict_do_update(  # type: ignore[attr-defined]
            index_elements=["usn", "course_code", "class_date"], set_=updates
        )
    connection.execute(upsert)
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
