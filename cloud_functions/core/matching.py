"""1:N identification against a gallery of prints: per-student scores, threshold and margin.

Faces and bodies are matched the same way. A student's score is the best similarity over their
prints (one per enrolled pose, or per gallery crop). The best student is accepted only if that
score reaches ``threshold`` *and* leads the runner-up **student** (not the student's own other
prints) by at least ``margin``; anything else is "unknown", a valid answer rather than an error.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from functools import cached_property

import numpy as np
from numpy.typing import NDArray


class MatchDecision(StrEnum):
    MATCH = "match"
    UNKNOWN = "unknown"
    NOT_ON_ROSTER = "not_on_roster"
    """An enrolled student clearly identified (stricter threshold) who is not on the class's roster."""


class UnknownReason(StrEnum):
    NO_FACEPRINTS = "no_faceprints"
    BELOW_THRESHOLD = "below_threshold"
    LOW_MARGIN = "low_margin"
    OFF_ROSTER_CONFLICT = "off_roster_conflict"
    """The best roster student does not lead a plausible (>= threshold) off-roster student by the margin."""
    LOOKALIKE_MARGIN = "lookalike_margin"
    """The best student does not lead a student flagged as their look-alike or duplicate by the margin."""
    CORRECTED_NEGATIVE = "corrected_negative"
    """The face is at least as close to a capture a teacher corrected as "not this student" as to
    the student's own faceprints (less than ``negative_margin`` closer to the student)."""


