"""Identity carry-over between tracks on real footage with the real OSNet re-id model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest
import supervision as sv

from edge_client.cam2.evaluation import MotSequence, load_mot_sequence
from edge_client.cam2.reid import IdentityKeeper, OsnetBodyEmbedder
from edge_client.cam2.tracks import DoorZone, TrackRegistry
from tests.conftest import DATA_DIR, MODELS_DIR

pytestmark = pytest.mark.slow

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def sequence() -> MotSequence:
    return load_mot_sequence(DATA_DIR / "tracking" / "PETS09-S2L1")


@pytest.fixture(scope="module")
def embedder() -> OsnetBodyEmbedder:
    return OsnetBodyEmbedder(MODELS_DIR / "reid" / "osnet_x0_25_msmt17.onnx")


def frame_image(sequence: MotSequence, frame: int) -> np.ndarray:
    image = cv2.imread(str(sequence.root / "img1" / f"{frame:06d}.jpg"))
    assert image is not None
    return image


def gt_detection(sequence: MotSequence, frame: int, identity: int, tracker_id: int) -> sv.Detections:
    box = next(b for b in sequence.gt_boxes(frame) if b.identity == identity)
    return sv.Detections(
        xyxy=np.array([box.xyxy], dtype=float),
        confidence=np.array([0.9]),
        class_id=np.array([0]),
        tracker_id=np.array([tracker_id]),
    )


def run_track(
    sequence: MotSequence,
    registry: TrackRegistry,
    keeper: IdentityKeeper,
    frames: range,
    identity: int,
    tracker_id: int,
) -> None:
    for frame in frames:
        at = T0 + timedelta(seconds=frame / sequence.fps)
        detections = registry.update_with_detections(gt_detection(sequence, frame, identity, tracker_id), at)
        keeper.update_with_detections(detections, frame_image(sequence, frame), at, registry)


def test_same_person_embeds_closer_than_others(sequence: MotSequence, embedder: OsnetBodyEmbedder) -> None:
    # GIVEN ground-truth crops of six people, 20 frames apart
    identities = [9, 11, 12, 13, 15, 19]
    first = np.vstack(
        [embedder.embed(frame_image(sequence, 50), gt_detection(sequence, 50, i, 0).xyxy) for i in identities]
    )
    later = np.vstack(
        [embedder.embed(frame_image(sequence, 70), gt_detection(sequence, 70, i, 0).xyxy) for i in identities]
    )
    # WHEN compared
    similarity = first @ later.T
    # THEN embeddings are unit length and each person is on average closer to themselves
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-4)
    same = np.diag(similarity).mean()
    other = similarity[~np.eye(len(identities), dtype=bool)].mean()
    assert same > other + 0.2, (same, other)


@pytest.mark.parametrize(
    ("new_identity", "radius_heights", "carried"),
    [
        (11, 1.5, True),  # the same person comes back nearby: carried on appearance
        (9, 20.0, False),  # someone else, close enough by the radius: never on proximity alone
    ],
    ids=["same-person", "other-person"],
)
def test_usn_carries_over_only_on_appearance_evidence(
    sequence: MotSequence,
    embedder: OsnetBodyEmbedder,
    new_identity: int,
    radius_heights: float,
    carried: bool,
) -> None:
    # GIVEN track 1 (person 11) tagged with a USN and followed for 20 frames
    registry = TrackRegistry(DoorZone([]), startup_frames=0)
    keeper = IdentityKeeper(
        embedder, similarity_threshold=0.65, carry_window_s=5.0, carry_radius_heights=radius_heights
    )
    run_track(sequence, registry, keeper, range(40, 42), identity=11, tracker_id=1)
    registry.tag(1, "USN-11", "face", T0)
    run_track(sequence, registry, keeper, range(42, 61), identity=11, tracker_id=1)
    # WHEN track 1 is lost for three frames and a new track 2 appears
    run_track(sequence, registry, keeper, range(64, 75), identity=new_identity, tracker_id=2)
    # THEN the USN moves to track 2 only if it is the same person
    assert (registry.records[2].usn == "USN-11") is carried
    assert (registry.records[1].usn is None) is carried
    if carried:
        assert registry.records[2].usn_source == "reid"
