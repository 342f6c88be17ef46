"""Clothing colour of a person: a small descriptor both cameras can compute from a person box.

The door camera sees a student's face *and* their clothes a moment before the room camera sees
the same clothes from another angle. Colour survives that change of view far better than a
body re-id embedding trained on one camera's crops, and costs a fraction of a millisecond, so it
can break ties between people who enter a second apart.

The descriptor is a hue x saturation histogram of the torso (the band between the shoulders and
the hips, where clothing dominates and the background least), square-rooted and L2-normalised:
the dot product of two descriptors is their Bhattacharyya coefficient (1 = same colours).
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

HUE_BINS = 12
SATURATION_BINS = 4
DESCRIPTOR_SIZE = HUE_BINS * SATURATION_BINS
# The torso band of a standing person's box, as shares of its height and width.
_TORSO_ROWS = (0.2, 0.55)
_TORSO_COLS = (0.2, 0.8)
# Pixels this dark carry no reliable hue.
_MIN_VALUE = 40


def torso_box(xyxy: NDArray[np.floating] | tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    """The torso band of a person box, in whole pixels."""
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    width, height = x2 - x1, y2 - y1
    return (
        round(x1 + _TORSO_COLS[0] * width),
        round(y1 + _TORSO_ROWS[0] * height),
        round(x1 + _TORSO_COLS[1] * width),
        round(y1 + _TORSO_ROWS[1] * height),
    )


def clothing_descriptor(
    frame: NDArray[np.uint8], xyxy: NDArray[np.floating] | tuple[float, float, float, float]
) -> NDArray[np.float32] | None:
    """The torso's colour descriptor (``DESCRIPTOR_SIZE`` values, unit length), or ``None`` when
    the torso is off the frame, too small, or too dark to say anything."""
    height, width = frame.shape[:2]
    x1, y1, x2, y2 = torso_box(xyxy)
    x1, x2 = max(0, x1), min(width, x2)
    y1, y2 = max(0, y1), min(height, y2)
    if x2 - x1 < 4 or y2 - y1 < 4:
        return None
    hsv = cv2.cvtColor(np.ascontiguousarray(frame[y1:y2, x1:x2]), cv2.COLOR_BGR2HSV)
    mask = (hsv[:, :, 2] >= _MIN_VALUE).astype(np.uint8)
    if int(mask.sum()) < 16:
        return None
    histogram = cv2.calcHist([hsv], [0, 1], mask, [HUE_BINS, SATURATION_BINS], [0, 180, 0, 256]).ravel()
    root = np.sqrt(histogram / max(float(histogram.sum()), 1e-9)).astype(np.float32)
    return root / max(float(np.linalg.norm(root)), 1e-9)
