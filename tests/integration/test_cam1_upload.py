"""cam1 end to end against a real local S3 endpoint (moto server) that can be stopped and restarted.

Replays LFW people at the doorway through the real folder source, YuNet gate, outbox and uploader.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import boto3
import cv2
import numpy as np
import pytest
from moto.server import ThreadedMotoServer

from contracts.captures import FaceCaptureMetadata
from edge_client.cam1.app import Cam1Runner
from edge_client.cam1.capture import Capture
from edge_client.cam1.gate import CaptureDecision
from edge_client.cam1.replay import ReplaySegment, one_photo_per_person, write_doorway_replay
from edge_client.cam1.settings import Cam1Settings
from edge_client.outbox import S3ObjectStore, UploadError
from edge_client.settings import load_edge_settings
from edge_client.sources import open_source
from tests.conftest import DATA_DIR, MODELS_DIR
from vision.faces import YuNetDetector

LFW_KNOWN = DATA_DIR / "faces" / "lfw_subset" / "known"
ROOM_ID = "R101"
CAMERA_ID = "door-1"


class RestartableS3:
    """A moto S3 server on a fixed free port of 127.0.0.1 that a test can take down and bring back."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self._server: ThreadedMotoServer | None = None

    def start(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials: the local endpoint accepts any, boto3 insists on some."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def s3_server(aws_credentials: None) -> Iterator[RestartableS3]:
    server = RestartableS3()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def bucket(s3_server: RestartableS3) -> str:
    name = f"cam1-test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_server.endpoint_url, region_name="us-east-1").create_bucket(
        Bucket=name
    )
    return name


@pytest.fixture(scope="module")
def lfw_replay(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[ReplaySegment]]:
    """12 LFW people, one photo each, held 3 s at 10 fps, at alternating spots."""
    folder = tmp_path_factory.mktemp("lfw_doorway")
    segments = write_doorway_replay(folder, one_photo_per_person(LFW_KNOWN), fps=10.0, hold_s=3.0)
    return folder, segments


def _settings(s3: RestartableS3, bucket: str, tmp_path: Path, **overrides: object) -> Cam1Settings:
    values: dict[str, object] = {
        "aws_endpoint_url": s3.endpoint_url,
        "bucket_name": bucket,
        "room_id": ROOM_ID,
        "camera_id": CAMERA_ID,
        "outbox_path": tmp_path / "outbox.sqlite3",
        "source_fps": 10.0,
        "realtime": False,
        "retry_initial_s": 0.05,
        "retry_max_s": 0.3,
        "upload_timeout_s": 2.0,
    }
    values.update(overrides)
    return load_edge_settings(Cam1Settings, **values)


def _stored(s3: RestartableS3, bucket: str) -> dict[str, dict[str, str]]:
    client = boto3.client("s3", endpoint_url=s3.endpoint_url, region_name="us-east-1")
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {key: client.head_object(Bucket=bucket, Key=key)["Metadata"] for key in keys}


class ObservedStore(S3ObjectStore):
    """The real S3 adapter, counting failed attempts so a test can see the outage happened."""

    failures = 0

    def put(self, key: str, body: bytes, metadata: dict[str, str], content_type: str) -> None:
        try:
            super().put(key, body, metadata, content_type)
        except UploadError:
            self.failures += 1
            raise


def test_lfw_doorway_replay_stores_one_crop_per_person_with_metadata(
    s3_server: RestartableS3, bucket: str, tmp_path: Path, lfw_replay: tuple[Path, list[ReplaySegment]]
) -> None:
    folder, segments = lfw_replay
    # GIVEN cam1 reading a replay of 12 people, each held still for 3 s
    runner = Cam1Runner(_settings(s3_server, bucket, tmp_path, source=str(folder)), drain_on_exit_s=20)
    # WHEN it runs to the end of the replay
    summary = runner.run()
    # THEN one object per person is stored, under the documented key, with the metadata
    stored = _stored(s3_server, bucket)
    assert summary.captures == len(segments) == len(stored)
    assert summary.pending == 0 and summary.dropped == 0
    client = boto3.client("s3", endpoint_url=s3_server.endpoint_url, region_name="us-east-1")
    detector = YuNetDetector(MODELS_DIR / "face" / "face_detection_yunet.onnx")
    for key, metadata in stored.items():
        captured_at = datetime.fromisoformat(metadata["captured_at"])
        assert captured_at.utcoffset() is not None and captured_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
        assert metadata["room_id"] == ROOM_ID and metadata["camera_id"] == CAMERA_ID
        assert uuid.UUID(metadata["capture_id"]).version == 4
        # the clothing colour below the face survives S3's metadata round trip
        read = FaceCaptureMetadata.from_s3(metadata)
        assert read.appearance is not None and read.appearance_problem is None
        assert (
            key
            == f"captures/faces/{ROOM_ID}/{captured_at.astimezone(UTC):%Y-%m-%d}/{metadata['capture_id']}.jpg"
        )
        obj = client.get_object(Bucket=bucket, Key=key)
        assert obj["ContentType"] == "image/jpeg"
        crop = cv2.imdecode(np.frombuffer(obj["Body"].read(), np.uint8), cv2.IMREAD_COLOR)
        assert crop is not None and len(detector.detect(crop)) == 1


