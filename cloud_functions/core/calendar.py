"""The college's calendar: a term's class sessions from the timetable, and the class at a moment.

Pure rules: no database, no clock. ``plan_sessions`` turns a term (its dates and days off) and
the weekly timetable into the dated sessions it implies; ``reconcile`` compares that plan with
the sessions already stored and says what to add, restore, cancel or adjust, so generation is
an idempotent upsert that never undoes a person's cancellation or move. ``resolve_session``
finds the class running in a room at a moment from the stored sessions (what the capture
functions use wherever a term covers the date).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal

from cloud_functions.core.errors import ClassSightError
from cloud_functions.core.timetable import (
    ClassSession,
    GraceWindows,
    NoClassInSessionError,
    TimetableEntry,
    resolve_class,
    room_zone,
)

SessionStatus = Literal["scheduled", "cancelled"]
SessionOrigin = Literal["timetable", "moved", "extra"]
CALENDAR = "calendar"
"""``cancelled_by`` of a session the calendar cancelled (a day off, a slot gone from the timetable)."""
NOTE_GONE_FROM_TIMETABLE = "no longer in the timetable"


class ClassCancelledError(ClassSightError):
    """The class in the room at that time was cancelled (or moved elsewhere): it marks nobody."""


@dataclass(frozen=True)
class Term:
    """A term's dates (inclusive) and its days off, with their reasons."""

    term_id: int
    start_date: date
    end_date: date
    days_off: Mapping[date, str] = field(default_factory=dict)

    def covers(self, day: date) -> bool:
        """True if ``day`` falls within the term (days off included)."""
        return self.start_date <= day <= self.end_date


@dataclass(frozen=True)
class TimetableSlot:
    """A timetable row with its id and room, as generation needs it."""

    timetable_id: int
    room_id: str
    entry: TimetableEntry


@dataclass(frozen=True)
class PlannedSession:
    """A session the timetable and the term calendar imply."""

    course_code: str
    room_id: str
    session_date: date
    start_time: time
    end_time: time
    timetable_id: int

    @property
    def key(self) -> tuple[str, date, time]:
        """The stored session's unique key: course, date, start."""
        return (self.course_code, self.session_date, self.start_time)


@dataclass(frozen=True)
class StoredSession:
    """A ``class_sessions`` row as the rules need it."""

    session_id: int
    course_code: str
    room_id: str
    session_date: date
    start_time: time
    end_time: time
    status: SessionStatus
    origin: SessionOrigin
    timetable_id: int | None = None
    cancelled_by: str | None = None
    note: str | None = None

    @property
    def key(self) -> tuple[str, date, time]:
        """Course, date, start (unique)."""
        return (self.course_code, self.session_date, self.start_time)


def plan_sessions(term: Term, slots: Iterable[TimetableSlot]) -> list[PlannedSession]:
    """Every session of the term: each slot on each of its weekdays within the term and its own
    validity, except on days off. Sorted by date, start and course."""
    planned: list[PlannedSession] = []
    slots = list(slots)
    day = term.start_date
    while day <= term.end_date:
        if day not in term.days_off:
            for slot in slots:
                if slot.entry.runs_on(day):
                    planned.append(
                        PlannedSession(
                            course_code=slot.entry.course_code,
                            room_id=slot.room_id,
                            session_date=day,
                            start_time=slot.entry.start_time,
                            end_time=slot.entry.end_time,
                            timetable_id=slot.timetable_id,
                        )
                    )
        day += timedelta(days=1)
    planned.sort(key=lambda p: (p.session_date, p.start_time, p.course_code))
    return planned


@dataclass(frozen=True)
class SessionChanges:
    """What generation does to the stored sessions of a term."""

    add: list[PlannedSession] = field(default_factory=list)
    restore: list[StoredSession] = field(default_factory=list)
    """Cancelled by the calendar and implied again (a day off removed): scheduled once more."""
    adjust: list[tuple[StoredSession, PlannedSession]] = field(default_factory=list)
    """Still implied but the timetable changed its room or end: the new values."""
    cancel: list[tuple[StoredSession, str]] = field(default_factory=list)
    """No longer implied (gone from the timetable, or now a day off), with the note to keep."""

    @property
    def empty(self) -> bool:
        """True when nothing changes."""
        return not (self.add or self.restore or self.adjust or self.cancel)


