"""Queries behind the presence flow: processed reports, known students, presence confirmation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cloud_functions.core.db.attendance import SWEEP, ColumnAccessor, Least, earliest, upsert_attendance
from cloud_functions.core.db.schema import attendance, presence_reports


@dataclass(frozen=True)
class PresenceReportRecord:
    """What became of one presence report object. ``object_key`` is unique."""

    object_key: str
    outcome: str
    room_id: str | None = None
    camera_id: str | None = None
    reported_at: datetime | None = None
    course_code: str | None = None
    class_date: date | None = None
    present_count: int = 0
    confirmed_count: int = 0
    latency_ms: float | None = None
    detail: str | None = None


@dataclass(frozen=True)
class PresenceConfirmation:
    """A student seen in the room long enough during a class."""

    usn: str
    course_code: str
    class_date: date
    room_id: str
    confirmed_at: datetime
    source: Literal["face", "body"]


def get_report(connection: Connection, object_key: str) -> PresenceReportRecord | None:
    """The record of ``object_key``, if it was processed before."""
    row = connection.execute(
        sa.select(presence_reports).where(presence_reports.c.object_key == object_key)
    ).first()
    if row is None:
        return None
    return PresenceReportRecord(
        object_key=row.object_key,
        outcome=row.outcome,
        room_id=row.room_id,
        camera_id=row.camera_id,
        reported_at=row.reported_at,
        course_code=row.course_code,
        class_date=row.class_date,
        present_count=row.present_count,
        confirmed_count=row.confirmed_count,
        latency_ms=row.latency_ms,
        detail=row.detail,
    )


def insert_report(connection: Connection, record: PresenceReportRecord) -> None:
    """Record a report; a second record for the same object raises ``IntegrityError``."""
    connection.execute(
        presence_reports.insert().values(
            object_key=record.object_key,
            outcome=record.outcome,
            room_id=record.room_id,
            camera_id=record.camera_id,
            reported_at=record.reported_at,
            course_code=record.course_code,
            class_date=record.class_date,
            present_count=record.present_count,
            confirmed_count=record.confirmed_count,
            latency_ms=record.latency_ms,
            detail=record.detail[:255] if record.detail else None,
        )
    )


def confirm_presence(connection: Connection, confirmation: PresenceConfirmation) -> None:
    """Set ``confirmed_at`` of the student's attendance for the class, creating the row if needed.

    The earliest confirmation wins, so redelivered or out-of-order reports change nothing.
    An existing row keeps its status (the door's 'entered'/'late', or a teacher's correction)
    and its source. A student never seen at the door gets a new row: status 'present', with the
    source of the room's identification; so does one the sweep marked absent (the sweep's row is
    replaced: status, source and room).
    """
    values = {
        "usn": confirmation.usn,
        "course_code": confirmation.course_code,
        "class_date": confirmation.class_date,
        "room_id": confirmation.room_id,
        "first_seen_at": None,
        "confirmed_at": confirmation.confirmed_at,
        "status": "present",
        "source": confirmation.source,
    }
    table = attendance

    def updates(new: ColumnAccessor, least: Least) -> list[tuple[str, sa.ColumnElement[object]]]:
        swept = table.c.source == SWEEP
        # source last: MySQL applies assignments in order, and the ones before must see 'sweep'.
        return [
            ("status", sa.case((swept, new.status), else_=table.c.status)),
            ("room_id", sa.case((swept, new.room_id), else_=table.c.room_id)),
            ("confirmed_at", earliest(table.c.confirmed_at, new.confirmed_at, least)),
            ("source", sa.case((swept, new.source), else_=table.c.source)),
        ]

    upsert_attendance(connection, values, updates)
