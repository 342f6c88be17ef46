"""The door rule for a class: roster first, a stricter bar off the roster, flagged look-alikes."""

from __future__ import annotations

import numpy as np
import pytest

from cloud_functions.core.matching import MatchDecision, UnknownReason, decide_for_class

ROSTER = frozenset({"R1", "R2", "R3"})
T, MARGIN, OFF = 0.365, 0.10, 0.50


@pytest.mark.parametrize(
    ("scores", "roster", "lookalikes", "decision", "usn", "reason"),
    [
        pytest.param(
            {"R1": 0.70, "R2": 0.20, "X": 0.30},
            ROSTER,
            {},
            MatchDecision.MATCH,
            "R1",
            None,
            id="rostered student clearly best",
        ),
        pytest.param(
            {"R1": 0.40, "R2": 0.20, "X": 0.34},
            ROSTER,
            {},
            MatchDecision.MATCH,
            "R1",
            None,
            id="off-roster student below threshold does not hold a rostered one up",
        ),
        pytest.param(
            {"R1": 0.45, "R2": 0.20, "X": 0.40},
            ROSTER,
            {},
            MatchDecision.UNKNOWN,
            None,
            UnknownReason.OFF_ROSTER_CONFLICT,
            id="plausible off-roster student too close",
        ),
        pytest.param(
            {"R1": 0.30, "R2": 0.20, "X": 0.72},
            ROSTER,
            {},
            MatchDecision.NOT_ON_ROSTER,
            None,
            None,
            id="enrolled student of another class",
        ),
        pytest.param(
            {"R1": 0.20, "R2": 0.10, "X": 0.45},
            ROSTER,
            {},
            MatchDecision.UNKNOWN,
            None,
            UnknownReason.BELOW_THRESHOLD,
            id="off roster under the stricter bar is unknown",
        ),
        pytest.param(
            {"R1": 0.20, "R2": 0.10, "X": 0.45},
            None,
            {},
            MatchDecision.MATCH,
            "X",
            None,
            id="course without roster: whole gallery at the calibrated threshold",
        ),
        pytest.param(
            {"R1": 0.62, "R2": 0.10, "X": 0.55},
            ROSTER,
            {"R1": {"X"}},
            MatchDecision.UNKNOWN,
            None,
            UnknownReason.OFF_ROSTER_CONFLICT,
            id="flagged pair, partner plausible",
        ),
        pytest.param(
            {"R1": 0.40, "R2": 0.10, "X": 0.33},
            ROSTER,
            {"R1": {"X"}},
            MatchDecision.UNKNOWN,
            None,
            UnknownReason.LOOKALIKE_MARGIN,
            id="flagged pair below threshold still needs the margin",
        ),
        pytest.param(
            {"R1": 0.40, "R2": 0.10, "X": 0.33},
            ROSTER,
            {},
            MatchDecision.MATCH,
            "R1",
            None,
            id="same scores without the flag",
        ),
        pytest.param(
            {"R1": 0.60, "R2": 0.55, "X": 0.10},
            None,
            {"R1": {"R2"}},
            MatchDecision.UNKNOWN,
            None,
            UnknownReason.LOW_MARGIN,
            id="whole gallery keeps its margin",
        ),
        pytest.param(
            {"R1": 0.30, "X": 0.70, "Y": 0.66},
            ROSTER,
            {},
            MatchDecision.UNKNOWN,
            None,
            UnknownReason.BELOW_THRESHOLD,
            id="two off-roster students too close to name either",
        ),
        pytest.param(
            {"X": 0.90, "Y": 0.10},
            frozenset(),
            {},
            MatchDecision.NOT_ON_ROSTER,
            None,
            None,
            id="roster with nobody valid that day",
        ),
    ],
)
def test_decide_for_class(
    scores: dict[str, float],
    roster: frozenset[str] | None,
    lookalikes: dict[str, set[str]],
    decision: MatchDecision,
    usn: str | None,
    reason: UnknownReason | None,
) -> None:
    students = sorted(scores)
    result = decide_for_class(
        students,
        np.array([scores[s] for s in students]),
        threshold=T,
        margin=MARGIN,
        off_roster_threshold=OFF,
        roster=roster,
        lookalikes=lookalikes,
    )
    assert (result.decision, result.usn, result.reason) == (decision, usn, reason)
    if decision is MatchDecision.NOT_ON_ROSTER:
        assert result.best_usn == "X"
