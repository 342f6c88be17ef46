"""Door liveness end to end on real dev samples: cam1's pipeline judges the stable window of a
printed photo or a laptop-screen replay held up at the door, uploads the crop with its report,
and face_match (through the local S3 → SQS stack, real databases, real weights) records
``spoof_suspected`` with a flag: no attendance, no handoff. Live faces of the same people pass.

The people of the dev set are enrolled from their own live frames, so a refused spoof is a
student's face that would otherwise have been marked.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from cloud_functions.core.db.schema import attendance, flags, handoffs, recognition_events, students
from cloud_functions.core.faces import FacePipeline, FaceprintRepository, FaceRejectedError
from cloud_functions.core.settings import FaceModelSettings, function_settings
from cloud_functions.face_match import handler as face_match
from edge_client.cam1.app import Cam1Pipeline, build_detector, build_gate
from edge_client.cam1.capture import Capture
from edge_client.cam1.liveness import WindowLiveness
from edge_client.cam1.settings import Cam1Settings
from edge_client.sources import Frame, open_source
from infra.local_stack import LocalStack
from infra.models.convert_antispoof import ensure_converted
from infra.seed import Slot, seed_campus
from tests.conftest import DATA_DIR, MODELS_DIR, REPO_ROOT
from vision.liveness import LivenessChecker, LivenessSettings

pytestmark = pytest.mark.slow

ANTISPOOF = DATA_DIR / "antispoof"
NUAA = ANTISPOOF / "nuaa_dev"
LIVE_VIDEO = ANTISPOOF / "replay_videos" / "real.mp4"
REPLAY_VIDEO = ANTISPOOF / "replay_videos" / "fake.mp4"
# Monday 2026-11-23 09:05 in Kolkata (UTC+05:30): CS501 runs 09:00-10:00 in R101.
IN_CLASS = datetime(2026, 11, 23, 3, 35, tzinfo=UTC)
NUAA_SUBJECTS = ("0001", "0002")
VIDEO_USN = "1CS23VID01"


def nuaa(kind: str, subject: str) -> list[Path]:
    return sorted((NUAA / kind).glob(f"{subject}_*.jpg"))


class _Outbox:
    """Collects what cam1 would upload (the durable outbox is tested on its own)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, bytes, dict[str, str]]] = []

    def put(self, key: str, body: bytes, metadata: dict[str, str]) -> None:
        self.items.append((key, body, metadata))


@pytest.fixture(scope="module")
def model_paths() -> tuple[Path, ...]:
    return tuple(ensure_converted(MODELS_DIR / "antispoof", REPO_ROOT / "var" / "models" / "antispoof"))


@pytest.fixture(scope="module")
def cam1(model_paths: tuple[Path, ...]) -> Iterator[Any]:
    settings = Cam1Settings(
        room_id="R101",
        camera_id="R101-door",
        bucket_name="unused-bucket",
        source="unused",
        face_detector_path=MODELS_DIR / "face" / "face_detection_yunet.onnx",
        liveness_model_paths=model_paths,
        liveness_mode="enforce",
    )
    detector = build_detector(settings)
    liveness = WindowLiveness(LivenessChecker(LivenessSettings(liveness_model_paths=model_paths)))

    def run(frames: list[Frame]) -> list[Capture]:
        outbox = _Outbox()
        pipeline = Cam1Pipeline(build_gate(settings, detector), outbox, settings, liveness=liveness)  # type: ignore[arg-type]
        captures = [c for c in (pipeline.process(f) for f in frames) if c is not None]
        return captures

    yield run


def held_still(path: Path, seconds: float = 2.6, fps: float = 10.0) -> list[Frame]:
    """A still image held at the door: the same frame for ``seconds`` at ``fps``."""
    image = cv2.imread(str(path))
    assert image is not None
    return [Frame(image.copy(), i, i / fps) for i in range(round(seconds * fps))]


def video_frames(path: Path, seconds: float = 6.0, fps: float = 10.0) -> list[Frame]:
    source = open_source(str(path), fps, realtime=False)
    try:
        return [f for f in source if f.timestamp_s <= seconds]
    finally:
        source.close()


