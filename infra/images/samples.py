"""Each image function's sample event (``tests/events/``) and the world it names, on a local stack.

A sample event names an object (a face capture, an enrollment photo, a body crop, a presence
report) or a request (``GET /courses/CS501`` with a teacher's token), and implies rows: a room, a
timetable with a class at that moment, a student with consent. :meth:`FunctionSample.stage` puts
the object into the stack's bucket and the rows into a migrated database, with real photos and
crops from the shared data; :meth:`FunctionSample.check` reads what the function did and says it
in one line, or raises :class:`SampleError`. The events themselves are used as they are.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cloud_functions.api.auth import token_digest
from cloud_functions.core.db.engine import create_engine
from cloud_functions.core.db.schema import attendance, faceprints, recognition_events
from cloud_functions.core.faces import FacePipeline, FaceprintRepository, FaceRejectedError
from cloud_functions.core.faces.embedding import DEEPFACE_ARCFACE_FILE
from cloud_functions.core.presence import PresenceReport, PresentTrack
from cloud_functions.core.settings import FaceModelSettings
from infra.images.base import BaseImage
from infra.images.build import BuiltImage, build_function_image, stage_models
from infra.images.engine import ContainerEngine
from infra.images.functions import select_functions
from infra.images.runner import FunctionContainer
from infra.images.runtime_api import Invocation
from infra.local_stack import LocalStack
from infra.local_stack.template import REPO_ROOT, load_template_document
from infra.seed import (
    Person,
    Slot,
    lfw_people,
    seed_campus,
    seed_roster,
    seed_students,
    seed_teachers,
    seed_term,
)

EVENTS_DIR = REPO_ROOT / "tests" / "events"
STANDIN_DIR = REPO_ROOT / "build" / "standin"

# The samples are dated Monday 2024-05-06; CS501 runs 09:00-10:00 in R101 (Asia/Kolkata) then.
SAMPLE_DAY_SLOT = Slot("CS501", "R101", 0, time(9), time(10))
CLASS_START = datetime(2024, 5, 6, 3, 30, tzinfo=UTC)
# The bucket stamps the samples' objects with today's date, as if an outbox had held them since
# that day: the bound on that delay (24 h in production) is widened for the samples.
SAMPLE_ENVIRONMENT = {"CLASSSIGHT_CAPTURE_MAX_AGE": "P3650D"}
# The API sample's bearer token (tests/events/http_api_get_course.json), a teacher's.
SAMPLE_API_TOKEN = "teacher-token-used-only-in-tests"  # noqa: S105 - a test token, public in the sample


class SampleError(AssertionError):
    """The function did not do what its sample event asks for."""


def load_sample_event(name: str) -> dict[str, Any]:
    """The sample event ``tests/events/<name>.json`` as a fresh dict."""
    event: dict[str, Any] = json.loads((EVENTS_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return event


def sample_parameter_overrides() -> dict[str, str]:
    """Template parameters the samples need: the API sample's token, as a teacher's."""
    return {
        "ApiTokens": json.dumps(
            {token_digest(SAMPLE_API_TOKEN): {"name": "Sample Teacher", "role": "teacher"}}
        )
    }


@dataclass
class SampleWorld:
    """Where a sample is staged: the stack, a migrated database, the shared data and weights."""

    stack: LocalStack
    engine: Engine
    data_dir: Path
    models_dir: Path

    @property
    def lfw(self) -> list[Person]:
        """The LFW identities as students (``infra.seed.lfw_people``)."""
        return lfw_people(self.data_dir / "faces" / "lfw_subset")

    def put(
        self, key: str, body: bytes, metadata: Mapping[str, str] | None = None, content_type: str = ""
    ) -> None:
        """Put an object into the stack's bucket."""
        extra: dict[str, Any] = {"Metadata": dict(metadata or {})}
        if content_type:
            extra["ContentType"] = content_type
        self.stack.client("s3").put_object(Bucket=self.stack.bucket_name, Key=key, Body=body, **extra)

    def put_capture(self, key: str, jpeg: bytes, camera_id: str, captured_at: datetime, **extra: str) -> None:
        """Put a crop of R101's camera with the metadata the cameras attach, and empty R101's queue."""
        metadata = {
            "room_id": "R101",
            "camera_id": camera_id,
            "captured_at": captured_at.isoformat(),
            "capture_id": Path(key).stem,
            **extra,
        }
        self.put(key, jpeg, metadata, "image/jpeg")
        self.room_messages("R101")

    def rows(self, table: sa.Table) -> list[Any]:
        """Every row of ``table``."""
        with self.engine.connect() as connection:
            return list(connection.execute(sa.select(table)))

    def room_messages(self, room_id: str) -> list[dict[str, Any]]:
        """Receive and delete every handoff waiting on the room's queue."""
        sqs = self.stack.client("sqs")
        url = self.stack.room_queue_url(room_id)
        bodies = []
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                bodies.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return bodies

    def pipeline(self) -> FacePipeline:
        """The face pipeline on this machine's weights (the same files the images bake in)."""
        return FacePipeline.from_settings(
            FaceModelSettings(
                face_detector_path=self.models_dir / "face" / "face_detection_yunet.onnx",
                face_embedder_path=self.models_dir / "face" / "arcface_mobilefacenet_128d.onnx",
                face_embedder="onnx",
            )
        )


