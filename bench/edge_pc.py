"""cam1 and cam2 on one classroom PC: each client's frame rate alone and both at once.

    python bench/edge_pc.py [--seconds 20] [--every 1 2 3] [--paced] [--json]

cam1: JPEG decode of a 640x480 doorway replay (LFW people) + YuNet + the stable-face gate.
cam2: decode of TUD-Campus (640x480 video) + the YOLOv8n int8 OpenVINO person detector (fixed
640x640 input) on one frame in each ``--every`` (the tracker predicts the others) + ByteTrack
+ the track registry and handoff assigner + OSNet re-id (IdentityKeeper).
Each runs in its own process, as on a classroom PC; frames loop for ``--seconds``. Decoding is
included: it is part of what a camera client pays per frame. Targets: cam2 >= 25 fps, cam1 >= 15 fps
with both running; where a client cannot keep up with its camera, live sources drop frames
(newest frame wins) rather than fall behind.

With ``--paced`` the clients also run as behind live cameras (cam1 at ``--cam1-fps``, cam2 at
``--cam2-fps``): frames arrive at the camera's rate, every frame is decoded as it arrives, and a
client that is busy when frames arrive skips to the newest one; each row then also reports the
share of frames dropped.
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


class Pacer:
    """A live camera's clock: which frame is the newest at each moment, and how many went unseen.

    ``rate`` None: no camera clock, the client takes the next frame as soon as it is free.
    """

    def __init__(self, rate: float | None) -> None:
        self.rate, self.began = rate, time.perf_counter()
        self.taken = self.dropped = 0
        self._last = -1

    def next_frame(self) -> int:
        """Index of the frame to process now: the next one, waited for, or the newest arrived."""
        if self.rate is None:
            self._last += 1
        else:
            newest = int((time.perf_counter() - self.began) * self.rate)
            if newest <= self._last:  # ahead of the camera: wait for its next frame
                time.sleep((self._last + 1) / self.rate - (time.perf_counter() - self.began))
                newest = self._last + 1
            self.dropped += newest - self._last - 1
            self._last = newest
        self.taken += 1
        return self._last

    def elapsed(self) -> float:
        return time.perf_counter() - self.began

    def result(self, name: str) -> tuple[str, float, float]:
        """``(name, processed fps, dropped share)``."""
        arrived = self.taken + self.dropped
        return name, self.taken / self.elapsed(), self.dropped / arrived if arrived else 0.0


def cam1_fps(folder: str, pace: float | None, seconds: float, start: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
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
    pacer = Pacer(pace)
    while pacer.elapsed() < seconds:
        index = pacer.next_frame()
        image = cv2.imread(str(paths[index % len(paths)]), cv2.IMREAD_COLOR)
        gate.update(Frame(image, index, index / (pace or 10.0)))
    out.put(pacer.result("cam1"))


def cam2_fps(every: int, pace: float | None, seconds: float, start: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
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
    pacer, decoded = Pacer(pace), -1
    while pacer.elapsed() < seconds:
        index = pacer.next_frame()
        while decoded < index:  # a live camera's frames are all decoded as they arrive
            ok, image = capture.read()
            if not ok:  # loop: a new clip, new tracks
                capture.release()
                capture = cv2.VideoCapture(str(video))
                pipeline.reset()
                continue
            decoded += 1
        pipeline.process(image, origin + timedelta(seconds=index / (pace or 25.0)))
    out.put(pacer.result("cam2"))


def run(jobs: list[tuple[str, tuple[object, ...]]], seconds: float) -> dict[str, tuple[float, float]]:
    """Start the jobs in processes, let them warm up, run them together: ``{name: (fps, dropped)}``."""
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
    results = {}
    for _ in processes:
        name, fps, dropped = out.get(timeout=seconds + 300)
        results[name] = (fps, dropped)
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
    parser.add_argument(
        "--paced", action="store_true", help="also run behind live-camera clocks and count dropped frames"
    )
    parser.add_argument("--cam1-fps", type=float, default=15.0, help="door camera rate with --paced (15)")
    parser.add_argument("--cam2-fps", type=float, default=25.0, help="room camera rate with --paced (25)")
    parser.add_argument("--json", action="store_true", help="end with the figures as one JSON line")
    args = parser.parse_args(argv)
    from edge_client.cam1.replay import one_photo_per_person, write_doorway_replay

    print(describe_machine())
    rows = []
    with tempfile.TemporaryDirectory(prefix="classsight-edge-") as folder:
        write_doorway_replay(Path(folder), one_photo_per_person(LFW_KNOWN)[:6], fps=10.0, hold_s=3.0)
        alone_cam1 = run([("cam1", (folder, None))], args.seconds)["cam1"][0]
        for every in args.every:
            alone = run([("cam2", (every, None))], args.seconds)["cam2"][0]
            both = run([("cam1", (folder, None)), ("cam2", (every, None))], args.seconds)
            row = {
                "every": every,
                "cam2_alone": alone,
                "cam2_both": both["cam2"][0],
                "cam1_both": both["cam1"][0],
            }
            if args.paced:
                paced = run(
                    [("cam1", (folder, args.cam1_fps)), ("cam2", (every, args.cam2_fps))], args.seconds
                )
                row |= {
                    "cam2_paced": paced["cam2"][0],
                    "cam2_dropped": paced["cam2"][1],
                    "cam1_paced": paced["cam1"][0],
                    "cam1_dropped": paced["cam1"][1],
                }
            rows.append(row | {"load_1m": os.getloadavg()[0]})
    print(f"cam1 alone: {alone_cam1:.1f} fps (decode + YuNet + gate, 640x480)")
    print(describe_machine())
    heads = ["cam2 alone", "cam2 both", "cam1 both"]
    if args.paced:
        print(
            f"paced: cam1 camera {args.cam1_fps:g} fps, cam2 camera {args.cam2_fps:g} fps, both at once; "
            "'dropped' = share of the camera's frames skipped (newest frame wins)"
        )
        heads += ["cam2 paced", "cam2 dropped", "cam1 paced", "cam1 dropped"]
    print(f"{'detect 1/N':>10} " + " ".join(f"{h:>12}" for h in heads) + f" {'load 1m':>8}")
    for row in rows:
        cells = [f"{row['cam2_alone']:.1f}", f"{row['cam2_both']:.1f}", f"{row['cam1_both']:.1f}"]
        if args.paced:
            cells += [
                f"{row['cam2_paced']:.1f}",
                f"{row['cam2_dropped']:.1%}",
                f"{row['cam1_paced']:.1f}",
                f"{row['cam1_dropped']:.1%}",
            ]
        print(f"{row['every']:>10} " + " ".join(f"{c:>12}" for c in cells) + f" {row['load_1m']:>8.2f}")
    if args.json:
        rounded = [{k: round(v, 3) for k, v in row.items()} for row in rows]
        print(json.dumps({"cam1_alone": round(alone_cam1, 1), "runs": rounded}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
