"""Term reports through the API on real databases: percentages, shortage lists, registers as JSON,
CSV, XLSX and printable HTML, a course's own minimum, and who may read what.

The term, its sessions and the corrections are inserted as rows (small builders), as the term
calendar and the correction routes write them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from typing import Any

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from sqlalchemy.engine import Engine

from cloud_functions.core.db.schema import (
    attendance,
    attendance_corrections,
    class_sessions,
    course_rosters,
    terms,
)
from infra.seed import Person
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

# Wednesday 2026-12-02 17:30 in Kolkata: CS501 (Tuesdays 09:00-11:00) has met on 3, 17, 24 Nov
# and 1 Dec; 10 Nov was cancelled; 8 and 15 Dec are to come.
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
TUESDAYS = [date(2026, 11, 3), date(2026, 11, 10), date(2026, 11, 17), date(2026, 11, 24)]
TUESDAYS += [date(2026, 12, 1), date(2026, 12, 8), date(2026, 12, 15)]
ADA, ALAN, GRACE = "1MS21CS000", "1MS21CS001", "1MS21CS002"
MARKS = {
    # Ada: P, (cancelled), L, P, E -> 3 of 3 counted
    ADA: {TUESDAYS[0]: "entered", TUESDAYS[2]: "late", TUESDAYS[3]: "present", TUESDAYS[4]: "excused"},
    # Alan: A, (cancelled), no mark, P, no mark -> 1 of 4
    ALAN: {TUESDAYS[0]: "absent", TUESDAYS[3]: "entered"},
    # Grace joined on 17 Nov: P, A, P -> 2 of 3
    GRACE: {TUESDAYS[2]: "present", TUESDAYS[3]: "absent", TUESDAYS[4]: "present"},
}


def add_term(engine: Engine, *, name: str = "2026 Odd", start: date = date(2026, 11, 2)) -> int:
    with engine.begin() as connection:
        return int(
            connection.execute(
                terms.insert().values(name=name, start_date=start, end_date=date(2026, 12, 18))
            ).inserted_primary_key[0]
        )


def add_sessions(
    engine: Engine, term_id: int, course_code: str, days: list[date], *, cancelled: tuple[date, ...] = ()
) -> None:
    with engine.begin() as connection:
        connection.execute(
            class_sessions.insert(),
            [
                {
                    "term_id": term_id,
                    "course_code": course_code,
                    "room_id": "R101",
                    "session_date": day,
                    "start_time": time(9, 0),
                    "end_time": time(11, 0),
                    "status": "cancelled" if day in cancelled else "scheduled",
                    "origin": "timetable",
                    "note": "public holiday" if day in cancelled else None,
                }
                for day in days
            ],
        )


def add_roster(engine: Engine, course_code: str, *entries: tuple[str, date | None]) -> None:
    with engine.begin() as connection:
        connection.execute(
            course_rosters.insert(),
            [
                {"course_code": course_code, "usn": usn, "valid_from": valid_from}
                for usn, valid_from in entries
            ],
        )


def add_marks(engine: Engine, course_code: str, marks: dict[str, dict[date, str]]) -> None:
    with engine.begin() as connection:
        connection.execute(
            attendance.insert(),
            [
                {
                    "usn": usn,
                    "course_code": course_code,
                    "class_date": day,
                    "room_id": "R101",
                    "status": status,
                    "source": "manual" if status == "excused" else "face",
                    "first_seen_at": datetime(day.year, day.month, day.day, 3, 32, 7, 250000, tzinfo=UTC),
                    "updated_at": NOW,
                }
                for usn, days in marks.items()
                for day, status in days.items()
            ],
        )


def add_correction(engine: Engine, usn: str, day: date, old: str | None, new: str, reason: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            attendance_corrections.insert().values(
                usn=usn,
                course_code="CS501",
                class_date=day,
                old_status=old,
                new_status=new,
                reason=reason,
                corrected_by="Tom Teacher",
                corrected_at=datetime(day.year, day.month, day.day, 6, 0, tzinfo=UTC),
            )
        )


def term_of_cs501(engine: Engine, people: tuple[Person, ...] = PEOPLE) -> int:
    """The campus, a term with CS501's seven Tuesdays, its roster and marks; also CS502 for Alan."""
    seed(engine, people=people)
    term_id = add_term(engine)
    add_sessions(engine, term_id, "CS501", TUESDAYS, cancelled=(TUESDAYS[1],))
    add_roster(engine, "CS501", (ADA, None), (ALAN, None), (GRACE, TUESDAYS[2]))
    add_marks(engine, "CS501", MARKS)
    add_correction(engine, ALAN, TUESDAYS[3], "absent", "entered", "was in the lab next door")
    add_sessions(engine, term_id, "CS502", [date(2026, 11, 4), date(2026, 11, 11)])
    add_roster(engine, "CS502", (ALAN, None))
    add_marks(engine, "CS502", {ALAN: {date(2026, 11, 4): "present", date(2026, 11, 11): "present"}})
    return term_id


