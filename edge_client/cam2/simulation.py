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
from typing import Literal

import numpy as np
import supervision as sv

from contracts.appearance import decode_appearance, encode_appearance
from contracts.handoff import Handoff
from edge_client.cam2.detection import select
from edge_client.cam2.evaluation import MotSequence, gt_identity_of
from edge_client.cam2.handoff import ClockOffsetEstimator, build_assigner
from edge_client.cam2.pipeline import FrameStage, RoomPipeline
from edge_client.cam2.settings import Cam2Settings
from edge_client.cam2.tracking import BodyEmbedder, build_tracker
from edge_client.cam2.tracks import DoorZone, TrackRegistry
from vision.appearance import clothing_below_face, clothing_descriptor

SIMULATION_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SIM_ROOM_ID = "SIM-ROOM"
# A detection this close to a hidden ground-truth box is removed by a simulated occlusion.
OCCLUDED_IOU = 0.3


DoorView = Literal["below_face", "person_box"]
"""How a simulated door camera takes a person's clothing colour: ``below_face`` as cam1 does
(under the face box a face detector would give), ``person_box`` from the whole person box (what
cam2 does; an upper bound on what the door camera could send)."""


def face_box_of(person_xyxy: Sequence[float] | np.ndarray) -> tuple[float, float, float, float]:
    """The face box a face detector would give on a standing person's box.

    The shared sequences' faces are too small for a face detector (10-30 px), so the face is
    placed by the head's usual proportions: an eighth of the person's height, centred, 0.8 as
    wide as tall, just under the top of the box.
    """
    x1, y1, x2, y2 = (float(v) for v in person_xyxy)
    height = y2 - y1
    face_height = height / 8
    centre_x, top = (x1 + x2) / 2, y1 + 0.04 * height
    half_width = 0.4 * face_height
    return (centre_x - half_width, top, centre_x + half_width, top + face_height)


def door_camera_colour(
    image: np.ndarray, person_xyxy: Sequence[float] | np.ndarray, view: DoorView = "below_face"
) -> list[float] | None:
    """The clothing colour a door camera would send for this person, through the wire format."""
    if view == "below_face":
        descriptor = clothing_below_face(image, face_box_of(person_xyxy))
    else:
        descriptor = clothing_descriptor(image, np.asarray(person_xyxy, dtype=float))
    if descriptor is None:
        return None
    return list(decode_appearance(encode_appearance([float(v) for v in descriptor])))


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


@dataclass(frozen=True)
class IdentityKeeping:
    """How well USNs stayed on their people after the handoffs were applied.

    Attributes:
        expected_frames: ground-truth frames of handed-off people from the frame their handoff
            was applied onward, except the frames a simulated occlusion hid them in.
        covered_frames: of those, frames in which the box carrying their USN is on them.
        wrong_frames: frames in which a box carries a USN but is on someone else (or no one).
    """

    expected_frames: int
    covered_frames: int
    wrong_frames: int

    @property
    def coverage(self) -> float:
        """Share of expected frames in which the right person carried their USN."""
        return self.covered_frames / max(1, self.expected_frames)


@dataclass(frozen=True)
class SimulationResult:
    """Every simulated handoff and how well identities were kept afterwards."""

    trials: list[HandoffTrial]
    keeping: IdentityKeeping


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
    return simulate(
        sequence, detections, settings, jitter_s=jitter_s, seed=seed, delivery_latency_s=delivery_latency_s
    ).trials


