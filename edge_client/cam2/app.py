"""Wiring of the room camera: settings in, a running frame loop out.

The frame loop owns all track state. Around it: the handoff consumer (long-polls the room queue
in a thread and hands messages to the loop), the outbox uploader (presence reports and body
crops, in a thread) and the stream server (serves the latest annotated frame).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import numpy as np

from edge_client.aws import edge_aws_client
from edge_client.cam2.compute import DetectorPlan, this_machine_plan
from edge_client.cam2.detection import PersonDetector, YoloPersonDetector
from edge_client.cam2.handoff import build_assigner
from edge_client.cam2.pipeline import FrameResult, FrameStage, RoomPipeline
from edge_client.cam2.presence import BodyCropUploader, CaptureSink, GalleryCropUploader, PresenceReporter
from edge_client.cam2.queue import HandoffConsumer, HandoffQueue, SqsHandoffQueue
from edge_client.cam2.reid import BodyEmbedder, IdentityKeeper, OsnetBodyEmbedder
from edge_client.cam2.settings import Cam2Settings
from edge_client.cam2.stream import FrameAnnotator, StreamServer
from edge_client.cam2.tracking import build_tracker
from edge_client.cam2.tracks import DoorZone, TrackRegistry
from edge_client.outbox import Outbox, OutboxUploader, S3ObjectStore
from edge_client.sources import open_source

logger = logging.getLogger(__name__)

# /health says "stale" when no frame was processed for this long (camera gone, loop stuck).
STALE_AFTER_S = 5.0


def build_detector(settings: Cam2Settings) -> YoloPersonDetector:
    """The person detector named by the settings."""
    return YoloPersonDetector(
        settings.person_weights_path,
        settings.person_confidence,
        settings.person_iou,
        settings.person_imgsz,
        settings.person_min_height_fraction,
    )


def detect_every_n(
    settings: Cam2Settings,
    frame_rate: float,
    plan: DetectorPlan | None = None,
    detector: PersonDetector | None = None,
) -> int:
    """The detector schedule: ``person_detect_every_n`` when set, else this CPU's plan (logged,
    with ``detector`` timed on this PC when given)."""
    if settings.person_detect_every_n is not None:
        logger.info("person detector on 1 frame in %d (settings)", settings.person_detect_every_n)
        return settings.person_detect_every_n
    plan = plan or this_machine_plan(frame_rate, detector)
    logger.info("%s (set person_detect_every_n to override)", plan.reason)
    return plan.detect_every_n


def build_pipeline(
    settings: Cam2Settings,
    *,
    detector: PersonDetector | None,
    sink: CaptureSink | None,
    embedder: BodyEmbedder | None = None,
    frame_rate: float = 10.0,
) -> RoomPipeline:
    """Tracker, registry, assigner and the stages the settings ask for.

    Args:
        settings: cam2 settings.
        detector: the person detector (``None`` when detections are supplied per frame).
        sink: where presence reports and body crops go (``None``: neither is sent).
        embedder: body re-id model; built from settings when re-id is on and none is given.
        frame_rate: nominal frame rate of the source (the tracker's first motion step).
    """
    every = detect_every_n(settings, frame_rate, detector=detector)
    assigner = build_assigner(settings)
    stages: list[FrameStage] = []
    if embedder is None and (settings.reid_enabled or settings.track_relink_enabled):
        embedder = OsnetBodyEmbedder(settings.reid_weights_path)
    if settings.reid_enabled:
        assert embedder is not None
        stages.append(
            IdentityKeeper(
                embedder,
                similarity_threshold=settings.reid_similarity_threshold,
                carry_window_s=settings.reid_carry_window_s,
                carry_radius_heights=settings.reid_carry_radius_heights,
                refresh_s=settings.reid_refresh_s,
            )
        )
    if sink is not None:
        stages.append(
            PresenceReporter(sink, settings.room_id, settings.camera_id, settings.presence_interval_s)
        )
        stages.append(
            BodyCropUploader(
                sink,
                settings.room_id,
                settings.camera_id,
                unknown_after_s=settings.unknown_body_after_s,
                interval_s=settings.body_crop_interval_s,
                jpeg_quality=settings.body_crop_jpeg_quality,
                on_capture=assigner.register_body_capture,
            )
        )
        if settings.gallery_crops_per_track > 0:
            stages.append(
                GalleryCropUploader(
                    sink,
                    settings.room_id,
                    settings.camera_id,
                    crops_per_track=settings.gallery_crops_per_track,
                    interval_s=settings.gallery_crop_interval_s,
                    jpeg_quality=settings.body_crop_jpeg_quality,
                )
            )
    return RoomPipeline(
        detector=detector,
        tracker=build_tracker(settings, frame_rate=frame_rate, embedder=embedder, detect_every_n=every),
        registry=TrackRegistry(
            DoorZone(settings.door_zone),
            forget_after_s=settings.track_forget_s,
            startup_frames=settings.track_min_consecutive_frames + 1,
        ),
        assigner=assigner,
        stages=stages,
        detect_every_n=every,
    )


@dataclass
class RunSummary:
    """What a run did."""

    frames: int = 0
    seconds: float = 0.0
    dropped_frames: int = 0  # frames the source skipped because the loop was behind (newest wins)
    handoffs_applied: int = 0
    handoffs_expired: int = 0

    @property
    def fps(self) -> float:
        """Frames processed per second of wall time."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        """The run in one line for the operator (JSON)."""
        return json.dumps(
            {
                "frames": self.frames,
                "fps": round(self.fps, 2),
                "dropped_frames": self.dropped_frames,
                "handoffs_applied": self.handoffs_applied,
                "handoffs_expired": self.handoffs_expired,
            }
        )


class BackgroundUploader(Protocol):
    """Port: drains the sink in a thread of its own (the outbox's uploader)."""

    def start(self) -> None: ...

    def stop(self, timeout_s: float = 10.0) -> None: ...


def outbox_sink(settings: Cam2Settings) -> tuple[Outbox, OutboxUploader]:
    """The durable outbox the frame loop writes to, and the uploader that drains it into the bucket."""
    outbox = Outbox(settings.outbox_path, settings.outbox_max_items)
    store = S3ObjectStore(
        settings.bucket_name, endpoint_url=settings.aws_endpoint_url, region=settings.aws_region
    )
    return outbox, OutboxUploader(outbox, store)


def room_queue(settings: Cam2Settings) -> SqsHandoffQueue | None:
    """The room's handoff queue on SQS, when the settings name one."""
    if not settings.handoff_queue_url:
        return None
    # The read timeout outlasts the long poll's wait.
    client = edge_aws_client(
        "sqs",
        endpoint_url=settings.aws_endpoint_url,
        region=settings.aws_region,
        timeout_s=settings.sqs_wait_time_s + 10,
    )
    return SqsHandoffQueue(settings.handoff_queue_url, client, settings.sqs_visibility_timeout_s)


class Cam2Runner:
    """The room camera process: source → pipeline → stream, with the queue and uploads around it.

    The ports left out are built from the settings: the durable outbox and its uploader as the
    sink, and the room's SQS queue when ``handoff_queue_url`` is set.

    Args:
        settings: cam2 settings.
        pipeline: a prebuilt pipeline (tests); built from settings when ``None``.
        sink: where reports and crops go (given: nothing uploads it in the background).
        uploader: drains ``sink`` in a thread while the runner runs.
        queue: the room's handoff queue.
        max_frames: stop after this many frames (``run``'s own argument wins).
        on_frame: called with each frame's result and time (scoring a replay, a live view).
    """

    def __init__(
        self,
        settings: Cam2Settings,
        *,
        pipeline: RoomPipeline | None = None,
        sink: CaptureSink | None = None,
        uploader: BackgroundUploader | None = None,
        queue: HandoffQueue | None = None,
        max_frames: int | None = None,
        on_frame: Callable[[FrameResult, datetime], None] | None = None,
    ) -> None:
        self.settings = settings
        self._on_frame = on_frame
        self._stop = threading.Event()
        self._max_frames = max_frames
        self._uploader = uploader
        if sink is None:
            sink, self._uploader = outbox_sink(settings)
        self.pipeline = pipeline or build_pipeline(
            settings, detector=build_detector(settings), sink=sink, frame_rate=settings.source_fps or 10.0
        )
        queue = queue or room_queue(settings)
        self.consumer: HandoffConsumer | None = None
        if queue is not None:
            self.consumer = HandoffConsumer(
                queue, settings.room_id, self.pipeline.submit_handoff, settings.sqs_wait_time_s
            )
        self.annotator = FrameAnnotator(DoorZone(settings.door_zone))
        self.stream: StreamServer | None = None
        if settings.stream_enabled:
            self.stream = StreamServer(
                settings.stream_host,
                settings.stream_port,
                health=self.health,
                jpeg_quality=settings.stream_jpeg_quality,
                max_fps=settings.stream_max_fps,
            )
        self._frame_times: deque[float] = deque(maxlen=30)
        self._last_frame_monotonic: float | None = None
        self.summary = RunSummary()
        self.origin: datetime | None = None
        """Wall-clock time of the source's media time zero, set by :meth:`run`."""

    def health(self) -> dict[str, Any]:
        """Status for ``/health``: "starting", "ok" or "stale", frame rate, tracks, pending handoffs."""
        age = None if self._last_frame_monotonic is None else time.monotonic() - self._last_frame_monotonic
        if age is None:
            status = "starting"
        elif age > STALE_AFTER_S:
            status = "stale"
        else:
            status = "ok"
        return {
            "status": status,
            "room_id": self.settings.room_id,
            "camera_id": self.settings.camera_id,
            "fps": round(self.fps, 2),
            "frames": self.summary.frames,
            "dropped_frames": self.summary.dropped_frames,
            "tracks": len(self.pipeline.registry.live_ids),
            "identified": sum(1 for r in self.pipeline.registry.live() if r.usn),
            "pending_handoffs": self.pipeline.pending_handoffs,
            "clock_offset_s": round(self.pipeline.assigner.clock_offset_s, 3),
            "clock_offset_pairs": self.pipeline.assigner.clock.sample_count
            if self.pipeline.assigner.clock
            else 0,
            "last_frame_age_s": None if age is None else round(age, 2),
            "handoff_queue": self.consumer is not None,
        }

    @property
    def fps(self) -> float:
        """Frames per second over the last 30 frames."""
        if len(self._frame_times) < 2:
            return 0.0
        return (len(self._frame_times) - 1) / max(self._frame_times[-1] - self._frame_times[0], 1e-9)

    def process_frame(self, image: np.ndarray, at: datetime) -> None:
        """Run the pipeline on one frame, acknowledge decided handoffs, publish the annotated frame."""
        result = self.pipeline.process(image, at)
        if self._on_frame is not None:
            self._on_frame(result, at)
        for outcome in result.outcomes:
            if outcome.expired:
                self.summary.handoffs_expired += 1
            elif outcome.tracker_id is not None:
                self.summary.handoffs_applied += 1
        if self.consumer is not None and result.outcomes:
            self.consumer.acknowledge(result.outcomes)
        now = time.monotonic()
        self._frame_times.append(now)
        self._last_frame_monotonic = now
        self.summary.frames += 1
        if (self.stream is not None and self.stream.due()) or self.settings.show_window:
            view = self.annotator.annotate(image, result.detections, self.fps, self.pipeline.pending_handoffs)
            if self.stream is not None:
                self.stream.publish(view)
            if self.settings.show_window:
                import cv2

                cv2.imshow(f"ClassSight cam2 {self.settings.room_id}", view)
                cv2.waitKey(1)

    def run(self, max_frames: int | None = None) -> RunSummary:
        """Read the source until it ends, ``max_frames`` are done, or :meth:`request_stop`."""
        max_frames = max_frames if max_frames is not None else self._max_frames
        started = time.monotonic()
        if self._uploader is not None:
            self._uploader.start()
        if self.consumer is not None:
            self.consumer.start()
        try:
            with open_source(
                self.settings.source,
                self.settings.source_fps,
                realtime=self.settings.realtime,
                drop_late=self.settings.drop_late_frames,
            ) as source:
                for frame in source:
                    if self.origin is None:
                        self.origin = frame.captured_at - timedelta(seconds=frame.timestamp_s)
                    # media time anchored to the wall clock: replays stay consistent with handoff times
                    self.process_frame(frame.image, self.origin + timedelta(seconds=frame.timestamp_s))
                    self.summary.dropped_frames = source.dropped_frames
                    if self._stop.is_set() or (max_frames is not None and self.summary.frames >= max_frames):
                        break
        finally:
            self.summary.seconds = time.monotonic() - started
            self.close()
        return self.summary

    def request_stop(self) -> None:
        """Stop after the frame in progress (signal handlers call this)."""
        self._stop.set()

    def close(self) -> None:
        """Stop the consumer, uploader and stream."""
        if self.consumer is not None:
            self.consumer.stop()
        if self._uploader is not None:
            self._uploader.stop()
        if self.stream is not None:
            self.stream.close()
