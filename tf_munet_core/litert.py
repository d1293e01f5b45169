"""A tf_munet TF-Lite export (manifest.json + .tflite files) as separators, with LiteRT only.

- `spectrogram_separator`: the spectrogram-in model as the core's mask function, patches in
  batches: current exports hold one signature per fixed batch size (1, 2, 4, 8; fixed shapes
  keep the whole network on XNNPACK), covered by `batch_plan`; exports of the first inference
  core have a free batch dimension; older ones run one patch per call. Its stems are
  `separate`'s within float32 round-off (quantized variants: within their quantization error).
- `WaveformSeparator`: the waveform-in model (STFT and inverse STFT inside the .tflite file) on
  fixed chunks at the model's rate, crossfaded with raised-cosine ramps, then resampled back.
  The stems only reach the model's bandwidth (half its sample rate). A mono model runs once per
  input channel.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import numpy as np

from tf_munet_core.config import AudioConfig
from tf_munet_core.errors import UserError
from tf_munet_core.files import resample
from tf_munet_core.mapping import fft_workers
from tf_munet_core.masks import DEFAULT_OVERLAP
from tf_munet_core.native_log import LITE_CHATTER, native_lines_dropped
from tf_munet_core.separator import MaskSeparator, NetworkSeparator

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "tf_munet-tflite/1"
KINDS = ("spectrogram", "waveform")
VARIANT_NAMES = {"none": "float32", "fp16": "float16", "dynamic": "dynamic", "int8": "int8"}
"""Export's --quantize names -> variant names (which are accepted as they are too)."""
SOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def variant_name(variant: str) -> str:
    """"none"/"fp16"/... (export's names) or "float32"/"float16"/... -> the variant's name."""
    return VARIANT_NAMES.get(variant, variant)


