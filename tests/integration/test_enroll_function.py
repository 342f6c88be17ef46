"""The enroll function on the real local stack: S3 put → SQS → handler → faceprint and enrollment row.

Photos are real LFW photos put under ``enrollment/<usn>/<pose>.jpg`` in the local bucket; the
bucket's notification travels through the EnrollQueue to the real handler (resolved from
template.yaml's ``ImageConfig.Command``), on SQLite and on MariaDB.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from sqlalchemy.engine import Engine

from cloud_functions.core.aws import clear_clients
from cloud_functions.core.db.schema import enrollments, faceprints, students
from cloud_functions.core.errors import DatabaseUnavailableError
from cloud_functions.core.settings import function_settings
from cloud_functions.enroll import handler as enroll
from infra.local_stack import LocalStack
from infra.seed import lfw_people, seed_students
from tests.conftest import DATA_DIR
from tests.events import load_event

LFW = DATA_DIR / "faces" / "lfw_subset"
PEOPLE = lfw_people(LFW)[:2]  # two consenting students
TWO_PEOPLE = DATA_DIR / "faces" / "face_recognition_examples" / "extra" / "two_people.jpg"


def _fresh_handler_state() -> None:
    function_settings.cache_clear()
    enroll.enrollment.cache_clear()
    clear_clients()


@pytest.fixture
def students_engine(engine: Engine) -> Iterator[Engine]:
    seed_students(engine, PEOPLE)
    _fresh_handler_state()
    yield engine
    _fresh_handler_state()


def put(stack: LocalStack, key: str, body: bytes) -> None:
    stack.client("s3").put_object(Bucket=stack.bucket_name, Key=key, Body=body, ContentType="image/jpeg")


def drain(stack: LocalStack, database_url: str) -> Any:
    """Deliver the waiting enrollment photos to the real handler, with fresh settings and models."""
    _fresh_handler_state()
    try:
        return stack.drain(
            "EnrollFunction", wait_s=1, environment_overrides={"CLASSSIGHT_DATABASE_URL": database_url}
        )
    finally:
        _fresh_handler_state()


def rows(engine: Engine, table: sa.Table) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(sa.select(table).order_by(table.c.usn, table.c.pose)))


def test_enrollment_photos_in_the_bucket_become_faceprints_or_recorded_rejections(
    clean_local_stack: LocalStack, students_engine: Engine, database_url: str
) -> None:
    # GIVEN a good photo and a photo of two people for one student, and a good photo for another
    first, second = PEOPLE
    put(clean_local_stack, f"enrollment/{first.usn}/front.jpg", first.photos[1].read_bytes())
    put(clean_local_stack, f"enrollment/{first.usn}/left.jpg", TWO_PEOPLE.read_bytes())
    put(clean_local_stack, f"enrollment/{second.usn}/front view.jpg", second.photos[1].read_bytes())

    # WHEN the enroll queue is drained into the function
    result = drain(clean_local_stack, database_url)

    # THEN every message succeeded (a rejection is an outcome, not a failure)
    assert result.errors == [] and result.failed_message_ids == []
    assert len(result.records) == 3
    # AND the good photos are faceprints, and every photo's row says what happened
    assert [(f.usn, f.pose, f.dim) for f in rows(students_engine, faceprints)] == [
        (first.usn, "front", 128),
        (second.usn, "front view", 128),
    ]
    outcomes = {
        (r.usn, r.pose): (r.status, r.reason, r.object_key) for r in rows(students_engine, enrollments)
    }
    assert outcomes[(first.usn, "front")] == ("accepted", None, f"enrollment/{first.usn}/front.jpg")
    status, reason, _ = outcomes[(first.usn, "left")]
    assert status == "rejected" and reason.startswith("multiple_faces: ")
    assert outcomes[(second.usn, "front view")][0] == "accepted"


def test_redelivered_and_replaced_photos_leave_one_faceprint_per_pose(
    clean_local_stack: LocalStack, students_engine: Engine, database_url: str
) -> None:
    # GIVEN a pose enrolled through the bucket
    person = PEOPLE[0]
    key = f"enrollment/{person.usn}/front.jpg"
    put(clean_local_stack, key, person.photos[1].read_bytes())
    drain(clean_local_stack, database_url)
    [before] = rows(students_engine, faceprints)
    # WHEN the same photo arrives again and then a newer photo replaces it
    put(clean_local_stack, key, person.photos[1].read_bytes())
    again = drain(clean_local_stack, database_url)
    [same] = rows(students_engine, faceprints)
    put(clean_local_stack, key, person.photos[4].read_bytes())
    drain(clean_local_stack, database_url)
    # THEN each delivery succeeded; the pose has one faceprint, first unchanged, then the newer photo's
    assert again.errors == [] and again.failed_message_ids == []
    assert same.embedding == before.embedding
    [after] = rows(students_engine, faceprints)
    similarity = float(np.frombuffer(after.embedding, "<f4") @ np.frombuffer(before.embedding, "<f4"))
    assert similarity < 0.999  # another photo of the same person
    assert [(r.pose, r.status) for r in rows(students_engine, enrollments)] == [("front", "accepted")]


def test_photo_without_consent_and_corrupt_upload_are_rejected_with_reasons(
    clean_local_stack: LocalStack, engine: Engine, database_url: str
) -> None:
    # GIVEN one student without recorded consent and one with
    without, with_consent = PEOPLE
    seed_students(engine, [with_consent])
    with engine.begin() as connection:
        connection.execute(
            students.insert().values(usn=without.usn, name=without.name, consent_given_at=None)
        )
    put(clean_local_stack, f"enrollment/{without.usn}/front.jpg", without.photos[1].read_bytes())
    put(
        clean_local_stack,
        f"enrollment/{with_consent.usn}/front.jpg",
        with_consent.photos[1].read_bytes()[:3000],
    )
    # WHEN drained
    result = drain(clean_local_stack, database_url)
    # THEN no faceprint, and each row gives its reason
    assert result.errors == [] and result.failed_message_ids == []
    assert rows(engine, faceprints) == []
    reasons = {r.usn: (r.status, r.reason.split(":")[0]) for r in rows(engine, enrollments)}
    assert reasons == {without.usn: ("rejected", "no_consent"), with_consent.usn: ("rejected", "undecodable")}


def test_sample_sqs_event_with_an_encoded_key_reaches_the_photo(
    local_stack: LocalStack, students_engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The AWS-shaped sample event (``tests/events/sqs_s3_enrollment.json``) names
    ``enrollment/1MS21CS001/front+view.jpg``: the handler must decode it to ``front view.jpg``."""
    # GIVEN the object the sample event names, in the local bucket
    event = load_event("sqs_s3_enrollment")
    usn = "1MS21CS001"
    assert usn in {p.usn for p in PEOPLE}
    put(local_stack, f"enrollment/{usn}/front view.jpg", PEOPLE[1].photos[1].read_bytes())
    for name, value in local_stack.env("EnrollFunction", CLASSSIGHT_DATABASE_URL=database_url).items():
        monkeypatch.setenv(name, value)
    _fresh_handler_state()
    # WHEN the handler gets the event as Lambda would pass it
    try:
        response = enroll.lambda_handler(event, _LambdaContext())
    finally:
        _fresh_handler_state()
    # THEN the record succeeded and the photo was enrolled under the decoded pose
    assert response == {"batchItemFailures": []}
    assert [(f.usn, f.pose) for f in rows(students_engine, faceprints)] == [(usn, "front view")]


