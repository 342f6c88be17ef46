"""Room camera benchmark on MOTChallenge-layout sequences: detection, tracking identity, speed, handoffs.

Usage::

    .venv/bin/python bench/cam2.py                      # the shared PETS09-S2L1 and TUD-Campus
    .venv/bin/python bench/cam2.py --sequence DIR [--door-zone '[[0,300],[90,300],[90,480],[0,480]]'] --json

A sequence folder holds ``img1/`` (or one video file), ``gt/gt.txt`` (MOT15) and ``seqinfo.ini``;
when the frames' size differs from seqinfo's, the ground truth is scaled to the frames. Without a
door zone the handoff tables are skipped. Detections are cached under ``var/bench_cache/`` (keyed
by weights, sequence, threshold and size filter), so only the first run pays for the detector;
the speed table always runs the whole pipeline. Tables:

1. person detection AP50 (IoU 0.5);
2. tracking MOTA / IDF1 / HOTA with one set of settings for every sequence: the cam2 default
   (ByteTrack with GIoU association, door-protected births, appearance re-links on OSNet
   embeddings, full-width boxes for people the frame's side edges cut), and the alternatives
   measured against it (plain ByteTrack, BoT-SORT, OC-SORT from roboflow ``trackers``; the
   guard or the frame-edge handling switched off);
3. speed: median per frame of the detector alone and of the whole pipeline (detector, tracker
   with re-link embeddings, registry, assigner, re-id stage), with the CPU and load average;
4. handoff accuracy (one simulated door-camera handoff per ground-truth person entering through
   the door zone, capture time = entry - walk delay +- jitter): right when the tagged track is
   mostly that person;
5. clock offset: the door camera's clock off by +-2 s (plus +-0.5 s jitter), without and with the
   offset estimator, cold (the clip's own entries only) and warmed up on one earlier pass;
6. identity keeping: frames carrying the right USN and frames carrying a wrong USN after the
   handoffs, re-id carry-over off and on, without and with an occlusion that breaks tracks.

With ``--json`` the last line is one JSON object: ``mota``, ``idf1``, ``hota``, ``id_switches``,
``fps`` (pooled over the sequences) and ``handoff_accuracy`` (at +-1 s jitter) when a door zone
is known, plus every table's rows.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import supervision as sv

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bench.machine import describe_machine  # noqa: E402
from edge_client.cam2.app import build_pipeline  # noqa: E402
from edge_client.cam2.detection import YoloPersonDetector  # noqa: E402
from edge_client.cam2.evaluation import (  # noqa: E402
    MotSequence,
    identity_ceiling,
    load_mot_sequence,
    person_ap50,
    score_tracking,
    track_sequence,
)
from edge_client.cam2.handoff import ClockOffsetEstimator  # noqa: E402
from edge_client.cam2.reid import IdentityKeeper, OsnetBodyEmbedder  # noqa: E402
from edge_client.cam2.settings import Cam2Settings  # noqa: E402
from edge_client.cam2.simulation import DoorView, simulate, simulate_crowded_entries  # noqa: E402
from edge_client.cam2.tracking import BodyEmbedder, ByteTrackPersonTracker, PersonTracker, build_tracker  # noqa: E402
from edge_client.settings import DEFAULT_MODELS_DIR  # noqa: E402

DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "tracking"
CACHE_DIR = REPO_ROOT / "var" / "bench_cache"
WEIGHTS = {
    "openvino": DEFAULT_MODELS_DIR / "person" / "yolov8n_int8_openvino_model",
    "onnx": DEFAULT_MODELS_DIR / "person" / "yolov8n_int8.onnx",
}
# The tracking row the JSON summary and the identity ceiling are taken from.
DEFAULT_LABEL = "cam2 default: ByteTrack GIoU + door guard + re-link + frame edges"
# Door zones drawn on the image edges where people walk into the shared views.
DOORS: dict[str, list[tuple[int, int]]] = {
    "PETS09-S2L1": [(680, 260), (768, 260), (768, 440), (680, 440)],
    "TUD-Campus": [(0, 300), (90, 300), (90, 480), (0, 480)],
}


def settings_for(door: list[tuple[int, int]] | None, weights: Path, **overrides: Any) -> Cam2Settings:
    """Default cam2 settings with a door zone and the given weights."""
    return Cam2Settings(
        room_id="BENCH",
        bucket_name="classsight-bench",
        person_weights_path=weights,
        door_zone=door or [],
        stream_enabled=False,
        **overrides,
    )


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print a plain-text table."""
    cells = [[str(h) for h in header]] + [
        [f"{c:.3f}" if isinstance(c, float) else str(c) for c in r] for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for index, row in enumerate(cells):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            print("  ".join("-" * width for width in widths))


def cached_detections(
    sequence: MotSequence, frames: list[np.ndarray], detector: YoloPersonDetector, weights: Path
) -> list[sv.Detections]:
    """The detector's output on every frame, from ``var/bench_cache`` when it was computed before."""
    key = "|".join(
        str(v)
        for v in (
            sequence.root.resolve(),
            weights,
            detector.confidence,
            detector.min_height_fraction,
            detector.imgsz,
        )
    )
    path = CACHE_DIR / f"{sequence.name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.npz"
    if path.exists():
        stored = np.load(path)
        counts = stored["counts"]
        xyxy, confidence = stored["xyxy"], stored["confidence"]
        offsets = np.concatenate(([0], np.cumsum(counts)))
        return [
            sv.Detections(
                xyxy=xyxy[a:b].astype(float),
                confidence=confidence[a:b].astype(float),
                class_id=np.zeros(b - a, dtype=int),
            )
            for a, b in itertools.pairwise(offsets)
        ]
    detections = [detector.detect(image) for image in frames]
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        counts=np.array([len(d) for d in detections]),
        xyxy=np.concatenate([d.xyxy for d in detections]).reshape(-1, 4),
        confidence=np.concatenate([np.asarray(d.confidence, dtype=float) for d in detections]),
    )
    return detections


