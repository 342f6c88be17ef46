"""Every reason the flows can stop for is a recorded outcome."""

from __future__ import annotations

import pytest

from cloud_functions.core.faces.types import RejectReason
from cloud_functions.core.images import TOO_LARGE, UNDECODABLE
from cloud_functions.core.outcomes import Outcome


@pytest.mark.parametrize("reason", [*RejectReason, UNDECODABLE, TOO_LARGE])
def test_every_quality_gate_and_image_rejection_is_an_outcome(reason: str) -> None:
    assert Outcome(reason).value == reason


def test_outcomes_fit_their_columns() -> None:
    from cloud_functions.core.db.schema import presence_reports, recognition_events

    width = min(recognition_events.c.outcome.type.length, presence_reports.c.outcome.type.length)
    assert max(len(outcome.value) for outcome in Outcome) <= width
