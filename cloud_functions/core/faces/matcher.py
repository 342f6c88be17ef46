"""1:N identification: cosine search over every faceprint of one model, threshold and margin.

A student's score is the best similarity over their faceprints (one per enrolled pose). The
best student is accepted only if that score reaches ``threshold`` *and* leads the runner-up
**student** (not the student's own other poses) by at least ``margin``; anything else is
"unknown", which is a valid answer rather than an error.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from cloud_functions.core.settings import FaceModelSettings

logger = logging.getLogger(__name__)


class MatchDecision(StrEnum):
    MATCH = "match"
    UNKNOWN = "unknown"


class UnknownReason(StrEnum):
    NO_FACEPRINTS = "no_faceprints"
    BELOW_THRESHOLD = "below_threshold"
    LOW_MARGIN = "low_margin"


@dataclass(frozen=True)
class MatchResult:
    """The answer for one face.

    ``usn`` is set only for a match. ``best_usn`` is the closest student even when the answer
    is unknown (for audit and calibration; never act on it). ``runner_up_similarity`` is the
    second-best *student's* score, ``None`` when only one student is enrolled.
    """

    usn: str | None
    similarity: float
    runner_up_similarity: float | None
    decision: MatchDecision
    best_usn: str | None = None
    reason: UnknownReason | None = None

    @property
    def is_match(self) -> bool:
        return self.decision is MatchDecision.MATCH

    @property
    def margin(self) -> float | None:
        """Lead of the best student over the runner-up student."""
        if self.runner_up_similarity is None:
            return None
        return self.similarity - self.runner_up_similarity


@dataclass(frozen=True)
class FaceGallery:
    """Every faceprint of one model as a matrix, rows grouped by student (sorted by ``usn``)."""

    model_id: str
    usns: tuple[str, ...]
    embeddings: NDArray[np.float32]

    @classmethod
    def from_rows(
        cls, model_id: str, usns: Sequence[str], embeddings: Sequence[NDArray[np.float32]]
    ) -> FaceGallery:
        """A gallery from one (usn, L2-normalised vector) pair per faceprint, in any order."""
        order = sorted(range(len(usns)), key=lambda i: usns[i])
        matrix = (
            np.stack([np.asarray(embeddings[i], dtype=np.float32) for i in order])
            if order
            else np.zeros((0, 0), dtype=np.float32)
        )
        return cls(model_id=model_id, usns=tuple(usns[i] for i in order), embeddings=matrix)

    @cached_property
    def _student_starts(self) -> NDArray[np.intp]:
        """Index of each student's first row (rows are grouped by student)."""
        if not self.usns:
            return np.zeros(0, dtype=np.intp)
        usns = np.asarray(self.usns)
        return np.flatnonzero(np.r_[True, usns[1:] != usns[:-1]])

    @cached_property
    def students(self) -> tuple[str, ...]:
        """Each enrolled student once, sorted."""
        return tuple(self.usns[i] for i in self._student_starts)

    def student_scores(self, embedding: NDArray[np.floating]) -> tuple[tuple[str, ...], NDArray[np.float32]]:
        """Each student and their best cosine similarity to ``embedding`` (unit length)."""
        if not self.usns:
            return (), np.zeros(0, dtype=np.float32)
        query = np.asarray(embedding, dtype=np.float32).reshape(-1)
        if query.shape[0] != self.embeddings.shape[1]:
            raise ValueError(
                f"embedding has {query.shape[0]} dimensions; "
                f"gallery {self.model_id} has {self.embeddings.shape[1]}"
            )
        similarities = self.embeddings @ query
        scores = np.maximum.reduceat(similarities, self._student_starts)
        return self.students, scores.astype(np.float32)


# Scores are float32: a lead of exactly the margin must not fail on rounding.
_TOLERANCE = 1e-6


def decide(
    students: Sequence[str], scores: NDArray[np.floating], *, threshold: float, margin: float
) -> MatchResult:
    """The match rule on per-student scores: best >= threshold and best - runner-up >= margin."""
    if len(students) == 0:
        return MatchResult(None, -1.0, None, MatchDecision.UNKNOWN, reason=UnknownReason.NO_FACEPRINTS)
    ranked = np.argsort(-np.asarray(scores), kind="stable")
    best = int(ranked[0])
    best_score = float(scores[best])
    runner_up = float(scores[int(ranked[1])]) if len(ranked) > 1 else None
    reason: UnknownReason | None = None
    if best_score < threshold - _TOLERANCE:
        reason = UnknownReason.BELOW_THRESHOLD
    elif runner_up is not None and best_score - runner_up < margin - _TOLERANCE:
        reason = UnknownReason.LOW_MARGIN
    if reason is not None:
        return MatchResult(None, best_score, runner_up, MatchDecision.UNKNOWN, students[best], reason)
    return MatchResult(students[best], best_score, runner_up, MatchDecision.MATCH, students[best])


class GallerySource(Protocol):
    """Where faceprints live (the database in production)."""

    def gallery_version(self, model_id: str) -> Hashable:
        """A cheap value that changes whenever the model's faceprints change."""
        ...

    def load_gallery(self, model_id: str) -> FaceGallery:
        """Every faceprint of ``model_id``."""
        ...


class StaticGallerySource:
    """A fixed in-memory gallery (benchmarks, tests)."""

    def __init__(self, gallery: FaceGallery) -> None:
        self._gallery = gallery

    def gallery_version(self, model_id: str) -> Hashable:
        return (model_id, len(self._gallery.usns))

    def load_gallery(self, model_id: str) -> FaceGallery:
        if model_id != self._gallery.model_id:
            return FaceGallery.from_rows(model_id, [], [])
        return self._gallery


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
        self._gallery: FaceGallery | None = None
        self._version: Hashable = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: FaceModelSettings, source: GallerySource, model_id: str) -> Matcher:
        """A matcher with the threshold and margin from the settings."""
        return cls(source, model_id, threshold=settings.match_threshold, margin=settings.match_margin)

    def gallery(self) -> FaceGallery:
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
