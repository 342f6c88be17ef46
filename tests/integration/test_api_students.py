"""Students through the API on real databases: search, create, consent, enrollment status,
presigned photo uploads and biometric deletion against the local S3 endpoint."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime

import httpx
import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cloud_functions.core.db.faceprints import EnrollmentRepository, upsert_enrollment
from cloud_functions.core.db.schema import (
    attendance,
    body_prints,
    enrollments,
    faceprints,
    recognition_events,
    students,
)
from cloud_functions.core.settings import function_settings
from cloud_functions.enroll import handler as enroll
from infra.local_stack import LocalStack
from tests.conftest import DATA_DIR
from tests.integration.test_api_helpers import ADMIN, PEOPLE, TEACHER, Api, audit_entries, running_api, seed

PEOPLE_PHOTO = DATA_DIR / "faces" / "lfw_subset" / "known" / "Colin_Powell" / "Colin_Powell_0001.jpg"


@pytest.fixture
def api(engine: Engine, database_url: str) -> Iterator[Api]:
    seed(engine)
    with running_api(engine, database_url) as api:
        yield api


@pytest.fixture
def s3_api(engine: Engine, database_url: str, local_stack: LocalStack) -> Iterator[Api]:
    """The app with the local stack's bucket behind its presigned uploads and deletions."""
    seed(engine)
    with running_api(
        engine,
        database_url,
        aws_endpoint_url=local_stack.endpoint_url,
        aws_region=local_stack.region,
        bucket_name=local_stack.bucket_name,
    ) as api:
        yield api


def _new_usn() -> str:
    return f"T{uuid.uuid4().hex[:12].upper()}"


@pytest.mark.parametrize(
    ("query", "expected_usns"),
    [
        (None, [p.usn for p in PEOPLE]),
        ("turing", ["1MS21CS001"]),
        ("1ms21cs002", ["1MS21CS002"]),
        ("%", []),  # LIKE wildcards are matched literally
        ("_", []),
        ("' OR '1'='1", []),
        ("x'; DROP TABLE students; --", []),
    ],
)
def test_search_matches_usn_or_name_and_treats_input_as_text(
    api: Api, query: str | None, expected_usns: list[str]
) -> None:
    # GIVEN three seeded students
    # WHEN a teacher searches
    response = api.client.get("/students", params={"q": query} if query else {}, headers=TEACHER)
    # THEN exactly the matching students come back and the table is intact
    assert response.status_code == 200
    assert [s["usn"] for s in response.json()["items"]] == expected_usns
    with api.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(students)).scalar_one() == 3


def test_create_update_and_read_student_with_markup_returned_as_plain_json(api: Api) -> None:
    # GIVEN a name and section holding markup
    name = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    # WHEN an admin creates the student and changes the section
    created = api.client.post(
        "/students", json={"usn": "1MS21CS100", "name": name, "email": "a@example.edu"}, headers=ADMIN
    )
    updated = api.client.patch("/students/1MS21CS100", json={"section": "<b>B</b>"}, headers=ADMIN)
    fetched = api.client.get("/students/1MS21CS100", headers=TEACHER)
    # THEN the text is stored and returned unchanged, as JSON that browsers never sniff as HTML
    assert created.status_code == 201, created.text
    assert updated.status_code == 200
    assert fetched.json()["name"] == name
    assert fetched.json()["section"] == "<b>B</b>"
    assert fetched.headers["content-type"] == "application/json"
    assert fetched.headers["x-content-type-options"] == "nosniff"
    assert json.loads(audit_entries(api.engine, "update")[0]["detail"])["after"] == {"section": "<b>B</b>"}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"usn": "1MS21CS000", "name": "Duplicate"}, 409),
        ({"usn": "1MS21CS101'--", "name": "Quote"}, 422),
        ({"usn": "../etc", "name": "Path"}, 422),
        ({"usn": "1MS21CS101", "name": ""}, 422),
        ({"usn": "1MS21CS101", "name": "x" * 201}, 422),
        ({"usn": "1MS21CS101", "name": "Bell\u0007"}, 422),
        ({"usn": "1MS21CS101", "name": "Ok", "email": "not-an-email"}, 422),
        ({"usn": "1MS21CS101", "name": "Ok", "is_admin": True}, 422),
        ({"usn": "1MS21CS101"}, 422),
    ],
)
def test_invalid_or_duplicate_student_is_refused_without_a_row(
    api: Api, body: dict[str, object], status: int
) -> None:
    response = api.client.post("/students", json=body, headers=ADMIN)
    assert response.status_code == status, response.text
    with api.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(students)).scalar_one() == 3


