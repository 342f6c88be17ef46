"""Value types of the liveness check: what goes in (frames, face boxes, device boxes) and what
comes out (typed evidence per source and one decision with its reasons)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

BoxXYXY = Sequence[float] | NDArray[np.floating]
"""``(x1, y1, x2, y2)`` in pixels of the image it belongs to."""


class LivenessError(Exception):
    """The liveness check cannot run (missing or broken model) or got unusable input."""


class Source(StrEnum):
    """An independent piece of evidence; each is measured alone by ``bench/liveness.py``."""

    MODEL = "model"
    """MiniFASNet V2 + V1SE, mean P(real) over the scored frames."""
    PLANAR = "planar"
    """Tracked face points move as one plane across the window (a photo or a screen showing a photo)."""
    DEVICE = "device"
    """A phone, laptop or TV box found by the room's COCO detector encloses the face."""
    TEXTURE = "texture"
    """Periodic high-frequency peaks in the face's spectrum (screen pixel grid, print halftone, moiré)."""


class Finding(StrEnum):
    """What one source says. ``inconclusive`` never blocks anyone (too little motion, no device
    detector on this side, a single image where a window is needed)."""

    LIVE = "live"
    SPOOF = "spoof"
    INCONCLUSIVE = "inconclusive"


class Verdict(StrEnum):
    """The decision. ``spoof_suspected`` is also the recorded outcome name face_match uses."""

    LIVE = "live"
    SPOOF_SUSPECTED = "spoof_suspected"


@dataclass(frozen=True, slots=True)
class DeviceBox:
    """A presentation device found in a frame by an object detector (converted at its adapter).

    Attributes:
        xyxy: box in the frame's pixels.
        label: ``cell phone``, ``laptop`` or ``tv`` (COCO names).
        confidence: detector score in ``[0, 1]``.
    """

    xyxy: tuple[float, float, float, float]
    label: str
    confidence: float


@dataclass(frozen=True, slots=True)
class WindowFrame:
    """One frame of cam1's stable window and the followed face in it.

    Attributes:
        image: the full BGR frame (uint8), not a crop: the model crops 4x the face box.
        face_xyxy: the followed face's box in that frame.
        timestamp_s: source time of the frame (seconds, any origin).
        devices: presentation devices detected in this frame.
        devices_checked: whether a device detector ran on this frame; an empty ``devices`` of
            an unchecked frame is not evidence of anything.
    """

    image: NDArray[np.uint8]
    face_xyxy: tuple[float, float, float, float]
    timestamp_s: float
    devices: tuple[DeviceBox, ...] = ()
    devices_checked: bool = False


@dataclass(frozen=True, slots=True)
class Evidence:
    """What one source measured and found.

    Attributes:
        source: which source.
        finding: live, spoof or inconclusive.
        score: the measured value (``None`` when it could not be measured); its meaning and
            units are the source's: P(real) for the model, the homography residual in face
            widths for planar motion, the device confidence, the spectral peak score.
        threshold: the configured value ``score`` was compared with.
        detail: a short plain-words note (never image data).
        measures: the source's other figures (e.g. planar motion's ``motion`` and ``points``).
    """

    source: Source
    finding: Finding
    score: float | None
    threshold: float | None
    detail: str = ""
    measures: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LivenessDecision:
    """The verdict and every source's evidence.

    Attributes:
        verdict: ``live`` or ``spoof_suspected``.
        evidence: one entry per source that ran.
        frames: frames the decision used (1 for a single image).
        enforced: whether the verdict may block attendance (``False`` in record-only mode).
        elapsed_ms: time the check took, face detection excluded.
    """

    verdict: Verdict
    evidence: tuple[Evidence, ...]
    frames: int
    enforced: bool = True
    elapsed_ms: float = 0.0

    @property
    def reasons(self) -> tuple[Source, ...]:
        """The sources that found a spoof (empty for ``live``)."""
        return tuple(e.source for e in self.evidence if e.finding is Finding.SPOOF)

    @property
    def blocks_attendance(self) -> bool:
        """True when attendance must not be marked: a suspected spoof in enforce mode."""
        return self.enforced and self.verdict is Verdict.SPOOF_SUSPECTED

    def of(self, source: Source) -> Evidence | None:
        """The evidence of ``source``, if it ran."""
        return next((e for e in self.evidence if e.source is source), None)