@pytest.fixture(scope="module")
def gallery() -> list[tuple[str, str, str, Any]]:
    """Faceprints of the dev set's people from their own live frames (not used as captures)."""
    pipeline = FacePipeline.from_settings(FaceModelSettings())
    rows: list[tuple[str, str, str, Any]] = []

    def enroll(usn: str, photos: list[bytes]) -> None:
        accepted = 0
        for photo in photos:
            try:
                analysis = pipeline.analyse(photo, "enroll")
            except FaceRejectedError:
                continue
            rows.append((usn, f"pose{accepted}", analysis.model_id, analysis.embedding))
            accepted += 1
            if accepted == 3:
                return
        assert accepted >= 2, usn

    for subject in NUAA_SUBJECTS:
        enroll(f"1CS23NU{subject}", [p.read_bytes() for p in reversed(nuaa("real", subject))])
    frames = video_frames(LIVE_VIDEO, seconds=12.0, fps=1.0)
    enroll(VIDEO_USN, [cv2.imencode(".jpg", f.image)[1].tobytes() for f in reversed(frames)])
    return rows


@pytest.fixture
def campus(engine: Engine, gallery: list[tuple[str, str, str, Any]]) -> Engine:
    seed_campus(engine, [Slot("CS501", "R101", 0, time(9), time(10))])
    with engine.begin() as connection:
        connection.execute(
            students.insert(),
            [
                {"usn": usn, "name": usn, "consent_given_at": IN_CLASS, "consent_given_by": "registrar"}
                for usn in sorted({row[0] for row in gallery})
            ],
        )
    repository = FaceprintRepository(engine)
    for usn, pose, model_id, embedding in gallery:
        repository.save(usn, pose, model_id, embedding)
    return engine


def upload(stack: LocalStack, capture: Capture) -> str:
    """cam1's crop and liveness report, put into the bucket as if taken during CS501."""
    capture_id = str(uuid.uuid4())
    key = f"captures/faces/R101/{IN_CLASS.date().isoformat()}/{capture_id}.jpg"
    metadata = {k: v for k, v in capture.metadata.items() if k.startswith("liveness_")}
    metadata |= {
        "room_id": "R101",
        "camera_id": "R101-door",
        "captured_at": IN_CLASS.isoformat(),
        "capture_id": capture_id,
    }
    stack.client("s3").put_object(
        Bucket=stack.bucket_name, Key=key, Body=capture.jpeg, Metadata=metadata, ContentType="image/jpeg"
    )
    return key


def drain(stack: LocalStack, database_url: str, **env: str) -> Any:
    function_settings.cache_clear()
    face_match.doorway_service.cache_clear()
    try:
        return stack.drain(
            "FaceMatchFunction",
            wait_s=1,
            environment_overrides={"CLASSSIGHT_DATABASE_URL": database_url, **env},
        )
    finally:
        function_settings.cache_clear()
        face_match.doorway_service.cache_clear()


def rows(engine: Engine, table: sa.Table) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(sa.select(table)))


def room_queue_is_empty(stack: LocalStack) -> bool:
    response = stack.client("sqs").receive_message(
        QueueUrl=stack.room_queue_url("R101"), MaxNumberOfMessages=10, WaitTimeSeconds=0
    )
    return not response.get("Messages")


@pytest.fixture
def stack(clean_local_stack: LocalStack) -> LocalStack:
    while not room_queue_is_empty(clean_local_stack):
        pass
    return clean_local_stack


ATTACKS = [
    pytest.param(lambda: held_still(nuaa("spoof", "0001")[0]), "1CS23NU0001", id="printed photo of 0001"),
    pytest.param(lambda: held_still(nuaa("spoof", "0002")[1]), "1CS23NU0002", id="printed photo of 0002"),
    # The replay is too blurry for the gate until about 30 s in.
    pytest.param(lambda: video_frames(REPLAY_VIDEO, seconds=31.0), VIDEO_USN, id="laptop-screen replay"),
]


@pytest.mark.parametrize(("frames", "usn"), ATTACKS)
def test_a_spoof_held_up_at_the_door_is_flagged_and_marks_nobody(
    cam1: Any, stack: LocalStack, campus: Engine, database_url: str, frames: Any, usn: str
) -> None:
    # GIVEN cam1 judging the stable window of a photo or replay of an enrolled student
    [capture, *_] = cam1(frames())
    assert capture.liveness is not None and capture.liveness.verdict == "spoof_suspected"

    # WHEN its upload reaches face_match (liveness enforced, the default)
    key = upload(stack, capture)
    result = drain(stack, database_url)

    # THEN the capture is recorded as a suspected spoof of that student, with its scores
    assert result.errors == [] and result.failed_message_ids == []
    [event] = rows(campus, recognition_events)
    assert (event.object_key, event.outcome, event.usn) == (key, "spoof_suspected", usn)
    assert event.detail.startswith("liveness enforce: spoof_suspected")
    # AND nobody is marked or handed off
    assert rows(campus, attendance) == [] and rows(campus, handoffs) == []
    assert room_queue_is_empty(stack)
    # AND one open flag carries both sides' evidence for the teacher
    [flag] = rows(campus, flags)
    assert (flag.kind, flag.status, flag.usn, flag.course_code) == ("spoof_suspected", "open", usn, "CS501")
    evidence = json.loads(flag.evidence)
    assert evidence["edge"]["verdict"] == "spoof_suspected" and evidence["object_key"] == key
    assert evidence["cloud"]["sources"]["model"]["score"] is not None
    assert "image" not in evidence and "embedding" not in evidence

    # WHEN the same object is delivered again
    stack.client("s3").copy_object(
        Bucket=stack.bucket_name,
        Key=key,
        CopySource={"Bucket": stack.bucket_name, "Key": key},
        MetadataDirective="COPY",
    )
    drain(stack, database_url)
    # THEN nothing new exists
    assert len(rows(campus, recognition_events)) == 1 and len(rows(campus, flags)) == 1
    assert rows(campus, attendance) == []