class LiteRTExport:
    """An export folder: its manifest and one variant's LiteRT models.

    Args:
        folder: the export folder (manifest.json + .tflite files).
        variant: "float32", "float16", "dynamic", "int8" (or export's "none", "fp16").
        kind: "spectrogram" or "waveform" (which model).
        threads: LiteRT threads (None: every core, as TensorFlow uses them).
    """

    def __init__(self, folder: str | os.PathLike, variant: str = "float32",
                 kind: str = "spectrogram", threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        self.folder = Path(folder)
        path = self.folder / MANIFEST
        if not path.is_file():
            raise UserError(f"{path}: not an export folder (no {MANIFEST}; run python -m tf_munet.export)")
        try:
            manifest = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UserError(f"{path}: unreadable manifest ({exc})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
            raise UserError(f"{path}: unknown manifest format {manifest.get('format')!r}"
                            if isinstance(manifest, dict) else f"{path}: not a manifest")
        name = f"{kind}-{variant_name(variant)}"
        if name not in manifest["variants"]:
            raise UserError(
                f"{path}: no variant {name!r}; this export has {', '.join(manifest['variants'])}"
            )
        self.manifest = manifest
        self.audio = AudioConfig.from_dict(manifest["audio"])
        self.sources = tuple(manifest["sources"])
        for source in self.sources:  # source names become file names: no paths from strangers
            if not isinstance(source, str) or not SOURCE_NAME.fullmatch(source):
                raise UserError(f"{path}: bad source name {source!r} (letters, digits, _ and - only)")
        # exports before the inference core wrote None for partial sets (the separator's
        # default for them is "partial") and "exhaustive" for the others
        self.normalization = manifest.get("normalize") or "partial"
        if self.normalization not in ("exhaustive", "partial", "raw"):
            raise UserError(f"{path}: unknown normalize {self.normalization!r}")
        self.overlap = float(manifest.get("overlap", 0.5))
        self.kind = kind
        self._announced = False
        self.models = []
        for entry in manifest["variants"][name]["models"]:
            file = self.folder / entry["file"]
            if not file.is_file():
                raise UserError(f"{file}: missing model file listed in {path}")
            key = "magnitude" if kind == "spectrogram" else "waveform"
            interpreter = Interpreter(model_path=str(file), num_threads=threads or fft_workers())
            if "batches" in entry:  # {fixed batch size: signature}
                runners = {int(b): interpreter.get_signature_runner(sig)
                           for b, sig in entry["batches"].items()}
            else:  # one signature, batch 1 or free (-1)
                runner = interpreter.get_signature_runner(entry["signature"])
                free = int(runner.get_input_details()[key]["shape_signature"][0]) == -1
                runners = {0 if free else 1: runner}
            self.models.append((entry, runners))

    def run(self, x: np.ndarray) -> np.ndarray:
        """Patches (B, model_bins, frames, C) -> masks (B, model_bins, frames, C, K), or chunks
        (B, chunk_samples, C) -> stems (B, chunk_samples, C, K), sources in manifest order."""
        if self._announced:
            return self._run(x)
        self._announced = True
        with native_lines_dropped(LITE_CHATTER):  # XNNPACK announces itself on first calls
            return self._run(x)

    def _run(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, np.float32)
        got: dict[str, np.ndarray] = {}
        for entry, runners in self.models:
            conditions = ([(s, self.sources.index(s)) for s in entry["sources"]]
                          if entry["conditioned"] else [(None, None)])
            for source, index in conditions:
                outs, start = [], 0
                for take, size in batch_plan(len(x), tuple(runners)):
                    part = x[start : start + take]
                    start += take
                    if size > take:  # a fixed batch larger than what is left: zero patches
                        part = np.concatenate([part, np.zeros((size - take, *x.shape[1:]), np.float32)])
                    feed = {"magnitude" if self.kind == "spectrogram" else "waveform": part}
                    if index is not None:
                        cond = np.zeros((len(part), len(self.sources)), np.float32)
                        cond[:, index] = 1.0
                        feed["condition"] = cond
                    outs.append(self._outputs(entry, runners[size](**feed))[:take])
                out = np.concatenate(outs)
                names = [source] if source else entry["sources"]
                for i, s in enumerate(names):
                    got[s] = out[..., i]
        return np.stack([got[s] for s in self.sources], axis=-1)

    def _outputs(self, entry: dict, out: dict) -> np.ndarray:
        if self.kind == "spectrogram":
            return np.asarray(out["masks"])
        return np.stack([np.asarray(out[name]) for name in entry["outputs"]], axis=-1)


def batch_plan(n: int, sizes: tuple[int, ...]) -> list[tuple[int, int]]:
    """[(items, batch size)] covering `n` items with calls of the fixed `sizes`: the largest
    while it fits, then the smallest that holds the rest (zero-padded). Size 0 means a free
    batch dimension: one call of `n`."""
    if 0 in sizes:
        return [(n, 0)]
    plan, biggest = [], max(sizes)
    while n > 0:
        size = biggest if n >= biggest else min(s for s in sizes if s >= n)
        plan.append((min(n, size), size))
        n -= size
    return plan


def spectrogram_separator(export: LiteRTExport, **options) -> NetworkSeparator:
    """The core separator with the export's spectrogram model as its network.

    `options` are `NetworkSeparator`'s; overlap and normalisation default to the manifest's.
    """
    if export.kind != "spectrogram":
        raise ValueError(f"a spectrogram variant is needed. Received: {export.kind!r}")
    options.setdefault("overlap", export.overlap)
    options.setdefault("normalize", export.normalization)
    options.setdefault("name", export.folder.resolve().name)
    return NetworkSeparator(export.audio, export.sources, export.run, **options)


class WaveformSeparator(MaskSeparator):
    """Stems from the waveform-in model on fixed chunks at the model's rate (module docstring).

    Args:
        export: a waveform variant.
        **options: block options of `MaskSeparator` (block_seconds, fade, margin).
    """

    def __init__(self, export: LiteRTExport, **options):
        if export.kind != "waveform":
            raise ValueError(f"a waveform variant is needed. Received: {export.kind!r}")
        options.setdefault("normalize", export.normalization)  # done inside the waveform model
        super().__init__(export.audio, export.sources, **options)
        self.export = export
        self.name = export.folder.resolve().name

    def chunk_layout(self) -> tuple[int, int]:
        """(chunk, step): step is a whole number of STFT hops close to half a chunk."""
        a = self.audio
        chunk = a.chunk_samples
        step = a.hop * max(1, (a.frames - 1) // 2)
        return chunk, min(step, chunk)

    def model_rate_stems(self, view: np.ndarray) -> np.ndarray:
        """(samples, Cm) at the model's rate -> (samples, Cm, K), chunks crossfaded."""
        chunk, step = self.chunk_layout()
        overlap = chunk - step
        n = len(view)
        count = max(1, math.ceil(max(0, n - chunk) / step) + 1)
        padded = np.zeros(((count - 1) * step + chunk, view.shape[1]), np.float32)
        padded[:n] = view
        t = np.arange(overlap)
        rise = (np.sin(np.pi * (t + 0.5) / (2 * overlap)) ** 2).astype(np.float32)
        out = np.zeros((len(padded), view.shape[1], len(self.sources)), np.float32)
        for i in range(count):
            s = i * step
            w = np.ones(chunk, np.float32)
            if i > 0 and overlap:
                w[:overlap] = rise
            if i < count - 1 and overlap:
                w[chunk - overlap :] = 1.0 - rise
            out[s : s + chunk] += self.export.run(padded[None, s : s + chunk])[0] * w[:, None, None]
        return out[:n]

    def _prepare_segment(self, x, rate, start, stop, profiler) -> None:
        return None  # the waveform model does everything in `_separate_segment`

    def _separate_segment(self, x, rate, start, stop, profiler, prepared=None) -> np.ndarray:
        n, channels = x.shape
        cm, model_rate = self.audio.channels, self.audio.sample_rate
        if cm == channels:
            views = [(x, list(range(channels)))]
        elif cm == 1:
            views = [(x[:, c : c + 1], [c]) for c in range(channels)]
        else:  # stereo model, other input: each channel duplicated, outputs averaged
            views = [(np.repeat(x[:, c : c + 1], cm, axis=1), [c]) for c in range(channels)]
        out = np.zeros((len(self.sources), n, channels), np.float32)
        for view, targets in views:
            with profiler.stage("network"):
                stems = self.model_rate_stems(resample(view, rate, model_rate))  # (m, Cm, K)
            m, _, k = stems.shape
            back = resample(stems.reshape(m, -1), model_rate, rate).reshape(-1, stems.shape[1], k)
            back = back[:n] if len(back) >= n else np.pad(back, ((0, n - len(back)), (0, 0), (0, 0)))
            back = back.transpose(2, 0, 1)  # (K, n, Cm)
            if len(targets) == back.shape[2]:
                out[:, :, targets] = back
            else:
                out[:, :, targets[0]] = back.mean(axis=2)
        return out


def load_separator(folder: str | os.PathLike, *, variant: str = "float32",
                   kind: str = "spectrogram", litert_threads: int | None = None, **options):
    """A separator of an export folder: `spectrogram_separator` or a `WaveformSeparator`.

    `litert_threads`: LiteRT's threads; `options` are the separator's (`threads`: its DSP's).
    """
    if kind not in KINDS:
        raise UserError(f"--input {kind!r}: choose one of {', '.join(KINDS)}")
    export = LiteRTExport(folder, variant, kind, litert_threads)
    if kind == "spectrogram":
        return spectrogram_separator(export, **options)
    blocks = {k: options[k] for k in ("block_seconds", "fade", "margin") if k in options}
    return WaveformSeparator(export, **blocks)


__all__ = ["DEFAULT_OVERLAP", "LiteRTExport", "WaveformSeparator", "batch_plan", "load_separator",
           "spectrogram_separator", "variant_name"]
