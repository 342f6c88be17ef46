"""Clothing colour of a person: a small descriptor both cameras can compute from a person box.

The door camera sees a student's face *and* their clothes a moment before the room camera sees
the same clothes from another angle. Colour survives that change of view far better than a
body re-id embedding trained on one camera's crops, and costs a fraction of a millisecond, so it
can break ties between people who enter a second apart.

The descriptor is a hue x saturation histogram of the torso (the band between the shoulders and
the hips, where clothing dominates and the background least), square-rooted and L2-normalised:
the dot product of two descriptors is their Bhattacharyya coefficient (1 = same colours).

The door camera has a face box, not a person box: :func:`person_box_below_face` stands a person
under the face by the body's usual proportions, so both cameras take the same torso band.
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
# A standing person in face boxes: the head's top a third of a face above the face box, the
# body 7.5 face heights tall and 3 face widths wide. The torso band then runs from just below
# the chin to the hips and stays inside the shoulders.
_HEAD_ABOVE_FACE = 1 / 3
_BODY_FACE_HEIGHTS = 7.5
_BODY_FACE_WIDTHS = 3.0


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


def person_box_below_face(
    face_xyxy: NDArray[np.floating] | tuple[float, float, float, float],
) -> tuple[float, float, float, float]:
    """The box of the person standing under a face box (it may reach past the frame)."""
    x1, y1, x2, y2 = (float(v) for v in face_xyxy)
    face_width, face_height = x2 - x1, y2 - y1
    centre_x = (x1 + x2) / 2
    top = y1 - _HEAD_ABOVE_FACE * face_height
    half_width = _BODY_FACE_WIDTHS * face_width / 2
    return (centre_x - half_width, top, centre_x + half_width, top + _BODY_FACE_HEIGHTS * face_height)


def clothing_below_face(
    frame: NDArray[np.uint8], face_xyxy: NDArray[np.floating] | tuple[float, float, float, float]
) -> NDArray[np.float32] | None:
    """The door camera's view of :func:`clothing_descriptor`: the torso under a face box.

    ``None`` when the torso is cut off by the frame's lower edge (a face close to the camera)
    or too dark, as for a person box.
    """
    return clothing_descriptor(frame, person_box_below_face(face_xyxy))
