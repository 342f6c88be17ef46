"""Face detectors behind one interface: ``detect(image) -> list[FaceBox]``.

YuNet (``cv2.FaceDetectorYN``) is the default and runs on OpenCV 4.8+ and 5. The Haar cascade
(``cv2.CascadeClassifier``) exists only on OpenCV 4.x: OpenCV 5 removed the class and its cascade
files, so ``HaarDetector`` raises ``DetectorError`` there and needs a cascade XML path on 4.x.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np


class DetectorError(Exception):
    """The face detector cannot be built (missing weights, unsupported OpenCV) or failed."""


@dataclass(frozen=True, slots=True)
class FaceBox:
    """One detected face in full-frame pixel coordinates.

    Attributes:
        xyxy: ``(x1, y1, x2, y2)``, clipped to the frame.
        score: detector confidence in ``[0, 1]`` (Haar: 1.0).
    """

    xyxy: tuple[float, float, float, float]
    score: float

    @property
    def width(self) -> float:
        return self.xyxy[2] - self.xyxy[0]

    @property
    def height(self) -> float:
        return self.xyxy[3] - self.xyxy[1]

    @property
    def area(self) -> float:
        return max(0.0, self.width) * max(0.0, self.height)

    @property
    def centre(self) -> tuple[float, float]:
        return (self.xyxy[0] + self.xyxy[2]) / 2.0, (self.xyxy[1] + self.xyxy[3]) / 2.0


class FaceDetector(Protocol):
    """Finds faces in a BGR frame."""

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """Faces in ``image`` (BGR uint8), any order."""
        ...


def _downscale(image: np.ndarray, max_side_px: int) -> tuple[np.ndarray, float]:
    """``image`` shrunk so that its longer side is at most ``max_side_px``, and the scale used."""
    height, width = image.shape[:2]
    scale = min(1.0, max_side_px / max(height, width))
    if scale >= 1.0:
        return image, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale


def _clip(
    x1: float, y1: float, x2: float, y2: float, width: int, height: int
) -> tuple[float, float, float, float]:
    return (
        float(min(max(x1, 0.0), width)),
        float(min(max(y1, 0.0), height)),
        float(min(max(x2, 0.0), width)),
        float(min(max(y2, 0.0), height)),
    )


class YuNetDetector:
    """YuNet through ``cv2.FaceDetectorYN``.

    Args:
        model_path: the ONNX weights.
        score_threshold: confidence below which faces are dropped; lower finds more in bad light.
        nms_threshold: overlap above which duplicate boxes are merged.
        max_side_px: frames with a longer side are downscaled for detection (speed vs small faces).
    """

    def __init__(
        self,
        model_path: Path,
        score_threshold: float = 0.7,
        nms_threshold: float = 0.3,
        max_side_px: int = 640,
    ) -> None:
        if not model_path.is_file():
            raise DetectorError(
                f"YuNet weights not found at {model_path} (set CLASSSIGHT_FACE_DETECTOR_PATH)"
            )
        try:
            self._net = cv2.FaceDetectorYN.create(
                str(model_path), "", (320, 320), score_threshold, nms_threshold
            )
        except cv2.error as e:
            raise DetectorError(f"cannot load YuNet from {model_path}: {e}") from e
        self._max_side_px = max_side_px
        self._input_size: tuple[int, int] = (320, 320)

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """Faces in ``image``, boxes in full-frame pixels."""
        small, scale = _downscale(image, self._max_side_px)
        size = (small.shape[1], small.shape[0])
        if size != self._input_size:
            self._net.setInputSize(size)
            self._input_size = size
        try:
            _, faces = self._net.detect(small)
        except cv2.error as e:
            raise DetectorError(f"YuNet failed on a {image.shape} frame: {e}") from e
        if faces is None:
            return []
        height, width = image.shape[:2]
        boxes = []
        for row in faces:
            x, y, w, h = (float(v) / scale for v in row[:4])
            boxes.append(FaceBox(_clip(x, y, x + w, y + h, width, height), float(row[-1])))
        return boxes


class HaarDetector:
    """Viola-Jones cascade through ``cv2.CascadeClassifier`` (OpenCV 4.x only).

    Args:
        cascade_path: cascade XML, e.g. ``haarcascade_frontalface_default.xml`` from OpenCV 4.x.
        min_neighbors: detections a face needs; higher gives fewer false faces, misses more.
        max_side_px: frames with a longer side are downscaled for detection.
    """

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

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """Faces in ``image``, boxes in full-frame pixels, score 1.0."""
        small, scale = _downscale(image, self._max_side_px)
        grey = cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY))
        found = self._cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=self._min_neighbors)
        height, width = image.shape[:2]
        return [
            FaceBox(_clip(x / scale, y / scale, (x + w) / scale, (y + h) / scale, width, height), 1.0)
            for (x, y, w, h) in found
        ]