@pytest.fixture
def term(engine: Engine) -> int:
    return term_of_cs501(engine)


@pytest.fixture
def api(engine: Engine, database_url: str, term: int) -> Iterator[Api]:
    with running_api(engine, database_url, clock=lambda: NOW) as api:
        yield api


def students_of(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["usn"]: s for s in report["students"]}


def test_course_report_counts_each_student_under_the_rule(api: Api, term: int) -> None:
    # WHEN the teacher reads CS501's term report
    response = api.client.get(f"/reports/terms/{term}/courses/CS501", headers=TEACHER)
    assert response.status_code == 200, response.text
    report = response.json()
    # THEN four sessions were held (10 Nov cancelled) and two are to come
    assert (report["sessions_held"], report["sessions_remaining"], report["min_pct"]) == (4, 2, 75.0)
    assert report["min_pct_from"] == "setting"
    by_usn = students_of(report)
    # AND Ada: P, L, P and an excused session left out: 100%; missing both to come would end at 3 of 5
    ada = by_usn[ADA]
    assert (ada["held"], ada["counted"], ada["present"], ada["late"], ada["excused"]) == (4, 3, 2, 1, 1)
    assert (ada["percentage"], ada["short"], ada["can_still_miss"]) == (100.0, False, 1)
    # AND Alan: the two held sessions without a mark count as absent: 1 of 4, cannot reach 75%
    alan = by_usn[ALAN]
    assert (alan["present"], alan["absent"], alan["percentage"]) == (1, 3, 25.0)
    assert (alan["short"], alan["can_still_miss"], alan["can_reach_minimum"]) == (True, None, False)
    # AND Grace counts only from the day she joined: 2 of 3, must attend both remaining sessions
    grace = by_usn[GRACE]
    assert (grace["held"], grace["percentage"], grace["short"], grace["can_still_miss"]) == (
        3,
        66.67,
        True,
        0,
    )
    # AND the shortage list names the lowest first
    assert report["shortage"] == [ALAN, GRACE]


def test_shortage_list_lists_only_students_under_the_minimum(api: Api, term: int) -> None:
    response = api.client.get(f"/reports/terms/{term}/courses/CS501/shortage", headers=TEACHER)
    assert response.status_code == 200
    assert [(s["usn"], s["percentage"]) for s in response.json()["students"]] == [
        (ALAN, 25.0),
        (GRACE, 66.67),
    ]


def test_late_weight_setting_counts_late_as_a_fraction(engine: Engine, database_url: str, term: int) -> None:
    # GIVEN an API where a late arrival counts half
    with running_api(engine, database_url, clock=lambda: NOW, late_weight=0.5) as api:
        report = api.client.get(f"/reports/terms/{term}/courses/CS501", headers=TEACHER).json()
    # THEN Ada's P, L, P make 2.5 of 3
    assert report["late_weight"] == 0.5
    assert students_of(report)[ADA]["percentage"] == 83.33


def test_a_held_session_without_a_mark_is_pending_until_the_grace_has_passed(
    engine: Engine, database_url: str, term: int
) -> None:
    # GIVEN 1 Dec at 11:10 in Kolkata, ten minutes after CS501 ended (grace 15 minutes)
    just_after = datetime(2026, 12, 1, 5, 40, tzinfo=UTC)
    with running_api(engine, database_url, clock=lambda: just_after) as api:
        alan = students_of(api.client.get(f"/reports/terms/{term}/courses/CS501", headers=TEACHER).json())[
            ALAN
        ]
    # THEN Alan's missing mark that day is pending, not yet absent
    assert (alan["held"], alan["counted"], alan["pending"], alan["absent"]) == (4, 3, 1, 2)