def test_unknown_student_is_404_and_hostile_path_is_422(api: Api) -> None:
    assert api.client.get("/students/NOPE1", headers=TEACHER).status_code == 404
    assert api.client.get("/students/1MS21CS000' OR '1'='1", headers=TEACHER).status_code == 422


def test_consent_is_recorded_with_who_and_when_and_audited(api: Api) -> None:
    # GIVEN a student without consent
    api.client.post("/students", json={"usn": "1MS21CS100", "name": "New"}, headers=ADMIN)
    # WHEN an admin records consent given at a moment
    response = api.client.put(
        "/students/1MS21CS100/consent",
        json={"given_by": "signed form #42", "given_at": "2026-11-20T09:00:00+05:30"},
        headers=ADMIN,
    )
    # THEN who and when (in UTC) are stored, and the audit log names the admin
    assert response.status_code == 200, response.text
    assert response.json()["consent_given_by"] == "signed form #42"
    assert response.json()["consent_given_at"] == "2026-11-20T03:30:00Z"
    (entry,) = audit_entries(api.engine, "consent")
    assert entry["actor"] == "Ada Admin"
    assert entry["entity_id"] == "1MS21CS100"


def test_consent_in_the_future_is_refused(api: Api) -> None:
    response = api.client.put(
        "/students/1MS21CS000/consent",
        json={"given_by": "x", "given_at": "2999-01-01T00:00:00Z"},
        headers=ADMIN,
    )
    assert response.status_code == 422


def test_enrollment_status_lists_each_pose(api: Api) -> None:
    # GIVEN an accepted frontal photo with its faceprint and a rejected left photo
    EnrollmentRepository(api.engine).accept(
        "1MS21CS000",
        "frontal",
        "test-model",
        np.ones(4, dtype=np.float32),
        object_key="enrollment/1MS21CS000/frontal.jpg",
    )
    with api.engine.begin() as connection:
        upsert_enrollment(connection, "1MS21CS000", "left", "rejected", "no_face: no face found")
    # WHEN a teacher asks for the enrollment status
    response = api.client.get("/students/1MS21CS000/enrollment", headers=TEACHER)
    # THEN every expected pose is listed with its state
    assert response.status_code == 200
    poses = {p["pose"]: p for p in response.json()["poses"]}
    assert list(poses) == ["frontal", "left", "right", "up", "down"]
    assert (poses["frontal"]["status"], poses["frontal"]["has_faceprint"]) == ("accepted", True)
    assert (poses["left"]["status"], poses["left"]["reason"]) == ("rejected", "no_face: no face found")
    assert poses["right"]["status"] == "missing"


def test_upload_url_is_refused_without_consent(s3_api: Api) -> None:
    # GIVEN a student without recorded consent
    usn = _new_usn()
    s3_api.client.post("/students", json={"usn": usn, "name": "No Consent"}, headers=ADMIN)
    # WHEN an admin asks for an upload URL
    response = s3_api.client.post(f"/students/{usn}/enrollment/frontal/upload", headers=ADMIN)
    # THEN it is refused and nothing is presigned
    assert response.status_code == 409
    assert "consent" in response.json()["detail"]


