"""Turn a gate decision into an upload: a JPEG crop with margin, its object key and metadata."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import cv2
import numpy as np

from contracts.captures import FaceCaptureMetadata
from contracts.keys import face_capture_key
from contracts.liveness import LivenessReport
from edge_client.cam1.errors import CaptureError
from edge_client.cam1.gate import CaptureDecision
from vision.appearance import clothing_below_face
from vision.faces import DetectedFace

JPEG_QUALITY_STEP = 10
JPEG_MIN_QUALITY = 40


@dataclass(frozen=True, slots=True)
class Capture:
    """One face crop ready for the outbox.

    Attributes:
        capture_id: UUID4 string; also the object's file name.
        room_id: room of the camera.
        camera_id: camera within the room.
        captured_at: UTC time of the chosen frame.
        jpeg: the encoded crop.
        liveness: the edge's liveness report on the stable window (``None``: not judged).
        appearance: clothing colour below the face in the chosen frame (``vision.appearance``;
            ``None``: not sent, or the torso was out of the frame).
    """

    capture_id: str
    room_id: str
    camera_id: str
    captured_at: datetime
    jpeg: bytes
    liveness: LivenessReport | None = None
    appearance: tuple[float, ...] | None = None

    @property
    def object_key(self) -> str:
        """``captures/faces/<room_id>/<YYYY-MM-DD>/<capture_id>.jpg`` (UTC date)."""
        return face_capture_key(self.room_id, self.captured_at, self.capture_id)

    @property
    def metadata(self) -> dict[str, str]:
        """S3 user metadata (``contracts.captures.FaceCaptureMetadata``)."""
        return FaceCaptureMetadata(
            room_id=self.room_id,
            camera_id=self.camera_id,
            captured_at=self.captured_at,
            capture_id=self.capture_id,
            liveness=self.liveness,
            appearance=self.appearance,
        ).to_s3()


def crop_with_margin(image: np.ndarray, face: DetectedFace, margin: float) -> np.ndarray:
    """The face box grown by ``margin`` x its size on each side, clipped to the frame."""
    x1, y1, x2, y2 = face.xyxy
    dx, dy = face.width * margin, face.height * margin
    height, width = image.shape[:2]
    left, top = max(0, round(x1 - dx)), max(0, round(y1 - dy))
    right, bottom = min(width, round(x2 + dx)), min(height, round(y2 + dy))
    if right <= left or bottom <= top:
        raise CaptureError(f"face box {face.xyxy} lies outside the {width}x{height} frame")
    return image[top:bottom, left:right]


def encode_jpeg(crop: np.ndarray, *, quality: int, max_side_px: int, max_bytes: int) -> bytes:
    """Encode ``crop`` as JPEG, downscaled to ``max_side_px`` and stepped down in quality to fit."""
    longest = max(crop.shape[:2])
    if longest > max_side_px:
        scale = max_side_px / longest
        size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    for q in range(quality, JPEG_MIN_QUALITY - 1, -JPEG_QUALITY_STEP):
        ok, buffer = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, q])
        if not ok:
            raise CaptureError(f"JPEG encoding failed for a {crop.shape} crop")
        if buffer.size <= max_bytes:
            return buffer.tobytes()
    raise CaptureError(f"crop does not fit in {max_bytes} bytes even at JPEG quality {JPEG_MIN_QUALITY}")


def build_capture(
    decision: CaptureDecision,
    *,
    room_id: str,
    camera_id: str,
    margin: float,
    quality: int,
    max_side_px: int,
    max_bytes: int,
    liveness: LivenessReport | None = None,
    appearance: bool = False,
) -> Capture:
    """The upload for a gate decision: crop with margin, JPEG, fresh capture id, liveness report,
    and with ``appearance`` the clothing colour below the face in the full frame."""
    crop = crop_with_margin(decision.image, decision.face, margin)
    jpeg = encode_jpeg(crop, quality=quality, max_side_px=max_side_px, max_bytes=max_bytes)
    colour = clothing_below_face(decision.image, decision.face.xyxy) if appearance else None
    return Capture(
        capture_id=str(uuid.uuid4()),
        room_id=room_id,
        camera_id=camera_id,
        captured_at=decision.captured_at.astimezone(UTC),
        jpeg=jpeg,
        liveness=liveness,
        appearance=tuple(float(v) for v in colour) if colour is not None else None,
    )
