"""1:N identification of a face: the faceprints of one model, cached in the warm process.

The rule (threshold and margin over the runner-up student) is ``cloud_functions.core.matching``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Hashable
from typing import TYPE_CHECKING, Protocol

import numpy as np
from numpy.typing import NDArray

from cloud_functions.core.matching import Gallery, MatchResult, decide

if TYPE_CHECKING:
    from cloud_functions.core.settings import FaceModelSettings

logger = logging.getLogger(__name__)


class GallerySource(Protocol):
    """Where faceprints live (the database in production)."""

    def gallery_version(self, model_id: str) -> Hashable:
        """A cheap value that changes whenever the model's faceprints change."""
        ...

    def load_gallery(self, model_id: str) -> Gallery:
        """Every faceprint of ``model_id``."""
        ...


class Matcher:
    """1:N search against the faceprints of one model, cached in the warm process.

    Each ``match`` asks the source for the gallery version (one small indexed query) and
    reloads the gallery only when it changed, so a new enrollment is seen by the next match
    without reloading every faceprint on every capture.

    Args:
        source: where the faceprints live.
        model_id: the embedder whose faceprints are searched; other models' rows are never read.
        threshold: cosine similarity the best student needs. Higher cuts false accepts and
            raises false rejects.
        margin: lead over the runner-up student the best one needs; look-alikes become unknown.
    """

    def __init__(self, source: GallerySource, model_id: str, *, threshold: float, margin: float) -> None:
        self._source = source
        self.model_id = model_id
        self.threshold = threshold
        self.margin = margin
        self._gallery: Gallery | None = None
        self._version: Hashable = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: FaceModelSettings, source: GallerySource, model_id: str) -> Matcher:
        """A matcher with the threshold and margin from the settings."""
        return cls(source, model_id, threshold=settings.match_threshold, margin=settings.match_margin)

    def gallery(self) -> Gallery:
        """The current gallery, reloaded if the faceprints changed since the last call."""
        with self._lock:
            version = self._source.gallery_version(self.model_id)
            if self._gallery is None or version != self._version:
                self._gallery = self._source.load_gallery(self.model_id)
                self._version = version
                logger.info(
                    "face gallery loaded",
                    extra={"model_id": self.model_id, "faceprints": len(self._gallery.usns)},
                )
            return self._gallery

    def match(self, embedding: NDArray[np.floating]) -> MatchResult:
        """The student ``embedding`` (L2-normalised, this model's) belongs to, or unknown."""
        students, scores = self.gallery().student_scores(embedding)
        return decide(students, scores, threshold=self.threshold, margin=self.margin)
