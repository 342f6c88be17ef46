"""Simulated door handoffs on real footage, scored against the ground truth.

For each ground-truth person who enters the view through the marked door zone, a door-camera
handoff is forged: ``captured_at = entry time - walk delay + jitter``. The real tracker and the
real handoff assigner then run on the sequence; a handoff counts as right when the track it
tagged covers that ground-truth person in most of the track's frames.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import supervision as sv

from edge_client.cam2.evaluation import MotSequence, gt_identity_of
from edge_client.cam2.handoff import HandoffAssigner, HandoffMessage
from edge_client.cam2.pipeline import RoomPipeline
from edge_client.cam2.settings import Cam2Settings
from edge_client.cam2.tracking import ByteTrackPersonTracker
from edge_client.cam2.tracks import DoorZone, TrackRegistry

SIMULATION_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SIM_ROOM_ID = "SIM-ROOM"


@dataclass(frozen=True)
class DoorEntry:
    """A ground-truth person whose feet first appear inside the door zone."""

    identity: int
    frame: int


@dataclass(frozen=True)
class HandoffTrial:
    """One simulated handoff and how it was resolved."""

    identity: int
    entry_frame: int
    tracker_id: int | None
    overlap: float  # share of the tagged track's frames that cover ``identity``

    @property
    def correct(self) -> bool:
        """The tagged track is mostly this person."""
        return self.tracker_id is not None and self.overlap > 0.5


def door_entries(sequence: MotSequence, door: DoorZone) -> list[DoorEntry]:
    """Ground-truth identities that appear after the first frame with their feet in the door zone."""
    entries = []
    for identity, boxes in sequence.identity_frames().items():
        first = boxes[0]
        if first.frame == 1:
            continue  # already in the room when the clip starts
        inside = door.contains(sv.Detections(xyxy=np.array([first.xyxy], dtype=float)))
        if inside[0]:
            entries.append(DoorEntry(identity, first.frame))
    return sorted(entries, key=lambda e: e.frame)


def frame_time(sequence: MotSequence, frame: int) -> datetime:
    """Wall-clock time of a frame number (1-based) in the simulation."""
    return SIMULATION_START + timedelta(seconds=(frame - 1) / sequence.fps)


def simulate_handoffs(
    sequence: MotSequence,
    detections: Sequence[sv.Detections],
    settings: Cam2Settings,
    *,
    jitter_s: float,
    seed: int,
    delivery_latency_s: float = 0.3,
) -> list[HandoffTrial]:
    """Run tracker + assigner over cached detections with one forged handoff per door entry.

    Args:
        sequence: the ground truth and frame rate.
        detections: this sequence's detections, index 0 = frame 1.
        settings: door zone, walk delay, handoff windows and tracker knobs.
        jitter_s: each handoff's capture time is off by a uniform error in ``[-jitter_s, jitter_s]``.
        seed: seed of the jitter.
        delivery_latency_s: time from capture to the message reaching cam2.
    """
    door = DoorZone(settings.door_zone)
    rng = random.Random(seed)
    messages: list[tuple[datetime, HandoffMessage]] = []
    for entry in door_entries(sequence, door):
        captured_at = (
            frame_time(sequence, entry.frame)
            - timedelta(seconds=settings.walk_delay_s)
            + timedelta(seconds=rng.uniform(-jitter_s, jitter_s))
        )
        message = HandoffMessage(
            usn=f"GT{entry.identity}",
            capture_id=f"sim-{entry.identity}",
            captured_at=captured_at,
            similarity=0.8,
            room_id=SIM_ROOM_ID,
            camera_id="cam1",
            source="face",
        )
        messages.append((captured_at + timedelta(seconds=delivery_latency_s), message))
    messages.sort(key=lambda item: item[0])
    pipeline = RoomPipeline(
        detector=None,
        tracker=ByteTrackPersonTracker(
            activation_threshold=settings.track_activation_threshold,
            high_confidence=settings.track_high_confidence,
            lost_buffer_s=settings.track_lost_buffer_s,
            min_iou=settings.track_min_iou,
            min_consecutive_frames=settings.track_min_consecutive_frames,
            frame_rate=sequence.fps,
        ),
        registry=TrackRegistry(
            door,
            forget_after_s=settings.track_forget_s,
            startup_frames=settings.track_min_consecutive_frames + 1,
        ),
        assigner=HandoffAssigner(
            walk_delay_s=settings.walk_delay_s,
            max_time_diff_s=settings.handoff_max_time_diff_s,
            settle_s=settings.handoff_settle_s,
            wait_s=settings.handoff_wait_s,
        ),
    )
    tagged: dict[str, int | None] = {}
    track_identities: dict[int, Counter[int | None]] = defaultdict(Counter)
    blank = np.zeros((sequence.height, sequence.width, 3), dtype=np.uint8)
    for index, frame_detections in enumerate(detections):
        frame = index + 1
        at = frame_time(sequence, frame)
        while messages and messages[0][0] <= at:
            pipeline.submit_handoff(messages.pop(0)[1])
        result = pipeline.process(blank, at, detections=frame_detections)
        for outcome in result.outcomes:
            tagged[outcome.message.usn] = outcome.tracker_id
        if result.detections.tracker_id is not None:
            for tracker_id, xyxy in zip(result.detections.tracker_id, result.detections.xyxy, strict=True):
                track_identities[int(tracker_id)][gt_identity_of(sequence, frame, xyxy)] += 1
    trials = []
    for entry in door_entries(sequence, door):
        tracker_id = tagged.get(f"GT{entry.identity}")
        overlap = 0.0
        if tracker_id is not None:
            counts = track_identities[tracker_id]
            overlap = counts[entry.identity] / max(1, sum(counts.values()))
        trials.append(HandoffTrial(entry.identity, entry.frame, tracker_id, overlap))
    return trials
