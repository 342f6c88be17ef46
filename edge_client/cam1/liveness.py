"""cam1's door liveness: the stable window judged before upload, its report sent with the capture.

The edge sees the whole window (planar motion, a device around the face); face_match re-checks
the uploaded crop and keeps either side's suspicion. A suspected spoof is still uploaded: the
cloud records it (``spoof_suspected``, no attendance) for the course's teacher to see.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

import numpy as np

from contracts.liveness import LivenessReport
from edge_client.cam1.gate import CaptureDecision
from edge_client.cam1.settings import Cam1Settings
from vision.liveness import (
    DeviceBox,
    LivenessChecker,
    LivenessError,
    WindowFrame,
    evenly_spaced,
    report_of,
)

logger = logging.getLogger(__name__)


class DeviceDetector(Protocol):
    """Port: phones, laptops and TVs in a frame (``edge_client.cam2.detection.YoloDeviceDetector``)."""

    def detect(self, frame: np.ndarray) -> tuple[DeviceBox, ...]: ...


class WindowLiveness:
    """Judges a gate decision's window and returns the report for its upload.

    Args:
        checker: the liveness checker (models loaded once).
        devices: the device detector, or ``None`` (the device source is then inconclusive).
        device_frames: window frames the device detector runs on.
    """

    def __init__(
        self, checker: LivenessChecker, devices: DeviceDetector | None = None, device_frames: int = 3
    ):
        self.checker = checker
        self.devices = devices
        self.device_frames = device_frames

    @classmethod
    def from_settings(cls, settings: Cam1Settings) -> WindowLiveness | None:
        """The check the settings ask for; ``None`` when ``liveness_mode`` is ``off``.

        Raises:
            LivenessError: the models are missing or broken (cam1 refuses to start).
        """
        if settings.liveness_mode == "off":
            return None
        devices: DeviceDetector | None = None
        if settings.liveness_device_weights is not None:
            from edge_client.cam2.detection import YoloDeviceDetector

            devices = YoloDeviceDetector(settings.liveness_device_weights)
        return cls(LivenessChecker(settings), devices, settings.liveness_device_frames)

    def with_devices(self, frames: Sequence[WindowFrame]) -> list[WindowFrame]:
        """``frames`` with device boxes on ``device_frames`` evenly spread ones."""
        if self.devices is None:
            return list(frames)
        checked = set(evenly_spaced(len(frames), self.device_frames))
        return [
            replace(f, devices=self.devices.detect(f.image), devices_checked=True) if i in checked else f
            for i, f in enumerate(frames)
        ]

    def report(self, decision: CaptureDecision) -> LivenessReport | None:
        """The report for ``decision``'s window, or ``None`` when the check could not run (the
        cloud's re-check still judges the upload)."""
        frames = list(decision.window)
        if not frames:
            x1, y1, x2, y2 = (float(v) for v in decision.face.xyxy)
            frames = [WindowFrame(decision.image, (x1, y1, x2, y2), decision.timestamp_s)]
        try:
            judged = self.checker.assess_window(self.with_devices(frames))
        except LivenessError as e:
            logger.warning("liveness check of face %d failed: %s", decision.track_id, e)
            return None
        report = report_of(judged, self.checker.version)
        logger.info(
            "face %d liveness %s over %d frame(s) in %.0f ms",
            decision.track_id,
            report.summary(),
            judged.frames,
            judged.elapsed_ms,
        )
        return report
