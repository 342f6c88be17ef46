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

from __future__ import annotations

import importlib
from typing import Any

# Settings and the report's types are light; the models (OpenCV, onnxruntime) load on first use,
# so importing the settings (the API does, through the functions' settings) pulls in no OpenCV.
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

_LAZY = {
    "MiniFASNetEnsemble": "vision.liveness.antispoof",
    "silent_face_box": "vision.liveness.antispoof",
    "silent_face_crop": "vision.liveness.antispoof",
    "ALGORITHM_VERSION": "vision.liveness.checker",
    "LivenessChecker": "vision.liveness.checker",
    "evenly_spaced": "vision.liveness.checker",
    "fuse": "vision.liveness.checker",
    "CombinedLiveness": "vision.liveness.report",
    "LivenessReport": "vision.liveness.report",
    "LivenessReportError": "vision.liveness.report",
    "combine": "vision.liveness.report",
    "report_of": "vision.liveness.report",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vision.liveness' has no attribute {name!r}")


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