def timed_run(
    sequence: MotSequence, frames: list[np.ndarray], detector: YoloPersonDetector, settings: Cam2Settings
) -> tuple[float, float]:
    """Median seconds per frame of the detector alone and of the whole pipeline, back to back.

    Both see the same load from other processes; the median resists their bursts.
    """
    pipeline = build_pipeline(settings, detector=detector, sink=None, frame_rate=sequence.fps)
    start_at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    pipeline.process(frames[0], start_at)  # warm-up
    pipeline.reset()
    detector_s, pipeline_s = [], []
    for number, image in enumerate(frames, start=1):
        started = time.perf_counter()
        detector.detect(image)
        detector_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        pipeline.process(image, start_at + timedelta(seconds=number / sequence.fps))
        pipeline_s.append(time.perf_counter() - started)
    return float(np.median(detector_s)), float(np.median(pipeline_s))


def tracker_variants(
    settings: Cam2Settings, fps: float, embedder: BodyEmbedder
) -> list[tuple[str, PersonTracker]]:
    """The cam2 default and the alternatives it was chosen over, each with the same settings."""
    variants: list[tuple[str, PersonTracker]] = [
        (
            DEFAULT_LABEL,
            build_tracker(settings, frame_rate=fps, embedder=embedder),
        ),
        ("ByteTrack GIoU + door guard, no re-link", build_tracker(settings, frame_rate=fps)),
        (
            "cam2 default without frame-edge handling",
            build_tracker(
                replace_setting(settings, track_frame_edges=False), frame_rate=fps, embedder=embedder
            ),
        ),
    ]

    def motion(**overrides: Any) -> ByteTrackPersonTracker:
        values: dict[str, Any] = {
            "activation_threshold": settings.track_activation_threshold,
            "high_confidence": settings.track_high_confidence,
            "lost_buffer_s": settings.track_lost_buffer_s,
            "min_iou": settings.track_min_iou,
            "min_consecutive_frames": settings.track_min_consecutive_frames,
            "frame_rate": fps,
            "iou": settings.track_iou,
        }
        values.update(overrides)
        return ByteTrackPersonTracker(**values)

    variants += [
        ("ByteTrack GIoU alone", motion()),
        ("ByteTrack IoU 0.1 alone (previous cam2)", motion(iou="iou", min_iou=0.1)),
        ("BoT-SORT (trackers) alone", motion(kind="botsort")),
        ("OC-SORT (trackers) alone", motion(kind="ocsort")),
        (
            "BoT-SORT + door guard + re-link",
            build_tracker(replace_setting(settings, tracker="botsort"), frame_rate=fps, embedder=embedder),
        ),
        (
            "OC-SORT + door guard + re-link",
            build_tracker(replace_setting(settings, tracker="ocsort"), frame_rate=fps, embedder=embedder),
        ),
    ]
    return variants


