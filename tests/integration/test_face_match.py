"""face_match on the real local stack, real databases and real weights.

Captures are real LFW photos put into the local bucket with cam1's metadata; the S3
notification travels through SQS to the real handler (resolved from template.yaml); handoffs
travel through SNS to the per-room queues.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import random
import socket
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import numpy as np
import pytest
import sqlalchemy as sa
from PIL import Image, ImageFilter
from sqlalchemy.engine import Engine

from cloud_functions.core.db.schema import (
    attendance,
    enrollment_flags,
    handoffs,
    recognition_events,
)
from cloud_functions.core.doorway import DoorwayService
from cloud_functions.core.errors import HandoffPublishPendingError, MessagingError
from cloud_functions.core.faces import (
    EnrollmentPhoto,
    FacePipeline,
    FaceprintRepository,
    FaceRejectedError,
    Matcher,
)
from cloud_functions.core.faces.enrollment import enrollment_service
from cloud_functions.core.handoff import SnsHandoffPublisher
from cloud_functions.core.settings import FaceModelSettings, function_settings
from cloud_functions.core.storage import S3ObjectStore
from cloud_functions.core.timetable import CaptureTimeBounds
from cloud_functions.face_match import handler as face_match
from contracts.appearance import encode_appearance
from contracts.handoff import Handoff
from infra.local_stack import LambdaContext, LocalStack
from infra.seed import Person, Slot, lfw_people, seed_campus, seed_roster, seed_students
from tests.conftest import DATA_DIR
from tests.events import load_event
from tests.integration.delivery_storm import StormJob, deliver_storm, start_storm

LFW = DATA_DIR / "faces" / "lfw_subset"
PEOPLE = {p.name.replace(" ", "_"): p for p in lfw_people(LFW)}
# Monday 2026-11-23 09:05 in Kolkata (UTC+05:30): CS501 runs 09:00-10:00 in R101.
IN_CLASS = datetime(2026, 11, 23, 3, 35, tzinfo=UTC)
OUT_OF_HOURS = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # 17:30 local
# The captures above reach the bucket today: a service built here accepts their age (conftest).
REPLAYED_CALENDAR = CaptureTimeBounds(max_age=timedelta(days=3650))


def usn_of(name: str) -> str:
    return PEOPLE[name].usn


def photo(name: str, number: int) -> bytes:
    return (LFW / "known" / name / f"{name}_{number:04d}.jpg").read_bytes()


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def pipeline() -> FacePipeline:
    return FacePipeline.from_settings(FaceModelSettings())


@pytest.fixture(scope="module")
def gallery(pipeline: FacePipeline) -> list[tuple[str, str, str, Any]]:
    """(usn, pose, model_id, embedding) for the first three photos of each person that pass enrollment."""
    rows = []
    for name in PEOPLE:
        enrolled = 0
        for number in range(1, 7):
            try:
                analysis = pipeline.analyse(photo(name, number), "enroll")
            except FaceRejectedError:
                continue
            rows.append((usn_of(name), f"pose{number}", analysis.model_id, analysis.embedding))
            enrolled += 1
            if enrolled == 3:
                break
        assert enrolled >= 2, name
    return rows


@pytest.fixture
def campus(engine: Engine, gallery: list[tuple[str, str, str, Any]]) -> Engine:
    """Rooms, CS501 timetabled in R101 (Mondays 09:00-10:00), the LFW people enrolled with consent."""
    seed_campus(engine, [Slot("CS501", "R101", 0, time(9), time(10))])
    seed_students(engine, list(PEOPLE.values()))
    repository = FaceprintRepository(engine)
    for usn, pose, model_id, embedding in gallery:
        repository.save(usn, pose, model_id, embedding)
    return engine


@dataclass
class Capture:
    key: str
    capture_id: str


def put_capture(
    stack: LocalStack,
    body: bytes,
    *,
    room_id: str = "R101",
    camera_id: str | None = None,
    captured_at: datetime = IN_CLASS,
    metadata: dict[str, str] | None = None,
) -> Capture:
    capture_id = str(uuid.uuid4())
    key = f"captures/faces/{room_id}/{captured_at.date().isoformat()}/{capture_id}.jpg"
    if metadata is None:
        metadata = {
            "room_id": room_id,
            "camera_id": camera_id or f"{room_id}-door",
            "captured_at": captured_at.isoformat(),
            "capture_id": capture_id,
        }
    stack.client("s3").put_object(
        Bucket=stack.bucket_name, Key=key, Body=body, Metadata=metadata, ContentType="image/jpeg"
    )
    return Capture(key, capture_id)


def drain(stack: LocalStack, database_url: str, **env: str) -> Any:
    """Deliver the waiting face captures to the real handler, with fresh settings and models."""
    function_settings.cache_clear()
    face_match.doorway_service.cache_clear()
    result = stack.drain(
        "FaceMatchFunction",
        wait_s=1,
        environment_overrides={"CLASSSIGHT_DATABASE_URL": database_url, **env},
    )
    function_settings.cache_clear()
    face_match.doorway_service.cache_clear()
    return result


def room_messages(stack: LocalStack, room_id: str) -> list[dict[str, Any]]:
    sqs = stack.client("sqs")
    url = stack.room_queue_url(room_id)
    bodies = []
    while True:
        response = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = response.get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            body = json.loads(message["Body"])
            bodies.append(json.loads(body["Message"]) if "Message" in body and "TopicArn" in body else body)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def table_rows(engine: Engine, table: sa.Table) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(sa.select(table)))


@pytest.fixture
def stack(clean_local_stack: LocalStack) -> Iterator[LocalStack]:
    room_messages(clean_local_stack, "R101")
    room_messages(clean_local_stack, "R102")
    yield clean_local_stack


def test_known_student_in_class_gets_one_attendance_row_and_one_handoff_to_their_room(
    stack: LocalStack, campus: Engine, database_url: str
) -> None:
    # GIVEN a held-out photo of an enrolled student captured at R101's door during CS501
    name = "Colin_Powell"
    capture = put_capture(stack, photo(name, 10))

    # WHEN the notification is delivered to face_match
    log = io.StringIO()
    previous = face_match.logger.registered_handler.setStream(log)  # type: ignore[attr-defined]
    try:
        result = drain(stack, database_url)
    finally:
        face_match.logger.registered_handler.setStream(previous)  # type: ignore[attr-defined]

    # THEN it succeeded, attendance has one 'entered' row and R101 (only) got the handoff
    assert result.errors == [] and result.failed_message_ids == []
    [row] = table_rows(campus, attendance)
    assert (row.usn, row.course_code, row.status, row.source) == (usn_of(name), "CS501", "entered", "face")
    assert row.class_date.isoformat() == "2026-11-23" and row.capture_id == capture.capture_id
    [event] = table_rows(campus, recognition_events)
    assert (event.outcome, event.usn, event.object_key) == ("recognised", usn_of(name), capture.key)
    assert event.latency_ms > 0
    [message] = room_messages(stack, "R101")
    assert message["usn"] == usn_of(name) and message["capture_id"] == capture.capture_id
    assert message["course_code"] == "CS501" and message["room_id"] == "R101"
    assert room_messages(stack, "R102") == []
    [handoff] = table_rows(campus, handoffs)
    assert handoff.message_id  # published and marked

    # AND the log line is structured, carries the capture id and per-stage timings, and no biometrics
    [line] = [json.loads(x) for x in log.getvalue().splitlines() if '"capture processed"' in x]
    assert line["correlation_id"] == capture.capture_id and line["outcome"] == "recognised"
    assert {"download", "detect", "embed", "match", "db", "publish"} <= set(line["timings_ms"])
    assert not {"embedding", "image", "body"} & set(line)

    # WHEN the same object is delivered again (S3 and SQS deliver at least once)
    stack.client("s3").put_object(
        Bucket=stack.bucket_name,
        Key=capture.key,
        Body=photo(name, 10),
        Metadata={
            "room_id": "R101",
            "camera_id": "R101-door",
            "captured_at": IN_CLASS.isoformat(),
            "capture_id": capture.capture_id,
        },
    )
    again = drain(stack, database_url)

    # THEN it is acknowledged and nothing new exists
    assert again.errors == [] and len(again.records) == 1
    assert len(table_rows(campus, attendance)) == 1
    assert len(table_rows(campus, recognition_events)) == 1
    assert len(table_rows(campus, handoffs)) == 1
    assert room_messages(stack, "R101") == []


_DOOR_COLOUR = tuple(v / float(np.linalg.norm(np.arange(1, 49))) for v in range(1, 49))


@pytest.mark.parametrize(
    ("case", "appearance", "carried", "detail"),
    [
        ("a descriptor", encode_appearance(_DOOR_COLOUR), True, None),
        ("none sent (older cam1)", None, False, None),
        ("not hex", "not-a-colour", False, "appearance ignored: appearance must be 96 hex digits"),
        ("too long", "ab" * 200, False, "appearance ignored: appearance must be 96 hex digits"),
        ("all zero", "00" * 48, False, "appearance ignored: appearance is all zero"),
    ],
)
def test_the_door_cameras_clothing_colour_rides_on_the_handoff_and_a_bad_one_is_dropped_and_noted(
    stack: LocalStack,
    campus: Engine,
    database_url: str,
    case: str,
    appearance: str | None,
    carried: bool,
    detail: str | None,
) -> None:
    # GIVEN a capture of an enrolled student in class whose metadata carries a clothing colour
    capture_id = str(uuid.uuid4())
    metadata = {
        "room_id": "R101",
        "camera_id": "R101-door",
        "captured_at": IN_CLASS.isoformat(),
        "capture_id": capture_id,
    }
    if appearance is not None:
        metadata["appearance"] = appearance
    put_capture(stack, photo("Colin_Powell", 10), metadata=metadata)
    # WHEN it is delivered
    result = drain(stack, database_url)
    # THEN the student is recognised and handed off whatever the colour's state
    assert result.errors == [] and result.failed_message_ids == [], case
    [event] = table_rows(campus, recognition_events)
    assert (event.outcome, event.usn) == ("recognised", usn_of("Colin_Powell")), case
    assert len(table_rows(campus, attendance)) == 1
    [message] = room_messages(stack, "R101")
    handoff = Handoff.model_validate(message)
    assert handoff.capture_id == capture_id
    # AND a good colour reaches the room camera, a bad one is dropped with the reason recorded
    if carried:
        assert handoff.appearance is not None
        assert float(np.dot(handoff.appearance, _DOOR_COLOUR)) == pytest.approx(1.0, abs=1e-3)
    else:
        assert handoff.appearance is None, case
    if detail is None:
        assert event.detail is None or "appearance" not in event.detail
    else:
        assert event.detail is not None and detail in event.detail, case


def _truncated_jpeg() -> bytes:
    data = photo("Laura_Bush", 4)
    return data[: len(data) // 2]


def _no_face() -> bytes:
    frame = Image.open(DATA_DIR / "tracking" / "PETS09-S2L1" / "img1" / "000001.jpg")
    return jpeg(frame.crop((0, 0, 240, 160)).filter(ImageFilter.GaussianBlur(1)))


def _tiny_face() -> bytes:
    return jpeg(Image.open(io.BytesIO(photo("Laura_Bush", 4))).resize((48, 48)))


def _unknown_person() -> bytes:
    return sorted((LFW / "unknown").rglob("*.jpg"))[0].read_bytes()


def _encoded(fmt: str, mode: str | None = None, **options: Any) -> bytes:
    image = Image.open(io.BytesIO(photo("Laura_Bush", 4)))
    if mode == "I;16":
        image = Image.fromarray(np.asarray(image.convert("L")).astype(np.uint16) * 257)
    elif mode is not None:
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _decompression_bomb() -> bytes:
    # 900 megapixels of one colour compress to under a megabyte
    buffer = io.BytesIO()
    Image.new("L", (30_000, 30_000)).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("case", "body", "put_options", "env", "outcome"),
    [
        ("not an image", lambda: b"%PDF-1.4 this is not a photo", {}, {}, "undecodable"),
        ("truncated JPEG", _truncated_jpeg, {}, {}, "undecodable"),
        ("zero bytes", lambda: b"", {}, {}, "undecodable"),
        (
            "oversized",
            lambda: photo("Laura_Bush", 4),
            {},
            {"CLASSSIGHT_MAX_IMAGE_BYTES": "10000"},
            "too_large",
        ),
        ("decompression bomb", _decompression_bomb, {}, {}, "too_large"),
        ("50 MB object", lambda: photo("Laura_Bush", 4) + bytes(50_000_000), {}, {}, "too_large"),
        (
            "metadata of another room's door",
            lambda: photo("Laura_Bush", 4),
            {"room_id": "R102", "camera_id": "R102-door"},
            {},
            "no_class_in_session",
        ),
        ("no face", _no_face, {}, {}, "no_face"),
        ("face too small", _tiny_face, {}, {}, "too_small"),
        ("unknown room", lambda: photo("Laura_Bush", 4), {"room_id": "R999"}, {}, "unknown_room"),
        (
            "wrong camera",
            lambda: photo("Laura_Bush", 4),
            {"camera_id": "R102-door"},
            {},
            "camera_not_in_room",
        ),
        ("missing metadata", lambda: photo("Laura_Bush", 4), {"metadata": {}}, {}, "missing_metadata"),
        (
            "outside class hours",
            lambda: photo("Laura_Bush", 4),
            {"captured_at": OUT_OF_HOURS},
            {},
            "no_class_in_session",
        ),
        ("unknown person", _unknown_person, {}, {}, "unknown_person"),
    ],
)
def test_bad_input_is_recorded_with_its_outcome_and_nothing_else(
    stack: LocalStack,
    campus: Engine,
    database_url: str,
    case: str,
    body: Any,
    put_options: dict[str, Any],
    env: dict[str, str],
    outcome: str,
) -> None:
    # GIVEN a capture that is wrong in one way
    capture = put_capture(stack, body(), **put_options)

    # WHEN it is delivered
    result = drain(stack, database_url, **env)

    # THEN the batch succeeded, one event records the outcome, and no attendance or handoff exists
    assert result.errors == [] and result.failed_message_ids == [], case
    [event] = table_rows(campus, recognition_events)
    assert (event.object_key, event.outcome) == (capture.key, outcome), case
    assert event.usn is None
    assert table_rows(campus, attendance) == []
    assert table_rows(campus, handoffs) == []
    assert room_messages(stack, "R101") == [] and room_messages(stack, "R102") == []


@pytest.mark.parametrize(
    ("case", "body"),
    [
        ("PNG under a .jpg key", lambda: _encoded("PNG")),
        ("CMYK JPEG", lambda: _encoded("JPEG", "CMYK")),
        ("greyscale JPEG", lambda: _encoded("JPEG", "L")),
        ("16-bit greyscale PNG", lambda: _encoded("PNG", "I;16")),
        ("WebP", lambda: _encoded("WEBP")),
    ],
)
def test_unusual_but_valid_encodings_are_recognised(
    stack: LocalStack, campus: Engine, database_url: str, case: str, body: Any
) -> None:
    # GIVEN a capture of an enrolled student in an encoding cam1 does not write itself
    put_capture(stack, body())
    # WHEN it is delivered
    result = drain(stack, database_url)
    # THEN it is decoded like any JPEG and the student is recognised
    assert result.errors == [], case
    [event] = table_rows(campus, recognition_events)
    assert (event.outcome, event.usn) == ("recognised", usn_of("Laura_Bush")), case


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_database_down_leaves_the_message_for_retry(
    stack: LocalStack, campus: Engine, database_url: str
) -> None:
    # GIVEN a good capture, and a database that cannot be reached
    put_capture(stack, photo("Colin_Powell", 8))
    down = f"mysql+pymysql://root@127.0.0.1:{_closed_port()}/classsight"

    # WHEN it is delivered
    result = drain(stack, down)

    # THEN the record is reported failed (kept for retry), and nothing was written
    assert len(result.records) == 1
    assert result.failed_message_ids == [result.records[0]["messageId"]]
    assert table_rows(campus, recognition_events) == []


class _FlakyPublisher:
    """The real SNS publisher, failing its first ``failures`` calls as a broker outage would."""

    def __init__(self, inner: SnsHandoffPublisher, failures: int) -> None:
        self.inner, self.failures, self.calls = inner, failures, 0

    def publish(self, handoff: Handoff) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise MessagingError("topic unavailable")
        return self.inner.publish(handoff)


def test_a_handoff_whose_publish_failed_is_sent_on_the_retry_and_only_once(
    stack: LocalStack, campus: Engine, pipeline: FacePipeline
) -> None:
    # GIVEN the doorway service on the real bucket and topic, whose first publish fails
    publisher = _FlakyPublisher(SnsHandoffPublisher(stack.client("sns"), stack.handoff_topic_arn), failures=1)
    service = DoorwayService(
        campus,
        S3ObjectStore(stack.client("s3"), stack.bucket_name),
        pipeline,
        Matcher.from_settings(FaceModelSettings(), FaceprintRepository(campus), pipeline.model_id),
        publisher,
        capture_times=REPLAYED_CALENDAR,
    )
    capture = put_capture(stack, photo("Laura_Bush", 9))

    # WHEN the first delivery fails to publish
    with pytest.raises(MessagingError):
        service.process(capture.key)
    # THEN the event, attendance and handoff are stored, but nothing reached the room yet
    [handoff] = table_rows(campus, handoffs)
    assert handoff.message_id is None
    assert len(table_rows(campus, attendance)) == 1 and room_messages(stack, "R101") == []

    # WHEN the message is retried
    retried = service.process(capture.key)
    # THEN the stored handoff is published now, once, and marked sent
    assert retried.duplicate and retried.handoff_message_id
    [message] = room_messages(stack, "R101")
    assert message["capture_id"] == capture.capture_id
    [handoff] = table_rows(campus, handoffs)
    assert handoff.message_id == retried.handoff_message_id

    # AND a further delivery publishes nothing more
    assert service.process(capture.key).handoff_message_id is None
    assert room_messages(stack, "R101") == []
    assert len(table_rows(campus, attendance)) == 1 and len(table_rows(campus, recognition_events)) == 1


def test_a_direct_s3_notification_is_handled_like_one_through_the_queue(
    stack: LocalStack, campus: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a capture in the bucket, and the direct S3 notification AWS sends for it (bucket →
    # function, no queue), its key URL-encoded as AWS encodes it
    capture = put_capture(stack, photo("Hugo_Chavez", 9))
    event = load_event("s3_put_face_capture")
    record = event["Records"][0]
    record["s3"]["bucket"]["name"] = stack.bucket_name
    record["s3"]["object"]["key"] = quote_plus(capture.key, safe="/")
    for name, value in stack.env("FaceMatchFunction", CLASSSIGHT_DATABASE_URL=database_url).items():
        monkeypatch.setenv(name, value)
    function_settings.cache_clear()
    face_match.doorway_service.cache_clear()
    try:
        # WHEN the function is invoked with it, twice (asynchronous invocations are retried)
        for _ in range(2):
            context = LambdaContext("FaceMatchFunction", "arn:aws:lambda:us-east-1:0:function:f", 2048, 60)
            response = face_match.lambda_handler(event, context)
            assert response == {"batchItemFailures": []}
    finally:
        function_settings.cache_clear()
        face_match.doorway_service.cache_clear()

    # THEN the student is recorded once and R101 gets one handoff
    [row] = table_rows(campus, attendance)
    assert (row.usn, row.capture_id) == (usn_of("Hugo_Chavez"), capture.capture_id)
    assert [m["capture_id"] for m in room_messages(stack, "R101")] == [capture.capture_id]


# --- at-least-once delivery, overlapping ------------------------------------------------------


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_overlapping_redeliveries_publish_each_handoff_exactly_once(
    stack: LocalStack, campus: Engine, database_url: str, tmp_path: Path, mode: str
) -> None:
    # GIVEN a held-out capture of every enrolled student, each to be delivered 10 times within
    # 0-400 ms by 4 workers (threads or processes) whose broker calls are slow
    captures = [put_capture(stack, photo(name, 10)) for name in PEOPLE]
    rng = random.Random(20261201)
    deliveries = [(c.key, rng.uniform(0.0, 0.4)) for c in captures for _ in range(10)]
    rng.shuffle(deliveries)
    workers = 4
    jobs = [
        StormJob(
            database_url=database_url,
            endpoint_url=stack.endpoint_url,
            region=stack.region,
            bucket=stack.bucket_name,
            topic_arn=stack.handoff_topic_arn,
            deliveries=deliveries[i::workers],
            rendezvous=tmp_path,
            seed=i,
        )
        for i in range(workers)
    ]

    # WHEN they all deliver at once
    if mode == "processes":
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            pending = pool.map_async(deliver_storm, jobs)
            start_storm(tmp_path, workers)
            reports = pending.get(timeout=240)
    else:
        with ThreadPoolExecutor(workers) as pool:
            futures = [pool.submit(deliver_storm, job) for job in jobs]
            start_storm(tmp_path, workers)
            reports = [f.result(timeout=240) for f in futures]

    # THEN every delivery was acknowledged, each object has one event, each student one attendance
    # row, and each capture one handoff, published once and marked sent
    assert sum(r.processed for r in reports) == len(deliveries)
    events = table_rows(campus, recognition_events)
    assert sorted(e.object_key for e in events) == sorted(c.key for c in captures)
    assert {e.outcome for e in events} == {"recognised"}
    assert len(table_rows(campus, attendance)) == len(PEOPLE)
    stored = table_rows(campus, handoffs)
    assert len(stored) == len(captures) and all(h.message_id for h in stored)
    published = [m["capture_id"] for m in room_messages(stack, "R101")]
    assert sorted(published) == sorted(c.capture_id for c in captures)


def test_a_handoff_claimed_by_a_crashed_worker_is_published_once_its_claim_lapses(
    stack: LocalStack, campus: Engine, pipeline: FacePipeline
) -> None:
    # GIVEN a capture whose first delivery stored event, attendance and a claimed handoff, then
    # died before publishing (the claim is left behind)
    publisher = SnsHandoffPublisher(stack.client("sns"), stack.handoff_topic_arn)
    now = [datetime.now(UTC)]

    def service() -> DoorwayService:
        service = DoorwayService(
            campus,
            S3ObjectStore(stack.client("s3"), stack.bucket_name),
            pipeline,
            Matcher.from_settings(FaceModelSettings(), FaceprintRepository(campus), pipeline.model_id),
            publisher,
            capture_times=REPLAYED_CALENDAR,
            publish_lease=timedelta(seconds=60),
        )
        service._ledger._handoffs._clock = lambda: now[0]  # type: ignore[attr-defined]
        return service

    class _CrashError(Exception):
        pass

    class _DyingPublisher:
        def publish(self, handoff: Handoff) -> str:
            raise _CrashError  # stands in for SIGKILL: no release, no mark

    capture = put_capture(stack, photo("Laura_Bush", 10))
    dying = service()
    dying._ledger._handoffs._publisher = _DyingPublisher()  # type: ignore[attr-defined]
    dying._ledger._handoffs._release = lambda claim: None  # type: ignore[attr-defined,method-assign]
    with pytest.raises(_CrashError):
        dying.process(capture.key)

    # WHEN the message is redelivered while the claim is still live
    # THEN the delivery is not acknowledged (it must come back), and nothing is published yet
    with pytest.raises(HandoffPublishPendingError):
        service().process(capture.key)
    assert room_messages(stack, "R101") == []

    # WHEN it is redelivered after the lease has passed (SQS redelivers after its visibility timeout)
    now[0] += timedelta(seconds=61)
    late = service().process(capture.key)
    # THEN the handoff is published, once
    assert late.handoff_message_id
    assert [m["capture_id"] for m in room_messages(stack, "R101")] == [capture.capture_id]
    assert service().process(capture.key).handoff_message_id is None


# --- one recorded outcome for every object ----------------------------------------------------


def test_a_capture_id_reused_under_another_key_is_recorded_and_hands_off_nobody(
    stack: LocalStack, campus: Engine, database_url: str
) -> None:
    # GIVEN a capture, and a second object (another student's photo) carrying the same capture id
    first = put_capture(stack, photo("Colin_Powell", 9))
    second_key = f"captures/faces/R101/2026-11-23/{uuid.uuid4()}.jpg"
    stack.client("s3").put_object(
        Bucket=stack.bucket_name,
        Key=second_key,
        Body=photo("Hugo_Chavez", 9),
        Metadata={
            "room_id": "R101",
            "camera_id": "R101-door",
            "captured_at": IN_CLASS.isoformat(),
            "capture_id": first.capture_id,
        },
    )

    # WHEN both are delivered (twice each)
    assert drain(stack, database_url).errors == []
    for key in (first.key, second_key):
        stack.client("s3").copy_object(
            Bucket=stack.bucket_name,
            Key=key,
            CopySource={"Bucket": stack.bucket_name, "Key": key},
            MetadataDirective="COPY",
        )
    again = drain(stack, database_url)

    # THEN each object has exactly one event: the first recognised, the second refused; only the
    # first student has attendance and a handoff
    assert again.errors == [] and again.failed_message_ids == []
    events = {e.object_key: e for e in table_rows(campus, recognition_events)}
    assert set(events) == {first.key, second_key}
    assert (events[first.key].outcome, events[first.key].usn) == ("recognised", usn_of("Colin_Powell"))
    assert (events[second_key].outcome, events[second_key].usn) == ("duplicate_capture_id", None)
    assert [r.usn for r in table_rows(campus, attendance)] == [usn_of("Colin_Powell")]
    assert [m["usn"] for m in room_messages(stack, "R101")] == [usn_of("Colin_Powell")]


def test_racing_objects_with_one_capture_id_each_end_with_one_outcome(
    stack: LocalStack, campus: Engine, pipeline: FacePipeline
) -> None:
    # GIVEN two objects of two students with the same capture id, processed at the same moment
    capture_id = str(uuid.uuid4())
    keys = []
    for name in ("Colin_Powell", "Hugo_Chavez"):
        key = f"captures/faces/R101/2026-11-23/{uuid.uuid4()}.jpg"
        metadata = {
            "room_id": "R101",
            "camera_id": "R101-door",
            "captured_at": IN_CLASS.isoformat(),
            "capture_id": capture_id,
        }
        stack.client("s3").put_object(
            Bucket=stack.bucket_name, Key=key, Body=photo(name, 9), Metadata=metadata
        )
        keys.append(key)
    publisher = SnsHandoffPublisher(stack.client("sns"), stack.handoff_topic_arn)
    services = [
        DoorwayService(
            campus,
            S3ObjectStore(stack.client("s3"), stack.bucket_name),
            pipeline,
            Matcher.from_settings(FaceModelSettings(), FaceprintRepository(campus), pipeline.model_id),
            publisher,
            capture_times=REPLAYED_CALENDAR,
        )
        for _ in keys
    ]

    # WHEN both are processed concurrently
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda pair: pair[0].process(pair[1]), zip(services, keys, strict=True)))

    # THEN each object has one event, one of them is the duplicate, and one handoff went out
    assert not any(r.duplicate for r in results)
    outcomes = sorted(e.outcome for e in table_rows(campus, recognition_events))
    assert outcomes == ["duplicate_capture_id", "recognised"]
    assert len(table_rows(campus, attendance)) == 1 and len(table_rows(campus, handoffs)) == 1
    assert len(room_messages(stack, "R101")) == 1


def test_an_object_key_longer_than_its_column_is_recorded_once(
    stack: LocalStack, campus: Engine, database_url: str
) -> None:
    # GIVEN a capture under a 700-character key (S3 allows 1,024 bytes; the column holds 512)
    key = "captures/faces/R101/2026-11-23/" + "k" * 665 + ".jpg"
    metadata = {
        "room_id": "R101",
        "camera_id": "R101-door",
        "captured_at": IN_CLASS.isoformat(),
        "capture_id": str(uuid.uuid4()),
    }
    stack.client("s3").put_object(
        Bucket=stack.bucket_name, Key=key, Body=photo("Colin_Powell", 9), Metadata=metadata
    )

    # WHEN it is delivered, twice
    first = drain(stack, database_url)
    stack.client("s3").put_object(
        Bucket=stack.bucket_name, Key=key, Body=photo("Colin_Powell", 9), Metadata=metadata
    )
    second = drain(stack, database_url)

    # THEN both deliveries succeed (nothing is left for the dead-letter queue) and one event
    # records the refusal under a shortened, stable key; nobody is marked
    assert first.errors == second.errors == [] and first.failed_message_ids == second.failed_message_ids == []
    [event] = table_rows(campus, recognition_events)
    assert event.outcome == "key_too_long" and len(event.object_key) == 512
    assert event.object_key.startswith("captures/faces/R101/2026-11-23/kkk")
    assert table_rows(campus, attendance) == [] and room_messages(stack, "R101") == []


@pytest.mark.parametrize(
    ("case", "captured_at"),
    [
        ("far future (2099)", lambda: datetime(2099, 1, 5, 3, 35, tzinfo=UTC)),
        ("minutes ahead of the bucket's clock", lambda: datetime.now(UTC) + timedelta(minutes=10)),
        ("days before it was stored", lambda: datetime.now(UTC) - timedelta(days=3)),
    ],
)
def test_a_capture_time_far_from_its_arrival_is_refused(
    stack: LocalStack, campus: Engine, database_url: str, case: str, captured_at: Any
) -> None:
    # GIVEN an enrolled student's capture whose timestamp is far from when it reached the bucket
    capture = put_capture(stack, photo("Colin_Powell", 9), captured_at=captured_at())

    # WHEN it is delivered with the production bounds (+2 min / -24 h)
    result = drain(stack, database_url, CLASSSIGHT_CAPTURE_MAX_AGE="PT24H")

    # THEN it is recorded as implausible, and no attendance (for any day) is written
    assert result.errors == [] and result.failed_message_ids == [], case
    [event] = table_rows(campus, recognition_events)
    assert (event.object_key, event.outcome, event.usn) == (capture.key, "implausible_capture_time", None)
    assert table_rows(campus, attendance) == [] and room_messages(stack, "R101") == []


ROSTERED, OFF_ROSTER = "Colin_Powell", "Hugo_Chavez"


@pytest.fixture
def rostered_campus(campus: Engine) -> Engine:
    """CS501's roster on 2026-11-23: three enrolled LFW people (Hugo Chavez, enrolled, is not on it)."""
    seed_roster(campus, "CS501", [usn_of(ROSTERED), usn_of("Laura_Bush"), usn_of("Kofi_Annan")])
    return campus


