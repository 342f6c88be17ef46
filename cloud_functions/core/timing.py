"""Per-stage timings for the functions' logs and benchmarks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class Stopwatch:
    """Milliseconds per named stage (a stage entered twice adds up), and the total since creation."""

    def __init__(self) -> None:
        self.timings_ms: dict[str, float] = {}
        self._start = time.perf_counter()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the ``with`` block under ``name``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = (time.perf_counter() - start) * 1e3
            self.timings_ms[name] = round(self.timings_ms.get(name, 0.0) + elapsed, 2)

    @property
    def total_ms(self) -> float:
        """Milliseconds since the stopwatch was made."""
        return round((time.perf_counter() - self._start) * 1e3, 2)
