"""The API's plain rules as tables: timetable overlap, a room's classes of a day, CSV cells."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from cloud_functions.api.rules import Slot, classes_of_day, csv_safe_cell, overlapping_slots, to_csv
from cloud_functions.core.timetable import TimetableEntry


def _slot(slot_id: int | None, start: str, end: str, **changes: object) -> Slot:
    values: dict[str, object] = {
        "id": slot_id,
        "room_id": "R101",
        "weekday": 0,
        "start_time": time.fromisoformat(start),
        "end_time": time.fromisoformat(end),
        "valid_from": None,
        "valid_to": None,
        **changes,
    }
    return Slot(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("candidate", "clashes"),
    [
        (_slot(None, "09:30", "10:30"), [1]),
        (_slot(None, "08:00", "09:00"), []),  # ends when the stored one starts
        (_slot(None, "10:00", "11:00"), []),  # starts when the stored one ends
        (_slot(None, "08:00", "12:00"), [1]),
        (_slot(1, "09:15", "09:45"), []),  # the stored slot itself, moved within its time
        (_slot(None, "09:30", "10:30", weekday=1), []),
        (_slot(None, "09:30", "10:30", room_id="R102"), []),
        (_slot(None, "09:30", "10:30", valid_to=date(2026, 8, 31)), []),  # term before
        (_slot(None, "09:30", "10:30", valid_from=date(2026, 9, 1)), [1]),
    ],
)
def test_overlapping_slots(candidate: Slot, clashes: list[int]) -> None:
    stored = [_slot(1, "09:00", "10:00", valid_from=date(2026, 9, 1), valid_to=date(2027, 1, 31))]
    assert [s.id for s in overlapping_slots(candidate, stored)] == clashes


@pytest.mark.parametrize(
    ("day", "now", "starts_at_utc", "state"),
    [
        # Europe/Berlin: CET (UTC+1) before 2026-03-29, CEST (UTC+2) from then on.
        (
            date(2026, 3, 22),
            datetime(2026, 3, 22, 7, 59, tzinfo=UTC),
            "2026-03-22T08:00:00+00:00",
            "upcoming",
        ),
        (
            date(2026, 3, 22),
            datetime(2026, 3, 22, 8, 0, tzinfo=UTC),
            "2026-03-22T08:00:00+00:00",
            "in_session",
        ),
        (
            date(2026, 3, 29),
            datetime(2026, 3, 29, 7, 30, tzinfo=UTC),
            "2026-03-29T07:00:00+00:00",
            "in_session",
        ),
        (date(2026, 3, 29), datetime(2026, 3, 29, 8, 0, tzinfo=UTC), "2026-03-29T07:00:00+00:00", "ended"),
    ],
)
def test_classes_of_day_in_room_local_time_across_dst(
    day: date, now: datetime, starts_at_utc: str, state: str
) -> None:
    entries = [
        TimetableEntry("CS501", 6, time(9, 0), time(10, 0)),
        TimetableEntry("CS502", 0, time(9, 0), time(10, 0)),  # Mondays: not on a Sunday
    ]
    (scheduled,) = classes_of_day("R101", "Europe/Berlin", entries, day, now)
    assert scheduled.course_code == "CS501"
    assert scheduled.starts_at.isoformat() == starts_at_utc
    assert scheduled.state == state


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Ada Lovelace", "Ada Lovelace"),
        ("", ""),
        (None, ""),
        (0.5, "0.5"),
        (datetime(2026, 11, 24, 4, 30, tzinfo=UTC), "2026-11-24T04:30:00+00:00"),
    ],
)
def test_csv_safe_cell(value: object, cell: str) -> None:
    assert csv_safe_cell(value) == cell


def test_to_csv_quotes_separators_and_line_breaks() -> None:
    text = to_csv(["usn", "name"], [["1MS21CS000", 'Ada, "the first"\nprogrammer']])
    assert text == 'usn,name\r\n1MS21CS000,"Ada, ""the first""\nprogrammer"\r\n'
