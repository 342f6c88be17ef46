"""Courses, rooms and the timetable through the API on real databases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from tests.integration.test_api_helpers import ADMIN, TEACHER, Api, audit_entries, running_api, seed


@pytest.fixture
def api(engine: Engine, database_url: str) -> Iterator[Api]:
    seed(engine)
    with running_api(engine, database_url) as api:
        yield api


def _slot(**changes: Any) -> dict[str, Any]:
    """A Wednesday 09:00-10:00 slot of CS501 in R101 (free in the seed's timetable)."""
    return {
        "course_code": "CS501",
        "room_id": "R101",
        "weekday": 2,
        "start_time": "09:00",
        "end_time": "10:00",
        **changes,
    }


def test_courses_crud(api: Api) -> None:
    created = api.client.post(
        "/courses",
        json={"course_code": "CS600", "title": "Robotics", "teacher_email": "r@example.edu"},
        headers=ADMIN,
    )
    assert created.status_code == 201, created.text
    assert (
        api.client.patch("/courses/CS600", json={"title": "Robot Lab"}, headers=ADMIN).json()["title"]
        == "Robot Lab"
    )
    assert [c["course_code"] for c in api.client.get("/courses", headers=ADMIN).json()] == [
        "CS501",
        "CS502",
        "CS600",
    ]
    # a teacher lists only the courses they teach
    assert [c["course_code"] for c in api.client.get("/courses", headers=TEACHER).json()] == ["CS501"]
    assert (
        api.client.post(
            "/courses", json={"course_code": "CS600", "title": "Again"}, headers=ADMIN
        ).status_code
        == 409
    )
    assert api.client.delete("/courses/CS600", headers=ADMIN).status_code == 204
    assert api.client.get("/courses/CS600", headers=TEACHER).status_code == 404


@pytest.mark.parametrize(
    ("timezone", "status"),
    [
        ("Asia/Kolkata", 201),
        ("Europe/Berlin", 201),
        ("UTC", 201),
        ("Mars/Olympus_Mons", 422),
        ("../../etc/passwd", 422),
        ("/usr/share/zoneinfo/UTC", 422),
        ("", 422),
        ("+05:30", 422),
    ],
)
def test_room_timezone_must_be_an_iana_name(api: Api, timezone: str, status: int) -> None:
    body = {
        "room_id": "R201",
        "name": "Room 201",
        "cam1_id": "R201-door",
        "cam2_id": "R201-room",
        "timezone": timezone,
    }
    assert api.client.post("/rooms", json=body, headers=ADMIN).status_code == status


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"room_id": "R201", "name": "Same cams", "cam1_id": "c", "cam2_id": "c"}, 422),
        ({"room_id": "R201", "name": "Taken cam", "cam1_id": "R101-door"}, 409),
        ({"room_id": "R201", "name": "Taken cam2 as cam1", "cam1_id": "R101-room"}, 409),
        ({"room_id": "R101", "name": "Duplicate"}, 409),
        ({"room_id": "R 201", "name": "Space"}, 422),
    ],
)
def test_room_ids_and_cameras_are_unique(api: Api, body: dict[str, Any], status: int) -> None:
    assert api.client.post("/rooms", json=body, headers=ADMIN).status_code == status


def test_room_update_and_delete(api: Api) -> None:
    updated = api.client.patch(
        "/rooms/R102", json={"timezone": "Europe/Berlin", "cam1_id": "R102-door2"}, headers=ADMIN
    )
    assert updated.status_code == 200, updated.text
    assert (updated.json()["timezone"], updated.json()["cam1_id"]) == ("Europe/Berlin", "R102-door2")
    assert api.client.patch("/rooms/R102", json={"cam2_id": "R101-door"}, headers=ADMIN).status_code == 409
    assert api.client.delete("/rooms/R102", headers=ADMIN).status_code == 204
    assert [r["room_id"] for r in api.client.get("/rooms", headers=TEACHER).json()] == ["R101"]


