"""MOT sequences whose video was re-encoded at another size than seqinfo.ini says."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import pytest

from edge_client.cam2.evaluation import load_mot_sequence
from tests.conftest import DATA_DIR

TUD = DATA_DIR / "tracking" / "TUD-Campus"


def test_ground_truth_is_scaled_to_a_smaller_video(tmp_path: Path) -> None:
    # GIVEN TUD-Campus re-encoded at 480x360 while seqinfo.ini still says 640x480
    root = tmp_path / "TUD-small"
    (root / "gt").mkdir(parents=True)
    shutil.copy(TUD / "gt" / "gt.txt", root / "gt" / "gt.txt")
    shutil.copy(TUD / "seqinfo.ini", root / "seqinfo.ini")
    source = cv2.VideoCapture(str(TUD / "TUD-Campus.mp4"))
    writer = cv2.VideoWriter(str(root / "TUD-small.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 25, (480, 360))
    for _ in range(5):
        ok, image = source.read()
        assert ok
        writer.write(cv2.resize(image, (480, 360)))
    writer.release()
    source.release()
    # WHEN both are loaded
    original = load_mot_sequence(TUD)
    small = load_mot_sequence(root)
    # THEN the small one takes its frames' size and its boxes shrink by the same factor
    assert (small.width, small.height) == (480, 360)
    assert (original.width, original.height) == (640, 480)
    for big_box, small_box in zip(original.gt_boxes(1), small.gt_boxes(1), strict=True):
        assert small_box.identity == big_box.identity
        assert small_box.xyxy == pytest.approx(tuple(v * 0.75 for v in big_box.xyxy))
