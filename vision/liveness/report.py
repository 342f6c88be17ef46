"""The liveness report cam1 sends with a capture, and face_match's combined verdict.

The report travels as S3 user metadata next to ``room_id``, ``camera_id``, ... (strings only,
2 KB for all metadata together), so it is a handful of rounded figures:

=====================  =====================================================  ===============
key                    value                                                  example
=====================  =====================================================  ===============
``liveness_version``   algorithm version and model ids                        ``1:2.7_80x80_...``
``liveness_verdict``   ``live`` or ``spoof_suspected``                        ``live``
``liveness_scores``    ``source=value`` pairs, ``;``-separated, rounded       ``model=0.982;...``
``liveness_frames``    frames of the window the edge judged                   ``14``
=====================  =====================================================  ===============

Scores: ``model`` mean P(real), ``planar`` homography residual and ``motion`` (face widths),
``device`` confidence of a device enclosing the face, ``texture`` spectral peak score; a source
that was inconclusive or did not run is left out. This model belongs with the other wire
contracts (``contracts/``) once that package exists; it depends on pydantic only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vision.liveness.types import Finding, LivenessDecision, Source, Verdict

METADATA_PREFIX = "liveness_"
_DIGITS = {"model": 3, "planar": 4, "motion": 3, "device": 2, "texture": 2}


class LivenessReportError(ValueError):
    """The capture's liveness metadata is present but malformed."""


class LivenessReport(BaseModel):
    """What the edge decided about its window, small enough for object metadata."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(..., min_length=1, max_length=120, description="Algorithm version and model ids.")
    verdict: Verdict
    frames: int = Field(..., ge=1, le=1000, description="Frames of the window the edge judged.")
    scores: dict[str, float] = Field(
        default_factory=dict, description="Rounded figure per source that reached a finding."
    )
    reasons: tuple[Source, ...] = Field((), description="Sources that found a spoof.")

    @classmethod
    def from_decision(cls, decision: LivenessDecision, version: str) -> LivenessReport:
        scores: dict[str, float] = {}
        for e in decision.evidence:
            if e.score is None or e.finding is Finding.INCONCLUSIVE:
                continue
            scores[e.source.value] = round(e.score, _DIGITS[e.source.value])
            if e.source is Source.PLANAR and "motion" in e.measures:
                scores["motion"] = round(e.measures["motion"], _DIGITS["motion"])
        return cls(
            version=version,
            verdict=decision.verdict,
            frames=decision.frames,
            scores=scores,
            reasons=decision.reasons,
        )

    def to_metadata(self) -> dict[str, str]:
        """The ``liveness_*`` entries of the capture's S3 user metadata."""
        metadata = {
            "liveness_version": self.version,
            "liveness_verdict": self.verdict.value,
            "liveness_frames": str(self.frames),
            "liveness_scores": ";".join(f"{k}={v:g}" for k, v in sorted(self.scores.items())),
        }
        if self.reasons:
            metadata["liveness_reasons"] = ",".join(r.value for r in self.reasons)
        return metadata

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> LivenessReport | None:
        """The report in ``metadata``, ``None`` when the edge sent none (older edge, liveness off).

        Raises:
            LivenessReportError: ``liveness_*`` keys are present but do not parse.
        """
        keys = {k.lower(): v for k, v in metadata.items() if k.lower().startswith(METADATA_PREFIX)}
        if not keys:
            return None
        try:
            scores = {}
            for pair in filter(None, keys.get("liveness_scores", "").split(";")):
                name, _, value = pair.partition("=")
                number = float(value)
                if name not in _DIGITS or not math.isfinite(number):
                    raise ValueError(f"unknown or non-finite score {pair!r}")
                scores[name] = number
            reasons = tuple(Source(r) for r in filter(None, keys.get("liveness_reasons", "").split(",")))
            return cls(
                version=keys.get("liveness_version", ""),
                verdict=Verdict(keys.get("liveness_verdict", "")),
                frames=int(keys.get("liveness_frames", "0")),
                scores=scores,
                reasons=reasons,
            )
        except (ValueError, ValidationError) as e:
            raise LivenessReportError(f"malformed liveness metadata: {e}") from e


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
    reasons = tuple(f"edge:{r.value}" for r in (edge.reasons if edge else ())) + tuple(
        f"cloud:{r.value}" for r in cloud.reasons
    )
    edge_spoof = edge is not None and edge.verdict is Verdict.SPOOF_SUSPECTED
    spoof = edge_spoof or cloud.verdict is Verdict.SPOOF_SUSPECTED
    return CombinedLiveness(Verdict.SPOOF_SUSPECTED if spoof else Verdict.LIVE, reasons, edge, cloud)