class _LambdaContext:
    function_name = "EnrollFunction"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:EnrollFunction"
    aws_request_id = "4a2e9d71-3c5b-4e8f-a1d6-7b9c0e2f4a13"


def test_database_outage_leaves_the_message_for_retry(
    local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transient failure must not be recorded as a rejection: the record fails and SQS retries it."""
    # GIVEN the photo named by the sample event, and a database that refuses connections
    event = load_event("sqs_s3_enrollment")
    put(local_stack, "enrollment/1MS21CS001/front view.jpg", PEOPLE[1].photos[1].read_bytes())
    unreachable = "mysql+pymysql://root@127.0.0.1:9/classsight"
    for name, value in local_stack.env("EnrollFunction", CLASSSIGHT_DATABASE_URL=unreachable).items():
        monkeypatch.setenv(name, value)
    _fresh_handler_state()
    try:
        # WHEN the handler gets the event
        with pytest.raises(BatchProcessingError) as failed:
            enroll.lambda_handler(event, _LambdaContext())
    finally:
        _fresh_handler_state()
    # THEN the batch fails (every record did) because the database is unavailable, so SQS
    # delivers it again later; nothing was recorded as a rejection
    [(error_type, _, _)] = failed.value.child_exceptions
    assert issubclass(error_type, DatabaseUnavailableError)


def test_s3_test_event_is_acknowledged_without_work() -> None:
    # GIVEN the s3:TestEvent S3 sends when the notification is configured (it names no object)
    event = load_event("sqs_s3_test_event")
    # WHEN / THEN the handler acknowledges it without touching settings, bucket or database
    assert enroll.lambda_handler(event, _LambdaContext()) == {"batchItemFailures": []}


def exists(stack: LocalStack, key: str) -> bool:
    listing = stack.client("s3").list_objects_v2(Bucket=stack.bucket_name, Prefix=key)
    return any(item["Key"] == key for item in listing.get("Contents", []))


def test_only_photos_that_became_faceprints_stay_in_the_bucket(
    clean_local_stack: LocalStack, students_engine: Engine, database_url: str
) -> None:
    # GIVEN for a consenting student a good photo and a photo of two people; a photo of nobody on
    # record; and an object under enrollment/ that names no student and pose
    person = PEOPLE[0]
    stray = uuid.uuid4().hex
    good, rejected = f"enrollment/{person.usn}/front.jpg", f"enrollment/{person.usn}/left.jpg"
    orphan, nameless = f"enrollment/NOBODY{stray[:8].upper()}/front.jpg", f"enrollment/{stray}.jpg"
    put(clean_local_stack, good, person.photos[1].read_bytes())
    put(clean_local_stack, rejected, TWO_PEOPLE.read_bytes())
    put(clean_local_stack, orphan, person.photos[2].read_bytes())
    put(clean_local_stack, nameless, person.photos[3].read_bytes())

    # WHEN drained
    result = drain(clean_local_stack, database_url)

    # THEN the accepted photo stays; the rejected, orphaned and nameless ones are deleted
    assert result.errors == [] and result.failed_message_ids == []
    assert [exists(clean_local_stack, key) for key in (good, rejected, orphan, nameless)] == [
        True,
        False,
        False,
        False,
    ]

    # WHEN the same pose is uploaded again under another key (the USN in lower case, as PNG)
    replacement = f"enrollment/{person.usn.lower()}/front.png"
    put(clean_local_stack, replacement, person.photos[4].read_bytes())
    assert drain(clean_local_stack, database_url).errors == []

    # THEN it enrolls the same student's pose, and the photo it replaced is deleted
    assert exists(clean_local_stack, replacement) and not exists(clean_local_stack, good)
    front = [r for r in rows(students_engine, enrollments) if r.pose == "front"]
    assert [(r.usn, r.status, r.object_key) for r in front] == [(person.usn, "accepted", replacement)]
    assert [(f.usn, f.pose) for f in rows(students_engine, faceprints)] == [(person.usn, "front")]
