"""What training prints while it runs: short lines that fit 80 columns, no escape codes.

Keras' own progress bar prints every logged metric on one line (~330 characters for four
sources with task weights), which wraps and garbles at 80-100 columns, and writes ANSI codes into
log files. `TrainingProgress` prints instead:

- on a terminal (`--verbose 1`), a bar rewritten in place during each epoch, cut to the
  terminal's width;
- after every epoch (`--verbose 1` or `2`), a summary of at most 80 columns:

      epoch 3/20  12 s  loss 0.8044  sum 0.8044  val sum 0.9617  best
        val   vocals 0.2565  drums 0.2289  bass 0.2260  other 0.2503
        weights  vocals 1.02  drums 0.97  bass 1.01  other 1.00     (only if not all 1)

`loss` is the weighted sum of the per-source losses that the optimizer minimises; `sum` is their
plain sum, which picks the best epoch (model.keras); they are equal under unit weighting.
"""

from __future__ import annotations

import shutil
import sys
import textwrap
import time

import keras

LEGEND = ("loss: weighted sum of the source losses (what the optimizer minimises); sum: their "
          "plain sum (picks the best epoch, saved as model.keras); equal under --weighting uw")
WIDTH = 80


class TrainingProgress(keras.callbacks.Callback):
    """Progress of `fit` (see the module docstring); reads the epoch records of `state`, so it
    must come after `EpochRecorder` in the callback list."""

    def __init__(self, state, sources, epochs: int, steps: int, live: bool, stream=None):
        super().__init__()
        self.state, self.sources, self.epochs, self.steps = state, list(sources), epochs, steps
        self.stream = stream or sys.stdout
        self.live = live and self.stream.isatty()
        self._t0 = self._drawn = 0.0
        self._epoch = 0

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def on_train_begin(self, logs=None):
        self._write("\n".join(textwrap.wrap(LEGEND, WIDTH)) + "\n")

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._t0, self._drawn = epoch + 1, time.time(), 0.0

    def on_train_batch_end(self, batch, logs=None):
        now = time.time()
        if not self.live or (now - self._drawn < 0.2 and batch + 1 < self.steps):
            return
        self._drawn = now
        done = batch + 1
        eta = (now - self._t0) / done * (self.steps - done)
        loss = (logs or {}).get("loss")
        text = (f" {done}/{self.steps}  ETA {_duration(eta)}"
                + (f"  loss {float(loss):.4f}" if loss is not None else ""))
        head = f"epoch {self._epoch}/{self.epochs} "
        width = min(shutil.get_terminal_size((WIDTH, 24)).columns, 120) - 1
        room = min(30, width - len(head) - len(text) - 2)
        bar = f"[{'#' * round(room * done / self.steps):<{room}}]" if room >= 5 else ""
        self._write("\r" + (head + bar + text)[:width].ljust(width))

    def on_epoch_end(self, epoch, logs=None):
        if self.live:
            width = min(shutil.get_terminal_size((WIDTH, 24)).columns, 120) - 1
            self._write("\r" + " " * width + "\r")
        if not self.state.records or self.state.records[-1]["epoch"] != epoch + 1:
            return  # NaN: the guard explains
        width = WIDTH
        if self.live:
            width = min(WIDTH, shutil.get_terminal_size((WIDTH, 24)).columns - 1)
        self._write("\n".join(epoch_summary(self.state.records[-1], self.epochs,
                                            self.state.best_epoch == epoch + 1, width)) + "\n")


def epoch_summary(record: dict, epochs: int, best: bool, width: int = WIDTH) -> list[str]:
    """Lines of at most `width` columns for one history record (see the module docstring)."""
    train, val = record.get("train", {}), record.get("val", {})
    head = [f"epoch {record['epoch']}/{epochs}", _duration(record.get("epoch_time_s", 0))]
    for name, value in (("loss", train.get("weighted")), ("sum", train.get("sum")),
                        ("val sum", val.get("sum"))):
        if value is not None:
            head.append(f"{name} {value:.4f}")
    lines = _wrapped("", head + (["best"] if best else []), width)
    sources = [s for s in val if s not in ("sum", "weighted")]
    if sources:
        lines += _wrapped("  val  ", [f"{s} {val[s]:.4f}" for s in sources], width)
    weights = record.get("task_weights") or {}
    if any(abs(w - 1.0) > 1e-6 for w in weights.values()):
        lines += _wrapped("  weights  ", [f"{s} {w:.3g}" for s, w in weights.items()], width)
    return lines


def _wrapped(prefix: str, items: list[str], width: int) -> list[str]:
    """Items joined by two spaces, wrapped between items (never inside one)."""
    lines, line, empty = [], prefix, True
    for item in items:
        if not empty and len(line) + 2 + len(item) > width:
            lines.append(line)
            line, empty = " " * (len(prefix) or 2), True
        line += ("" if empty else "  ") + item
        empty = False
    return [*lines, line]


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
