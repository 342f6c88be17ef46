"""Attendance is stored once per (usn, course_code, class_date), even under concurrent writers."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cloud_functions.core.db.attendance import DoorSighting, record_door_sighting
from cloud_functions.core.db.schema import attendance, courses, rooms, students

CLASS_DATE = date(2026, 11, 23)
NINE = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _seed(engine: Engine, usns: list[str]) -> None:
    with engine.begin() as connection:
        connection.execute(courses.insert(), [{"course_code": "CS501", "title": "Computer Vision"}])
        connection.execute(rooms.insert(), [{"room_id": "R101", "name": "Room 101", "timezone": "UTC"}])
        connection.execute(students.insert(), [{"usn": usn, "name": usn, "created_at": NINE} for usn in usns])


def _sighting(usn: str, minutes: float, status: str = "entered", capture: str = "c") -> DoorSighting:
    return DoorSighting(
        usn=usn,
        course_code="CS501",
        class_date=CLASS_DATE,
        room_id="R101",
        seen_at=NINE + timedelta(minutes=minutes),
        status=status,  # type: ignore[arg-type]
        source="face",
        similarity=0.5 + minutes / 100,
        capture_id=capture,
    )


def test_concurrent_writers_leave_exactly_one_row_per_student_and_class(engine: Engine) -> None:
    # GIVEN 15 students, and two writers that record each student at the same instant
    usns = [f"1MS21CS{i:03d}" for i in range(15)]
    _seed(engine, usns)
    errors: list[BaseException] = []

    def writer(offset_min: float) -> None:
        for usn in usns:
            barrier.wait()
            try:
                with engine.begin() as connection:
                    record_door_sighting(
                        connection, _sighting(usn, offset_min, capture=f"{usn}-{offset_min}")
                    )
            except BaseException as e:
                errors.append(e)

    barrier = threading.Barrier(2)
    # WHEN both writers race on every key
    threads = [threading.Thread(target=writer, args=(m,)) for m in (1.0, 2.0)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # THEN neither failed, there is one row per student, and the earlier sighting won each race
    assert errors == []
    with engine.connect() as connection:
        rows = connection.execute(sa.select(attendance).order_by(attendance.c.usn)).all()
    assert [r.usn for r in rows] == usns
    assert {r.first_seen_at for r in rows} == {NINE + timedelta(minutes=1)}
    assert {r.capture_id.endswith("-1.0") for r in rows} == {True}


@pytest.mark.parametrize(
    ("stored", "incoming", "expected_minutes", "expected_status", "expected_capture"),
    [
        # a later sighting changes nothing
        (("entered", 5, "first"), ("late", 30, "second"), 5, "entered", "first"),
        # an earlier sighting delivered late takes over time, status and capture
        (("late", 30, "first"), ("entered", 5, "second"), 5, "entered", "second"),
        # the same capture delivered twice is a no-op
        (("entered", 5, "first"), ("entered", 5, "first"), 5, "entered", "first"),
    ],
)
def test_earliest_door_sighting_wins(
    engine: Engine,
    stored: tuple[str, int, str],
    incoming: tuple[str, int, str],
    expected_minutes: int,
    expected_status: str,
    expected_capture: str,
) -> None:
    # GIVEN a stored sighting
    _seed(engine, ["1MS21CS001"])
    with engine.begin() as connection:
        record_door_sighting(connection, _sighting("1MS21CS001", stored[1], stored[0], stored[2]))
        # WHEN another sighting of the same student and class arrives
        row = record_door_sighting(connection, _sighting("1MS21CS001", incoming[1], incoming[0], incoming[2]))
    # THEN the earliest one is what the row says
    assert row.first_seen_at == NINE + timedelta(minutes=expected_minutes)
    assert (row.status, row.capture_id) == (expected_status, expected_capture)


def test_door_sighting_never_downgrades_a_status_set_by_presence_or_hand(engine: Engine) -> None:
    # GIVEN a row a teacher marked 'excused' with no door time
    _seed(engine, ["1MS21CS001"])
    with engine.begin() as connection:
        connection.execute(
            attendance.insert().values(
                usn="1MS21CS001",
                course_code="CS501",
                class_date=CLASS_DATE,
                room_id="R101",
                status="excused",
                source="manual",
                updated_at=NINE,
            )
        )
        # WHEN the student is then seen at the door
        row = record_door_sighting(connection, _sighting("1MS21CS001", 3))
    # THEN the door time is filled in but the status stays
    assert row.status == "excused"
    assert row.first_seen_at == NINE + timedelta(minutes=3)
