"""The evidence sources beyond the model, each a plain function of frames and boxes.

- :func:`planar_motion`: points tracked on the face across the window (Shi-Tomasi corners, pyramidal
  Lucas-Kanade with a forward-backward check) are fitted by one homography per frame. A photo,
  printed or on a screen, is a plane: its points fit to tracking noise. A real head rotates and
  moves its face; the nose, cheeks and jaw leave a residual. A face that hardly moves cannot tell.
- :func:`device_enclosure`: a phone, laptop or TV box (from the COCO detector on the edge) that
  encloses the face and is not much larger than it.
- :func:`spectral_peak_score`: periodic high-frequency peaks in the face's spectrum (screen pixel
  grids, print halftone, moiré).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from vision.liveness.types import BoxXYXY, DeviceBox, WindowFrame

DEVICE_LABELS = frozenset({"cell phone", "laptop", "tv"})
"""COCO classes that can show a face to the door camera (ids 67, 63, 62)."""

DEVICE_ENCLOSES_FACE = 0.9
"""Share of the face box a device box must cover to count as showing that face."""

_MAX_CORNERS = 100
_LK_WINDOW_PX = 15
_LK_LEVELS = 3
_FORWARD_BACKWARD_PX = 1.0
_TEXTURE_PX = 128
_ROI_MARGIN = 0.5
_MIN_TRACKED_FRAMES = 4
"""Frames after the first that must be tracked for a planar judgement (~0.4 s at 10 fps)."""


def _grey(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    return image if image.ndim == 2 else np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), dtype=np.uint8)


def _width(xyxy: BoxXYXY) -> float:
    return float(xyxy[2]) - float(xyxy[0])


@dataclass(frozen=True, slots=True)
class PlanarMeasure:
    """Planar-motion figures of one window.

    Attributes:
        motion: largest median displacement of the tracked points from the first frame, in
            face widths.
        residual: median over frames of the median distance of the points from the frame's
            fitted homography, in face widths.
        points: points still tracked at the end.
        frames: frames tracked from the first (the whole window, or the part before the points
            were lost).
    """

    motion: float
    residual: float
    points: int
    frames: int


def _track(
    before: NDArray[np.uint8], after: NDArray[np.uint8], points: NDArray[np.float32]
) -> tuple[NDArray[np.float32], NDArray[np.uint8]]:
    """Pyramidal Lucas-Kanade: where ``points`` of ``before`` went in ``after``, and which were found."""
    moved, status, _ = cv2.calcOpticalFlowPyrLK(
        before, after, points, points.copy(), winSize=(_LK_WINDOW_PX, _LK_WINDOW_PX), maxLevel=_LK_LEVELS
    )
    return np.asarray(moved, dtype=np.float32), np.asarray(status, dtype=np.uint8)


def planar_motion(frames: Sequence[WindowFrame], *, min_points: int) -> PlanarMeasure | None:
    """Track the first frame's face points through ``frames``.

    Tracking stops where fewer than ``min_points`` survive; ``None`` when that leaves fewer than
    ``_MIN_TRACKED_FRAMES`` frames to judge.
    """
    if len(frames) < 2:
        return None
    first = frames[0]
    width = max(_width(first.face_xyxy), 1.0)
    # Track inside the region the face sweeps (plus a margin), not the whole frame: the same
    # points at a fraction of the pyramid-building cost.
    height_px, width_px = first.image.shape[:2]
    left = max(0, round(min(float(f.face_xyxy[0]) for f in frames) - _ROI_MARGIN * width))
    top = max(0, round(min(float(f.face_xyxy[1]) for f in frames) - _ROI_MARGIN * width))
    right = min(width_px, round(max(float(f.face_xyxy[2]) for f in frames) + _ROI_MARGIN * width))
    bottom = min(height_px, round(max(float(f.face_xyxy[3]) for f in frames) + _ROI_MARGIN * width))
    if right - left < 16 or bottom - top < 16:
        return None
    previous = _grey(first.image[top:bottom, left:right])
    x1, y1, x2, y2 = (round(float(v)) for v in first.face_xyxy)
    mask = np.zeros_like(previous)
    mask[max(y1 - top, 0) : max(y2 - top, 0), max(x1 - left, 0) : max(x2 - left, 0)] = 255
    corners = cv2.goodFeaturesToTrack(previous, _MAX_CORNERS, 0.01, max(3.0, width / 20), mask=mask)
    if corners is None or len(corners) < min_points:
        return None
    start = corners.astype(np.float32)
    current = start.copy()
    alive = np.ones(len(start), dtype=bool)
    motions, residuals = [], []
    for frame in frames[1:]:
        grey = _grey(frame.image[top:bottom, left:right])
        ahead, status = _track(previous, grey, current)
        back, status_back = _track(grey, previous, ahead)
        round_trip = np.linalg.norm((back - current).reshape(-1, 2), axis=1)
        found = (status.ravel() == 1) & (status_back.ravel() == 1)
        kept = alive & found & (round_trip < _FORWARD_BACKWARD_PX)
        if kept.sum() < min_points:
            # The face turned or moved too fast to follow: judge the part of the window tracked so far.
            break
        alive, current, previous = kept, ahead, grey
        src, dst = start[alive].reshape(-1, 2), current[alive].reshape(-1, 2)
        homography, _ = cv2.findHomography(src, dst, 0)
        if homography is None:
            return None
        projected = cv2.perspectiveTransform(src[None], homography)[0]
        residuals.append(float(np.median(np.linalg.norm(projected - dst, axis=1))) / width)
        motions.append(float(np.median(np.linalg.norm(dst - src, axis=1))) / width)
    if len(residuals) < _MIN_TRACKED_FRAMES:
        return None
    return PlanarMeasure(max(motions), float(np.median(residuals)), int(alive.sum()), len(residuals) + 1)


def _area(xyxy: BoxXYXY) -> float:
    return max(0.0, float(xyxy[2]) - float(xyxy[0])) * max(0.0, float(xyxy[3]) - float(xyxy[1]))


def device_enclosure(face_xyxy: BoxXYXY, device: DeviceBox, *, min_face_share: float) -> bool:
    """Whether ``device`` shows this face: it covers the face and the face is not lost in it."""
    if device.label not in DEVICE_LABELS:
        return False
    face_area = _area(face_xyxy)
    if face_area <= 0:
        return False
    ix1, iy1 = max(face_xyxy[0], device.xyxy[0]), max(face_xyxy[1], device.xyxy[1])
    ix2, iy2 = min(face_xyxy[2], device.xyxy[2]), min(face_xyxy[3], device.xyxy[3])
    covered = _area((ix1, iy1, ix2, iy2)) / face_area
    share = face_area / max(_area(device.xyxy), 1.0)
    return covered >= DEVICE_ENCLOSES_FACE and share >= min_face_share


def device_score(frames: Sequence[WindowFrame], *, min_face_share: float) -> float | None:
    """Highest confidence of a device enclosing the face; ``None`` when no frame was checked."""
    checked = [f for f in frames if f.devices_checked]
    if not checked:
        return None
    scores = [
        d.confidence
        for f in checked
        for d in f.devices
        if device_enclosure(f.face_xyxy, d, min_face_share=min_face_share)
    ]
    return max(scores, default=0.0)


def spectral_peak_score(image: NDArray[np.uint8], face_xyxy: BoxXYXY) -> float | None:
    """Largest log-magnitude peak above its 5x5 neighbourhood in the face's mid-to-high frequencies.

    The face is cut at its detected size and resampled to 128 px (windowed), so a screen's pixel
    grid or a halftone shows as isolated peaks; a live face's spectrum falls off smoothly.
    """
    x1, y1, x2, y2 = (round(float(v)) for v in face_xyxy)
    patch = image[max(y1, 0) : max(y2, 0), max(x1, 0) : max(x2, 0)]
    if patch.size == 0 or min(patch.shape[:2]) < 16:
        return None
    grey = cv2.resize(_grey(patch), (_TEXTURE_PX, _TEXTURE_PX), interpolation=cv2.INTER_AREA)
    values = grey.astype(np.float32) - float(grey.mean())
    taper = np.outer(np.hanning(_TEXTURE_PX), np.hanning(_TEXTURE_PX)).astype(np.float32)
    magnitude = np.log1p(np.abs(np.fft.fftshift(np.fft.fft2(values * taper)))).astype(np.float32)
    background = cv2.medianBlur(magnitude, 5)
    half = _TEXTURE_PX // 2
    yy, xx = np.mgrid[-half:half, -half:half]
    radius = np.hypot(yy, xx) / half
    band = (radius > 0.25) & (radius < 0.95)
    return float(np.max((magnitude - background)[band]))