def test_an_endpoint_outage_during_capture_loses_nothing(
    s3_server: RestartableS3, bucket: str, tmp_path: Path, lfw_replay: tuple[Path, list[ReplaySegment]]
) -> None:
    folder, segments = lfw_replay
    settings = _settings(s3_server, bucket, tmp_path, source=str(folder))
    store = ObservedStore(bucket, endpoint_url=s3_server.endpoint_url, timeout_s=2.0)
    captured: list[str] = []

    def outage(_decision: CaptureDecision, capture: Capture) -> None:
        # GIVEN the endpoint goes down after the 3rd capture and comes back after the 9th
        captured.append(capture.object_key)
        if len(captured) == 3:
            s3_server.stop()
        elif len(captured) == 9:
            s3_server.start()

    runner = Cam1Runner(settings, store=store, drain_on_exit_s=30, on_capture=outage)
    # WHEN cam1 runs through the replay
    summary = runner.run()
    # THEN uploads failed during the outage, yet every capture arrived after it ended
    assert store.failures >= 1
    assert summary.pending == 0 and summary.dropped == 0
    assert sorted(_stored(s3_server, bucket)) == sorted(captured)
    assert len(captured) == len(segments)


def test_a_restarted_client_resumes_pending_uploads(
    s3_server: RestartableS3, bucket: str, tmp_path: Path, lfw_replay: tuple[Path, list[ReplaySegment]]
) -> None:
    folder, segments = lfw_replay
    # GIVEN a first run while the endpoint is down: every capture stays in the outbox
    s3_server.stop()
    first = Cam1Runner(_settings(s3_server, bucket, tmp_path, source=str(folder)), drain_on_exit_s=0).run()
    assert first.captures == len(segments) and first.pending == len(segments) and first.uploaded == 0
    # WHEN the endpoint is back and the client starts again (on an empty doorway)
    s3_server.start()
    empty = tmp_path / "empty_doorway"
    empty.mkdir()
    cv2.imwrite(str(empty / "000000.jpg"), np.full((480, 640, 3), 90, np.uint8))
    second = Cam1Runner(
        _settings(s3_server, bucket, tmp_path, source=str(empty)),
        source=open_source(empty),
        drain_on_exit_s=20,
    ).run()
    # THEN the pending captures are uploaded by the second run
    assert second.captures == 0 and second.uploaded == len(segments) and second.pending == 0
    assert len(_stored(s3_server, bucket)) == len(segments)


def test_a_full_outbox_drops_the_oldest_and_counts_them(
    s3_server: RestartableS3, bucket: str, tmp_path: Path, lfw_replay: tuple[Path, list[ReplaySegment]]
) -> None:
    folder, segments = lfw_replay
    # GIVEN the endpoint down for the whole replay and room for 5 captures
    s3_server.stop()
    settings = _settings(s3_server, bucket, tmp_path, source=str(folder), outbox_max_items=5)
    captured: list[str] = []
    summary = Cam1Runner(
        settings, drain_on_exit_s=0, on_capture=lambda _d, c: captured.append(c.object_key)
    ).run()
    # THEN the 5 newest are kept and the rest are counted as dropped
    assert summary.pending == 5 and summary.dropped == len(segments) - 5
    s3_server.start()
    empty = tmp_path / "empty_doorway"
    empty.mkdir()
    cv2.imwrite(str(empty / "000000.jpg"), np.full((480, 640, 3), 90, np.uint8))
    Cam1Runner(settings, source=open_source(empty), drain_on_exit_s=20).run()
    assert sorted(_stored(s3_server, bucket)) == sorted(captured[-5:])


@pytest.mark.slow
def test_an_endpoint_down_for_minutes_loses_no_capture(
    s3_server: RestartableS3, bucket: str, tmp_path: Path, lfw_replay: tuple[Path, list[ReplaySegment]]
) -> None:
    folder, segments = lfw_replay
    settings = _settings(s3_server, bucket, tmp_path, source=str(folder), retry_max_s=5.0)
    store = ObservedStore(bucket, endpoint_url=s3_server.endpoint_url, timeout_s=2.0)
    captured: list[str] = []
    outage_s = 125.0
    restart: list[threading.Timer] = []

    def outage(_decision: CaptureDecision, capture: Capture) -> None:
        # GIVEN the endpoint goes down at the first capture and stays down for over two minutes
        captured.append(capture.object_key)
        if len(captured) == 1:
            s3_server.stop()
            restart.append(threading.Timer(outage_s, s3_server.start))
            restart[0].start()

    started = time.monotonic()
    runner = Cam1Runner(settings, store=store, drain_on_exit_s=outage_s + 60, on_capture=outage)
    # WHEN cam1 captures the whole doorway replay meanwhile
    summary = runner.run()
    restart[0].join()
    # THEN uploads kept failing (with backoff) through the outage, and every capture arrived after it
    assert time.monotonic() - started >= outage_s
    assert store.failures >= 10
    assert summary.pending == 0 and summary.dropped == 0
    assert sorted(_stored(s3_server, bucket)) == sorted(captured)
    assert len(captured) == len(segments)
