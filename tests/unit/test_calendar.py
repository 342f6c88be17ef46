"""The calendar's rules: a term's sessions from the timetable, reconciling with what is stored,
and the class a capture belongs to when a term covers the date."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from cloud_functions.core.calendar import (
    CALENDAR,
    NOTE_GONE_FROM_TIMETABLE,
    ClassCancelledError,
    StoredSession,
    Term,
    TimetableSlot,
    plan_sessions,
    reconcile,
    resolve_session,
    sweep_due,
)
from cloud_functions.core.timetable import AmbiguousTimetableError, NoClassInSessionError, TimetableEntry

MON = date(2026, 11, 23)  # a Monday
ZONE = "Asia/Kolkata"  # UTC+05:30


def _slot(
    course: str = "CS501", weekday: int = 0, start: int = 9, end: int = 10, tid: int = 1, **kw: date
) -> TimetableSlot:
    return TimetableSlot(tid, "R101", TimetableEntry(course, weekday, time(start), time(end), **kw))


def _stored(
    sid: int,
    day: date = MON,
    start: int = 9,
    end: int = 10,
    *,
    course: str = "CS501",
    status: str = "scheduled",
    origin: str = "timetable",
    room: str = "R101",
    cancelled_by: str | None = None,
    tid: int | None = 1,
) -> StoredSession:
    return StoredSession(
        sid,
        course,
        room,
        day,
        time(start),
        time(end),
        status,
        origin,
        tid,
        cancelled_by,  # type: ignore[arg-type]
    )


def test_a_term_plans_each_slot_on_its_weekdays_except_days_off_and_outside_validity() -> None:
    # GIVEN a three-week term with a holiday on the second Monday, a Monday slot and a Wednesday
    # slot valid only from the second week
    term = Term(1, MON, MON + timedelta(days=20), {MON + timedelta(days=7): "Guru Nanak Jayanti"})
    slots = [_slot(), _slot("CS502", weekday=2, start=11, end=12, tid=2, valid_from=MON + timedelta(days=7))]
    # WHEN the sessions are planned
    planned = plan_sessions(term, slots)
    # THEN Mondays 1 and 3, Wednesdays of weeks 2 and 3
    assert [(p.course_code, p.session_date) for p in planned] == [
        ("CS501", MON),
        ("CS502", MON + timedelta(days=9)),
        ("CS501", MON + timedelta(days=14)),
        ("CS502", MON + timedelta(days=16)),
    ]


def test_reconcile_adds_what_is_missing_and_is_a_no_op_when_in_line() -> None:
    term = Term(1, MON, MON + timedelta(days=7))
    planned = plan_sessions(term, [_slot()])
    changes = reconcile(planned, [], days_off={}, changeable={})
    assert [p.session_date for p in changes.add] == [MON, MON + timedelta(days=7)]
    stored = [_stored(1, MON), _stored(2, MON + timedelta(days=7))]
    assert reconcile(planned, stored, days_off={}, changeable={1: True, 2: True}).empty


def test_a_persons_cancellation_or_move_is_never_undone() -> None:
    # GIVEN Monday's class cancelled by a teacher (or moved: its old slot is kept cancelled)
    planned = plan_sessions(Term(1, MON, MON), [_slot()])
    stored = [_stored(1, status="cancelled", cancelled_by="t.rao")]
    # WHEN generation runs again THEN nothing changes
    assert reconcile(planned, stored, days_off={}, changeable={1: True}).empty


def test_a_calendar_cancellation_is_restored_when_the_day_off_goes() -> None:
    planned = plan_sessions(Term(1, MON, MON), [_slot()])
    stored = [_stored(1, status="cancelled", cancelled_by=CALENDAR)]
    changes = reconcile(planned, stored, days_off={}, changeable={1: True})
    assert [s.session_id for s in changes.restore] == [1]


@pytest.mark.parametrize(
    ("changeable", "expected"),
    [
        (True, [(1, NOTE_GONE_FROM_TIMETABLE)]),
        (False, []),  # in the past, or someone has a mark: what happened stays
    ],
)
def test_a_slot_gone_from_the_timetable_is_cancelled_only_in_the_future_and_unmarked(
    changeable: bool, expected: list[tuple[int, str]]
) -> None:
    # GIVEN a stored Monday session and a timetable without it
    stored = [_stored(1)]
    changes = reconcile([], stored, days_off={}, changeable={1: changeable})
    assert [(s.session_id, note) for s, note in changes.cancel] == expected


def test_a_new_day_off_cancels_with_its_reason() -> None:
    stored = [_stored(1)]
    changes = reconcile([], stored, days_off={MON: "Diwali"}, changeable={1: True})
    assert [note for _, note in changes.cancel] == ["day off: Diwali"]


def test_moved_and_extra_sessions_are_not_the_timetables_to_change() -> None:
    stored = [_stored(1, origin="moved", tid=None), _stored(2, start=14, end=15, origin="extra", tid=None)]
    assert reconcile([], stored, days_off={}, changeable={1: True, 2: True}).empty


def test_a_changed_room_or_end_is_adjusted_in_the_future() -> None:
    planned = plan_sessions(Term(1, MON, MON), [_slot(end=11)])
    changes = reconcile(planned, [_stored(1)], days_off={}, changeable={1: True})
    assert [(s.session_id, p.end_time) for s, p in changes.adjust] == [(1, time(11))]


def _at(hour: int, minute: int = 0, day: date = MON) -> datetime:
    # Room-local (UTC+05:30) wall time as an aware UTC datetime.
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=5, minutes=30)


def test_a_scheduled_session_resolves_with_its_id_and_arrival() -> None:
    found = resolve_session([_stored(7)], _at(9, 25), ZONE)
    assert (found.course_code, found.class_date, found.arrival, found.session_id) == ("CS501", MON, "late", 7)


def test_a_cancelled_session_marks_nobody() -> None:
    with pytest.raises(ClassCancelledError, match="CS501 on 2026-11-23 at 09:00:00 was cancelled"):
        resolve_session([_stored(7, status="cancelled")], _at(9, 5), ZONE)


def test_a_moved_session_resolves_at_its_new_slot_and_not_at_the_old_one() -> None:
    # GIVEN Monday 09:00 moved to Monday 14:00 (same room)
    sessions = [
        _stored(7, status="cancelled", cancelled_by="t.rao"),
        _stored(8, start=14, end=15, origin="moved"),
    ]
    with pytest.raises(ClassCancelledError):
        resolve_session(sessions, _at(9, 5), ZONE)
    assert resolve_session(sessions, _at(14, 5), ZONE).session_id == 8


def test_no_session_is_no_class_even_where_the_timetable_has_one() -> None:
    with pytest.raises(NoClassInSessionError):
        resolve_session([], _at(9, 5), ZONE)


def test_an_extra_session_beside_a_cancelled_one_wins() -> None:
    sessions = [
        _stored(7, status="cancelled"),
        _stored(9, start=9, end=10, course="CS502", origin="extra", tid=None),
    ]
    assert resolve_session(sessions, _at(9, 5), ZONE).course_code == "CS502"


def test_two_overlapping_sessions_are_ambiguous() -> None:
    sessions = [_stored(7), _stored(9, course="CS502", origin="extra", tid=None)]
    with pytest.raises(AmbiguousTimetableError):
        resolve_session(sessions, _at(9, 5), ZONE)


@pytest.mark.parametrize(
    ("now", "status", "due"),
    [
        (_at(10, 14), "scheduled", False),
        (_at(10, 15), "scheduled", True),
        (_at(12, 0), "cancelled", False),
    ],
)
def test_a_session_is_due_for_the_sweep_after_its_end_and_the_grace(
    now: datetime, status: str, due: bool
) -> None:
    assert sweep_due(_stored(1, status=status), ZONE, now, timedelta(minutes=15)) is due
