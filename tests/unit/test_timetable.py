"""Timetable resolution: which class, on which local date, and on time or late."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from cloud_functions.core.timetable import (
    AmbiguousTimetableError,
    GraceWindows,
    NoClassInSessionError,
    TimetableEntry,
    UnknownTimeZoneError,
    resolve_class,
)

# Monday 2026-11-23. Kolkata is UTC+05:30 all year.
MONDAY = date(2026, 11, 23)
CS501 = TimetableEntry("CS501", weekday=0, start_time=time(9, 0), end_time=time(10, 0))
CS502 = TimetableEntry("CS502", weekday=0, start_time=time(10, 0), end_time=time(11, 0))
TZ = "Asia/Kolkata"


def kolkata(hh: int, mm: int, day: date = MONDAY) -> datetime:
    """A Kolkata wall-clock time as the UTC instant an edge client would send."""
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=UTC) - timedelta(hours=5, minutes=30)


@pytest.mark.parametrize(
    ("local_time", "course", "arrival"),
    [
        ((8, 50), "CS501", "entered"),  # early, inside the 10-minute grace before the start
        ((9, 0), "CS501", "entered"),
        ((9, 20), "CS501", "entered"),  # last on-time minute
        ((9, 21), "CS501", "late"),
        ((9, 59), "CS501", "late"),
        ((10, 0), "CS502", "entered"),  # back-to-back: the next class owns its start
    ],
)
def test_capture_in_class_hours_resolves_course_and_arrival(
    local_time: tuple[int, int], course: str, arrival: str
) -> None:
    session = resolve_class([CS501, CS502], kolkata(*local_time), TZ)
    assert (session.course_code, session.arrival, session.class_date) == (course, arrival, MONDAY)


@pytest.mark.parametrize("local_time", [(8, 49), (11, 0), (13, 0)])
def test_capture_outside_class_hours_is_no_class(local_time: tuple[int, int]) -> None:
    with pytest.raises(NoClassInSessionError, match="no class in session"):
        resolve_class([CS501, CS502], kolkata(*local_time), TZ)


def test_class_date_is_the_rooms_local_date_not_utc() -> None:
    # GIVEN a class at 00:30 local on Tuesday, which is still Monday in UTC
    entry = TimetableEntry("NIGHT", weekday=1, start_time=time(0, 30), end_time=time(1, 30))
    captured = kolkata(0, 35, day=MONDAY + timedelta(days=1))
    assert captured.date() == MONDAY
    # THEN the class date is Tuesday
    assert resolve_class([entry], captured, TZ).class_date == MONDAY + timedelta(days=1)


def test_early_arrival_before_midnight_joins_the_class_after_midnight() -> None:
    entry = TimetableEntry("NIGHT", weekday=1, start_time=time(0, 5), end_time=time(1, 0))
    session = resolve_class([entry], kolkata(23, 58), TZ)
    assert (session.course_code, session.class_date) == ("NIGHT", MONDAY + timedelta(days=1))


def test_overlapping_entries_are_refused_not_guessed() -> None:
    clash = TimetableEntry("MA201", weekday=0, start_time=time(9, 30), end_time=time(10, 30))
    with pytest.raises(AmbiguousTimetableError, match="CS501, MA201"):
        resolve_class([CS501, clash], kolkata(9, 45), TZ)


def test_entry_outside_its_validity_period_does_not_run() -> None:
    ended = TimetableEntry("CS501", 0, time(9, 0), time(10, 0), valid_to=MONDAY - timedelta(days=1))
    with pytest.raises(NoClassInSessionError):
        resolve_class([ended], kolkata(9, 5), TZ)


def test_grace_windows_are_configurable() -> None:
    strict = GraceWindows(before_start=timedelta(0), on_time_after_start=timedelta(minutes=5))
    assert resolve_class([CS501], kolkata(9, 6), TZ, strict).arrival == "late"
    with pytest.raises(NoClassInSessionError):
        resolve_class([CS501], kolkata(8, 55), TZ, strict)


def test_naive_time_and_unknown_zone_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        resolve_class([CS501], datetime(2026, 11, 23, 4, 0), TZ)
    with pytest.raises(UnknownTimeZoneError):
        resolve_class([CS501], kolkata(9, 0), "Mars/Olympus")
