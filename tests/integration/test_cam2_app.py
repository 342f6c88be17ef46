"""The room camera as a whole: stream and health endpoints, and a handoff through the local stack."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from contracts.presence import PresenceReport
from edge_client.cam2.app import Cam2Runner
from edge_client.cam2.evaluation import gt_identity_of, load_mot_sequence
from edge_client.cam2.settings import Cam2Settings
from edge_client.outbox import S3ObjectStore
from infra.local_stack import LocalStack
from tests.conftest import DATA_DIR, MODELS_DIR

pytestmark = pytest.mark.slow

PETS = DATA_DIR / "tracking" / "PETS09-S2L1"
PETS_DOOR = [(680, 260), (768, 260), (768, 440), (680, 440)]
JPEG_START, JPEG_END = b"\xff\xd8", b"\xff\xd9"


class ListSink:
    """Captures kept in memory, in the order written."""

    def __init__(self) -> None:
        self.items: list[tuple[str, bytes, dict[str, str], str]] = []

    def put(self, key: str, body: bytes, metadata: dict[str, str], content_type: str) -> None:
        self.items.append((key, body, metadata, content_type))


def settings_for(tmp_path: Path, **overrides: Any) -> Cam2Settings:
    values: dict[str, Any] = {
        "room_id": "R101",
        "bucket_name": "classsight-test",
        "source": str(PETS / "img1"),
        "source_fps": 7.0,
        "realtime": False,
        "person_weights_path": MODELS_DIR / "person" / "yolov8n_int8_openvino_model",
        "reid_weights_path": MODELS_DIR / "reid" / "osnet_x0_25_msmt17.onnx",
        "door_zone": PETS_DOOR,
        "stream_port": 0,
        "stream_max_fps": 60.0,
        "outbox_path": tmp_path / "outbox.sqlite3",
        **overrides,
    }
    return Cam2Settings(**values)


def read_first_part(url: str) -> tuple[str, bytes]:
    """Open an MJPEG stream and return its content type and the first JPEG in it."""
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback test server
        content_type = response.headers["Content-Type"]
        buffer = b""
        while JPEG_END not in buffer[buffer.find(JPEG_START) :] or JPEG_START not in buffer:
            chunk = response.read1(65536)
            assert chunk, "stream ended before a whole frame"
            buffer += chunk
    start = buffer.find(JPEG_START)
    return content_type, buffer[start : buffer.find(JPEG_END, start) + 2]


def test_stream_serves_annotated_jpeg_frames_and_health(tmp_path: Path) -> None:
    # GIVEN the room camera on a replay of real footage, with the stream on a free port
    runner = Cam2Runner(settings_for(tmp_path, reid_enabled=False), sink=ListSink())
    assert runner.stream is not None
    try:
        # WHEN no frame has been processed yet, /health says so with 503
        with pytest.raises(urllib.error.HTTPError) as starting:
            urllib.request.urlopen(f"{runner.stream.url}/health", timeout=10)  # noqa: S310
        assert starting.value.code == 503
        assert json.loads(starting.value.read())["status"] == "starting"
        # WHEN it has processed a few frames
        images = sorted((PETS / "img1").glob("*.jpg"))[:5]
        start = datetime.now(UTC)
        for index, path in enumerate(images):
            import cv2

            runner.process_frame(cv2.imread(str(path)), start + timedelta(seconds=index / 7))
        content_type, jpeg = read_first_part(f"{runner.stream.url}/stream")
        with urllib.request.urlopen(f"{runner.stream.url}/health", timeout=10) as response:  # noqa: S310
            health = json.loads(response.read())
    finally:
        runner.close()
    # THEN /stream is multipart MJPEG whose parts decode to frames of the source size
    import cv2

    assert content_type.startswith("multipart/x-mixed-replace")
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None and decoded.shape == (576, 768, 3)
    # AND /health reports the loop's state
    assert health["status"] == "ok"
    assert health["frames"] == 5
    assert health["tracks"] >= 1
    # AND the door/room clock offset, not estimated yet (no handoff paired)
    assert health["clock_offset_s"] == 0.0
    assert health["clock_offset_pairs"] == 0


def test_handoff_from_the_queue_tags_the_person_entering_and_is_reported(
    tmp_path: Path, clean_local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = clean_local_stack
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    sequence = load_mot_sequence(PETS)
    settings = settings_for(
        tmp_path,
        aws_endpoint_url=stack.endpoint_url,
        bucket_name=stack.bucket_name,
        handoff_queue_url=stack.room_queue_url("R101"),
        sqs_wait_time_s=1,
        presence_interval_s=2.0,
    )
    runner = Cam2Runner(
        settings, sink=S3ObjectStore(stack.bucket_name, endpoint_url=stack.endpoint_url, region=stack.region)
    )
    # GIVEN the door camera saw persons 11 and 12 (who walk in through the door at frames 17
    # and 22, less than a second apart) one walk delay before, and face_match published a
    # handoff for each to room R101
    first_frame_at = datetime.now(UTC)
    sns = stack.client("sns")
    for identity in (11, 12):
        entry_frame = sequence.identity_frames()[identity][0].frame
        entry_at = first_frame_at + timedelta(seconds=(entry_frame - 1) / sequence.fps)
        handoff = {
            "usn": f"1MS21CS0{identity}",
            "capture_id": f"cap-pets-{identity}",
            "captured_at": (entry_at - timedelta(seconds=settings.walk_delay_s)).isoformat(),
            "similarity": 0.74,
            "course_code": "CS501",
            "room_id": "R101",
            "camera_id": "door-1",
            "source": "face",
        }
        sns.publish(
            TopicArn=stack.handoff_topic_arn,
            Message=json.dumps(handoff),
            MessageAttributes={"room_id": {"DataType": "String", "StringValue": "R101"}},
        )
    # WHEN the room camera runs over the first 60 frames
    summary = runner.run(max_frames=60)
    # THEN each handoff tagged the track of its person, and the messages were deleted
    assert summary.handoffs_applied == 2
    assert runner.origin is not None
    holders = {}
    for identity in (11, 12):
        holder = runner.pipeline.registry.holder_of(f"1MS21CS0{identity}")
        assert holder is not None
        last_frame = round((holder.last_seen_at - runner.origin).total_seconds() * sequence.fps) + 1
        assert gt_identity_of(sequence, last_frame, np.array(holder.last_xyxy)) == identity
        holders[identity] = holder.tracker_id
    sqs = stack.client("sqs")
    assert "Messages" not in sqs.receive_message(QueueUrl=settings.handoff_queue_url, WaitTimeSeconds=0)
    # AND a presence report in the bucket lists the student on that track
    s3 = stack.client("s3")
    keys = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=stack.bucket_name, Prefix="captures/presence/R101/").get(
            "Contents", []
        )
    ]
    reports = [
        PresenceReport.model_validate_json(s3.get_object(Bucket=stack.bucket_name, Key=k)["Body"].read())
        for k in sorted(keys)
    ]
    present = [(t.usn, t.tracker_id) for r in reports for t in r.present]
    assert ("1MS21CS011", holders[11]) in present
    assert ("1MS21CS012", holders[12]) in present
