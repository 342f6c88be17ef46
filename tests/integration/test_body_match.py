"""body_match on the real local stack, real databases, the real OSNet weights and real footage.

The last test closes the room loop: a student missed by the door camera is tagged through
body_match and cam2's own queue adapter and assigner, then confirmed by the presence function.

People are cropped from PETS09-S2L1 frames with the ground-truth boxes; one ground-truth
identity in different frames is one student. Gallery crops are written by cam2's own
``GalleryCropUploader`` (a track tagged by a door handoff) into the local bucket; body crops of
unknown tracks use cam2's key and metadata. Notifications travel through SQS to the real handler
(resolved from template.yaml); handoffs travel through SNS to the per-room queues.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import cv2
import numpy as np
import pytest
import sqlalchemy as sa
import supervision as sv
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from sqlalchemy.engine import Engine

from cloud_functions.body_match import handler as body_match
from cloud_functions.core.db import handoffs as handoffs_db
from cloud_functions.core.db.bodies import delete_body_prints
from cloud_functions.core.db.schema import attendance, body_prints, handoffs, recognition_events, students
from cloud_functions.core.errors import DatabaseUnavailableError
from cloud_functions.core.settings import function_settings
from cloud_functions.presence import handler as presence
from contracts.handoff import Handoff
from contracts.keys import body_capture_key
from edge_client.cam2.evaluation import MotSequence, load_mot_sequence
from edge_client.cam2.handoff import HandoffAssigner, ensure_room, parse_handoff
from edge_client.cam2.presence import BodyCropUploader, GalleryCropUploader, PresenceReporter
from edge_client.cam2.queue import SqsHandoffQueue
from edge_client.cam2.tracks import DoorZone, TrackRegistry
from infra.local_stack import LocalStack
from infra.seed import Person, Slot, seed_campus, seed_students
from tests.conftest import DATA_DIR
from tests.events import load_event

pytestmark = pytest.mark.slow

# Monday 2026-11-23 in Kolkata (UTC+05:30): CS501 runs 09:00-10:00 local = 03:30-04:30 UTC in R101.
CLASS_START = datetime(2026, 11, 23, 3, 30, tzinfo=UTC)
IN_CLASS = CLASS_START + timedelta(minutes=25)
OUT_OF_HOURS = CLASS_START + timedelta(hours=8)
# Ground-truth identities of PETS09-S2L1 as students (9, 15, 19) and as a stranger (11).
STUDENTS = {
    9: Person("1MS21CS109", "Nine", ()),
    15: Person("1MS21CS115", "Fifteen", ()),
    19: Person("1MS21CS119", "Nineteen", ()),
}
NO_CONSENT = Person("1MS21CS120", "Twenty", ())
STRANGER = 11

PREFIXES = ("captures/bodies/", "captures/gallery/")


def _keys_under(stack: LocalStack, prefixes: tuple[str, ...]) -> set[str]:
    s3 = stack.client("s3")
    keys: set[str] = set()
    for prefix in prefixes:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.bucket_name, Prefix=prefix):
            keys.update(item["Key"] for item in page.get("Contents", []))
    return keys


@pytest.fixture(autouse=True)
def _leave_the_bucket_as_found(local_stack: LocalStack) -> Iterator[None]:
    """Delete the objects a test put: the session bucket is shared, and other tests read these prefixes."""
    before = _keys_under(local_stack, PREFIXES)
    yield
    for key in sorted(_keys_under(local_stack, PREFIXES) - before):
        local_stack.client("s3").delete_object(Bucket=local_stack.bucket_name, Key=key)


@pytest.fixture(scope="module")
def sequence() -> MotSequence:
    return load_mot_sequence(DATA_DIR / "tracking" / "PETS09-S2L1")


def frame_image(sequence: MotSequence, frame: int) -> np.ndarray:
    image = cv2.imread(str(sequence.root / "img1" / f"{frame:06d}.jpg"))
    assert image is not None
    return image


def gt_detections(sequence: MotSequence, frame: int, identity: int, tracker_id: int) -> sv.Detections:
    box = next(b for b in sequence.gt_boxes(frame) if b.identity == identity)
    return sv.Detections(
        xyxy=np.array([box.xyxy], dtype=float),
        confidence=np.array([0.9]),
        class_id=np.array([0]),
        tracker_id=np.array([tracker_id]),
    )


def body_crop(sequence: MotSequence, frame: int, identity: int) -> bytes:
    box = next(b for b in sequence.gt_boxes(frame) if b.identity == identity)
    x1, y1, x2, y2 = (round(v) for v in box.xyxy)
    ok, jpeg = cv2.imencode(".jpg", frame_image(sequence, frame)[max(0, y1) : y2, max(0, x1) : x2])
    assert ok
    return jpeg.tobytes()


class BucketSink:
    """cam2's ``CaptureSink`` straight onto the local bucket (the outbox's uploader does this)."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.keys: list[str] = []

    def put(self, key: str, body: bytes, metadata: dict[str, str], content_type: str) -> None:
        self.stack.client("s3").put_object(
            Bucket=self.stack.bucket_name, Key=key, Body=body, Metadata=metadata, ContentType=content_type
        )
        self.keys.append(key)


