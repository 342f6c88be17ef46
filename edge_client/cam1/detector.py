"""cam1's face detectors: YuNet (``vision.faces``, shared with the functions) and a Haar cascade.

YuNet (``cv2.FaceDetectorYN``) is the default and runs on OpenCV 4.8+ and 5. The Haar cascade
(``cv2.CascadeClassifier``) exists only on OpenCV 4.x: OpenCV 5 removed the class and its cascade
files, so ``HaarDetector`` raises ``DetectorError`` there and needs a cascade XML path on 4.x. It
finds no landmarks; the gate needs only boxes.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vision.faces import DetectedFace, DetectorError, downscale, largest_first


class HaarDetector:
    """Viola-Jones cascade through ``cv2.CascadeClassifier`` (OpenCV 4.x only).

    Args:
        cascade_path: cascade XML, e.g. ``haarcascade_frontalface_default.xml`` from OpenCV 4.x.
        min_neighbors: detections a face needs; higher gives fewer false faces, misses more.
        max_side_px: frames with a longer side are downscaled for detection.
    """

    name = "haar"

    def __init__(self, cascade_path: Path, min_neighbors: int = 5, max_side_px: int = 640) -> None:
        if not hasattr(cv2, "CascadeClassifier"):
            raise DetectorError(
                f"Haar cascades need OpenCV 4.x; this is OpenCV {cv2.__version__}. Use face_detector=yunet."
            )
        if not cascade_path.is_file():
            raise DetectorError(
                f"Haar cascade not found at {cascade_path} (set CLASSSIGHT_HAAR_CASCADE_PATH)"
            )
        self._cascade = cv2.CascadeClassifier(str(cascade_path))
        if self._cascade.empty():
            raise DetectorError(f"{cascade_path} is not a Haar cascade")
        self._min_neighbors = min_neighbors
        self._max_side_px = max_side_px

    def detect(self, image: np.ndarray) -> list[DetectedFace]:
        """Faces in ``image``, boxes in full-frame pixels, score 1.0."""
        small, factor = downscale(image, self._max_side_px)
        grey = cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY))
        found = self._cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=self._min_neighbors)
        height, width = image.shape[:2]
        faces = [
            DetectedFace(
                (
                    min(max(x * factor, 0.0), width),
                    min(max(y * factor, 0.0), height),
                    min(max((x + w) * factor, 0.0), width),
                    min(max((y + h) * factor, 0.0), height),
                ),
                1.0,
            )
            for (x, y, w, h) in found
        ]
        return largest_first(faces)
