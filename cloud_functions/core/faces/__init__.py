"""Face recognition core: detect (5 landmarks) → quality gates → ArcFace alignment → embed → match.

Public API (everything else in the package is an implementation detail)::

    from cloud_functions.core.faces import FacePipeline, FaceRejectedError, Matcher, FaceprintRepository

    pipeline = FacePipeline.from_settings(settings)          # once per warm process
    try:
        analysis = pipeline.analyse(image_bytes, mode="capture")  # "enroll": exactly one face
    except FaceRejectedError as rejection:
        rejection.reason                                     # RejectReason: no_face, too_blurry, ...
    analysis.embedding                                       # float32 [D], L2-normalised
    analysis.model_id                                        # "onnx:<weights file stem>@<sha256 prefix>"
    analysis.quality                                         # size_px, sharpness, yaw_ratio, faces_in_image

    matcher = Matcher.from_settings(settings, FaceprintRepository(engine), pipeline.model_id)
    result = matcher.match(analysis.embedding)               # cached gallery, refreshed on change
    result.usn, result.similarity, result.runner_up_similarity, result.decision  # "match" | "unknown"

Enrollment (consent, gates, storage) is ``EnrollmentService``; the embedders
(``OnnxArcFaceEmbedder``, ``DeepFaceArcFaceEmbedder``) and detectors (``YuNetDetector``,
``RetinaFaceDetector``, from ``vision.faces``, shared with cam1) can be used on their own through
the ``FaceEmbedder`` and ``FaceDetector`` protocols.
"""

from cloud_functions.core.db.faceprints import EnrollmentRepository, FaceprintRepository
from cloud_functions.core.faces.alignment import ARCFACE_TEMPLATE, align_face
from cloud_functions.core.faces.embedding import DeepFaceArcFaceEmbedder, FaceEmbedder, OnnxArcFaceEmbedder
from cloud_functions.core.faces.enrollment import (
    EnrollmentOutcome,
    EnrollmentPhoto,
    EnrollmentService,
    parse_enrollment_key,
)
from cloud_functions.core.faces.matcher import Matcher
from cloud_functions.core.faces.pipeline import FacePipeline
from cloud_functions.core.faces.types import AlignedFace, FaceAnalysis, FaceRejectedError, RejectReason
from cloud_functions.core.matching import Gallery, MatchDecision, MatchResult
from vision.faces import DetectedFace, FaceDetector, RetinaFaceDetector, YuNetDetector

__all__ = [
    "ARCFACE_TEMPLATE",
    "AlignedFace",
    "DeepFaceArcFaceEmbedder",
    "DetectedFace",
    "EnrollmentOutcome",
    "EnrollmentPhoto",
    "EnrollmentRepository",
    "EnrollmentService",
    "FaceAnalysis",
    "FaceDetector",
    "FaceEmbedder",
    "FacePipeline",
    "FaceRejectedError",
    "FaceprintRepository",
    "Gallery",
    "MatchDecision",
    "MatchResult",
    "Matcher",
    "OnnxArcFaceEmbedder",
    "RejectReason",
    "RetinaFaceDetector",
    "YuNetDetector",
    "align_face",
    "parse_enrollment_key",
]
