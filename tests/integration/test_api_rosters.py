"""Rosters, teachers, imports and course ownership through the API, on real databases."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from openpyxl import Workbook
from sqlalchemy.engine import Engine

from cloud_functions.core.db.schema import attendance, course_rosters, students
from tests.integration.test_api_helpers import (
    ADMIN,
    CS502_TEACHER,
    TEACHER,
    Api,
    audit_entries,
    running_api,
    seed,
)

CSV = {"Content-Type": "text/csv"}
XLSX = {"Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@pytest.fixture
def api(engine: Engine, database_url: str) -> Iterator[Api]:
    """Seeded campus: Tom teaches CS501, Cleo CS502."""
    seed(engine)
    with running_api(engine, database_url) as api:
        yield api


def _rows(engine: Engine, table: sa.Table) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/attendance/CS502/2026-11-24", None),
        ("GET", "/attendance/CS502/2026-11-24/export.csv", None),
        ("PUT", "/attendance/CS502/2026-11-24/1MS21CS000", {"status": "present", "reason": "x"}),
        ("GET", "/courses/CS502", None),
        ("GET", "/courses/CS502/roster", None),
        ("PUT", "/courses/CS502/roster/1MS21CS000", {}),
        ("DELETE", "/courses/CS502/roster/1MS21CS000", None),
    ],
)
def test_a_teacher_may_not_touch_a_course_they_do_not_teach(
    api: Api, method: str, path: str, body: dict[str, str] | None
) -> None:
    # GIVEN Tom, who teaches CS501 only WHEN he reads or changes CS502
    response = api.client.request(method, path, json=body, headers=TEACHER)
    # THEN 403, and nothing was written (the issue's case: a teacher changing CS502's attendance)
    assert response.status_code == 403, response.text
    assert _rows(api.engine, attendance) == 0 and _rows(api.engine, course_rosters) == 0
    assert audit_entries(api.engine, "override") == []
    # AND CS502's own teacher and an admin may
    for headers in (CS502_TEACHER, ADMIN):
        assert api.client.request(method, path, json=body, headers=headers).status_code in (200, 204, 404)


def test_the_teacher_of_a_course_corrects_it(api: Api) -> None:
    response = api.client.put(
        "/attendance/CS502/2026-11-24/1MS21CS000",
        json={"status": "present", "reason": "seen"},
        headers=CS502_TEACHER,
    )
    assert response.status_code == 200, response.text
    assert audit_entries(api.engine, "override")[0]["actor"] == "Cleo Teacher"


def test_unknown_course_is_404_for_everyone(api: Api) -> None:
    for headers in (TEACHER, ADMIN):
        assert api.client.get("/attendance/NOPE/2026-11-24", headers=headers).status_code == 404


def test_admin_manages_teachers_and_links(api: Api) -> None:
    created = api.client.post("/teachers", json={"username": "maya", "name": "Maya Iyer"}, headers=ADMIN)
    assert created.status_code == 201 and created.json()["courses"] == []
    assert (
        api.client.post("/teachers", json={"username": "maya", "name": "Again"}, headers=ADMIN).status_code
        == 409
    )
    assert (
        api.client.post("/teachers", json={"username": "x", "name": "X"}, headers=TEACHER).status_code == 403
    )
    linked = api.client.put("/courses/CS502/teachers/maya", json={}, headers=ADMIN)
    assert linked.json()["courses"] == ["CS502"]
    assert api.client.put("/courses/CS502/teachers/maya", json={}, headers=ADMIN).json()["courses"] == [
        "CS502"
    ]
    assert api.client.put("/courses/CS502/teachers/nobody", json={}, headers=ADMIN).status_code == 404
    listed = {t["username"]: t["courses"] for t in api.client.get("/teachers", headers=ADMIN).json()}
    assert listed == {"Cleo Teacher": ["CS502"], "Tom Teacher": ["CS501"], "maya": ["CS502"]}
    assert api.client.get("/teachers", headers=TEACHER).status_code == 403
    assert api.client.delete("/courses/CS502/teachers/maya", headers=ADMIN).status_code == 204
    assert api.client.delete("/courses/CS502/teachers/maya", headers=ADMIN).status_code == 404


def test_roster_entries_by_hand_with_dates(api: Api) -> None:
    body = {"section": "A", "valid_from": "2026-11-20"}
    assert api.client.put("/courses/CS501/roster/1ms21cs000", json=body, headers=TEACHER).status_code == 200
    assert api.client.put("/courses/CS501/roster/1MS21CS001", json={}, headers=ADMIN).status_code == 200
    roster = api.client.get("/courses/CS501/roster", headers=TEACHER).json()
    assert [(s["usn"], s["section"], s["valid_from"]) for s in roster["students"]] == [
        ("1MS21CS000", "A", "2026-11-20"),
        ("1MS21CS001", None, None),
    ]
    early = api.client.get("/courses/CS501/roster", params={"on": "2026-11-19"}, headers=TEACHER).json()
    assert [s["usn"] for s in early["students"]] == ["1MS21CS001"]
    bad = {"valid_from": "2026-12-01", "valid_to": "2026-11-01"}
    assert api.client.put("/courses/CS501/roster/1MS21CS002", json=bad, headers=ADMIN).status_code == 422
    assert api.client.put("/courses/CS501/roster/NOBODY", json={}, headers=ADMIN).status_code == 404
    assert api.client.delete("/courses/CS501/roster/1MS21CS001", headers=TEACHER).status_code == 204
    assert api.client.delete("/courses/CS501/roster/1MS21CS001", headers=TEACHER).status_code == 404


def test_admin_imports_students_csv_with_preview_then_idempotently(api: Api) -> None:
    data = b"usn,name,email\n1MS21CS100,Kiran Rao,kiran@example.edu\n1MS21CS101,Meera Das,\n"
    preview = api.client.post(
        "/imports/students", params={"dry_run": True}, content=data, headers={**ADMIN, **CSV}
    )
    assert preview.status_code == 200, preview.text
    assert (preview.json()["created"], preview.json()["written"]) == (2, False)
    before = _rows(api.engine, students)
    first = api.client.post("/imports/students", content=data, headers={**ADMIN, **CSV}).json()
    assert (first["created"], first["written"]) == (2, True)
    again = api.client.post("/imports/students", content=data, headers={**ADMIN, **CSV}).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)
    assert _rows(api.engine, students) == before + 2
    assert len(audit_entries(api.engine, "import")) == 2


def test_an_import_with_problems_answers_422_per_row_and_writes_nothing(api: Api) -> None:
    data = b"usn,course_code\n1MS21CS000,CS501\n1MS21CS000,CS999\n1MS21CS001,CS501\n1MS21CS001,CS501\n"
    response = api.client.post("/imports/rosters", content=data, headers={**ADMIN, **CSV})
    assert response.status_code == 422
    assert [(e["loc"], e["type"]) for e in response.json()["detail"]] == [
        (["body", 3, "course_code"], "value_error"),
        (["body", 5, "usn"], "value_error"),
    ]
    assert "unknown course CS999" in response.json()["detail"][0]["msg"]
    assert _rows(api.engine, course_rosters) == 0
    preview = api.client.post(
        "/imports/rosters", params={"dry_run": True}, content=data, headers={**ADMIN, **CSV}
    )
    assert preview.status_code == 422
    assert [e["loc"][1] for e in preview.json()["detail"]] == [3, 5]


def test_a_teacher_imports_rosters_of_their_own_courses_only(api: Api) -> None:
    own = b"usn,course_code\n1MS21CS000,CS501\n"
    assert api.client.post("/imports/rosters", content=own, headers={**TEACHER, **CSV}).json()["written"]
    foreign = b"usn,course_code\n1MS21CS001,CS501\n1MS21CS001,CS502\n"
    refused = api.client.post("/imports/rosters", content=foreign, headers={**TEACHER, **CSV})
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", 3, "course_code"]
    assert (
        "does not teach" in refused.json()["detail"][0]["msg"]
        or "not teach" in refused.json()["detail"][0]["msg"]
    )
    assert _rows(api.engine, course_rosters) == 1
    for kind in ("students", "teachers"):
        assert (
            api.client.post(f"/imports/{kind}", content=b"x\n", headers={**TEACHER, **CSV}).status_code == 403
        )


def test_xlsx_import_and_unsupported_media_types(api: Api) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["username", "name", "courses"])
    sheet.append(["maya", "Maya Iyer", "CS501;CS502/B"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = api.client.post("/imports/teachers", content=buffer.getvalue(), headers={**ADMIN, **XLSX})
    assert response.status_code == 200, response.text
    assert api.client.get("/courses", headers={"Authorization": ADMIN["Authorization"]}).status_code == 200
    wrong = api.client.post(
        "/imports/teachers", content=b"{}", headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["header", "content-type"]


def test_wrong_encoding_is_one_clear_problem(api: Api) -> None:
    data = "usn,name\n1MS21CS100,José\n".encode("latin-1")
    response = api.client.post("/imports/students", content=data, headers={**ADMIN, **CSV})
    assert response.status_code == 422
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["body", 2, ""] and "UTF-8" in problem["msg"]


def test_imports_may_be_larger_than_json_bodies(api: Api) -> None:
    rows = "".join(f"1MS22CS{i:04d},Student {i}\n" for i in range(3000))
    data = ("usn,name\n" + rows).encode()
    assert len(data) > api.settings.max_body_bytes
    response = api.client.post("/imports/students", content=data, headers={**ADMIN, **CSV})
    assert response.status_code == 200 and response.json()["created"] == 3000
    too_big = b"usn,name\n" + b"x" * (api.settings.import_max_bytes + 1)
    assert api.client.post("/imports/students", content=too_big, headers={**ADMIN, **CSV}).status_code == 413
