"""Negatives: a face named as X must be closer to X's faceprints than to X's corrected captures."""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
import pytest
from numpy.typing import NDArray

from cloud_functions.core.faces import Matcher
from cloud_functions.core.matching import (
    Gallery,
    MatchDecision,
    MatchResult,
    UnknownReason,
    enforce_negatives,
)

MATCH_A = MatchResult("A", 0.60, 0.20, MatchDecision.MATCH, "A")
OFF_ROSTER_A = MatchResult(None, 0.60, 0.20, MatchDecision.NOT_ON_ROSTER, "A")
UNKNOWN = MatchResult(None, 0.30, 0.20, MatchDecision.UNKNOWN, "A", UnknownReason.BELOW_THRESHOLD)


@pytest.mark.parametrize(
    ("result", "nearest_negative", "negative_margin", "decision", "reason"),
    [
        pytest.param(MATCH_A, None, 0.0, MatchDecision.MATCH, None, id="no negatives: unchanged"),
        pytest.param(MATCH_A, 0.40, 0.0, MatchDecision.MATCH, None, id="closer to A than to the negative"),
        pytest.param(
            MATCH_A,
            0.70,
            0.0,
            MatchDecision.UNKNOWN,
            UnknownReason.CORRECTED_NEGATIVE,
            id="closer to the negative",
        ),
        pytest.param(
            MATCH_A, 0.60, 0.0, MatchDecision.UNKNOWN, UnknownReason.CORRECTED_NEGATIVE, id="a tie is refused"
        ),
        pytest.param(
            MATCH_A,
            0.55,
            0.05,
            MatchDecision.UNKNOWN,
            UnknownReason.CORRECTED_NEGATIVE,
            id="lead within margin",
        ),
        pytest.param(MATCH_A, 0.54, 0.05, MatchDecision.MATCH, None, id="lead beyond the margin"),
        pytest.param(
            OFF_ROSTER_A,
            0.65,
            0.0,
            MatchDecision.UNKNOWN,
            UnknownReason.CORRECTED_NEGATIVE,
            id="an off-roster name is refused too",
        ),
        pytest.param(
            UNKNOWN, 0.90, 0.0, MatchDecision.UNKNOWN, UnknownReason.BELOW_THRESHOLD, id="unknown stays"
        ),
    ],
)
def test_enforce_negatives(
    result: MatchResult,
    nearest_negative: float | None,
    negative_margin: float,
    decision: MatchDecision,
    reason: UnknownReason | None,
) -> None:
    decided = enforce_negatives(result, nearest_negative, negative_margin=negative_margin)
    assert decided.decision is decision
    assert decided.reason is reason
    assert decided.best_usn == "A"
    if reason is UnknownReason.CORRECTED_NEGATIVE:
        assert decided.usn is None
        assert decided.runner_up_similarity == pytest.approx(nearest_negative)


def _unit(*values: float) -> NDArray[np.float32]:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


class _Faceprints:
    def gallery_version(self, model_id: str) -> Hashable:
        return 1

    def load_gallery(self, model_id: str) -> Gallery:
        return Gallery.from_rows(model_id, ["A", "B"], [_unit(1, 0, 0), _unit(0, 0, 1)])


class _Negatives:
    """An in-memory NegativeSource: a version that changes with each stored negative."""

    def __init__(self) -> None:
        self.rows: dict[str, list[NDArray[np.float32]]] = {}
        self.loads = 0

    def negatives_version(self, model_id: str) -> Hashable:
        return sum(len(v) for v in self.rows.values())

    def load_negatives(self, model_id: str) -> Mapping[str, NDArray[np.float32]]:
        self.loads += 1
        return {usn: np.stack(vectors) for usn, vectors in self.rows.items()}


def test_a_warm_matcher_sees_a_new_negative_and_refuses_the_impostor_but_not_the_student() -> None:
    # GIVEN a warm matcher where an impostor's face (between A and elsewhere) is accepted as A
    negatives = _Negatives()
    matcher = Matcher(_Faceprints(), "m", threshold=0.4, margin=0.1, negatives=negatives)
    impostor, impostor_again, genuine = _unit(1, 0.9, 0), _unit(1, 1, 0), _unit(1, 0.1, 0)
    assert matcher.match(impostor_again).usn == "A"

    # WHEN a teacher corrects the impostor's capture as "not A"
    negatives.rows["A"] = [impostor]

    # THEN the next face of the impostor is refused as closer to the negative than to A
    refused = matcher.match(impostor_again)
    assert refused.decision is MatchDecision.UNKNOWN
    assert refused.reason is UnknownReason.CORRECTED_NEGATIVE
    assert refused.best_usn == "A"
    # AND A's own face still matches A, with no reload of negatives while nothing changed
    assert matcher.match(genuine).usn == "A"
    assert negatives.loads == 2


def test_a_negative_of_another_student_does_not_touch_this_one() -> None:
    negatives = _Negatives()
    negatives.rows["B"] = [_unit(1, 0.9, 0)]
    matcher = Matcher(_Faceprints(), "m", threshold=0.4, margin=0.1, negatives=negatives)
    assert matcher.match(_unit(1, 1, 0)).usn == "A"