def test_course_minimum_is_set_by_admins_and_moves_the_shortage_list(api: Api, term: int) -> None:
    # WHEN a teacher tries to lower CS501's minimum
    refused = api.client.put(
        "/courses/CS501/minimum-attendance", json={"min_attendance_pct": 60}, headers=TEACHER
    )
    # THEN they may not; an admin may
    assert refused.status_code == 403
    response = api.client.put(
        "/courses/CS501/minimum-attendance", json={"min_attendance_pct": 60}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"course_code": "CS501", "min_attendance_pct": 60.0, "effective_min_pct": 60.0}
    # AND the shortage list now holds Alan only (Grace's 66.67% meets 60%)
    shortage = api.client.get(f"/reports/terms/{term}/courses/CS501/shortage", headers=TEACHER).json()
    assert (shortage["min_pct"], [s["usn"] for s in shortage["students"]]) == (60.0, [ALAN])
    report = api.client.get(f"/reports/terms/{term}/courses/CS501", headers=TEACHER).json()
    assert report["min_pct_from"] == "course"
    # AND the change is audited; null goes back to the setting
    (entry,) = audit_entries(api.engine, "set_min_attendance")
    assert json.loads(entry["detail"])["after"] == {"min_attendance_pct": 60.0}
    cleared = api.client.put(
        "/courses/CS501/minimum-attendance", json={"min_attendance_pct": None}, headers=ADMIN
    )
    assert cleared.json()["effective_min_pct"] == 75.0
    assert (
        api.client.get("/courses/CS501/minimum-attendance", headers=TEACHER).json()["min_attendance_pct"]
        is None
    )


@pytest.mark.parametrize("body", [{"min_attendance_pct": 101}, {"min_attendance_pct": -1}, {}, {"min": 50}])
def test_course_minimum_out_of_bounds_is_refused(api: Api, body: dict[str, Any]) -> None:
    assert api.client.put("/courses/CS501/minimum-attendance", json=body, headers=ADMIN).status_code == 422


def test_register_has_a_mark_per_student_and_session(api: Api, term: int) -> None:
    response = api.client.get(f"/reports/terms/{term}/courses/CS501/register", headers=TEACHER)
    assert response.status_code == 200
    register = response.json()
    assert [s["session_date"] for s in register["sessions"]] == [d.isoformat() for d in TUESDAYS]
    assert [s["held"] for s in register["sessions"]] == [True, False, True, True, True, False, False]
    assert register["sessions"][0]["timezone"] == "Asia/Kolkata"
    lines = {line["usn"]: line for line in register["lines"]}
    assert lines[ALAN]["marks"] == ["A", None, "A", "P", "A", None, None]
    assert lines[ALAN]["states"][:2] == ["counted", "cancelled"]
    assert lines[GRACE]["states"][0] == "not_enrolled"
    assert lines[ADA]["marks"][:5] == ["P", None, "L", "P", "E"]


def test_register_csv_is_students_by_sessions_with_totals_and_corrections(api: Api, term: int) -> None:
    response = api.client.get(f"/reports/terms/{term}/courses/CS501/register.csv", headers=TEACHER)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert f'filename="register_CS501_term{term}.csv"' in response.headers["content-disposition"]
    reader = csv.reader(io.StringIO(response.text))
    header = next(reader)
    # THEN each session is a column named by its room-local date, times and room
    assert header[3] == "2026-11-03 09:00-11:00 R101"
    rows = {row[0]: dict(zip(header, row, strict=True)) for row in reader}
    alan = [rows[ALAN][label] for label in header[3:10]]
    assert alan == ["A", "C", "A", "P", "A", "", ""]
    assert (rows[ALAN]["percentage"], rows[ALAN]["short"], rows[ALAN]["can_still_miss"]) == (
        "25.00",
        "yes",
        "cannot reach",
    )
    assert rows[GRACE][header[3]] == "NE"
    # AND the correction says who, when (room time), old -> new and why
    assert rows[ALAN]["corrections"] == (
        "2026-11-24: absent -> entered by Tom Teacher at 2026-11-24 11:30:00: was in the lab next door"
    )


