"""The machine a benchmark ran on, printed beside its figures.

CPUs of one kind of machine differ: int8 inference is about 3x faster with VNNI than with AVX2
alone, so a figure without its CPU says little.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

# The vector extensions that change inference speed, in the order they matter.
_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or the platform's word for it."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def vector_extensions() -> list[str]:
    """Which of the extensions that matter for inference the CPU has."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return []
    for line in cpuinfo.read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            return [flag for flag in _FLAGS if flag in flags]
    return []


def describe_machine() -> str:
    """One line: CPU model, cores, vector extensions and the load average when measured."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    extensions = " ".join(vector_extensions()) or "none of " + " ".join(_FLAGS)
    return f"CPU: {cpu_model()} | {os.cpu_count()} cores | {extensions} | load average {load}"