def test_presigned_upload_puts_the_photo_at_its_enrollment_key(s3_api: Api, local_stack: LocalStack) -> None:
    # GIVEN a student with consent
    usn = _new_usn()
    s3_api.client.post("/students", json={"usn": usn, "name": "Up Loader"}, headers=ADMIN)
    s3_api.client.put(f"/students/{usn}/consent", json={"given_by": "registrar"}, headers=ADMIN)
    # WHEN an admin gets a presigned POST and the browser posts a photo with it
    response = s3_api.client.post(f"/students/{usn}/enrollment/frontal/upload", headers=ADMIN)
    assert response.status_code == 200, response.text
    upload = response.json()
    photo = b"\xff\xd8\xff\xe0" + b"0" * 2048
    posted = httpx.post(
        upload["url"], data=upload["fields"], files={"file": ("frontal.jpg", photo, "image/jpeg")}
    )
    # THEN the photo is at enrollment/<usn>/frontal.jpg and the policy bounds its size and type
    assert posted.status_code in (200, 201, 204), posted.text
    assert upload["object_key"] == f"enrollment/{usn}/frontal.jpg"
    stored = local_stack.client("s3").get_object(Bucket=local_stack.bucket_name, Key=upload["object_key"])
    assert stored["Body"].read() == photo
    policy = json.loads(base64.b64decode(upload["fields"]["policy"]))
    assert ["content-length-range", 1, s3_api.settings.enrollment_photo_max_bytes] in policy["conditions"]
    assert {"Content-Type": "image/jpeg"} in policy["conditions"]


@pytest.mark.parametrize("pose", ["../x", "FRONTAL", "a" * 40, "front al"])
def test_upload_url_for_a_malformed_pose_is_refused(s3_api: Api, pose: str) -> None:
    response = s3_api.client.post(f"/students/1MS21CS000/enrollment/{pose}/upload", headers=ADMIN)
    assert response.status_code in (404, 422)


def _rows_of(engine: Engine, table: sa.Table, usn: str) -> int:
    with engine.connect() as connection:
        query = sa.select(sa.func.count()).select_from(table).where(table.c.usn == usn)
        return int(connection.execute(query).scalar_one())


def _keys_under(local_stack: LocalStack, prefix: str) -> int:
    listing = local_stack.client("s3").list_objects_v2(Bucket=local_stack.bucket_name, Prefix=prefix)
    return int(listing["KeyCount"])


