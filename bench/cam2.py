"""Room camera benchmark on the shared MOT sequences: detection, tracking, speed, handoff accuracy.

Usage::

    .venv/bin/python bench/cam2.py                     # everything, both weight formats
    .venv/bin/python bench/cam2.py --weights openvino --seeds 20 --jitter 0 0.5 1 2

Prints five tables:

1. person detection AP50 (IoU 0.5) per sequence and weight format;
2. tracking MOTA / IDF1 / HOTA (ByteTrack on those detections, default cam2 settings);
3. speed on this machine, frames decoded beforehand: detector milliseconds per frame, and the
   per-frame pipeline's frames per second (detect + track + registry + handoff assignment + the
   re-id stage, which embeds only around tagged tracks, so here it costs almost nothing);
4. handoff accuracy: a door zone on each sequence, one simulated door-camera handoff per
   ground-truth person entering through it (capture time = entry - walk delay +- jitter), the
   real tracker and assigner; a handoff is right when the tagged track is mostly that person;
5. identity keeping: after those handoffs, the share of each handed-off person's frames in which
   the box carrying their USN is on them, with re-id carry-over off and on, without and with a
   simulated occlusion long enough to break their track.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import supervision as sv

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from edge_client.cam2.app import build_pipeline  # noqa: E402
from edge_client.cam2.detection import YoloPersonDetector  # noqa: E402
from edge_client.cam2.evaluation import (  # noqa: E402
    MotSequence,
    load_mot_sequence,
    person_ap50,
    score_tracking,
    track_sequence,
)
from edge_client.cam2.reid import IdentityKeeper, OsnetBodyEmbedder  # noqa: E402
from edge_client.cam2.settings import Cam2Settings  # noqa: E402
from edge_client.cam2.simulation import simulate, simulate_handoffs  # noqa: E402
from edge_client.cam2.tracking import ByteTrackPersonTracker  # noqa: E402
from edge_client.settings import DEFAULT_MODELS_DIR  # noqa: E402

DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "tracking"
WEIGHTS = {
    "openvino": DEFAULT_MODELS_DIR / "person" / "yolov8n_int8_openvino_model",
    "onnx": DEFAULT_MODELS_DIR / "person" / "yolov8n_int8.onnx",
}
# Door zones drawn on the image edges where people walk into each view.
DOORS: dict[str, list[tuple[int, int]]] = {
    "PETS09-S2L1": [(680, 260), (768, 260), (768, 440), (680, 440)],
    "TUD-Campus": [(0, 300), (90, 300), (90, 480), (0, 480)],
}


def settings_for(sequence_name: str, weights: Path) -> Cam2Settings:
    """Default cam2 settings with this sequence's door and the given weights."""
    return Cam2Settings(
        room_id="BENCH",
        bucket_name="classsight-bench",
        person_weights_path=weights,
        door_zone=DOORS[sequence_name],
        stream_enabled=False,
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


def timed_run(
    sequence: MotSequence,
    frames: list[tuple[int, np.ndarray]],
    detector: YoloPersonDetector,
    settings: Cam2Settings,
) -> tuple[list[sv.Detections], float, float]:
    """Detections of every frame, and median seconds per frame of the detector and the whole pipeline.

    Each frame goes through the detector alone and then through the pipeline (detector, tracker,
    registry, assigner, re-id stage) back to back, so both see the same load from other
    processes; the median resists their bursts.
    """
    pipeline = build_pipeline(settings, detector=detector, sink=None, frame_rate=sequence.fps)
    start_at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    pipeline.process(frames[0][1], start_at)  # warm-up
    pipeline.reset()
    detections, detector_s, pipeline_s = [], [], []
    for number, image in frames:
        started = time.perf_counter()
        detections.append(detector.detect(image))
        detector_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        pipeline.process(image, start_at + timedelta(seconds=number / sequence.fps))
        pipeline_s.append(time.perf_counter() - started)
    return detections, float(np.median(detector_s)), float(np.median(pipeline_s))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its tables."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--weights", nargs="+", choices=sorted(WEIGHTS), default=["openvino", "onnx"])
    parser.add_argument("--sequences", nargs="+", choices=sorted(DOORS), default=sorted(DOORS))
    parser.add_argument(
        "--jitter", nargs="+", type=float, default=[0.0, 0.5, 1.0, 2.0], help="Jitter (s) to try."
    )
    parser.add_argument("--seeds", type=int, default=10, help="Jitter draws per sequence and jitter value.")
    parser.add_argument(
        "--occlusion-s",
        type=float,
        default=3.0,
        help="Simulated occlusion of each entering person (re-id table).",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("edge_client.cam2").setLevel(logging.ERROR)  # expired handoffs are expected here

    sequences = {name: load_mot_sequence(DATA_DIR / name) for name in args.sequences}
    detection_rows, tracking_rows, speed_rows = [], [], []
    cached: dict[tuple[str, str], list[sv.Detections]] = {}
    for weights_name in args.weights:
        detector = YoloPersonDetector(WEIGHTS[weights_name])
        for name, sequence in sequences.items():
            settings = settings_for(name, WEIGHTS[weights_name])
            frames = list(sequence.frames())  # decoded up front: timings below exclude JPEG/video decoding
            detections, detector_s, pipeline_s = timed_run(sequence, frames, detector, settings)
            cached[(weights_name, name)] = detections
            detection_rows.append((name, weights_name, len(detections), person_ap50(sequence, detections)))
            tracker = ByteTrackPersonTracker(
                activation_threshold=settings.track_activation_threshold,
                high_confidence=settings.track_high_confidence,
                lost_buffer_s=settings.track_lost_buffer_s,
                min_iou=settings.track_min_iou,
                min_consecutive_frames=settings.track_min_consecutive_frames,
                frame_rate=sequence.fps,
            )
            scores = score_tracking(sequence, track_sequence(detections, tracker, sequence.fps))
            tracking_rows.append(
                (
                    name,
                    weights_name,
                    scores.mota,
                    scores.idf1,
                    scores.hota,
                    scores.id_switches,
                    scores.false_positives,
                    scores.misses,
                    scores.gt_boxes,
                )
            )
            speed_rows.append(
                (
                    name,
                    weights_name,
                    f"{sequence.width}x{sequence.height}",
                    f"{1000.0 * detector_s:.1f}",
                    f"{1.0 / detector_s:.1f}",
                    f"{1000.0 * pipeline_s:.1f}",
                    f"{1.0 / pipeline_s:.1f}",
                )
            )
    table("Person detection (IoU 0.5)", ["sequence", "weights", "frames", "AP50"], detection_rows)
    table(
        "Tracking (ByteTrack, default settings)",
        ["sequence", "weights", "MOTA", "IDF1", "HOTA", "IDsw", "FP", "FN", "GT boxes"],
        tracking_rows,
    )
    table(
        "Speed on this machine (median per frame, frames decoded beforehand)",
        [
            "sequence",
            "weights",
            "frame",
            "detector ms",
            "detector fps",
            "pipeline ms",
            "pipeline fps",
        ],
        speed_rows,
    )

    handoff_rows = []
    weights_name = args.weights[0]
    for jitter_s in args.jitter:
        right = total = 0
        per_sequence = []
        for name, sequence in sequences.items():
            settings = settings_for(name, WEIGHTS[weights_name])
            seq_right = seq_total = 0
            for seed in range(args.seeds):
                trials = simulate_handoffs(
                    sequence, cached[(weights_name, name)], settings, jitter_s=jitter_s, seed=seed
                )
                seq_right += sum(t.correct for t in trials)
                seq_total += len(trials)
            per_sequence.append(f"{name} {seq_right}/{seq_total}")
            right, total = right + seq_right, total + seq_total
        handoff_rows.append((f"{jitter_s:.1f}", "; ".join(per_sequence), right / max(total, 1)))
    table(
        f"Handoff accuracy ({weights_name} detections, {args.seeds} jitter draws, walk delay "
        f"{settings_for(args.sequences[0], WEIGHTS[weights_name]).walk_delay_s:.0f} s)",
        ["jitter +-s", "right / handoffs", "accuracy"],
        handoff_rows,
    )

    keeping_rows = []
    embedder = OsnetBodyEmbedder(DEFAULT_MODELS_DIR / "reid" / "osnet_x0_25_msmt17.onnx")
    for name, sequence in sequences.items():
        settings = settings_for(name, WEIGHTS[weights_name])
        for occlusion_s in (0.0, args.occlusion_s):
            for reid in (False, True):
                stages = (
                    [
                        IdentityKeeper(
                            embedder,
                            similarity_threshold=settings.reid_similarity_threshold,
                            carry_window_s=settings.reid_carry_window_s,
                            carry_radius_px=settings.reid_carry_radius_px,
                            refresh_s=settings.reid_refresh_s,
                        )
                    ]
                    if reid
                    else None
                )
                result = simulate(
                    sequence,
                    cached[(weights_name, name)],
                    settings,
                    jitter_s=0.5,
                    seed=0,
                    stages=stages,
                    occlusion_s=occlusion_s,
                )
                keeping = result.keeping
                keeping_rows.append(
                    (
                        name,
                        f"{occlusion_s:.1f}",
                        "on" if reid else "off",
                        keeping.expected_frames,
                        keeping.covered_frames,
                        keeping.wrong_frames,
                        keeping.coverage,
                    )
                )
    table(
        f"Identity keeping after handoffs (jitter 0.5 s; each entering person hidden from the detector "
        f"for the given time, 3 s after entering; re-id threshold {settings.reid_similarity_threshold})",
        ["sequence", "occlusion s", "re-id", "expected frames", "right USN", "wrong USN", "coverage"],
        keeping_rows,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