def test_register_xlsx_is_a_workbook_with_register_sessions_corrections_and_legend(
    api: Api, term: int
) -> None:
    response = api.client.get(f"/reports/terms/{term}/courses/CS501/register.xlsx", headers=TEACHER)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["Register", "Sessions", "Corrections", "Legend"]
    sheet = workbook["Register"]
    header = [c.value for c in sheet[2]]
    rows = {r[0]: dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=3, values_only=True)}
    assert rows[ALAN]["2026-11-17 09:00-11:00 R101"] == "A"
    assert (rows[ALAN]["P"], rows[ALAN]["A"], rows[ALAN]["percentage"]) == (1, 3, "25.00")
    sessions = list(workbook["Sessions"].iter_rows(min_row=2, values_only=True))
    assert sessions[1] == (
        "2026-11-10",
        "09:00",
        "11:00",
        "R101",
        "Asia/Kolkata",
        "cancelled",
        "public holiday",
    )
    (correction,) = workbook["Corrections"].iter_rows(min_row=2, values_only=True)
    assert correction[4:] == (
        "absent",
        "entered",
        "Tom Teacher",
        "2026-11-24 11:30:00",
        "was in the lab next door",
    )


@pytest.mark.parametrize("name", ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(1)"])
def test_exports_neutralise_formulas_in_csv_and_xlsx(engine: Engine, database_url: str, name: str) -> None:
    # GIVEN a student named like a formula, corrected with a reason that is one
    people = (*PEOPLE[:1], Person(ALAN, name, ()), *PEOPLE[2:])
    term = term_of_cs501(engine, people)
    add_correction(engine, ALAN, TUESDAYS[0], "absent", "excused", "=cmd|' /C calc'!A0")
    with running_api(engine, database_url, clock=lambda: NOW) as api:
        csv_text = api.client.get(f"/reports/terms/{term}/courses/CS501/register.csv", headers=ADMIN).text
        course_xlsx = api.client.get(
            f"/reports/terms/{term}/courses/CS501/register.xlsx", headers=ADMIN
        ).content
        student_xlsx = api.client.get(
            f"/reports/terms/{term}/students/{ALAN}/register.xlsx", headers=ADMIN
        ).content
    # THEN no CSV cell starts with a formula character
    cells = [cell for row in csv.reader(io.StringIO(csv_text)) for cell in row]
    assert "'" + name in cells
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)
    # AND no workbook cell is a formula; the text cells start with the apostrophe
    for content in (course_xlsx, student_xlsx):
        workbook = load_workbook(io.BytesIO(content))
        values = []
        for sheet in workbook.worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                    values.append(cell.value)
        assert "'" + name in values
        assert not any(isinstance(v, str) and v.startswith(("=", "+", "-", "@")) for v in values)


def test_printable_register_is_a_page_with_a_print_stylesheet(engine: Engine, database_url: str) -> None:
    people = (*PEOPLE[:1], Person(ALAN, "<script>alert(1)</script>", ()), *PEOPLE[2:])
    term = term_of_cs501(engine, people)
    with running_api(engine, database_url, clock=lambda: NOW) as api:
        response = api.client.get(f"/reports/terms/{term}/courses/CS501/register.html", headers=TEACHER)
        student = api.client.get(f"/reports/terms/{term}/students/{GRACE}/register.html", headers=TEACHER)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == "default-src 'none'; style-src 'unsafe-inline'"
    page = response.text
    assert "@media print" in page and "size: A4 landscape" in page
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Sessions held 4, still to come 2. Minimum 75%." in page
    assert "was in the lab next door" in page and "Registrar's signature" in page
    assert student.status_code == 200 and "Attendance record: 1MS21CS002 Grace Hopper" in student.text


