"""The standard ArcFace 5-point similarity alignment to 112x112."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

ALIGNED_SIZE_PX = 112

# Where the five landmarks land in a 112x112 ArcFace crop (insightface's reference points).
ARCFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float32,
)


def similarity_transform(source: NDArray[np.floating], target: NDArray[np.floating]) -> NDArray[np.float64]:
    """The 2x3 similarity (rotation, uniform scale, translation) that best maps ``source`` onto
    ``target`` in the least-squares sense (Umeyama, 1991)."""
    src = np.asarray(source, dtype=np.float64)
    dst = np.asarray(target, dtype=np.float64)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    covariance = dst_c.T @ src_c / len(src)
    u, s, vt = np.linalg.svd(covariance)
    d = np.ones(2)
    if np.linalg.det(covariance) < 0:
        d[-1] = -1.0
    rotation = u @ np.diag(d) @ vt
    src_var = (src_c**2).sum() / len(src)
    scale = float((s * d).sum() / src_var) if src_var > 0 else 1.0
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - scale * rotation @ src_mean
    return matrix


def align_face(image_bgr: NDArray[np.uint8], landmarks: NDArray[np.floating]) -> NDArray[np.uint8]:
    """Warp the face whose five landmarks are given onto the 112x112 ArcFace template."""
    matrix = similarity_transform(landmarks, ARCFACE_TEMPLATE)
    aligned = cv2.warpAffine(
        image_bgr, matrix, (ALIGNED_SIZE_PX, ALIGNED_SIZE_PX), flags=cv2.INTER_LINEAR, borderValue=0.0
    )
    return np.asarray(aligned, dtype=np.uint8)
