"""Face detectors with five landmarks, one adapter each, for the door camera and the functions.

``YuNetDetector`` (OpenCV's ``cv2.FaceDetectorYN``) is the default on both sides: cam1 follows
faces with it, face_match and enroll detect and align with it. ``RetinaFaceDetector`` runs
RetinaFace MobileNet-0.25 exported to ONNX through onnxruntime. Both return ``DetectedFace``
objects, boxes clipped to the image and landmarks in ArcFace order, largest face first.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
from numpy.typing import NDArray


class DetectorError(Exception):
    """A face detector cannot be built (missing or unreadable weights) or failed on an image."""


@dataclass(frozen=True)
class DetectedFace:
    """One face found by a detector, in the coordinates of the image it was found in.

    Attributes:
        xyxy: ``(x1, y1, x2, y2)`` in pixels, clipped to the image.
        score: detector confidence in ``[0, 1]``.
        landmarks: five (x, y) points in ArcFace order — eye, mouth corner on the image's left
            first: eye left, eye right, nose tip, mouth left, mouth right. None for a detector
            without landmarks (cam1's Haar cascade).
    """

    xyxy: tuple[float, float, float, float]
    score: float
    landmarks: NDArray[np.float32] | None = None

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

    @property
    def size_px(self) -> float:
        """The shorter side of the box, the figure the size gates compare."""
        return min(self.width, self.height)

    @property
    def area_px(self) -> float:
        return self.area

    def require_landmarks(self) -> NDArray[np.float32]:
        """The landmarks, or ``DetectorError`` for a face found without them."""
        if self.landmarks is None:
            raise DetectorError("this face was detected without landmarks")
        return self.landmarks


class FaceDetector(Protocol):
    """Finds faces (with five landmarks) in a BGR image."""

    name: str

    def detect(self, image_bgr: NDArray[np.uint8]) -> list[DetectedFace]:
        """Every face scoring at least the detector's threshold, largest first."""
        ...


def largest_first(faces: list[DetectedFace]) -> list[DetectedFace]:
    """``faces`` ordered by box area, largest first."""
    return sorted(faces, key=lambda face: face.area, reverse=True)


def downscale(image: NDArray[np.uint8], max_side_px: int) -> tuple[NDArray[np.uint8], float]:
    """``image`` shrunk so its longer side is at most ``max_side_px``, and the factor back up."""
    height, width = image.shape[:2]
    longer = max(height, width)
    if longer <= max_side_px:
        return image, 1.0
    factor = max_side_px / longer
    small = cv2.resize(
        image, (max(1, round(width * factor)), max(1, round(height * factor))), interpolation=cv2.INTER_AREA
    )
    return np.asarray(small, dtype=np.uint8), 1.0 / factor


def _face(
    box: NDArray[np.floating],
    score: float,
    points: NDArray[np.floating],
    factor: float,
    width: int,
    height: int,
) -> DetectedFace:
    x1, y1, x2, y2 = (float(v) * factor for v in box)
    clipped = (
        min(max(x1, 0.0), float(width)),
        min(max(y1, 0.0), float(height)),
        min(max(x2, 0.0), float(width)),
        min(max(y2, 0.0), float(height)),
    )
    return DetectedFace(
        clipped, float(score), (np.asarray(points, dtype=np.float32) * factor).astype(np.float32)
    )


def _require_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise DetectorError(f"{what} weights not found at {path} (set CLASSSIGHT_FACE_DETECTOR_PATH)")


class YuNetDetector:
    """OpenCV's YuNet through ``cv2.FaceDetectorYN``.

    Args:
        model_path: the YuNet ONNX file.
        score_threshold: detector confidence; lower finds more faces in bad light and more false ones.
        nms_threshold: overlap above which two boxes are the same face.
        max_side_px: images are shrunk to this longer side before detection (boxes and landmarks
            are scaled back), which bounds latency on large frames at the cost of faces smaller
            than about 1/60 of it.
    """

    name = "yunet"

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
            self._detector = cv2.FaceDetectorYN.create(
                str(model_path), "", (320, 320), score_threshold, nms_threshold, 5000
            )
        except cv2.error as e:
            raise DetectorError(f"cannot load YuNet from {model_path}: {e}") from e
        self._max_side_px = max_side_px
        self._input_size = (320, 320)
        # FaceDetectorYN keeps the input size as state; one image at a time per detector.
        self._lock = threading.Lock()

    def detect(self, image_bgr: NDArray[np.uint8]) -> list[DetectedFace]:
        """Faces in ``image_bgr``, boxes in its pixels, largest first."""
        small, factor = downscale(image_bgr, self._max_side_px)
        size = (small.shape[1], small.shape[0])
        try:
            with self._lock:
                if size != self._input_size:
                    self._detector.setInputSize(size)
                    self._input_size = size
                _, rows = self._detector.detect(small)
        except cv2.error as e:
            raise DetectorError(f"YuNet failed on a {image_bgr.shape} image: {e}") from e
        if rows is None:
            return []
        height, width = image_bgr.shape[:2]
        faces = []
        for row in np.asarray(rows, dtype=np.float32):
            x, y, w, h = row[:4]
            faces.append(
                _face(np.array([x, y, x + w, y + h]), row[14], row[4:14].reshape(5, 2), factor, width, height)
            )
        return largest_first(faces)


class RetinaFaceDetector:
    """RetinaFace MobileNet-0.25 (fixed 640x640 input, 16800 priors) through onnxruntime.

    The image is resized so its longer side is 640 px and padded to a square; the network
    expects BGR minus the mean (104, 117, 123).

    Args:
        model_path: the RetinaFace ONNX file.
        score_threshold: face probability a box needs.
        nms_threshold: overlap above which two boxes are the same face.
        intra_op_threads: onnxruntime threads (0 = every core).
    """

    name = "retinaface"
    _INPUT_PX = 640
    _MIN_SIZES = ((16, 32), (64, 128), (256, 512))
    _STEPS = (8, 16, 32)
    _VARIANCE = (0.1, 0.2)
    _MEAN_BGR = np.array([104.0, 117.0, 123.0], dtype=np.float32)

    def __init__(
        self,
        model_path: Path,
        *,
        score_threshold: float = 0.7,
        nms_threshold: float = 0.4,
        intra_op_threads: int = 1,
    ) -> None:
        import onnxruntime as ort

        _require_file(model_path, "RetinaFace")
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        self._session = ort.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._input_name = self._session.get_inputs()[0].name
        self._score_threshold = score_threshold
        self._nms_threshold = nms_threshold
        self._priors = self._make_priors()

    @classmethod
    def _make_priors(cls) -> NDArray[np.float32]:
        size = cls._INPUT_PX
        priors = []
        for step, min_sizes in zip(cls._STEPS, cls._MIN_SIZES, strict=True):
            cells = int(np.ceil(size / step))
            for i, j in product(range(cells), range(cells)):
                for min_size in min_sizes:
                    priors.append(
                        [(j + 0.5) * step / size, (i + 0.5) * step / size, min_size / size, min_size / size]
                    )
        return np.array(priors, dtype=np.float32)

    def detect(self, image_bgr: NDArray[np.uint8]) -> list[DetectedFace]:
        """Faces in ``image_bgr``, boxes in its pixels, largest first."""
        height, width = image_bgr.shape[:2]
        factor = self._INPUT_PX / max(height, width)
        resized = cv2.resize(image_bgr, (max(1, round(width * factor)), max(1, round(height * factor))))
        canvas = np.zeros((self._INPUT_PX, self._INPUT_PX, 3), dtype=np.float32)
        canvas[: resized.shape[0], : resized.shape[1]] = resized
        blob = (canvas - self._MEAN_BGR).transpose(2, 0, 1)[None]
        outputs = self._session.run(None, {self._input_name: blob})
        # The exported graph names its outputs arbitrarily; tell them apart by their last dimension.
        by_width = {output.shape[-1]: output[0] for output in outputs}
        loc, conf, landms = by_width[4], by_width[2], by_width[10]

        keep = conf[:, 1] >= self._score_threshold
        if not keep.any():
            return []
        priors, loc, landms, scores = self._priors[keep], loc[keep], landms[keep], conf[keep, 1]
        v0, v1 = self._VARIANCE
        centers = priors[:, :2] + loc[:, :2] * v0 * priors[:, 2:]
        sizes = priors[:, 2:] * np.exp(loc[:, 2:] * v1)
        boxes = np.hstack([centers - sizes / 2, centers + sizes / 2]) * self._INPUT_PX
        points = (
            np.repeat(priors[:, None, :2], 5, axis=1) + landms.reshape(-1, 5, 2) * v0 * priors[:, None, 2:]
        ) * self._INPUT_PX

        xywh = [[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])] for b in boxes]
        kept = cv2.dnn.NMSBoxes(xywh, scores.tolist(), self._score_threshold, self._nms_threshold)
        back = 1.0 / factor
        faces = [
            _face(boxes[i], scores[i], points[i], back, width, height) for i in np.asarray(kept).reshape(-1)
        ]
        return largest_first(faces)
