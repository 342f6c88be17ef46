"""Door liveness benchmark: APCER / BPCER / ACER of the fused decision and of each source alone.

Usage::

    .venv/bin/python bench/liveness.py [--data ../shared/data/antispoof] [--simulate] [--json]

``--data DIR`` holds images and/or videos and a ``labels.csv`` with at least ``file,label``
(label ``real`` or ``spoof``, file relative to DIR); an ``attack`` column is reported per attack
type and a ``subject`` column keeps people apart (else NUAA file-name prefixes, the video's
folder, the image itself). Images are single-frame samples (the model, texture and device
evidence only); each video is cut into 2 s windows, each window one sample, judged as cam1
judges its stable window (frames at 10 fps, YuNet boxes, devices on 3 frames).

``--simulate`` adds **simulated** held-up-photo windows: every still in DIR (live or spoof)
re-rendered as a photo swaying as one plane (``vision.liveness.evaluation``). They are spoofs,
reported apart, and are the only test of planar motion against photos here.

Printed: the configured operating point (the defaults of ``LivenessSettings``, chosen on this
data: optimistic), then leave-one-subject-out figures (thresholds chosen on the other subjects by
the same rule, reported on the held-out one), per attack type, and latency per window on this
CPU. With ``--json`` the last line is one JSON object with ``apcer``, ``bpcer``, ``acer``,
``samples`` and the rest.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra.models.convert_antispoof import ensure_converted
from vision.faces import YuNetDetector
from vision.liveness import (
    LivenessChecker,
    LivenessSettings,
    Source,
    WindowFrame,
    evenly_spaced,
)
from vision.liveness.evaluation import (
    ErrorRates,
    LabelledFile,
    TimedFrame,
    choose_threshold,
    error_rates,
    read_labels,
    simulated_photo_window,
    video_windows,
)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DEFAULT_DATA = SHARED / "data" / "antispoof"
YUNET = SHARED / "models" / "face" / "face_detection_yunet.onnx"
PERSON_WEIGHTS = SHARED / "models" / "person" / "yolov8n_int8_openvino_model"
DEVICE_FRAMES = 3
SOURCES = (Source.MODEL, Source.PLANAR, Source.DEVICE, Source.TEXTURE)
BPCER_BUDGET = 0.05
"""The whole budget goes to the model; the other sources are strong evidence and get none."""


@dataclass
class Sample:
    """One judged sample: what every source measured, kept raw so thresholds can be re-chosen."""

    name: str
    is_spoof: bool
    attack: str
    subject: str
    window: bool
    simulated: bool = False
    scores: dict[Source, float | None] = field(default_factory=dict)
    motion: float | None = None
    argmax_real: float | None = None
    check_ms: float = 0.0
    detect_ms: float = 0.0
    device_ms: float = 0.0


@dataclass(frozen=True)
class Thresholds:
    model: float
    planar_residual: float
    planar_motion: float
    device: float
    texture: float

    @classmethod
    def of(cls, s: LivenessSettings) -> Thresholds:
        return cls(
            s.liveness_model_threshold,
            s.liveness_planar_max_residual,
            s.liveness_planar_min_motion,
            s.liveness_device_min_confidence,
            s.liveness_texture_threshold,
        )


def flags(sample: Sample, t: Thresholds) -> dict[Source, bool]:
    """Which sources find a spoof in ``sample`` at thresholds ``t`` (inconclusive = not flagged)."""
    sc = sample.scores
    model = sc.get(Source.MODEL)
    planar = sc.get(Source.PLANAR)
    device = sc.get(Source.DEVICE)
    texture = sc.get(Source.TEXTURE)
    return {
        Source.MODEL: model is not None and model < t.model,
        Source.PLANAR: planar is not None
        and sample.motion is not None
        and sample.motion >= t.planar_motion
        and planar < t.planar_residual,
        Source.DEVICE: device is not None and device >= t.device,
        Source.TEXTURE: texture is not None and texture > t.texture,
    }


def fused(sample: Sample, t: Thresholds) -> bool:
    return any(flags(sample, t).values())


def choose(samples: Sequence[Sample], base: Thresholds) -> Thresholds:
    """The operating-point rule on ``samples``; a source with nothing to learn from keeps ``base``."""

    def pick(
        get: Callable[[Sample], float | None],
        keep: Callable[[Sample], bool],
        *,
        below: bool,
        budget: float,
        default: float,
    ) -> float:
        chosen = [(s, get(s)) for s in samples if keep(s)]
        real = [v for s, v in chosen if v is not None and not s.is_spoof]
        spoof = [v for s, v in chosen if v is not None and s.is_spoof]
        if not real or not spoof:
            return default
        value = choose_threshold(real, spoof, spoof_below=below, max_bpcer=budget)
        return default if value is None else value

    moving = [s for s in samples if s.motion is not None and s.motion >= base.planar_motion]
    # The model's thresholds are chosen on real material only: simulated photo windows are
    # pristine photos the model is not meant to catch (planar motion is).
    return replace(
        base,
        model=pick(
            lambda s: s.scores.get(Source.MODEL),
            lambda s: not s.simulated,
            below=True,
            budget=BPCER_BUDGET,
            default=base.model,
        ),
        planar_residual=pick(
            lambda s: s.scores.get(Source.PLANAR),
            lambda s: s in moving,
            below=True,
            budget=0.0,
            default=base.planar_residual,
        ),
        device=pick(
            lambda s: s.scores.get(Source.DEVICE),
            lambda s: True,
            below=False,
            budget=0.0,
            default=base.device,
        ),
    )


# --- judging samples ---------------------------------------------------------------------------------


class Judge:
    """Runs YuNet, the device detector (when available) and the checker as cam1 would."""

    def __init__(self, checker: LivenessChecker, detector: YuNetDetector, devices: object | None) -> None:
        self.checker = checker
        self.detector = detector
        self.devices = devices

    def _frames(self, timed: Sequence[TimedFrame]) -> tuple[list[WindowFrame], float, float]:
        detect_ms = device_ms = 0.0
        found: list[tuple[TimedFrame, tuple[float, float, float, float]]] = []
        for frame in timed:
            started = time.perf_counter()
            faces = self.detector.detect(frame.image)
            detect_ms += (time.perf_counter() - started) * 1000.0
            if faces:
                x1, y1, x2, y2 = (float(v) for v in faces[0].xyxy)
                found.append((frame, (x1, y1, x2, y2)))
        device_at = set(evenly_spaced(len(found), DEVICE_FRAMES)) if self.devices is not None else set()
        window = []
        for i, (frame, box) in enumerate(found):
            devices: tuple = ()
            if i in device_at:
                started = time.perf_counter()
                devices = self.devices.detect(frame.image)  # type: ignore[attr-defined]
                device_ms += (time.perf_counter() - started) * 1000.0
            window.append(WindowFrame(frame.image, box, frame.timestamp_s, devices, i in device_at))
        return window, detect_ms, device_ms

    def judge(
        self, name: str, row: LabelledFile, timed: Sequence[TimedFrame], *, simulated: bool
    ) -> Sample | None:
        frames, detect_ms, device_ms = self._frames(timed)
        if not frames:
            return None
        decision = self.checker.assess_window(frames)
        sample = Sample(
            name,
            row.is_spoof or simulated,
            row.attack if not simulated else f"simulated held-up photo ({row.attack} still)",
            row.subject,
            window=len(timed) > 1,
            simulated=simulated,
            check_ms=decision.elapsed_ms,
            detect_ms=detect_ms / len(timed),
            device_ms=device_ms / max(1, min(DEVICE_FRAMES, len(frames))),
        )
        for e in decision.evidence:
            # Raw figures, also of inconclusive sources (a planar residual measured on too little
            # motion), so the thresholds can be re-chosen without judging again.
            sample.scores[e.source] = e.score
            if e.source is Source.PLANAR:
                sample.motion = e.measures.get("motion")
            if e.source is Source.MODEL:
                sample.argmax_real = e.measures.get("argmax_real")
        return sample


def collect(
    judge: Judge, rows: Sequence[LabelledFile], *, window_s: float, fps: float, simulate: bool
) -> tuple[list[Sample], int]:
    samples: list[Sample] = []
    no_face = 0
    for row in rows:
        if row.is_video:
            for k, window in enumerate(video_windows(row.path, window_s=window_s, fps=fps)):
                sample = judge.judge(f"{row.path.name}#{k}", row, window, simulated=False)
                no_face += sample is None
                samples += [sample] if sample else []
            continue
        image = cv2.imread(str(row.path), cv2.IMREAD_COLOR)
        if image is None:
            no_face += 1
            continue
        sample = judge.judge(
            row.path.name, row, [TimedFrame(np.asarray(image, dtype=np.uint8), 0.0)], simulated=False
        )
        no_face += sample is None
        samples += [sample] if sample else []
        if simulate:
            seed = zlib.crc32(row.path.name.encode())
            window = simulated_photo_window(image, frames=round(window_s * fps), fps=fps, seed=seed)
            sample = judge.judge(f"sim:{row.path.name}", row, window, simulated=True)
            samples += [sample] if sample else []
    return samples, no_face


# --- reporting ---------------------------------------------------------------------------------------


def rates(samples: Sequence[Sample], decide: Callable[[Sample], bool]) -> ErrorRates:
    return error_rates([s.is_spoof for s in samples], [decide(s) for s in samples])


def loso(samples: Sequence[Sample], base: Thresholds) -> tuple[list[bool], dict[str, Thresholds]]:
    """Leave one subject out: choose on the others, decide the held-out subject's samples."""
    decided: dict[int, bool] = {}
    per_subject = {}
    for subject in sorted({s.subject for s in samples}):
        train = [s for s in samples if s.subject != subject]
        t = choose(train, base)
        per_subject[subject] = t
        for i, s in enumerate(samples):
            if s.subject == subject:
                decided[i] = fused(s, t)
    return [decided[i] for i in range(len(samples))], per_subject


