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

from cloud_functions.core.db import schema
from cloud_functions.core.handoff import SnsHandoffPublisher
from contracts import ids, keys
from contracts.captures import BodyCaptureMetadata, FaceCaptureMetadata, GalleryCropMetadata
from contracts.handoff import Handoff
from contracts.presence import PresenceReport
from edge_client.cam1.capture import Capture
from edge_client.cam1.settings import Cam1Settings
from edge_client.cam2.errors import InvalidHandoffError
from edge_client.cam2.handoff import parse_handoff
from edge_client.cam2.presence import BodyCropUploader, GalleryCropUploader, PresenceReporter
from edge_client.cam2.tracks import DoorZone, TrackRegistry
from edge_client.settings import EdgeConfigurationError, load_edge_settings

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
