"""Flags through the API on real databases: the course's teacher and admins see them with their
evidence, resolve them (audited), and a suspected spoof resolved as genuine gets its attendance."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cloud_functions.api.auth import token_digest
from cloud_functions.core.db.flags import NewFlag, raise_flag
from cloud_functions.core.db.schema import attendance
from infra.seed import seed_teachers
from tests.integration.test_api_helpers import (
    ADMIN,
    CS502_TEACHER,
    TOKENS,
    Api,
    audit_entries,
    running_api,
    seed,
)

CLASS_DATE = date(2026, 11, 24)
CAPTURED_AT = datetime(2026, 11, 24, 3, 33, tzinfo=UTC)
CV_TEACHER_TOKEN = "cv-teacher-token-used-only-in-tests"
CV_TEACHER = {"Authorization": f"Bearer {CV_TEACHER_TOKEN}"}


def spoof_flag(usn: str, capture_id: str) -> NewFlag:
    return NewFlag(
        kind="spoof_suspected",
        dedupe_key=f"spoof_suspected:{capture_id}",
        usn=usn,
        room_id="R101",
        course_code="CS501",
        class_date=CLASS_DATE,
        capture_id=capture_id,
        evidence={
            "mode": "enforce",
            "reasons": ["cloud:model"],
            "object_key": f"captures/faces/R101/2026-11-24/{capture_id}.jpg",
            "captured_at": CAPTURED_AT,
            "similarity": 0.71,
            "arrival": "entered",
            "cloud": {"sources": {"model": {"finding": "spoof", "score": 0.012, "threshold": 0.045}}},
        },
    )


@pytest.fixture
def api(engine: Engine, database_url: str) -> Iterator[Api]:
    seed(engine)
    seed_teachers(engine, [("cv.teacher@example.edu", "CS501")])
    with engine.begin() as connection:
        assert raise_flag(connection, spoof_flag("1MS21CS000", "cap-ada"))
        assert raise_flag(connection, spoof_flag("1MS21CS001", "cap-alan"))
        # The same capture flagged again (a redelivery) adds nothing.
        assert not raise_flag(connection, spoof_flag("1MS21CS000", "cap-ada"))
    tokens = {**TOKENS, token_digest(CV_TEACHER_TOKEN): {"name": "cv.teacher@example.edu", "role": "teacher"}}
    with running_api(engine, database_url, api_tokens=tokens) as api:
        yield api


def attendance_rows(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        return [
            (r.usn, r.status) for r in connection.execute(sa.select(attendance).order_by(attendance.c.usn))
        ]


def test_the_courses_teacher_and_admins_see_open_flags_with_evidence_and_others_do_not(api: Api) -> None:
    for headers in (CV_TEACHER, ADMIN):
        response = api.client.get("/flags", params={"status": "open"}, headers=headers)
        assert response.status_code == 200
        listed = response.json()
        assert sorted(f["usn"] for f in listed) == ["1MS21CS000", "1MS21CS001"]
        assert listed[0]["evidence"]["cloud"]["sources"]["model"]["score"] == 0.012
    # A teacher of other courses sees none of CS501's flags, and cannot open one.
    assert api.client.get("/flags", headers=CS502_TEACHER).json() == []
    flag_id = api.client.get("/flags", headers=ADMIN).json()[0]["id"]
    assert api.client.get(f"/flags/{flag_id}", headers=CS502_TEACHER).status_code == 404
    assert api.client.get("/flags", headers={}).status_code == 401


def test_a_spoof_resolved_as_genuine_records_its_attendance_and_is_audited(api: Api) -> None:
    [ada] = [f for f in api.client.get("/flags", headers=CV_TEACHER).json() if f["usn"] == "1MS21CS000"]
    # WHEN the teacher resolves it as genuine
    response = api.client.post(
        f"/flags/{ada['id']}/resolve",
        json={"resolution": "genuine", "reason": "Ada was in class; glare on the door camera"},
        headers=CV_TEACHER,
    )
    # THEN the flag is resolved, the attendance the capture would have given is recorded
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["attendance_status"] == "entered"
    assert body["flag"]["status"] == "resolved" and body["flag"]["resolved_by"] == "cv.teacher@example.edu"
    assert attendance_rows(api.engine) == [("1MS21CS000", "entered")]
    [entry] = audit_entries(api.engine, "resolve_flag")
    assert entry["actor"] == "cv.teacher@example.edu" and entry["entity_id"] == str(ada["id"])
    assert "glare" in entry["detail"]
    # AND it cannot be resolved twice
    again = api.client.post(
        f"/flags/{ada['id']}/resolve",
        json={"resolution": "proxy", "reason": "changed my mind"},
        headers=ADMIN,
    )
    assert again.status_code == 409


def test_a_spoof_resolved_as_proxy_stays_refused(api: Api) -> None:
    [alan] = [f for f in api.client.get("/flags", headers=ADMIN).json() if f["usn"] == "1MS21CS001"]
    response = api.client.post(
        f"/flags/{alan['id']}/resolve",
        json={"resolution": "proxy", "reason": "a printed photo of Alan"},
        headers=ADMIN,
    )
    assert response.status_code == 200 and response.json()["attendance_status"] is None
    assert attendance_rows(api.engine) == []
    assert api.client.get("/flags", params={"status": "open"}, headers=ADMIN).json()[0]["usn"] == "1MS21CS000"


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/flags/999999/resolve", {"resolution": "genuine", "reason": "x"}, 404),
        ("/flags/1/resolve", {"resolution": "maybe", "reason": "x"}, 422),
        ("/flags/1/resolve", {"resolution": "genuine"}, 422),
        ("/flags/0/resolve", {"resolution": "genuine", "reason": "x"}, 422),
    ],
)
def test_bad_resolutions_are_refused_with_a_clear_status(
    api: Api, path: str, body: dict, status: int
) -> None:
    assert api.client.post(path, json=body, headers=ADMIN).status_code == status
    assert attendance_rows(api.engine) == []
