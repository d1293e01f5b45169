"""Plots for the notebooks: spectrograms of a mixture and its stems, training curves read from
run folders' history.json (per-source losses, task weights), and an export's sizes and latency.

Every function returns a matplotlib Figure: a notebook displays it, a script calls
`fig.savefig(path)`. matplotlib is imported inside the functions (pyplot picks its backend at
first use, so `MPLBACKEND=Agg` works for headless runs).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from tf_munet.errors import UserError

PathLike = str | os.PathLike


def read_history(run_dir: PathLike) -> dict:
    """A run folder's history.json (see `tf_munet.run_dir`), with a clear error if missing."""
    path = Path(run_dir) / "history.json"
    if not path.is_file():
        raise UserError(f"{path}: not found (is {run_dir} a trained run folder?)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: unreadable JSON ({exc})") from None


def _mono(wave: np.ndarray) -> np.ndarray:
    x = np.asarray(wave, np.float32)
    return x.mean(axis=1) if x.ndim == 2 else x


def spectrogram_db(wave: np.ndarray, rate: int, n_fft: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Power spectrogram in dB of a (samples,) or (samples, channels) waveform (channels averaged).

    Args:
        n_fft: window length; None picks the power of two closest to 46 ms at `rate`.

    Returns:
        (db (bins, frames), frequencies in Hz (bins,), times in s (frames,)).
    """
    from matplotlib import mlab

    x = _mono(wave)
    n_fft = n_fft or int(2 ** round(np.log2(0.046 * rate)))
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    power, freqs, times = mlab.specgram(x, NFFT=n_fft, Fs=rate, noverlap=3 * n_fft // 4,
                                        mode="psd", scale_by_freq=False)
    return 10 * np.log10(power + 1e-12), freqs, times


def plot_spectrograms(
    signals: Mapping[str, np.ndarray],
    rate: int,
    references: Mapping[str, np.ndarray] | None = None,
    max_hz: float | None = None,
    dynamic_range_db: float = 80.0,
    n_fft: int | None = None,
    seconds: float | None = None,
    reference_label: str = "reference",
):
    """One spectrogram per signal (rows), e.g. {"mixture": mix, "vocals": ..., ...}.

    All panels share one colour scale whose top is the loudest bin of all signals, so a quiet
    stem looks quiet. With `references` (e.g. the true stems), a second column shows the
    reference of every signal that has one.

    Args:
        signals: name -> (samples,) or (samples, channels) waveform at `rate`.
        references: name -> reference waveform, same rate.
        max_hz: upper frequency shown (None: rate / 2).
        dynamic_range_db: dB below the top of the colour scale shown as black.
        seconds: show only the first `seconds` of every signal (None: all of it).
        reference_label: column title suffix of the references, e.g. "Keras".
    """
    import matplotlib.pyplot as plt

    if not signals:
        raise ValueError("plot_spectrograms needs at least one signal")
    cut = slice(None) if seconds is None else slice(0, int(seconds * rate))
    signals = {name: np.asarray(x)[cut] for name, x in signals.items()}
    refs = {name: np.asarray(x)[cut] for name, x in (references or {}).items()}
    columns = 2 if any(name in refs for name in signals) else 1
    specs = {name: spectrogram_db(x, rate, n_fft) for name, x in signals.items()}
    ref_specs = {name: spectrogram_db(refs[name], rate, n_fft) for name in signals if name in refs}
    top = max(float(s[0].max()) for s in [*specs.values(), *ref_specs.values()])
    fig, axes = plt.subplots(len(signals), columns, figsize=(6.5 * columns, 1.9 * len(signals) + 0.6),
                             squeeze=False, sharex=True, sharey=True, layout="constrained")
    image = None
    for row, name in enumerate(signals):
        panels = [(specs[name], name)]
        if columns == 2:
            panels.append((ref_specs.get(name), f"{name} ({reference_label})"))
        for col, (spec, title) in enumerate(panels):
            ax = axes[row][col]
            if spec is None:
                ax.set_axis_off()
                continue
            db, freqs, times = spec
            image = ax.pcolormesh(times, freqs, db, shading="auto", cmap="magma",
                                  vmin=top - dynamic_range_db, vmax=top)
            ax.set_title(title, fontsize=9)
            ax.set_ylim(0, max_hz or rate / 2)
            ax.set_xlim(0, max(len(x) for x in signals.values()) / rate)
            if col == 0:
                ax.set_ylabel("Hz")
    for ax in axes[-1]:
        ax.set_xlabel("time (s)")
    if image is not None:
        fig.colorbar(image, ax=axes, label="dB", shrink=0.8)
    return fig


def _epoch_axis(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)


def _epochs(history: dict) -> list[dict]:
    records = history.get("epochs", [])
    if not records:
        raise UserError("history.json has no finished epoch yet")
    return records


def plot_source_losses(runs: Mapping[str, PathLike], splits: tuple[str, ...] = ("train", "val")):
    """Per-source losses across epochs: one panel per source, one colour per run, solid lines
    for training and dashed for validation losses (unweighted, as history.json stores them).

    Args:
        runs: label -> run folder.
        splits: "train" and/or "val".
    """
    import matplotlib.pyplot as plt

    histories = {label: read_history(path) for label, path in runs.items()}
    sources = list(dict.fromkeys(s for h in histories.values() for s in h["sources"]))
    fig, axes = plt.subplots(1, len(sources), figsize=(3.4 * len(sources) + 0.8, 3.2), squeeze=False)
    styles = {"train": "-", "val": "--"}
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, source in zip(axes[0], sources):
        for i, (label, history) in enumerate(histories.items()):
            records = _epochs(history)
            for split in splits:
                values = [r[split].get(source) for r in records]
                if all(v is None for v in values):
                    continue
                ax.plot([r["epoch"] for r in records], values, styles.get(split, ":"),
                        color=colors[i % len(colors)], marker="o", markersize=3,
                        label=f"{label} {split}" if len(histories) > 1 else split)
        ax.set_title(f"{source} loss", fontsize=10)
        _epoch_axis(ax)
    axes[0][0].set_ylabel("L1 loss (unweighted)")
    axes[0][-1].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


def plot_task_weights(runs: Mapping[str, PathLike]):
    """Task weights lambda_k used in each epoch: one panel per run, one line per source."""
    import matplotlib.pyplot as plt

    histories = {label: read_history(path) for label, path in runs.items()}
    fig, axes = plt.subplots(1, len(histories), figsize=(3.6 * len(histories) + 0.6, 3.2),
                             squeeze=False, sharey=True)
    for ax, (label, history) in zip(axes[0], histories.items()):
        records = _epochs(history)
        for source in history["sources"]:
            ax.plot([r["epoch"] for r in records], [r["task_weights"][source] for r in records],
                    marker="o", markersize=3, label=source)
        weighting = history.get("weighting", "?")
        ax.set_title(label if label == weighting else f"{label} ({weighting})", fontsize=10)
        _epoch_axis(ax)
    axes[0][0].set_ylabel("task weight")
    axes[0][-1].legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def plot_export(rows: list[dict]):
    """Bar charts of an export: file size and latency per TF-Lite variant.

    Args:
        rows: `tf_munet.comparison.export_sizes(report)` rows (size_mb, litert_ms_per_chunk,
            optional keras_ms_per_chunk).
    """
    import matplotlib.pyplot as plt

    if not rows:
        raise ValueError("plot_export needs at least one row (did the export write TF-Lite files?)")
    names = [r["variant"] for r in rows]
    x = np.arange(len(rows))
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6))
    left.bar(x, [r["size_mb"] for r in rows], color="tab:blue")
    left.set_ylabel("size (MB)")
    left.set_title("TF-Lite file size", fontsize=10)
    width = 0.4 if any(r.get("keras_ms_per_chunk") is not None for r in rows) else 0.8
    right.bar(x - (width / 2 if width < 0.8 else 0), [r["litert_ms_per_chunk"] for r in rows],
              width, label="LiteRT", color="tab:orange")
    if width < 0.8:
        right.bar(x + width / 2, [r.get("keras_ms_per_chunk") or 0 for r in rows], width,
                  label="Keras / TF", color="tab:gray")
        right.legend(fontsize=8)
    right.set_ylabel("ms per chunk")
    right.set_title("latency per chunk", fontsize=10)
    for ax in (left, right):
        ax.set_xticks(x, names, rotation=30, ha="right", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


__all__ = [
    "read_history", "spectrogram_db", "plot_spectrograms", "plot_source_losses",
    "plot_task_weights", "plot_export",
]