def door_handoff(engine: Engine, usn: str, room_id: str, at: datetime) -> None:
    """The handoff face_match stores when it recognises the student at the room's door."""
    with engine.begin() as connection:
        handoffs_db.insert_handoff(
            connection,
            Handoff(
                usn=usn,
                capture_id=uuid.uuid4().hex,
                captured_at=at,
                similarity=0.7,
                course_code="CS501",
                room_id=room_id,
                camera_id=f"{room_id}-door",
                source="face",
            ),
        )


def upload_gallery(
    stack: LocalStack,
    sequence: MotSequence,
    identity: int,
    usn: str,
    *,
    room_id: str = "R101",
    at: datetime = IN_CLASS,
) -> list[str]:
    """Run cam2's gallery stage on a track of ``identity`` tagged by a face handoff, frames 1, 11, 21."""
    sink = BucketSink(stack)
    registry = TrackRegistry(DoorZone([]))
    uploader = GalleryCropUploader(sink, room_id, f"{room_id}-room", crops_per_track=3, interval_s=1.0)
    for step, frame in enumerate((1, 11, 21)):
        now = at + timedelta(seconds=1.5 * step)
        detections = registry.update_with_detections(gt_detections(sequence, frame, identity, 1), now)
        if step == 0:
            registry.tag(1, usn, "face", now)
        uploader.update_with_detections(detections, frame_image(sequence, frame), now, registry)
    return sink.keys


def put_body_crop(
    stack: LocalStack,
    body: bytes,
    *,
    room_id: str = "R101",
    camera_id: str | None = None,
    captured_at: datetime = IN_CLASS,
    metadata: dict[str, str] | None = None,
) -> tuple[str, str]:
    """A long-unknown track's crop as cam2's BodyCropUploader puts it; returns (key, capture_id)."""
    capture_id = uuid.uuid4().hex
    key = body_capture_key(room_id, captured_at, capture_id)
    if metadata is None:
        metadata = {
            "room_id": room_id,
            "camera_id": camera_id or f"{room_id}-room",
            "captured_at": captured_at.isoformat(),
            "capture_id": capture_id,
            "tracker_id": "42",
        }
    stack.client("s3").put_object(
        Bucket=stack.bucket_name, Key=key, Body=body, Metadata=metadata, ContentType="image/jpeg"
    )
    return key, capture_id


def drain(stack: LocalStack, database_url: str, **env: str) -> Any:
    """Deliver the waiting crops to the real handler, with fresh settings and model."""
    function_settings.cache_clear()
    body_match.body_match_service.cache_clear()
    result = stack.drain(
        "BodyMatchFunction", wait_s=1, environment_overrides={"CLASSSIGHT_DATABASE_URL": database_url, **env}
    )
    function_settings.cache_clear()
    body_match.body_match_service.cache_clear()
    return result


def room_messages(stack: LocalStack, room_id: str) -> list[dict[str, Any]]:
    sqs = stack.client("sqs")
    url = stack.room_queue_url(room_id)
    bodies = []
    while True:
        response = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageAttributeNames=["All"]
        )
        messages = response.get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            body = json.loads(message["Body"])
            body["_room_attribute"] = (
                message.get("MessageAttributes", {}).get("room_id", {}).get("StringValue")
            )
            bodies.append(body)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def rows(engine: Engine, table: sa.Table) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(sa.select(table).order_by(table.c.id)))


