"""The absent sweep and the term's sessions on the real databases (SQLite and MariaDB):
generation, absences at a session's end, and captures or corrections that replace them."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cloud_functions.core.db.attendance import DoorSighting, record_door_sighting
from cloud_functions.core.db.presence import PresenceConfirmation, confirm_presence
from cloud_functions.core.db.schema import (
    attendance,
    class_sessions,
    course_rosters,
    term_days_off,
    timetable,
)
from cloud_functions.core.db.sessions import generate_term_sessions
from cloud_functions.core.outcomes import Outcome
from cloud_functions.core.rooms import Refusal, locate_class
from cloud_functions.core.sweep import sweep_absences
from cloud_functions.core.timetable import GraceWindows
from infra.seed import Person, Slot, seed_campus, seed_roster, seed_students, seed_term

MON = date(2026, 11, 23)  # a Monday; R101 is in Asia/Kolkata (UTC+05:30)
GRACE = timedelta(minutes=15)
USNS = [f"1MS21CS{i:03d}" for i in range(1, 7)]


def _utc(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=5, minutes=30)


@pytest.fixture
def campus(engine: Engine) -> Engine:
    """CS501 Mondays 09:00-10:00 in R101, six students on its roster, a two-week term."""
    seed_campus(engine, [Slot("CS501", "R101", 0, time(9), time(10))])
    seed_students(engine, [Person(usn, usn, ()) for usn in USNS])
    seed_roster(engine, "CS501", USNS)
    seed_term(engine, "Odd 2026", MON, MON + timedelta(days=13))
    return engine


def _marks(engine: Engine, day: date = MON) -> dict[str, tuple[str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(attendance).where(attendance.c.class_date == day))
        return {r.usn: (r.status, r.source) for r in rows}


def _sighting(usn: str, at: datetime, status: str = "entered") -> DoorSighting:
    return DoorSighting(usn, "CS501", MON, "R101", at, status, "face", 0.7, f"cap-{usn}")  # type: ignore[arg-type]


def test_generation_lays_out_the_term_and_running_it_again_changes_nothing(campus: Engine) -> None:
    with campus.begin() as connection:
        sessions = connection.execute(sa.select(class_sessions).order_by(class_sessions.c.session_date)).all()
        again = generate_term_sessions(connection, sessions[0].term_id, datetime(1970, 1, 1, tzinfo=UTC))
    assert [(s.session_date, s.status, s.origin) for s in sessions] == [
        (MON, "scheduled", "timetable"),
        (MON + timedelta(days=7), "scheduled", "timetable"),
    ]
    assert (again.added, again.cancelled, again.restored, again.adjusted) == (0, 0, 0, 0)


def test_a_timetable_change_adds_new_slots_and_cancels_only_future_unmarked_ones(campus: Engine) -> None:
    # GIVEN the first Monday happened (a mark exists) and "now" is between the two Mondays
    with campus.begin() as connection:
        record_door_sighting(connection, _sighting(USNS[0], _utc(MON, 9, 2)))
        # WHEN the Monday slot becomes a Tuesday slot
        connection.execute(timetable.update().values(weekday=1))
        term_id = connection.execute(sa.select(class_sessions.c.term_id)).scalars().first()
        report = generate_term_sessions(connection, int(term_id), _utc(MON + timedelta(days=2), 12))
        rows = connection.execute(sa.select(class_sessions).order_by(class_sessions.c.session_date)).all()
    # THEN the Tuesdays are added, the past Monday stays, the future Monday is cancelled with a note
    assert (report.added, report.cancelled) == (2, 1)
    assert [(r.session_date.weekday(), r.status, r.note) for r in rows] == [
        (0, "scheduled", None),
        (1, "scheduled", None),
        (0, "cancelled", "no longer in the timetable"),
        (1, "scheduled", None),
    ]


def test_a_day_off_added_cancels_and_removed_restores(campus: Engine) -> None:
    with campus.begin() as connection:
        term_id = int(connection.execute(sa.select(class_sessions.c.term_id)).scalars().first())
        second = MON + timedelta(days=7)
        connection.execute(term_days_off.insert().values(term_id=term_id, day=second, reason="Diwali"))
        generate_term_sessions(connection, term_id, _utc(MON, 12))
        off = connection.execute(
            sa.select(class_sessions).where(class_sessions.c.session_date == second)
        ).one()
        connection.execute(term_days_off.delete())
        generate_term_sessions(connection, term_id, _utc(MON, 12))
        back = connection.execute(
            sa.select(class_sessions).where(class_sessions.c.session_date == second)
        ).one()
    assert (off.status, off.note, off.cancelled_by) == ("cancelled", "day off: Diwali", "calendar")
    assert (back.status, back.note, back.cancelled_by) == ("scheduled", None, None)


def test_the_sweep_marks_roster_students_without_a_row_absent_once(campus: Engine) -> None:
    # GIVEN two students seen at the door, one who left the course before Monday, one who joined after
    with campus.begin() as connection:
        record_door_sighting(connection, _sighting(USNS[0], _utc(MON, 9, 2)))
        record_door_sighting(connection, _sighting(USNS[1], _utc(MON, 9, 30), "late"))
        connection.execute(
            course_rosters.update()
            .where(course_rosters.c.usn == USNS[4])
            .values(valid_to=MON - timedelta(days=1))
        )
        connection.execute(
            course_rosters.update()
            .where(course_rosters.c.usn == USNS[5])
            .values(valid_from=MON + timedelta(days=1))
        )
    # WHEN the sweep runs before the grace is over, then after it, then again
    early = sweep_absences(campus, _utc(MON, 10, 10), GRACE)
    first = sweep_absences(campus, _utc(MON, 10, 20), GRACE)
    second = sweep_absences(campus, _utc(MON, 10, 25), GRACE)
    # THEN nothing early; then the two unmarked enrolled students are absent; the re-run adds nothing
    assert early.swept == []
    assert (len(first.swept), first.absences) == (1, 2)
    assert second.swept == []
    assert _marks(campus) == {
        USNS[0]: ("entered", "face"),
        USNS[1]: ("late", "face"),
        USNS[2]: ("absent", "sweep"),
        USNS[3]: ("absent", "sweep"),
    }
    with campus.connect() as connection:
        swept_at = connection.execute(
            sa.select(class_sessions.c.swept_at).where(class_sessions.c.session_date == MON)
        ).scalar_one()
    assert swept_at == _utc(MON, 10, 20)


def test_a_cancelled_session_is_never_swept(campus: Engine) -> None:
    with campus.begin() as connection:
        connection.execute(
            class_sessions.update().where(class_sessions.c.session_date == MON).values(status="cancelled")
        )
    report = sweep_absences(campus, _utc(MON + timedelta(days=1), 12), GRACE)
    assert report.swept == [] and _marks(campus) == {}


def test_overlapping_sweeps_write_each_absence_once(campus: Engine) -> None:
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        barrier.wait()
        try:
            sweep_absences(campus, _utc(MON, 10, 30), GRACE)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _marks(campus) == {usn: ("absent", "sweep") for usn in USNS}


def test_a_door_sighting_after_the_sweep_replaces_the_absent(campus: Engine) -> None:
    # GIVEN the sweep marked everybody absent
    sweep_absences(campus, _utc(MON, 10, 20), GRACE)
    # WHEN a capture held in a classroom outbox arrives afterwards
    with campus.begin() as connection:
        row = record_door_sighting(connection, _sighting(USNS[0], _utc(MON, 9, 25), "late"))
    # THEN it replaces the sweep's mark whole
    assert (row.status, row.source, row.first_seen_at, row.capture_id) == (
        "late",
        "face",
        _utc(MON, 9, 25),
        f"cap-{USNS[0]}",
    )


def test_a_door_sighting_before_the_sweep_is_kept(campus: Engine) -> None:
    with campus.begin() as connection:
        record_door_sighting(connection, _sighting(USNS[0], _utc(MON, 9, 5)))
    sweep_absences(campus, _utc(MON, 10, 20), GRACE)
    assert _marks(campus)[USNS[0]] == ("entered", "face")


@pytest.mark.parametrize("sweep_first", [True, False], ids=["sweep-then-room", "room-then-sweep"])
def test_a_room_confirmation_and_the_sweep_in_either_order_leave_present(
    campus: Engine, sweep_first: bool
) -> None:
    confirmation = PresenceConfirmation(USNS[2], "CS501", MON, "R101", _utc(MON, 9, 40), "body")
    if sweep_first:
        sweep_absences(campus, _utc(MON, 10, 20), GRACE)
    with campus.begin() as connection:
        confirm_presence(connection, confirmation)
    if not sweep_first:
        sweep_absences(campus, _utc(MON, 10, 20), GRACE)
    with campus.connect() as connection:
        row = connection.execute(sa.select(attendance).where(attendance.c.usn == USNS[2])).one()
    assert (row.status, row.source, row.confirmed_at) == ("present", "body", _utc(MON, 9, 40))


def test_the_sweep_never_overwrites_a_correction(campus: Engine) -> None:
    with campus.begin() as connection:
        connection.execute(
            attendance.insert().values(
                usn=USNS[3],
                course_code="CS501",
                class_date=MON,
                room_id="R101",
                status="excused",
                source="manual",
                updated_at=_utc(MON, 8),
            )
        )
    sweep_absences(campus, _utc(MON, 10, 20), GRACE)
    assert _marks(campus)[USNS[3]] == ("excused", "manual")


def test_captures_resolve_from_sessions_where_a_term_covers_the_date(campus: Engine) -> None:
    grace = GraceWindows()
    with campus.begin() as connection:
        found = locate_class(connection, "R101", "R101-door", "door", _utc(MON, 9, 5), grace)
        # the session is cancelled: the capture marks nobody
        connection.execute(
            class_sessions.update()
            .where(class_sessions.c.session_date == MON)
            .values(status="cancelled", note="ill")
        )
        cancelled = locate_class(connection, "R101", "R101-door", "door", _utc(MON, 9, 5), grace)
        # a Monday outside the term: the weekly timetable decides, as before terms
        outside = locate_class(
            connection, "R101", "R101-door", "door", _utc(MON + timedelta(days=21), 9, 5), grace
        )
    assert not isinstance(found, Refusal) and found.session.session_id is not None
    assert isinstance(cancelled, Refusal) and cancelled.outcome is Outcome.CLASS_CANCELLED
    assert "(ill)" in cancelled.detail
    assert not isinstance(outside, Refusal) and outside.session.session_id is None
