"""face_match's combined liveness verdict, and the edge's report built from a decision.

The report's wire form (S3 user metadata) is ``contracts.liveness.LivenessReport``: the edge
and the functions both import it from there.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.liveness import SCORE_DIGITS, LivenessReport, LivenessReportError
from vision.liveness.types import Finding, LivenessDecision, Source, Verdict

__all__ = ["CombinedLiveness", "LivenessReport", "LivenessReportError", "combine", "report_of"]


def report_of(decision: LivenessDecision, version: str) -> LivenessReport:
    """The report the edge sends for ``decision`` (rounded scores of the conclusive sources)."""
    scores: dict[str, float] = {}
    for e in decision.evidence:
        if e.score is None or e.finding is Finding.INCONCLUSIVE:
            continue
        scores[e.source.value] = round(e.score, SCORE_DIGITS[e.source.value])
        if e.source is Source.PLANAR and "motion" in e.measures:
            scores["motion"] = round(e.measures["motion"], SCORE_DIGITS["motion"])
    return LivenessReport(
        version=version,
        verdict=decision.verdict.value,
        frames=decision.frames,
        scores=scores,
        reasons=tuple(r.value for r in decision.reasons),
    )


@dataclass(frozen=True, slots=True)
class CombinedLiveness:
    """face_match's verdict from the edge's report and its own re-check of the upload.

    Attributes:
        verdict: ``spoof_suspected`` when either side found a spoof.
        reasons: ``edge:<source>`` / ``cloud:<source>`` for every source that found one.
        edge: the edge's report, if it sent one.
        cloud: the re-check of the uploaded image.
    """

    verdict: Verdict
    reasons: tuple[str, ...]
    edge: LivenessReport | None
    cloud: LivenessDecision

    @property
    def blocks_attendance(self) -> bool:
        return self.cloud.enforced and self.verdict is Verdict.SPOOF_SUSPECTED


def combine(edge: LivenessReport | None, cloud: LivenessDecision) -> CombinedLiveness:
    """Either side's suspicion stands: the edge saw the whole window, the cloud trusts only pixels.

    An edge that claims ``live`` cannot overrule the cloud's own finding on the uploaded image;
    an edge that reports a spoof is believed (a tampered edge could only block, never mark).
    """
    reasons = tuple(f"edge:{r}" for r in (edge.reasons if edge else ())) + tuple(
        f"cloud:{r.value}" for r in cloud.reasons
    )
    edge_spoof = edge is not None and edge.verdict == Verdict.SPOOF_SUSPECTED.value
    spoof = edge_spoof or cloud.verdict is Verdict.SPOOF_SUSPECTED
    return CombinedLiveness(Verdict.SPOOF_SUSPECTED if spoof else Verdict.LIVE, reasons, edge, cloud)