def test_delete_biometrics_removes_faceprints_photos_and_rows_verified_and_audited(
    s3_api: Api, local_stack: LocalStack
) -> None:
    # GIVEN a student with two photos in the bucket, their enrollment rows and faceprints, attendance,
    # a doorway face crop recognised as the student, a cam2 gallery crop and a body print
    usn = _new_usn()
    s3_api.client.post("/students", json={"usn": usn, "name": "Bio Metric"}, headers=ADMIN)
    s3_api.client.put(f"/students/{usn}/consent", json={"given_by": "registrar"}, headers=ADMIN)
    s3 = local_stack.client("s3")
    repository = EnrollmentRepository(s3_api.engine)
    for pose in ("frontal", "left"):
        key = f"enrollment/{usn}/{pose}.jpg"
        s3.put_object(Bucket=local_stack.bucket_name, Key=key, Body=b"jpeg", ContentType="image/jpeg")
        repository.accept(usn, pose, "test-model", np.ones(4, dtype=np.float32), object_key=key)
    s3_api.client.put(
        f"/attendance/CS501/2026-11-24/{usn}", json={"status": "present", "reason": "seen"}, headers=ADMIN
    )
    capture_key = f"captures/faces/R101/2026-11-24/{usn}-c1.jpg"
    gallery_key = f"captures/gallery/R101/2026-11-24/{usn}/g1.jpg"
    other_gallery_key = "captures/gallery/R101/2026-11-24/1MS21CS000/g2.jpg"
    for key in (capture_key, gallery_key, other_gallery_key):
        s3.put_object(Bucket=local_stack.bucket_name, Key=key, Body=b"jpeg")
    with s3_api.engine.begin() as connection:
        connection.execute(
            recognition_events.insert().values(
                object_key=capture_key, room_id="R101", outcome="recognised", usn=usn, similarity=0.8
            )
        )
        connection.execute(
            body_prints.insert().values(
                usn=usn,
                room_id="R101",
                class_date=date(2026, 11, 24),
                model_id="test-reid",
                dim=4,
                embedding=np.ones(4, dtype="<f4").tobytes(),
                capture_id="g1",
                created_at=datetime.now(UTC),
            )
        )
    # WHEN an admin deletes the student's biometric data
    response = s3_api.client.delete(f"/students/{usn}/biometrics", headers=ADMIN)
    # THEN photos, crops, faceprints, body prints and enrollment rows are gone, consent is withdrawn;
    # attendance and the recognition event (now without its image) stay
    assert response.status_code == 200, response.text
    assert response.json() == {
        "usn": usn,
        "faceprints_deleted": 2,
        "body_prints_deleted": 1,
        "negatives_deleted": 0,
        "enrollments_deleted": 2,
        "objects_deleted": 2,
        "captures_deleted": 2,
        "consent_withdrawn": True,
        "verified": True,
    }
    assert _keys_under(local_stack, f"enrollment/{usn}/") == 0
    assert [_keys_under(local_stack, key) for key in (capture_key, gallery_key, other_gallery_key)] == [
        0,
        0,
        1,
    ]
    assert _rows_of(s3_api.engine, body_prints, usn) == 0
    assert (_rows_of(s3_api.engine, faceprints, usn), _rows_of(s3_api.engine, enrollments, usn)) == (0, 0)
    assert (_rows_of(s3_api.engine, attendance, usn), _rows_of(s3_api.engine, recognition_events, usn)) == (
        1,
        1,
    )
    assert s3_api.client.get(f"/students/{usn}", headers=ADMIN).json()["consent_given_at"] is None
    (entry,) = audit_entries(s3_api.engine, "delete_biometrics")
    assert entry["actor"] == "Ada Admin"
    assert sorted(json.loads(entry["detail"])["object_keys"]) == [
        f"enrollment/{usn}/frontal.jpg",
        f"enrollment/{usn}/left.jpg",
    ]
    # AND a new upload URL is refused until consent is recorded again
    assert s3_api.client.post(f"/students/{usn}/enrollment/frontal/upload", headers=ADMIN).status_code == 409


def test_delete_student_removes_photos_and_every_row(s3_api: Api, local_stack: LocalStack) -> None:
    # GIVEN a student with a photo, a faceprint and attendance
    usn = _new_usn()
    s3_api.client.post("/students", json={"usn": usn, "name": "Gone Soon"}, headers=ADMIN)
    key = f"enrollment/{usn}/frontal.jpg"
    local_stack.client("s3").put_object(Bucket=local_stack.bucket_name, Key=key, Body=b"jpeg")
    EnrollmentRepository(s3_api.engine).accept(
        usn, "frontal", "m", np.ones(4, dtype=np.float32), object_key=key
    )
    s3_api.client.put(
        f"/attendance/CS501/2026-11-24/{usn}", json={"status": "present", "reason": "x"}, headers=ADMIN
    )
    # WHEN an admin deletes the student (a teacher may not)
    assert s3_api.client.delete(f"/students/{usn}", headers=TEACHER).status_code == 403
    response = s3_api.client.delete(f"/students/{usn}", headers=ADMIN)
    # THEN nothing of the student is left
    assert response.status_code == 204
    assert s3_api.client.get(f"/students/{usn}", headers=ADMIN).status_code == 404
    assert _keys_under(local_stack, f"enrollment/{usn}/") == 0
    assert [_rows_of(s3_api.engine, table, usn) for table in (faceprints, enrollments, attendance)] == [
        0,
        0,
        0,
    ]
    assert [e["entity_id"] for e in audit_entries(s3_api.engine, "delete")] == [usn]


