"""1:N identification against a gallery of prints: per-student scores, threshold and margin.

Faces and bodies are matched the same way. A student's score is the best similarity over their
prints (one per enrolled pose, or per gallery crop). The best student is accepted only if that
score reaches ``threshold`` *and* leads the runner-up **student** (not the student's own other
prints) by at least ``margin``; anything else is "unknown", a valid answer rather than an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

import numpy as np
from numpy.typing import NDArray


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
class Gallery:
    """Every print (faceprints, or a room's body prints) of one model as a matrix, rows grouped by student.

    Rows are sorted by ``usn``; a student has one row per print (pose, crop).
    """

    model_id: str
    usns: tuple[str, ...]
    embeddings: NDArray[np.float32]

    @classmethod
    def from_rows(
        cls, model_id: str, usns: Sequence[str], embeddings: Sequence[NDArray[np.float32]]
    ) -> Gallery:
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