def object_exists(stack: LocalStack, key: str) -> bool:
    listed = stack.client("s3").list_objects_v2(Bucket=stack.bucket_name, Prefix=key)
    return any(item["Key"] == key for item in listed.get("Contents", []))


@pytest.fixture
def stack(clean_local_stack: LocalStack) -> Iterator[LocalStack]:
    room_messages(clean_local_stack, "R101")
    room_messages(clean_local_stack, "R102")
    yield clean_local_stack


@pytest.fixture
def campus(engine: Engine) -> Engine:
    """R101/R102, CS501 in R101 and CS502 in R102 on Mondays 09:00-10:00 (Kolkata); the students."""
    seed_campus(
        engine, [Slot("CS501", "R101", 0, time(9), time(10)), Slot("CS502", "R102", 0, time(9), time(10))]
    )
    seed_students(engine, [*STUDENTS.values(), NO_CONSENT])
    with engine.begin() as connection:
        connection.execute(
            students.update()
            .where(students.c.usn == NO_CONSENT.usn)
            .values(consent_given_at=None, consent_given_by=None)
        )
    return engine


@pytest.fixture
def gallery(stack: LocalStack, campus: Engine, database_url: str, sequence: MotSequence) -> Engine:
    """Today's R101 gallery: each student handed off at the door, then three crops sent by cam2."""
    for identity, person in STUDENTS.items():
        door_handoff(campus, person.usn, "R101", IN_CLASS - timedelta(seconds=3))
        upload_gallery(stack, sequence, identity, person.usn)
    result = drain(stack, database_url)
    assert result.errors == [] and len(result.records) == 9
    return campus


def test_gallery_crops_become_body_prints_and_are_deleted_from_the_bucket(
    stack: LocalStack, campus: Engine, database_url: str, sequence: MotSequence
) -> None:
    # GIVEN a student handed off to R101 by the door camera, and cam2 sending three crops of the
    # track that handoff tagged
    person = STUDENTS[15]
    door_handoff(campus, person.usn, "R101", IN_CLASS - timedelta(seconds=3))
    keys = upload_gallery(stack, sequence, 15, person.usn)
    assert len(keys) == 3 and all(
        k.startswith(f"captures/gallery/R101/2026-11-23/{person.usn}/") for k in keys
    )

    # WHEN they are delivered
    log = io.StringIO()
    previous = body_match.logger.registered_handler.setStream(log)  # type: ignore[attr-defined]
    try:
        result = drain(stack, database_url)
    finally:
        body_match.logger.registered_handler.setStream(previous)  # type: ignore[attr-defined]

    # THEN three unit-length 512-d prints exist for the student, room and room-local day ...
    assert result.errors == [] and len(result.records) == 3
    prints = rows(campus, body_prints)
    assert {(p.usn, p.room_id, p.class_date, p.model_id, p.dim) for p in prints} == {
        (person.usn, "R101", date(2026, 11, 23), "reid:osnet_x0_25_msmt17", 512)
    }
    assert len(prints) == 3
    assert all(abs(np.linalg.norm(np.frombuffer(p.embedding, dtype=np.float32)) - 1) < 1e-4 for p in prints)
    # ... the images are gone from the bucket, each crop has one event, and no handoff was sent
    assert not any(object_exists(stack, key) for key in keys)
    assert sorted(e.outcome for e in rows(campus, recognition_events)) == ["gallery_stored"] * 3
    assert room_messages(stack, "R101") == []
    # AND the logs carry outcomes and timings but no image or embedding
    lines = [json.loads(x) for x in log.getvalue().splitlines() if '"body crop processed"' in x]
    assert [line["outcome"] for line in lines] == ["gallery_stored"] * 3
    assert all("embed" in line["timings_ms"] for line in lines)
    assert not any({"embedding", "image", "body"} & set(line) for line in lines)

    # WHEN one is delivered again
    stack.client("s3").put_object(Bucket=stack.bucket_name, Key=keys[0], Body=b"redelivered")
    again = drain(stack, database_url)

    # THEN nothing new is stored, and the object is deleted again
    assert again.errors == [] and len(rows(campus, body_prints)) == 3
    assert len(rows(campus, recognition_events)) == 3 and not object_exists(stack, keys[0])


