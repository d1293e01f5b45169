"""Callbacks that make a run explain and resume itself.

They share one `RunState` (the per-epoch records, best epoch, DWA loss history and the state
of the plateau/early-stopping callbacks). `AtomicCheckpoint` stores that state inside
checkpoint.keras (an extra JSON entry in the .keras zip) in the same atomic rename as the
trainer's weights and optimizer state, so a checkpoint and the state it resumes with can never
disagree. Order matters; `loop.make_callbacks` lists them as:

    NanGuard, TaskWeightCallback, LearningRateOnPlateau, StopOnPlateau, EpochRecorder,
    TrainingProgress (training.progress), AtomicCheckpoint, HistoryWriter, TensorBoard,
    ExcerptLogger

so the checkpoint holds the task weights and learning rate the next epoch will use.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import numpy as np

from tf_munet.errors import atomic_path
from tf_munet.models.conditions import all_source_masks
from tf_munet.run_dir import CHECKPOINT, HISTORY, MODEL, json_default, save_network, write_json

STATE_ENTRY = "tf_munet_state.json"
"""Name of the resume state inside checkpoint.keras (Keras ignores extra zip entries)."""


@dataclass
class RunState:
    """Everything besides weights that a resumed run needs.

    Attributes:
        records: one dict per finished epoch (what history.json lists).
        best_epoch: 1-based epoch of the lowest unweighted validation loss sum.
        best_value: that sum.
        dwa_history: per epoch, the mean training loss of each source (DWA's input).
        callbacks: saved state of resumable callbacks, by name.
        stop_reason: None while training; "completed", "early_stopping" or "nan".
        nan_at: {"epoch", "batch"} where the loss stopped being finite.
    """

    records: list = field(default_factory=list)
    best_epoch: int | None = None
    best_value: float | None = None
    dwa_history: list = field(default_factory=list)
    callbacks: dict = field(default_factory=dict)
    stop_reason: str | None = None
    nan_at: dict | None = None
    improved: bool = field(default=False, repr=False)

    @property
    def epochs_done(self) -> int:
        return len(self.records)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("improved")
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "RunState":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def _finite(x) -> bool:
    return x is not None and math.isfinite(float(x))


class NanGuard(keras.callbacks.Callback):
    """TerminateOnNaN that says where it happened and keeps the last good checkpoint.

    A non-finite batch loss stops training; the epoch is not recorded or checkpointed, so
    checkpoint.keras and model.keras stay those of the last finite epoch, and
    `run_training` raises a `TrainingDiverged` error that says so.
    """

    def __init__(self, state: RunState):
        super().__init__()
        self.state = state
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not _finite(loss):
            self.state.nan_at = {"epoch": self.epoch + 1, "batch": int(batch) + 1}
            self.state.stop_reason = "nan"
            self.model.stop_training = True


class TimeBudget(keras.callbacks.Callback):
    """Stops training once `seconds` of wall time have passed since training began.

    Checked after every batch; Keras then closes the epoch (validation, checkpoint, history),
    so a budget-limited run is a normal, resumable run. Used for equal-budget comparisons.
    """

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds
        self.start = None

    def on_train_begin(self, logs=None):
        self.start = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        if time.monotonic() - self.start >= self.seconds:
            self.model.stop_training = True


class TaskWeightCallback(keras.callbacks.Callback):
    """Feeds each epoch's per-source training losses to the weighting (DWA) and sets lambda.

    The loss history lives in `state.dwa_history`, saved in the checkpoint, so a resumed DWA
    run uses the same L_k(t-1) / L_k(t-2) ratios as an uninterrupted one. New weights are
    assigned at epoch end and take effect in the next epoch.
    """

    def __init__(self, weighting, sources, state: RunState):
        super().__init__()
        self.weighting = weighting
        self.sources = list(sources)
        self.state = state

    def on_epoch_end(self, epoch, logs=None):
        if self.state.nan_at:
            return
        logs = logs or {}
        losses = [float(logs[f"loss_{s}"]) for s in self.sources]
        self.state.dwa_history.append(losses)
        new = self.weighting.on_epoch_end(self.state.dwa_history)
        if new is not None:
            self.model.set_task_weights(new)


def _jsonable(v):
    if hasattr(v, "numpy"):
        v = v.numpy()
    if isinstance(v, (np.generic, np.ndarray)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


class _Plateau(keras.callbacks.Callback):
    """Counts epochs since `monitor` (val_sum_loss by default; the paper preset: the weighted
    train loss "loss" for the learning rate and the weighted validation loss "val_loss" for
    early stopping, as the authors' `dwa.py`) last improved; the counters live in RunState
    (saved with each checkpoint), so patience survives a resume. NaN epochs are skipped.

    An epoch improves when loss < best * (1 - threshold) (PyTorch's relative threshold).
    Subclasses act in `on_plateau` once `patience` epochs in a row did not improve.
    """

    monitor = "val_sum_loss"
    state_name = ""

    def __init__(self, state: RunState, patience: int, threshold: float = 0.0, verbose: int = 1,
                 monitor: str = "val_sum_loss"):
        super().__init__()
        self.monitor = monitor
        self.run_state = state
        self.patience = patience
        self.threshold = threshold
        self.verbose = verbose

    @property
    def counters(self) -> dict:
        """{"best": best loss so far or None, "wait": epochs since it improved}."""
        counters = self.run_state.callbacks.setdefault(self.state_name, {})
        counters.setdefault("best", None)
        counters.setdefault("wait", 0)
        return counters

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get(self.monitor)
        if self.run_state.nan_at or loss is None or not math.isfinite(float(loss)):
            return
        c = self.counters
        if c["best"] is None or float(loss) < c["best"] * (1.0 - self.threshold):
            c.update(best=float(loss), wait=0, best_epoch=epoch)
            return
        c["wait"] += 1
        if c["wait"] >= self.patience:
            self.on_plateau(epoch)

    def on_plateau(self, epoch: int) -> None:
        raise NotImplementedError


class LearningRateOnPlateau(_Plateau):
    """Learning rate x `factor` after `patience` epochs without improvement of val_sum_loss,
    with the relative threshold the authors used (PyTorch's ReduceLROnPlateau, no cooldown)."""

    state_name = "reduce_lr_on_plateau"

    def __init__(self, state: RunState, patience: int, threshold: float, factor: float = 0.1,
                 verbose: int = 1, monitor: str = "val_sum_loss"):
        super().__init__(state, patience, threshold, verbose, monitor)
        self.factor = factor

    def on_plateau(self, epoch):
        optimizer = self.model.optimizer
        new = float(keras.ops.convert_to_numpy(optimizer.learning_rate)) * self.factor
        optimizer.learning_rate = new
        self.counters["wait"] = 0
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: learning rate reduced to {new:.4g}", flush=True)


class StopOnPlateau(_Plateau):
    """Early stopping: ends training after `patience` epochs without a lower val_sum_loss."""

    state_name = "early_stopping"

    def on_plateau(self, epoch):
        self.model.stop_training = True
        self.run_state.stop_reason = "early_stopping"
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: early stopping ({self.patience} epochs without a "
                  f"lower {self.monitor})", flush=True)


class EpochRecorder(keras.callbacks.Callback):
    """Turns each epoch's logs into a history record and tracks the best epoch.

    The best epoch has the lowest *unweighted* sum of per-source validation losses (the
    authors' model-selection rule), whatever the task weights were.
    """

    def __init__(self, state: RunState, sources, steps_per_epoch: int, passes_per_chunk: int):
        super().__init__()
        self.state = state
        self.sources = list(sources)
        self.steps = steps_per_epoch
        self.passes = passes_per_chunk
        self._t0 = 0.0
        self._lr = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.time()
        self._lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def on_epoch_end(self, epoch, logs=None):
        self.state.improved = False
        if self.state.nan_at:
            return
        logs = logs or {}

        def part(prefix):
            out = {s: _jsonable(float(logs[f"{prefix}loss_{s}"])) for s in self.sources
                   if f"{prefix}loss_{s}" in logs}
            if f"{prefix}sum_loss" in logs:
                out["sum"] = _jsonable(float(logs[f"{prefix}sum_loss"]))
                out["weighted"] = _jsonable(float(logs[f"{prefix}loss"]))
            return out

        # The optimizer's own count: exact for epochs cut short (--time-budget) and on resume.
        iterations = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        record = {
            "epoch": epoch + 1,
            "train": part(""),
            "val": part("val_"),
            "task_weights": {s: float(logs[f"weight_{s}"]) for s in self.sources},
            "next_task_weights": dict(zip(self.sources, map(float, np.asarray(
                keras.ops.convert_to_numpy(self.model.task_weights))))),
            "lr": float(f"{self._lr:.7g}"),
            "epoch_time_s": round(time.time() - self._t0, 3),
            "iterations": iterations,
            "effective_iterations": iterations * self.passes,
        }
        self.state.records.append(record)
        value = record["val"].get("sum", record["train"].get("sum"))
        if _finite(value) and (self.state.best_value is None or value < self.state.best_value):
            self.state.best_value = float(value)
            self.state.best_epoch = epoch + 1
            self.state.improved = True


class AtomicCheckpoint(keras.callbacks.Callback):
    """Writes checkpoint.keras (trainer + optimizer + RunState) and, on improvement, model.keras.

    Both are written to a temporary file beside the target and renamed, so a kill at any moment
    leaves the previous complete file. The checkpoint is written first; a resume re-saves
    model.keras from the checkpoint when the last saved epoch was the best, which covers a kill
    between the two renames. `export` maps the network to what model.keras holds (a float32
    copy under mixed precision, so separation and export get a float32 model). Non-chief
    workers save into a temporary folder they delete (saving can take part in collective ops,
    so every worker must save).
    """

    def __init__(self, run_dir, state: RunState, chief: bool = True, export=None,
                 write_best: bool = True):
        super().__init__()
        self.run_dir = Path(run_dir)
        self.state = state
        self.chief = chief
        self.export = export or (lambda network: network)
        self.write_best = write_best  # False when PerSourceBest writes model.keras

    def on_epoch_end(self, epoch, logs=None):
        if self.state.nan_at:
            return
        if self.chief:
            save_checkpoint(self.run_dir / CHECKPOINT, self.model, self.state)
            if self.state.improved and self.write_best:
                save_network(self.run_dir / MODEL, self.export(self.model.network))
        else:
            scratch = Path(tempfile.mkdtemp(prefix="tf_munet_worker_"))
            try:
                save_checkpoint(scratch / CHECKPOINT, self.model, self.state)
                if self.state.improved and self.write_best:
                    save_network(scratch / MODEL, self.export(self.model.network))
            finally:
                shutil.rmtree(scratch, ignore_errors=True)


class PerSourceBest(keras.callbacks.Callback):
    """Dedicated U-Nets selected as separately trained ones would be: model.keras holds each
    source's U-Net from the epoch with that source's lowest validation loss.

    The dedicated family's layers are named after their source (`<source>_...`), so a source's
    best weights are a snapshot of its own layers. After an epoch in which a source improved,
    model.keras is written with every source's best snapshot (the training weights are put
    back). The best losses and epochs live in RunState (saved with each checkpoint); on resume
    the snapshots are read back from model.keras.
    """

    state_name = "per_source_best"

    def __init__(self, run_dir, state: RunState, sources, chief: bool = True, export=None):
        super().__init__()
        self.path = Path(run_dir) / MODEL
        self.state = state
        self.sources = list(sources)
        self.chief = chief
        self.export = export or (lambda network: network)
        self.snapshots: dict[str, list[np.ndarray]] = {}

    def _layers(self, network, source: str):
        return [layer for layer in network.layers
                if layer.name.startswith(f"{source}_") and layer.weights]

    @property
    def best(self) -> dict:
        return self.state.callbacks.setdefault(self.state_name, {})

    def on_train_begin(self, logs=None):
        if self.best and self.path.is_file():
            from tf_munet.run_dir import load_network

            saved = load_network(self.path)
            for source in self.best:
                self.snapshots[source] = [w for layer in self._layers(saved, source)
                                          for w in layer.get_weights()]

    def on_epoch_end(self, epoch, logs=None):
        if self.state.nan_at:
            return
        logs = logs or {}
        network = self.model.network
        improved = False
        for source in self.sources:
            value = logs.get(f"val_loss_{source}")
            if value is None or not _finite(float(value)):
                continue
            if source not in self.best or float(value) < self.best[source]["loss"]:
                self.best[source] = {"loss": float(value), "epoch": epoch + 1}
                self.snapshots[source] = [np.array(w) for layer in self._layers(network, source)
                                          for w in layer.get_weights()]
                improved = True
        if improved and self.chief:
            self._write(network)

    def _write(self, network) -> None:
        current = network.get_weights()
        try:
            for source, weights in self.snapshots.items():
                layers = self._layers(network, source)
                for layer in layers:
                    n = len(layer.get_weights())
                    layer.set_weights(weights[:n])
                    weights = weights[n:]
            save_network(self.path, self.export(network))
        finally:
            network.set_weights(current)


def save_checkpoint(path: Path, trainer, state: RunState) -> None:
    """Trainer (weights, optimizer, task weights) plus the RunState, in one atomic rename."""
    with atomic_path(path, suffix=".tmp.keras") as tmp:
        trainer.save(tmp)
        with zipfile.ZipFile(tmp, "a") as zf:
            zf.writestr(STATE_ENTRY, json.dumps(state.to_dict(), default=json_default))


def read_checkpoint_state(path: Path) -> RunState:
    """The RunState stored in a checkpoint (empty for a checkpoint without one)."""
    with zipfile.ZipFile(path) as zf:
        if STATE_ENTRY not in zf.namelist():
            return RunState()
        return RunState.from_dict(json.loads(zf.read(STATE_ENTRY)))


class HistoryWriter(keras.callbacks.Callback):
    """Rewrites history.json (atomically) after every epoch and at the end of training.

    Args:
        run_dir: the run folder.
        state: the shared RunState (its records are the per-epoch entries).
        header: fixed facts of the run (git commit, sources, model, ...).
    """

    def __init__(self, run_dir, state: RunState, header: dict):
        super().__init__()
        self.path = Path(run_dir) / HISTORY
        self.state = state
        self.header = header

    def write(self) -> None:
        write_history(self.path, self.state, self.header)

    def on_epoch_end(self, epoch, logs=None):
        if not self.state.nan_at:
            self.write()

    def on_train_end(self, logs=None):
        self.write()


def write_history(path: Path, state: RunState, header: dict) -> None:
    """history.json: header, best epoch, stop reason and one record per finished epoch."""
    write_json(path, {
        **header,
        "epochs_completed": state.epochs_done,
        "best_epoch": state.best_epoch,
        "best_val_sum_loss": state.best_value,
        **({"best_epoch_per_source": {k: v["epoch"] for k, v in
                                      state.callbacks[PerSourceBest.state_name].items()}}
           if state.callbacks.get(PerSourceBest.state_name) else {}),
        "stop_reason": state.stop_reason,
        "nan_at": state.nan_at,
        "epochs": state.records,
    })


class ExcerptLogger(keras.callbacks.Callback):
    """Every `every` epochs: spectrogram images (and audio, when a waveform is given) of one
    fixed validation excerpt, with the network's estimate of each source, for TensorBoard.

    Args:
        log_dir: TensorBoard folder (writes to log_dir/excerpt).
        preset: the run's preset (for the STFT and the mask mapping).
        sources: source names.
        mix_magnitude: (model_bins, frames, channels) mixture magnitude of the excerpt.
        target_magnitudes: (model_bins, frames, channels, K) or None (logged once).
        waveform: (samples, channels) the same excerpt's mixture at the preset's rate, or None
            (no audio). Estimates use the mixture phase (see `reconstruct`).
        every: epochs between logs; the first epoch is always logged.
    """

    def __init__(self, log_dir, preset, sources, mix_magnitude, target_magnitudes=None,
                 waveform=None, every: int = 2):
        super().__init__()
        self.log_dir = str(Path(log_dir) / "excerpt")
        self.preset = preset
        self.sources = list(sources)
        self.mix = np.asarray(mix_magnitude, np.float32)
        self.targets = None if target_magnitudes is None else np.asarray(target_magnitudes,
                                                                          np.float32)
        self.waveform = None if waveform is None else np.asarray(waveform, np.float32)
        self.every = max(1, every)
        self._writer = None
        self._logged = 0

    def _masks(self, mix_batch):
        """(1, bins, frames, C) -> (1, bins, frames, C, K) masks for any family."""
        return np.asarray(all_source_masks(self.model.network, mix_batch), np.float32)

    def on_epoch_end(self, epoch, logs=None):
        if epoch % self.every and epoch != 0:
            return
        import tensorflow as tf

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        mix = self.mix[None]
        masks = self._masks(mix)
        audio = self.preset.audio
        first = self._logged == 0
        with self._writer.as_default(step=epoch + 1):
            if first:
                tf.summary.image("spectrogram/mixture", _image(mix[0], audio, "mixture"), max_outputs=1)
            for i, src in enumerate(self.sources):
                tf.summary.image(f"spectrogram/{src}_estimate",
                                 _image(masks[0, ..., i] * mix[0], audio, f"{src}: estimate, epoch {epoch + 1}"),
                                 max_outputs=1)
                if first and self.targets is not None:
                    tf.summary.image(f"spectrogram/{src}_target", _image(self.targets[..., i], audio, f"{src}: target"),
                                     max_outputs=1)
            if self.waveform is not None:
                rate = self.preset.audio.sample_rate
                if first:
                    tf.summary.audio("audio/mixture", self.waveform[None], rate, max_outputs=1)
                for i, src in enumerate(self.sources):
                    wave = reconstruct(self.preset, self.waveform, masks[0, ..., i])
                    tf.summary.audio(f"audio/{src}_estimate", wave[None], rate, max_outputs=1)
        self._logged += 1
        self._writer.flush()


def _image(mag: np.ndarray, audio, title: str) -> np.ndarray:
    """(bins, frames, C) magnitude -> (1, height, width, 3) uint8 image for TensorBoard: the
    first channel in dB over an 80 dB range, magma colour map, time and frequency axes, a colour
    bar and a title (a bare array shows as an unlabelled grey strip)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    db = 20 * np.log10(np.maximum(mag[..., 0], 1e-8))
    db = np.clip(db - db.max(), -80.0, 0.0)
    seconds = mag.shape[1] * audio.hop / audio.sample_rate
    if audio.warp_bins:  # log-frequency bins: label them as bins, not Hz
        extent, ylabel = (0, seconds, 0, mag.shape[0]), "log-frequency bin"
    else:
        extent, ylabel = (0, seconds, 0, mag.shape[0] * audio.sample_rate / audio.n_fft / 1000), "kHz"
    fig = Figure(figsize=(6.4, 3.2), dpi=80)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    shown = ax.imshow(db, origin="lower", aspect="auto", cmap="magma", extent=extent, vmin=-80, vmax=0)
    ax.set(title=title, xlabel="seconds", ylabel=ylabel)
    fig.colorbar(shown, ax=ax, label="dB")
    fig.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[None, ..., :3].copy()


def reconstruct(preset, waveform: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Apply a model-grid mask (bins, frames, C) to a waveform (samples, C) -> (samples, C).

    Mixture phase, masks unwarped to linear bins and extended above the model's band with
    `spectral.extend_mask`, inverse STFT, clipped to [-1, 1].
    """
    import tensorflow as tf

    from tf_munet.spectral import SpectralFrontEnd, extend_mask, istft

    audio = preset.audio
    front = SpectralFrontEnd(audio)
    spec = front.linear_spectrogram(waveform[None])[0]  # (n_bins, frames, C)
    linear = np.asarray(front.mask_to_linear(tf.constant(mask[None])), np.float32)[0]
    linear = extend_mask(linear, spec.shape[0], axis=0)
    est = tf.transpose(spec * tf.cast(linear, spec.dtype), [2, 0, 1])  # (C, n_bins, frames)
    wave = istft(est, audio, waveform.shape[0])
    return np.clip(np.asarray(tf.transpose(wave), np.float32), -1.0, 1.0)
