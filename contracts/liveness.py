"""The door liveness report cam1 sends with a face capture, as S3 user metadata.

S3 user metadata is a flat map of strings, 2 KB for all keys and values together, so the report
is a handful of rounded figures next to ``room_id``, ``camera_id``, ...:

=====================  =====================================================  ===============
key                    value                                                  example
=====================  =====================================================  ===============
``liveness_version``   algorithm version and model ids                        ``1:2.7_80x80_...``
``liveness_verdict``   ``live`` or ``spoof_suspected``                        ``live``
``liveness_scores``    ``source=value`` pairs, ``;``-separated, rounded       ``model=0.982;...``
``liveness_frames``    frames of the window the edge judged                   ``14``
``liveness_reasons``   sources that found a spoof, ``,``-separated (if any)   ``planar``
=====================  =====================================================  ===============

Scores: ``model`` mean P(real), ``planar`` homography residual and ``motion`` (face widths),
``device`` confidence of a device enclosing the face, ``texture`` spectral peak score; a source
that was inconclusive or did not run is left out. Needs pydantic only (the edge and the cloud
both import it); ``vision.liveness`` builds it from a decision.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

METADATA_PREFIX = "liveness_"
SCORE_DIGITS = {"model": 3, "planar": 4, "motion": 3, "device": 2, "texture": 2}
"""Every score name the report may carry and the decimals it is rounded to."""

LivenessVerdict = Literal["live", "spoof_suspected"]
LivenessSource = Literal["model", "planar", "device", "texture"]
REPORT_MAX_CHARS = 400
"""Keys and values of a report together stay under this: a fifth of S3's 2 KB metadata limit."""


class LivenessReportError(ValueError):
    """The capture's liveness metadata is present but malformed."""


class LivenessReport(BaseModel):
    """What the edge decided about its window, small enough for object metadata."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(..., min_length=1, max_length=120, description="Algorithm version and model ids.")
    verdict: LivenessVerdict
    frames: int = Field(..., ge=1, le=1000, description="Frames of the window the edge judged.")
    scores: dict[str, float] = Field(
        default_factory=dict, description="Rounded figure per source that reached a finding."
    )
    reasons: tuple[LivenessSource, ...] = Field((), description="Sources that found a spoof.")

    def to_metadata(self) -> dict[str, str]:
        """The ``liveness_*`` entries of the capture's S3 user metadata."""
        metadata = {
            "liveness_version": self.version,
            "liveness_verdict": str(self.verdict),
            "liveness_frames": str(self.frames),
            "liveness_scores": ";".join(f"{k}={v:g}" for k, v in sorted(self.scores.items())),
        }
        if self.reasons:
            metadata["liveness_reasons"] = ",".join(str(r) for r in self.reasons)
        return metadata

    def summary(self) -> str:
        """``live model=0.98;planar=0.02`` in one short line (for an event's detail)."""
        scores = ";".join(f"{k}={v:g}" for k, v in sorted(self.scores.items()))
        return f"{self.verdict} {scores}".strip()

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
                if name not in SCORE_DIGITS or not math.isfinite(number):
                    raise ValueError(f"unknown or non-finite score {pair!r}")
                scores[name] = number
            reasons = tuple(filter(None, keys.get("liveness_reasons", "").split(",")))
            return cls.model_validate(
                {
                    "version": keys.get("liveness_version", ""),
                    "verdict": keys.get("liveness_verdict", ""),
                    "frames": int(keys.get("liveness_frames", "0")),
                    "scores": scores,
                    "reasons": reasons,
                }
            )
        except (ValueError, ValidationError) as e:
            raise LivenessReportError(f"malformed liveness metadata: {e}") from e
