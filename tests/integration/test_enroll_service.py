"""Enrollment rules on real databases (SQLite and MariaDB) with real weights and LFW photos."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cloud_functions.core.db.schema import enrollments, faceprints, students
from cloud_functions.core.errors import InvalidEventError
from cloud_functions.core.faces import (
    EnrollmentPhoto,
    EnrollmentRepository,
    EnrollmentService,
    FacePipeline,
    FaceprintRepository,
    Matcher,
    parse_enrollment_key,
)
from cloud_functions.core.settings import FaceModelSettings
from tests.conftest import DATA_DIR

LFW = DATA_DIR / "faces" / "lfw_subset" / "known"
TWO_PEOPLE = DATA_DIR / "faces" / "face_recognition_examples" / "extra" / "two_people.jpg"


def photo(name: str, number: int) -> bytes:
    return (LFW / name / f"{name}_{number:04d}.jpg").read_bytes()


@pytest.fixture(scope="module")
def pipeline() -> FacePipeline:
    return FacePipeline.from_settings(FaceModelSettings())


@pytest.fixture
def service(engine: Engine, pipeline: FacePipeline) -> EnrollmentService:
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            students.insert(),
            [
                {"usn": "1MS21CS001", "name": "Colin Powell", "consent_given_at": now},
                {"usn": "1MS21CS002", "name": "Serena Williams", "consent_given_at": now},
                {"usn": "1MS21CS003", "name": "No Consent Yet", "consent_given_at": None},
            ],
        )
    return EnrollmentService(pipeline, EnrollmentRepository(engine))


def rows(engine: Engine, table: sa.Table) -> list[sa.Row]:
    with engine.connect() as connection:
        return list(connection.execute(sa.select(table).order_by(*table.primary_key.columns)))


def test_accepted_photo_stores_a_faceprint_with_its_model_and_an_accepted_row(
    engine: Engine, service: EnrollmentService, pipeline: FacePipeline
) -> None:
    # GIVEN a consenting student WHEN a clean frontal photo is enrolled
    outcome = service.enroll(
        EnrollmentPhoto(
            "1MS21CS001", "front", photo("Colin_Powell", 1), object_key="enrollment/1MS21CS001/front.jpg"
        )
    )
    # THEN it is accepted: one faceprint of the pipeline's model, unit float32, and the photo's row
    assert outcome.accepted and outcome.reason is None
    [faceprint] = rows(engine, faceprints)
    assert (faceprint.usn, faceprint.pose, faceprint.model_id, faceprint.dim) == (
        "1MS21CS001",
        "front",
        pipeline.model_id,
        pipeline.embedder.dim,
    )
    vector = np.frombuffer(faceprint.embedding, dtype="<f4")
    assert vector.shape == (pipeline.embedder.dim,)
    assert float(np.linalg.norm(vector)) == pytest.approx(1.0, abs=1e-5)
    [row] = rows(engine, enrollments)
    assert (row.usn, row.pose, row.status, row.reason, row.object_key) == (
        "1MS21CS001",
        "front",
        "accepted",
        None,
        "enrollment/1MS21CS001/front.jpg",
    )


def test_re_enrolling_a_pose_replaces_its_faceprint(
    engine: Engine, service: EnrollmentService, pipeline: FacePipeline
) -> None:
    # GIVEN an enrolled pose and a warm view of the gallery's version
    service.enroll(EnrollmentPhoto("1MS21CS001", "front", photo("Colin_Powell", 1)))
    repository = FaceprintRepository(engine)
    version_before = repository.gallery_version(pipeline.model_id)
    # WHEN the same pose is enrolled with another photo, and that photo is delivered twice
    second = service.enroll(EnrollmentPhoto("1MS21CS001", "front", photo("Colin_Powell", 2)))
    third = service.enroll(EnrollmentPhoto("1MS21CS001", "front", photo("Colin_Powell", 2)))
    # THEN there is still one faceprint and one row for that pose, holding the newest photo's vector
    [faceprint] = rows(engine, faceprints)
    newest = pipeline.analyse(photo("Colin_Powell", 2), "enroll").embedding
    np.testing.assert_allclose(np.frombuffer(faceprint.embedding, dtype="<f4"), newest, atol=1e-5)
    assert second.accepted and third.accepted and faceprint.id == third.faceprint_id
    assert [(r.pose, r.status) for r in rows(engine, enrollments)] == [("front", "accepted")]
    # AND the version changed although the count did not (SQLite may even reuse the row id)
    assert repository.gallery_version(pipeline.model_id) != version_before


@pytest.mark.parametrize(
    ("usn", "image", "reason_code", "row_stored"),
    [
        pytest.param(
            "1MS21CS003", lambda: photo("Colin_Powell", 1), "no_consent", True, id="no recorded consent"
        ),
        pytest.param(
            "9XX99XX999", lambda: photo("Colin_Powell", 1), "unknown_student", False, id="unknown student"
        ),
        pytest.param("1MS21CS002", lambda: b"", "undecodable", True, id="empty file"),
        pytest.param("1MS21CS002", lambda: b"%PDF-1.7 not a photo", "undecodable", True, id="not an image"),
        pytest.param(
            "1MS21CS002", lambda: photo("Serena_Williams", 1)[:5000], "undecodable", True, id="truncated"
        ),
        pytest.param("1MS21CS002", TWO_PEOPLE.read_bytes, "multiple_faces", True, id="two people"),
    ],
)
def test_rejected_photo_is_recorded_with_its_reason_and_no_faceprint(
    engine: Engine, service: EnrollmentService, usn: str, image: object, reason_code: str, row_stored: bool
) -> None:
    # GIVEN a photo that must not become a faceprint WHEN it is enrolled
    outcome = service.enroll(EnrollmentPhoto(usn, "front", image()))  # type: ignore[operator]
    # THEN it is rejected with a clear reason, stored on the photo's row when the student exists
    assert outcome.status == "rejected" and outcome.reason_code == reason_code
    assert rows(engine, faceprints) == []
    stored = [(r.usn, r.status, r.reason) for r in rows(engine, enrollments)]
    assert stored == ([(usn, "rejected", outcome.reason)] if row_stored else [])


def test_rejected_re_enrollment_drops_the_earlier_faceprint_of_that_pose(
    engine: Engine, service: EnrollmentService
) -> None:
    # GIVEN two enrolled poses
    service.enroll(EnrollmentPhoto("1MS21CS002", "front", photo("Serena_Williams", 1)))
    service.enroll(EnrollmentPhoto("1MS21CS002", "left", photo("Serena_Williams", 2)))
    # WHEN the front pose is replaced by a photo that fails the gates
    outcome = service.enroll(EnrollmentPhoto("1MS21CS002", "front", TWO_PEOPLE.read_bytes()))
    # THEN the front pose has no faceprint any more and says why; the left pose is untouched
    assert outcome.reason_code == "multiple_faces"
    assert [f.pose for f in rows(engine, faceprints)] == ["left"]
    assert {r.pose: r.status for r in rows(engine, enrollments)} == {"front": "rejected", "left": "accepted"}


def test_enrolling_the_downloaded_photo_keeps_the_rows_source_url(
    engine: Engine, service: EnrollmentService
) -> None:
    # GIVEN a pending row from the seed's image URLs (what the download command fetched)
    with engine.begin() as connection:
        connection.execute(
            enrollments.insert().values(
                usn="1MS21CS001", pose="front", source_url="https://example.edu/p/1.jpg", status="pending"
            )
        )
    # WHEN the downloaded file is enrolled
    service.enroll(EnrollmentPhoto("1MS21CS001", "front", photo("Colin_Powell", 1)))
    # THEN the same row is now accepted and still names its source
    [row] = rows(engine, enrollments)
    assert (row.status, row.source_url) == ("accepted", "https://example.edu/p/1.jpg")


def test_matcher_sees_new_enrollments_and_never_mixes_models(
    engine: Engine, service: EnrollmentService, pipeline: FacePipeline
) -> None:
    # GIVEN a warm matcher and one enrolled student
    service.enroll(EnrollmentPhoto("1MS21CS001", "front", photo("Colin_Powell", 1)))
    repository = FaceprintRepository(engine)
    matcher = Matcher(repository, pipeline.model_id, threshold=0.365, margin=0.1)
    serena = pipeline.analyse(photo("Serena_Williams", 3)).embedding
    assert matcher.match(serena).usn is None
    # AND a faceprint of another model (another dimension) for Serena
    repository.save("1MS21CS002", "front", "other-model@0000", np.ones(512, np.float32) / np.sqrt(512))
    assert matcher.match(serena).usn is None
    # WHEN Serena enrolls with this model
    service.enroll(EnrollmentPhoto("1MS21CS002", "front", photo("Serena_Williams", 1)))
    # THEN the next match, in the same warm matcher, finds her; only this model's rows are read
    result = matcher.match(serena)
    assert result.usn == "1MS21CS002"
    assert matcher.gallery().students == ("1MS21CS001", "1MS21CS002")
    assert matcher.gallery().embeddings.shape == (2, pipeline.embedder.dim)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("enrollment/1MS21CS001/front.jpg", ("1MS21CS001", "front")),
        ("enrollment/1MS21CS001/left.JPEG", ("1MS21CS001", "left")),
        ("enrollment/1MS21CS001/front view.png", ("1MS21CS001", "front view")),
        # USN case: the bucket keeps what was uploaded, the student is the canonical USN
        ("enrollment/1ms21cs001/front.jpg", ("1MS21CS001", "front")),
    ],
)
def test_enrollment_keys_name_student_and_pose(key: str, expected: tuple[str, str]) -> None:
    assert parse_enrollment_key(key) == expected


@pytest.mark.parametrize(
    "key",
    [
        "captures/faces/R101/2026-11-23/x.jpg",
        "enrollment/1MS21CS001/front.txt",
        "enrollment/front.jpg",
        "enrollment/1MS21CS001/extra/front.jpg",
        "enrollment/../secrets/front.jpg",
    ],
)
def test_other_keys_are_not_enrollment_photos(key: str) -> None:
    with pytest.raises(InvalidEventError):
        parse_enrollment_key(key)
