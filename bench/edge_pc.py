"""cam1 and cam2 on one classroom PC: each client's frame rate alone and both at once.

    python bench/edge_pc.py [--seconds 20] [--every 1 2 3] [--json]

cam1: JPEG decode of a 640x480 doorway replay (LFW people) + YuNet + the stable-face gate.
cam2: decode of TUD-Campus (640x480 video) + the YOLOv8n int8 OpenVINO person detector (fixed
640x640 input) on one frame in each ``--every`` (the tracker predicts the others) + ByteTrack
+ the track registry and handoff assigner + OSNet re-id (IdentityKeeper).
Each runs in its own process, as on a classroom PC; frames loop for ``--seconds``. Decoding is
included: it is part of what a camera client pays per frame. Targets: cam2 >= 25 fps, cam1 >= 15 fps
with both running; where a client cannot keep up with its camera, live sources drop frames
(newest frame wins) rather than fall behind.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))

from machine import describe_machine  # noqa: E402

from edge_client.settings import DEFAULT_MODELS_DIR  # noqa: E402

SHARED = DEFAULT_MODELS_DIR.parent
LFW_KNOWN = SHARED / "data" / "faces" / "lfw_subset" / "known"
TUD = SHARED / "data" / "tracking" / "TUD-Campus"


def cam1_fps(folder: str, seconds: float, start: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    """Frames per second of cam1's per-frame work (decode, detect, gate), looping the replay."""
    import cv2

    from edge_client.cam1.app import build_detector, build_gate
    from edge_client.cam1.settings import Cam1Settings
    from edge_client.sources import Frame

    settings = Cam1Settings(source=folder, bucket_name="bench", room_id="R101", camera_id="R101-door")
    gate = build_gate(settings, build_detector(settings))
    paths = sorted(Path(folder).glob("*.jpg"))
    gate.update(Frame(cv2.imread(str(paths[0]), cv2.IMREAD_COLOR), 0, 0.0))  # warm-up
    gate = build_gate(settings, build_detector(settings))
    while time.time() < start:
        time.sleep(0.01)
    frames, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        path = paths[frames % len(paths)]
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        gate.update(Frame(image, frames, frames / 10.0))
        frames += 1
    out.put(("cam1", frames / (time.perf_counter() - began)))


def cam2_fps(every: int, seconds: float, start: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    """Frames per second of cam2's per-frame work (decode, detect, track, re-id), looping the video."""
    from datetime import UTC, datetime, timedelta

    import cv2

    from edge_client.cam2.app import build_detector, build_pipeline
    from edge_client.cam2.settings import Cam2Settings

    video = next(TUD.glob("*.mp4"))
    settings = Cam2Settings(
        source=str(video),
        bucket_name="bench",
        room_id="R101",
        camera_id="R101-room",
        door_zone=[(0, 300), (90, 300), (90, 480), (0, 480)],
        person_detect_every_n=every,
        reid_enabled=True,
        stream_enabled=False,
    )
    pipeline = build_pipeline(settings, detector=build_detector(settings), sink=None, frame_rate=25.0)
    capture = cv2.VideoCapture(str(video))
    origin = datetime.now(UTC)
    for index in range(5):  # warm-up: the first inferences compile and allocate
        ok, image = capture.read()
        pipeline.process(image, origin + timedelta(seconds=index / 25.0))
    pipeline.reset()
    capture.release()
    capture = cv2.VideoCapture(str(video))
    origin += timedelta(seconds=1)
    while time.time() < start:
        time.sleep(0.01)
    frames, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        ok, image = capture.read()
        if not ok:  # loop: a new clip, new tracks
            capture.release()
            capture = cv2.VideoCapture(str(video))
            pipeline.reset()
            continue
        pipeline.process(image, origin + timedelta(seconds=frames / 25.0))
        frames += 1
    out.put(("cam2", frames / (time.perf_counter() - began)))


def run(jobs: list[tuple[str, tuple[object, ...]]], seconds: float) -> dict[str, float]:
    """Start the jobs in processes, let them warm up, run them together, collect their fps."""
    context = mp.get_context("spawn")
    out = context.Queue()
    start = time.time() + 25.0  # models load first; the timed loops start together
    targets = {"cam1": cam1_fps, "cam2": cam2_fps}
    processes = [
        context.Process(target=targets[name], args=(*args, seconds, start, out), daemon=True)
        for name, args in jobs
    ]
    for process in processes:
        process.start()
    results = dict(out.get(timeout=seconds + 300) for _ in processes)
    for process in processes:
        process.join(30)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="timed seconds per run (20)")
    parser.add_argument(
        "--every", type=int, nargs="+", default=[1, 2, 3], help="cam2 person_detect_every_n values (1 2 3)"
    )
    parser.add_argument("--json", action="store_true", help="end with the figures as one JSON line")
    args = parser.parse_args(argv)
    from edge_client.cam1.replay import one_photo_per_person, write_doorway_replay

    print(describe_machine())
    rows = []
    with tempfile.TemporaryDirectory(prefix="classsight-edge-") as folder:
        write_doorway_replay(Path(folder), one_photo_per_person(LFW_KNOWN)[:6], fps=10.0, hold_s=3.0)
        alone_cam1 = run([("cam1", (folder,))], args.seconds)["cam1"]
        for every in args.every:
            alone = run([("cam2", (every,))], args.seconds)["cam2"]
            both = run([("cam1", (folder,)), ("cam2", (every,))], args.seconds)
            load = os.getloadavg()[0]
            rows.append(
                {
                    "every": every,
                    "cam2_alone": alone,
                    "cam2_both": both["cam2"],
                    "cam1_both": both["cam1"],
                    "load_1m": load,
                }
            )
    print(f"cam1 alone: {alone_cam1:.1f} fps (decode + YuNet + gate, 640x480)")
    print(describe_machine())
    print(f"{'detect 1/N':>10} {'cam2 alone':>10} {'cam2 both':>10} {'cam1 both':>10} {'load 1m':>8}")
    for row in rows:
        cells = (row["cam2_alone"], row["cam2_both"], row["cam1_both"])
        print(f"{row['every']:>10} " + " ".join(f"{v:>10.1f}" for v in cells) + f" {row['load_1m']:>8.2f}")
    if args.json:
        rounded = [{k: round(v, 1) for k, v in row.items()} for row in rows]
        print(json.dumps({"cam1_alone": round(alone_cam1, 1), "runs": rounded}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
