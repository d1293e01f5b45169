"""From a trained run (or a reference method) to stems at the input's rate and channel count.

The signal processing lives in the numpy-only core `tf_munet_core` (shared with the SavedModel
and the edge runner, so all three give the same stems); here are the separators that supply its
masks (measured here: mapping model-rate masks onto the full-rate input is worth
about 1 dB over upsampling low-rate stems):

- `Separator`: a trained Keras network. The model sees the input downmixed (mono presets) and
  resampled to its rate, in patches of `frames` frames overlapping by a quarter
  (`overlap`; 0.5 costs a third more network time for the same SDR, 0 is the fastest).
- `OracleSeparator`: ideal ratio masks from the true sources, mapped like a model's.
- `MixtureSeparator`: the mixture / K baseline.

Masks are normalised to sum to 1 for source sets that cover the mixture (4stems, 2stems) and only
scaled down where they sum above 1 for partial sets (`normalize`, see `tf_munet_core.masks`);
long inputs go in crossfaded blocks (`tf_munet_core.streaming`); `wiener=True` adds norbert's
multichannel Wiener filter. Stage timings: pass a `tf_munet_core.profiler.Profiler` to
`separate(..., profiler=...)`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tf_munet.presets import Preset, is_exhaustive
from tf_munet_core.files import FORMATS, resample
from tf_munet_core.mapping import frequency_map, input_stft
from tf_munet_core.masks import DEFAULT_OVERLAP, channel_views
from tf_munet_core.options import DEFAULT_PRECISION
from tf_munet_core.profiler import STAGES, Profiler
from tf_munet_core.separator import MaskSeparator, NetworkSeparator
from tf_munet_core.stft import StftSpec

__all__ = [
    "DEFAULT_OVERLAP", "FORMATS", "STAGES", "MaskSeparator", "MixtureSeparator",
    "OracleSeparator", "Profiler", "Separator", "frequency_map", "input_stft", "resample",
]


class Separator(NetworkSeparator):
    """A trained network from a run folder, as a separator.

    Args:
        network: a model from `tf_munet.models.build_model` (or `run_dir.load_run`).
        preset, sources: as the run was trained.
        family: "munet", "dedicated" or "cunet" (C-U-Net runs one pass per one-hot condition).
        batch_size: patches per network call.
        overlap: fraction of a patch shared with the next one. The default 0.25 runs a third
            fewer patches than 0.5 (every frame seen twice) and scored the same on the synthetic
            set (cunet preset M-U-Net: 7.87 vs 7.88 dB museval SDR); 0 (no overlap, the
            fastest) scored 0.2 dB lower.
        precision: "float32", "bfloat16" (2.4-3.6x faster networks on CPUs with AMX /
            AVX512-BF16, slower on others) or "auto" (bfloat16 where the CPU has those
            instructions, there is no GPU and the quality benchmark measured this preset and
            family without loss); see `models.precision.choose_precision`.
        name: label in tables and logs.
        **options: `tf_munet_core.separator.MaskSeparator` options (normalize, wiener,
            block_seconds, fast_fft, ...).
    """

    def __init__(self, network, preset: Preset, sources, family: str = "munet", *,
                 batch_size: int = 8, overlap: float = DEFAULT_OVERLAP, precision: str = DEFAULT_PRECISION,
                 name: str = "model", **options):
        from tf_munet.models.conditions import is_conditioned
        from tf_munet.models.inference import inference_network, network_precision
        from tf_munet.models.precision import choose_precision

        options.setdefault("exhaustive", is_exhaustive(sources))
        super().__init__(preset.audio, tuple(sources), self._masks, overlap=overlap,
                         batch_size=batch_size, name=name, **options)
        self.preset = preset
        # the network as inference runs it (`models.inference`: sub-pixel mask heads, and in
        # bfloat16 a folded copy); the trained one is kept for its parameter and FLOP counts
        self.trained_network = network
        chosen, self._precision_reason = choose_precision(precision, preset, family)
        self.network = inference_network(network, chosen)
        self.precision = network_precision(self.network)
        if self.precision != chosen:  # the bfloat16 copy failed its check (warned)
            self._precision_reason = "the bfloat16 copy failed its check on this CPU"
        self.family = family
        self.conditioned = is_conditioned(network)
        self._call = None

    @classmethod
    def load(cls, run_dir: str | os.PathLike, **options) -> "Separator":
        """The best network of a run folder (config.json + model.keras)."""
        from tf_munet.run_dir import load_run

        config, network = load_run(run_dir)
        options.setdefault("name", Path(run_dir).resolve().name)
        return cls(network, config.preset, config.sources, config.model, **options)

    def precision_line(self) -> str:
        """"precision: bfloat16 (why)": what the network computes in, and why (--precision auto
        prints it)."""
        return f"precision: {self.precision} ({self._precision_reason})"

    def _network_fn(self):
        """patches (B, bins, frames, C) -> masks (B, bins, frames, C, K) on the network's grid
        (traced on first use: the batch dimension is free)."""
        if self._call is None:
            import tensorflow as tf

            from tf_munet.models.inference import mask_function

            a = self.audio
            spec = tf.TensorSpec((None, a.model_bins, a.frames, a.channels), tf.float32)
            self._call = mask_function(self.network, spec)
        return self._call

    def _masks(self, patches: np.ndarray) -> np.ndarray:
        return self._network_fn()(patches)

    def settings(self) -> dict:
        extra = {"precision": self.precision} if self.precision != "float32" else {}
        return {**super().settings(), "family": self.family, **extra}


class OracleSeparator(MaskSeparator):
    """The ideal ratio mask |S_k| / sum_j |S_j| (plus the residual mixture - sum S_j), computed
    on the preset's grid (rate, channels, STFT) and mapped onto the input like a model's masks:
    the ceiling of what a mask model with this preset can reach.

    Call `separate(mix, rate, references={source: (samples, channels)})`.
    """

    name = "oracle"

    def __init__(self, preset: Preset, sources, **options):
        options.setdefault("normalize", "raw")  # ratio masks with the residual already sum to 1
        options.setdefault("exhaustive", is_exhaustive(sources))
        super().__init__(preset.audio, tuple(sources), **options)
        self.preset = preset
        self._refs: np.ndarray | None = None
        self._rate = 0

    def separate(self, waveform, rate, *, references: dict[str, np.ndarray], stems=None,
                 progress=None, profiler=None):
        x = np.asarray(waveform, np.float32)
        x2 = x[:, None] if x.ndim == 1 else x
        refs = []
        for s in self.sources:
            r = np.asarray(references[s], np.float32)
            r = r[:, None] if r.ndim == 1 else r
            if r.shape != x2.shape:
                raise ValueError(f"reference {s!r} has shape {r.shape}, mixture {x2.shape}")
            refs.append(r)
        refs.append(x2 - np.sum(refs, axis=0))  # residual: ~0 for exhaustive sets
        short = max(0, self.min_samples(int(rate)) - len(x2))  # padded as `separate` pads x
        self._refs, self._rate = np.pad(np.stack(refs), ((0, 0), (0, short), (0, 0))), int(rate)
        try:
            return super().separate(x, rate, stems=stems, progress=progress, profiler=profiler)
        finally:
            self._refs = None

    def masks_for_view(self, view, index, start, stop, profiler):
        a = self.audio
        mags = []
        for ref in self._refs:
            views, _ = channel_views(ref[start:stop], a.channels)
            r = resample(views[index], self._rate, a.sample_rate)
            mags.append(np.abs(StftSpec.of(a).stft(r))[:, : a.freq_bins])  # (T, F, Cm)
        mags = np.stack(mags, axis=-1)  # (T, F, Cm, K+1)
        irm = mags / np.maximum(mags.sum(axis=-1, keepdims=True), 1e-8)
        irm = np.where(mags.sum(axis=-1, keepdims=True) > 1e-8, irm, 1.0 / mags.shape[-1])
        return np.transpose(irm[..., :-1], (1, 0, 2, 3)).astype(np.float32)

    def settings(self) -> dict:
        return {**super().settings(), "name": "oracle"}


class MixtureSeparator:
    """The "mixture / K" baseline: every stem is the mixture divided by the number of sources."""

    name = "mixture"

    def __init__(self, sources):
        self.sources = tuple(sources)

    def separate(self, waveform, rate, *, stems=None, progress=None, **_):
        x = np.asarray(waveform, np.float32)
        x = x[:, None] if x.ndim == 1 else x
        return {s: x / len(self.sources) for s in (stems or self.sources)}

    def settings(self) -> dict:
        return {"name": "mixture", "sources": list(self.sources)}
