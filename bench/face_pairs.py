"""Pair verification at a chosen face size: the data behind ``min_face_px``.

Used by ``python -m bench.faces --pairs ... --face-px N`` and ``--size-sweep``. A pair is two
image files and whether they show the same person. Each file goes through the capture pipeline
(detect → gates → align → embed); a file the gates refuse matches nobody, so its pairs score
-1 (a refused door face marks no one): accuracy, best accuracy and ROC AUC all count them.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from cloud_functions.core.faces import FacePipeline, FaceRejectedError

_SAME = {"1": True, "yes": True, "true": True, "0": False, "no": False, "false": False}
REFUSED_SIMILARITY = -1.0


class PairsFileError(ValueError):
    """The pairs CSV is missing a column, names a missing file or has a bad ``same`` value."""


@dataclass(frozen=True)
class Pair:
    file_x: Path
    file_y: Path
    same: bool


def load_pairs(csv_path: Path, images_dir: Path) -> list[Pair]:
    """Pairs from a CSV with columns ``file_x,file_y,same`` (same: 1/0/yes/no), files under ``images_dir``."""
    with csv_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"file_x", "file_y", "same"} - set(reader.fieldnames or ())
        if missing:
            raise PairsFileError(f"{csv_path}: missing column(s) {', '.join(sorted(missing))}")
        pairs = []
        for line, row in enumerate(reader, start=2):
            same = _SAME.get((row["same"] or "").strip().lower())
            if same is None:
                raise PairsFileError(f"{csv_path}:{line}: same must be 1/0/yes/no, got {row['same']!r}")
            files = [images_dir / (row[column] or "").strip() for column in ("file_x", "file_y")]
            for file in files:
                if not file.is_file():
                    raise PairsFileError(f"{csv_path}:{line}: no such image {file}")
            pairs.append(Pair(files[0], files[1], same))
    if not pairs:
        raise PairsFileError(f"{csv_path}: no pairs")
    return pairs


def all_pairs(identities: dict[Path, str]) -> list[Pair]:
    """Every pair of the given photos, same when their identities agree."""
    paths = sorted(identities)
    return [Pair(a, b, identities[a] == identities[b]) for a, b in combinations(paths, 2)]


def at_face_px(
    pipeline: FacePipeline, image_bgr: NDArray[np.uint8], face_px: int
) -> NDArray[np.uint8] | None:
    """``image_bgr`` downscaled so its largest detected face is ``face_px`` wide (shorter box side),
    re-encoded as JPEG (quality 90) and decoded again, as a small door crop arrives.

    ``None`` when no face is found at full size. A face already smaller is left as it is.
    """
    faces = pipeline.detector.detect(image_bgr)
    if not faces:
        return None
    factor = min(1.0, face_px / faces[0].size_px)
    height, width = image_bgr.shape[:2]
    small = cv2.resize(
        image_bgr,
        (max(1, round(width * factor)), max(1, round(height * factor))),
        interpolation=cv2.INTER_AREA,
    )
    ok, buffer = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        return None
    return np.asarray(cv2.imdecode(buffer, cv2.IMREAD_COLOR), dtype=np.uint8)


@dataclass(frozen=True)
class Verification:
    """Pair verification figures at one face size."""

    face_px: int | None
    pairs: int
    accuracy: float
    tar: float
    far: float
    best_accuracy: float
    auc: float
    rejected: int
    rejected_by: dict[str, int]
    files: int

    def as_json(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def roc_auc(scores: NDArray[np.floating], positive: NDArray[np.bool_]) -> float:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties)."""
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    # Average ranks: refused pairs all score -1, and a tie must count half, not by file order.
    _values, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = ((ends - counts + 1 + ends) / 2.0)[inverse]
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def best_accuracy(scores: NDArray[np.floating], positive: NDArray[np.bool_]) -> float:
    """Pair accuracy at the best threshold (every distinct score tried, and one above them all)."""
    candidates = np.r_[np.unique(scores), np.inf]
    return float(max(((scores >= t) == positive).mean() for t in candidates))


def embed_files(
    pipeline: FacePipeline, files: Iterable[Path], face_px: int | None
) -> tuple[dict[Path, NDArray[np.float32]], dict[str, int]]:
    """Capture-mode embedding of each file (downscaled first with ``face_px``); refusals by reason."""
    embeddings: dict[Path, NDArray[np.float32]] = {}
    rejected: dict[str, int] = {}
    for file in files:
        decoded = cv2.imread(str(file), cv2.IMREAD_COLOR)
        if decoded is None:
            rejected["undecodable"] = rejected.get("undecodable", 0) + 1
            continue
        image: NDArray[np.uint8] = np.asarray(decoded, dtype=np.uint8)
        if face_px is not None:
            scaled = at_face_px(pipeline, image, face_px)
            if scaled is None:
                rejected["no_face"] = rejected.get("no_face", 0) + 1
                continue
            image = scaled
        try:
            aligned = pipeline.inspect_image(image, "capture")
        except FaceRejectedError as rejection:
            rejected[rejection.reason.value] = rejected.get(rejection.reason.value, 0) + 1
            continue
        embeddings[file] = pipeline.embedder.embed([aligned.image])[0]
    return embeddings, rejected


def verify(
    pipeline: FacePipeline, pairs: Sequence[Pair], threshold: float, face_px: int | None
) -> Verification:
    """Accuracy at ``threshold``, best accuracy, AUC and gate refusals over ``pairs``."""
    files = sorted({p.file_x for p in pairs} | {p.file_y for p in pairs})
    embeddings, rejected = embed_files(pipeline, files, face_px)
    scores = np.array(
        [
            float(embeddings[p.file_x] @ embeddings[p.file_y])
            if p.file_x in embeddings and p.file_y in embeddings
            else REFUSED_SIMILARITY
            for p in pairs
        ]
    )
    same = np.array([p.same for p in pairs])
    return Verification(
        face_px=face_px,
        pairs=len(pairs),
        accuracy=float(((scores >= threshold) == same).mean()),
        tar=float((scores[same] >= threshold).mean()) if same.any() else float("nan"),
        far=float((scores[~same] >= threshold).mean()) if (~same).any() else float("nan"),
        best_accuracy=best_accuracy(scores, same),
        auc=roc_auc(scores, same),
        rejected=sum(rejected.values()),
        rejected_by=dict(sorted(rejected.items())),
        files=len(files),
    )