def test_unknown_track_is_tagged_with_the_right_student_only_in_its_room(
    stack: LocalStack, gallery: Engine, database_url: str, sequence: MotSequence
) -> None:
    # GIVEN crops of two students from much later frames, and of a stranger who never came
    # through the door, sent as long-unknown tracks of R101
    nine_key, nine_capture = put_body_crop(stack, body_crop(sequence, 101, 9))
    nineteen_key, nineteen_capture = put_body_crop(stack, body_crop(sequence, 131, 19))
    stranger_key, _ = put_body_crop(stack, body_crop(sequence, 97, STRANGER))

    # WHEN they are delivered
    result = drain(stack, database_url)

    # THEN the two students are recognised and the stranger is unknown
    assert result.errors == [] and result.failed_message_ids == []
    events = {
        e.object_key: e
        for e in rows(gallery, recognition_events)
        if e.object_key.startswith("captures/bodies/")
    }
    assert (events[nine_key].outcome, events[nine_key].usn) == ("body_recognised", STUDENTS[9].usn)
    assert (events[nineteen_key].outcome, events[nineteen_key].usn) == ("body_recognised", STUDENTS[19].usn)
    assert (events[stranger_key].outcome, events[stranger_key].usn) == ("body_unknown", None)
    assert events[nine_key].similarity >= 0.75
    # AND R101 (only) got one body handoff per recognised crop, carrying the crop's capture id
    messages = room_messages(stack, "R101")
    assert {(m["usn"], m["capture_id"]) for m in messages} == {
        (STUDENTS[9].usn, nine_capture),
        (STUDENTS[19].usn, nineteen_capture),
    }
    assert all(
        m["source"] == "body" and m["room_id"] == "R101" and m["course_code"] == "CS501" for m in messages
    )
    assert all(m["_room_attribute"] == "R101" for m in messages)
    assert room_messages(stack, "R102") == []
    assert all(h.message_id for h in rows(gallery, handoffs) if h.source == "body")
    # AND body matching writes no attendance: presence confirms it once the tagged track stays
    assert rows(gallery, attendance) == []

    # WHEN the crops are delivered again
    for key in (nine_key, nineteen_key, stranger_key):
        stack.client("s3").copy_object(
            Bucket=stack.bucket_name,
            Key=key,
            CopySource={"Bucket": stack.bucket_name, "Key": key},
            MetadataDirective="COPY",
        )
    again = drain(stack, database_url)

    # THEN nothing new is recorded or published
    assert again.errors == [] and len(again.records) == 3
    assert len([h for h in rows(gallery, handoffs) if h.source == "body"]) == 2
    assert room_messages(stack, "R101") == []


def test_another_rooms_gallery_is_not_used(
    stack: LocalStack, gallery: Engine, database_url: str, sequence: MotSequence
) -> None:
    # GIVEN a student of R101's gallery, seen as a long-unknown track in R102
    key, _ = put_body_crop(stack, body_crop(sequence, 101, 9), room_id="R102")

    # WHEN the crop is delivered
    result = drain(stack, database_url)

    # THEN R102's gallery of the day is empty, the answer is unknown, and nobody gets a handoff
    assert result.errors == []
    [event] = [e for e in rows(gallery, recognition_events) if e.object_key == key]
    assert (event.outcome, event.usn) == ("body_unknown", None)
    assert room_messages(stack, "R101") == [] and room_messages(stack, "R102") == []


def _gallery_put(
    stack: LocalStack, sequence: MotSequence, usn: str, metadata_update: dict[str, str] | None = None
) -> str:
    capture_id = uuid.uuid4().hex
    key = f"captures/gallery/R101/2026-11-23/{usn}/{capture_id}.jpg"
    metadata = {
        "room_id": "R101",
        "camera_id": "R101-room",
        "captured_at": IN_CLASS.isoformat(),
        "capture_id": capture_id,
        "tracker_id": "5",
        "usn": usn,
        **(metadata_update or {}),
    }
    stack.client("s3").put_object(
        Bucket=stack.bucket_name,
        Key=key,
        Body=body_crop(sequence, 30, 15),
        Metadata=metadata,
        ContentType="image/jpeg",
    )
    return key


