"""Evaluation material and metrics for the liveness check (ISO/IEC 30107-3 style).

- :func:`read_labels`: a data folder's ``labels.csv`` (``file,label`` at least; optional
  ``attack`` and ``subject`` columns) into :class:`LabelledFile` rows.
- :func:`video_windows`: a video cut into consecutive windows of ``window_s`` seconds, frames
  subsampled to ``fps``; each window is one sample, as cam1 judges one stable window.
- :func:`simulated_photo_window`: a still re-rendered as a photo held up to the door camera: the
  whole picture moves as one plane (a smooth perspective sway) with sensor noise, exposure
  flicker and JPEG compression. It is **simulated** material, always labelled so.
- :func:`error_rates` and :func:`choose_threshold`: APCER/BPCER/ACER and the operating-point rule
  (BPCER within budget, then the lowest APCER, then the middle of the tied range).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from vision.liveness.types import LivenessError

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm"})
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp"})
_NUAA_SUBJECT = re.compile(r"^(\d{4})_")


@dataclass(frozen=True, slots=True)
class LabelledFile:
    """One row of ``labels.csv``.

    Attributes:
        path: the file.
        is_spoof: label ``spoof`` (else ``real``).
        attack: the attack type (``live`` for real samples when the column is absent).
        subject: who is shown; samples of one subject are never split between choosing and
            reporting. From a ``subject`` column, else a NUAA ``NNNN_`` file-name prefix, else
            the parent folder for videos (a live and a replayed video of one person) and the
            file itself for other images.
    """

    path: Path
    is_spoof: bool
    attack: str
    subject: str

    @property
    def is_video(self) -> bool:
        return self.path.suffix.lower() in VIDEO_SUFFIXES


def _subject_of(relative: Path) -> str:
    match = _NUAA_SUBJECT.match(relative.name)
    if match:
        return f"nuaa-{match.group(1)}"
    if relative.suffix.lower() in VIDEO_SUFFIXES:
        return str(relative.parent)
    return relative.stem


def read_labels(data_dir: Path) -> list[LabelledFile]:
    """The rows of ``data_dir/labels.csv``; a missing file or bad label is a ``LivenessError``."""
    labels_path = data_dir / "labels.csv"
    if not labels_path.is_file():
        raise LivenessError(f"{labels_path} not found (columns: file,label[,attack][,subject])")
    rows = []
    with labels_path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"file", "label"} - set(reader.fieldnames or ())
        if missing:
            raise LivenessError(f"{labels_path} lacks the column(s) {', '.join(sorted(missing))}")
        for line, row in enumerate(reader, start=2):
            label = (row["label"] or "").strip().lower()
            if label not in {"real", "spoof"}:
                raise LivenessError(f"{labels_path}:{line}: label must be real or spoof, not {label!r}")
            relative = Path((row["file"] or "").strip())
            path = data_dir / relative
            if not path.is_file():
                raise LivenessError(f"{labels_path}:{line}: {relative} not found")
            if path.suffix.lower() not in VIDEO_SUFFIXES | IMAGE_SUFFIXES:
                raise LivenessError(f"{labels_path}:{line}: {relative} is neither an image nor a video")
            attack = (row.get("attack") or "").strip() or ("live" if label == "real" else "spoof")
            subject = (row.get("subject") or "").strip() or _subject_of(relative)
            rows.append(LabelledFile(path, label == "spoof", attack, subject))
    return rows


@dataclass(frozen=True, slots=True)
class TimedFrame:
    """A decoded frame and its time in the source (seconds)."""

    image: NDArray[np.uint8]
    timestamp_s: float


def video_windows(path: Path, *, window_s: float, fps: float) -> Iterator[list[TimedFrame]]:
    """Consecutive, non-overlapping ``window_s`` windows of ``path``, each subsampled to ``fps``.

    A trailing part shorter than a whole window is dropped: cam1 never judges half a window.
    """
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise LivenessError(f"cannot open video {path}")
    try:
        source_fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
        step = max(1, round(source_fps / fps))
        per_window = max(1, round(window_s * source_fps))
        window: list[TimedFrame] = []
        index = 0
        while True:
            ok, image = capture.read()
            if not ok:
                break
            if index % step == 0:
                window.append(TimedFrame(np.asarray(image, dtype=np.uint8), index / source_fps))
            index += 1
            if index % per_window == 0:
                yield window
                window = []
    finally:
        capture.release()


def simulated_photo_window(
    image: NDArray[np.uint8], *, frames: int = 20, fps: float = 10.0, seed: int = 0
) -> list[TimedFrame]:
    """A **simulated** held-up photo: ``image`` swaying as one plane for ``frames / fps`` seconds.

    The corners follow smooth random paths (up to ~4 % of the picture's size: a hand holding a
    print or a phone), so the picture tilts and shifts in perspective; each frame then gets
    exposure flicker, sensor noise and JPEG compression at quality 85, as a webcam would add.
    """
    rng = np.random.default_rng(seed)
    height, width = image.shape[:2]
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    amplitude = rng.uniform(0.015, 0.04) * np.array([width, height], dtype=np.float32)
    phases = rng.uniform(0.0, 2.0 * np.pi, (4, 2))
    rates = rng.uniform(0.3, 0.8, (4, 2))  # sway cycles per second
    out = []
    for i in range(frames):
        t = i / fps
        offsets = amplitude * np.sin(2.0 * np.pi * rates * t + phases)
        warp = cv2.getPerspectiveTransform(corners, (corners + offsets).astype(np.float32))
        frame = cv2.warpPerspective(image, warp, (width, height), borderMode=cv2.BORDER_REPLICATE)
        gain = 1.0 + 0.04 * np.sin(2.0 * np.pi * 0.7 * t + phases[0, 0])
        noisy = frame.astype(np.float32) * gain + rng.normal(0.0, 2.0, frame.shape)
        ok, jpeg = cv2.imencode(
            ".jpg", np.clip(noisy, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 85]
        )
        if not ok:
            raise LivenessError("JPEG encoding failed while simulating a photo window")
        out.append(TimedFrame(np.asarray(cv2.imdecode(jpeg, cv2.IMREAD_COLOR), dtype=np.uint8), t))
    return out


@dataclass(frozen=True, slots=True)
class ErrorRates:
    """APCER: attacks accepted as live; BPCER: live faces refused; ACER: their mean."""

    apcer: float
    bpcer: float
    attacks: int
    bona_fide: int

    @property
    def acer(self) -> float:
        return (self.apcer + self.bpcer) / 2.0


def error_rates(is_spoof: Sequence[bool], flagged: Sequence[bool]) -> ErrorRates:
    """Rates of ``flagged`` (True = refused as a spoof) against the truth ``is_spoof``."""
    truth = np.asarray(is_spoof, dtype=bool)
    said = np.asarray(flagged, dtype=bool)
    attacks, bona_fide = int(truth.sum()), int((~truth).sum())
    apcer = float((truth & ~said).sum() / attacks) if attacks else 0.0
    bpcer = float((~truth & said).sum() / bona_fide) if bona_fide else 0.0
    return ErrorRates(apcer, bpcer, attacks, bona_fide)


def choose_threshold(
    real_scores: Sequence[float],
    spoof_scores: Sequence[float],
    *,
    spoof_below: bool,
    max_bpcer: float,
) -> float | None:
    """The threshold with BPCER <= ``max_bpcer``, then the lowest APCER, then the middle of the tie.

    ``spoof_below``: a score below the threshold is a spoof (the model's P(real), the planar
    residual); otherwise a score above it is (device confidence, texture). ``None`` when there
    are no real scores to bound the BPCER.
    """
    real = np.sort(np.asarray(real_scores, dtype=np.float64))
    spoof = np.asarray(spoof_scores, dtype=np.float64)
    if real.size == 0:
        return None
    values = np.unique(np.concatenate([real, spoof]))
    candidates = np.concatenate([[values[0] - 1e-6], (values[:-1] + values[1:]) / 2.0, [values[-1] + 1e-6]])
    best: list[float] = []
    best_key: tuple[float, float] | None = None
    for t in candidates:
        real_flagged = real < t if spoof_below else real > t
        spoof_missed = spoof >= t if spoof_below else spoof <= t
        bpcer = float(real_flagged.mean())
        if bpcer > max_bpcer + 1e-12:
            continue
        apcer = float(spoof_missed.mean()) if spoof.size else 0.0
        key = (apcer, bpcer)
        if best_key is None or key < best_key:
            best_key, best = key, [float(t)]
        elif key == best_key:
            best.append(float(t))
    if not best:
        return None
    return best[len(best) // 2]