LIVE = [
    pytest.param(lambda: held_still(nuaa("real", "0001")[0]), "1CS23NU0001", id="live 0001"),
    pytest.param(lambda: held_still(nuaa("real", "0002")[0]), "1CS23NU0002", id="live 0002"),
    # Up to the second capture (32 s): its still window moved 0.19 face widths with a residual
    # of 0.0067, which the first planar threshold (0.008) refused as a photo.
    pytest.param(lambda: video_frames(LIVE_VIDEO, seconds=33.0), VIDEO_USN, id="live video"),
]


@pytest.mark.parametrize(("frames", "usn"), LIVE)
def test_a_live_student_at_the_door_is_marked_and_handed_off(
    cam1: Any, stack: LocalStack, campus: Engine, database_url: str, frames: Any, usn: str
) -> None:
    captures = cam1(frames())
    assert captures and all(c.liveness is not None and c.liveness.verdict == "live" for c in captures)
    upload(stack, captures[0])
    drain(stack, database_url)
    [event] = rows(campus, recognition_events)
    assert (event.outcome, event.usn, event.detail) == ("recognised", usn, None)
    [row] = rows(campus, attendance)
    assert (row.usn, row.status) == (usn, "entered")
    assert len(rows(campus, handoffs)) == 1 and rows(campus, flags) == []


def test_record_only_marks_the_student_and_still_raises_the_flag(
    cam1: Any, stack: LocalStack, campus: Engine, database_url: str
) -> None:
    # GIVEN a printed photo, with liveness in record-only mode (a trial, or the demo's LFW replay)
    [capture, *_] = cam1(held_still(nuaa("spoof", "0001")[0]))
    upload(stack, capture)
    drain(stack, database_url, CLASSSIGHT_LIVENESS_MODE="record_only")
    # THEN attendance goes ahead, and the suspicion is on the event and in an open flag
    [event] = rows(campus, recognition_events)
    assert event.outcome == "recognised" and event.detail.startswith("liveness record_only: spoof_suspected")
    assert [r.usn for r in rows(campus, attendance)] == ["1CS23NU0001"]
    [flag] = rows(campus, flags)
    assert json.loads(flag.evidence)["mode"] == "record_only"


def test_an_edge_report_of_live_does_not_overrule_the_clouds_recheck(
    cam1: Any, stack: LocalStack, campus: Engine, database_url: str
) -> None:
    # GIVEN a printed photo whose upload claims the edge found it live (a tampered edge)
    [capture, *_] = cam1(held_still(nuaa("spoof", "0002")[1]))
    forged = capture.liveness.model_copy(update={"verdict": "live", "reasons": (), "scores": {"model": 0.99}})  # type: ignore[union-attr]
    key = upload(stack, _with(capture, forged))
    drain(stack, database_url)
    # THEN the cloud's own re-check refuses it
    [event] = rows(campus, recognition_events)
    assert (event.object_key, event.outcome) == (key, "spoof_suspected")
    assert "cloud:model" in event.detail
    assert rows(campus, attendance) == []


def _with(capture: Capture, liveness: Any) -> Capture:
    from dataclasses import replace

    return replace(capture, liveness=liveness)


def test_the_edge_window_is_bounded(cam1: Any) -> None:
    # A long stable stretch keeps at most liveness_window_max_frames frames for the check.
    frames = held_still(nuaa("real", "0001")[0], seconds=2.6, fps=30.0)
    [capture, *_] = cam1(frames)
    assert capture.liveness is not None and capture.liveness.frames <= 20
    assert np.isfinite(capture.liveness.scores["model"])
