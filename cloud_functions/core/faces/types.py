"""Value types that flow through the face pipeline.

Detectors, gates, aligners and embedders speak only these types; model libraries' own result
types are converted once, inside their adapter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from cloud_functions.core.errors import ClassSightError
from vision.faces import DetectedFace

AnalysisMode = Literal["enroll", "capture"]
"""``enroll``: the photo must show exactly one usable face. ``capture``: the largest face is used."""


class RejectReason(StrEnum):
    """Why a photo was not turned into a faceprint. Stored in ``enrollments.reason``."""

    UNDECODABLE = "undecodable"
    TOO_LARGE = "too_large"
    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"
    TOO_SMALL = "too_small"
    TOO_BLURRY = "too_blurry"
    EXTREME_POSE = "extreme_pose"


class FaceRejectedError(ClassSightError):
    """A photo failed a quality gate; ``reason`` says which, ``detail`` gives the measured value."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class FaceQuality:
    """What the gates measured on the chosen face."""

    size_px: float
    sharpness: float
    yaw_ratio: float
    faces_in_image: int


@dataclass(frozen=True)
class AlignedFace:
    """A face that passed every gate, aligned to the 112x112 ArcFace template (BGR, uint8)."""

    face: DetectedFace
    image: NDArray[np.uint8]
    quality: FaceQuality
    source: NDArray[np.uint8] | None = field(default=None, repr=False, compare=False)
    """The decoded image ``face`` was found in (the liveness re-check crops it)."""


@dataclass(frozen=True)
class FaceAnalysis:
    """An accepted face and its embedding (L2-normalised float32) from the model ``model_id``."""

    aligned: AlignedFace
    embedding: NDArray[np.float32]
    model_id: str
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def face(self) -> DetectedFace:
        return self.aligned.face

    @property
    def quality(self) -> FaceQuality:
        return self.aligned.quality