@pytest.mark.parametrize(
    ("case", "usn", "handed_off", "metadata_update", "outcome"),
    [
        ("no door handoff to this room", STUDENTS[15].usn, False, {}, "no_door_handoff"),
        ("no consent recorded", NO_CONSENT.usn, True, {}, "no_consent"),
        ("not a student", "1MS21CS999", False, {}, "unknown_student"),
        ("door camera's id", STUDENTS[15].usn, True, {"camera_id": "R101-door"}, "camera_not_in_room"),
        ("no usn in the metadata", STUDENTS[15].usn, True, {"usn": ""}, "missing_metadata"),
    ],
)
def test_gallery_crops_that_may_not_become_prints_are_recorded_and_not_stored(
    stack: LocalStack,
    campus: Engine,
    database_url: str,
    sequence: MotSequence,
    case: str,
    usn: str,
    handed_off: bool,
    metadata_update: dict[str, str],
    outcome: str,
) -> None:
    # GIVEN a gallery crop that is wrong in one way
    if handed_off:
        door_handoff(campus, usn, "R101", IN_CLASS - timedelta(seconds=3))
    key = _gallery_put(stack, sequence, usn, metadata_update)

    # WHEN it is delivered
    result = drain(stack, database_url)

    # THEN its outcome is recorded and no print exists
    assert result.errors == [] and result.failed_message_ids == [], case
    [event] = rows(campus, recognition_events)
    assert (event.object_key, event.outcome, event.usn) == (key, outcome, None), case
    assert rows(campus, body_prints) == []


def test_gallery_is_bounded_per_student_and_day(
    stack: LocalStack, campus: Engine, database_url: str, sequence: MotSequence
) -> None:
    # GIVEN a two-print limit, and a student handed off with three gallery crops
    person = STUDENTS[9]
    door_handoff(campus, person.usn, "R101", IN_CLASS - timedelta(seconds=3))
    upload_gallery(stack, sequence, 9, person.usn)
    # WHEN they are delivered
    result = drain(stack, database_url, CLASSSIGHT_BODY_GALLERY_MAX_PER_STUDENT="2")
    # THEN two prints are kept and the third crop is recorded as refused
    assert result.errors == []
    assert len(rows(campus, body_prints)) == 2
    assert sorted(e.outcome for e in rows(campus, recognition_events)) == [
        "gallery_full",
        *["gallery_stored"] * 2,
    ]


def test_body_prints_go_with_the_day_and_with_the_students_biometric_data(
    stack: LocalStack, gallery: Engine, database_url: str, sequence: MotSequence
) -> None:
    # GIVEN Monday's prints of three students in R101 (the gallery fixture)
    assert len(rows(gallery, body_prints)) == 9

    # WHEN a student's biometric data is deleted
    with gallery.begin() as connection:
        deleted = delete_body_prints(connection, STUDENTS[9].usn)
    # THEN their prints are gone
    assert deleted == 3
    assert {p.usn for p in rows(gallery, body_prints)} == {STUDENTS[15].usn, STUDENTS[19].usn}

    # WHEN the next day's first gallery crop arrives (Tuesday, handed off at the door)
    tuesday = IN_CLASS + timedelta(days=1)
    door_handoff(gallery, STUDENTS[15].usn, "R101", tuesday - timedelta(seconds=3))
    upload_gallery(stack, sequence, 15, STUDENTS[15].usn, at=tuesday)
    result = drain(stack, database_url)

    # THEN Monday's prints are deleted and only Tuesday's are kept
    assert result.errors == []
    assert {(p.usn, p.class_date) for p in rows(gallery, body_prints)} == {
        (STUDENTS[15].usn, date(2026, 11, 24))
    }


def _truncated(sequence: MotSequence) -> bytes:
    data = body_crop(sequence, 101, 9)
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    ("case", "body", "put_options", "outcome"),
    [
        (
            "outside class hours",
            lambda s: body_crop(s, 101, 9),
            {"captured_at": OUT_OF_HOURS},
            "no_class_in_session",
        ),
        ("unknown room", lambda s: body_crop(s, 101, 9), {"room_id": "R999"}, "unknown_room"),
        (
            "door camera's id",
            lambda s: body_crop(s, 101, 9),
            {"camera_id": "R101-door"},
            "camera_not_in_room",
        ),
        ("missing metadata", lambda s: body_crop(s, 101, 9), {"metadata": {}}, "missing_metadata"),
        ("not an image", lambda s: b"%PDF-1.4 not a crop", {}, "undecodable"),
        ("truncated JPEG", _truncated, {}, "undecodable"),
        (
            "too small to re-identify",
            lambda s: cv2.imencode(".jpg", np.full((30, 12, 3), 128, np.uint8))[1].tobytes(),
            {},
            "too_small",
        ),
    ],
)
def test_bad_body_crops_are_recorded_with_their_outcome_and_nothing_else(
    stack: LocalStack,
    gallery: Engine,
    database_url: str,
    sequence: MotSequence,
    case: str,
    body: Any,
    put_options: dict[str, Any],
    outcome: str,
) -> None:
    # GIVEN today's gallery, and a body crop that is wrong in one way
    key, _ = put_body_crop(stack, body(sequence), **put_options)

    # WHEN it is delivered
    result = drain(stack, database_url)

    # THEN the batch succeeded, one event records the outcome, and no handoff exists
    assert result.errors == [] and result.failed_message_ids == [], case
    [event] = [e for e in rows(gallery, recognition_events) if e.object_key == key]
    assert (event.outcome, event.usn) == (outcome, None), case
    assert [h for h in rows(gallery, handoffs) if h.source == "body"] == []
    assert room_messages(stack, "R101") == [] and room_messages(stack, "R102") == []


