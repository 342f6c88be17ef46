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

from cloud_functions.core.matching import (
    Gallery,
    GalleryVersion,
    MatchDecision,
    MatchResult,
    decide_for_class,
    enforce_negatives,
)

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


class NegativeSource(Protocol):
    """Where the negatives live: door captures corrected as "not this student" (the database)."""

    def negatives_version(self, model_id: str) -> Hashable:
        """A cheap value that changes whenever the model's stored negatives change."""
        ...

    def load_negatives(self, model_id: str) -> Mapping[str, NDArray[np.float32]]:
        """Each student's negatives of ``model_id`` as one ``[K, D]`` matrix."""
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
        negatives: where the corrected captures' embeddings live (None: no negatives). A
            student wins a face only if it is closer to their best faceprint than to their
            nearest negative by more than ``negative_margin`` (``core.matching.enforce_negatives``).
        negative_margin: how much closer to the student than to their negatives the face must be.
            Higher refuses more impostors who resemble a corrected capture, and more honest
            faces that happen to resemble it.
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
        negatives: NegativeSource | None = None,
        negative_margin: float = 0.0,
        refresh_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self.model_id = model_id
        self.threshold = threshold
        self.margin = margin
        self.off_roster_threshold = threshold if off_roster_threshold is None else off_roster_threshold
        self.refresh_s = refresh_s
        self._negative_source = negatives
        self.negative_margin = negative_margin
        self._negatives: Mapping[str, NDArray[np.float32]] = {}
        self._negatives_version: Hashable = None
        self._clock = clock
        self._checked_at: float | None = None
        self._gallery: Gallery | None = None
        self._version: Hashable = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(
        cls,
        settings: FaceModelSettings,
        source: GallerySource,
        model_id: str,
        negatives: NegativeSource | None = None,
    ) -> Matcher:
        """A matcher with the threshold and margin from the settings."""
        return cls(
            source,
            model_id,
            threshold=settings.match_threshold,
            margin=settings.match_margin,
            off_roster_threshold=settings.off_roster_match_threshold,
            negatives=negatives,
            negative_margin=settings.negative_margin,
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
            self._refresh_negatives()
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

    def negatives(self) -> Mapping[str, NDArray[np.float32]]:
        """Each student's negatives as of the last refresh (``gallery`` refreshes them)."""
        return self._negatives

    def _refresh_negatives(self) -> None:
        if self._negative_source is None:
            return
        version = self._negative_source.negatives_version(self.model_id)
        if version == self._negatives_version:
            return
        self._negatives = self._negative_source.load_negatives(self.model_id)
        self._negatives_version = version
        logger.info(
            "face negatives loaded",
            extra={"model_id": self.model_id, "students": len(self._negatives)},
        )

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
        and duplicates. The rule is ``core.matching.decide_for_class``, then
        ``core.matching.enforce_negatives`` against the named student's negatives.
        """
        students, scores = self.gallery().student_scores(embedding)
        result = decide_for_class(
            students,
            scores,
            threshold=self.threshold,
            margin=self.margin,
            off_roster_threshold=self.off_roster_threshold,
            roster=roster,
            lookalikes=lookalikes,
        )
        named = result.best_usn if result.decision is not MatchDecision.UNKNOWN else None
        negatives = self._negatives.get(named) if named is not None else None
        if negatives is None or len(negatives) == 0:
            return result
        query = np.asarray(embedding, dtype=np.float32).reshape(-1)
        nearest = float((negatives @ query).max())
        return enforce_negatives(result, nearest, negative_margin=self.negative_margin)