def test_timetable_crud_is_audited(api: Api) -> None:
    # WHEN an admin adds, moves and deletes a slot
    created = api.client.post("/timetable", json=_slot(), headers=ADMIN)
    assert created.status_code == 201, created.text
    entry_id = created.json()["id"]
    moved = api.client.put(
        f"/timetable/{entry_id}", json=_slot(start_time="08:00", end_time="09:30"), headers=ADMIN
    )
    listed = api.client.get("/timetable", params={"room_id": "R101"}, headers=TEACHER).json()
    deleted = api.client.delete(f"/timetable/{entry_id}", headers=ADMIN)
    # THEN each step took effect and was audited
    assert moved.status_code == 200, moved.text
    assert (moved.json()["start_time"], moved.json()["end_time"]) == ("08:00:00", "09:30:00")
    assert entry_id in [e["id"] for e in listed]
    assert deleted.status_code == 204
    assert api.client.get(f"/timetable/{entry_id}", headers=TEACHER).status_code == 404
    assert [e["entity_id"] for e in audit_entries(api.engine, "update")] == [str(entry_id)]


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"start_time": "10:00", "end_time": "10:00"}, 422),  # start == end
        ({"start_time": "11:00", "end_time": "10:00"}, 422),  # start > end
        ({"weekday": 7}, 422),
        ({"weekday": -1}, 422),
        ({"valid_from": "2026-12-01", "valid_to": "2026-11-01"}, 422),
        ({"start_time": "09:00+05:30"}, 422),
        ({"course_code": "NOPE"}, 404),
        ({"room_id": "R999"}, 404),
        ({"unexpected": 1}, 422),
    ],
)
def test_invalid_timetable_entry_is_refused(api: Api, changes: dict[str, Any], status: int) -> None:
    assert api.client.post("/timetable", json=_slot(**changes), headers=ADMIN).status_code == status


@pytest.mark.parametrize(
    ("second", "status"),
    [
        # The seed has CS501 in R101 on Tuesdays 09:00-11:00 and CS502 11:00-12:00.
        ({"weekday": 1, "start_time": "10:00", "end_time": "10:30"}, 409),  # inside
        ({"weekday": 1, "start_time": "08:00", "end_time": "09:01"}, 409),  # overlaps the start
        ({"weekday": 1, "start_time": "08:00", "end_time": "13:00"}, 409),  # covers two
        ({"weekday": 1, "start_time": "08:00", "end_time": "09:00"}, 201),  # back to back
        ({"weekday": 1, "start_time": "12:00", "end_time": "13:00"}, 201),  # back to back after
        ({"weekday": 1, "room_id": "R102", "start_time": "10:00", "end_time": "10:30"}, 201),  # other room
        ({"weekday": 2, "start_time": "10:00", "end_time": "10:30"}, 201),  # other weekday
    ],
)
def test_overlapping_entries_in_one_room_are_refused(api: Api, second: dict[str, Any], status: int) -> None:
    response = api.client.post("/timetable", json=_slot(**second), headers=ADMIN)
    assert response.status_code == status, response.text


@pytest.mark.parametrize(
    ("first_validity", "second_validity", "status"),
    [
        ({"valid_to": "2026-12-31"}, {"valid_from": "2027-01-01"}, 201),  # one term after the other
        ({"valid_to": "2026-12-31"}, {"valid_from": "2026-12-31"}, 409),  # share the last day
        ({}, {"valid_from": "2027-01-01"}, 409),  # open-ended first
        ({"valid_from": "2027-01-01", "valid_to": "2027-06-30"}, {"valid_to": "2026-12-31"}, 201),
    ],
)
def test_overlap_takes_validity_periods_into_account(
    api: Api, first_validity: dict[str, str], second_validity: dict[str, str], status: int
) -> None:
    assert api.client.post("/timetable", json=_slot(**first_validity), headers=ADMIN).status_code == 201
    assert api.client.post("/timetable", json=_slot(**second_validity), headers=ADMIN).status_code == status


def test_moving_an_entry_onto_another_is_refused_but_keeping_its_own_time_is_not(api: Api) -> None:
    entry_id = api.client.post("/timetable", json=_slot(), headers=ADMIN).json()["id"]
    other_id = api.client.post(
        "/timetable", json=_slot(start_time="10:00", end_time="11:00"), headers=ADMIN
    ).json()["id"]
    assert api.client.put(f"/timetable/{entry_id}", json=_slot(), headers=ADMIN).status_code == 200
    response = api.client.put(f"/timetable/{entry_id}", json=_slot(end_time="10:30"), headers=ADMIN)
    assert response.status_code == 409
    assert str(other_id) in response.json()["detail"]
