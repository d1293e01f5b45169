"""A one-line progress display for the edge runner (no tqdm on devices): fits 80 columns."""

from __future__ import annotations

import sys
import time


class LineProgress:
    """`update(seconds)` as audio is separated; redraws one line on a terminal, silent elsewhere.

    Args:
        label: what is being separated (cut to fit).
        total: seconds of audio expected (None: unknown).
        stream: where to draw (default stderr); nothing is drawn unless it is a terminal or
            `force` is set.
    """

    width = 79

    def __init__(self, label: str, total: float | None, stream=None, force: bool = False):
        self.stream = stream or sys.stderr
        self.enabled = force or getattr(self.stream, "isatty", lambda: False)()
        self.label = label
        self.total = total
        self.done = 0.0
        self.start = time.perf_counter()

    def update(self, seconds: float) -> None:
        self.done += seconds
        if self.enabled:
            self.stream.write("\r" + self.line())
            self.stream.flush()

    def line(self) -> str:
        """"label  12/600 s audio  2%  ETA 40 s", at most `width` characters."""
        spent = time.perf_counter() - self.start
        if self.total:
            share = min(1.0, self.done / self.total)
            left = spent * (1 - share) / share if share > 0 else 0.0
            info = f" {self.done:.0f}/{self.total:.0f} s audio {100 * share:3.0f}% ETA {left:.0f} s"
        else:
            info = f" {self.done:.0f} s audio in {spent:.0f} s"
        room = self.width - len(info)
        label = self.label if len(self.label) <= room else "..." + self.label[-(room - 3):]
        return (label + info).ljust(self.width)[: self.width]

    def close(self) -> None:
        """Clear the line (the caller prints its summary)."""
        if self.enabled:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