def pct(x: float) -> str:
    return f"{100.0 * x:5.1f}%"


def table(title: str, rows: list[tuple[str, ErrorRates]]) -> None:
    print(f"\n{title}")
    print(f"| {'decision':<36} | attacks | live | APCER  | BPCER  | ACER   |")
    print(f"|{'-' * 38}|---------|------|--------|--------|--------|")
    for name, r in rows:
        counts = f"{r.attacks:7d} | {r.bona_fide:4d}"
        print(f"| {name:<36} | {counts} | {pct(r.apcer)} | {pct(r.bpcer)} | {pct(r.acer)} |")


def cpu_line() -> str:
    model, flags_found = platform.processor() or "?", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags_found = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    wanted = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni") if f in flags_found]
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    extensions = " ".join(wanted) or "no AVX2"
    averages = " ".join(f"{x:.2f}" for x in load)
    return f"{model}, {os.cpu_count()} CPU(s), {extensions}, load average {averages}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with labels.csv")
    parser.add_argument("--window-s", type=float, default=2.0, help="window length for videos")
    parser.add_argument("--fps", type=float, default=10.0, help="frames per second judged in a window")
    parser.add_argument("--simulate", action="store_true", help="add simulated held-up-photo windows")
    parser.add_argument("--no-devices", action="store_true", help="skip the COCO device detector")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--dump", type=Path, help="write every sample's raw figures here (JSON lines)")
    args = parser.parse_args(argv)

    ensure_converted()
    settings = LivenessSettings(liveness_mode="enforce")
    checker = LivenessChecker(settings)
    devices = None
    if not args.no_devices:
        try:
            from edge_client.cam2.detection import YoloDeviceDetector

            devices = YoloDeviceDetector(PERSON_WEIGHTS)
        except ImportError:
            print("device detector unavailable (no ultralytics): device evidence inconclusive")
    judge = Judge(checker, YuNetDetector(YUNET), devices)
    rows = read_labels(args.data)
    samples, no_face = collect(judge, rows, window_s=args.window_s, fps=args.fps, simulate=args.simulate)
    if not samples:
        print("no sample had a face")
        return 1

    if args.dump:
        with args.dump.open("w", encoding="utf-8") as f:
            for s in samples:
                row = {k: v for k, v in vars(s).items() if k != "scores"}
                row["scores"] = {k.value: v for k, v in s.scores.items()}
                f.write(json.dumps(row) + "\n")

    base = Thresholds.of(settings)
    given = [s for s in samples if not s.simulated]
    simulated = [s for s in samples if s.simulated]
    print(
        f"data: {args.data} — {len(given)} samples ({sum(not s.window for s in given)} images, "
        f"{sum(s.window for s in given)} video windows of {args.window_s:g} s)"
        + (f" + {len(simulated)} simulated photo windows" if simulated else "")
        + f"; {no_face} without a face left out"
    )
    print(
        f"operating point (LivenessSettings defaults): model < {base.model:g}, "
        f"planar residual < {base.planar_residual:g} when motion >= {base.planar_motion:g}, "
        f"device >= {base.device:g}, texture > {base.texture:g}"
    )

    def by_source(group: Sequence[Sample], t: Thresholds) -> list[tuple[str, ErrorRates]]:
        out = [("fused (any source)", rates(group, lambda s: fused(s, t)))]
        for source in SOURCES:
            out.append((f"{source.value} alone", rates(group, lambda s, src=source: flags(s, t)[src])))
        return out

    table(
        "Configured operating point, data as given (thresholds chosen on this data: optimistic)",
        by_source(given, base),
    )
    if simulated:
        table("Configured operating point, given + SIMULATED photo windows", by_source(samples, base))

    chosen_all = choose(samples, base)
    print(
        f"\nrule applied to all samples (BPCER <= {BPCER_BUDGET:.0%} on the model, 0 on the rest): "
        f"model < {chosen_all.model:.4g}, "
        f"planar residual < {chosen_all.planar_residual:.4g}, device >= {chosen_all.device:.4g}"
    )

    held_out, per_subject = loso(samples, base)
    loso_rates = error_rates([s.is_spoof for s in samples], held_out)
    wrong = [s.name for s, said in zip(samples, held_out, strict=True) if said != s.is_spoof]
    single = [s for s in samples if not s.window]
    single_frame_baseline = rates([s for s in single if not s.simulated], lambda s: s.argmax_real == 0.0)
    table(
        f"Leave one subject out ({len(per_subject)} subjects; thresholds chosen without the reported one)",
        [
            ("fused, held-out subjects", loso_rates),
            ("baseline: one image, upstream argmax", single_frame_baseline),
        ],
    )

    print(f"held-out errors: {', '.join(wrong) or 'none'}")
    print("\nPer attack type (configured operating point; APCER for attacks, BPCER for live)")
    print("| attack type                                   | samples | error  | caught by |")
    print("|-----------------------------------------------|---------|--------|-----------|")
    groups: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        groups[s.attack].append(s)
    per_attack = {}
    for attack, group in sorted(groups.items()):
        wrong = [fused(s, base) != s.is_spoof for s in group]
        counts: dict[str, int] = defaultdict(int)
        for s in group:
            for source, flagged in flags(s, base).items():
                counts[source.value] += flagged
        caught = ", ".join(f"{k} {v}" for k, v in counts.items() if v) or "-"
        per_attack[attack] = sum(wrong) / len(group)
        print(f"| {attack[:45]:<45} | {len(group):7d} | {pct(per_attack[attack])} | {caught} |")

    windows = [s for s in samples if s.window]
    print(f"\nLatency on {cpu_line()}")
    print("| per window (median / p95)                     |      ms       |")
    print("|-----------------------------------------------|---------------|")

    def med_p95(values: list[float]) -> str:
        if not values:
            return "-"
        return f"{statistics.median(values):6.1f} / {float(np.percentile(values, 95)):6.1f}"

    check = f"liveness check ({settings.liveness_window_frames} model frames, planar, texture)"
    print(f"| {check:<46} | {med_p95([s.check_ms for s in windows])} |")
    print(f"| {'liveness check, one image':<46} | {med_p95([s.check_ms for s in single])} |")
    print(f"| {'YuNet per frame (cam1 runs it anyway)':<46} | {med_p95([s.detect_ms for s in samples])} |")
    if devices is not None:
        device = f"device detector per checked frame ({DEVICE_FRAMES}/window)"
        print(f"| {device:<46} | {med_p95([s.device_ms for s in windows])} |")

    fused_given = rates(given, lambda s: fused(s, base))
    if args.json:
        print(
            json.dumps(
                {
                    "apcer": round(fused_given.apcer, 4),
                    "bpcer": round(fused_given.bpcer, 4),
                    "acer": round(fused_given.acer, 4),
                    "samples": len(given),
                    "simulated_samples": len(simulated),
                    "loso": {
                        "apcer": round(loso_rates.apcer, 4),
                        "bpcer": round(loso_rates.bpcer, 4),
                        "acer": round(loso_rates.acer, 4),
                    },
                    "per_source": {
                        name: {"apcer": round(r.apcer, 4), "bpcer": round(r.bpcer, 4)}
                        for name, r in by_source(samples, base)
                    },
                    "per_attack": {k: round(v, 4) for k, v in per_attack.items()},
                    "window_check_ms_median": round(statistics.median([s.check_ms for s in windows]), 2)
                    if windows
                    else None,
                }
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
