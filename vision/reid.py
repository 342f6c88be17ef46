"""Body re-identification: OSNet through onnxruntime, one adapter for cam2 and body_match.

The model takes ``images`` ``[N, 3, 256, 128]``: RGB scaled to [0, 1] and normalised with the
ImageNet mean and standard deviation; it answers one 512-d appearance vector per crop, which is
L2-normalised here so that a dot product is the cosine similarity. cam2 embeds person boxes of
its frames (carrying a name across a track break); body_match embeds uploaded crops.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
_INPUT_W, _INPUT_H = 128, 256
EMBEDDING_DIM = 512


class ReidModelError(Exception):
    """The re-id weights are missing or cannot be loaded."""


def crop_box(frame: NDArray[np.uint8], xyxy: NDArray[np.floating]) -> NDArray[np.uint8]:
    """The part of ``frame`` inside ``xyxy``, clipped to the frame (at least 1x1 pixel)."""
    height, width = frame.shape[:2]
    x1, y1, x2, y2 = (round(float(v)) for v in xyxy)
    x1, x2 = max(0, min(x1, width - 1)), max(1, min(x2, width))
    y1, y2 = max(0, min(y1, height - 1)), max(1, min(y2, height))
    return frame[y1 : max(y1 + 1, y2), x1 : max(x1 + 1, x2)]


def preprocess(crop: NDArray[np.uint8]) -> NDArray[np.float32]:
    """One BGR crop as the network's input: 256x128, RGB, ImageNet-normalised, channels first."""
    resized = cv2.resize(crop, (_INPUT_W, _INPUT_H), interpolation=cv2.INTER_LINEAR)
    rgb = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    return np.ascontiguousarray(((rgb - _MEAN) / _STD).transpose(2, 0, 1))


class OsnetEmbedder:
    """OSNet re-id weights (ONNX) on the CPU.

    Args:
        weights_path: the ``.onnx`` file.
        intra_op_threads: threads per inference (0 = every core). 1 suits a one-vCPU Lambda and
            cam2, where the person detector needs the other core.
    """

    def __init__(self, weights_path: Path, intra_op_threads: int = 1) -> None:
        import onnxruntime as ort

        if not weights_path.is_file():
            raise ReidModelError(f"re-id weights not found: {weights_path}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        try:
            self._session = ort.InferenceSession(
                str(weights_path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # onnxruntime raises its own untyped errors for bad files
            raise ReidModelError(f"cannot load re-id model {weights_path}: {e}") from e
        self._input = self._session.get_inputs()[0].name
        self._model_id = f"reid:{weights_path.stem}"

    @property
    def model_id(self) -> str:
        """``reid:<weights file stem>``: prints of one model are never compared with another's."""
        return self._model_id

    def embed(self, crops: list[NDArray[np.uint8]]) -> NDArray[np.float32]:
        """Unit-length 512-d embeddings of ``crops`` (BGR images of single people), one row each."""
        if not crops:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        batch = np.stack([preprocess(crop) for crop in crops])
        output = np.asarray(self._session.run(None, {self._input: batch})[0], dtype=np.float32)
        norms = np.linalg.norm(output, axis=1, keepdims=True)
        return (output / np.maximum(norms, 1e-12)).astype(np.float32)

    def embed_boxes(self, frame: NDArray[np.uint8], xyxy: NDArray[np.floating]) -> NDArray[np.float32]:
        """Embeddings of the person boxes ``xyxy`` (``(N, 4)`` pixels) in ``frame`` (BGR)."""
        return self.embed([crop_box(frame, box) for box in xyxy])
