"""Crop, JPEG and object key of a capture, on a real LFW photo."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import cv2
import numpy as np
import pytest

from contracts.keys import face_capture_key
from edge_client.cam1.capture import build_capture, crop_with_margin, encode_jpeg
from edge_client.cam1.errors import CaptureError
from edge_client.cam1.gate import CaptureDecision
from tests.conftest import DATA_DIR, MODELS_DIR
from vision.faces import DetectedFace, YuNetDetector

PHOTO = sorted((DATA_DIR / "faces" / "lfw_subset" / "known" / "Colin_Powell").glob("*.jpg"))[0]


@pytest.mark.parametrize(
    ("captured_at", "expected_day"),
    [
        (datetime(2026, 3, 1, 23, 30, tzinfo=UTC), "2026-03-01"),
        # 01:30 in UTC+5:30 is still the previous day in UTC: the key uses the UTC date
        (datetime(2026, 3, 2, 1, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))), "2026-03-01"),
    ],
)
def test_face_capture_key_uses_room_and_utc_date(captured_at: datetime, expected_day: str) -> None:
    key = face_capture_key("R101", captured_at, "3f0c")
    assert key == f"captures/faces/R101/{expected_day}/3f0c.jpg"


@pytest.mark.parametrize(
    ("box", "margin", "expected_shape"),
    [
        ((100, 100, 200, 220), 0.0, (120, 100)),
        ((100, 100, 200, 220), 0.5, (210, 200)),  # 40..280 tall, clipped at the bottom (250)
        ((0, 0, 100, 100), 0.5, (150, 150)),  # clipped at the top-left corner
        ((200, 150, 250, 250), 1.0, (200, 100)),  # clipped at the bottom-right corner
    ],
)
def test_crop_with_margin_grows_the_box_and_clips_to_the_frame(
    box: tuple[float, float, float, float], margin: float, expected_shape: tuple[int, int]
) -> None:
    image = np.zeros((250, 250, 3), np.uint8)
    assert crop_with_margin(image, DetectedFace(box, 0.9), margin).shape[:2] == expected_shape


def test_a_box_outside_the_frame_is_a_capture_error() -> None:
    with pytest.raises(CaptureError, match="outside"):
        crop_with_margin(np.zeros((100, 100, 3), np.uint8), DetectedFace((150, 150, 180, 180), 0.9), 0.1)


@pytest.mark.parametrize(("max_side_px", "max_bytes"), [(400, 300_000), (96, 300_000), (400, 12_000)])
def test_encode_jpeg_respects_max_side_and_max_bytes(max_side_px: int, max_bytes: int) -> None:
    original = cv2.imread(str(PHOTO))
    assert original is not None
    photo = cv2.resize(original, (600, 600))
    jpeg = encode_jpeg(photo, quality=95, max_side_px=max_side_px, max_bytes=max_bytes)
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None
    assert len(jpeg) <= max_bytes
    assert max(decoded.shape[:2]) == min(600, max_side_px)


def test_encode_jpeg_gives_up_with_a_clear_error_when_nothing_fits() -> None:
    noise = np.random.default_rng(0).integers(0, 256, (400, 400, 3), dtype=np.uint8)
    with pytest.raises(CaptureError, match="does not fit"):
        encode_jpeg(noise, quality=90, max_side_px=400, max_bytes=10_000)


def test_build_capture_from_a_real_face() -> None:
    # GIVEN a gate decision on a real photo
    image = cv2.imread(str(PHOTO))
    assert image is not None
    face = max(
        YuNetDetector(MODELS_DIR / "face" / "face_detection_yunet.onnx").detect(image), key=lambda f: f.area
    )
    captured_at = datetime(2026, 11, 24, 9, 0, 1, 250_000, tzinfo=UTC)
    decision = CaptureDecision(image, face, 80.0, 12, 1.2, captured_at, 2.0, 2.0, 1)
    # WHEN it becomes a capture
    capture = build_capture(
        decision,
        room_id="R101",
        camera_id="door-1",
        margin=0.35,
        quality=90,
        max_side_px=400,
        max_bytes=300_000,
    )
    # THEN the crop holds the face and the key/metadata follow the contract
    assert uuid.UUID(capture.capture_id).version == 4
    assert capture.object_key == f"captures/faces/R101/2026-11-24/{capture.capture_id}.jpg"
    assert capture.metadata == {
        "room_id": "R101",
        "camera_id": "door-1",
        "captured_at": "2026-11-24T09:00:01.250+00:00",
        "capture_id": capture.capture_id,
    }
    crop = cv2.imdecode(np.frombuffer(capture.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert crop is not None
    assert crop.shape[1] == pytest.approx(face.width * 1.7, abs=2)