def replace_setting(settings: Cam2Settings, **changes: Any) -> Cam2Settings:
    """A validated copy of ``settings`` with ``changes``."""
    return Cam2Settings.model_validate({**settings.model_dump(), **changes})


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its tables."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sequence", type=Path, action="append", help="MOTChallenge-layout folder (repeatable)."
    )
    parser.add_argument(
        "--door-zone", type=json.loads, help="Door polygon as JSON [[x,y],...] (with --sequence)."
    )
    parser.add_argument("--weights", choices=sorted(WEIGHTS), default="openvino")
    parser.add_argument(
        "--jitter", nargs="+", type=float, default=[0.0, 0.5, 1.0, 2.0], help="Jitter (s) to try."
    )
    parser.add_argument("--seeds", type=int, default=10, help="Jitter draws per sequence and jitter value.")
    parser.add_argument(
        "--occlusion-s", type=float, default=3.0, help="Simulated occlusion (identity table)."
    )
    parser.add_argument("--json", action="store_true", help="End with one JSON line of the figures.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("edge_client.cam2").setLevel(logging.ERROR)  # expired handoffs are expected here

    if args.sequence:
        doors = {
            str(path): [tuple(p) for p in args.door_zone] if args.door_zone else None
            for path in args.sequence
        }
        roots = {str(path): path for path in args.sequence}
    else:
        doors = {name: door for name, door in DOORS.items()}  # type: ignore[misc]
        roots = {name: DATA_DIR / name for name in DOORS}
    weights = WEIGHTS[args.weights]
    base = settings_for(None, weights)
    detector = YoloPersonDetector(
        weights, base.person_confidence, base.person_iou, base.person_imgsz, base.person_min_height_fraction
    )
    embedder = OsnetBodyEmbedder(base.reid_weights_path)
    print(describe_machine())
    report: dict[str, Any] = {"machine": describe_machine(), "weights": args.weights, "tables": {}}
    detection_rows, tracking_rows, speed_rows = [], [], []
    handoff_rows: list[tuple[object, ...]] = []
    clock_rows: list[tuple[object, ...]] = []
    keeping_rows: list[tuple[object, ...]] = []
    loaded: dict[str, tuple[MotSequence, list[np.ndarray], list[sv.Detections]]] = {}
    pooled_frames = pooled_seconds = 0.0
    for key, root in roots.items():
        sequence = load_mot_sequence(root)
        frames = [image for _, image in sequence.frames()]  # decoded up front: timings exclude decoding
        detections = cached_detections(sequence, frames, detector, weights)
        loaded[key] = (sequence, frames, detections)
        settings = settings_for(doors[key], weights)
        detection_rows.append((sequence.name, len(frames), person_ap50(sequence, detections)))
        for label, tracker in tracker_variants(settings, sequence.fps, embedder):
            tracked = track_sequence(detections, tracker, sequence.fps, frames)
            scores = score_tracking(sequence, tracked)
            if label == DEFAULT_LABEL:
                ceiling = identity_ceiling(sequence, tracked)
            tracking_rows.append(
                (
                    sequence.name,
                    label,
                    scores.mota,
                    scores.idf1,
                    scores.hota,
                    scores.id_switches,
                    scores.false_positives,
                    scores.misses,
                    scores.gt_boxes,
                )
            )
        for every, between in itertools.product((2, 3), ("predict", "hold")):
            # "hold": a client that cannot keep up drops the frames in between, and its tracker
            # runs at the rate it really gets; "predict": cam2's person_detect_every_n.
            tracker = build_tracker(
                settings,
                frame_rate=sequence.fps / every if between == "hold" else sequence.fps,
                embedder=embedder,
                detect_every_n=1 if between == "hold" else every,
            )
            scores = score_tracking(
                sequence, track_sequence(detections, tracker, sequence.fps, frames, every, between)
            )
            how = "tracker predicts between" if between == "predict" else "other frames dropped"
            tracking_rows.append(
                (
                    sequence.name,
                    f"cam2 default, detector on 1 frame in {every}, {how}",
                    scores.mota,
                    scores.idf1,
                    scores.hota,
                    scores.id_switches,
                    scores.false_positives,
                    scores.misses,
                    scores.gt_boxes,
                )
            )
        tracking_rows.append(
            (
                sequence.name,
                "ceiling: cam2 default's boxes, perfect identities",
                ceiling.mota,
                ceiling.idf1,
                ceiling.hota,
                ceiling.id_switches,
                ceiling.false_positives,
                ceiling.misses,
                ceiling.gt_boxes,
            )
        )
        detector_s, pipeline_s = timed_run(sequence, frames, detector, settings)
        pooled_frames += len(frames)
        pooled_seconds += pipeline_s * len(frames)
        speed_rows.append(
            (
                sequence.name,
                f"{sequence.width}x{sequence.height}",
                f"{1000 * detector_s:.1f}",
                f"{1000 * pipeline_s:.1f}",
                f"{1 / pipeline_s:.1f}",
            )
        )
    machine = describe_machine()
    table("Person detection (IoU 0.5)", ["sequence", "frames", "AP50"], detection_rows)
    table(
        "Tracking identity (one set of settings for every sequence)",
        ["sequence", "tracker", "MOTA", "IDF1", "HOTA", "IDsw", "FP", "FN", "GT boxes"],
        tracking_rows,
    )
    table(
        f"Speed (median per frame, frames decoded beforehand; {machine})",
        ["sequence", "frame", "detector ms", "pipeline ms", "pipeline fps"],
        speed_rows,
    )
    defaults = [row for row in tracking_rows if row[1] == DEFAULT_LABEL]
    report["tables"].update(detection=detection_rows, tracking=tracking_rows, speed=speed_rows)
    report["per_sequence"] = {
        str(row[0]): {"mota": row[2], "idf1": row[3], "hota": row[4], "id_switches": row[5]}
        for row in defaults
    }
    report.update(
        mota=float(np.mean([row[2] for row in defaults])),
        idf1=float(np.mean([row[3] for row in defaults])),
        hota=float(np.mean([row[4] for row in defaults])),
        id_switches=int(sum(int(row[5]) for row in defaults)),  # type: ignore[call-overload]
        fps=pooled_frames / max(pooled_seconds, 1e-9),
    )

    with_door = {key: value for key, value in loaded.items() if doors[key]}
    if with_door:

        def handoff_runs(
            jitter_s: float, *, offset_s: float = 0.0, mode: str = "cold", door_colour: bool = False
        ) -> tuple[str, float, float]:
            """``right/total`` per sequence, the pooled accuracy, and the last clock estimate."""
            right = total = 0
            per_sequence = []
            estimate = 0.0
            for key, (sequence, frames, detections) in with_door.items():
                settings = settings_for(doors[key], weights, clock_correction_enabled=mode != "off")
                run = {
                    "embedder": embedder,
                    "images": frames,
                    "clock_offset_s": offset_s,
                    "door_colour": door_colour,
                }
                clock = None
                if mode == "warm":  # the day's earlier entries: one pass of the same door, other draws
                    clock = ClockOffsetEstimator(settings.clock_max_offset_s, settings.clock_samples)
                    simulate(sequence, detections, settings, jitter_s=0.5, seed=10_000, clock=clock, **run)  # type: ignore[arg-type]
                seq_right = seq_total = 0
                for seed in range(args.seeds):
                    trials = simulate(
                        sequence, detections, settings, jitter_s=jitter_s, seed=seed, clock=clock, **run
                    ).trials  # type: ignore[arg-type]
                    seq_right += sum(t.correct for t in trials)
                    seq_total += len(trials)
                if clock is not None:
                    estimate = clock.offset_s
                per_sequence.append(f"{sequence.name} {seq_right}/{seq_total}")
                right, total = right + seq_right, total + seq_total
            return "; ".join(per_sequence), right / max(total, 1), estimate

        accuracy_at: dict[float, float] = {}
        for jitter_s in args.jitter:
            counts, accuracy, _ = handoff_runs(jitter_s)
            colour_counts, colour_accuracy, _ = handoff_runs(jitter_s, door_colour=True)
            accuracy_at[jitter_s] = accuracy
            handoff_rows.append((f"{jitter_s:.1f}", counts, accuracy, colour_counts, colour_accuracy))
        table(
            f"Handoff accuracy ({args.seeds} jitter draws, walk delay {base.walk_delay_s:.0f} s): "
            "time alone, and with the door camera's clothing colour "
            f"(weight {base.handoff_appearance_weight_s} s)",
            [
                "jitter +-s",
                "right / handoffs (time)",
                "accuracy",
                "right / handoffs (time + colour)",
                "accuracy",
            ],
            handoff_rows,
        )
        clock_accuracy: list[float] = []
        for offset_s in (2.0, -2.0):
            for mode, door_colour in (("off", False), ("cold", False), ("warm", False), ("warm", True)):
                counts, accuracy, estimate = handoff_runs(
                    0.5, offset_s=offset_s, mode=mode, door_colour=door_colour
                )
                if mode == "warm" and not door_colour:
                    clock_accuracy.append(accuracy)
                label = mode + (" + colour" if door_colour else "")
                shown = f"{estimate:+.2f}" if mode == "warm" else "-"
                clock_rows.append((f"{offset_s:+.1f}", label, shown, counts, accuracy))
        table(
            "Door clock off by the given offset (+-0.5 s jitter); estimator off, cold (this clip's own "
            "pairs), warm (after the day's earlier entries: one pass of the same door)",
            ["offset s", "estimator", "estimate s", "right / handoffs", "accuracy"],
            clock_rows,
        )
        crowded_rows = []
        for key, (sequence, frames, _) in with_door.items():
            settings = settings_for(doors[key], weights)
            weight_s = base.handoff_appearance_weight_s
            variants: list[tuple[str, float, DoorView]] = [
                ("time alone (no colour sent)", 0.0, "below_face"),
                ("+ cam1's colour below the face", weight_s, "below_face"),
                ("+ colour of the whole person box", weight_s, "person_box"),
            ]
            for jitter_s in (0.5, 1.0):
                for label, weight, view in variants:
                    right = total = 0
                    for seed in range(20 * args.seeds):
                        result = simulate_crowded_entries(
                            sequence,
                            frames,
                            settings,
                            people=4,
                            gap_s=(0.3, 1.0),
                            jitter_s=jitter_s,
                            seed=seed,
                            appearance_weight_s=weight,
                            door_view=view,
                        )
                        right, total = right + result.right, total + result.total
                    crowded_rows.append(
                        (
                            sequence.name,
                            f"{jitter_s:.1f}",
                            label,
                            f"{weight:.1f}",
                            f"{right}/{total}",
                            right / max(total, 1),
                        )
                    )
        table(
            "Crowded entries: 4 people 0.3-1 s apart through the door, the door's colour from one "
            "moment of each real person and the room track's from another >= 2 s later "
            "(assignment alone)",
            [
                "sequence",
                "jitter +-s",
                "door camera sends",
                "colour weight s",
                "right / handoffs",
                "accuracy",
            ],
            crowded_rows,
        )
        report["tables"]["crowded_entries"] = crowded_rows
        report["handoff_accuracy_clock_offset"] = float(np.mean(clock_accuracy))
        for key, (sequence, frames, detections) in with_door.items():
            settings = settings_for(doors[key], weights)
            for occlusion_s in (0.0, args.occlusion_s):
                for reid in (False, True):
                    stages = (
                        [
                            IdentityKeeper(
                                embedder,
                                similarity_threshold=settings.reid_similarity_threshold,
                                carry_window_s=settings.reid_carry_window_s,
                                carry_radius_heights=settings.reid_carry_radius_heights,
                                refresh_s=settings.reid_refresh_s,
                            )
                        ]
                        if reid
                        else None
                    )
                    keeping = simulate(
                        sequence,
                        detections,
                        settings,
                        jitter_s=0.5,
                        seed=0,
                        stages=stages,
                        embedder=embedder,
                        images=frames,
                        occlusion_s=occlusion_s,
                    ).keeping
                    keeping_rows.append(
                        (
                            sequence.name,
                            f"{occlusion_s:.1f}",
                            "on" if reid else "off",
                            keeping.expected_frames,
                            keeping.covered_frames,
                            keeping.wrong_frames,
                            keeping.coverage,
                        )
                    )
        table(
            f"Identity keeping after handoffs (jitter 0.5 s; each entering person hidden for the given time "
            f"3 s after entering; re-id threshold {base.reid_similarity_threshold}, radius "
            f"{base.reid_carry_radius_heights} person heights)",
            [
                "sequence",
                "occlusion s",
                "re-id carry-over",
                "expected frames",
                "right-USN frames",
                "wrong-USN frames",
                "coverage",
            ],
            keeping_rows,
        )
        report["handoff_accuracy"] = accuracy_at.get(1.0, next(iter(accuracy_at.values())))
        report["tables"].update(handoffs=handoff_rows, clock=clock_rows, identity_keeping=keeping_rows)
    if args.json:
        print(
            json.dumps(report, default=lambda o: asdict(o) if hasattr(o, "__dataclass_fields__") else str(o))
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
