"""cam1 benchmark: stable-face gate throughput on 640x480 frames, and stable-to-stored latency.

1. Gate fps: YuNet + the stable-face gate over frames already in memory (decode excluded), for a
   doorway replay of LFW people and for the Hamilton clip scaled to 640x480, at two detector
   input sizes (``detect_max_side_px``).
2. Latency: cam1 (real folder source paced in real time, gate, crop/JPEG, SQLite outbox with
   synchronous=FULL, uploader thread) against a local S3 endpoint (moto server); for each capture,
   the time from the gate deciding the face is stable to the outbox commit, and to S3 accepting
   the object.

Usage::

    .venv/bin/python bench/cam1.py [--people 6] [--hold-s 3.0]
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

import boto3
import cv2
import numpy as np
from moto.server import ThreadedMotoServer

from edge_client.cam1.app import Cam1Runner
from edge_client.cam1.capture import Capture
from edge_client.cam1.gate import CaptureDecision, StableFaceGate
from edge_client.cam1.replay import doorway_frames, one_photo_per_person, write_doorway_replay
from edge_client.cam1.settings import Cam1Settings
from edge_client.outbox import OutboxItem
from edge_client.settings import DEFAULT_MODELS_DIR, load_edge_settings
from edge_client.sources import Frame, open_source
from vision.faces import YuNetDetector

SHARED = DEFAULT_MODELS_DIR.parent
YUNET = DEFAULT_MODELS_DIR / "face" / "face_detection_yunet.onnx"
LFW_KNOWN = SHARED / "data" / "faces" / "lfw_subset" / "known"
HAMILTON = SHARED / "data" / "faces" / "face_recognition_examples" / "extra" / "short_hamilton_clip.mp4"


def _lfw_frames(people: int, hold_s: float) -> list[np.ndarray]:
    photos = one_photo_per_person(LFW_KNOWN)[:people]
    return [frame for frame, _ in doorway_frames(photos, fps=10.0, hold_s=hold_s)]


def _hamilton_frames() -> list[np.ndarray]:
    with open_source(HAMILTON) as source:
        return [cv2.resize(f.image, (640, 480), interpolation=cv2.INTER_LINEAR) for f in source]


def _gate_fps(frames: list[np.ndarray], max_side_px: int, fps: float) -> tuple[float, float, int]:
    """(gate fps, detector-only ms/frame, captures) over in-memory frames."""
    detector = YuNetDetector(YUNET, max_side_px=max_side_px)
    detector.detect(frames[0])  # warm-up
    start = time.perf_counter()
    for image in frames:
        detector.detect(image)
    detect_ms = (time.perf_counter() - start) * 1000 / len(frames)
    gate = StableFaceGate(detector)
    captures = 0
    start = time.perf_counter()
    for index, image in enumerate(frames):
        if gate.update(Frame(image, index, index / fps)) is not None:
            captures += 1
    return len(frames) / (time.perf_counter() - start), detect_ms, captures


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _percentiles(values_ms: Iterable[float]) -> str:
    values = sorted(values_ms)
    if not values:
        return "n/a"
    p90 = values[min(len(values) - 1, round(0.9 * (len(values) - 1)))]
    return f"{statistics.median(values):8.1f} {p90:8.1f} {values[-1]:8.1f}"


def _latency(people: int, hold_s: float, workdir: Path) -> tuple[list[float], list[float], int]:
    """(decision->outbox ms, decision->stored ms, captures) for a real-time replay."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        bucket = f"cam1-bench-{uuid.uuid4().hex[:8]}"
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
        folder = workdir / "replay"
        write_doorway_replay(folder, one_photo_per_person(LFW_KNOWN)[:people], fps=10.0, hold_s=hold_s)
        settings: Cam1Settings = load_edge_settings(
            Cam1Settings,
            aws_endpoint_url=endpoint,
            bucket_name=bucket,
            room_id="R101",
            camera_id="door-1",
            source=str(folder),
            source_fps=10.0,
            realtime=True,
            outbox_path=workdir / "outbox.sqlite3",
        )
        decided: dict[str, float] = {}
        stored_at: dict[str, float] = {}
        queued_ms: list[float] = []

        def on_capture(decision: CaptureDecision, capture: Capture) -> None:
            # called right after the outbox commit
            decided[capture.object_key] = decision.decided_monotonic_s
            queued_ms.append((time.monotonic() - decision.decided_monotonic_s) * 1000)

        def on_uploaded(item: OutboxItem) -> None:
            stored_at[item.object_key] = time.monotonic()

        runner = Cam1Runner(settings, drain_on_exit_s=30, on_capture=on_capture, on_uploaded=on_uploaded)
        summary = runner.run()
        stored_ms = [(stored_at[key] - decided[key]) * 1000 for key in decided if key in stored_at]
        return queued_ms, stored_ms, summary.captures
    finally:
        server.stop()


def main() -> None:
    """Run both measurements and print the tables."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=6, help="LFW people in the latency replay (1-12).")
    parser.add_argument("--hold-s", type=float, default=3.0, help="Seconds each person holds still.")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the S3 server's request log

    print(f"cv2 {cv2.__version__}, {os.cpu_count()} CPU(s), cv2 threads {cv2.getNumThreads()}")
    print()
    print("Gate throughput on 640x480 frames (frames in memory; YuNet + stable-face gate)")
    print(f"{'footage':<28} {'frames':>6} {'detect px':>9} {'detect ms':>9} {'gate fps':>8} {'captures':>8}")
    footages = [
        ("LFW doorway replay (12x3s)", _lfw_frames(12, 3.0), 10.0),
        ("Hamilton clip -> 640x480", _hamilton_frames(), 29.97),
    ]
    for name, frames, fps in footages:
        for max_side_px in (640, 320):
            gate_fps, detect_ms, captures = _gate_fps(frames, max_side_px, fps)
            row = f"{name:<28} {len(frames):>6} {max_side_px:>9} {detect_ms:>9.1f} {gate_fps:>8.1f}"
            print(f"{row} {captures:>8}")
    print()

    with tempfile.TemporaryDirectory() as tmp:
        queued, stored, captures = _latency(args.people, args.hold_s, Path(tmp))
    print(
        f"Stable -> stored latency, real-time replay of {args.people} people x {args.hold_s:g} s at 10 fps,"
    )
    print("local S3 endpoint (moto server), outbox synchronous=FULL")
    print(f"{'step':<34} {'n':>3} {'median ms':>9} {'p90 ms':>8} {'max ms':>8}")
    print(f"{'decision -> outbox commit':<34} {len(queued):>3} {_percentiles(queued)}")
    print(f"{'decision -> object stored in S3':<34} {len(stored):>3} {_percentiles(stored)}")
    print(f"captures {captures}")


if __name__ == "__main__":
    main()
