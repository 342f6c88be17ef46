"""How much detector work cam2 does per frame on the CPU it runs on, and what that CPU gives.

The person detector is most of cam2's CPU time, and its cost depends on the CPU more than on
anything else: the YOLOv8n int8 OpenVINO detector takes 13-22 ms per 640x480 frame on CPUs with
VNNI (int8 dot-product instructions) and 52.5 ms on an AMD EPYC with AVX2 only. The shared
weights are an int8 export with a fixed 640x640 input (their box decoder holds the 8,400 anchors
of that size, so the graph cannot be reshaped), which leaves one knob: how often the detector runs
(``person_detect_every_n``), with the tracker predicting in between.

Measured on the shared sequences (``bench/cam2.py``, README), skipping detections costs more
identity than it saves: a detector on one frame in 2 took PETS09-S2L1's IDF1 from 0.898 to 0.785
and TUD-Campus's from 0.819 to 0.685, about what dropping those frames costs (0.768, 0.691). A
schedule of 1 in N never detects more people a second than the detector on every frame the CPU
can take, so the plan keeps the detector on every frame on every CPU, and a client that cannot keep
up drops frames (newest frame wins). What the plan works out per CPU is what to expect: the
detector's time (measured at start-up when a detector is given), the frame rate, and the share of
the camera's frames that will drop; cam2 logs it at start-up. ``person_detect_every_n`` stays for a
PC that must leave CPU to other work.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    from edge_client.cam2.detection import PersonDetector

INT8_DOT_PRODUCT_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})
"""``/proc/cpuinfo`` flags of the instructions that make int8 inference about 2.5x faster."""

CpuClass = Literal["int8-dot-product", "avx2", "older"]


@dataclass(frozen=True)
class DetectorPlan:
    """What the detector does on this CPU.

    Attributes:
        cpu_class: the CPU's class for int8 inference.
        detect_every_n: the detector runs on one frame in this many.
        detector_ms: one detection's time on this PC (``measured`` says whether it was timed
            here or taken from :data:`DETECTOR_MS`), before the shared-PC slowdown.
        measured: whether ``detector_ms`` was timed on this PC.
        expected_fps: frames a second cam2 processes at the camera's rate (at most that rate).
        dropped_share: share of the camera's frames expected to drop (newest frame wins).
        reason: one line for the log.
    """

    cpu_class: CpuClass
    detect_every_n: int
    detector_ms: float
    measured: bool
    expected_fps: float
    dropped_share: float
    reason: str


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU's feature flags (empty where ``/proc/cpuinfo`` does not exist)."""
    if not cpuinfo.exists():
        return frozenset()
    for line in cpuinfo.read_text().splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def classify_cpu(flags: Collection[str]) -> CpuClass:
    """The CPU's class for int8 inference, from its feature flags."""
    if INT8_DOT_PRODUCT_FLAGS & set(flags):
        return "int8-dot-product"
    if "avx2" in flags:
        return "avx2"
    return "older"


DETECTOR_MS: dict[CpuClass, float] = {"int8-dot-product": 22.4, "avx2": 52.5, "older": 120.0}
"""Typical ms of one 640x640 int8 detection per CPU class with nothing else running, used where
no detector can be timed: the slower of the VNNI CPUs measured (AMD EPYC 22.4 ms, Intel Xeon
13.3 ms) and the AVX2-only AMD EPYC (README). "older" is an estimate: no such CPU was at hand."""

OTHER_MS = 8.0
"""Per-frame work besides the detector (decode, tracker, re-id refreshes), measured with VNNI."""

SHARED_PC_SLOWDOWN = 1.6
"""How much slower cam2's work runs on a 2-core PC while cam1 runs beside it (measured)."""


def measure_detector_ms(detector: PersonDetector, runs: int = 5) -> float:
    """Median ms of ``runs`` detections on a blank 640x480 frame, after one warm-up detection.

    The detector's input is a fixed 640x640, so its time hardly depends on what the frame shows.
    """
    frame = np.full((480, 640, 3), 114, dtype=np.uint8)
    detector.detect(frame)  # the first inference compiles and allocates
    times = []
    for _ in range(max(runs, 1)):
        began = time.perf_counter()
        detector.detect(frame)
        times.append((time.perf_counter() - began) * 1000.0)
    return statistics.median(times)


def choose_detector_plan(
    flags: Collection[str], cpu_count: int, camera_fps: float, detector_ms: float | None = None
) -> DetectorPlan:
    """The detector plan for a CPU with ``flags`` and ``cpu_count`` cores at ``camera_fps``.

    The detector runs on every frame (see the module's note for the measurements behind it).
    ``detector_ms``, when timed on this PC, replaces the CPU class's typical figure. cam1 runs on
    the same classroom PC, so up to 3 cores the work is counted slower by
    :data:`SHARED_PC_SLOWDOWN`.
    """
    cpu_class = classify_cpu(flags)
    measured = detector_ms is not None
    one_detection_ms = detector_ms if detector_ms is not None else DETECTOR_MS[cpu_class]
    slowdown = SHARED_PC_SLOWDOWN if cpu_count < 4 else 1.0
    frame_ms = (one_detection_ms + OTHER_MS) * slowdown
    camera_fps = max(camera_fps, 1e-3)
    expected_fps = min(camera_fps, 1000.0 / frame_ms)
    dropped_share = 1.0 - expected_fps / camera_fps
    reason = (
        f"{cpu_class} CPU, {cpu_count} cores, {camera_fps:g} fps camera: person detector on every "
        f"frame, {one_detection_ms:.0f} ms a detection "
        f"({'timed at start-up' if measured else 'typical for this CPU class'}), "
        f"about {expected_fps:.0f} fps{' with cam1 beside it' if slowdown > 1.0 else ''}"
    )
    if dropped_share >= 0.005:
        reason += f", about {dropped_share:.0%} of the camera's frames dropped (newest frame wins)"
    return DetectorPlan(cpu_class, 1, one_detection_ms, measured, expected_fps, dropped_share, reason)


def this_machine_plan(camera_fps: float, detector: PersonDetector | None = None) -> DetectorPlan:
    """The plan for the CPU this process runs on, at ``camera_fps``; ``detector`` is timed if given."""
    detector_ms = measure_detector_ms(detector) if detector is not None else None
    return choose_detector_plan(cpu_flags(), os.cpu_count() or 1, camera_fps, detector_ms)
