"""cam2 on real footage: YOLO + ByteTrack tracking quality and handoff tagging of door entries."""

from __future__ import annotations

from pathlib import Path

import pytest
import supervision as sv

from edge_client.cam2.detection import YoloPersonDetector
from edge_client.cam2.evaluation import (
    MotSequence,
    detect_sequence,
    load_mot_sequence,
    score_tracking,
    track_sequence,
)
from edge_client.cam2.reid import IdentityKeeper, OsnetBodyEmbedder
from edge_client.cam2.settings import Cam2Settings
from edge_client.cam2.simulation import simulate, simulate_handoffs
from edge_client.cam2.tracking import ByteTrackPersonTracker
from tests.conftest import DATA_DIR, MODELS_DIR

pytestmark = pytest.mark.slow

WEIGHTS = MODELS_DIR / "person" / "yolov8n_int8_openvino_model"
TRACKING_DIR = DATA_DIR / "tracking"
# Door zones drawn on the edges where people walk into each view.
DOORS = {
    "PETS09-S2L1": [(680, 260), (768, 260), (768, 440), (680, 440)],
    "TUD-Campus": [(0, 300), (90, 300), (90, 480), (0, 480)],
}


@pytest.fixture(scope="module")
def detector() -> YoloPersonDetector:
    """The real person detector from settings defaults (OpenVINO INT8 YOLOv8n)."""
    settings = Cam2Settings(room_id="R-TEST", bucket_name="classsight-test", person_weights_path=WEIGHTS)
    return YoloPersonDetector(
        settings.person_weights_path, settings.person_confidence, settings.person_iou, settings.person_imgsz
    )


@pytest.fixture(scope="module")
def sequences(detector: YoloPersonDetector) -> dict[str, tuple[MotSequence, list[sv.Detections]]]:
    """Each sequence with its detections, computed once for the module."""
    loaded = {}
    for name in DOORS:
        sequence = load_mot_sequence(Path(TRACKING_DIR / name))
        loaded[name] = (sequence, detect_sequence(sequence, detector, cache_key=str(WEIGHTS)))
    return loaded


def test_tracking_reaches_mota_on_pets09(
    sequences: dict[str, tuple[MotSequence, list[sv.Detections]]],
) -> None:
    # GIVEN detections on PETS09-S2L1 frames 1-150 and the default tracker settings
    sequence, detections = sequences["PETS09-S2L1"]
    settings = Cam2Settings(room_id="R-TEST", bucket_name="classsight-test")
    tracker = ByteTrackPersonTracker(
        activation_threshold=settings.track_activation_threshold,
        high_confidence=settings.track_high_confidence,
        lost_buffer_s=settings.track_lost_buffer_s,
        min_iou=settings.track_min_iou,
        min_consecutive_frames=settings.track_min_consecutive_frames,
        frame_rate=sequence.fps,
    )
    # WHEN every frame is tracked
    tracked = track_sequence(detections[:150], tracker, sequence.fps)
    scores = score_tracking(sequence, tracked)
    # THEN the CLEAR MOTA clears 0.5 and every box carries a persistent id
    assert len(tracked) == 150
    assert all(t.tracker_id is not None for t in tracked if len(t))
    assert scores.mota >= 0.5, scores


def test_tracker_ids_persist_and_reset(sequences: dict[str, tuple[MotSequence, list[sv.Detections]]]) -> None:
    # GIVEN the same detections tracked twice with a reset between
    sequence, detections = sequences["PETS09-S2L1"]
    tracker = ByteTrackPersonTracker(frame_rate=sequence.fps)
    first = track_sequence(detections[:20], tracker, sequence.fps)
    # WHEN the tracker is reset and run again
    second = track_sequence(detections[:20], tracker, sequence.fps)
    # THEN the ids repeat exactly (nothing leaks across a reset)
    assert [t.tracker_id.tolist() for t in first if t.tracker_id is not None] == [
        t.tracker_id.tolist() for t in second if t.tracker_id is not None
    ]


@pytest.mark.parametrize("jitter_s", [0.0, 0.5, 1.0])
def test_handoffs_tag_the_person_who_entered(
    sequences: dict[str, tuple[MotSequence, list[sv.Detections]]], jitter_s: float
) -> None:
    # GIVEN a door zone on each sequence and one door-camera handoff per person entering
    # through it, each captured at entry - walk delay +- jitter
    trials = []
    for name, door in DOORS.items():
        sequence, detections = sequences[name]
        settings = Cam2Settings(room_id="SIM-ROOM", bucket_name="classsight-test", door_zone=door)
        # WHEN the real tracker and assigner run over the footage (several jitter draws)
        for seed in range(4):
            trials += simulate_handoffs(sequence, detections, settings, jitter_s=jitter_s, seed=seed)
    # THEN at least 80% of handoffs tag a track that is mostly the right person
    assert len(trials) >= 20
    accuracy = sum(t.correct for t in trials) / len(trials)
    assert accuracy >= 0.8, [t for t in trials if not t.correct]


def test_reid_keeps_usns_through_occlusions_that_break_tracks(
    sequences: dict[str, tuple[MotSequence, list[sv.Detections]]],
) -> None:
    # GIVEN handoffs for everyone entering PETS09 through the door, and each of them hidden from
    # the detector for 3 s (longer than the tracker's lost-track buffer) 3 s after entering
    sequence, detections = sequences["PETS09-S2L1"]
    settings = Cam2Settings(room_id="SIM-ROOM", bucket_name="classsight-test", door_zone=DOORS["PETS09-S2L1"])
    keeper = IdentityKeeper(
        OsnetBodyEmbedder(settings.reid_weights_path),
        similarity_threshold=settings.reid_similarity_threshold,
        carry_window_s=settings.reid_carry_window_s,
        carry_radius_heights=settings.reid_carry_radius_heights,
        refresh_s=settings.reid_refresh_s,
    )
    # WHEN the tracker runs without and with re-id carry-over
    without = simulate(sequence, detections, settings, jitter_s=0.0, seed=0, occlusion_s=3.0).keeping
    with_reid = simulate(
        sequence, detections, settings, jitter_s=0.0, seed=0, occlusion_s=3.0, stages=[keeper]
    )
    # THEN re-id gives the USNs back to the right people after the breaks
    assert with_reid.keeping.coverage >= 0.8, with_reid.keeping
    assert with_reid.keeping.coverage > without.coverage + 0.3, (without, with_reid.keeping)
    assert with_reid.keeping.wrong_frames <= 0.1 * with_reid.keeping.covered_frames
