"""Plain rules behind the API: no database, no clock, no HTTP.

Timetable overlap, the day's classes of a room and their state, and CSV cells that spreadsheets
cannot run as formulas.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Literal

from cloud_functions.core.timetable import TimetableEntry, room_zone

# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets
# (tab and carriage return hide a formula after whitespace).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Slot:
    """A weekly slot of a room as stored: id (None for one not yet stored) and validity."""

    id: int | None
    room_id: str
    weekday: int
    start_time: time
    end_time: time
    valid_from: date | None
    valid_to: date | None


def _periods_meet(a: Slot, b: Slot) -> bool:
    """True if the validity periods share a day (a missing bound is open)."""
    a_from, a_to = a.valid_from or date.min, a.valid_to or date.max
    b_from, b_to = b.valid_from or date.min, b.valid_to or date.max
    return a_from <= b_to and b_from <= a_to


def overlapping_slots(candidate: Slot, existing: Iterable[Slot]) -> list[Slot]:
    """The stored slots that would run in the same room at the same time as ``candidate``.

    Back-to-back slots (one ends when the next starts) do not overlap. The slot itself (same id)
    is ignored, so an update can keep its own times.
    """
    return [
        other
        for other in existing
        if other.id != candidate.id
        and other.room_id == candidate.room_id
        and other.weekday == candidate.weekday
        and candidate.start_time < other.end_time
        and other.start_time < candidate.end_time
        and _periods_meet(candidate, other)
    ]


@dataclass(frozen=True)
class ScheduledClass:
    """One class of a room on one room-local day."""

    room_id: str
    course_code: str
    class_date: date
    start_time: time
    end_time: time
    starts_at: datetime
    ends_at: datetime
    state: Literal["upcoming", "in_session", "ended"]


def room_local_date(now: datetime, timezone_name: str) -> date:
    """The room-local date at ``now`` (an aware datetime)."""
    return now.astimezone(room_zone(timezone_name)).date()


def classes_of_day(
    room_id: str,
    timezone_name: str,
    entries: Sequence[TimetableEntry],
    day: date,
    now: datetime,
) -> list[ScheduledClass]:
    """The room's classes on ``day`` (room-local), in start order, each with its state at ``now``."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    zone = room_zone(timezone_name)
    classes = []
    for entry in entries:
        if not entry.runs_on(day):
            continue
        starts_at = datetime.combine(day, entry.start_time, tzinfo=zone).astimezone(UTC)
        ends_at = datetime.combine(day, entry.end_time, tzinfo=zone).astimezone(UTC)
        state: Literal["upcoming", "in_session", "ended"] = (
            "upcoming" if now < starts_at else "in_session" if now < ends_at else "ended"
        )
        classes.append(
            ScheduledClass(
                room_id=room_id,
                course_code=entry.course_code,
                class_date=day,
                start_time=entry.start_time,
                end_time=entry.end_time,
                starts_at=starts_at,
                ends_at=ends_at,
                state=state,
            )
        )
    return sorted(classes, key=lambda c: c.starts_at)


def csv_safe_cell(value: object) -> str:
    """``value`` as CSV text that a spreadsheet shows as text and never evaluates.

    Text starting with a formula character gets a leading apostrophe (OWASP's advice); numbers
    and dates are written by us and pass unchanged.
    """
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    if isinstance(value, str) and text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A CSV document (RFC 4180 quoting, CRLF line ends) with every cell made safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow([csv_safe_cell(name) for name in header])
    for row in rows:
        writer.writerow([csv_safe_cell(cell) for cell in row])
    return buffer.getvalue()
