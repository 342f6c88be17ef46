"""Face detectors with five landmarks, behind one interface.

``YuNetDetector`` (OpenCV's ``cv2.FaceDetectorYN``) is the default; ``RetinaFaceDetector`` runs
RetinaFace MobileNet-0.25 exported to ONNX through onnxruntime. Both return ``DetectedFace``
objects with landmarks in ArcFace order, largest face first.
"""

from __future__ import annotations

import threading
from itertools import product
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

from cloud_functions.core.errors import ConfigurationError
from cloud_functions.core.faces.types import DetectedFace


class FaceDetector(Protocol):
    """Finds faces and their five landmarks in a BGR image."""

    name: str

    def detect(self, image_bgr: NDArray[np.uint8]) -> list[DetectedFace]:
        """Every face scoring at least the detector's threshold, largest first."""
        ...


def _largest_first(faces: list[DetectedFace]) -> list[DetectedFace]:
    return sorted(faces, key=lambda face: face.area_px, reverse=True)


def _downscale(image_bgr: NDArray[np.uint8], max_side_px: int) -> tuple[NDArray[np.uint8], float]:
    """The image shrunk so its longer side is at most ``max_side_px``, and the factor back up."""
    height, width = image_bgr.shape[:2]
    longer = max(height, width)
    if longer <= max_side_px:
        return image_bgr, 1.0
    factor = max_side_px / longer
    small = cv2.resize(
        image_bgr, (round(width * factor), round(height * factor)), interpolation=cv2.INTER_AREA
    )
    return np.asarray(small, dtype=np.uint8), 1.0 / factor


def _require_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise ConfigurationError(f"{what} weights not found at {path}")


class YuNetDetector:
    """OpenCV's YuNet through ``cv2.FaceDetectorYN``.

    Args:
        model_path: the YuNet ONNX file.
        score_threshold: detector confidence; lower finds more faces in bad light and more false ones.
        nms_threshold: overlap above which two boxes are the same face.
        max_side_px: images are shrunk to this longer side before detection (landmarks are scaled
            back), which bounds latency on large uploads at the cost of faces under ~10 px.
    """

    name = "yunet"

    def __init__(
        self,
        model_path: Path,
        *,
        score_threshold: float = 0.7,
        nms_threshold: float = 0.3,
        max_side_px: int = 640,
    ) -> None:
        _require_file(model_path, "YuNet")
        self._detector = cv2.FaceDetectorYN.create(
            str(model_path), "", (320, 320), score_threshold, nms_threshold, 5000
        )
        self._max_side_px = max_side_px
        # FaceDetectorYN keeps the input size as state; one image at a time per detector.
        self._lock = threading.Lock()

    def detect(self, image_bgr: NDArray[np.uint8]) -> list[DetectedFace]:
        small, factor = _downscale(image_bgr, self._max_side_px)
        height, width = small.shape[:2]
        with self._lock:
            self._detector.setInputSize((width, height))
            _, rows = self._detector.detect(small)
        if rows is None:
            return []
        faces = []
        for row in np.asarray(rows, dtype=np.float32):
            x, y, w, h = row[:4]
            faces.append(
                DetectedFace(
                    xyxy=np.array([x, y, x + w, y + h], dtype=np.float32),
                    landmarks=row[4:14].reshape(5, 2).copy(),
                    score=float(row[14]),
                ).scaled(factor)
            )
        return _largest_first(faces)


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
            DetectedFace(
                xyxy=(boxes[i] * back).astype(np.float32),
                landmarks=(points[i] * back).astype(np.float32),
                score=float(scores[i]),
            )
            for i in np.asarray(kept).reshape(-1)
        ]
        return _largest_first(faces)
