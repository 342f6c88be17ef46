"""Face recognition benchmark on the LFW subset: verification, 1:N identification, speed.

    python -m bench.faces                       # defaults from FaceModelSettings (YuNet + ONNX ArcFace)
    python -m bench.faces --detector retinaface
    python -m bench.faces --pairs pairs.csv --images DIR [--face-px 32] [--json]
    python -m bench.faces --size-sweep [--json]  # accuracy vs face width 16-112 px (min_face_px)

What it measures (every photo of ``lfw_subset``: 12 known people x 10 photos, 20 unknown people x 1):

* **Verification** over all pairs of photos that pass the capture gates: ROC AUC, accuracy at the
  chosen threshold, and the *calibrated* threshold — the middle of the range of thresholds with
  the best pair accuracy (the widest safety band on both sides).
* **1:N identification**: each known person enrolls their first 3 photos that pass the
  enrollment gates (file-name order); every other photo of theirs is a query (largest face).
  Rank-1 counts a query whose nearest student is right (a query the gates reject counts as a
  miss); the identification rate also needs the threshold and margin. The false-accept rate
  is the share of the 20 unknown people accepted as some student.
* **Margin calibration**: the smallest lead over the runner-up among correct matches and the
  largest lead among unknown faces above threshold (none, when the threshold alone rejects them).
* **Speed**: detect+gates+align per photo, embedding per face (batch of 1 and of 32), and
  enrollment throughput through ``EnrollmentService`` into a fresh SQLite database.

How the defaults in ``FaceModelSettings`` were set: ``match_threshold`` is the calibrated
threshold printed here (rounded), ``match_margin`` sits well below the smallest lead of a
correct match, and ``min_sharpness`` / ``max_yaw_ratio`` come from ``--blur-sweep`` (identification
of blurred queries against their Laplacian variance) and the yaw ratios of the subset.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from bench.face_pairs import PairsFileError, Verification, all_pairs, load_pairs, verify
from bench.machine import describe_machine
from cloud_functions.core.db.engine import create_engine
from cloud_functions.core.db.schema import students
from cloud_functions.core.faces import (
    EnrollmentPhoto,
    EnrollmentRepository,
    EnrollmentService,
    FacePipeline,
    FaceRejectedError,
    Gallery,
)
from cloud_functions.core.matching import decide
from cloud_functions.core.settings import FaceModelSettings
from infra.migrations import upgrade

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces" / "lfw_subset"


@dataclass(frozen=True)
class Photo:
    path: Path
    identity: str
    known: bool


def load_subset(root: Path) -> list[Photo]:
    """Every photo of the subset, known people first, in file-name order."""
    known = [Photo(p, p.parent.name, True) for p in sorted(root.glob("known/*/*.jpg"))]
    unknown = [Photo(p, p.parent.name, False) for p in sorted(root.glob("unknown/*/*.jpg"))]
    return known + unknown


def roc_auc(scores: NDArray[np.floating], positive: NDArray[np.bool_]) -> float:
    """Area under the ROC curve (Mann-Whitney U statistic)."""
    ranks = np.empty(len(scores))
    ranks[np.argsort(scores, kind="stable")] = np.arange(1, len(scores) + 1)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def calibrated_threshold(scores: NDArray[np.floating], positive: NDArray[np.bool_]) -> tuple[float, float]:
    """The middle of the threshold range with the best pair accuracy, and that accuracy."""
    candidates = np.unique(np.round(scores, 4))
    accuracy = np.array([((scores >= t) == positive).mean() for t in candidates])
    best = accuracy.max()
    tied = candidates[accuracy == best]
    # A threshold between the last tied candidate and the next score keeps the same accuracy.
    upper_index = int(np.searchsorted(candidates, tied.max())) + 1
    upper = candidates[upper_index] if upper_index < len(candidates) else tied.max()
    return float((tied.min() + upper) / 2), float(best)


def _median_ms(samples: Sequence[float]) -> float:
    return statistics.median(samples) * 1000.0


def _jpeg(image: NDArray[np.uint8]) -> bytes:
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return buffer.tobytes()


def run(args: argparse.Namespace) -> list[tuple[str, str]]:
    overrides = {"face_detector": args.detector, "face_embedder": args.embedder}
    if args.embedder_path:
        overrides["face_embedder_path"] = args.embedder_path
    settings = FaceModelSettings(**overrides)
    threshold = args.threshold if args.threshold is not None else settings.match_threshold
    margin = args.margin if args.margin is not None else settings.match_margin
    pipeline = FacePipeline.from_settings(settings)
    photos = load_subset(args.data)
    rows: list[tuple[str, str]] = [
        ("detector / embedder", f"{settings.face_detector} / {pipeline.model_id}"),
        (
            "photos",
            f"{len(photos)} ({sum(p.known for p in photos)} known, "
            f"{sum(not p.known for p in photos)} unknown)",
        ),
    ]

    # Capture-mode analysis of every photo (largest face), timed.
    embeddings: dict[Path, NDArray[np.float32]] = {}
    inspect_s: list[float] = []
    rejected: dict[str, int] = {}
    for photo in photos:
        data = photo.path.read_bytes()
        start = time.perf_counter()
        try:
            aligned = pipeline.inspect(data, "capture")
        except FaceRejectedError as rejection:
            rejected[rejection.reason.value] = rejected.get(rejection.reason.value, 0) + 1
            continue
        inspect_s.append(time.perf_counter() - start)
        embeddings[photo.path] = pipeline.embedder.embed([aligned.image])[0]
    rows.append(
        ("capture gates rejected", ", ".join(f"{k} {v}" for k, v in sorted(rejected.items())) or "none")
    )

    # Verification over all pairs.
    accepted = [p for p in photos if p.path in embeddings]
    matrix = np.stack([embeddings[p.path] for p in accepted])
    upper = np.triu_indices(len(accepted), 1)
    scores = (matrix @ matrix.T)[upper]
    same = np.array([accepted[i].identity == accepted[j].identity for i, j in zip(*upper, strict=True)])
    calibrated, best_accuracy = calibrated_threshold(scores, same)
    rows += [
        ("verification pairs (genuine / impostor)", f"{len(scores)} ({same.sum()} / {(~same).sum()})"),
        ("verification ROC AUC", f"{roc_auc(scores, same):.4f}"),
        ("calibrated threshold (best pair accuracy)", f"{calibrated:.3f} (accuracy {best_accuracy:.4f})"),
        ("threshold / margin used", f"{threshold:.3f} / {margin:.3f}"),
        ("verification accuracy at threshold", f"{((scores >= threshold) == same).mean():.4f}"),
        (
            "  TAR / FAR on pairs at threshold",
            f"{(scores[same] >= threshold).mean():.4f} / {(scores[~same] >= threshold).mean():.5f}",
        ),
    ]

    # 1:N identification.
    gallery_usns: list[str] = []
    gallery_vectors: list[NDArray[np.float32]] = []
    queries: list[Photo] = []
    for identity in sorted({p.identity for p in photos if p.known}):
        enrolled = 0
        for photo in (p for p in photos if p.identity == identity):
            if enrolled < args.enroll_per_person:
                try:
                    analysis = pipeline.analyse(photo.path.read_bytes(), "enroll")
                except FaceRejectedError:
                    queries.append(photo)  # not enrollable (e.g. two faces), still a fair query
                    continue
                gallery_usns.append(identity)
                gallery_vectors.append(analysis.embedding)
                enrolled += 1
            else:
                queries.append(photo)
    gallery = Gallery.from_rows(pipeline.model_id, gallery_usns, gallery_vectors)
    unknowns = [p for p in photos if not p.known]
    rank1 = identified = misidentified = false_accepts = 0
    correct_margins: list[float] = []
    unknown_margins: list[float] = []
    for photo in queries + unknowns:
        if photo.path not in embeddings:
            continue
        students_, student_scores = gallery.student_scores(embeddings[photo.path])
        result = decide(students_, student_scores, threshold=threshold, margin=margin)
        if photo.known:
            rank1 += result.best_usn == photo.identity
            identified += result.usn == photo.identity
            misidentified += result.is_match and result.usn != photo.identity
            if result.best_usn == photo.identity and result.margin is not None:
                correct_margins.append(result.margin)
        else:
            false_accepts += result.is_match
            if result.similarity >= threshold and result.margin is not None:
                unknown_margins.append(result.margin)
    rows += [
        ("gallery", f"{len(gallery.students)} people, {len(gallery_usns)} faceprints"),
        ("identification queries (known / unknown)", f"{len(queries)} / {len(unknowns)}"),
        ("rank-1 (gate rejections count as misses)", f"{rank1 / len(queries):.4f} ({rank1}/{len(queries)})"),
        (
            "identified at threshold + margin",
            f"{identified / len(queries):.4f} ({identified}/{len(queries)})",
        ),
        ("misidentified (wrong student accepted)", f"{misidentified}"),
        (
            "false-accept rate (unknown people)",
            f"{false_accepts / len(unknowns):.4f} ({false_accepts}/{len(unknowns)})",
        ),
        (
            "smallest runner-up lead of a correct match",
            f"{min(correct_margins):.3f}" if correct_margins else "-",
        ),
        (
            "largest lead of an unknown above threshold",
            f"{max(unknown_margins):.3f}" if unknown_margins else "none above threshold",
        ),
    ]

    # Speed.
    aligned_faces = [pipeline.inspect(photos[0].path.read_bytes(), "capture").image] * 32
    pipeline.embedder.embed(aligned_faces[:1])
    single = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        pipeline.embedder.embed(aligned_faces[:1])
        single.append(time.perf_counter() - start)
    batched = []
    for _ in range(max(3, args.repeats // 10)):
        start = time.perf_counter()
        pipeline.embedder.embed(aligned_faces)
        batched.append((time.perf_counter() - start) / len(aligned_faces))
    query = embeddings[queries[0].path] if queries[0].path in embeddings else gallery_vectors[0]
    search = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        students_, student_scores = gallery.student_scores(query)
        decide(students_, student_scores, threshold=threshold, margin=margin)
        search.append(time.perf_counter() - start)
    large = _synthetic_gallery(pipeline.model_id, pipeline.embedder.dim, students=2_000, poses=5)
    large.student_scores(query)  # build the per-student index once, as a warm process has
    search_large = []
    for _ in range(max(3, args.repeats // 10)):
        start = time.perf_counter()
        students_, student_scores = large.student_scores(query)
        decide(students_, student_scores, threshold=threshold, margin=margin)
        search_large.append(time.perf_counter() - start)
    rows += [
        (
            "1:N search + decision per query (median)",
            f"{_median_ms(search):.3f} ms over {len(gallery_usns)} faceprints",
        ),
        (
            "  same, synthetic 2,000 students x 5 poses",
            f"{_median_ms(search_large):.2f} ms over {len(large.usns)} random unit vectors",
        ),
        ("detect + gates + align per photo (median)", f"{_median_ms(inspect_s):.1f} ms"),
        ("embed per face, batch of 1 (median)", f"{_median_ms(single):.2f} ms"),
        ("embed per face, batch of 32 (median)", f"{_median_ms(batched):.2f} ms"),
        (
            "enrollment throughput (SQLite)",
            enrollment_throughput(pipeline, photos, settings.embed_batch_size),
        ),
    ]
    if args.blur_sweep:
        rows += blur_sweep(pipeline, gallery, queries, threshold, margin)
    return rows


def _synthetic_gallery(model_id: str, dim: int, *, students: int, poses: int) -> Gallery:
    """Random unit vectors standing in for a large school's faceprints (search speed only)."""
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((students * poses, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    usns = [f"S{i // poses:05d}" for i in range(students * poses)]
    return Gallery.from_rows(model_id, usns, list(vectors))


def enrollment_throughput(pipeline: FacePipeline, photos: Sequence[Photo], batch_size: int) -> str:
    """Photos per second through ``EnrollmentService`` (decode → gates → embed → store)."""
    known = [p for p in photos if p.known]
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        engine = create_engine(url)
        now = datetime.now(UTC)
        with engine.begin() as connection:
            connection.execute(
                students.insert(),
                [
                    {"usn": i, "name": i, "consent_given_at": now}
                    for i in sorted({p.identity[:32] for p in known})
                ],
            )
        service = EnrollmentService(pipeline, EnrollmentRepository(engine))
        batch = [
            EnrollmentPhoto(p.identity[:32], p.path.stem[-32:], p.path.read_bytes(), source_url=str(p.path))
            for p in known
        ]
        start = time.perf_counter()
        outcomes = []
        for offset in range(0, len(batch), batch_size):
            outcomes += service.enroll_batch(batch[offset : offset + batch_size])
        elapsed = time.perf_counter() - start
        engine.dispose()
    accepted = sum(o.accepted for o in outcomes)
    return f"{len(batch) / elapsed:.1f} photos/s ({accepted} accepted, {len(batch) - accepted} rejected)"


def blur_sweep(
    pipeline: FacePipeline, gallery: Gallery, queries: Sequence[Photo], threshold: float, margin: float
) -> list[tuple[str, str]]:
    """Identification of Gaussian-blurred queries with the sharpness gate off, by blur sigma."""
    rows = []
    saved = pipeline.thresholds
    pipeline.thresholds = type(saved)(**{**saved.__dict__, "min_sharpness": 0.0})
    try:
        for sigma in (0.0, 2.0, 3.0, 4.0, 5.0):
            sharpness, correct = [], 0
            for photo in queries:
                image = np.asarray(cv2.imread(str(photo.path)), dtype=np.uint8)
                if sigma:
                    image = np.asarray(cv2.GaussianBlur(image, (0, 0), sigma), dtype=np.uint8)
                try:
                    analysis = pipeline.analyse(_jpeg(image), "capture")
                except FaceRejectedError:
                    continue
                sharpness.append(analysis.quality.sharpness)
                students_, scores = gallery.student_scores(analysis.embedding)
                correct += decide(students_, scores, threshold=threshold, margin=margin).usn == photo.identity
            rows.append(
                (
                    f"blur sigma {sigma:.0f} px: identified / sharpness median",
                    f"{correct}/{len(queries)} / {statistics.median(sharpness):.1f}",
                )
            )
    finally:
        pipeline.thresholds = saved
    return rows


SWEEP_FACE_PX = (16, 20, 24, 28, 32, 40, 48, 64, 80, 112)


def _settings(args: argparse.Namespace) -> FaceModelSettings:
    overrides = {"face_detector": args.detector, "face_embedder": args.embedder}
    if args.embedder_path:
        overrides["face_embedder_path"] = args.embedder_path
    return FaceModelSettings(**overrides)


def _verification_rows(result: Verification, threshold: float) -> list[tuple[str, str]]:
    refused = ", ".join(f"{k} {v}" for k, v in result.rejected_by.items()) or "none"
    return [
        ("face width (shorter box side)", f"{result.face_px} px" if result.face_px else "as photographed"),
        ("pairs / files", f"{result.pairs} / {result.files}"),
        (f"accuracy at threshold {threshold:.3f}", f"{result.accuracy:.4f}"),
        ("  TAR / FAR at threshold", f"{result.tar:.4f} / {result.far:.5f}"),
        ("best accuracy (any threshold)", f"{result.best_accuracy:.4f}"),
        ("ROC AUC", f"{result.auc:.4f}"),
        ("files refused by the gates", f"{result.rejected} ({refused})"),
    ]


def run_pairs(args: argparse.Namespace) -> tuple[list[tuple[str, str]], dict[str, object]]:
    """Verification of the pairs CSV (or every pair of the LFW subset) at ``--face-px``."""
    settings = _settings(args)
    threshold = args.threshold if args.threshold is not None else settings.match_threshold
    pipeline = FacePipeline.from_settings(settings)
    if args.pairs is not None:
        pairs = load_pairs(args.pairs, args.images or args.pairs.parent)
    else:
        pairs = all_pairs({p.path: p.identity for p in load_subset(args.data)})
    result = verify(pipeline, pairs, threshold, args.face_px)
    rows = [("machine", describe_machine()), ("min_face_px gate", f"{settings.min_face_px} px")]
    return rows + _verification_rows(result, threshold), result.as_json()


def run_size_sweep(args: argparse.Namespace) -> tuple[list[tuple[str, str]], dict[str, object]]:
    """Accuracy against face width with the size gate off (the model's own curve), and what the gate
    at its configured value refuses, over every pair of the subset (or ``--pairs``)."""
    settings = _settings(args)
    threshold = args.threshold if args.threshold is not None else settings.match_threshold
    pipeline = FacePipeline.from_settings(settings)
    gated = pipeline.thresholds
    if args.pairs is not None:
        pairs = load_pairs(args.pairs, args.images or args.pairs.parent)
    else:
        pairs = all_pairs({p.path: p.identity for p in load_subset(args.data)})
    rows = [
        ("machine", describe_machine()),
        ("pairs", f"{len(pairs)} ({sum(p.same for p in pairs)} genuine)"),
        ("threshold", f"{threshold:.3f}"),
        (
            "face px: acc@thr / TAR / FAR / best acc / AUC / refused (size gate off)",
            "refused with the gate at its configured px",
        ),
    ]
    curve = []
    for face_px in SWEEP_FACE_PX:
        pipeline.thresholds = type(gated)(**{**gated.__dict__, "min_face_px": 0})
        open_gate = verify(pipeline, pairs, threshold, face_px)
        pipeline.thresholds = gated
        with_gate = verify(pipeline, pairs, threshold, face_px)
        rows.append(
            (
                f"{face_px:>3} px: {open_gate.accuracy:.4f} / {open_gate.tar:.4f} / {open_gate.far:.5f} / "
                f"{open_gate.best_accuracy:.4f} / "
                f"{open_gate.auc:.4f} / {open_gate.rejected} {open_gate.rejected_by or ''}",
                f"{with_gate.rejected} of {with_gate.files} (acc@thr {with_gate.accuracy:.4f})",
            )
        )
        curve.append({"gate_off": open_gate.as_json(), "gate_on": with_gate.as_json()})
    return rows, {"min_face_px": gated.min_face_px, "threshold": threshold, "curve": curve}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the lfw_subset folder")
    parser.add_argument("--detector", choices=["yunet", "retinaface"], default="yunet")
    parser.add_argument("--embedder", choices=["onnx", "deepface"], default="onnx")
    parser.add_argument("--embedder-path", type=Path, default=None, help="weights (default from settings)")
    parser.add_argument("--threshold", type=float, default=None, help="default: settings.match_threshold")
    parser.add_argument("--margin", type=float, default=None, help="default: settings.match_margin")
    parser.add_argument("--enroll-per-person", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=100, help="timing repetitions")
    parser.add_argument("--blur-sweep", action="store_true", help="also calibrate the sharpness gate")
    parser.add_argument("--pairs", type=Path, default=None, help="CSV file_x,file_y,same (1/0/yes/no)")
    parser.add_argument("--images", type=Path, default=None, help="folder the pairs' files are relative to")
    parser.add_argument(
        "--face-px", type=int, default=None, help="downscale each image so its face is N px wide, as JPEG"
    )
    parser.add_argument("--size-sweep", action="store_true", help="accuracy vs face width 16-112 px")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object of the figures")
    args = parser.parse_args(argv)
    if args.face_px is not None and args.face_px < 4:
        parser.error("--face-px must be at least 4")
    summary: dict[str, object] | None = None
    try:
        if args.size_sweep:
            rows, summary = run_size_sweep(args)
        elif args.pairs is not None or args.face_px is not None:
            rows, summary = run_pairs(args)
        else:
            rows = run(args)
    except PairsFileError as e:
        parser.error(str(e))
    width = max(len(name) for name, _ in rows)
    print(f"{'metric'.ljust(width)} | value")
    print(f"{'-' * width}-|-{'-' * 40}")
    for name, value in rows:
        print(f"{name.ljust(width)} | {value}")
    if args.json:
        print(json.dumps(summary if summary is not None else dict(rows)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
