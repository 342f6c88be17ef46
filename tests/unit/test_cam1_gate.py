"""Stable-face gate with the real YuNet detector on real footage and LFW doorway replays."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_client.cam1.detector import HaarDetector
from edge_client.cam1.gate import CaptureDecision, GateState, StableFaceGate, box_iou, centre_shift
from edge_client.cam1.replay import doorway_frames, one_photo_per_person
from edge_client.sources import Frame, open_source
from tests.conftest import DATA_DIR, MODELS_DIR
from vision.faces import DetectedFace, DetectorError, YuNetDetector

YUNET = MODELS_DIR / "face" / "face_detection_yunet.onnx"
HAMILTON_CLIP = DATA_DIR / "faces" / "face_recognition_examples" / "extra" / "short_hamilton_clip.mp4"
LFW_KNOWN = DATA_DIR / "faces" / "lfw_subset" / "known"
REPLAY_FPS = 10.0


@pytest.fixture(scope="module")
def detector() -> YuNetDetector:
    return YuNetDetector(YUNET)


@pytest.fixture(scope="module")
def lfw_photos() -> list[Path]:
    return one_photo_per_person(LFW_KNOWN)


def _frames(images: Iterator[np.ndarray], fps: float = REPLAY_FPS) -> Iterator[Frame]:
    for index, image in enumerate(images):
        yield Frame(image, index, index / fps)


def _run(gate: StableFaceGate, frames: Iterator[Frame]) -> list[CaptureDecision]:
    return [d for d in (gate.update(f) for f in frames) if d is not None]


def _box(x1: float, y1: float, x2: float, y2: float) -> DetectedFace:
    return DetectedFace((x1, y1, x2, y2), 0.9)


@pytest.mark.parametrize(
    ("a", "b", "iou", "shift"),
    [
        (_box(0, 0, 100, 100), _box(0, 0, 100, 100), 1.0, 0.0),
        (_box(0, 0, 100, 100), _box(50, 0, 150, 100), 1 / 3, 0.5),
        (_box(0, 0, 100, 100), _box(200, 0, 300, 100), 0.0, 2.0),
        (_box(0, 0, 100, 100), _box(10, 0, 110, 100), 0.9 / 1.1, 0.1),
    ],
)
def test_box_iou_and_centre_shift(a: DetectedFace, b: DetectedFace, iou: float, shift: float) -> None:
    assert box_iou(a, b) == pytest.approx(iou)
    assert centre_shift(a, b) == pytest.approx(shift)


@pytest.mark.parametrize(
    ("layout", "hold_s"),
    [
        ("alternate", 3.0),  # people step in one after the other, at alternating spots
        ("gap", 3.0),  # people step in at the same spot, the doorway empty in between
        ("alternate", 2.5),
    ],
)
def test_each_person_held_still_is_captured_exactly_once(
    detector: YuNetDetector, lfw_photos: list[Path], layout: str, hold_s: float
) -> None:
    # GIVEN a doorway replay of 12 LFW people, one photo each, held still for hold_s > stable_s
    replay = list(doorway_frames(lfw_photos, fps=REPLAY_FPS, hold_s=hold_s, layout=layout))  # type: ignore[arg-type]
    people_at = [person for _, person in replay]
    gate = StableFaceGate(detector, stable_s=2.0, cooldown_s=30.0)
    # WHEN it is fed through the gate
    decisions = _run(gate, _frames(iter(frame for frame, _ in replay)))
    # THEN each person shown is captured once, from a frame that shows that person
    captured_people = [people_at[d.frame_index] for d in decisions]
    shown_people = [p.parent.name for p in lfw_photos]
    assert captured_people == shown_people
    # ... and only once the face had been still for stable_s
    assert all(d.stable_for_s >= 2.0 for d in decisions)
    assert len({d.track_id for d in decisions}) == len(decisions)


@pytest.mark.parametrize(
    ("cooldown_s", "hold_s"),
    [(30.0, 10.0), (3.0, 10.0), (4.0, 12.0)],
)
def test_a_person_standing_still_is_not_recaptured_within_the_cooldown(
    detector: YuNetDetector, lfw_photos: list[Path], cooldown_s: float, hold_s: float
) -> None:
    # GIVEN one person standing still in the doorway for hold_s
    replay = doorway_frames(lfw_photos[:1], fps=REPLAY_FPS, hold_s=hold_s)
    gate = StableFaceGate(detector, stable_s=2.0, cooldown_s=cooldown_s)
    decisions = _run(gate, _frames(frame for frame, _ in replay))
    # THEN captures are at least cooldown_s apart, and as many as the cooldown allows
    times = [d.decided_at_s for d in decisions]
    assert all(later - earlier >= cooldown_s for earlier, later in itertools.pairwise(times))
    last_frame_s = (round(hold_s * REPLAY_FPS) - 1) / REPLAY_FPS
    expected = 1 + int((last_frame_s - 2.0) // cooldown_s)
    assert len(decisions) == expected


# Shots of the real clip (frame ranges, 29.97 fps), annotated by eye: a wide stage shot whose faces
# are under 64 px (0-19), a close-up profile that swings across the frame for ~2 s (20-84), the
# singer facing the camera for ~4 s (85-210), and an audience shot for ~2.1 s whose faces are soft
# (211-274).
SINGER_SHOT = range(85, 211)
AUDIENCE_SHOT = range(211, 275)


@pytest.mark.parametrize(
    ("min_sharpness", "expected_shots"),
    [
        (20.0, [SINGER_SHOT]),  # default: the soft audience faces stay below the sharpness gate
        (5.0, [SINGER_SHOT, AUDIENCE_SHOT]),  # a lenient gate also takes the audience member
    ],
)
def test_the_hamilton_clip_captures_only_faces_that_hold_still_and_are_sharp(
    detector: YuNetDetector, min_sharpness: float, expected_shots: list[range]
) -> None:
    gate = StableFaceGate(detector, stable_s=2.0, cooldown_s=30.0, min_sharpness=min_sharpness)
    with open_source(HAMILTON_CLIP) as source:
        decisions = _run(gate, iter(source))
    # THEN one capture per qualifying shot, each from a frame of that shot, never a swinging profile
    assert len(decisions) == len(expected_shots)
    for decision, shot in zip(decisions, expected_shots, strict=True):
        assert decision.frame_index in shot
        assert decision.face.width >= 64 and decision.sharpness >= min_sharpness


def test_a_new_person_after_the_face_was_lost_resets_the_cooldown(
    detector: YuNetDetector, lfw_photos: list[Path]
) -> None:
    # GIVEN two people at the same spot with an empty doorway in between (gap > forget_after_s)
    replay = doorway_frames(lfw_photos[:2], fps=REPLAY_FPS, hold_s=3.0, layout="gap", gap_s=1.5)
    gate = StableFaceGate(detector, stable_s=2.0, cooldown_s=60.0, forget_after_s=1.0)
    decisions = _run(gate, _frames(frame for frame, _ in replay))
    # THEN both are captured despite the long cooldown
    assert len(decisions) == 2
    assert decisions[0].track_id != decisions[1].track_id


@pytest.mark.parametrize(
    ("name", "spoil", "expected_state"),
    [
        ("too small", lambda img: cv2.resize(img, None, fx=0.25, fy=0.25), GateState.TOO_SMALL),
        ("blurred", lambda img: cv2.GaussianBlur(img, (0, 0), 6), GateState.BLURRY),
    ],
)
def test_faces_that_fail_the_quality_gates_are_never_captured(
    detector: YuNetDetector, lfw_photos: list[Path], name: str, spoil: object, expected_state: GateState
) -> None:
    # GIVEN a person held still for 4 s, but too small or too blurred
    canvas = np.full((480, 640, 3), 90, np.uint8)
    photo = cv2.imread(str(lfw_photos[0]))
    assert photo is not None
    photo = spoil(cv2.resize(photo, (312, 312)))  # type: ignore[operator]
    h, w = photo.shape[:2]
    canvas[84 : 84 + h, 164 : 164 + w] = photo
    gate = StableFaceGate(detector, stable_s=2.0, min_face_px=64, min_sharpness=20.0)
    decisions = _run(gate, _frames(iter([canvas] * 40)))
    # THEN nothing is captured, and the operator view says why
    assert decisions == []
    assert gate.status.state == expected_state


def test_reset_forgets_the_followed_face_and_its_cooldown(
    detector: YuNetDetector, lfw_photos: list[Path]
) -> None:
    replay = [frame for frame, _ in doorway_frames(lfw_photos[:1], fps=REPLAY_FPS, hold_s=3.0)]
    gate = StableFaceGate(detector, stable_s=2.0, cooldown_s=600.0)
    first = _run(gate, _frames(iter(replay)))
    # WHEN the gate is reset and the same person is shown again
    gate.reset()
    assert gate.status.state == GateState.NO_FACE
    second = _run(gate, (Frame(f.image, f.index, f.timestamp_s + 10.0) for f in _frames(iter(replay))))
    # THEN the face counts as new and is captured again
    assert len(first) == 1 and len(second) == 1


def test_progress_grows_while_the_face_is_still(detector: YuNetDetector, lfw_photos: list[Path]) -> None:
    gate = StableFaceGate(detector, stable_s=2.0)
    progress = []
    for frame in _frames(frame for frame, _ in doorway_frames(lfw_photos[:1], fps=REPLAY_FPS, hold_s=1.5)):
        gate.update(frame)
        progress.append(gate.status.progress)
    assert progress == sorted(progress)
    assert progress[-1] == pytest.approx(1.4 / 2.0)


def test_haar_is_refused_with_a_clear_message_where_opencv_lacks_it(tmp_path: Path) -> None:
    # OpenCV 5 removed cv2.CascadeClassifier; on 4.x a missing cascade file is the error
    with pytest.raises(DetectorError, match=r"Haar cascades need OpenCV 4\.x|Haar cascade not found"):
        HaarDetector(tmp_path / "haarcascade_frontalface_default.xml")


def test_yunet_without_weights_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DetectorError, match="YuNet weights not found"):
        YuNetDetector(tmp_path / "missing.onnx")