class FunctionSample:
    """One function's sample event: what to stage for it and what the function must then have done."""

    logical_id: ClassVar[str]
    event_name: ClassVar[str]

    def event(self) -> dict[str, Any]:
        """The sample event, as Lambda would pass it."""
        return load_sample_event(self.event_name)

    def stage(self, world: SampleWorld) -> None:
        """Put in place what the event names."""
        raise NotImplementedError

    def check(self, world: SampleWorld, response: Any) -> str:
        """What the function did, in one line; ``SampleError`` when it is not what the event asks for."""
        raise NotImplementedError


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise SampleError(message)


def _batch_succeeded(response: Any) -> None:
    _require(response == {"batchItemFailures": []}, f"expected every record to succeed, got {response!r}")


def _s3_key(event: Mapping[str, Any]) -> str:
    from urllib.parse import unquote_plus

    record = json.loads(event["Records"][0]["body"])["Records"][0]
    return unquote_plus(str(record["s3"]["object"]["key"]))


class EnrollSample(FunctionSample):
    """An enrollment photo under ``enrollment/1MS21CS001/front view.jpg`` → a faceprint."""

    logical_id = "EnrollFunction"
    event_name = "sqs_s3_enrollment"

    def stage(self, world: SampleWorld) -> None:
        key = _s3_key(self.event())
        usn = key.split("/")[1]
        person = world.lfw[0]
        seed_campus(world.engine, [])
        seed_students(world.engine, [Person(usn, person.name, person.photos)])
        world.put(key, _enrollable_photo(world, person), content_type="image/jpeg")

    def check(self, world: SampleWorld, response: Any) -> str:
        _batch_succeeded(response)
        rows = world.rows(faceprints)
        _require(len(rows) == 1, f"expected one faceprint, found {len(rows)}")
        [row] = rows
        _require((row.usn, row.pose) == ("1MS21CS001", "front view"), f"faceprint of {row.usn}/{row.pose}")
        return f"faceprint of {row.usn} pose '{row.pose}' ({row.model_id})"


class FaceMatchSample(FunctionSample):
    """A doorway capture in R101 during CS501 → recognised, attendance, a handoff to R101."""

    logical_id = "FaceMatchFunction"
    event_name = "sqs_s3_face_capture"
    captured_at = CLASS_START + timedelta(minutes=5)

    def stage(self, world: SampleWorld) -> None:
        person = world.lfw[0]
        seed_campus(world.engine, [SAMPLE_DAY_SLOT])
        seed_students(world.engine, [person])
        world.put_capture(_s3_key(self.event()), self.enroll(world, person), "R101-door", self.captured_at)

    def enroll(self, world: SampleWorld, person: Person) -> bytes:
        """Store the student's faceprints (three photos); return a held-out photo for the capture."""
        pipeline = world.pipeline()
        repository = FaceprintRepository(world.engine)
        held_out = []
        for number, photo in enumerate(person.photos):
            try:
                analysis = pipeline.analyse(photo.read_bytes(), "enroll")
            except FaceRejectedError:
                continue
            if number < 3:
                repository.save(person.usn, f"pose{number}", analysis.model_id, analysis.embedding)
            else:
                held_out.append(photo)
        _require(bool(held_out), f"{person.name} has no held-out photo to capture")
        return held_out[0].read_bytes()

    def check(self, world: SampleWorld, response: Any) -> str:
        _batch_succeeded(response)
        usn = world.lfw[0].usn
        rows = world.rows(attendance)
        _require([(r.usn, r.course_code) for r in rows] == [(usn, "CS501")], f"attendance rows {rows}")
        handoffs = world.room_messages("R101")
        _require([h.get("usn") for h in handoffs] == [usn], f"handoffs on R101's queue: {handoffs}")
        [event] = world.rows(recognition_events)
        similarity = f"similarity {event.similarity:.3f}"
        return f"{event.outcome} {usn} ({similarity}), attendance {rows[0].status}, handoff to R101"