@dataclass(frozen=True)
class MatchResult:
    """The answer for one face.

    ``usn`` is set only for a match. ``best_usn`` is the closest student even when the answer
    is unknown (for audit and calibration; never act on it), and the student identified off the
    roster for ``NOT_ON_ROSTER`` (recorded for admins; never marked). ``runner_up_similarity`` is the
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
class GalleryVersion:
    """Changes whenever a model's faceprints are added, replaced or deleted.

    Replacing deletes and inserts, so ``max_id`` grows; SQLite may reuse the largest id after a
    delete, which ``max_created_at`` still catches.
    """

    count: int
    max_id: int | None
    max_created_at: datetime | None


@dataclass(frozen=True)
class Gallery:
    """Every print (faceprints, or a room's body prints) of one model as a matrix, rows grouped by student.

    Rows are sorted by ``usn`` (then ``pose`` where poses are known); a student has one row per
    print (pose, crop). ``poses`` is empty for a gallery built without them (body prints); with
    them, ``with_rows`` can replace or add single prints without rebuilding from the source.
    ``max_id`` is the largest source row id in the gallery, where the source has ids.
    """

    model_id: str
    usns: tuple[str, ...]
    embeddings: NDArray[np.float32]
    poses: tuple[str, ...] = ()
    max_id: int | None = field(default=None, compare=False)

    @classmethod
    def from_rows(
        cls,
        model_id: str,
        usns: Sequence[str],
        embeddings: Sequence[NDArray[np.float32]] | NDArray[np.float32],
        poses: Sequence[str] | None = None,
        *,
        max_id: int | None = None,
    ) -> Gallery:
        """A gallery from one (usn, L2-normalised vector[, pose]) per print, in any order.

        ``embeddings`` may be a list of vectors or one ``[N, D]`` matrix (the fast path for a
        large gallery: no per-row copies).
        """
        if poses is not None and len(poses) != len(usns):
            raise ValueError(f"{len(poses)} poses for {len(usns)} prints")
        if len(usns) == 0:
            return cls(model_id, (), np.zeros((0, 0), dtype=np.float32), (), max_id)
        matrix = (
            np.asarray(embeddings, dtype=np.float32)
            if isinstance(embeddings, np.ndarray)
            else np.stack([np.asarray(vector, dtype=np.float32).reshape(-1) for vector in embeddings])
        )
        if matrix.ndim != 2 or matrix.shape[0] != len(usns):
            raise ValueError(f"{len(usns)} prints but embeddings of shape {matrix.shape}")
        # One numpy sort of the keys (usn, then pose), not a Python sort of 50,000 tuples.
        usn_keys = np.asarray(usns, dtype=str)
        order = (
            np.lexsort((np.asarray(poses, dtype=str), usn_keys))
            if poses is not None
            else np.argsort(usn_keys, kind="stable")
        )
        if not np.array_equal(order, np.arange(len(order))):
            matrix = matrix[order]
            usns = [usns[i] for i in order.tolist()]
            poses = [poses[i] for i in order.tolist()] if poses is not None else None
        return cls(
            model_id=model_id,
            usns=tuple(usns),
            embeddings=np.ascontiguousarray(matrix),
            poses=tuple(poses) if poses is not None else (),
            max_id=max_id,
        )

    def with_rows(
        self,
        usns: Sequence[str],
        poses: Sequence[str],
        embeddings: NDArray[np.float32],
        *,
        max_id: int | None = None,
    ) -> Gallery:
        """This gallery with the given prints added, or replacing the print of the same (usn, pose).

        Built in memory from this gallery's matrix: a new enrollment reaches a warm matcher
        without reading every faceprint again.
        """
        if self.usns and not self.poses:
            raise ValueError("this gallery was built without poses; prints cannot be replaced in it")
        new_max_id = max(filter(None, (self.max_id, max_id)), default=None)
        if not usns:  # e.g. only the newest faceprint was deleted: nothing to add
            return replace(self, max_id=new_max_id)
        new_vectors = np.asarray(embeddings, dtype=np.float32).reshape(len(usns), -1)
        if not self.usns:
            return Gallery.from_rows(self.model_id, usns, new_vectors, poses, max_id=new_max_id)
        # The rows are sorted by (usn, pose): each new print is found and placed by bisection, so
        # a merge costs O(k log N) comparisons and one copy of the matrix, not a sort of every key.
        added = sorted(range(len(usns)), key=lambda i: (usns[i], poses[i]))
        replaced: list[int] = []
        for i in added:
            at = self._position((usns[i], poses[i]))
            if at < len(self.usns) and (self.usns[at], self.poses[at]) == (usns[i], poses[i]):
                replaced.append(at)
        kept_usns = np.delete(np.asarray(self.usns, dtype=object), replaced)
        kept_poses = np.delete(np.asarray(self.poses, dtype=object), replaced)
        kept_matrix = np.delete(self.embeddings, replaced, axis=0) if replaced else self.embeddings
        positions = [
            bisect.bisect_left(
                range(len(kept_usns)), (usns[i], poses[i]), key=lambda j: (kept_usns[j], kept_poses[j])
            )
            for i in added
        ]
        return Gallery(
            self.model_id,
            tuple(np.insert(kept_usns, positions, [usns[i] for i in added]).tolist()),
            np.insert(kept_matrix, positions, new_vectors[added], axis=0),
            tuple(np.insert(kept_poses, positions, [poses[i] for i in added]).tolist()),
            new_max_id,
        )

    def _position(self, key: tuple[str, str]) -> int:
        """Where (usn, pose) is, or would go, in the sorted rows."""
        return bisect.bisect_left(range(len(self.usns)), key, key=lambda j: (self.usns[j], self.poses[j]))

    def prepare(self) -> Gallery:
        """Build the per-student index now (at load), not inside the first capture's search."""
        _ = self._student_starts, self.students
        return self

    @property
    def nbytes(self) -> int:
        """Memory held by the embedding matrix."""
        return int(self.embeddings.nbytes)

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
    values = np.asarray(scores, dtype=np.float64)
    # Top two by argmax (first of equals wins, like a stable sort): O(N) for a campus gallery.
    best = int(np.argmax(values))
    best_score = float(values[best])
    runner_up: float | None = None
    if len(values) > 1:
        others = values.copy()
        others[best] = -np.inf
        runner_up = float(others.max())
    reason: UnknownReason | None = None
    if best_score < threshold - _TOLERANCE:
        reason = UnknownReason.BELOW_THRESHOLD
    elif runner_up is not None and best_score - runner_up < margin - _TOLERANCE:
        reason = UnknownReason.LOW_MARGIN
    if reason is not None:
        return MatchResult(None, best_score, runner_up, MatchDecision.UNKNOWN, students[best], reason)
    return MatchResult(students[best], best_score, runner_up, MatchDecision.MATCH, students[best])


def _index_of(students: Sequence[str], usn: str) -> int | None:
    # Gallery.students is sorted, so a bisect finds a roster or flagged student in O(log N).
    i = bisect.bisect_left(students, usn)
    return i if i < len(students) and students[i] == usn else None


def decide_for_class(
    students: Sequence[str],
    scores: NDArray[np.floating],
    *,
    threshold: float,
    margin: float,
    off_roster_threshold: float,
    roster: Set[str] | None = None,
    lookalikes: Mapping[str, Set[str]] | None = None,
) -> MatchResult:
    """The door rule: roster first, a stricter bar off the roster, the margin between flagged pairs.

    ``students`` must be sorted (``Gallery.students`` is). With ``roster`` None (the course has
    no roster) this is ``decide`` over the whole gallery. With a roster:

    1. a student **off** the roster who is the whole gallery's best, reaches
       ``off_roster_threshold`` and leads the runner-up by ``margin`` is ``NOT_ON_ROSTER``;
    2. otherwise the roster alone is decided at ``threshold`` and ``margin``, and the best
       roster student must also lead every off-roster student who reaches ``threshold`` by
       ``margin`` (``OFF_ROSTER_CONFLICT``): an enrolled face from another class that resembles
       a roster student is refused, not credited to them; off-roster students below
       ``threshold`` (the tens of thousands of strangers to this face) do not hold an honest
       student up;
    3. a match or ``NOT_ON_ROSTER`` for student A is refused (``LOOKALIKE_MARGIN``) unless A
       leads each student in ``lookalikes[A]`` (flagged at enrollment as a possible twin or
       double enrollment) by ``margin``, whether or not that student is on the roster or above
       any threshold.
    """
    values = np.asarray(scores, dtype=np.float64)
    if roster is None or len(students) == 0:
        result = decide(students, values, threshold=threshold, margin=margin)
    else:
        result = _roster_first(
            students,
            values,
            roster,
            threshold=threshold,
            margin=margin,
            off_roster_threshold=off_roster_threshold,
        )
    return _enforce_lookalikes(result, students, values, lookalikes or {}, margin)


def _roster_first(
    students: Sequence[str],
    values: NDArray[np.float64],
    roster: Set[str],
    *,
    threshold: float,
    margin: float,
    off_roster_threshold: float,
) -> MatchResult:
    overall = decide(students, values, threshold=threshold, margin=margin)
    best = overall.best_usn
    assert best is not None
    on_roster = np.zeros(len(students), dtype=bool)
    indices = [i for i in (_index_of(students, usn) for usn in roster) if i is not None]
    on_roster[indices] = True
    best_index = _index_of(students, best)
    if (
        best_index is not None
        and not on_roster[best_index]
        and overall.similarity >= off_roster_threshold - _TOLERANCE
        and (overall.margin is None or overall.margin >= margin - _TOLERANCE)
    ):
        return MatchResult(
            None, overall.similarity, overall.runner_up_similarity, MatchDecision.NOT_ON_ROSTER, best
        )
    if not indices:
        return MatchResult(
            None,
            overall.similarity,
            overall.runner_up_similarity,
            MatchDecision.UNKNOWN,
            best,
            UnknownReason.BELOW_THRESHOLD,
        )
    roster_indices = np.flatnonzero(on_roster)
    within = decide(
        [students[int(i)] for i in roster_indices], values[roster_indices], threshold=threshold, margin=margin
    )
    if not within.is_match:
        return MatchResult(
            None,
            within.similarity,
            within.runner_up_similarity,
            MatchDecision.UNKNOWN,
            within.best_usn,
            within.reason,
        )
    off = values[~on_roster]
    strongest_off = float(off.max()) if off.size else None
    others = [s for s in (within.runner_up_similarity, strongest_off) if s is not None]
    runner_up = max(others) if others else None
    if (
        strongest_off is not None
        and strongest_off >= threshold - _TOLERANCE
        and within.similarity - strongest_off < margin - _TOLERANCE
    ):
        return MatchResult(
            None,
            within.similarity,
            runner_up,
            MatchDecision.UNKNOWN,
            within.usn,
            UnknownReason.OFF_ROSTER_CONFLICT,
        )
    return MatchResult(within.usn, within.similarity, runner_up, MatchDecision.MATCH, within.usn)


def _enforce_lookalikes(
    result: MatchResult,
    students: Sequence[str],
    values: NDArray[np.float64],
    lookalikes: Mapping[str, Set[str]],
    margin: float,
) -> MatchResult:
    if result.decision is MatchDecision.UNKNOWN or result.best_usn is None:
        return result
    partners = lookalikes.get(result.best_usn, ())
    for partner in partners:
        i = _index_of(students, partner)
        if i is not None and result.similarity - float(values[i]) < margin - _TOLERANCE:
            return MatchResult(
                None,
                result.similarity,
                float(values[i]),
                MatchDecision.UNKNOWN,
                result.best_usn,
                UnknownReason.LOOKALIKE_MARGIN,
            )
    return result


def enforce_negatives(
    result: MatchResult, nearest_negative: float | None, *, negative_margin: float = 0.0
) -> MatchResult:
    """Refuse a match or an off-roster name for student A when the face is not closer to A.

    ``nearest_negative`` is the face's best similarity to A's negatives (door captures a teacher
    corrected as "not A"); ``None`` when A has none. A keeps the face only if their best
    faceprint's similarity exceeds it by more than ``negative_margin``; otherwise the answer is
    ``UNKNOWN`` with ``CORRECTED_NEGATIVE`` (``runner_up_similarity`` is then the negative's).
    A tie is refused: the teacher's correction is evidence, the faceprint's lead is not.
    """
    if nearest_negative is None or result.decision is MatchDecision.UNKNOWN or result.best_usn is None:
        return result
    if result.similarity - nearest_negative > negative_margin + _TOLERANCE:
        return result
    return MatchResult(
        None,
        result.similarity,
        float(nearest_negative),
        MatchDecision.UNKNOWN,
        result.best_usn,
        UnknownReason.CORRECTED_NEGATIVE,
    )
