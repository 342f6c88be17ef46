"""bench.faces --pairs/--images/--face-px/--json on real LFW photos, and the pairs file's rules."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench import faces as bench_faces
from bench.face_pairs import PairsFileError, best_accuracy, load_pairs, roc_auc
from tests.conftest import DATA_DIR

LFW = DATA_DIR / "faces" / "lfw_subset"
POWELL = "known/Colin_Powell/Colin_Powell_0001.jpg"
POWELL_2 = "known/Colin_Powell/Colin_Powell_0002.jpg"
OTHER = next(p.relative_to(LFW).as_posix() for p in sorted(LFW.glob("unknown/*/*.jpg")))


def _csv(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "pairs.csv"
    path.write_text("file_x,file_y,same\n" + body, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("word", "same"), [("1", True), ("yes", True), ("YES", True), ("0", False), ("no", False)]
)
def test_same_column_words(tmp_path: Path, word: str, same: bool) -> None:
    (pair,) = load_pairs(_csv(tmp_path, f"{POWELL},{POWELL_2},{word}\n"), LFW)
    assert pair.same is same
    assert pair.file_x == LFW / POWELL


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(f"{POWELL},{POWELL_2},maybe\n", "same must be", id="bad same value"),
        pytest.param(f"{POWELL},nobody.jpg,1\n", "no such image", id="missing file"),
        pytest.param("", "no pairs", id="empty"),
    ],
)
def test_bad_pairs_files_are_refused_with_the_line(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(PairsFileError, match=message):
        load_pairs(_csv(tmp_path, body), LFW)


def test_missing_column_is_named(tmp_path: Path) -> None:
    path = tmp_path / "pairs.csv"
    path.write_text(f"a,b\n{POWELL},{POWELL_2}\n")
    with pytest.raises(PairsFileError, match="file_x"):
        load_pairs(path, LFW)


def test_auc_counts_ties_as_half() -> None:
    # Refused pairs all score -1: a genuine and an impostor tied there rank neither above the other.
    scores = np.array([-1.0, -1.0, 0.9, 0.1])
    positive = np.array([True, False, True, False])
    assert roc_auc(scores, positive) == pytest.approx(0.625)  # (0.5 + 0 + 1 + 1) / 4
    assert best_accuracy(scores, positive) == pytest.approx(0.75)


@pytest.mark.parametrize(("face_px", "refused"), [(None, 0), (64, 0), (20, 3)])
def test_pairs_cli_json_last_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], face_px: int | None, refused: int
) -> None:
    # GIVEN two genuine and one impostor pair of real LFW photos
    pairs = _csv(tmp_path, f"{POWELL},{POWELL_2},yes\n{POWELL},{OTHER},no\n{POWELL_2},{POWELL},1\n")
    argv = ["--pairs", str(pairs), "--images", str(LFW), "--json"]
    if face_px is not None:
        argv += ["--face-px", str(face_px)]
    # WHEN the benchmark runs
    assert bench_faces.main(argv) == 0
    # THEN its last line is one JSON object with the figures; at 20 px the size gate refuses every file
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"accuracy", "best_accuracy", "auc", "rejected", "pairs"} <= summary.keys()
    assert summary["pairs"] == 3
    assert summary["rejected"] == refused
    if refused == 0:
        assert summary["accuracy"] == 1.0
        assert summary["auc"] == 1.0