@pytest.mark.parametrize(
    ("who", "outcome", "named", "marked"),
    [
        pytest.param(lambda: photo(ROSTERED, 10), "recognised", usn_of(ROSTERED), True, id="rostered"),
        pytest.param(lambda: photo(OFF_ROSTER, 10), "not_on_roster", usn_of(OFF_ROSTER), False, id="off"),
        pytest.param(_unknown_person, "unknown_person", None, False, id="stranger"),
    ],
)
def test_a_course_with_a_roster_matches_its_students_first_and_names_others_as_not_on_roster(
    stack: LocalStack,
    rostered_campus: Engine,
    database_url: str,
    who: Any,
    outcome: str,
    named: str | None,
    marked: bool,
) -> None:
    # GIVEN CS501 running in R101 with a roster, and a real face at R101's door
    capture = put_capture(stack, who())

    # WHEN face_match takes it
    result = drain(stack, database_url)

    # THEN the event says who it was (a student off the roster is named for admins, in CS501's
    # class) and only a rostered student is marked and handed off to the room
    assert result.errors == [] and result.failed_message_ids == []
    [event] = table_rows(rostered_campus, recognition_events)
    assert (event.object_key, event.outcome, event.usn) == (capture.key, outcome, named)
    if outcome == "not_on_roster":
        assert event.similarity >= FaceModelSettings().off_roster_match_threshold
    marks = [(r.usn, r.course_code) for r in table_rows(rostered_campus, attendance)]
    assert marks == ([(named, "CS501")] if marked else [])
    handed_off = [m["usn"] for m in room_messages(stack, "R101")]
    assert handed_off == ([named] if marked else [])
    assert len(table_rows(rostered_campus, handoffs)) == (1 if marked else 0)


