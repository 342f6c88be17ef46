"""cam1 wiring: source -> stable-face gate -> crop -> durable outbox -> uploader -> object store.

:class:`Cam1Pipeline` is the per-frame business part (no threads, no network). :class:`Cam1Runner`
owns the loop and the moving parts (source, uploader thread, preview) and shuts them down cleanly
when :meth:`Cam1Runner.request_stop` is called (the CLI calls it on SIGINT/SIGTERM).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from edge_client.cam1.capture import Capture, build_capture
from edge_client.cam1.detector import HaarDetector
from edge_client.cam1.gate import CaptureDecision, StableFaceGate
from edge_client.cam1.liveness import WindowLiveness
from edge_client.cam1.preview import Preview, WebPreview, WindowPreview, annotate
from edge_client.cam1.settings import Cam1Settings
from edge_client.outbox import ObjectStore, Outbox, OutboxItem, OutboxUploader, S3ObjectStore
from edge_client.sources import Frame, FrameSource, open_source
from vision.faces import FaceDetector, YuNetDetector

logger = logging.getLogger(__name__)


def build_detector(settings: Cam1Settings) -> FaceDetector:
    """The face detector named by the settings."""
    if settings.face_detector == "haar":
        assert settings.haar_cascade_path is not None  # enforced by Cam1Settings
        return HaarDetector(settings.haar_cascade_path, max_side_px=settings.detect_max_side_px)
    return YuNetDetector(
        settings.face_detector_path,
        score_threshold=settings.face_detector_score,
        max_side_px=settings.detect_max_side_px,
    )


def build_gate(settings: Cam1Settings, detector: FaceDetector) -> StableFaceGate:
    """A stable-face gate with the settings' thresholds."""
    return StableFaceGate(
        detector,
        stable_s=settings.stable_s,
        min_iou=settings.min_iou,
        max_centre_shift=settings.max_centre_shift,
        new_person_iou=settings.new_person_iou,
        lost_grace_s=settings.lost_grace_s,
        forget_after_s=settings.forget_after_s,
        cooldown_s=settings.cooldown_s,
        min_face_px=settings.min_face_px,
        min_sharpness=settings.min_sharpness,
        window_max_frames=settings.liveness_window_max_frames if settings.liveness_mode != "off" else 0,
    )