class BodyMatchSample(FunctionSample):
    """A long-unknown body crop in R101 during CS501, no body gallery that day → 'unknown', recorded."""

    logical_id = "BodyMatchFunction"
    event_name = "sqs_s3_body_capture"
    captured_at = CLASS_START + timedelta(minutes=15)

    def stage(self, world: SampleWorld) -> None:
        seed_campus(world.engine, [SAMPLE_DAY_SLOT])
        crop = _person_crop(world.data_dir / "tracking" / "PETS09-S2L1", frame=101, identity=9)
        world.put_capture(_s3_key(self.event()), crop, "R101-room", self.captured_at, tracker_id="17")

    def check(self, world: SampleWorld, response: Any) -> str:
        _batch_succeeded(response)
        rows = world.rows(recognition_events)
        _require(
            [(r.outcome, r.capture_id) for r in rows] == [("body_unknown", "track-17-9c1e2a3b")], f"{rows}"
        )
        _require(world.room_messages("R101") == [], "an unknown body must not be handed off")
        return f"{rows[0].outcome} (empty gallery), recorded, no handoff"


class PresenceSample(FunctionSample):
    """A cam2 report with a student seen 09:01-09:15 in R101 → attendance confirmed after the dwell."""

    logical_id = "PresenceFunction"
    event_name = "sqs_s3_presence_report"
    usn = "1MS21CS102"

    def stage(self, world: SampleWorld) -> None:
        seed_campus(world.engine, [SAMPLE_DAY_SLOT])
        seed_students(world.engine, [Person(self.usn, "Boris Iyer", ())])
        first, last = CLASS_START + timedelta(minutes=1), CLASS_START + timedelta(minutes=15)
        report = PresenceReport(
            room_id="R101",
            camera_id="R101-room",
            reported_at=last,
            interval_s=30.0,
            present=[
                PresentTrack(
                    usn=self.usn,
                    tracker_id=7,
                    source="body",
                    first_seen_at=first,
                    last_seen_at=last,
                    dwell_s=(last - first).total_seconds(),
                )
            ],
        )
        world.put(_s3_key(self.event()), report.model_dump_json().encode(), content_type="application/json")

    def check(self, world: SampleWorld, response: Any) -> str:
        _batch_succeeded(response)
        rows = world.rows(attendance)
        _require([(r.usn, r.status, r.source) for r in rows] == [(self.usn, "present", "body")], f"{rows}")
        [row] = rows
        return f"{row.usn} {row.status} (source {row.source}), confirmed at {row.confirmed_at:%H:%M} UTC"


class SweepSample(FunctionSample):
    """EventBridge's schedule at 10:20 (Asia/Kolkata) after CS501's 09:00-10:00 session → absences."""

    logical_id = "SweepFunction"
    event_name = "eventbridge_schedule"
    present, missing = "1MS21CS102", ("1MS21CS103", "1MS21CS104")

    def stage(self, world: SampleWorld) -> None:
        seed_campus(world.engine, [SAMPLE_DAY_SLOT])
        usns = (self.present, *self.missing)
        seed_students(world.engine, [Person(usn, f"Student {usn[-3:]}", ()) for usn in usns])
        seed_roster(world.engine, "CS501", usns)
        day = CLASS_START.date()
        seed_term(world.engine, "Sample term", day, day)
        with world.engine.begin() as connection:
            connection.execute(
                attendance.insert().values(
                    usn=self.present,
                    course_code="CS501",
                    class_date=day,
                    room_id="R101",
                    first_seen_at=CLASS_START,
                    status="entered",
                    source="face",
                    updated_at=CLASS_START,
                )
            )

    def check(self, world: SampleWorld, response: Any) -> str:
        rows = {r.usn: (r.status, r.source) for r in world.rows(attendance)}
        expected = {self.present: ("entered", "face"), **{usn: ("absent", "sweep") for usn in self.missing}}
        _require(rows == expected, f"attendance {rows}")
        _require(isinstance(response, dict) and response.get("sessions_swept") == 1, f"{response!r}")
        return f"{len(self.missing)} absent (source sweep), {self.present} kept 'entered'"