def test_student_report_lists_each_course_and_teachers_see_only_theirs(api: Api, term: int) -> None:
    # WHEN an admin and CS501's teacher read Alan's term
    admin_view = api.client.get(f"/reports/terms/{term}/students/{ALAN}", headers=ADMIN).json()
    teacher_view = api.client.get(f"/reports/terms/{term}/students/{ALAN}", headers=TEACHER).json()
    # THEN the admin sees both his courses, the teacher only CS501
    assert [(c["course_code"], c["percentage"]) for c in admin_view["courses"]] == [
        ("CS501", 25.0),
        ("CS502", 100.0),
    ]
    assert [c["course_code"] for c in teacher_view["courses"]] == ["CS501"]
    # AND a teacher of none of the student's courses is refused
    assert api.client.get(f"/reports/terms/{term}/students/{ADA}", headers=CS502_TEACHER).status_code == 403


def test_student_register_csv_has_room_local_times_and_absent_sessions(api: Api, term: int) -> None:
    response = api.client.get(f"/reports/terms/{term}/students/{ALAN}/register.csv", headers=ADMIN)
    rows = list(csv.DictReader(io.StringIO(response.text)))
    cs501 = [r for r in rows if r["course_code"] == "CS501"]
    assert [r["mark"] for r in cs501] == ["A", "C", "A", "P", "A", "", ""]
    no_mark = cs501[2]
    assert (no_mark["status"], no_mark["source"], no_mark["first_seen_local"]) == ("absent", "no mark", "")
    seen = cs501[3]
    # 03:32:07.25 UTC is 09:02:07 in Kolkata, on the class date
    assert (seen["first_seen_local"], seen["corrected_by"]) == ("2026-11-24 09:02:07", "Tom Teacher")
    assert seen["correction_reason"] == "was in the lab next door"
    assert {r["course_code"] for r in rows} == {"CS501", "CS502"}


@pytest.mark.parametrize(
    "path",
    [
        "/reports/terms/{term}/courses/CS501",
        "/reports/terms/{term}/courses/CS501/shortage",
        "/reports/terms/{term}/courses/CS501/register",
        "/reports/terms/{term}/courses/CS501/register.csv",
        "/reports/terms/{term}/courses/CS501/register.xlsx",
        "/reports/terms/{term}/courses/CS501/register.html",
        "/reports/terms/{term}/students/1MS21CS002",
        "/reports/terms/{term}/students/1MS21CS002/register.csv",
        "/reports/terms/{term}/students/1MS21CS002/register.xlsx",
        "/reports/terms/{term}/students/1MS21CS002/register.html",
        "/courses/CS501/minimum-attendance",
    ],
)
def test_ownership_boundaries(api: Api, term: int, path: str) -> None:
    url = path.format(term=term)
    # a teacher of another course is refused, CS501's teacher and admins may read, nobody else
    assert api.client.get(url, headers=CS502_TEACHER).status_code == 403
    assert api.client.get(url, headers=TEACHER).status_code == 200
    assert api.client.get(url, headers=ADMIN).status_code == 200
    assert api.client.get(url).status_code == 401


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/reports/terms/999/courses/CS501", 404),
        ("/reports/terms/{term}/courses/NOPE", 404),
        ("/reports/terms/{term}/students/1MS21CS999", 404),
        ("/reports/terms/999/students/1MS21CS000", 404),
        ("/reports/terms/0/courses/CS501", 422),
        ("/reports/terms/abc/courses/CS501/register.csv", 422),
        ("/reports/terms/{term}/courses/CS5'01/register", 422),
    ],
)
def test_unknown_or_malformed_names(api: Api, term: int, path: str, status: int) -> None:
    assert api.client.get(path.format(term=term), headers=ADMIN).status_code == status


def test_register_of_a_course_with_no_sessions_or_roster(api: Api, engine: Engine) -> None:
    empty_term = add_term(engine, name="2027 Even", start=date(2026, 12, 1))
    report = api.client.get(f"/reports/terms/{empty_term}/courses/CS502", headers=ADMIN).json()
    assert (report["sessions_held"], report["shortage"]) == (0, [])
    assert [s["percentage"] for s in report["students"]] == [None]
    csv_text = api.client.get(f"/reports/terms/{empty_term}/courses/CS502/register.csv", headers=ADMIN).text
    assert csv_text.splitlines()[0].startswith("usn,name,section,P,L,A,E")
    with api.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(class_sessions)).scalar_one() == 9
