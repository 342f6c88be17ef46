"""Body re-identification embedder: an OSNet model through onnxruntime.

The model takes ``images`` ``[N, 3, 256, 128]``: RGB scaled to [0, 1] and normalised with the
ImageNet mean and standard deviation; it answers one 512-d appearance vector per crop, which is
L2-normalised here so that a dot product is the cosine similarity.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

from cloud_functions.core.errors import ConfigurationError

_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
_INPUT_W, _INPUT_H = 128, 256


class BodyEmbedder(Protocol):
    """Port: body crops (BGR) in, unit-length appearance embeddings out."""

    @property
    def model_id(self) -> str:
        """Names the model; prints of one model are never compared with another's."""
        ...

    def embed(self, crops: list[NDArray[np.uint8]]) -> NDArray[np.float32]:
        """One unit-length row per crop."""
        ...


class OsnetEmbedder:
    """OSNet re-id weights (ONNX) on the CPU.

    Args:
        weights_path: the ``.onnx`` file.
        intra_op_threads: threads per inference (0 = every core); one vCPU per Lambda makes 1 right.
    """

    def __init__(self, weights_path: Path, intra_op_threads: int = 1) -> None:
        import onnxruntime as ort

        if not weights_path.is_file():
            raise ConfigurationError(f"re-id weights not found: {weights_path}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        try:
            self._session = ort.InferenceSession(
                str(weights_path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # onnxruntime raises its own untyped errors for bad files
            raise ConfigurationError(f"cannot load re-id model {weights_path}: {e}") from e
        self._input = self._session.get_inputs()[0].name
        self._model_id = f"reid:{weights_path.stem}"

    @property
    def model_id(self) -> str:
        """``reid:<weights file stem>``."""
        return self._model_id

    def embed(self, crops: list[NDArray[np.uint8]]) -> NDArray[np.float32]:
        """Unit-length 512-d embeddings of ``crops`` (BGR images of single people)."""
        if not crops:
            return np.zeros((0, 512), dtype=np.float32)
        batch = np.stack([_preprocess(crop) for crop in crops])
        output = np.asarray(self._session.run(None, {self._input: batch})[0], dtype=np.float32)
        norms = np.linalg.norm(output, axis=1, keepdims=True)
        return (output / np.maximum(norms, 1e-12)).astype(np.float32)


def _preprocess(crop: NDArray[np.uint8]) -> NDArray[np.float32]:
    resized = cv2.resize(crop, (_INPUT_W, _INPUT_H), interpolation=cv2.INTER_LINEAR)
    rgb = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    return np.ascontiguousarray(((rgb - _MEAN) / _STD).transpose(2, 0, 1))
