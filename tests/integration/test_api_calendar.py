"""Terms, days off and class sessions through the API, on real databases: the admin's calendar,
a teacher's cancellations, moves and extra classes, and marks with their evidence and corrections."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cloud_functions.core.db.schema import (
    attendance,
    attendance_corrections,
    class_sessions,
    term_days_off,
    terms,
)
from cloud_functions.core.sweep import sweep_absences
from infra.seed import seed_roster
from tests.integration.test_api_helpers import (
    ADMIN,
    CS502_TEACHER,
    PEOPLE,
    TEACHER,
    Api,
    audit_entries,
    running_api,
    seed,
)

# The API's clock: Tuesday 2026-11-24, 10:00 in Asia/Kolkata. CS501 Tue 09-11 R101, CS502 Tue 11-12
# R101 and Thu 14-15 R102.
TERM = {"name": "Odd 2026", "start_date": "2026-11-23", "end_date": "2026-12-06"}
USNS = [p.usn for p in PEOPLE]


@pytest.fixture
def api(engine: Engine, database_url: str) -> Iterator[Api]:
    seed(engine)
    seed_roster(engine, "CS501", USNS)
    seed_roster(engine, "CS502", USNS)
    with running_api(engine, database_url) as api:
        yield api


def _count(engine: Engine, table: sa.Table) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _term(api: Api, **changes: Any) -> dict[str, Any]:
    response = api.client.post("/terms", json={**TERM, **changes}, headers=ADMIN)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _sessions(api: Api, headers: dict[str, str] = ADMIN, **query: str) -> list[dict[str, Any]]:
    response = api.client.get("/sessions", params=query, headers=headers)
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body


def _session(api: Api, course: str, day: str) -> dict[str, Any]:
    (found,) = [
        s
        for s in _sessions(api, course_code=course)
        if s["session_date"] == day and s["status"] == "scheduled"
    ]
    return found


def test_a_new_term_generates_its_sessions_around_its_days_off(api: Api) -> None:
    # WHEN an admin adds a two-week term with a holiday on the second Tuesday
    term = _term(api, days_off=[{"day": "2026-12-01", "reason": "Founders' Day"}])
    # THEN Tuesday's two classes and Thursday's one, each week, except on the holiday
    assert term["sessions"] == {"scheduled": 4, "cancelled": 0}
    assert term["generated"]["added"] == 4
    assert term["days_off"] == [{"day": "2026-12-01", "reason": "Founders' Day"}]
    assert [(s["course_code"], s["session_date"], s["start_time"]) for s in _sessions(api)] == [
        ("CS501", "2026-11-24", "09:00:00"),
        ("CS502", "2026-11-24", "11:00:00"),
        ("CS502", "2026-11-26", "14:00:00"),
        ("CS502", "2026-12-03", "14:00:00"),
    ]
    # AND generating again changes nothing
    again = api.client.post(f"/terms/{term['term_id']}/generate", headers=ADMIN).json()
    assert (again["added"], again["cancelled"]) == (0, 0)
    assert audit_entries(api.engine, "create")[-1]["entity"] == "term"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({**TERM, "end_date": "2026-11-01"}, 422),  # the end before the start
        ({**TERM, "days_off": [{"day": "2026-12-25", "reason": "Christmas"}]}, 422),  # outside the term
        ({**TERM, "start_date": "2026-13-01"}, 422),  # malformed date
        ({**TERM, "start_date": "24/11/2026"}, 422),
        ({**TERM, "name": ""}, 422),
        ({**TERM, "start_date": "0001-01-01", "end_date": "9999-12-31"}, 422),  # longer than a year
    ],
)
def test_bad_terms_are_refused_and_nothing_is_written(api: Api, body: dict[str, Any], status: int) -> None:
    response = api.client.post("/terms", json=body, headers=ADMIN)
    assert response.status_code == status, response.text
    assert _count(api.engine, terms) == 0 and _count(api.engine, class_sessions) == 0


def test_only_admins_change_terms_and_terms_do_not_overlap(api: Api) -> None:
    assert api.client.post("/terms", json=TERM, headers=TEACHER).status_code == 403
    term = _term(api)
    overlapping = {"name": "Other", "start_date": "2026-12-01", "end_date": "2026-12-20"}
    assert api.client.post("/terms", json=overlapping, headers=ADMIN).status_code == 409
    assert (
        api.client.patch(
            f"/terms/{term['term_id']}", json={"end_date": "2026-11-01"}, headers=ADMIN
        ).status_code
        == 422
    )
    assert api.client.get("/terms/999", headers=ADMIN).status_code == 404
    assert _count(api.engine, terms) == 1


def test_days_off_are_added_and_removed_within_the_term(api: Api) -> None:
    term_id = _term(api)["term_id"]
    # WHEN next Thursday becomes a day off
    response = api.client.put(f"/terms/{term_id}/days-off/2026-12-03", json={"reason": "Exam"}, headers=ADMIN)
    assert response.status_code == 200, response.text
    # THEN its class is cancelled by the calendar, with the reason
    (thursday,) = [s for s in _sessions(api) if s["session_date"] == "2026-12-03"]
    assert (thursday["status"], thursday["note"], thursday["cancelled_by"]) == (
        "cancelled",
        "day off: Exam",
        "calendar",
    )
    # AND a day outside the term is refused, nothing written
    outside = api.client.put(f"/terms/{term_id}/days-off/2027-01-05", json={"reason": "x"}, headers=ADMIN)
    assert outside.status_code == 422 and _count(api.engine, term_days_off) == 1
    # WHEN the day off is removed THEN the class is back
    assert api.client.delete(f"/terms/{term_id}/days-off/2026-12-03", headers=ADMIN).status_code == 200
    (thursday,) = [s for s in _sessions(api) if s["session_date"] == "2026-12-03"]
    assert thursday["status"] == "scheduled"
    assert api.client.delete(f"/terms/{term_id}/days-off/2026-12-03", headers=ADMIN).status_code == 404


def test_a_teacher_cancels_their_own_class_only(api: Api) -> None:
    _term(api)
    cs501 = _session(api, "CS501", "2026-12-01")
    cs502 = _session(api, "CS502", "2026-12-01")
    # WHEN Tom (CS501) cancels CS502's class THEN 403, nothing written
    refused = api.client.post(
        f"/sessions/{cs502['session_id']}/cancel", json={"reason": "x"}, headers=TEACHER
    )
    assert refused.status_code == 403
    # WHEN he cancels his own
    done = api.client.post(
        f"/sessions/{cs501['session_id']}/cancel", json={"reason": "unwell"}, headers=TEACHER
    )
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["note"], done.json()["cancelled_by"]) == (
        "cancelled",
        "unwell",
        "Tom Teacher",
    )
    # AND cancelling it again is a conflict; the other class is untouched
    assert (
        api.client.post(
            f"/sessions/{cs501['session_id']}/cancel", json={"reason": "x"}, headers=TEACHER
        ).status_code
        == 409
    )
    assert _session(api, "CS502", "2026-12-01")["status"] == "scheduled"
    # AND generating the term again does not undo the cancellation
    api.client.post(f"/terms/{cs501['term_id']}/generate", headers=ADMIN)
    (again,) = [s for s in _sessions(api, course_code="CS501") if s["session_date"] == "2026-12-01"]
    assert again["status"] == "cancelled"


def test_a_class_moves_to_a_free_slot_and_not_onto_another_of_its_sessions(api: Api) -> None:
    _term(api)
    tuesday = _session(api, "CS502", "2026-12-01")
    # WHEN CS502's Tuesday class is moved onto its own Thursday class THEN 409, nothing written
    clash = {"session_date": "2026-12-03", "start_time": "14:30", "end_time": "15:30", "reason": "x"}
    response = api.client.post(f"/sessions/{tuesday['session_id']}/move", json=clash, headers=CS502_TEACHER)
    assert response.status_code == 409, response.text
    assert "another session of CS502" in str(response.json()["detail"])
    assert _count(api.engine, class_sessions) == 6
    # AND outside any term: 422
    outside = {**clash, "session_date": "2027-02-02"}
    assert (
        api.client.post(
            f"/sessions/{tuesday['session_id']}/move", json=outside, headers=CS502_TEACHER
        ).status_code
        == 422
    )
    # WHEN moved to Wednesday in R102
    move = {
        "session_date": "2026-12-02",
        "start_time": "10:00",
        "end_time": "11:00",
        "room_id": "R102",
        "reason": "lab",
    }
    response = api.client.post(f"/sessions/{tuesday['session_id']}/move", json=move, headers=CS502_TEACHER)
    # THEN a new 'moved' session points back; the old slot is kept cancelled and points forward
    assert response.status_code == 201, response.text
    moved = response.json()
    assert (moved["origin"], moved["moved_from_id"], moved["room_id"], moved["session_date"]) == (
        "moved",
        tuesday["session_id"],
        "R102",
        "2026-12-02",
    )
    old = api.client.get(f"/sessions/{tuesday['session_id']}", headers=CS502_TEACHER).json()
    assert (old["status"], old["moved_to_id"]) == ("cancelled", moved["session_id"])


def test_extra_classes_need_a_known_course_a_term_and_a_free_room(api: Api) -> None:
    _term(api)
    extra = {
        "course_code": "CS501",
        "room_id": "R102",
        "session_date": "2026-11-28",
        "start_time": "10:00",
        "end_time": "12:00",
        "reason": "revision",
    }
    assert (
        api.client.post("/sessions", json={**extra, "course_code": "NOPE"}, headers=ADMIN).status_code == 404
    )
    assert api.client.post("/sessions", json=extra, headers=CS502_TEACHER).status_code == 403
    assert (
        api.client.post("/sessions", json={**extra, "session_date": "2026-11-31"}, headers=ADMIN).status_code
        == 422
    )
    assert api.client.post("/sessions", json={**extra, "end_time": "09:00"}, headers=ADMIN).status_code == 422
    response = api.client.post("/sessions", json=extra, headers=TEACHER)
    assert response.status_code == 201, response.text
    assert response.json()["origin"] == "extra"
    # the room is now busy for another course
    busy = {**extra, "course_code": "CS502", "start_time": "11:00", "end_time": "13:00"}
    assert api.client.post("/sessions", json=busy, headers=ADMIN).status_code == 409


def test_a_teacher_lists_only_their_courses_sessions(api: Api) -> None:
    _term(api)
    assert {s["course_code"] for s in _sessions(api, TEACHER)} == {"CS501"}
    assert api.client.get("/sessions", params={"course_code": "CS502"}, headers=TEACHER).status_code == 403
    rows = _sessions(api, room_id="R101", date_from="2026-11-25", date_to="2026-12-06")
    assert [(s["course_code"], s["session_date"]) for s in rows] == [
        ("CS501", "2026-12-01"),
        ("CS502", "2026-12-01"),
    ]
    assert (
        api.client.get(
            "/sessions", params={"date_from": "2026-12-06", "date_to": "2026-12-01"}, headers=ADMIN
        ).status_code
        == 422
    )


def test_marks_carry_their_evidence_and_corrections(api: Api) -> None:
    # GIVEN today's CS501 class, one student seen at the door, the sweep run after the class
    _term(api)
    with api.engine.begin() as connection:
        connection.execute(
            attendance.insert().values(
                usn=USNS[0],
                course_code="CS501",
                class_date=date(2026, 11, 24),
                room_id="R101",
                first_seen_at=sa.func.now(),
                status="entered",
                source="face",
                similarity=0.61,
                capture_id="cap-1",
                updated_at=sa.func.now(),
            )
        )
    sweep_absences(api.engine, datetime(2026, 11, 24, 6, 0, tzinfo=UTC), timedelta(minutes=15))
    # WHEN the teacher excuses one absentee by hand
    response = api.client.put(
        f"/attendance/CS501/2026-11-24/{USNS[1]}",
        json={"status": "excused", "reason": "medical note"},
        headers=TEACHER,
    )
    assert response.status_code == 200, response.text
    # THEN the class report shows each mark with its evidence, and the correction old -> new
    report = api.client.get("/attendance/CS501/2026-11-24", headers=TEACHER).json()
    by_usn = {row["usn"]: row for row in report["rows"]}
    seen, excused, absent = by_usn[USNS[0]], by_usn[USNS[1]], by_usn[USNS[2]]
    assert (seen["mark"], [e["kind"] for e in seen["evidence"]]) == ("present", ["door_sighting"])
    assert seen["evidence"][0]["capture_id"] == "cap-1"
    assert (absent["mark"], absent["source"], [e["kind"] for e in absent["evidence"]]) == (
        "absent",
        "sweep",
        ["sweep"],
    )
    assert excused["mark"] == "excused"
    assert [
        (c["old_status"], c["new_status"], c["reason"], c["corrected_by"]) for c in excused["corrections"]
    ] == [("absent", "excused", "medical note", "Tom Teacher")]
    assert excused["evidence"][-1]["kind"] == "manual"
    # AND the student's history shows the same
    history = api.client.get(f"/students/{USNS[1]}/attendance", headers=ADMIN)
    assert history.status_code == 200, history.text
    (row,) = history.json()["rows"]
    assert (row["mark"], row["corrections"][0]["new_status"]) == ("excused", "excused")


def test_mark_all_remaining_is_one_call(api: Api) -> None:
    _term(api)
    session = _session(api, "CS501", "2026-11-24")
    with api.engine.begin() as connection:
        connection.execute(
            attendance.insert().values(
                usn=USNS[0],
                course_code="CS501",
                class_date=date(2026, 11, 24),
                room_id="R101",
                status="late",
                source="face",
                updated_at=sa.func.now(),
            )
        )
    refused = api.client.post(
        f"/sessions/{session['session_id']}/mark-remaining",
        json={"status": "present", "reason": "x"},
        headers=CS502_TEACHER,
    )
    assert refused.status_code == 403
    response = api.client.post(
        f"/sessions/{session['session_id']}/mark-remaining",
        json={"status": "present", "reason": "roll call"},
        headers=TEACHER,
    )
    assert response.status_code == 200, response.text
    assert response.json()["marked"] == USNS[1:]
    with api.engine.connect() as connection:
        marks = {
            r.usn: r.status for r in connection.execute(sa.select(attendance.c.usn, attendance.c.status))
        }
    assert marks == {USNS[0]: "late", USNS[1]: "present", USNS[2]: "present"}
    assert _count(api.engine, attendance_corrections) == 2
    # a second call finds nobody left
    again = api.client.post(
        f"/sessions/{session['session_id']}/mark-remaining",
        json={"status": "absent", "reason": "x"},
        headers=TEACHER,
    )
    assert again.json()["marked"] == []


def test_a_timetable_change_regenerates_the_open_term(api: Api) -> None:
    _term(api)
    # WHEN a Friday slot is added
    entry = {
        "course_code": "CS501",
        "room_id": "R102",
        "weekday": 4,
        "start_time": "09:00",
        "end_time": "10:00",
    }
    assert api.client.post("/timetable", json=entry, headers=ADMIN).status_code == 201
    # THEN both Fridays of the term have a session
    fridays = [s["session_date"] for s in _sessions(api, course_code="CS501") if s["room_id"] == "R102"]
    assert fridays == ["2026-11-27", "2026-12-04"]


def test_todays_classes_follow_the_terms_sessions(api: Api) -> None:
    # GIVEN a term, and today's CS502 class cancelled
    _term(api)
    cs502 = _session(api, "CS502", "2026-11-24")
    api.client.post(f"/sessions/{cs502['session_id']}/cancel", json={"reason": "exam duty"}, headers=ADMIN)
    # WHEN today's classes are asked for THEN only CS501 is held in R101
    classes = api.client.get("/classes/today", params={"room_id": "R101"}, headers=ADMIN).json()
    assert [(c["course_code"], c["state"]) for c in classes] == [("CS501", "in_session")]