class Cam1Pipeline:
    """Per frame: ask the gate; on a decision, judge its window, crop and encode, write to the outbox.

    Args:
        gate: the stable-face gate.
        outbox: where captures are stored before upload.
        settings: room/camera ids and crop/JPEG knobs.
        on_capture: called with each decision and the capture written for it.
        liveness: judges the decision's window (``None``: no report is sent).
    """

    def __init__(
        self,
        gate: StableFaceGate,
        outbox: Outbox,
        settings: Cam1Settings,
        on_capture: Callable[[CaptureDecision, Capture], None] | None = None,
        liveness: WindowLiveness | None = None,
    ) -> None:
        self.gate = gate
        self.liveness = liveness
        self.outbox = outbox
        self._settings = settings
        self._on_capture = on_capture
        self.captures = 0

    def process(self, frame: Frame) -> Capture | None:
        """Feed one frame; return the capture written to the outbox, if any."""
        decision = self.gate.update(frame)
        if decision is None:
            return None
        s = self._settings
        capture = build_capture(
            decision,
            room_id=s.room_id,
            camera_id=s.camera_id,
            margin=s.crop_margin,
            quality=s.jpeg_quality,
            max_side_px=s.crop_max_side_px,
            max_bytes=s.max_jpeg_bytes,
            liveness=self.liveness.report(decision) if self.liveness is not None else None,
            appearance=s.send_appearance,
        )
        self.outbox.put(capture.object_key, capture.jpeg, capture.metadata)
        self.captures += 1
        logger.info("capture %s queued (%d bytes)", capture.object_key, len(capture.jpeg))
        if self._on_capture is not None:
            self._on_capture(decision, capture)
        return capture


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What a run did: frames read, captures made, uploads and drops during the run, and the
    uploads still pending in the outbox at the end."""

    frames: int
    captures: int
    uploaded: int
    pending: int
    dropped: int
    elapsed_s: float
    stopped: bool

    @property
    def fps(self) -> float:
        return self.frames / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def line(self) -> str:
        """The run in one line for the operator."""
        return (
            f"frames {self.frames}  fps {self.fps:.1f}  captures {self.captures}  "
            f"uploaded {self.uploaded}  pending {self.pending}  dropped {self.dropped}"
            + ("  (stopped)" if self.stopped else "")
        )


class Cam1Runner:
    """Runs cam1 until the source ends or :meth:`request_stop` is called.

    Args:
        settings: validated cam1 settings.
        store: object store; by default S3 (or the endpoint in ``aws_endpoint_url``).
        source: frame source; by default opened from ``settings.source``.
        preview: operator view; by default built from ``settings.preview``.
        drain_on_exit_s: at the end, wait up to this long for pending uploads before stopping
            the uploader (what is left stays in the outbox for the next start).
        on_uploaded: called with each item once the store has it.
    """

    def __init__(
        self,
        settings: Cam1Settings,
        *,
        store: ObjectStore | None = None,
        source: FrameSource | None = None,
        preview: Preview | None = None,
        drain_on_exit_s: float = 5.0,
        on_uploaded: Callable[[OutboxItem], None] | None = None,
        on_capture: Callable[[CaptureDecision, Capture], None] | None = None,
    ) -> None:
        self.settings = settings
        self._stop = threading.Event()
        self._drain_on_exit_s = drain_on_exit_s
        # Build the parts that need nothing released first; then release in reverse on failure.
        detector = build_detector(settings)
        liveness = WindowLiveness.from_settings(settings)
        self.store = store or S3ObjectStore(
            settings.bucket_name,
            endpoint_url=settings.aws_endpoint_url,
            region=settings.aws_region,
            timeout_s=settings.upload_timeout_s,
        )
        self.source = source or open_source(
            settings.source,
            settings.source_fps,
            realtime=settings.realtime,
            drop_late=settings.drop_late_frames,
        )
        try:
            self.outbox = Outbox(settings.outbox_path, settings.outbox_max_items)
            try:
                self.preview = preview if preview is not None else _build_preview(settings)
            except BaseException:
                self.outbox.close()
                raise
        except BaseException:
            self.source.close()
            raise
        self.uploader = OutboxUploader(
            self.outbox,
            self.store,
            retry_initial_s=settings.retry_initial_s,
            retry_max_s=settings.retry_max_s,
            on_uploaded=on_uploaded,
        )
        self.pipeline = Cam1Pipeline(
            build_gate(settings, detector), self.outbox, settings, on_capture, liveness
        )

    def request_stop(self) -> None:
        """Ask the loop to end after the current frame (safe from a signal handler)."""
        self._stop.set()
        self.source.close()

    def run(self) -> RunSummary:
        """Process frames until the source ends or a stop is requested; then shut down cleanly."""
        frames = 0
        start = time.monotonic()
        before = self.outbox.stats()
        self.uploader.start()
        try:
            for frame in self.source:
                if self._stop.is_set():
                    break
                self.pipeline.process(frame)
                frames += 1
                if self.preview is not None:
                    self.preview.show(
                        annotate(
                            frame.image,
                            self.pipeline.gate.status,
                            self.uploader.last_status,
                            self.outbox.stats(),
                        )
                    )
        finally:
            elapsed_s = time.monotonic() - start
            self.source.close()
            if self._drain_on_exit_s > 0 and not self.uploader.drain(self._drain_on_exit_s):
                logger.warning(
                    "%d upload(s) still pending; they resume on the next start", self.outbox.stats().pending
                )
            self.uploader.stop()
            if self.preview is not None:
                self.preview.close()
            stats = self.outbox.stats()
            self.outbox.close()
        return RunSummary(
            frames=frames,
            captures=self.pipeline.captures,
            uploaded=stats.uploaded - before.uploaded,
            pending=stats.pending,
            dropped=stats.dropped - before.dropped,
            elapsed_s=elapsed_s,
            stopped=self._stop.is_set(),
        )


def _build_preview(settings: Cam1Settings) -> Preview | None:
    if settings.preview == "web":
        return WebPreview(settings.preview_host, settings.preview_port, settings.preview_fps)
    if settings.preview == "window":
        return WindowPreview()
    return None
