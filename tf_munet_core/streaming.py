"""Long inputs in blocks: bounded memory, crossfaded block edges, reads in file order.

Blocks of `block_seconds` carry `margin` seconds of context on both sides and are crossfaded
linearly over `fade` seconds (the ramps sum to 1, so stems still sum to the mixture). A block's
masks can be computed one block ahead, in a second thread (`Blocks.stream`'s `prepare`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from tf_munet_core.profiler import NO_PROFILER, Profiler

Segment = Callable[..., np.ndarray]
"""Stems (K, n, C) of the input segment (n, C) read from [start, stop): fn(x, start, stop),
or fn(x, start, stop, prepared) with a `Prepare` step."""

Prepare = Callable[[np.ndarray, int, int], object]
"""A segment's first step, fn(x, start, stop): run a block ahead, in a second thread."""


@dataclass(frozen=True)
class Blocks:
    """How a long input is cut (seconds)."""

    block_seconds: float = 30.0
    fade: float = 1.0
    margin: float = 0.5

    def __post_init__(self):
        if self.block_seconds < 2 * self.fade or self.fade <= 0 or self.margin < 0:
            raise ValueError(
                "block_seconds must be at least twice fade, fade > 0, margin >= 0. Received: "
                f"block_seconds={self.block_seconds}, fade={self.fade}, margin={self.margin}"
            )

    def plan(self, total: int, rate: int) -> list[tuple[int, int, int, int]]:
        """[(core_start, core_stop, seg_start, seg_stop)] covering [0, total)."""
        n_blocks = max(1, round(total / (self.block_seconds * rate)))
        core = math.ceil(total / n_blocks)
        ctx = round((self.fade / 2 + self.margin) * rate)
        out = []
        for i in range(n_blocks):
            a, b = i * core, min(total, (i + 1) * core)
            if a >= b:
                break
            out.append((a, b, max(0, a - ctx), min(total, b + ctx)))
        return out

    def stream(self, read: Callable[[int, int], np.ndarray], total: int, rate: int,
               segment: Segment, progress=None, profiler: Profiler = NO_PROFILER,
               prepare: Prepare | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (start, stems (K, n, channels)) of finished samples, in order.

        Each block's stems are weighted by the crossfade ramps (1 away from block boundaries,
        so only the ramps are touched) and the overlap with the previous block is added in.
        `progress.update(seconds)` is called after every block. With `prepare`, a block's first
        step (`prepare(x, start, stop)`, its masks) runs in a second thread while the previous
        block's rest runs (`segment(x, start, stop, prepared)`): the network's idle cycles and
        either side's single-threaded passes overlap. Reads stay in order, in this thread.
        """
        blocks = self.plan(total, rate)
        if prepare is None:
            stems = (segment(read(s0, s1), s0, s1) for _, _, s0, s1 in blocks)
            yield from self._crossfade(blocks, stems, total, rate, progress, profiler)
            return
        with ThreadPoolExecutor(1) as ahead:

            def stems():
                jobs = []  # (x, its prepare job) of this block and the next
                for i, (_, _, s0, s1) in enumerate(blocks):
                    while len(jobs) < 2 and i + len(jobs) < len(blocks):
                        _, _, t0, t1 = blocks[i + len(jobs)]
                        x = read(t0, t1)
                        jobs.append((x, ahead.submit(prepare, x, t0, t1)))
                    x, job = jobs.pop(0)
                    yield segment(x, s0, s1, job.result())

            yield from self._crossfade(blocks, stems(), total, rate, progress, profiler)

    def _crossfade(self, blocks, stems: Iterator[np.ndarray], total: int, rate: int, progress,
                   profiler: Profiler) -> Iterator[tuple[int, np.ndarray]]:
        fade = self.fade * rate
        pending = None  # the previous block's stems from this block's start on
        for i, ((a, b, s0, s1), y) in enumerate(zip(blocks, stems)):
            with profiler.stage("output"):
                if i > 0:  # fade in over [a - fade / 2, a + fade / 2)
                    stop = min(s1, math.ceil(a + fade / 2))
                    pos = np.arange(s0, stop, dtype=np.float64)
                    ramp = np.clip((pos - (a - fade / 2)) / fade, 0, 1)
                    y[:, : stop - s0] *= ramp.astype(np.float32)[None, :, None]
                if i < len(blocks) - 1:  # fade out over (b - fade / 2, b + fade / 2]
                    begin = max(s0, math.floor(b - fade / 2))
                    pos = np.arange(begin, s1, dtype=np.float64)
                    ramp = np.clip(((b + fade / 2) - pos) / fade, 0, 1)
                    y[:, begin - s0 :] *= ramp.astype(np.float32)[None, :, None]
                if pending is not None:
                    y[:, : pending.shape[1]] += pending
            done = blocks[i + 1][2] if i < len(blocks) - 1 else total
            yield s0, y[:, : done - s0]
            pending = y[:, done - s0 :]
            if progress is not None:
                progress.update((b - a) / rate)


class ForwardReader:
    """Serves `read(start, stop)` requests with non-decreasing `start` from a soundfile stream.

    Keeps only the samples not yet passed, so reading a long file never holds more than two
    blocks (the one being finished and the one prepared ahead, plus context) in memory. A file
    shorter than announced is padded with zeros.
    """

    def __init__(self, handle, channels: int):
        self.handle = handle
        self.start = 0
        self.buf = np.zeros((0, channels), np.float32)

    def __call__(self, start: int, stop: int) -> np.ndarray:
        if start > self.start:
            self.buf = self.buf[start - self.start :]
            self.start = start
        need = stop - (self.start + len(self.buf))
        if need > 0:
            data = self.handle.read(need, dtype="float32", always_2d=True)
            if len(data) < need:
                data = np.concatenate([data, np.zeros((need - len(data), data.shape[1]), np.float32)])
            self.buf = np.concatenate([self.buf, data])
        return self.buf[start - self.start : stop - self.start]
