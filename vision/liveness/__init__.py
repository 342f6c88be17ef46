"""Door liveness: passive anti-spoofing on cam1's stable window, re-checked on the upload.

Public surface::

    checker = LivenessChecker(LivenessSettings())
    decision = checker.assess_window(frames)          # cam1: WindowFrame per frame of the window
    metadata = report_of(decision, checker.version).to_metadata()
    ...
    recheck = checker.assess_image(crop_bgr, face_xyxy)   # face_match: the uploaded crop
    verdict = combine(LivenessReport.from_metadata(object_metadata), recheck)

Runs on numpy, OpenCV and onnxruntime only (no torch, no database, no AWS). The MiniFASNet
weights are Silent-Face-Anti-Spoofing's (Apache-2.0), converted by
``python -m infra.models.convert_antispoof``.
"""

from vision.liveness.antispoof import MiniFASNetEnsemble, silent_face_box, silent_face_crop
from vision.liveness.checker import ALGORITHM_VERSION, LivenessChecker, evenly_spaced, fuse
from vision.liveness.report import CombinedLiveness, LivenessReport, LivenessReportError, combine, report_of
from vision.liveness.settings import LivenessSettings
from vision.liveness.types import (
    DeviceBox,
    Evidence,
    Finding,
    LivenessDecision,
    LivenessError,
    Source,
    Verdict,
    WindowFrame,
)

__all__ = [
    "ALGORITHM_VERSION",
    "CombinedLiveness",
    "DeviceBox",
    "Evidence",
    "Finding",
    "LivenessChecker",
    "LivenessDecision",
    "LivenessError",
    "LivenessReport",
    "LivenessReportError",
    "LivenessSettings",
    "MiniFASNetEnsemble",
    "Source",
    "Verdict",
    "WindowFrame",
    "combine",
    "evenly_spaced",
    "fuse",
    "report_of",
    "silent_face_box",
    "silent_face_crop",
]
