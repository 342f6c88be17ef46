"""Contract tests: what each edge writer produces, the cloud reader parses — and the other way round.

Every message kind that crosses the boundary is written with the real writer of one side and
read with the real reader of the other: cam1's face capture (key + metadata), cam2's body and
gallery crops and presence reports, and the handoff face_match/body_match publish to cam2. The
id limits are the database columns' widths, and the bucket's notification filters in
template.yaml name the prefixes the keys are built with.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import supervision as sv
import yaml
from pydantic import ValidationError

from cloud_functions.core.captures import CaptureResult
from cloud_functions.core.db import schema
from cloud_functions.core.handoff import SnsHandoffPublisher
from cloud_functions.core.outcomes import Outcome
from contracts import ids, keys
from contracts.appearance import APPEARANCE_HEX_CHARS, APPEARANCE_SIZE, encode_appearance
from contracts.captures import BodyCaptureMetadata, FaceCaptureMetadata, GalleryCropMetadata
from contracts.handoff import Handoff
from contracts.liveness import LivenessReport
from contracts.presence import PresenceReport
from edge_client.cam1.capture import Capture
from edge_client.cam1.settings import Cam1Settings
from edge_client.cam2.errors import InvalidHandoffError
from edge_client.cam2.handoff import parse_handoff
from edge_client.cam2.presence import BodyCropUploader, GalleryCropUploader, PresenceReporter
from edge_client.cam2.tracks import DoorZone, TrackRegistry
from edge_client.settings import EdgeConfigurationError, load_edge_settings
from vision.appearance import DESCRIPTOR_SIZE, clothing_descriptor

REPO_ROOT = Path(__file__).resolve().parents[2]
AT = datetime(2026, 11, 23, 3, 35, 12, 345678, tzinfo=UTC)
FRAME = np.full((480, 640, 3), 127, dtype=np.uint8)
ROOM_32, CAMERA_64, CAPTURE_64, USN_32 = "R" * 32, "c" * 64, "k" * 64, "1" + "A" * 31


class ListSink:
    def __init__(self) -> None:
        self.items: list[tuple[str, bytes, dict[str, str], str]] = []

    def put(self, key: str, body: bytes, metadata: dict[str, str], content_type: str) -> None:
        self.items.append((key, body, metadata, content_type))


def _detections(*tracker_ids: int) -> sv.Detections:
    boxes = np.array([[60.0 * i, 100.0, 60.0 * i + 50.0, 300.0] for i in tracker_ids]).reshape(-1, 4)
    return sv.Detections(
        xyxy=boxes,
        confidence=np.full(len(tracker_ids), 0.9),
        class_id=np.zeros(len(tracker_ids), dtype=int),
        tracker_id=np.array(tracker_ids, dtype=int),
    )


# --- face captures: cam1 -> face_match -------------------------------------------------------


@pytest.mark.parametrize(("room_id", "camera_id"), [("R101", "R101-door"), (ROOM_32, CAMERA_64)])
def test_a_cam1_capture_is_read_by_face_match(room_id: str, camera_id: str) -> None:
    # GIVEN cam1's capture of a stable face (ids up to their limits)
    capture = Capture(str(uuid.uuid4()), room_id, camera_id, AT, b"jpeg")
    # WHEN face_match reads the object's key and metadata
    meta = FaceCaptureMetadata.from_s3(capture.metadata)
    # THEN it sees the same capture, the key is under the face prefix and fits its column
    assert (meta.room_id, meta.camera_id, meta.capture_id) == (room_id, camera_id, capture.capture_id)
    assert abs(meta.captured_at - AT) < timedelta(milliseconds=1)
    assert capture.object_key.startswith(keys.FACES_PREFIX + room_id + "/2026-11-23/")
    assert keys.recordable_object_key(capture.object_key) == capture.object_key


@pytest.mark.parametrize(
    ("field", "value"),
    [("room_id", "R" * 33), ("camera_id", "c" * 65), ("room_id", "R 101"), ("room_id", "R.101")],
)
def test_ids_beyond_the_limits_are_refused_on_both_sides(field: str, value: str) -> None:
    # GIVEN an id cam1 must not be configured with
    values = {"bucket_name": "b-1", "room_id": "R101", "camera_id": "door-1", field: value}
    # THEN cam1 does not start with it, and face_match would not accept it either
    with pytest.raises(EdgeConfigurationError):
        load_edge_settings(Cam1Settings, **values)
    metadata = {"room_id": "R101", "camera_id": "door-1", "captured_at": AT.isoformat(), "capture_id": "c1"}
    with pytest.raises(ValidationError):
        FaceCaptureMetadata.from_s3({**metadata, field: value})


def _shirt_colour(bgr: tuple[int, int, int]) -> tuple[float, ...]:
    frame = np.full((480, 640, 3), 40, dtype=np.uint8)
    frame[100:400, 250:390] = bgr
    descriptor = clothing_descriptor(frame, (250, 50, 390, 450))
    assert descriptor is not None
    return tuple(float(v) for v in descriptor)


def test_the_wire_size_of_appearance_is_the_descriptor_size() -> None:
    assert APPEARANCE_SIZE == DESCRIPTOR_SIZE


def test_a_cam1_capture_carries_its_clothing_colour_into_the_handoff_cam2_reads() -> None:
    # GIVEN cam1's capture with the colour below the face and a liveness report beside it
    colour = _shirt_colour((30, 30, 200))
    liveness = LivenessReport(
        version="1:x", verdict="live", frames=14, scores={"model": 0.98, "planar": 0.02}
    )
    capture = Capture(str(uuid.uuid4()), "R101", "R101-door", AT, b"jpeg", liveness, colour)
    # WHEN face_match reads the metadata and publishes the handoff of the recognised student
    metadata = capture.metadata
    assert len(metadata["appearance"]) == APPEARANCE_HEX_CHARS
    assert sum(len(k) + len(v) for k, v in metadata.items()) < 1024
    meta = FaceCaptureMetadata.from_s3(metadata)
    result = CaptureResult(
        capture.object_key,
        Outcome.RECOGNISED,
        capture_id=meta.capture_id,
        camera_id=meta.camera_id,
        room_id=meta.room_id,
        captured_at=meta.captured_at,
        usn="1MS21CS001",
        similarity=0.7,
    )
    sns = _RecordingSns()
    SnsHandoffPublisher(sns, "arn:aws:sns:us-east-1:0:handoffs").publish(
        result.handoff("face", meta.appearance)
    )
    [call] = sns.published
    handoff = parse_handoff(call["Message"], {"room_id": "R101"})
    # THEN cam2 gets the same colour back, to within the byte per value of the wire
    assert meta.appearance_problem is None and meta.liveness == liveness
    assert handoff.appearance is not None
    assert float(np.dot(handoff.appearance, colour)) == pytest.approx(1.0, abs=1e-3)
    assert float(np.max(np.abs(np.subtract(handoff.appearance, colour)))) < 1 / 255


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("zz" * APPEARANCE_SIZE, "96 hex digits"),
        ("00" * (APPEARANCE_SIZE - 1), "96 hex digits"),
        ("00" * (APPEARANCE_SIZE + 1), "96 hex digits"),
        ("00" * APPEARANCE_SIZE, "all zero"),
        ("", "96 hex digits"),
        ("0x" + "ff" * (APPEARANCE_SIZE - 1), "96 hex digits"),
        ("1.0," * APPEARANCE_SIZE, "96 hex digits"),
    ],
)
def test_a_malformed_appearance_is_dropped_with_its_reason_and_the_capture_still_reads(
    value: str, problem: str
) -> None:
    # GIVEN otherwise good capture metadata with a broken appearance value
    metadata = {"room_id": "R101", "camera_id": "door-1", "captured_at": AT.isoformat(), "capture_id": "c1"}
    # WHEN face_match reads it
    meta = FaceCaptureMetadata.from_s3({**metadata, "appearance": value})
    # THEN the capture is read, without a colour, and the reason is kept (never the value itself)
    assert (meta.room_id, meta.capture_id) == ("R101", "c1")
    assert meta.appearance is None
    assert meta.appearance_problem is not None and problem in meta.appearance_problem
    assert value[:8] not in meta.appearance_problem or not value
    assert "appearance" not in meta.to_s3()


def test_cam1_refuses_to_write_an_appearance_that_is_not_a_descriptor() -> None:
    with pytest.raises(ValueError, match="a descriptor has 48"):
        encode_appearance([0.1] * 12)
    with pytest.raises(ValidationError):
        FaceCaptureMetadata(
            room_id="R101", camera_id="door-1", captured_at=AT, capture_id="c1", appearance=(2.0,) * 48
        )


def test_the_id_limits_are_the_database_columns() -> None:
    widths = {
        (schema.students, "usn"): ids.USN_MAX_CHARS,
        (schema.courses, "course_code"): ids.COURSE_CODE_MAX_CHARS,
        (schema.rooms, "room_id"): ids.ROOM_ID_MAX_CHARS,
        (schema.rooms, "cam1_id"): ids.CAMERA_ID_MAX_CHARS,
        (schema.recognition_events, "camera_id"): ids.CAMERA_ID_MAX_CHARS,
        (schema.recognition_events, "capture_id"): ids.CAPTURE_ID_MAX_CHARS,
        (schema.handoffs, "capture_id"): ids.CAPTURE_ID_MAX_CHARS,
        (schema.body_prints, "capture_id"): ids.CAPTURE_ID_MAX_CHARS,
        (schema.enrollments, "pose"): ids.POSE_MAX_CHARS,
        (schema.recognition_events, "object_key"): keys.OBJECT_KEY_MAX_CHARS,
        (schema.presence_reports, "object_key"): keys.OBJECT_KEY_MAX_CHARS,
    }
    for (table, column), width in widths.items():
        assert table.c[column].type.length == width, f"{table.name}.{column}"


# --- body and gallery crops: cam2 -> body_match ----------------------------------------------


def test_a_cam2_body_crop_is_read_by_body_match() -> None:
    # GIVEN cam2 sending a crop of a track unknown for too long
    sink = ListSink()
    registry = TrackRegistry(DoorZone([]), startup_frames=0)
    uploader = BodyCropUploader(sink, ROOM_32, CAMERA_64, unknown_after_s=0.0)
    detections = registry.update_with_detections(_detections(7), AT)
    uploader.update_with_detections(detections, FRAME, AT, registry)
    [(key, _body, metadata, content_type)] = sink.items
    # WHEN body_match reads it THEN it names the track and the capture
    meta = BodyCaptureMetadata.from_s3(metadata)
    assert (meta.room_id, meta.camera_id, meta.tracker_id) == (ROOM_32, CAMERA_64, 7)
    assert key == keys.body_capture_key(ROOM_32, AT, meta.capture_id) and content_type == "image/jpeg"
    assert key.startswith(keys.BODIES_PREFIX) and len(key) <= keys.OBJECT_KEY_MAX_CHARS


def test_a_cam2_gallery_crop_is_read_by_body_match_with_its_student() -> None:
    # GIVEN cam2 sending a crop of a track a door handoff tagged
    sink = ListSink()
    registry = TrackRegistry(DoorZone([]), startup_frames=0)
    uploader = GalleryCropUploader(sink, "R101", "R101-room", crops_per_track=1)
    registry.update_with_detections(_detections(3), AT)
    registry.tag(3, USN_32, "face", AT)
    detections = registry.update_with_detections(_detections(3), AT + timedelta(seconds=1))
    uploader.update_with_detections(detections, FRAME, AT + timedelta(seconds=1), registry)
    [(key, _body, metadata, _type)] = sink.items
    # WHEN body_match reads it THEN the metadata and the key name the same student
    meta = GalleryCropMetadata.from_s3(metadata)
    assert meta.usn == USN_32 == keys.gallery_crop_usn(key)
    assert key.startswith(keys.GALLERY_PREFIX + "R101/2026-11-23/" + USN_32 + "/")


# --- presence reports: cam2 -> presence ------------------------------------------------------


def test_a_cam2_presence_report_is_read_by_the_presence_function() -> None:
    # GIVEN cam2's report with a tagged and an unknown track
    sink = ListSink()
    registry = TrackRegistry(DoorZone([]), startup_frames=0)
    reporter = PresenceReporter(sink, ROOM_32, CAMERA_64, interval_s=10.0)
    registry.update_with_detections(_detections(1, 2), AT)
    registry.tag(1, "1ms21cs001", "face", AT)
    at = AT + timedelta(seconds=30)
    reporter.update_with_detections(
        registry.update_with_detections(_detections(1, 2), at), FRAME, at, registry
    )
    [(key, body, metadata, content_type)] = sink.items
    # WHEN the presence function parses the object's body
    report = PresenceReport.model_validate_json(body)
    # THEN it reads the room, the camera and the identified track (its USN canonical)
    assert (report.room_id, report.camera_id, report.unknown_tracks) == (ROOM_32, CAMERA_64, 1)
    [track] = report.present
    assert (track.usn, track.tracker_id, track.source) == ("1MS21CS001", 1, "face")
    assert key == keys.presence_report_key(ROOM_32, CAMERA_64, at) and content_type == "application/json"
    assert metadata == {"room_id": ROOM_32, "camera_id": CAMERA_64, "reported_at": at.isoformat()}


# --- handoffs: face_match / body_match -> SNS -> cam2 ----------------------------------------


class _RecordingSns:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    def publish(self, **kwargs: Any) -> dict[str, str]:
        self.published.append(kwargs)
        return {"MessageId": f"m{len(self.published)}"}


@pytest.mark.parametrize("source", ["face", "body"])
@pytest.mark.parametrize("wrapped", [False, True], ids=["raw delivery", "SNS envelope"])
def test_a_published_handoff_is_read_by_cam2(source: str, wrapped: bool) -> None:
    # GIVEN the handoff a function publishes (ids at their limits)
    handoff = Handoff(
        usn=USN_32,
        capture_id=CAPTURE_64,
        captured_at=AT,
        similarity=0.71,
        course_code="C" * 32,
        room_id=ROOM_32,
        camera_id=CAMERA_64,
        source=source,  # type: ignore[arg-type]
    )
    sns = _RecordingSns()
    SnsHandoffPublisher(sns, "arn:aws:sns:us-east-1:0:handoffs").publish(handoff)
    [call] = sns.published
    attributes = {name: value["StringValue"] for name, value in call["MessageAttributes"].items()}
    body = call["Message"]
    if wrapped:  # subscription without raw delivery: the SNS notification envelope
        envelope_attributes = {name: {"Type": "String", "Value": v} for name, v in attributes.items()}
        body = json.dumps({"Type": "Notification", "Message": body, "MessageAttributes": envelope_attributes})
        attributes = {}
    # WHEN cam2 parses what its queue delivers THEN it is the same handoff
    assert parse_handoff(body, attributes) == handoff


def test_a_handoff_over_the_limits_or_contradicting_its_attributes_is_refused_by_cam2() -> None:
    good = Handoff(usn="1MS21CS001", capture_id="c1", captured_at=AT, similarity=0.7, room_id="R101")
    body = json.loads(good.model_dump_json())
    with pytest.raises(InvalidHandoffError):
        parse_handoff(json.dumps({**body, "capture_id": "k" * 65}))
    with pytest.raises(InvalidHandoffError):
        parse_handoff(good.model_dump_json(), {"room_id": "R102"})


# --- the bucket's wiring ---------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def test_the_template_routes_exactly_the_contract_prefixes() -> None:
    template = yaml.load((REPO_ROOT / "template.yaml").read_text(), Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    notifications = template["Resources"]["CaptureBucket"]["Properties"]["NotificationConfiguration"]
    prefixes = {
        rule["Value"]
        for config in notifications["QueueConfigurations"]
        for rule in config["Filter"]["S3Key"]["Rules"]
        if rule["Name"] == "prefix"
    }
    assert prefixes == {
        keys.FACES_PREFIX,
        keys.ENROLLMENT_PREFIX,
        keys.BODIES_PREFIX,
        keys.GALLERY_PREFIX,
        keys.PRESENCE_PREFIX,
    }


# --- each side imports the contracts without the other side's dependencies -------------------


def _modules_after_importing(*modules: str) -> set[str]:
    import subprocess
    import sys

    code = "import sys\n" + "".join(f"import {m}\n" for m in modules) + "print('\\n'.join(sys.modules))"
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    return {line.split(".")[0] for line in completed.stdout.splitlines()}


def test_the_edge_clients_import_nothing_of_the_cloud() -> None:
    loaded = _modules_after_importing("edge_client.cam1.app", "edge_client.cam2.app", "contracts.captures")
    assert not loaded & {"cloud_functions", "sqlalchemy", "aws_lambda_powertools", "pymysql", "deepface"}


def test_the_functions_import_nothing_of_the_edge() -> None:
    loaded = _modules_after_importing(
        "cloud_functions.face_match.handler",
        "cloud_functions.body_match.handler",
        "cloud_functions.presence.handler",
        "cloud_functions.enroll.handler",
    )
    assert not loaded & {"edge_client", "ultralytics", "supervision", "torch", "trackers"}
