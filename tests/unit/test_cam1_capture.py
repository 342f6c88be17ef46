"""Crop, JPEG and object key of a capture, on a real LFW photo."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import cv2
import numpy as np
import pytest

from contracts.appearance import decode_appearance
from contracts.keys import face_capture_key
from edge_client.cam1.capture import build_capture, crop_with_margin, encode_jpeg
from edge_client.cam1.errors import CaptureError
from edge_client.cam1.gate import CaptureDecision
from tests.conftest import DATA_DIR, MODELS_DIR
from vision.appearance import clothing_descriptor, person_box_below_face
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


def _door_frame(shirt_bgr: tuple[int, int, int], face_top_px: int) -> tuple[np.ndarray, DetectedFace]:
    """A 640x480 door frame: a real LFW face with a shirt of one colour below it."""
    photo = cv2.imread(str(PHOTO))
    assert photo is not None
    frame = np.full((480, 640, 3), 70, dtype=np.uint8)
    head = photo[40:190, 60:190]  # the face and a little hair, 130x150
    bottom = min(480, face_top_px + head.shape[0])
    frame[face_top_px + 140 :, 200:440] = shirt_bgr
    frame[face_top_px:bottom, 255 : 255 + head.shape[1]] = head[: bottom - face_top_px]
    faces = YuNetDetector(MODELS_DIR / "face" / "face_detection_yunet.onnx").detect(frame)
    return frame, max(faces, key=lambda f: f.area)


def _decision(frame: np.ndarray, face: DetectedFace) -> CaptureDecision:
    return CaptureDecision(frame, face, 80.0, 12, 1.2, datetime(2026, 11, 24, 9, tzinfo=UTC), 2.0, 2.0, 1)


def _capture(decision: CaptureDecision, appearance: bool) -> dict[str, str]:
    options = {"margin": 0.35, "quality": 90, "max_side_px": 400, "max_bytes": 300_000}
    return build_capture(
        decision, room_id="R101", camera_id="door-1", appearance=appearance, **options
    ).metadata


@pytest.mark.parametrize(
    ("shirt", "other"),
    [((40, 40, 200), (200, 60, 30)), ((200, 60, 30), (40, 160, 40)), ((40, 160, 40), (40, 40, 200))],
)
def test_a_capture_sends_the_colour_of_the_clothes_below_the_face(
    shirt: tuple[int, int, int], other: tuple[int, int, int]
) -> None:
    # GIVEN a door frame with a real face above a shirt of one colour
    frame, face = _door_frame(shirt, face_top_px=40)
    # WHEN cam1 turns the gate's decision into a capture
    metadata = _capture(_decision(frame, face), appearance=True)
    # THEN its metadata holds the shirt's colour as cam2 measures it on a person box around
    # the shirt, and not another shirt's
    sent = np.array(decode_appearance(metadata["appearance"]))
    person = np.full((480, 640, 3), 70, dtype=np.uint8)
    person[100:400, 200:440] = shirt
    same = clothing_descriptor(person, (200, 0, 440, 560))
    person[100:400, 200:440] = other
    different = clothing_descriptor(person, (200, 0, 440, 560))
    assert same is not None and different is not None
    assert float(sent @ same) > 0.9
    assert float(sent @ different) < 0.3


def test_no_colour_is_sent_when_the_clothes_are_out_of_the_frame_or_it_is_turned_off() -> None:
    # GIVEN a face so low in the frame that nothing below it is visible
    frame, face = _door_frame((40, 40, 200), face_top_px=330)
    assert person_box_below_face(face.xyxy)[1] + 0.2 * 7.5 * face.height > 480
    # THEN the capture goes without a colour
    assert "appearance" not in _capture(_decision(frame, face), appearance=True)
    # AND with the setting off no colour is sent even when the clothes are in view
    frame, face = _door_frame((40, 40, 200), face_top_px=40)
    assert "appearance" not in _capture(_decision(frame, face), appearance=False)
