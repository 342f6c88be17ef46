"""The per-frame flow of the room camera: detect → track → remember → identify → report.

One ``sv.Detections`` flows through every stage. Handoffs arrive from another thread through
:meth:`RoomPipeline.submit_handoff` and are decided inside :meth:`RoomPipeline.process`, so all
track state is touched by the frame loop alone.
"""

from __future__ import annotations

import logging
import queue
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import numpy as np
import supervision as sv

from contracts.handoff import Handoff
from edge_client.cam2.detection import PersonDetector
from edge_client.cam2.handoff import HandoffAssigner, HandoffOutcome
from edge_client.cam2.tracking import PersonTracker
from edge_client.cam2.tracks import TrackRegistry
from vision.appearance import clothing_descriptor

logger = logging.getLogger(__name__)


class FrameStage(Protocol):
    """A stage that looks at the tracked, identified detections of a frame (re-id, presence, crops)."""

    def update_with_detections(
        self, detections: sv.Detections, frame: np.ndarray, at: datetime, registry: TrackRegistry
    ) -> sv.Detections:
        """Act on this frame; return the detections (possibly with more ``data``)."""
        ...

    def reset(self) -> None:
        """Forget per-source state (new source)."""
        ...


@dataclass
class FrameResult:
    """What one frame produced: the tracked detections (``data["usn"]``) and decided handoffs."""

    detections: sv.Detections
    outcomes: list[HandoffOutcome] = field(default_factory=list)
    elapsed_s: float = 0.0  # time this frame took in the pipeline (detector included)
    detected: bool = True  # False: the detector skipped this frame and the boxes are predicted


class RoomPipeline:
    """Detector, tracker, track registry, handoff assigner and any further stages, in order.

    Args:
        detector: finds people; ``None`` when detections are supplied (replays, benchmarks).
        tracker: gives persistent ids.
        registry: remembers tracks, door entries and identities.
        assigner: pairs handoffs with door entries.
        stages: run after identities are decided (re-id carry-over, presence, body crops).
        inbox_max: handoffs waiting for the frame loop at most. A stalled loop must not grow
            memory without limit: beyond it a handoff is refused and stays on the room's queue
            (not deleted), so it comes back after the queue's visibility timeout.
        detect_every_n: run the detector on one frame in this many; on the others the tracker
            predicts each track's box (Kalman) and every later stage runs as usual. 2 roughly
            halves the detector's share of the CPU; people who move fast between detections
            are matched from further away, which costs some identity accuracy (bench/edge_pc.py).
    """

    def __init__(
        self,
        detector: PersonDetector | None,
        tracker: PersonTracker,
        registry: TrackRegistry,
        assigner: HandoffAssigner,
        stages: list[FrameStage] | None = None,
        inbox_max: int = 1000,
        detect_every_n: int = 1,
    ) -> None:
        if detect_every_n < 1:
            raise ValueError("detect_every_n must be at least 1")
        self.detector = detector
        self.detect_every_n = detect_every_n
        self._frames_since_detection: int | None = None  # None: the next frame is detected
        self.tracker = tracker
        self.registry = registry
        self.assigner = assigner
        self.stages = stages or []
        self._inbox: queue.Queue[tuple[Handoff, object]] = queue.Queue(maxsize=inbox_max)
        self.refused_handoffs = 0

    def submit_handoff(self, message: Handoff, ack: object = None) -> bool:
        """Hand a parsed, room-checked handoff to the frame loop (thread-safe); False when refused.

        A refused handoff was not accepted: its message is left on the queue for redelivery.
        """
        try:
            self._inbox.put_nowait((message, ack))
        except queue.Full:
            self.refused_handoffs += 1
            logger.warning(
                "frame loop has %d handoffs waiting; %s left on the queue for later",
                self._inbox.maxsize,
                message.capture_id,
            )
            return False
        return True

    def process(
        self, frame: np.ndarray, at: datetime, detections: sv.Detections | None = None
    ) -> FrameResult:
        """Run every stage on one frame taken at ``at`` (UTC).

        Args:
            frame: BGR image (used for crops and embeddings; the detector when ``detections`` is None).
            at: capture time of the frame; strictly increasing.
            detections: precomputed detections of ``frame``, used instead of the detector
                (ignored on a frame ``detect_every_n`` skips).
        """
        started = time.perf_counter()
        detect = self._detection_due()
        if detect:
            if detections is None:
                if self.detector is None:
                    raise ValueError("a pipeline without a detector needs precomputed detections")
                detections = self.detector.detect(frame)
            tracked = self.tracker.update_with_detections(detections, timestamp_s=at.timestamp(), frame=frame)
        else:
            tracked = self.tracker.predict(at.timestamp())
        tracked = self.registry.update_with_detections(tracked, at)
        self._describe_entries(tracked, frame)
        outcomes = self._drain_inbox()
        outcomes += self.assigner.update(self.registry, at)
        for stage in self.stages:
            tracked = stage.update_with_detections(tracked, frame, at, self.registry)
        return FrameResult(self.registry.label(tracked), outcomes, time.perf_counter() - started, detect)

    def _detection_due(self) -> bool:
        """Whether this frame goes through the detector (the first after a reset always does)."""
        if self._frames_since_detection is None or self._frames_since_detection + 1 >= self.detect_every_n:
            self._frames_since_detection = 0
            return True
        self._frames_since_detection += 1
        return False

    def _describe_entries(self, tracked: sv.Detections, frame: np.ndarray) -> None:
        """Record the clothing colour of each door-entry track once, for crowded-entry handoffs."""
        if self.assigner.appearance_weight_s <= 0 or tracked.tracker_id is None:
            return
        for tracker_id, xyxy in zip(tracked.tracker_id, tracked.xyxy, strict=True):
            record = self.registry.records.get(int(tracker_id))
            if record is not None and record.entered_through_door and record.appearance is None:
                record.appearance = clothing_descriptor(frame, xyxy)

    def _drain_inbox(self) -> list[HandoffOutcome]:
        outcomes: list[HandoffOutcome] = []
        while True:
            try:
                message, ack = self._inbox.get_nowait()
            except queue.Empty:
                return outcomes
            outcome = self.assigner.submit(message, ack)
            if outcome is not None:
                outcomes.append(outcome)

    @property
    def pending_handoffs(self) -> int:
        """Handoffs waiting for their person."""
        return len(self.assigner.pending)

    def reset(self) -> None:
        """Forget all tracks and handoffs (new source)."""
        self._frames_since_detection = None
        self.tracker.reset()
        self.registry.reset()
        self.assigner.reset()
        for stage in self.stages:
            stage.reset()