class NotifySample(FunctionSample):
    """EventBridge's daily schedule at 18:00 (Asia/Kolkata) → CS501's teacher reads the day's absence."""

    logical_id = "NotifyFunction"
    event_name = "eventbridge_daily_notification"
    teacher, present, absent = "Sample Teacher", "1MS21CS102", "1MS21CS103"

    def stage(self, world: SampleWorld) -> None:
        seed_campus(world.engine, [SAMPLE_DAY_SLOT])
        usns = (self.present, self.absent)
        seed_students(world.engine, [Person(usn, f"Student {usn[-3:]}", ()) for usn in usns])
        seed_roster(world.engine, "CS501", usns)
        seed_teachers(world.engine, [(self.teacher, "CS501")])
        day = CLASS_START.date()
        seed_term(world.engine, "Sample term", day, day)
        marks = [(self.present, "entered", "face"), (self.absent, "absent", "sweep")]
        with world.engine.begin() as connection:
            connection.execute(
                attendance.insert(),
                [
                    {
                        "usn": usn,
                        "course_code": "CS501",
                        "class_date": day,
                        "room_id": "R101",
                        "first_seen_at": CLASS_START if status == "entered" else None,
                        "status": status,
                        "source": source,
                        "updated_at": CLASS_START + timedelta(minutes=50),
                    }
                    for usn, status, source in marks
                ],
            )
        self._messages(world)  # the queue is the stack's: start it empty

    @staticmethod
    def _messages(world: SampleWorld) -> list[dict[str, Any]]:
        sqs = world.stack.client("sqs")
        url = world.stack.resources["TeacherNotificationsQueue"].physical_id
        bodies = []
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for message in batch:
                bodies.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return bodies

    def check(self, world: SampleWorld, response: Any) -> str:
        _require(isinstance(response, dict) and response.get("sent") == 1, f"{response!r}")
        [message] = self._messages(world)
        absences = [a["usn"] for a in message.get("new_absences", [])]
        _require(absences == [self.absent], f"new absences {absences}")
        return f"1 message to {message['teacher']['username']}: {self.absent} absent from CS501"


class ApiSample(FunctionSample):
    """API Gateway's ``GET /courses/CS501`` with a teacher's token → 200 and the course."""

    logical_id = "ApiFunction"
    event_name = "http_api_get_course"

    def stage(self, world: SampleWorld) -> None:
        seed_campus(world.engine, [])
        seed_teachers(world.engine, [("Sample Teacher", "CS501")])

    def check(self, world: SampleWorld, response: Any) -> str:
        _require(isinstance(response, dict) and response.get("statusCode") == 200, f"response {response!r}")
        body = json.loads(response["body"])
        _require(body.get("course_code") == "CS501", f"body {body!r}")
        return f"200 {body['course_code']} '{body['title']}'"


class DeepFaceStandInSample(FaceMatchSample):
    """face_match with the production embedder, DeepFace's ArcFace, on stand-in weights baked in.

    DeepFace's published weights cannot be fetched here, so the weights are DeepFace's architecture
    with its own initial values (:func:`deepface_standin_weights`): they recognise nobody, but they
    load and run exactly as the real ones. The student is enrolled with the very photo the door
    camera then captures, embedded on this machine: the image must find them with a similarity of
    about 1, which shows its TensorFlow, Keras and DeepFace compute what this machine's do.
    """

    def __init__(self, weights: Path) -> None:
        self.weights = weights

    def enroll(self, world: SampleWorld, person: Person) -> bytes:
        pipeline = FacePipeline.from_settings(
            FaceModelSettings(
                face_detector_path=world.models_dir / "face" / "face_detection_yunet.onnx",
                face_embedder="deepface",
                face_embedder_path=self.weights,
            )
        )
        photo = _enrollable_photo(world, person)
        analysis = pipeline.analyse(photo, "enroll")
        FaceprintRepository(world.engine).save(person.usn, "frontal", analysis.model_id, analysis.embedding)
        return photo

    def check(self, world: SampleWorld, response: Any) -> str:
        summary = super().check(world, response)
        [event] = world.rows(recognition_events)
        _require(
            event.similarity > 0.99, f"the image's embedding differs from this machine's: {event.similarity}"
        )
        return summary