def drain_presence(stack: LocalStack, database_url: str) -> Any:
    function_settings.cache_clear()
    presence.presence_service.cache_clear()
    result = stack.drain(
        "PresenceFunction", wait_s=1, environment_overrides={"CLASSSIGHT_DATABASE_URL": database_url}
    )
    function_settings.cache_clear()
    presence.presence_service.cache_clear()
    return result


def test_student_missed_at_the_door_is_tagged_by_body_match_and_confirmed_by_presence(
    stack: LocalStack, gallery: Engine, database_url: str, sequence: MotSequence
) -> None:
    # GIVEN R101's body gallery of the day (three students handed off at the door), and cam2
    # watching a track of student "9" whose door handoff never reached it
    sink = BucketSink(stack)
    registry = TrackRegistry(DoorZone([]), forget_after_s=3600)
    assigner = HandoffAssigner()
    stages = [
        BodyCropUploader(
            sink, "R101", "R101-room", unknown_after_s=20, on_capture=assigner.register_body_capture
        ),
        PresenceReporter(sink, "R101", "R101-room", interval_s=30),
    ]

    def frame(number: int, at_s: float) -> None:
        at = CLASS_START + timedelta(seconds=at_s)
        detections = registry.update_with_detections(gt_detections(sequence, number, 9, 42), at)
        assigner.update(registry, at)
        for stage in stages:
            stage.update_with_detections(detections, frame_image(sequence, number), at, registry)

    frame(60, 60)  # appears one minute into the class; the first presence report lists nobody
    frame(101, 85)  # unknown for 25 s: a body crop goes to the bucket

    # WHEN body_match handles the crop, and cam2 reads its room queue
    body_keys = [k for k in sink.keys if k.startswith("captures/bodies/")]
    assert len(body_keys) == 1
    assert drain(stack, database_url).errors == []
    queue = SqsHandoffQueue(stack.room_queue_url("R101"), stack.client("sqs"))
    messages = queue.receive(wait_s=1)
    assert len(messages) == 1
    for message in messages:
        handoff = ensure_room(parse_handoff(message.body, message.attributes), "R101")
        assigner.submit(handoff, message.receipt_handle)
    frame(102, 86)

    # THEN the track carries the student's USN, from body evidence
    assert (registry.records[42].usn, registry.records[42].usn_source) == (STUDENTS[9].usn, "body")

    # WHEN the student stays, and cam2's next reports reach the presence function
    frame(120, 60 * 12)
    result = drain_presence(stack, database_url)

    # THEN attendance is confirmed for CS501: never seen at the door, so 'present' from 'body',
    # confirmed ten minutes after the student appeared
    assert result.errors == [] and len(result.records) == 2
    with gallery.connect() as connection:
        [row] = connection.execute(sa.select(attendance)).all()
    assert (row.usn, row.course_code, row.status, row.source) == (STUDENTS[9].usn, "CS501", "present", "body")
    assert row.first_seen_at is None and row.confirmed_at == CLASS_START + timedelta(minutes=11)


class _LambdaContext:
    function_name = "BodyMatchFunction"
    memory_limit_in_mb = 2048
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:BodyMatchFunction"
    aws_request_id = "0d7c3b9e-5a21-4c6f-8e3b-1f4a6d8c2e75"


