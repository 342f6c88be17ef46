"""The demo's realistic term (infra.seed.seed_realistic_term) on the real databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cloud_functions.core.db.schema import attendance, attendance_corrections, class_sessions
from cloud_functions.core.rooms import Refusal, locate_class
from cloud_functions.core.timetable import GraceWindows
from infra.seed import Person, Slot, seed_campus, seed_realistic_term, seed_students

TODAY = date(2026, 11, 25)  # a Wednesday
ZONE = "Asia/Kolkata"
LIVE = [
    Slot("CS501", "R101", 2, time(10, 55), time(11, 55)),
    Slot("CS502", "R102", 2, time(10, 55), time(11, 55)),
]
LFW = [Person(f"1MS21CS{i:03d}", f"LFW {i}", ()) for i in range(1, 5)]


def test_the_term_has_rosters_past_marks_and_a_live_class_on_top(engine: Engine) -> None:
    # GIVEN the demo's campus with the class running now, and its LFW students
    seed_campus(engine, LIVE, timezone=ZONE)
    seed_students(engine, LFW)
    # WHEN the realistic term is seeded
    started = datetime.now(UTC)
    term = seed_realistic_term(engine, today=TODAY, timezone=ZONE, live=LIVE, photographed=LFW)
    elapsed_s = (datetime.now(UTC) - started).total_seconds()
    # THEN four courses with rosters of 30-60, the LFW students on the live course
    assert sorted(term.rosters) == ["CS501", "CS502", "CS503", "CS504"]
    assert all(30 <= len(usns) <= 60 for usns in term.rosters.values())
    assert {p.usn for p in LFW} <= set(term.rosters["CS501"])
    # AND weeks of past classes with every kind of mark, one per student, course and day
    assert term.sessions_held >= 40
    assert set(term.marks) == {"entered", "late", "present", "absent", "excused"}
    with engine.connect() as connection:
        marks = connection.execute(sa.select(attendance)).all()
        duplicates = len(marks) - len({(m.usn, m.course_code, m.class_date) for m in marks})
        held = connection.execute(
            sa.select(class_sessions).where(
                class_sessions.c.session_date < TODAY, class_sessions.c.status == "scheduled"
            )
        ).all()
        cancelled = connection.execute(
            sa.select(class_sessions).where(class_sessions.c.status == "cancelled")
        ).all()
        corrections = connection.execute(
            sa.select(sa.func.count()).select_from(attendance_corrections)
        ).scalar_one()
        live = locate_class(
            connection, "R101", "R101-door", "door", datetime(2026, 11, 25, 5, 30, tzinfo=UTC), GraceWindows()
        )
    assert duplicates == 0
    assert all(m.class_date < TODAY for m in marks)  # the live class today starts unmarked
    assert all(s.swept_at is not None for s in held)
    assert [(s.course_code, s.cancelled_by) for s in cancelled] == [("CS503", "t.rao")]
    assert not [s for s in held if s.session_date == TODAY - timedelta(days=21)]  # the day off
    assert corrections > 0
    # AND today's live class resolves from its session
    assert not isinstance(live, Refusal)
    assert (live.session.course_code, live.session.class_date) == ("CS501", TODAY)
    assert live.session.session_id is not None
    assert elapsed_s < 60