def production_face_parameters() -> dict[str, str]:
    """The template's own values of the face embedder parameters (FaceEmbedder, weights, threshold)."""
    parameters = load_template_document()["Parameters"]
    names = ("FaceEmbedder", "FaceEmbedderWeights", "MatchThreshold")
    return {name: str(parameters[name]["Default"]) for name in names}


def deepface_standin_weights(path: Path = STANDIN_DIR / DEEPFACE_ARCFACE_FILE) -> Path:
    """DeepFace's ArcFace network with its initial weights, saved as DeepFace's weight file (made once)."""
    if not path.is_file():
        from cloud_functions.core.faces.embedding import build_deepface_arcface

        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial.h5")
        build_deepface_arcface().save_weights(str(partial))
        partial.rename(path)
    return path


def build_deepface_standin_image(engine: ContainerEngine, base: BaseImage) -> BuiltImage:
    """The face_match image with the stand-in DeepFace weights baked in as the production ones would be.

    Tagged ``<SAM's tag>-deepface-standin``; ``build/models/`` is put back as the settings say afterwards.
    """
    [function] = select_functions(["FaceMatchFunction"])
    weights = deepface_standin_weights()
    relative = production_face_parameters()["FaceEmbedderWeights"]
    stage_models(extra={relative: weights})
    try:
        return build_function_image(
            engine, function, base, embedder_weights="settings", image=f"{function.image}-deepface-standin"
        )
    finally:
        stage_models()


@dataclass
class SampleRun:
    """A sample sent to a function image twice: the cold start with its check, then a redelivery."""

    container: FunctionContainer
    outcome: str
    first: Invocation
    again: Invocation


def run_sample_in_image(
    engine: ContainerEngine,
    image: str,
    stack: LocalStack,
    sample: FunctionSample,
    database_url: str,
    *,
    data_dir: Path,
    models_dir: Path,
) -> SampleRun:
    """Stage ``sample`` (``database_url`` migrated), start the image as Lambda would (cold), send the
    event and check what the function did, then send it again (warm); the environment is stopped."""
    world = SampleWorld(stack, create_engine(database_url), data_dir, models_dir)
    try:
        sample.stage(world)
        container = FunctionContainer(
            engine,
            image,
            function=stack.functions[sample.logical_id],
            environment=stack.env(
                sample.logical_id, CLASSSIGHT_DATABASE_URL=database_url, **SAMPLE_ENVIRONMENT
            ),
        )
        with container:
            first = container.invoke(sample.event())
            outcome = sample.check(world, first.result())
            again = container.invoke(sample.event())
    finally:
        world.engine.dispose()
    return SampleRun(container, outcome, first, again)


SAMPLES: dict[str, FunctionSample] = {
    sample.logical_id: sample
    for sample in (
        EnrollSample(),
        FaceMatchSample(),
        BodyMatchSample(),
        PresenceSample(),
        SweepSample(),
        NotifySample(),
        ApiSample(),
    )
}
"""The sample of each image function, by logical id."""


def _enrollable_photo(world: SampleWorld, person: Person) -> bytes:
    """The first photo of ``person`` that enrollment accepts (one face, sharp, frontal enough)."""
    pipeline = world.pipeline()
    for photo in person.photos:
        data = photo.read_bytes()
        try:
            pipeline.analyse(data, "enroll")
        except FaceRejectedError:
            continue
        return data
    raise SampleError(f"no photo of {person.name} passes enrollment")


def _person_crop(sequence_dir: Path, *, frame: int, identity: int) -> bytes:
    """A JPEG crop of one ground-truth person (MOT ``gt/gt.txt``) from a frame of the sequence."""
    import cv2

    with (sequence_dir / "gt" / "gt.txt").open(encoding="utf-8") as gt:
        for row in csv.reader(gt):
            if int(row[0]) == frame and int(row[1]) == identity:
                x, y, w, h = (round(float(v)) for v in row[2:6])
                break
        else:
            raise SampleError(f"no person {identity} in frame {frame} of {sequence_dir}")
    image = cv2.imread(str(sequence_dir / "img1" / f"{frame:06d}.jpg"))
    if image is None:
        raise SampleError(f"cannot read frame {frame} of {sequence_dir}")
    ok, jpeg = cv2.imencode(".jpg", image[max(0, y) : y + h, max(0, x) : x + w])
    if not ok:
        raise SampleError("cannot encode the crop")
    return bytes(jpeg.tobytes())