def test_an_off_roster_face_below_the_stricter_bar_is_unknown_not_credited_to_a_rostered_student(
    stack: LocalStack, rostered_campus: Engine, database_url: str
) -> None:
    # GIVEN the stricter off-roster bar set above any real similarity
    capture = put_capture(stack, photo(OFF_ROSTER, 10))

    # WHEN face_match takes an enrolled student's face who is not on CS501's roster
    result = drain(stack, database_url, CLASSSIGHT_OFF_ROSTER_MATCH_THRESHOLD="0.99")

    # THEN it is an unknown person: nobody is named, marked or handed off
    assert result.errors == []
    [event] = table_rows(rostered_campus, recognition_events)
    assert (event.object_key, event.outcome, event.usn) == (capture.key, "unknown_person", None)
    assert table_rows(rostered_campus, attendance) == [] and room_messages(stack, "R101") == []


def test_a_face_enrolled_under_two_usns_is_flagged_at_enrollment_and_marks_neither_at_the_door(
    stack: LocalStack, rostered_campus: Engine, database_url: str
) -> None:
    # GIVEN Colin Powell (on CS501's roster) enrolled a second time, with other photos, under a
    # new USN that is on no roster: enrollment flags the pair as a possible double enrollment
    second_usn = "1MS21CS900"
    seed_students(rostered_campus, [Person(second_usn, "C. Powell", ())])
    service = enrollment_service(FaceModelSettings(), rostered_campus)
    outcomes = service.enroll_batch(
        [EnrollmentPhoto(second_usn, f"p{n}", photo(ROSTERED, n)) for n in (7, 8, 9)]
    )
    assert any(o.accepted for o in outcomes)
    with rostered_campus.connect() as connection:
        flagged = {(r.usn, r.other_usn, r.kind) for r in connection.execute(sa.select(enrollment_flags))}
    assert flagged == {(second_usn, usn_of(ROSTERED), "duplicate")}

    # WHEN a held-out photo of him is captured at R101's door during CS501
    capture = put_capture(stack, photo(ROSTERED, 10))
    result = drain(stack, database_url)

    # THEN neither USN is credited: the face does not lead its flagged twin by the margin
    assert result.errors == []
    [event] = table_rows(rostered_campus, recognition_events)
    assert (event.object_key, event.outcome, event.usn) == (capture.key, "unknown_person", None)
    assert table_rows(rostered_campus, attendance) == [] and room_messages(stack, "R101") == []
