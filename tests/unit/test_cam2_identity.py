"""Track identity at the door and across breaks (IdentityGuard), and the door/room clock offset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import supervision as sv

from contracts.handoff import Handoff
from edge_client.cam2.handoff import ClockOffsetEstimator, HandoffAssigner
from edge_client.cam2.tracking import IdentityGuard
from edge_client.cam2.tracks import DoorZone, TrackRegistry

DOOR = [(0, 0), (100, 0), (100, 200), (0, 200)]
IN_DOOR = (40.0, 60.0, 80.0, 180.0)  # feet (60, 180): inside, 120 px tall
IN_ROOM = (400.0, 260.0, 440.0, 380.0)  # feet (420, 380): far outside
NEAR_ROOM = (460.0, 260.0, 500.0, 380.0)  # half a height from IN_ROOM
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class ScriptedTracker:
    """A motion tracker that returns the library ids it is told to (what the library decided)."""

    def __init__(self) -> None:
        self.next_ids: list[int] = []

    def update_with_detections(
        self, detections: sv.Detections, timestamp_s: float, frame: np.ndarray | None = None
    ) -> sv.Detections:
        detections.tracker_id = np.array(self.next_ids, dtype=int)
        return detections

    def reset(self) -> None:
        self.next_ids = []


class ColourEmbedder:
    """Embeds a box by the colour of the frame under it: same colour, same person."""

    def embed(self, frame: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
        rows = []
        for x1, y1, x2, y2 in xyxy:
            patch = frame[int(y1) : int(y2), int(x1) : int(x2)].reshape(-1, 3).mean(axis=0)
            rows.append(patch / max(float(np.linalg.norm(patch)), 1e-9))
        return np.array(rows, dtype=np.float32).reshape(-1, 3)


def frame_with(boxes: dict[tuple[float, float, float, float], tuple[int, int, int]]) -> np.ndarray:
    image = np.zeros((480, 640, 3), dtype=np.uint8)
    for (x1, y1, x2, y2), colour in boxes.items():
        image[int(y1) : int(y2), int(x1) : int(x2)] = colour
    return image


def step(
    guard: IdentityGuard,
    tracker: ScriptedTracker,
    t_s: float,
    boxes: list[tuple[float, float, float, float]],
    library_ids: list[int],
    frame: np.ndarray | None = None,
) -> list[int]:
    tracker.next_ids = library_ids
    detections = sv.Detections(
        xyxy=np.array(boxes, dtype=float).reshape(-1, 4), confidence=np.full(len(boxes), 0.9)
    )
    out = guard.update_with_detections(detections, t_s, frame)
    return [int(t) for t in out.tracker_id] if out.tracker_id is not None else []


RED, BLUE = (0, 0, 200), (200, 0, 0)


def test_a_track_that_leaps_onto_someone_entering_the_door_is_split_off() -> None:
    # GIVEN a person tracked in the room (library id 7)
    tracker = ScriptedTracker()
    guard = IdentityGuard(tracker, DOOR)
    [room_id] = step(guard, tracker, 0.0, [IN_ROOM], [7])
    # WHEN they are missed for a moment and the library hands id 7 to someone in the door zone
    [entry_id] = step(guard, tracker, 0.5, [IN_DOOR], [7])
    # THEN the person entering gets a fresh id: a door-entry track exists for their handoff
    assert entry_id != room_id
    assert guard.door_splits == 1
    # AND walking on keeps that new id
    assert step(guard, tracker, 0.6, [IN_DOOR], [7]) == [entry_id]


def test_walking_into_the_door_step_by_step_is_not_a_split() -> None:
    # GIVEN someone standing just outside the door zone
    tracker = ScriptedTracker()
    guard = IdentityGuard(tracker, DOOR)
    [first] = step(guard, tracker, 0.0, [(90.0, 60.0, 130.0, 180.0)], [3])  # feet (110, 180): outside
    # WHEN they step into it (a small move: leaving through the door)
    assert step(guard, tracker, 0.1, [(70.0, 60.0, 110.0, 180.0)], [3]) == [first]
    assert guard.door_splits == 0


@pytest.mark.parametrize(
    ("colour", "box", "continued"),
    [
        (RED, NEAR_ROOM, True),  # same look, near where the old track was lost: same person
        (BLUE, NEAR_ROOM, False),  # someone else near there: appearance says no
        (RED, IN_DOOR, False),  # same look but born in the door zone: a new entry, never re-linked
    ],
    ids=["same-person-back", "other-person", "door-birth-protected"],
)
def test_a_new_track_continues_a_lost_id_only_on_appearance_and_never_in_the_door(
    colour: tuple[int, int, int], box: tuple[float, float, float, float], continued: bool
) -> None:
    # GIVEN a red-clad person tracked in the room, then lost
    tracker = ScriptedTracker()
    guard = IdentityGuard(tracker, DOOR, ColourEmbedder(), relink_window_s=3.0, relink_similarity=0.9)
    [old] = step(guard, tracker, 0.0, [IN_ROOM], [1], frame_with({IN_ROOM: RED}))
    step(guard, tracker, 0.5, [], [], frame_with({}))
    # WHEN the library starts a new track (id 2) a second later
    [new] = step(guard, tracker, 1.0, [box], [2], frame_with({box: colour}))
    # THEN the old id continues only for the same person outside the door zone
    assert (new == old) is continued


def test_clock_offset_is_a_robust_bounded_median_of_confident_pairs() -> None:
    # GIVEN a room clock 2 s ahead of the door's, seen in five pairs, and one wild pairing
    clock = ClockOffsetEstimator(max_offset_s=5.0, samples=20, min_samples=3)
    clock.observe(2.1)
    clock.observe(1.9)
    # THEN nothing is corrected on two pairs
    assert clock.offset_s == 0.0
    for sample in (2.0, 2.2, 30.0, 1.8):
        clock.observe(sample)
    # AND the outlier does not move the estimate
    assert clock.offset_s == pytest.approx(2.0, abs=0.1)
    # AND an offset beyond the bound is clamped, never believed
    wild = ClockOffsetEstimator(max_offset_s=5.0, min_samples=3)
    for _ in range(3):
        wild.observe(20.0)
    assert wild.offset_s == 5.0


def handoff(usn: str, captured_s: float) -> Handoff:
    return Handoff(
        usn=usn,
        capture_id=f"cap-{usn}",
        captured_at=T0 + timedelta(seconds=captured_s),
        similarity=0.8,
        room_id="R101",
        source="face",
    )


def test_a_learned_clock_offset_moves_expected_arrivals() -> None:
    # GIVEN a door camera whose clock is 2.5 s behind, learned from three earlier entries
    door = DoorZone(DOOR)
    registry = TrackRegistry(door, startup_frames=0)
    clock = ClockOffsetEstimator(max_offset_s=5.0, min_samples=3)
    for _ in range(3):
        clock.observe(2.5)
    assigner = HandoffAssigner(walk_delay_s=3.0, max_time_diff_s=4.0, settle_s=1.0, wait_s=10.0, clock=clock)
    # AND a handoff stamped 0 s (expected at 3 s by the door's clock, 5.5 s by the room's)
    assigner.submit(handoff("USN-A", 0.0))

    def see(t_s: float, tracks: dict[int, tuple[float, float, float, float]]) -> None:
        detections = sv.Detections(
            xyxy=np.array(list(tracks.values()), dtype=float).reshape(-1, 4),
            tracker_id=np.array(list(tracks), dtype=int),
        )
        registry.update_with_detections(detections, T0 + timedelta(seconds=t_s))

    # WHEN someone enters at 2.0 s and the right person at 5.5 s
    see(2.0, {1: IN_DOOR})
    see(5.5, {1: IN_ROOM, 2: IN_DOOR})
    # THEN nothing is decided at 4.0 s (uncorrected: settled, would take track 1)
    assert assigner.update(registry, T0 + timedelta(seconds=4.0)) == []
    # AND at 6.5 s the handoff goes to the person who entered at 5.5 s
    outcomes = assigner.update(registry, T0 + timedelta(seconds=6.5))
    assert [(o.message.usn, o.tracker_id) for o in outcomes] == [("USN-A", 2)]
    assert assigner.clock_offset_s == pytest.approx(2.5)