def simulate(
    sequence: MotSequence,
    detections: Sequence[sv.Detections],
    settings: Cam2Settings,
    *,
    jitter_s: float,
    seed: int,
    delivery_latency_s: float = 0.3,
    stages: list[FrameStage] | None = None,
    occlusion_s: float = 0.0,
    occlusion_after_s: float = 3.0,
    embedder: BodyEmbedder | None = None,
    images: Sequence[np.ndarray] | None = None,
    clock_offset_s: float = 0.0,
    clock: ClockOffsetEstimator | None = None,
    door_colour: bool = False,
    door_view: DoorView = "below_face",
) -> SimulationResult:
    """Like :func:`simulate_handoffs`, optionally with more stages (re-id), scoring identity keeping too.

    With ``stages`` the real frames are read (re-id needs pixels); without, a blank frame stands in.

    Args:
        occlusion_s: hide each entering person from the detector for this long, starting
            ``occlusion_after_s`` after their entry, as if someone stood in front of them. Longer
            than the tracker's lost-track buffer, it breaks their track: the new track keeps
            the USN only through re-id.
        occlusion_after_s: when the occlusion starts, counted from the entry.
        embedder: body re-id model for the tracker's appearance re-links (needs pixels).
        images: the decoded frames (index 0 = frame 1), read from disk when needed and absent.
        clock_offset_s: the door camera's clock runs this far behind the room's: every
            handoff's ``captured_at`` is that much earlier than the true capture.
        clock: the clock-offset estimator to use (shared across runs: a day of entries);
            a fresh one from the settings when ``None``.
        door_colour: each handoff carries the person's clothing colour as a door camera would
            send it, taken from their ground-truth box two seconds after entering (another
            place and pose than the room track's first sighting).
        door_view: how the door camera takes that colour (see ``DoorView``).
    """
    door = DoorZone(settings.door_zone)
    rng = random.Random(seed)
    messages: list[tuple[datetime, Handoff]] = []
    entries = door_entries(sequence, door)
    if door_colour and images is None:
        images = [image for _, image in sequence.frames(len(detections))]
    for entry in entries:
        colour = None
        if door_colour and images is not None:
            boxes = [b for b in sequence.identity_frames()[entry.identity] if b.frame <= len(images)]
            later = [b for b in boxes if b.frame >= entry.frame + round(2.0 * sequence.fps)] or boxes[-1:]
            colour = door_camera_colour(images[later[0].frame - 1], later[0].xyxy, door_view)
        captured_at = (
            frame_time(sequence, entry.frame)
            - timedelta(seconds=settings.walk_delay_s)
            + timedelta(seconds=rng.uniform(-jitter_s, jitter_s))
        )
        message = Handoff(
            usn=f"GT{entry.identity}",
            capture_id=f"sim-{entry.identity}",
            captured_at=captured_at - timedelta(seconds=clock_offset_s),
            similarity=0.8,
            room_id=SIM_ROOM_ID,
            camera_id="cam1",
            source="face",
            appearance=colour,
        )
        messages.append((captured_at + timedelta(seconds=delivery_latency_s), message))
    messages.sort(key=lambda item: item[0])
    pipeline = RoomPipeline(
        detector=None,
        tracker=build_tracker(settings, frame_rate=sequence.fps, embedder=embedder),
        registry=TrackRegistry(
            door,
            forget_after_s=settings.track_forget_s,
            startup_frames=settings.track_min_consecutive_frames + 1,
        ),
        assigner=build_assigner(settings, clock),
        stages=stages,
    )
    tagged: dict[str, int | None] = {}
    applied_frame: dict[int, int] = {}
    track_identities: dict[int, Counter[int | None]] = defaultdict(Counter)
    covered = wrong = 0
    blank = np.zeros((sequence.height, sequence.width, 3), dtype=np.uint8)
    needs_pixels = bool(stages) or (embedder is not None and settings.track_relink_enabled)
    if images is None and needs_pixels:
        images = [image for _, image in sequence.frames(len(detections))]
    hidden = _occlusions(sequence, entries, occlusion_s, occlusion_after_s)
    # The room goes on after the clip ends: empty frames let handoffs of people who entered near
    # the end settle (a short clip must not decide a handoff by cutting it off).
    tail = round((settings.handoff_settle_s + settings.clock_max_offset_s + 1.0) * sequence.fps)
    padded = list(detections) + [sv.Detections.empty()] * tail
    for index, frame_detections in enumerate(padded):
        frame = index + 1
        at = frame_time(sequence, frame)
        if frame in hidden and len(frame_detections):
            iou = sv.box_iou_batch(frame_detections.xyxy, np.array(hidden[frame], dtype=float).reshape(-1, 4))
            frame_detections = select(frame_detections, iou.max(axis=1) < OCCLUDED_IOU)
        image = images[index] if images is not None and index < len(images) else blank
        while messages and messages[0][0] <= at:
            pipeline.submit_handoff(messages.pop(0)[1])
        result = pipeline.process(image, at, detections=frame_detections)
        for outcome in result.outcomes:
            tagged[outcome.message.usn] = outcome.tracker_id
            if outcome.tracker_id is not None:
                applied_frame[int(outcome.message.usn.removeprefix("GT"))] = frame
        tracked = result.detections
        if tracked.tracker_id is None:
            continue
        usns = tracked.data.get("usn", [""] * len(tracked))
        for tracker_id, xyxy, usn in zip(tracked.tracker_id, tracked.xyxy, usns, strict=True):
            identity = gt_identity_of(sequence, frame, xyxy)
            track_identities[int(tracker_id)][identity] += 1
            if usn:
                if identity is not None and usn == f"GT{identity}":
                    covered += 1
                else:
                    wrong += 1
    hidden_frames = {(frame, tuple(box)) for frame, boxes in hidden.items() for box in boxes}
    expected = sum(
        1
        for identity, first in applied_frame.items()
        for box in sequence.identity_frames()[identity]
        if first <= box.frame <= len(detections) and (box.frame, box.xyxy) not in hidden_frames
    )
    trials = []
    for entry in entries:
        tracker_id = tagged.get(f"GT{entry.identity}")
        overlap = 0.0
        if tracker_id is not None:
            counts = track_identities[tracker_id]
            overlap = counts[entry.identity] / max(1, sum(counts.values()))
        trials.append(HandoffTrial(entry.identity, entry.frame, tracker_id, overlap))
    return SimulationResult(trials, IdentityKeeping(expected, covered, wrong))