# The sample event names this crop: Monday 2024-05-06, during CS501's weekly slot.
SAMPLE_KEY = "captures/bodies/R101/2024-05-06/track-17-9c1e2a3b.jpg"
SAMPLE_AT = datetime(2024, 5, 6, 3, 45, tzinfo=UTC)


def _put_sample_crop(stack: LocalStack, sequence: MotSequence) -> None:
    stack.client("s3").put_object(
        Bucket=stack.bucket_name,
        Key=SAMPLE_KEY,
        Body=body_crop(sequence, 101, 9),
        Metadata={
            "room_id": "R101",
            "camera_id": "R101-room",
            "captured_at": SAMPLE_AT.isoformat(),
            "capture_id": "track-17-9c1e2a3b",
            "tracker_id": "17",
        },
        ContentType="image/jpeg",
    )


def _call_handler(stack: LocalStack, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in stack.env("BodyMatchFunction", CLASSSIGHT_DATABASE_URL=database_url).items():
        monkeypatch.setenv(name, value)
    function_settings.cache_clear()
    body_match.body_match_service.cache_clear()
    try:
        return body_match.lambda_handler(load_event("sqs_s3_body_capture"), _LambdaContext())
    finally:
        function_settings.cache_clear()
        body_match.body_match_service.cache_clear()


def test_sample_sqs_event_reaches_the_crop_it_names(
    stack: LocalStack,
    campus: Engine,
    database_url: str,
    sequence: MotSequence,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN the crop the AWS-shaped sample event names, on a day with no body gallery in R101
    _put_sample_crop(stack, sequence)
    # WHEN the handler gets the event as Lambda would pass it
    response = _call_handler(stack, database_url, monkeypatch)
    # THEN the record succeeded with the answer "unknown", and nothing was published
    assert response == {"batchItemFailures": []}
    [event] = rows(campus, recognition_events)
    assert (event.object_key, event.outcome, event.capture_id) == (
        SAMPLE_KEY,
        "body_unknown",
        "track-17-9c1e2a3b",
    )
    assert room_messages(stack, "R101") == []


def test_database_outage_leaves_the_message_for_retry(
    stack: LocalStack, sequence: MotSequence, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the sample event's crop, and a database that refuses connections
    _put_sample_crop(stack, sequence)
    # WHEN the handler gets the event
    with pytest.raises(BatchProcessingError) as failed:
        _call_handler(stack, "mysql+pymysql://root@127.0.0.1:9/classsight", monkeypatch)
    # THEN the batch fails because the database is unavailable, so SQS delivers it again later
    [(error_type, _, _)] = failed.value.child_exceptions
    assert issubclass(error_type, DatabaseUnavailableError)


def scheduled_event(at: str) -> dict[str, Any]:
    """The event EventBridge sends for the template's BodyPrintRetention schedule."""
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": at,
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/classsight-dev-BodyPrintRetention"],
        "detail": {},
    }


@pytest.mark.parametrize(
    ("at", "kept"),
    [
        ("2026-11-23T18:29:00Z", 9),  # 23:59 in Kolkata: Monday's prints are still in use
        ("2026-11-23T18:31:00Z", 0),  # 00:01 on Tuesday in Kolkata: Monday's prints are gone
    ],
)
def test_hourly_schedule_deletes_prints_once_their_rooms_day_is_over(
    stack: LocalStack, gallery: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch, at: str, kept: int
) -> None:
    # GIVEN Monday's nine prints in R101 (Asia/Kolkata)
    assert len(rows(gallery, body_prints)) == 9
    for name, value in stack.env("BodyMatchFunction", CLASSSIGHT_DATABASE_URL=database_url).items():
        monkeypatch.setenv(name, value)
    function_settings.cache_clear()
    body_match.body_match_service.cache_clear()
    try:
        # WHEN the retention schedule fires
        response = body_match.lambda_handler(scheduled_event(at), _LambdaContext())
    finally:
        function_settings.cache_clear()
        body_match.body_match_service.cache_clear()
    # THEN prints are deleted only once the room's local day has ended
    assert response == {"deleted": 9 - kept}
    assert len(rows(gallery, body_prints)) == kept


class ListSink:
    def __init__(self) -> None:
        self.puts: list[tuple[str, dict[str, str]]] = []

    def put(self, key: str, body: bytes, metadata: dict[str, str], content_type: str) -> None:
        assert cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR) is not None
        self.puts.append((key, metadata))


@pytest.mark.parametrize(
    ("source", "frames_at_s", "crops"),
    [
        ("face", (0, 1, 2, 3, 4, 5, 6), 3),  # at most three, one per interval (2 s here)
        ("face", (0, 1), 1),  # the second is too soon after the first
        ("body", (0, 2, 4, 6), 0),  # a body match's tag is weaker evidence: no gallery crop
        ("reid", (0, 2, 4, 6), 0),  # nor is a re-id carry-over
        (None, (0, 2, 4, 6), 0),  # an unknown track has no name to file a crop under
    ],
)
def test_cam2_sends_gallery_crops_only_of_tracks_a_door_handoff_tagged(
    sequence: MotSequence, source: str | None, frames_at_s: tuple[int, ...], crops: int
) -> None:
    # GIVEN a track of identity 15 tagged from the given evidence, on real frames
    sink = ListSink()
    registry = TrackRegistry(DoorZone([]))
    uploader = GalleryCropUploader(sink, "R101", "R101-room", crops_per_track=3, interval_s=2.0)
    # WHEN cam2's gallery stage sees it frame after frame
    for step, at_s in enumerate(frames_at_s):
        now = IN_CLASS + timedelta(seconds=at_s)
        detections = registry.update_with_detections(gt_detections(sequence, 1 + 5 * step, 15, 1), now)
        if step == 0 and source is not None:
            registry.tag(1, STUDENTS[15].usn, source, now)  # type: ignore[arg-type]
        uploader.update_with_detections(detections, frame_image(sequence, 1 + 5 * step), now, registry)
    # THEN the expected number of crops went out, filed under the student with cam2's metadata
    assert len(sink.puts) == crops
    for key, metadata in sink.puts:
        assert key.startswith(f"captures/gallery/R101/2026-11-23/{STUDENTS[15].usn}/")
        assert key.endswith(f"/{metadata['capture_id']}.jpg")
        assert (metadata["usn"], metadata["room_id"], metadata["tracker_id"]) == (
            STUDENTS[15].usn,
            "R101",
            "1",
        )


def test_a_body_crop_reusing_a_capture_id_or_with_an_overlong_key_gets_one_recorded_outcome(
    stack: LocalStack, campus: Engine, database_url: str, sequence: MotSequence
) -> None:
    # GIVEN a body crop, a second crop carrying the first one's capture id, and a crop under a
    # 700-character key
    first_key, capture_id = put_body_crop(stack, body_crop(sequence, 80, 15))
    second_key, _ = put_body_crop(
        stack,
        body_crop(sequence, 90, 15),
        metadata={
            "room_id": "R101",
            "camera_id": "R101-room",
            "captured_at": IN_CLASS.isoformat(),
            "capture_id": capture_id,
        },
    )
    long_key = "captures/bodies/R101/2026-11-23/" + "b" * 664 + ".jpg"
    stack.client("s3").put_object(Bucket=stack.bucket_name, Key=long_key, Body=body_crop(sequence, 80, 15))

    # WHEN they are delivered
    result = drain(stack, database_url)

    # THEN nothing fails, and each object has exactly one event saying what became of it
    assert result.errors == [] and result.failed_message_ids == []
    events = {e.object_key: e.outcome for e in rows(campus, recognition_events)}
    assert len(events) == 3
    assert events[first_key] == "body_unknown"  # nobody is in today's gallery
    assert events[second_key] == "duplicate_capture_id"
    [(stored_long, outcome)] = [(k, o) for k, o in events.items() if k not in (first_key, second_key)]
    assert outcome == "key_too_long" and len(stored_long) == 512


def test_a_body_crop_dated_far_from_its_arrival_is_refused(
    stack: LocalStack, campus: Engine, database_url: str, sequence: MotSequence
) -> None:
    # GIVEN a crop of a class days ago that reaches the bucket only now
    key, _ = put_body_crop(stack, body_crop(sequence, 80, 15))
    # WHEN it is delivered with the production bound on capture age (24 h)
    result = drain(stack, database_url, CLASSSIGHT_CAPTURE_MAX_AGE="PT24H")
    # THEN it is recorded as implausible and nobody is handed off
    assert result.errors == []
    [event] = rows(campus, recognition_events)
    assert (event.object_key, event.outcome) == (key, "implausible_capture_time")
    assert room_messages(stack, "R101") == []
