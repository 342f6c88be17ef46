"""What a timing was measured on: CPU model, its vector extensions, and the load at the time."""

from __future__ import annotations

import os
from pathlib import Path

_EXTENSIONS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni")


def machine_summary() -> str:
    """One line: CPU model, cores, AVX2/AVX-512/VNNI support and the load average."""
    model, flags = "unknown CPU", set[str]()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model == "unknown CPU":
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    extensions = " ".join(name for name in _EXTENSIONS if name in flags) or "no AVX2"
    one, five, fifteen = os.getloadavg()
    return f"{model}, {os.cpu_count()} cores, {extensions}; load average {one:.2f} {five:.2f} {fifteen:.2f}"