def _occlusions(
    sequence: MotSequence, entries: list[DoorEntry], occlusion_s: float, after_s: float
) -> dict[int, list[tuple[float, float, float, float]]]:
    """Ground-truth boxes to hide from the detector, per frame number."""
    hidden: dict[int, list[tuple[float, float, float, float]]] = defaultdict(list)
    if occlusion_s <= 0:
        return hidden
    start_offset, length = round(after_s * sequence.fps), round(occlusion_s * sequence.fps)
    tracks = sequence.identity_frames()
    for entry in entries:
        start = entry.frame + start_offset
        for box in tracks[entry.identity]:
            if start <= box.frame < start + length:
                hidden[box.frame].append(box.xyxy)
    return hidden


@dataclass(frozen=True)
class CrowdedEntryResult:
    """How many handoffs of people entering in quick succession tagged the right person."""

    right: int
    total: int

    @property
    def accuracy(self) -> float:
        """Share of handoffs on the right person."""
        return self.right / max(1, self.total)


def simulate_crowded_entries(
    sequence: MotSequence,
    images: Sequence[np.ndarray],
    settings: Cam2Settings,
    *,
    people: int,
    gap_s: tuple[float, float],
    jitter_s: float,
    seed: int,
    appearance_weight_s: float,
    view_gap_s: float = 2.0,
    door_view: DoorView = "below_face",
) -> CrowdedEntryResult:
    """Several people enter through the door a fraction of a second apart; the assigner decides.

    Each person is a real ground-truth person of ``sequence``: the door camera's clothing
    colour comes from their box at one moment and the room track's from their box at least
    ``view_gap_s`` later (another place in the view, another pose), so the colours differ as
    they would between two cameras. Entries are ``gap_s`` (uniform) apart; each handoff's time
    is off by up to ``jitter_s``. The tracks themselves are given (one per person, born in the
    door zone): this measures the assignment alone. ``door_view``: how the door camera takes
    its colour (cam1's way, below the face, by default).
    """
    rng = random.Random(seed)
    door = settings.door_zone
    if len(door) < 3:
        raise ValueError("crowded entries need a door zone")
    tracks = sequence.identity_frames()
    frames_apart = max(1, round(view_gap_s * sequence.fps))
    usable = [
        boxes for boxes in tracks.values() if len(boxes) > frames_apart and boxes[-1].frame <= len(images)
    ]
    chosen = rng.sample(usable, min(people, len(usable)))
    xs, ys = [p[0] for p in door], [p[1] for p in door]
    door_box = (float(min(xs)), float(min(ys)), float(max(xs)), float(max(ys)))
    registry = TrackRegistry(DoorZone(door), startup_frames=0)
    assigner = build_assigner(
        settings.model_copy(update={"handoff_appearance_weight_s": appearance_weight_s})
    )
    assigner.clock = None
    start = SIMULATION_START + timedelta(seconds=10)
    entry_at = start
    expected: dict[str, int] = {}
    entries: list[tuple[datetime, int, np.ndarray | None]] = []
    for tracker_id, boxes in enumerate(chosen, start=1):
        first = rng.randrange(0, len(boxes) - frames_apart)
        seen_at_door = boxes[first]
        seen_in_room = boxes[rng.randrange(first + frames_apart, len(boxes))]
        door_colour = door_camera_colour(images[seen_at_door.frame - 1], seen_at_door.xyxy, door_view)
        room_colour = clothing_descriptor(images[seen_in_room.frame - 1], seen_in_room.xyxy)
        usn = f"GT{seen_at_door.identity}"
        captured_at = entry_at - timedelta(seconds=settings.walk_delay_s - rng.uniform(-jitter_s, jitter_s))
        assigner.submit(
            Handoff(
                usn=usn,
                capture_id=f"crowd-{tracker_id}",
                captured_at=captured_at,
                similarity=0.8,
                room_id=SIM_ROOM_ID,
                source="face",
                appearance=door_colour,
            )
        )
        expected[usn] = tracker_id
        entries.append((entry_at, tracker_id, room_colour))
        entry_at += timedelta(seconds=rng.uniform(*gap_s))
    decided: dict[str, int | None] = {}
    now = start - timedelta(seconds=1)
    end = entry_at + timedelta(seconds=settings.handoff_wait_s + settings.walk_delay_s)
    step = timedelta(seconds=1.0 / sequence.fps)
    while now <= end and len(decided) < len(expected):
        visible = [(tid, colour) for at, tid, colour in entries if at <= now]
        if visible:
            detections = sv.Detections(
                xyxy=np.array([door_box] * len(visible), dtype=float),
                tracker_id=np.array([tid for tid, _ in visible], dtype=int),
            )
            registry.update_with_detections(detections, now)
            for tid, colour in visible:
                if registry.records[tid].appearance is None:
                    registry.records[tid].appearance = colour
        for outcome in assigner.update(registry, now):
            decided[outcome.message.usn] = outcome.tracker_id
        now += step
    right = sum(1 for usn, tracker_id in expected.items() if decided.get(usn) == tracker_id)
    return CrowdedEntryResult(right, len(expected))
