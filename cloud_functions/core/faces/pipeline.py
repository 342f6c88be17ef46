"""Photo bytes in, accepted aligned face and embedding out — or a ``FaceRejectedError`` with its reason."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from cloud_functions.core.errors import ConfigurationError
from cloud_functions.core.faces.alignment import align_face
from cloud_functions.core.faces.embedding import FaceEmbedder, make_embedder
from cloud_functions.core.faces.quality import (
    QualityThresholds,
    check_pose,
    check_sharpness,
    choose_face,
)
from cloud_functions.core.faces.types import (
    AlignedFace,
    AnalysisMode,
    FaceAnalysis,
    FaceQuality,
    FaceRejectedError,
    RejectReason,
)
from cloud_functions.core.images import ImageRejectedError, decode_image
from vision.faces import DetectorError, FaceDetector, RetinaFaceDetector, YuNetDetector

if TYPE_CHECKING:
    from cloud_functions.core.settings import FaceModelSettings

logger = logging.getLogger(__name__)


def _elapsed_ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def make_detector(settings: FaceModelSettings) -> FaceDetector:
    """The detector named by ``settings.face_detector``; ``ConfigurationError`` if it cannot load."""
    try:
        if settings.face_detector == "retinaface":
            return RetinaFaceDetector(
                settings.resolved_face_detector_path,
                score_threshold=settings.face_detector_score,
                intra_op_threads=settings.onnx_intra_op_threads,
            )
        return YuNetDetector(
            settings.resolved_face_detector_path,
            score_threshold=settings.face_detector_score,
            max_side_px=settings.face_detect_max_side_px,
        )
    except DetectorError as e:
        raise ConfigurationError(str(e)) from e


def thresholds_from_settings(settings: FaceModelSettings) -> QualityThresholds:
    """The quality gates' thresholds out of the settings."""
    return QualityThresholds(
        max_image_bytes=settings.max_image_bytes,
        max_image_pixels=settings.max_image_pixels,
        min_face_px=settings.min_face_px,
        min_sharpness=settings.min_sharpness,
        max_yaw_ratio=settings.max_yaw_ratio,
    )


class FacePipeline:
    """Decode → detect → gate → align → embed.

    Build it once per warm process (``from_settings``); models load in the constructor.
    """

    def __init__(self, detector: FaceDetector, embedder: FaceEmbedder, thresholds: QualityThresholds) -> None:
        self.detector = detector
        self.embedder = embedder
        self.thresholds = thresholds

    @classmethod
    def from_settings(cls, settings: FaceModelSettings) -> FacePipeline:
        """A pipeline with the detector, embedder and gate thresholds the settings name."""
        return cls(make_detector(settings), make_embedder(settings), thresholds_from_settings(settings))

    @property
    def model_id(self) -> str:
        """The embedder's model id, stored with every faceprint it makes."""
        return self.embedder.model_id

    def inspect(self, image_bytes: bytes, mode: AnalysisMode = "capture") -> AlignedFace:
        """Run every gate and the alignment, without embedding. Raises ``FaceRejectedError``."""
        start = time.perf_counter()
        try:
            image = decode_image(
                image_bytes,
                max_bytes=self.thresholds.max_image_bytes,
                max_pixels=self.thresholds.max_image_pixels,
            )
        except ImageRejectedError as e:
            raise FaceRejectedError(RejectReason(e.reason), e.detail) from e
        aligned = self.inspect_image(image, mode)
        logger.debug("face accepted", extra={"mode": mode, "inspect_ms": round(_elapsed_ms(start), 1)})
        return aligned

    def inspect_image(self, image_bgr: NDArray[np.uint8], mode: AnalysisMode = "capture") -> AlignedFace:
        """``inspect`` for an already decoded BGR image."""
        faces = self.detector.detect(image_bgr)
        face = choose_face(faces, mode, self.thresholds)
        yaw = check_pose(face, self.thresholds)
        aligned = align_face(image_bgr, face.require_landmarks())
        sharp = check_sharpness(aligned, self.thresholds)
        quality = FaceQuality(size_px=face.size_px, sharpness=sharp, yaw_ratio=yaw, faces_in_image=len(faces))
        return AlignedFace(face=face, image=aligned, quality=quality, source=image_bgr)

    def analyse(self, image_bytes: bytes, mode: AnalysisMode = "capture") -> FaceAnalysis:
        """The accepted face of a photo and its embedding. Raises ``FaceRejectedError``."""
        start = time.perf_counter()
        aligned = self.inspect(image_bytes, mode)
        inspect_ms = _elapsed_ms(start)
        start = time.perf_counter()
        embedding = self.embedder.embed([aligned.image])[0]
        return FaceAnalysis(
            aligned=aligned,
            embedding=embedding,
            model_id=self.model_id,
            timings_ms={"inspect": inspect_ms, "embed": _elapsed_ms(start)},
        )

    def analyse_many(
        self, images: Sequence[bytes], mode: AnalysisMode = "enroll"
    ) -> list[FaceAnalysis | FaceRejectedError]:
        """``analyse`` for several photos, with one batched embedding call for the accepted faces.

        The result has one entry per photo, in order: its analysis or the rejection.
        """
        outcomes: list[AlignedFace | FaceRejectedError] = []
        for image_bytes in images:
            try:
                outcomes.append(self.inspect(image_bytes, mode))
            except FaceRejectedError as rejection:
                outcomes.append(rejection)
        accepted = [outcome for outcome in outcomes if isinstance(outcome, AlignedFace)]
        embeddings = iter(self.embedder.embed([aligned.image for aligned in accepted]))
        return [
            outcome
            if isinstance(outcome, FaceRejectedError)
            else FaceAnalysis(aligned=outcome, embedding=next(embeddings), model_id=self.model_id)
            for outcome in outcomes
        ]
