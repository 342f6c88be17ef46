"""face_match's liveness step: re-check the uploaded crop and fuse it with the edge's report.

The edge judged the whole stable window but cannot be fully trusted; the cloud trusts only the
pixels it received (``LivenessChecker.assess_image``) and keeps either side's suspicion
(``vision.liveness.combine``). ``liveness_mode``:

- ``enforce``: a suspected spoof is the outcome ``spoof_suspected``: no attendance, no handoff,
  and an open ``spoof_suspected`` flag with the evidence for the course's teacher and admins;
- ``record_only``: the same flag is raised, but attendance and the handoff go ahead (a trial
  period, or a door replay made of photos such as the demo's LFW replay);
- ``off``: no check (the edge's report, if any, is ignored).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from contracts.liveness import LivenessReport
from vision.liveness import CombinedLiveness, LivenessDecision, LivenessSettings, Verdict, combine
from vision.liveness.settings import LivenessMode
from vision.liveness.types import BoxXYXY


class ImageLivenessCheck(Protocol):
    """Port: the single-image liveness check (``vision.liveness.LivenessChecker``)."""

    @property
    def version(self) -> str: ...

    def assess_image(self, image_bgr: NDArray[np.uint8], face_xyxy: BoxXYXY) -> LivenessDecision: ...


@dataclass(frozen=True)
class DoorLiveness:
    """What face_match decided about one capture's liveness.

    Attributes:
        combined: the fused verdict (edge report and cloud re-check).
        mode: ``enforce`` or ``record_only``.
        version: the cloud checker's version.
    """

    combined: CombinedLiveness
    mode: LivenessMode
    version: str

    @property
    def suspected(self) -> bool:
        return self.combined.verdict is Verdict.SPOOF_SUSPECTED

    @property
    def blocks_attendance(self) -> bool:
        """A suspected spoof in enforce mode marks nobody."""
        return self.suspected and self.mode == "enforce"

    def summary(self) -> str:
        """One short line for the recognition event's detail (scores, never image data)."""
        cloud = ";".join(
            f"{e.source.value}={e.score:.3g}" for e in self.combined.cloud.evidence if e.score is not None
        )
        edge = self.combined.edge.summary() if self.combined.edge else "none"
        reasons = ",".join(self.combined.reasons) or "-"
        return f"liveness {self.mode}: {self.combined.verdict.value} ({reasons}); edge {edge}; cloud {cloud}"

    def evidence(self) -> dict[str, Any]:
        """The flag's evidence: every score of both sides, the thresholds and the mode."""
        edge = self.combined.edge
        return {
            "mode": self.mode,
            "verdict": self.combined.verdict.value,
            "reasons": list(self.combined.reasons),
            "edge": edge.model_dump(mode="json") if edge else None,
            "cloud": {
                "version": self.version,
                "sources": {
                    e.source.value: {
                        "finding": e.finding.value,
                        "score": e.score,
                        "threshold": e.threshold,
                        "detail": e.detail,
                    }
                    for e in self.combined.cloud.evidence
                },
            },
        }


class DoorLivenessCheck:
    """The liveness step of the doorway flow.

    Args:
        checker: the single-image check (models loaded once per warm container).
        settings: ``liveness_mode`` and the thresholds the checker was built with.
    """

    def __init__(self, checker: ImageLivenessCheck, settings: LivenessSettings) -> None:
        if settings.liveness_mode == "off":
            raise ValueError("liveness_mode is off; build no check")
        self._checker = checker
        self.mode: LivenessMode = settings.liveness_mode

    def judge(
        self, edge: LivenessReport | None, image_bgr: NDArray[np.uint8], face_xyxy: BoxXYXY
    ) -> DoorLiveness:
        """The fused verdict for one uploaded crop and the edge's report on its window."""
        cloud = self._checker.assess_image(image_bgr, face_xyxy)
        return DoorLiveness(combine(edge, cloud), self.mode, self._checker.version)
