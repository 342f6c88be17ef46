"""1:N identification of a face: the faceprints of one model, cached in the warm process.

The rule (threshold and margin over the runner-up student) is ``cloud_functions.core.matching``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable, Mapping, Set
from typing import TYPE_CHECKING, Protocol

import numpy as np
from numpy.typing import NDArray

from cloud_functions.core.matching import Gallery, GalleryVersion, MatchResult, decide_for_class

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


class IncrementalGallerySource(GallerySource, Protocol):
    """A source that can also hand over only the faceprints written since a row id."""

    def faceprints_since(self, model_id: str, since: GalleryVersion) -> Gallery:
        """The model's faceprints written since the version ``since`` (with poses)."""
        ...


class Matcher:
    """1:N search against the faceprints of one model, cached in the warm process.

    Each ``match`` asks the source for the gallery version (one small indexed query). When it
    changed and the source can hand over recent rows (``IncrementalGallerySource``), only the
    faceprints written since the cached gallery's largest id are read and merged in memory: a
    new or re-enrolled pose reaches the warm matcher without reading the other 50,000. If the
    merged count disagrees with the source's (a faceprint was deleted), the gallery is reloaded.

    Args:
        source: where the faceprints live.
        model_id: the embedder whose faceprints are searched; other models' rows are never read.
        threshold: cosine similarity the best student needs. Higher cuts false accepts and
            raises false rejects.
        margin: lead over the runner-up student the best one needs; look-alikes become unknown.
        off_roster_threshold: similarity a student who is not on the class's roster needs to be
            named (``not_on_roster``, never marked); stricter than ``threshold`` because the
            whole campus, not one class, competes for the face. Defaults to ``threshold``.
        refresh_s: ask the source for its version at most this often (0: before every match).
            Higher saves the version query on busy captures; a change is seen up to this late.
        clock: monotonic seconds (tests pass a fake one).
    """

    def __init__(
        self,
        source: GallerySource,
        model_id: str,
        *,
        threshold: float,
        margin: float,
        off_roster_threshold: float | None = None,
        refresh_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self.model_id = model_id
        self.threshold = threshold
        self.margin = margin
        self.off_roster_threshold = threshold if off_roster_threshold is None else off_roster_threshold
        self.refresh_s = refresh_s
        self._clock = clock
        self._checked_at: float | None = None
        self._gallery: Gallery | None = None
        self._version: Hashable = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: FaceModelSettings, source: GallerySource, model_id: str) -> Matcher:
        """A matcher with the threshold and margin from the settings."""
        return cls(
            source,
            model_id,
            threshold=settings.match_threshold,
            margin=settings.match_margin,
            off_roster_threshold=settings.off_roster_match_threshold,
            refresh_s=settings.gallery_refresh_s,
        )

    def gallery(self) -> Gallery:
        """The current gallery, reloaded if the faceprints changed since the last call."""
        with self._lock:
            now = self._clock()
            if (
                self._gallery is not None
                and self._checked_at is not None
                and now - self._checked_at < self.refresh_s
            ):
                return self._gallery
            self._checked_at = now
            version = self._source.gallery_version(self.model_id)
            if self._gallery is not None and version == self._version:
                return self._gallery
            merged = self._merged(version) if self._gallery is not None else None
            if merged is None:
                merged = self._source.load_gallery(self.model_id)
                logger.info(
                    "face gallery loaded",
                    extra={"model_id": self.model_id, "faceprints": len(merged.usns)},
                )
            merged.prepare()
            self._gallery = merged
            self._version = version
            return merged

    def _merged(self, version: Hashable) -> Gallery | None:
        """The cached gallery with the rows written since its largest id, or ``None`` to reload."""
        gallery, since = self._gallery, self._version
        faceprints_since = getattr(self._source, "faceprints_since", None)
        if (
            gallery is None
            or faceprints_since is None
            or not isinstance(version, GalleryVersion)
            or not isinstance(since, GalleryVersion)
            or (gallery.usns and not gallery.poses)
        ):
            return None
        recent: Gallery = faceprints_since(self.model_id, since)
        if recent.usns and recent.embeddings.shape[1] != gallery.embeddings.shape[1]:
            return None
        merged = gallery.with_rows(recent.usns, recent.poses, recent.embeddings, max_id=recent.max_id)
        if len(merged.usns) != version.count:
            return None
        logger.info(
            "face gallery updated",
            extra={"model_id": self.model_id, "faceprints": len(merged.usns), "changed": len(recent.usns)},
        )
        return merged

    def match(
        self,
        embedding: NDArray[np.floating],
        *,
        roster: Set[str] | None = None,
        lookalikes: Mapping[str, Set[str]] | None = None,
    ) -> MatchResult:
        """The student ``embedding`` (L2-normalised, this model's) belongs to, or unknown.

        ``roster``: the students of the class running at the door (None: the course keeps no
        roster, the whole gallery competes); ``lookalikes``: each student's flagged look-alikes
        and duplicates. The rule is ``core.matching.decide_for_class``.
        """
        students, scores = self.gallery().student_scores(embedding)
        return decide_for_class(
            students,
            scores,
            threshold=self.threshold,
            margin=self.margin,
            off_roster_threshold=self.off_roster_threshold,
            roster=roster,
            lookalikes=lookalikes,
        )
