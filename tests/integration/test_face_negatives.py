"""A teacher's "this was not X" through the real API: the capture becomes a pending negative for X,
face_match's service embeds it from the crop in the local bucket, and deleting X deletes it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cloud_functions.core.db.attendance import DoorSighting, record_door_sighting
from cloud_functions.core.db.negatives import FaceNegativeRepository
from cloud_functions.core.db.schema import face_negatives, recognition_events
from cloud_functions.core.doorway import DoorwayService
from cloud_functions.core.faces import FacePipeline, FaceprintRepository, Matcher
from cloud_functions.core.handoff import SnsHandoffPublisher
from cloud_functions.core.settings import FaceModelSettings
from cloud_functions.core.storage import S3ObjectStore
from infra.local_stack import LocalStack
from tests.conftest import DATA_DIR
from tests.integration.test_api_helpers import ADMIN, TEACHER, Api, running_api, seed

CLASS_DATE = date(2026, 11, 24)
X = "1MS21CS000"
LFW = DATA_DIR / "faces" / "lfw_subset" / "known"
IMPOSTOR_PHOTO = LFW / "Junichiro_Koizumi" / "Junichiro_Koizumi_0001.jpg"


def _recognised(engine: Engine, stack: LocalStack, capture_id: str) -> str:
    """X marked entered by a door recognition whose crop (a real face) lies in the local bucket."""
    key = f"captures/faces/R101/2026-11-24/{capture_id}.jpg"
    stack.client("s3").put_object(
        Bucket=stack.bucket_name, Key=key, Body=IMPOSTOR_PHOTO.read_bytes(), ContentType="image/jpeg"
    )
    seen_at = datetime(2026, 11, 24, 3, 32, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(
            recognition_events.insert().values(
                object_key=key,
                capture_id=capture_id,
                room_id="R101",
                camera_id="R101-door",
                captured_at=seen_at,
                outcome="recognised",
                usn=X,
                similarity=0.41,
                created_at=seen_at,
            )
        )
        record_door_sighting(
            connection,
            DoorSighting(
                usn=X,
                course_code="CS501",
                class_date=CLASS_DATE,
                room_id="R101",
                seen_at=seen_at,
                status="entered",
                source="face",
                similarity=0.41,
                capture_id=capture_id,
            ),
        )
    return key


@pytest.fixture
def api(engine: Engine, database_url: str, local_stack: LocalStack) -> Iterator[Api]:
    seed(engine)
    with running_api(
        engine,
        database_url,
        aws_endpoint_url=local_stack.endpoint_url,
        aws_region=local_stack.region,
        bucket_name=local_stack.bucket_name,
    ) as api:
        yield api


def _negatives(engine: Engine) -> list[sa.Row]:
    with engine.connect() as connection:
        return list(connection.execute(sa.select(face_negatives)))


def _wrong_person(api: Api, headers: dict[str, str] = TEACHER) -> int:
    body = {"status": "absent", "reason": "not Ada: another student at the door", "wrong_person": True}
    return api.client.put(f"/attendance/CS501/2026-11-24/{X}", json=body, headers=headers).status_code


def test_wrong_person_correction_becomes_a_negative_that_face_match_embeds_and_deletion_removes(
    api: Api, local_stack: LocalStack
) -> None:
    # GIVEN Ada marked entered by a door recognition of someone else's face
    key = _recognised(api.engine, local_stack, "cap-wrong-1")

    # WHEN her teacher corrects it as the wrong person, twice (a double click)
    assert _wrong_person(api) == 200
    assert _wrong_person(api) == 200

    # THEN the mark is absent and one pending negative names the capture and its crop
    report = api.client.get("/attendance/CS501/2026-11-24", headers=TEACHER).json()
    assert [r["status"] for r in report["rows"] if r["usn"] == X] == ["absent"]
    (row,) = _negatives(api.engine)
    assert (row.usn, row.capture_id, row.object_key, row.status) == (X, "cap-wrong-1", key, "pending")
    assert row.embedding is None

    # WHEN face_match's service handles its next capture (an unrelated key), it embeds the crop
    pipeline = FacePipeline.from_settings(FaceModelSettings())
    negatives = FaceNegativeRepository(api.engine)
    service = DoorwayService(
        engine=api.engine,
        store=S3ObjectStore(local_stack.client("s3"), local_stack.bucket_name),
        faces=pipeline,
        matcher=Matcher(FaceprintRepository(api.engine), pipeline.model_id, threshold=0.365, margin=0.1),
        publisher=SnsHandoffPublisher(local_stack.client("sns"), local_stack.handoff_topic_arn),
        negatives=negatives,
    )
    service.process("captures/faces/R101/2026-11-24/no-such-object.jpg")

    # THEN the negative holds the crop's embedding under the pipeline's model, and the matcher's
    # source hands it over
    (row,) = _negatives(api.engine)
    assert (row.status, row.model_id, row.dim) == ("stored", pipeline.model_id, 128)
    loaded = negatives.load_negatives(pipeline.model_id)
    assert loaded[X].shape == (1, 128)
    assert float(loaded[X][0] @ pipeline.analyse(IMPOSTOR_PHOTO.read_bytes(), "capture").embedding) > 0.99

    # WHEN an admin deletes Ada's biometric data
    response = api.client.delete(f"/students/{X}/biometrics", headers=ADMIN)

    # THEN her negative is gone with it, and the re-check says nothing is left
    assert response.status_code == 200
    assert response.json()["negatives_deleted"] == 1
    assert _negatives(api.engine) == []
    check = api.client.get(f"/students/{X}/biometrics", headers=ADMIN).json()
    assert check["negatives"] == 0 and check["none_left"]


def test_wrong_person_without_a_door_recognition_is_refused_and_writes_nothing(api: Api) -> None:
    # GIVEN Ada with no mark at all (nothing recognised her at the door)
    # WHEN a teacher says the door took the wrong person
    body = {"status": "absent", "reason": "wrong person", "wrong_person": True, "room_id": "R101"}
    response = api.client.put(f"/attendance/CS501/2026-11-24/{X}", json=body, headers=TEACHER)
    # THEN 422 beside the field, no mark and no negative
    assert response.status_code == 422
    assert "door recognition" in response.text
    assert _negatives(api.engine) == []
    report = api.client.get("/attendance/CS501/2026-11-24", headers=TEACHER).json()
    assert report["rows"] == []


def test_deleting_the_student_deletes_their_negatives(api: Api, local_stack: LocalStack) -> None:
    _recognised(api.engine, local_stack, "cap-wrong-2")
    assert _wrong_person(api) == 200
    assert len(_negatives(api.engine)) == 1
    assert api.client.delete(f"/students/{X}", headers=ADMIN).status_code in (200, 204)
    assert _negatives(api.engine) == []


def test_after_the_correction_the_impostor_is_refused_at_the_door_and_the_student_still_matches(
    engine: Engine, database_url: str, local_stack: LocalStack
) -> None:
    from infra.seed import Slot, lfw_people, seed_campus, seed_students
    from tests.integration.test_face_match import (
        IN_CLASS,
        REPLAYED_CALENDAR,
        photo,
        put_capture,
    )

    # GIVEN the LFW people enrolled except Junichiro Koizumi, and a stress threshold (0.25) at
    # which one of his photos is taken for an enrolled student X (bench.corrections finds these)
    impostor = "Junichiro_Koizumi"
    people = {p.name.replace(" ", "_"): p for p in lfw_people(DATA_DIR / "faces" / "lfw_subset")}
    seed_campus(engine, [Slot("CS501", "R101", 0, time(9), time(10))])
    seed_students(engine, list(people.values()))
    pipeline = FacePipeline.from_settings(FaceModelSettings())
    faceprints = FaceprintRepository(engine)
    for name, person in people.items():
        if name != impostor:
            for number in (1, 2, 3):
                faceprints.save(
                    person.usn,
                    f"pose{number}",
                    pipeline.model_id,
                    pipeline.analyse(photo(name, number), "capture").embedding,
                )
    negatives = FaceNegativeRepository(engine)
    service = DoorwayService(
        engine=engine,
        store=S3ObjectStore(local_stack.client("s3"), local_stack.bucket_name),
        faces=pipeline,
        matcher=Matcher(
            faceprints, pipeline.model_id, threshold=0.25, margin=0.1, negatives=negatives, refresh_s=0
        ),
        publisher=SnsHandoffPublisher(local_stack.client("sns"), local_stack.handoff_topic_arn),
        capture_times=REPLAYED_CALENDAR,
        negatives=negatives,
    )
    wrong = None
    for number in range(1, 11):
        capture = put_capture(local_stack, photo(impostor, number))
        result = service.process(capture.key)
        if result.outcome.value == "recognised":
            wrong = (number, capture, result.usn)
            break
    assert wrong is not None, "no photo of the impostor is accepted at 0.25"
    number, capture, x_usn = wrong
    x_name = next(name for name, p in people.items() if p.usn == x_usn)

    # WHEN an admin corrects that recognition as the wrong person through the API
    with running_api(engine, database_url) as api:
        body = {"status": "absent", "reason": "someone else at the door", "wrong_person": True}
        class_date = IN_CLASS.date().isoformat()
        response = api.client.put(f"/attendance/CS501/{class_date}/{x_usn}", json=body, headers=ADMIN)
        assert response.status_code == 200, response.text

    # THEN the impostor's next capture of the same face (a new capture id; accepted as X before
    # the correction) is refused as no closer to X than to the corrected capture: unknown_person
    again = service.process(put_capture(local_stack, photo(impostor, number)).key)
    assert again.outcome.value == "unknown_person"
    assert again.usn is None
    assert again.detail == "corrected_negative"
    (row,) = _negatives(engine)
    assert (row.usn, row.capture_id, row.status) == (x_usn, capture.capture_id, "stored")

    # AND X's own held-out photos are still recognised as X
    genuine = [service.process(put_capture(local_stack, photo(x_name, n)).key) for n in (8, 9, 10)]
    assert [r.usn for r in genuine if r.outcome.value == "recognised"] == [x_usn] * 3
