"""Quality gates: each is a guard clause that raises ``FaceRejectedError`` with its reason.

The order is cheapest first: size of the upload and decoding (``cloud_functions.core.images``),
face count, face size, pose, then sharpness of the aligned face. Every threshold comes from
``FaceModelSettings``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from cloud_functions.core.faces.types import AnalysisMode, DetectedFace, FaceRejectedError, RejectReason


@dataclass(frozen=True)
class QualityThresholds:
    """The gates' thresholds (see ``FaceModelSettings`` for each one's trade-off)."""

    max_image_bytes: int = 5_000_000
    max_image_pixels: int = 40_000_000
    min_face_px: int = 32
    min_sharpness: float = 30.0
    max_yaw_ratio: float = 0.35


def choose_face(faces: list[DetectedFace], mode: AnalysisMode, thresholds: QualityThresholds) -> DetectedFace:
    """The face to use: the only one (enroll) or the largest (capture).

    Faces smaller than ``min_face_px`` do not count as a second face in enrollment: they are
    bystanders far in the background, never a usable subject.
    """
    if not faces:
        raise FaceRejectedError(RejectReason.NO_FACE, "no face found")
    largest = faces[0]
    if mode == "enroll":
        usable = [face for face in faces if face.size_px >= thresholds.min_face_px]
        if len(usable) > 1:
            raise FaceRejectedError(
                RejectReason.MULTIPLE_FACES, f"{len(usable)} faces found; an enrollment photo needs one"
            )
    if largest.size_px < thresholds.min_face_px:
        raise FaceRejectedError(
            RejectReason.TOO_SMALL, f"face {largest.size_px:.0f} px < minimum {thresholds.min_face_px} px"
        )
    return largest


def yaw_ratio(landmarks: NDArray[np.floating]) -> float:
    """How far the nose tip sits off the midline between the eyes, as a share of the eye distance.

    About 0 for a frontal face, rising towards 0.5 and beyond as the head turns sideways.
    Measured along the eye axis, so head roll does not count.
    """
    left_eye, right_eye, nose = (np.asarray(p, dtype=np.float64) for p in landmarks[:3])
    eye_axis = right_eye - left_eye
    eye_distance = float(np.linalg.norm(eye_axis))
    if eye_distance < 1e-6:
        return float("inf")
    offset = float(np.dot(nose - (left_eye + right_eye) / 2, eye_axis / eye_distance))
    return abs(offset) / eye_distance


def check_pose(face: DetectedFace, thresholds: QualityThresholds) -> float:
    """The face's yaw ratio, or a rejection when it is beyond ``max_yaw_ratio``."""
    ratio = yaw_ratio(face.require_landmarks())
    if ratio > thresholds.max_yaw_ratio:
        raise FaceRejectedError(
            RejectReason.EXTREME_POSE, f"yaw ratio {ratio:.2f} > maximum {thresholds.max_yaw_ratio:.2f}"
        )
    return ratio


def sharpness(aligned_bgr: NDArray[np.uint8]) -> float:
    """Variance of the Laplacian of the aligned 112x112 face (higher is sharper).

    Measured after alignment so that the figure does not depend on the photo's resolution.
    """
    gray = cv2.cvtColor(aligned_bgr, cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def check_sharpness(aligned_bgr: NDArray[np.uint8], thresholds: QualityThresholds) -> float:
    """The aligned face's sharpness, or a rejection when it is below ``min_sharpness``."""
    value = sharpness(aligned_bgr)
    if value < thresholds.min_sharpness:
        raise FaceRejectedError(
            RejectReason.TOO_BLURRY, f"sharpness {value:.1f} < minimum {thresholds.min_sharpness:.1f}"
        )
    return value
