"""How much detector work cam2 does per frame, chosen from the CPU it runs on.

The person detector is most of cam2's CPU time, and its cost depends on the CPU more than on
anything else: the YOLOv8n int8 OpenVINO detector takes about 20 ms per 640x480 frame on a
Xeon with VNNI (int8 dot-product instructions) and 52.5 ms on an AMD EPYC with AVX2 only. The
shared weights are an int8 export with a fixed 640x640 input (their box decoder holds the 8,400
anchors of that size, so the graph cannot be reshaped), which leaves one knob to choose per CPU:
how often the detector runs (``person_detect_every_n``), with the tracker predicting in between.
The figures behind each choice are in the README (``bench/edge_pc.py``).
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

INT8_DOT_PRODUCT_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})
"""``/proc/cpuinfo`` flags of the instructions that make int8 inference about 2.5x faster."""

CpuClass = Literal["int8-dot-product", "avx2", "older"]


@dataclass(frozen=True)
class DetectorPlan:
    """What the detector does on this CPU.

    Attributes:
        cpu_class: the CPU's class for int8 inference.
        detect_every_n: the detector runs on one frame in this many.
        reason: one line for the log: why.
    """

    cpu_class: CpuClass
    detect_every_n: int
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


DETECTOR_MS: dict[CpuClass, float] = {"int8-dot-product": 20.0, "avx2": 52.5, "older": 120.0}
"""Measured ms of one 640x640 int8 detection, per CPU class, with nothing else running (README).
"older" is an estimate: no such CPU was at hand."""

OTHER_MS = 8.0
"""Per-frame work besides the detector (decode, tracker, re-id refreshes), measured with VNNI."""

SHARED_PC_SLOWDOWN = 1.6
"""How much slower cam2's work runs on a 2-core PC while cam1 runs beside it (measured)."""

MAX_DETECT_EVERY_N = 4


def choose_detector_plan(flags: Collection[str], cpu_count: int, camera_fps: float) -> DetectorPlan:
    """The detector schedule for a CPU with ``flags`` and ``cpu_count`` cores at ``camera_fps``.

    The detector runs on every frame when that keeps up with the camera; otherwise on the
    fewest frames that do (at most 1 in 4: between detections people are only predicted).
    cam1 runs on the same classroom PC, so up to 3 cores the work is counted slower by
    :data:`SHARED_PC_SLOWDOWN`.
    """
    cpu_class = classify_cpu(flags)
    slowdown = SHARED_PC_SLOWDOWN if cpu_count < 4 else 1.0
    frame_budget_ms = 1000.0 / max(camera_fps, 1e-3)
    detector_ms, other_ms = DETECTOR_MS[cpu_class] * slowdown, OTHER_MS * slowdown
    every = next(
        (n for n in range(1, MAX_DETECT_EVERY_N + 1) if detector_ms / n + other_ms <= frame_budget_ms),
        MAX_DETECT_EVERY_N,
    )
    reason = (
        f"{cpu_class} CPU, {cpu_count} cores, {camera_fps:g} fps camera: "
        f"person detector on 1 frame in {every} (about {detector_ms:.0f} ms a detection here)"
    )
    return DetectorPlan(cpu_class, every, reason)


def this_machine_plan(camera_fps: float) -> DetectorPlan:
    """The plan for the CPU this process runs on, at ``camera_fps``."""
    return choose_detector_plan(cpu_flags(), os.cpu_count() or 1, camera_fps)
