"""The door liveness decision: evidence from every source, fused into one verdict with reasons.

Two entry points, one per place the decision lives:

- cam1, on its stable window: :meth:`LivenessChecker.assess_window` with the window's frames,
  the followed face's box in each and, where the edge ran the COCO detector, its device boxes;
- face_match, on the uploaded JPEG crop (an edge is not fully trusted):
  :meth:`LivenessChecker.assess_image`, then :func:`combine` with what the edge reported.

Fusion is a rule a reviewer can read: the window is a suspected spoof when any source finds a
spoof; an inconclusive source (too little motion, no device detector, a single image) never
blocks anyone. Each source's threshold is a setting chosen on the dev data for BPCER <= 5 %.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from vision.liveness import evidence as ev
from vision.liveness.antispoof import REAL_CLASS, MiniFASNetEnsemble
from vision.liveness.settings import LivenessSettings
from vision.liveness.types import (
    BoxXYXY,
    Evidence,
    Finding,
    LivenessDecision,
    LivenessError,
    Source,
    Verdict,
    WindowFrame,
)

ALGORITHM_VERSION = "1"
"""Bumped whenever a source or the fusion rule changes meaning; sent with every report."""


def evenly_spaced(count: int, wanted: int) -> list[int]:
    """``wanted`` indices spread over ``range(count)``, first and last included."""
    if count <= 0:
        return []
    if wanted >= count:
        return list(range(count))
    return sorted({round(i * (count - 1) / max(wanted - 1, 1)) for i in range(wanted)})


def model_evidence(probabilities: NDArray[np.float32], threshold: float) -> Evidence:
    """MiniFASNet's mean P(real) over the scored frames against ``threshold``.

    ``measures["argmax_real"]`` is the share of frames whose most likely class is "real": the
    upstream single-frame decision, kept for comparison.
    """
    p_real = probabilities[:, REAL_CLASS]
    mean = float(np.mean(p_real))
    argmax_real = float(np.mean(np.argmax(probabilities, axis=1) == REAL_CLASS))
    return Evidence(
        Source.MODEL,
        Finding.SPOOF if mean < threshold else Finding.LIVE,
        mean,
        threshold,
        f"mean P(real) over {len(p_real)} frame(s)",
        {"min": float(np.min(p_real)), "frames": float(len(p_real)), "argmax_real": argmax_real},
    )


def planar_evidence(frames: Sequence[WindowFrame], settings: LivenessSettings) -> Evidence:
    """Planar motion across the window (see :func:`vision.liveness.evidence.planar_motion`)."""
    threshold = settings.liveness_planar_max_residual
    if len(frames) < 2:
        return Evidence(Source.PLANAR, Finding.INCONCLUSIVE, None, threshold, "a single image has no motion")
    measure = ev.planar_motion(frames, min_points=settings.liveness_planar_min_points)
    if measure is None:
        return Evidence(Source.PLANAR, Finding.INCONCLUSIVE, None, threshold, "too few trackable face points")
    measures = {"motion": measure.motion, "points": float(measure.points), "frames": float(measure.frames)}
    if measure.motion < settings.liveness_planar_min_motion:
        return Evidence(
            Source.PLANAR,
            Finding.INCONCLUSIVE,
            measure.residual,
            threshold,
            "the face hardly moved",
            measures,
        )
    planar = measure.residual < threshold
    return Evidence(
        Source.PLANAR,
        Finding.SPOOF if planar else Finding.LIVE,
        measure.residual,
        threshold,
        "moved as one plane" if planar else "moved as a 3-D face",
        measures,
    )


def device_evidence(frames: Sequence[WindowFrame], settings: LivenessSettings) -> Evidence:
    """A phone, laptop or TV enclosing the face in any checked frame."""
    threshold = settings.liveness_device_min_confidence
    score = ev.device_score(frames, min_face_share=settings.liveness_device_min_face_share)
    if score is None:
        return Evidence(Source.DEVICE, Finding.INCONCLUSIVE, None, threshold, "no device detector ran")
    found = score >= threshold
    return Evidence(
        Source.DEVICE,
        Finding.SPOOF if found else Finding.LIVE,
        score,
        threshold,
        "a device encloses the face" if found else "no device around the face",
    )


def texture_evidence(
    images: Sequence[NDArray[np.uint8]], boxes: Sequence[BoxXYXY], threshold: float
) -> Evidence:
    """The median spectral peak score over the scored frames."""
    scores = [
        s for s in (ev.spectral_peak_score(i, b) for i, b in zip(images, boxes, strict=True)) if s is not None
    ]
    if not scores:
        return Evidence(Source.TEXTURE, Finding.INCONCLUSIVE, None, threshold, "face too small for texture")
    score = float(np.median(scores))
    return Evidence(
        Source.TEXTURE,
        Finding.SPOOF if score > threshold else Finding.LIVE,
        score,
        threshold,
        "periodic screen/print texture" if score > threshold else "no periodic texture",
    )


def fuse(evidence: Sequence[Evidence], *, frames: int, enforced: bool, elapsed_ms: float) -> LivenessDecision:
    """Any source finding a spoof makes the decision a suspected spoof."""
    spoof = any(e.finding is Finding.SPOOF for e in evidence)
    return LivenessDecision(
        Verdict.SPOOF_SUSPECTED if spoof else Verdict.LIVE,
        tuple(evidence),
        frames,
        enforced=enforced,
        elapsed_ms=elapsed_ms,
    )


class LivenessChecker:
    """Scores a stable window or one image; pure computation (no camera, network or database).

    Args:
        settings: thresholds and model paths.
        ensemble: the MiniFASNet runner; built from ``settings`` when not given (tests and
            benchmarks pass one to share the loaded models).
    """

    def __init__(self, settings: LivenessSettings, ensemble: MiniFASNetEnsemble | None = None) -> None:
        if settings.liveness_mode == "off":
            raise LivenessError("liveness_mode is off; build no checker")
        self.settings = settings
        self.ensemble = ensemble or MiniFASNetEnsemble(
            settings.liveness_model_paths, intra_op_threads=settings.liveness_onnx_threads
        )

    @property
    def version(self) -> str:
        """Algorithm version and model ids, sent with every report."""
        return f"{ALGORITHM_VERSION}:{self.ensemble.model_id}"

    def assess_window(self, frames: Sequence[WindowFrame]) -> LivenessDecision:
        """The decision for cam1's stable window (frames in time order, the same face in each)."""
        if not frames:
            raise LivenessError("an empty window has no face to judge")
        started = time.perf_counter()
        s = self.settings
        picked = [frames[i] for i in evenly_spaced(len(frames), s.liveness_window_frames)]
        images = [f.image for f in picked]
        boxes = [f.face_xyxy for f in picked]
        probabilities = self.ensemble.probabilities(images, boxes)
        found = [
            model_evidence(probabilities, s.liveness_model_threshold),
            planar_evidence(frames, s),
            device_evidence(frames, s),
            texture_evidence(images, boxes, s.liveness_texture_threshold),
        ]
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        return fuse(found, frames=len(frames), enforced=s.liveness_mode == "enforce", elapsed_ms=elapsed_ms)

    def assess_image(self, image_bgr: NDArray[np.uint8], face_xyxy: BoxXYXY) -> LivenessDecision:
        """The decision for one image (face_match's re-check of the uploaded crop)."""
        started = time.perf_counter()
        s = self.settings
        box = tuple(float(v) for v in face_xyxy)
        probabilities = self.ensemble.probabilities([image_bgr], [box])
        found = [
            model_evidence(probabilities, s.liveness_model_threshold),
            texture_evidence([image_bgr], [box], s.liveness_texture_threshold),
        ]
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        return fuse(found, frames=1, enforced=s.liveness_mode == "enforce", elapsed_ms=elapsed_ms)