def reconcile(
    planned: Sequence[PlannedSession],
    stored: Sequence[StoredSession],
    *,
    days_off: Mapping[date, str],
    changeable: Mapping[int, bool],
) -> SessionChanges:
    """The changes that bring ``stored`` in line with ``planned``, never undoing a person's act.

    - A planned session with no stored one of its key is added; one the calendar cancelled is
      restored; a scheduled timetable session whose room or end changed is adjusted.
    - A person's cancellation or move keeps its stored slot (same key), which is never touched;
      moved and extra sessions are not the timetable's to change.
    - A scheduled timetable session no longer planned is cancelled, with a note, only where
      ``changeable[session_id]`` is true: the caller says so for sessions that are still in
      the future and have no marks, so nothing that happened is rewritten.
    Adjustments and restorations also need ``changeable``.
    """
    stored_by_key = {s.key: s for s in stored}
    planned_keys = {p.key for p in planned}
    changes = SessionChanges()
    for plan in planned:
        existing = stored_by_key.get(plan.key)
        if existing is None:
            changes.add.append(plan)
            continue
        if existing.origin != "timetable" or not changeable.get(existing.session_id, False):
            continue
        if existing.status == "cancelled":
            if existing.cancelled_by == CALENDAR:
                changes.restore.append(existing)
            continue
        if (existing.room_id, existing.end_time, existing.timetable_id) != (
            plan.room_id,
            plan.end_time,
            plan.timetable_id,
        ):
            changes.adjust.append((existing, plan))
    for session in stored:
        if session.key in planned_keys or session.origin != "timetable" or session.status != "scheduled":
            continue
        if not changeable.get(session.session_id, False):
            continue
        reason = days_off.get(session.session_date)
        note = f"day off: {reason}" if reason is not None else NOTE_GONE_FROM_TIMETABLE
        changes.cancel.append((session, note))
    return changes


def session_bounds(session: StoredSession, timezone_name: str) -> tuple[datetime, datetime]:
    """The session's start and end as aware datetimes in the room's zone."""
    zone = room_zone(timezone_name)
    return (
        datetime.combine(session.session_date, session.start_time, tzinfo=zone),
        datetime.combine(session.session_date, session.end_time, tzinfo=zone),
    )


def _as_entries(sessions: Iterable[StoredSession]) -> list[TimetableEntry]:
    # A dated session is a weekly slot valid for that one day: the timetable's rules (grace
    # windows, back-to-back classes, overlaps) then apply to sessions unchanged.
    return [
        TimetableEntry(
            course_code=s.course_code,
            weekday=s.session_date.weekday(),
            start_time=s.start_time,
            end_time=s.end_time,
            valid_from=s.session_date,
            valid_to=s.session_date,
        )
        for s in sessions
    ]


def resolve_session(
    sessions: Sequence[StoredSession],
    captured_at: datetime,
    timezone_name: str,
    grace: GraceWindows | None = None,
) -> ClassSession:
    """The single scheduled session of the room running at ``captured_at``.

    ``sessions`` are the room's sessions on the dates around ``captured_at``. Raises
    ``NoClassInSessionError`` when none is running, ``ClassCancelledError`` when the only class
    at that time was cancelled (or moved away), ``AmbiguousTimetableError`` when two overlap.
    """
    scheduled = [s for s in sessions if s.status == "scheduled"]
    try:
        found = resolve_class(_as_entries(scheduled), captured_at, timezone_name, grace)
    except NoClassInSessionError:
        cancelled = [s for s in sessions if s.status == "cancelled"]
        try:
            gone = resolve_class(_as_entries(cancelled), captured_at, timezone_name, grace)
        except NoClassInSessionError:
            raise
        except ClassSightError:  # two cancelled classes overlapping: still nothing to mark
            gone = None
        detail = "the class at this time was cancelled"
        if gone is not None:
            match = next(
                s
                for s in cancelled
                if s.course_code == gone.course_code and s.session_date == gone.class_date
            )
            detail = f"{match.course_code} on {match.session_date} at {match.start_time} was cancelled"
            if match.note:
                detail += f" ({match.note})"
        raise ClassCancelledError(detail) from None
    match = next(
        s
        for s in scheduled
        if s.course_code == found.course_code
        and s.session_date == found.class_date
        and datetime.combine(s.session_date, s.start_time, tzinfo=room_zone(timezone_name)) == found.starts_at
    )
    return ClassSession(
        course_code=found.course_code,
        class_date=found.class_date,
        starts_at=found.starts_at,
        ends_at=found.ends_at,
        arrival=found.arrival,
        session_id=match.session_id,
    )


def sweep_due(session: StoredSession, timezone_name: str, now: datetime, grace: timedelta) -> bool:
    """True once a scheduled session ended more than ``grace`` before ``now``."""
    if session.status != "scheduled":
        return False
    _, ends_at = session_bounds(session, timezone_name)
    return ends_at + grace <= now
