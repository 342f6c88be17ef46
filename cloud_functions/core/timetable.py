"""Which class is running in a room at a given moment, and whether an arrival is on time.

Pure rules: no database, no clock. The caller loads the room's timetable entries and passes
the capture time; everything here happens in the room's own time zone, because a timetable
says "Monday 09:00" in local time and the class date is the local date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cloud_functions.core.errors import ClassSightError


class NoClassInSessionError(ClassSightError):
    """No timetable entry covers the room at that time (outside class hours)."""


class AmbiguousTimetableError(ClassSightError):
    """More than one course is timetabled in the room at that time; nothing is guessed."""


class UnknownTimeZoneError(ClassSightError):
    """The room's time zone is not a known IANA name."""


@dataclass(frozen=True)
class TimetableEntry:
    """One weekly slot of a course in a room (times are room-local)."""

    course_code: str
    weekday: int  # 0 = Monday
    start_time: time
    end_time: time
    valid_from: date | None = None
    valid_to: date | None = None

    def runs_on(self, day: date) -> bool:
        """True if this slot takes place on ``day`` (weekday and validity period)."""
        return (
            day.weekday() == self.weekday
            and (self.valid_from is None or day >= self.valid_from)
            and (self.valid_to is None or day <= self.valid_to)
        )


@dataclass(frozen=True)
class GraceWindows:
    """How arrivals around a class's start are judged.

    ``before_start`` lets a student who arrives a little early count for the class about to
    start; arrivals up to ``on_time_after_start`` after the start are "entered", later ones
    until the end are "late".
    """

    before_start: timedelta = timedelta(minutes=10)
    on_time_after_start: timedelta = timedelta(minutes=20)


@dataclass(frozen=True)
class ClassSession:
    """The class a capture belongs to."""

    course_code: str
    class_date: date
    starts_at: datetime
    ends_at: datetime
    arrival: Literal["entered", "late"]
    session_id: int | None = None
    """The ``class_sessions`` row it was resolved from (None: from the weekly timetable alone)."""


def room_zone(timezone_name: str) -> ZoneInfo:
    """The ``ZoneInfo`` for a room, or ``UnknownTimeZoneError``."""
    try:
        return ZoneInfo(timezone_name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise UnknownTimeZoneError(f"unknown time zone {timezone_name!r}") from e


def resolve_class(
    entries: list[TimetableEntry],
    captured_at: datetime,
    timezone_name: str,
    grace: GraceWindows | None = None,
) -> ClassSession:
    """The single class running in the room at ``captured_at`` (an aware datetime).

    Raises ``NoClassInSessionError`` when none is, ``AmbiguousTimetableError`` when more
    than one is (overlapping entries are a timetable error to fix, not to guess around).
    """
    if captured_at.tzinfo is None:
        raise ValueError("captured_at must be timezone-aware")
    grace = grace or GraceWindows()
    zone = room_zone(timezone_name)
    local = captured_at.astimezone(zone)
    candidates: list[ClassSession] = []
    # A class starting just after midnight can be joined early from the previous local day.
    for day in {local.date(), (local + grace.before_start).date()}:
        for entry in entries:
            if not entry.runs_on(day):
                continue
            starts_at = datetime.combine(day, entry.start_time, tzinfo=zone)
            ends_at = datetime.combine(day, entry.end_time, tzinfo=zone)
            if starts_at - grace.before_start <= local < ends_at:
                arrival: Literal["entered", "late"] = (
                    "entered" if local <= starts_at + grace.on_time_after_start else "late"
                )
                candidates.append(
                    ClassSession(
                        course_code=entry.course_code,
                        class_date=day,
                        starts_at=starts_at.astimezone(UTC),
                        ends_at=ends_at.astimezone(UTC),
                        arrival=arrival,
                    )
                )
    if not candidates:
        raise NoClassInSessionError(f"no class in session at {local.isoformat()} ({timezone_name})")
    # Back-to-back classes: the class already running owns the minutes before the next one starts.
    running = [c for c in candidates if c.starts_at <= captured_at]
    candidates = running or candidates
    if len({(c.course_code, c.class_date) for c in candidates}) > 1:
        codes = ", ".join(sorted({c.course_code for c in candidates}))
        raise AmbiguousTimetableError(f"overlapping timetable entries at {local.isoformat()}: {codes}")
    return candidates[0]


@dataclass(frozen=True)
class CaptureTimeBounds:
    """How far a camera's own timestamp may lie from the moment its object reached the bucket.

    A capture is stored seconds after it is taken, or hours later when the classroom PC was
    offline and its outbox held it. A timestamp far in the future, or older than any outage
    the outbox is meant to bridge, is a wrong clock or a forged upload: it must not write
    attendance for some other day.
    """

    max_ahead: timedelta = timedelta(minutes=2)
    max_age: timedelta = timedelta(hours=24)

    def implausibility(self, captured_at: datetime, arrived_at: datetime) -> str | None:
        """Why ``captured_at`` cannot be right for an object stored at ``arrived_at``, or None."""
        if captured_at > arrived_at + self.max_ahead:
            return (
                f"taken at {captured_at.isoformat()}, {captured_at - arrived_at} after it was stored "
                f"({arrived_at.isoformat()}); at most {self.max_ahead} is allowed"
            )
        if captured_at < arrived_at - self.max_age:
            return (
                f"taken at {captured_at.isoformat()}, {arrived_at - captured_at} before it was stored "
                f"({arrived_at.isoformat()}); at most {self.max_age} is allowed"
            )
        return None
