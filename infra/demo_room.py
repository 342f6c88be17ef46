"""The two-camera scenario of the demo: who walks in through R101's door, and when.

There is no classroom footage with faces here, so the scenario joins two real sources, with the
pairing known from ground truth: the room camera (cam2) replays a MOTChallenge sequence whose
marked door zone some people walk in through, and each of those entries is given a student. The
doorway camera (cam1) shows that student's held-out photo at the door so that the face is stable
one walk delay before the person appears in the room. One entry is given a visitor, who is shown
at the door but is not enrolled; students beyond the entries come to the door and never walk in.

Both cameras run at once through the real stack: cam1 uploads, face_match recognises and
publishes handoffs to R101's queue, cam2 long-polls that queue and tags the entering tracks, its
presence reports reach the presence function, which confirms the attendance.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from edge_client.cam1.replay import DoorVisit, door_visit_starts, write_timed_doorway_replay
from edge_client.cam2.app import Cam2Runner
from edge_client.cam2.evaluation import MotSequence, gt_identity_of, load_mot_sequence
from edge_client.cam2.pipeline import FrameResult
from edge_client.cam2.settings import Cam2Settings
from edge_client.cam2.simulation import door_entries
from edge_client.cam2.tracks import DoorZone
from infra.seed import Person

# The room sequence and its door: PETS09-S2L1 (768x576, 7 fps, 150 frames); people who first
# appear at the right edge between these points walk in through the "door".
ROOM_SEQUENCE = "PETS09-S2L1"
ROOM_DOOR: list[tuple[int, int]] = [(680, 260), (768, 260), (768, 440), (680, 440)]
DOOR_HOLD_S = 2.6  # the gate needs 2 s of a still face
DOOR_GAP_S = 1.2  # longer than the gate forgets a face: the next person is someone new
MAX_DOOR_WAIT_S = 1.0  # a student who waits longer at the door than this would enter later
DOOR_FPS = 10.0


@dataclass(frozen=True)
class Walker:
    """One person of the scenario at the door and, if they enter, in the room."""

    name: str
    usn: str | None  # None: the visitor or a tailgater
    photo: Path | None  # None: never shows a face at the door (a tailgater)
    door_at_s: float | None  # when they step up to the door camera (cam1 clock, from cam1's start)
    gt_identity: int | None = None  # the ground-truth person they walk in as; None: never enters
    entry_s: float | None = None  # when they appear in the room view (cam2 clock)


@dataclass
class RoomScenario:
    """Pairing and timing of door visits and room entries."""

    sequence: MotSequence
    door: list[tuple[int, int]]
    walkers: list[Walker]
    lead_s: float  # cam1 starts this long before cam2
    walk_delay_s: float
    stable_s: float

    def describe(self) -> list[str]:
        lines = []
        for w in sorted(
            self.walkers, key=lambda w: w.door_at_s if w.door_at_s is not None else w.entry_s or 0
        ):
            if w.usn:
                who = f"{w.usn} {w.name}"
            elif w.photo is None:
                who = "someone who slips in behind"
            else:
                who = f"visitor ({w.name}, not enrolled)"
            door = "not seen at the door  " if w.door_at_s is None else f"door at cam1 +{w.door_at_s:5.1f} s"
            if w.gt_identity is None:
                lines.append(f"  {who:<36} {door}  → never walks in")
            else:
                lines.append(
                    f"  {who:<36} {door}  → walks in as ground-truth person {w.gt_identity} "
                    f"at cam2 +{w.entry_s:4.1f} s"
                )
        return lines


def build_scenario(
    people: Sequence[Person],
    visitor_photo: Path,
    sequence_dir: Path,
    *,
    walk_delay_s: float = 3.0,
    stable_s: float = 2.0,
    seed: int | None = None,
    jitter_s: float = 0.5,
) -> RoomScenario:
    """Pair students with the sequence's door entries and time their door visits.

    A student's face is stable at the door (``stable_s`` after stepping up; the capture is some
    frame of that window) about ``walk_delay_s`` before they appear in the room. The door is
    single file, so an entry too soon after the previous one cannot have shown a face at the
    door: that person slipped in behind (a tailgater, who should stay unknown). The visitor takes
    the last entry. Students left over come to the door first, early enough that their handoffs
    cannot pair with anyone, and never walk in. With ``seed``, each student who walks in steps
    up to the door up to ``jitter_s`` earlier or later (people do not walk at one speed).
    """
    rng = random.Random(seed)
    sequence = load_mot_sequence(sequence_dir)
    entries = door_entries(sequence, DoorZone(ROOM_DOOR))
    if len(entries) < 2:
        raise ValueError(f"{sequence_dir} has fewer than two door entries")
    per_visit = DOOR_HOLD_S + DOOR_GAP_S
    offset = stable_s / 2
    times = [(e.frame - 1) / sequence.fps for e in entries]
    # Door times relative to cam2's start; which entries the single-file door can serve.
    servable, free_from = [], -math.inf
    for at in times[:-1]:
        door_at = at - walk_delay_s - offset
        if door_at >= free_from - MAX_DOOR_WAIT_S:
            servable.append(True)
            free_from = max(door_at, free_from) + per_visit
        else:
            servable.append(False)
    servable.append(False)  # the visitor's
    student_entries = [e for e, ok in zip(entries, servable, strict=True) if ok][: len(people)]
    entering, staying_out = list(people[: len(student_entries)]), list(people[len(student_entries) :])
    first_door = times[0] - walk_delay_s - offset
    # An arrival expected more than the pairing window before the first entry pairs with nobody.
    lead_s = max(0.5 - first_door, len(staying_out) * per_visit + walk_delay_s + 6.0 - times[0])
    walkers = [Walker(p.name, p.usn, p.photos[-1], i * per_visit) for i, p in enumerate(staying_out)]
    for person, entry in zip(entering, student_entries, strict=True):
        entry_s = (entry.frame - 1) / sequence.fps
        door_at = lead_s + entry_s - walk_delay_s - offset
        if seed is not None:
            door_at += rng.uniform(-jitter_s, jitter_s)
        walkers.append(Walker(person.name, person.usn, person.photos[-1], door_at, entry.identity, entry_s))
    visitor, visitor_s = entries[-1], times[-1]
    name = visitor_photo.stem.rsplit("_", 1)[0].replace("_", " ")
    door_at = lead_s + visitor_s - walk_delay_s - offset
    walkers.append(Walker(name, None, visitor_photo, door_at, visitor.identity, visitor_s))
    taken = {w.gt_identity for w in walkers}
    tailgaters = [
        Walker("tailgater", None, None, None, e.identity, t)
        for e, t in zip(entries, times, strict=True)
        if e.identity not in taken
    ]
    # The door is single file: someone arriving while another stands there waits their turn.
    at_door = sorted(walkers, key=lambda w: w.door_at_s or 0.0)
    starts = door_visit_starts(
        [DoorVisit(w.photo, w.door_at_s) for w in at_door if w.photo and w.door_at_s is not None],
        fps=DOOR_FPS,
        hold_s=DOOR_HOLD_S,
        gap_s=DOOR_GAP_S,
    )
    walkers = [replace(w, door_at_s=at_s) for w, at_s in zip(at_door, starts, strict=True)] + tailgaters
    return RoomScenario(sequence, ROOM_DOOR, walkers, lead_s, walk_delay_s, stable_s)


def write_door_replay(scenario: RoomScenario, folder: Path) -> int:
    """The doorway replay of the scenario (frames at ``DOOR_FPS``); returns its frame count."""
    visits = [
        DoorVisit(w.photo, w.door_at_s) for w in scenario.walkers if w.photo and w.door_at_s is not None
    ]
    return write_timed_doorway_replay(folder, visits, fps=DOOR_FPS, hold_s=DOOR_HOLD_S, gap_s=DOOR_GAP_S)


@dataclass
class TagEvent:
    """A handoff decided by cam2, with the wall time it was applied."""

    usn: str
    capture_id: str
    captured_at: datetime
    tracker_id: int | None
    applied_at: datetime  # wall clock
    expired: bool
    frame_at: datetime | None = None  # time of the room frame it was decided on


@dataclass
class RoomObservation:
    """What cam2 did during the run, scored against the ground truth."""

    frames: int = 0
    seconds: float = 0.0
    tags: list[TagEvent] = field(default_factory=list)
    # tracker id → ground-truth identity → frames; tracker id → usn per frame
    track_gt: dict[int, dict[int, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    usn_frames: dict[str, dict[int | None, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    tagged_tracks: dict[int, str] = field(default_factory=dict)
    frame_seconds: list[float] = field(default_factory=list)  # pipeline time of each frame
    first_frame_at: datetime | None = None
    tracks: set[int] = field(default_factory=set)

    @property
    def realtime_fps(self) -> float:
        """Frames processed per second of the run (at most the source's rate)."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def capacity_fps(self) -> float:
        """Frames per second the pipeline could process (detector, tracker, re-id, reports)."""
        total = sum(self.frame_seconds)
        return len(self.frame_seconds) / total if total > 0 else 0.0

    def gt_of_track(self, tracker_id: int) -> int | None:
        """The ground-truth person a track covered in most of its frames (None: nobody)."""
        counts = self.track_gt.get(tracker_id)
        if not counts:
            return None
        identity, frames = max(counts.items(), key=lambda item: item[1])
        return identity if frames > 0.5 * sum(counts.values()) else None


class RoomObserver:
    """Records every cam2 frame's tracks and decided handoffs, for scoring the demo.

    Passed to :class:`Cam2Runner` as ``on_frame``; frame numbers come from frame times, so the
    ground truth lines up even if the real-time loop ever fell behind.
    """

    def __init__(self, sequence: MotSequence) -> None:
        self.sequence = sequence
        self.observed = RoomObservation()
        self._first_at: datetime | None = None

    def __call__(self, result: FrameResult, at: datetime) -> None:
        if self._first_at is None:
            self._first_at = at
            self.observed.first_frame_at = at
        frame = round((at - self._first_at).total_seconds() * self.sequence.fps) + 1
        self.observed.frame_seconds.append(result.elapsed_s)
        detections = result.detections
        usns = detections.data.get("usn", [None] * len(detections))
        ids = [] if detections.tracker_id is None else [int(t) for t in detections.tracker_id]
        for xyxy, tracker_id, usn in zip(detections.xyxy, ids, usns, strict=False):
            track = int(tracker_id)
            self.observed.tracks.add(track)
            identity = gt_identity_of(self.sequence, frame, np.asarray(xyxy))
            if identity is not None:
                self.observed.track_gt[track][identity] += 1
            if usn:
                self.observed.usn_frames[str(usn)][identity] += 1
                self.observed.tagged_tracks[track] = str(usn)
        now = datetime.now(UTC)
        for outcome in result.outcomes:
            self.observed.tags.append(
                TagEvent(
                    outcome.message.usn,
                    outcome.message.capture_id,
                    outcome.message.captured_at,
                    outcome.tracker_id,
                    now,
                    outcome.expired,
                    at,
                )
            )


def room_settings(
    scenario: RoomScenario,
    *,
    bucket_name: str,
    endpoint_url: str,
    region: str,
    queue_url: str,
    outbox_path: Path,
    presence_interval_s: float,
    stream_port: int | None = None,
) -> Cam2Settings:
    """cam2 of R101 on the scenario's sequence, real time, against the local stack."""
    return Cam2Settings(
        source=str(scenario.sequence.source_path),
        source_fps=scenario.sequence.fps,
        realtime=True,
        room_id="R101",
        camera_id="R101-room",
        door_zone=scenario.door,
        walk_delay_s=scenario.walk_delay_s,
        bucket_name=bucket_name,
        aws_endpoint_url=endpoint_url,
        aws_region=region,
        handoff_queue_url=queue_url,
        sqs_wait_time_s=1,
        outbox_path=outbox_path,
        presence_interval_s=presence_interval_s,
        unknown_body_after_s=4.0,
        body_crop_interval_s=30.0,
        stream_enabled=stream_port is not None,
        stream_port=stream_port or 8554,
    )


@dataclass
class TwoCameraRun:
    """The results of running both cameras at once."""

    observation: RoomObservation
    cam1_summary: object
    cam2_summary: object


def run_both_cameras(
    scenario: RoomScenario,
    cam1_runner: object,
    cam2_runner: Cam2Runner,
    observer: RoomObserver,
    *,
    drain_s: float = 30.0,
) -> TwoCameraRun:
    """Start cam1, then cam2 ``lead_s`` later; wait for both and for cam2's uploads to drain."""
    from edge_client.cam1.app import Cam1Runner

    assert isinstance(cam1_runner, Cam1Runner)
    cam1_result: list[object] = []
    failures: list[BaseException] = []

    def door() -> None:
        try:
            cam1_result.append(cam1_runner.run())
        except BaseException as error:  # reported by the caller
            failures.append(error)

    thread = threading.Thread(target=door, name="cam1", daemon=True)
    thread.start()
    time.sleep(scenario.lead_s)
    started = time.monotonic()
    summary = cam2_runner.run()
    observer.observed.frames = summary.frames
    observer.observed.seconds = time.monotonic() - started
    thread.join(timeout=120)
    if failures:
        raise failures[0]
    return TwoCameraRun(observer.observed, cam1_result[0] if cam1_result else None, summary)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile of ``values`` (None when empty)."""
    return round(float(np.percentile(np.asarray(values, dtype=float), q)), 1) if values else None


def entry_to_tag_ms(scenario: RoomScenario, observed: RoomObservation) -> list[float]:
    """Milliseconds (room camera time) from each tagged student's appearance in the room to their tag."""
    if observed.first_frame_at is None:
        return []
    entries = {w.usn: w.entry_s for w in scenario.walkers if w.usn and w.entry_s is not None}
    return [
        (t.frame_at - observed.first_frame_at).total_seconds() * 1000.0 - entries[t.usn] * 1000.0
        for t in observed.tags
        if t.tracker_id is not None and not t.expired and t.usn in entries and t.frame_at is not None
    ]


def door_to_tag_ms(tags: Sequence[TagEvent]) -> list[float]:
    """Milliseconds from each applied handoff's door capture to its tag in the room."""
    return [
        (t.applied_at - t.captured_at).total_seconds() * 1000.0
        for t in tags
        if t.tracker_id is not None and not t.expired
    ]
