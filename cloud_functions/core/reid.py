"""Body re-identification for body_match: the embedder port, and OSNet (``vision.reid``) behind it."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from cloud_functions.core.errors import ConfigurationError
from vision.reid import OsnetEmbedder, ReidModelError


class BodyEmbedder(Protocol):
    """Port: body crops (BGR) in, unit-length appearance embeddings out."""

    @property
    def model_id(self) -> str:
        """Names the model; prints of one model are never compared with another's."""
        ...

    def embed(self, crops: list[NDArray[np.uint8]]) -> NDArray[np.float32]:
        """One unit-length row per crop."""
        ...


def osnet_embedder(weights_path: Path, intra_op_threads: int = 1) -> OsnetEmbedder:
    """The OSNet embedder of ``weights_path``; ``ConfigurationError`` if it cannot be loaded."""
    try:
        return OsnetEmbedder(weights_path, intra_op_threads)
    except ReidModelError as e:
        raise ConfigurationError(str(e)) from e
