"""Face embedders behind one interface: ``embed(aligned_faces) -> [N, D]`` L2-normalised float32.

Every embedder has a ``model_id`` naming the model *and* its weights (file name plus the first
hex digits of their SHA-256), stored with every faceprint: vectors from different models or
different weights are never compared.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import NDArray

from cloud_functions.core.errors import ConfigurationError
from cloud_functions.core.faces.alignment import ALIGNED_SIZE_PX

if TYPE_CHECKING:
    from cloud_functions.core.settings import FaceModelSettings

logger = logging.getLogger(__name__)

AlignedBatch = Sequence[NDArray[np.uint8]] | NDArray[np.uint8]
"""112x112 BGR uint8 faces from ``align_face``: a list of them, or one [N, 112, 112, 3] array."""


class FaceEmbedder(Protocol):
    """Turns aligned faces into unit-length vectors."""

    model_id: str
    dim: int

    def embed(self, aligned_faces: AlignedBatch) -> NDArray[np.float32]:
        """One L2-normalised float32 row per face, shape [N, dim]."""
        ...


def weights_fingerprint(path: Path, digits: int = 12) -> str:
    """First ``digits`` hex digits of the SHA-256 of a weights file."""
    digest = hashlib.sha256()
    with path.open("rb") as weights:
        for chunk in iter(lambda: weights.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:digits]


def l2_normalise(vectors: NDArray[np.floating]) -> NDArray[np.float32]:
    """Rows scaled to unit length (a zero row stays zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def _stack(aligned_faces: AlignedBatch) -> NDArray[np.uint8]:
    batch = np.asarray(aligned_faces, dtype=np.uint8) if len(aligned_faces) else np.zeros((0, 112, 112, 3))
    if batch.ndim != 4 or batch.shape[1:] != (ALIGNED_SIZE_PX, ALIGNED_SIZE_PX, 3):
        raise ValueError(f"expected aligned faces of shape [N, 112, 112, 3], got {batch.shape}")
    return batch.astype(np.uint8, copy=False)


class OnnxArcFaceEmbedder:
    """Any ArcFace-family ONNX model with a [N, 3, 112, 112] input, through onnxruntime.

    Input: RGB, (x - 127.5) / 127.5, channels first, after the 5-point alignment.

    Args:
        model_path: the ONNX file.
        batch_size: faces per inference call; larger amortises overhead, costs memory.
        intra_op_threads: onnxruntime threads; 0 lets it use every core (fastest alone on a
            multi-core host, slowest on a shared or single vCPU).
    """

    def __init__(self, model_path: Path, *, batch_size: int = 1, intra_op_threads: int = 1) -> None:
        import onnxruntime as ort

        if not model_path.is_file():
            raise ConfigurationError(f"face embedder weights not found at {model_path}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        self._session = ort.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        model_input = self._session.get_inputs()[0]
        if list(model_input.shape[1:]) != [3, ALIGNED_SIZE_PX, ALIGNED_SIZE_PX]:
            raise ConfigurationError(
                f"{model_path.name}: expected input [N, 3, 112, 112], got {model_input.shape}"
            )
        self._input_name = model_input.name
        # A model exported with a fixed batch of 1 is fed one face at a time.
        self._batch_size = batch_size if not isinstance(model_input.shape[0], int) else model_input.shape[0]
        self.dim = int(self._session.get_outputs()[0].shape[-1])
        self.model_id = f"onnx:{model_path.stem}@{weights_fingerprint(model_path)}"

    def embed(self, aligned_faces: AlignedBatch) -> NDArray[np.float32]:
        batch = _stack(aligned_faces)
        if len(batch) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows = []
        for start in range(0, len(batch), self._batch_size):
            chunk = batch[start : start + self._batch_size]
            blob = (chunk[:, :, :, ::-1].astype(np.float32) - 127.5) / 127.5
            outputs = self._session.run(None, {self._input_name: blob.transpose(0, 3, 1, 2)})
            rows.append(np.asarray(outputs[0], dtype=np.float32).reshape(len(chunk), -1))
        return l2_normalise(np.concatenate(rows))


DEEPFACE_ARCFACE_FILE = "arcface_weights.h5"


def _use_legacy_keras() -> None:
    # DeepFace runs its Keras models on tf-keras (Keras 2), which reads its legacy .h5 weight
    # files; ``deepface.DeepFace`` sets this before TensorFlow loads, and so must any direct use.
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")


def build_deepface_arcface() -> Any:
    """DeepFace's ArcFace network (ResNet34 backbone, 512-d embedding head), untrained.

    Mirrors ``deepface.models.facial_recognition.tf.ArcFace.load_model`` without its download
    step, so weights can come from a path in settings. Loading DeepFace's weight file into it
    fails loudly if DeepFace ever changes the architecture.
    """
    _use_legacy_keras()
    from deepface.models.facial_recognition.tf.ArcFace import ResNet34
    from tensorflow.keras.layers import BatchNormalization, Dense, Dropout, Flatten
    from tensorflow.keras.models import Model

    base = ResNet34()
    x = BatchNormalization(momentum=0.9, epsilon=2e-5)(base.outputs[0])
    x = Dropout(0.4)(x)
    x = Flatten()(x)
    x = Dense(512, activation=None, use_bias=True, kernel_initializer="glorot_normal")(x)
    embedding = BatchNormalization(momentum=0.9, epsilon=2e-5, name="embedding", scale=True)(x)
    return Model(base.inputs[0], embedding, name=base.name)


def download_deepface_arcface_weights() -> Path:
    """Fetch ``arcface_weights.h5`` the way DeepFace does (into ``$DEEPFACE_HOME/.deepface/weights``).

    Needs internet access; a function image runs this at build time so the weights are baked in.
    """
    _use_legacy_keras()
    from deepface.commons import weight_utils
    from deepface.models.facial_recognition.tf.ArcFace import WEIGHTS_URL

    return Path(
        weight_utils.download_weights_if_necessary(file_name=DEEPFACE_ARCFACE_FILE, source_url=WEIGHTS_URL)
    )


class DeepFaceArcFaceEmbedder:
    """DeepFace's ArcFace (Keras, 512-d) fed the input ``DeepFace.represent`` gives it:
    BGR, scaled to [0, 1] (its default ``normalization="base"``).

    Args:
        weights_path: DeepFace's ``arcface_weights.h5``. When the file is missing and
            ``download_if_missing`` is set, DeepFace downloads it into its home and it is
            loaded from there.
        batch_size: faces per forward pass.
    """

    def __init__(self, weights_path: Path, *, batch_size: int = 32, download_if_missing: bool = True) -> None:
        if not weights_path.is_file():
            if not download_if_missing:
                raise ConfigurationError(f"DeepFace ArcFace weights not found at {weights_path}")
            logger.info("DeepFace ArcFace weights missing at %s; downloading", weights_path)
            weights_path = download_deepface_arcface_weights()
        self._model = build_deepface_arcface()
        try:
            self._model.load_weights(str(weights_path))
        except (OSError, ValueError) as e:
            raise ConfigurationError(f"cannot load DeepFace ArcFace weights from {weights_path}: {e}") from e
        self._batch_size = batch_size
        self.dim = int(self._model.outputs[0].shape[-1])
        self.model_id = f"deepface-arcface:{weights_path.stem}@{weights_fingerprint(weights_path)}"

    def embed(self, aligned_faces: AlignedBatch) -> NDArray[np.float32]:
        batch = _stack(aligned_faces)
        if len(batch) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows = []
        for start in range(0, len(batch), self._batch_size):
            chunk = batch[start : start + self._batch_size].astype(np.float32) / 255.0
            rows.append(np.asarray(self._model(chunk, training=False), dtype=np.float32))
        return l2_normalise(np.concatenate(rows))


def make_embedder(settings: FaceModelSettings) -> FaceEmbedder:
    """The embedder named by ``settings.face_embedder``."""
    if settings.face_embedder == "deepface":
        if settings.face_embedder_path.suffix != ".h5":
            raise ConfigurationError(
                "face_embedder=deepface needs CLASSSIGHT_FACE_EMBEDDER_PATH to name DeepFace's "
                f"{DEEPFACE_ARCFACE_FILE} (downloaded there if absent), "
                f"not {settings.face_embedder_path.name}"
            )
        return DeepFaceArcFaceEmbedder(settings.face_embedder_path, batch_size=settings.embed_batch_size)
    return OnnxArcFaceEmbedder(
        settings.face_embedder_path,
        batch_size=settings.embed_batch_size,
        intra_op_threads=settings.onnx_intra_op_threads,
    )
