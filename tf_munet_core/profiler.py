"""Stage timings of a separation, collected by an object passed to `separate` (benchmarks)."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

STAGES = {
    "resample": "the input resampled to the model's rate",
    "model_stft": "magnitude STFT at the model's rate (and the log-frequency warp)",
    "network": "the network on magnitude patches (with the masks' unwarp)",
    "masks": "patch masks overlap-averaged, normalised, assigned to channels",
    "input_stft": "each channel's STFT at the input's rate",
    "mapping": "masks mapped onto the input STFTs and applied",
    "istft": "inverse STFTs at the input's rate (overlap-add)",
    "output": "the last source as a residual, block crossfades, result arrays",
}
"""What a `Profiler` measures, stage by stage."""


class Profiler:
    """Wall seconds per stage (`STAGES`) of the separations it is passed to.

    Stages may be timed from several threads: a block's masks are computed while the previous
    block's inverse STFTs run (`streaming.Blocks.stream`), so stage times can add up to more
    than the wall time.
    """

    enabled = True

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    def _add(self, name: str, seconds: float) -> None:
        with self._lock:
            self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    @contextmanager
    def stage(self, name: str):
        """Time a block of work as `name`."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self._add(name, time.perf_counter() - t0)

    def add_threads(self, spent: list[dict[str, float]], wall: float) -> None:
        """Add threads' stage times, scaled so they add up to the wall time they took."""
        total = sum(sum(d.values()) for d in spent) or 1.0
        for d in spent:
            for name, seconds in d.items():
                self._add(name, seconds * wall / total)


class NoProfiler(Profiler):
    """Times nothing (the default)."""

    enabled = False

    @contextmanager
    def stage(self, name: str):
        yield

    def add_threads(self, spent, wall) -> None:
        pass


NO_PROFILER = NoProfiler()