def test_usn_in_any_case_names_the_student_and_deletion_finds_crops_in_any_case(
    s3_api: Api, local_stack: LocalStack, database_url: str
) -> None:
    # GIVEN a consenting student with an enrollment photo and cam2 gallery crops whose keys spell
    # the USN in upper and in lower case (MySQL compares USNs case-insensitively, S3 does not)
    usn = _new_usn()
    assert (
        s3_api.client.post(
            "/students", json={"usn": usn.lower(), "name": "Case Study"}, headers=ADMIN
        ).json()["usn"]
        == usn
    )
    s3_api.client.put(f"/students/{usn.lower()}/consent", json={"given_by": "registrar"}, headers=ADMIN)
    s3 = local_stack.client("s3")
    photo = f"enrollment/{usn}/frontal.jpg"
    crops = [
        f"captures/gallery/R101/2026-11-24/{usn}/g1.jpg",
        f"captures/gallery/R101/2026-11-24/{usn.lower()}/g2.jpg",
    ]
    for key in (photo, *crops):
        s3.put_object(Bucket=local_stack.bucket_name, Key=key, Body=b"jpeg", ContentType="image/jpeg")
    EnrollmentRepository(s3_api.engine).accept(
        usn, "frontal", "m", np.ones(4, dtype=np.float32), object_key=photo
    )

    # WHEN an admin reads and deletes the student's biometric data, naming them in lower case
    assert s3_api.client.get(f"/students/{usn.lower()}", headers=ADMIN).json()["usn"] == usn
    response = s3_api.client.delete(f"/students/{usn.lower()}/biometrics", headers=ADMIN)

    # THEN the photo and both crops are gone, and the re-check finds nothing left
    assert response.status_code == 200, response.text
    assert response.json()["verified"] and response.json()["captures_deleted"] == 2
    assert [_keys_under(local_stack, key) for key in (photo, *crops)] == [0, 0, 0]
    check = s3_api.client.get(f"/students/{usn.lower()}/biometrics", headers=ADMIN).json()
    assert (check["usn"], check["none_left"], check["photos"], check["captures"]) == (usn, True, 0, 0)
    assert s3_api.client.get(f"/students/{usn}/biometrics", headers=TEACHER).status_code == 403


def test_a_photo_arriving_after_the_deletion_is_deleted_and_the_recheck_stays_clean(
    s3_api: Api, local_stack: LocalStack, database_url: str
) -> None:
    # GIVEN a student whose biometric data (and consent) an admin deleted
    usn = _new_usn()
    s3_api.client.post("/students", json={"usn": usn, "name": "Late Photo"}, headers=ADMIN)
    s3_api.client.put(f"/students/{usn}/consent", json={"given_by": "registrar"}, headers=ADMIN)
    assert s3_api.client.delete(f"/students/{usn}/biometrics", headers=ADMIN).json()["verified"]

    # WHEN a photo uploaded before the deletion reaches the bucket only now, and is enrolled
    late = f"enrollment/{usn}/frontal.jpg"
    local_stack.client("s3").put_object(
        Bucket=local_stack.bucket_name, Key=late, Body=PEOPLE_PHOTO.read_bytes(), ContentType="image/jpeg"
    )
    function_settings.cache_clear()
    enroll.enrollment.cache_clear()
    try:
        result = local_stack.drain(
            "EnrollFunction", wait_s=1, environment_overrides={"CLASSSIGHT_DATABASE_URL": database_url}
        )
    finally:
        function_settings.cache_clear()
        enroll.enrollment.cache_clear()

    # THEN it is refused for lack of consent and deleted; the re-check still finds nothing
    assert result.errors == []
    assert _keys_under(local_stack, late) == 0
    assert _rows_of(s3_api.engine, faceprints, usn) == 0
    check = s3_api.client.get(f"/students/{usn}/biometrics", headers=ADMIN).json()
    assert check["none_left"] and check["photos"] == 0
