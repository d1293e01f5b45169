"""Separators: a waveform at any rate and channel count -> stems at the same rate and channels.

Every separator has `sources`, `name`, `separate(waveform, rate, *, stems, progress, profiler)`
and `settings()` (what changes the stems): `StemSeparator`. `MaskSeparator` holds everything but where masks come
from: `NetworkSeparator` gets them from a mask function (a network in any runtime),
tf_munet's `OracleSeparator` from the true sources.

The path of one block (see `masks`, `mapping` and `streaming` for each step):

1. The model's views of the block (`masks.channel_views`) are resampled to its rate; masks on
   the model's linear bins come from `masks_for_view` (for a network: magnitude patches,
   network, unwarp, overlap average), then are normalised (`masks.normalize_masks`).
2. Each input channel's STFT at the input's rate (`mapping.input_stft`) gets its masks
   mapped by Hz and seconds (`mapping.InputGrid`), in float32 batches of 32 frames shared out
   between the cores (threads: numpy and the FFTs of `tf_munet_core.fft` release the GIL).
   Inverse STFTs by overlap-add into the stems' own rows (`stft.OverlapAdd`: batches in
   rounds that share no samples, so any number of threads gives the same sums). When the masks sum to 1 (exhaustive
   normalisation, no Wiener) the last source is the mixture minus the others: exact by
   linearity, and one inverse STFT fewer.
3. Blocks (`streaming.Blocks`): step 1 of the next block runs in a second thread while
   step 2 of this one runs, so the network's idle cycles and the single-threaded passes of
   either step overlap.
4. `wiener=True` refines the estimates with norbert's multichannel Wiener filter (EM iterations
   on batches of input frames; norbert is then needed).

`normalize="raw"` with `overlap=0` and model-rate input gives the network's own masks applied on
its own grid (the paper's evaluation protocol): the input grid is then the model's grid.
"""

from __future__ import annotations

import dataclasses
import math
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import numpy as np

from tf_munet_core import fft
from tf_munet_core.config import AudioConfig
from tf_munet_core.errors import UserError
from tf_munet_core.files import resample
from tf_munet_core.mapping import InputGrid, fft_workers, input_stft, linear_weights
from tf_munet_core.masks import (
    DEFAULT_OVERLAP,
    MaskFunction,
    channel_views,
    masks_per_channel,
    network_masks,
    normalize_masks,
    resolve_normalization,
)
from tf_munet_core.names import resolve_name, suggestion
from tf_munet_core.profiler import NO_PROFILER, Profiler
from tf_munet_core.spectra import ModelGrid
from tf_munet_core.stft import OverlapAdd
from tf_munet_core.streaming import Blocks
from tf_munet_core.wiener import wiener_batch


class StemSeparator(Protocol):
    """What every separator offers (Keras, SavedModel, LiteRT, oracle, mixture / K): evaluation,
    benchmarks and the commands use nothing else."""

    sources: tuple[str, ...]
    name: str

    def separate(self, waveform: np.ndarray, rate: int, *, stems: tuple[str, ...] | None = None,
                 progress=None, profiler: Profiler | None = None) -> dict[str, np.ndarray]:
        """{source: (samples, channels)} at the input's rate and channel count."""

    def settings(self) -> dict:
        """What changes the stems (keys cached evaluations)."""


class MaskSeparator:
    """Everything between a waveform and its stems except where the masks come from.

    Subclasses implement `masks_for_view`.

    Args:
        audio: the model's audio domain (rate, channels, STFT) the masks live on.
        sources: source names, in the order of the masks' last axis.
        normalize: "auto" (True, None), "exhaustive", "partial" or "raw" (False); see
            `tf_munet_core.masks`.
        exhaustive: whether the sources add up to the mixture (what "auto" chooses by).
        wiener: refine estimates with norbert's multichannel Wiener filter.
        wiener_iterations: EM iterations of the Wiener filter.
        block_seconds, fade, margin: block processing of long inputs (seconds).
        frame_batch: input STFT frames processed at once with Wiener (its statistics are per
            batch); without Wiener at most 32 at a time (a batch's spectra stay in cache).
        fast_fft: input-rate STFTs of an FFT-friendly length within 0.1 % of the model's window
            (see `mapping.input_stft`): faster inverse STFTs for a few hundredths of a dB.
        threads: threads for the input-rate work (None: `mapping.fft_workers`).
    """

    name = "model"

    def __init__(
        self,
        audio: AudioConfig,
        sources: tuple[str, ...],
        *,
        normalize: str | bool | None = "auto",
        exhaustive: bool | None = None,
        wiener: bool = False,
        wiener_iterations: int = 1,
        block_seconds: float = 30.0,
        fade: float = 1.0,
        margin: float = 0.5,
        frame_batch: int = 128,
        fast_fft: bool = False,
        threads: int | None = None,
    ):
        self.audio = audio
        self.sources = tuple(sources)
        self.normalization = resolve_normalization(normalize, exhaustive)
        self.exhaustive = exhaustive
        self.normalize = self.normalization != "raw"
        self.wiener = wiener
        self.wiener_iterations = wiener_iterations
        self.blocks = Blocks(block_seconds, fade, margin)
        self.block_seconds, self.fade, self.margin = block_seconds, fade, margin
        self.frame_batch = frame_batch
        self.fast_fft = fast_fft
        self.threads = threads
        self._grids: dict[int, InputGrid] = {}

    # ------------------------------------------------------------------ subclass hook

    def masks_for_view(self, view: np.ndarray, index: int, start: int, stop: int,
                       profiler: Profiler) -> np.ndarray:
        """Masks (freq_bins, frames, model channels, K) for a model-rate view (samples, Cm).

        `index` numbers the views of the segment [start, stop) (input samples), see
        `masks.channel_views`.
        """
        raise NotImplementedError

    # ------------------------------------------------------------------ public API

    def settings(self) -> dict:
        """What changes the stems (used to key cached evaluations)."""
        normalize = {"exhaustive": True, "partial": True, "raw": False}[self.normalization]
        default = None if self.exhaustive is None else resolve_normalization("auto", self.exhaustive)
        if normalize and self.normalization != default:
            normalize = self.normalization  # an explicit choice other than the default
        return {
            "audio": dataclasses.asdict(self.audio), "sources": list(self.sources),
            "normalize": normalize, "wiener": self.wiener,
            "wiener_iterations": self.wiener_iterations if self.wiener else 0,
            "block_seconds": self.block_seconds, "fade": self.fade, "margin": self.margin,
            **({"fast_fft": True} if self.fast_fft else {}),
        }

    def separate(
        self,
        waveform: np.ndarray,
        rate: int,
        *,
        stems: tuple[str, ...] | None = None,
        progress=None,
        profiler: Profiler | None = None,
    ) -> dict[str, np.ndarray]:
        """Separate a waveform (samples, channels) or (samples,) at `rate`.

        Returns:
            {source: (samples, channels) float32} at the input's rate and channel count
            ((samples,) in, (samples, 1) out). `stems` picks a subset of the sources.
        """
        profiler = profiler or NO_PROFILER
        x = np.asarray(waveform, np.float32)
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"waveform must be (samples, channels) and non-empty. Received: "
                             f"shape={np.shape(waveform)}")
        picks = self.stem_indices(stems)
        n = len(x)
        if n < self.min_samples(int(rate)):  # (np.pad would copy long inputs for nothing)
            x = np.pad(x, ((0, self.min_samples(int(rate)) - n), (0, 0)))
        whole = out = None
        for start, block in self.stream(lambda a, b: x[a:b], len(x), x.shape[1], int(rate),
                                        progress=progress, profiler=profiler):
            if start == 0 and block.shape[1] == len(x):  # one block: its stems are the result
                whole = block
                continue
            if out is None:  # (K, n, C) views of (K, C, n) rows, the blocks' layout
                out = np.empty((len(picks), x.shape[1], len(x)), np.float32).transpose(0, 2, 1)
            with profiler.stage("output"):
                for i, k in enumerate(picks):
                    out[i, start : start + block.shape[1]] = block[k]
        if whole is not None:
            return {self.sources[k]: whole[k, :n] for k in picks}
        return {self.sources[k]: out[i, :n] for i, k in enumerate(picks)}

    def separate_file(self, path, out_dir, *, stems=None, fmt: str = "wav", float32: bool = False,
                      progress=None, profiler: Profiler | None = None, decode=None, encoding=None,
                      two_stems: str | None = None) -> dict:
        """Separate one audio file into `out_dir/<stem>.<ext>` (see `files.separate_file`)."""
        from tf_munet_core.files import separate_file

        return separate_file(self, path, out_dir, stems=stems, fmt=fmt, float32=float32,
                             progress=progress, profiler=profiler, decode=decode,
                             encoding=encoding, two_stems=two_stems)

    def stream(self, read, total: int, channels: int, rate: int, *, progress=None,
               profiler: Profiler | None = None):
        """Yield (start, stems (K, n, channels)) of an input served by `read(start, stop)`."""
        profiler = profiler or NO_PROFILER

        def masks(x, start, stop):
            return self._prepare_segment(x, rate, start, stop, profiler)

        def segment(x, start, stop, prepared):
            return self._separate_segment(x, rate, start, stop, profiler, prepared)

        return self.blocks.stream(read, total, rate, segment, progress, profiler, prepare=masks)

    def min_samples(self, rate: int) -> int:
        """Shortest input the STFTs take (reflect padding needs over half a window, at the
        model's rate and at the input's); shorter inputs are zero-padded, their stems cut back."""
        n_fft, _ = input_stft(self.audio, rate, self.fast_fft)
        return max(n_fft, math.ceil(self.audio.n_fft * rate / self.audio.sample_rate)) + 2

    def stem_indices(self, stems, flag: str = "--stems") -> list[int]:
        """Indices of `stems` (None: all; any case) in `sources`; a UserError names unknown ones
        (as the value of `flag`) and suggests the closest."""
        if not stems:
            return list(range(len(self.sources)))
        picks = []
        for s in stems:
            try:
                picks.append(self.sources.index(resolve_name(s, self.sources, "source")))
            except UserError:
                raise UserError(f"{flag} {s}: not separated by this model{suggestion(s, self.sources)} "
                                f"(it separates {', '.join(self.sources)})") from None
        return picks

    # ------------------------------------------------------------------ one segment

    def _segment_masks(self, x, rate, start, stop, profiler) -> list[np.ndarray]:
        """Per input channel: normalised masks (freq_bins, model frames, K) on the model grid."""
        views, mode = channel_views(x, self.audio.channels)
        masks = []
        for i, v in enumerate(views):
            with profiler.stage("resample"):
                v = resample(v, rate, self.audio.sample_rate)
            m = self.masks_for_view(v, i, start, stop, profiler)
            with profiler.stage("masks"):
                masks.append(normalize_masks(m, self.normalization))
        with profiler.stage("masks"):
            return masks_per_channel(masks, mode, x.shape[1])

    def _prepare_segment(self, x, rate, start, stop, profiler):
        """A segment's first step, run a block ahead in a second thread (`Blocks.stream`)."""
        return self._segment_masks(x, rate, start, stop, profiler)

    def _input_grid(self, rate: int) -> InputGrid:
        if rate not in self._grids:
            self._grids[rate] = InputGrid.build(self.audio, rate, self.fast_fft)
        return self._grids[rate]

    def _separate_segment(self, x: np.ndarray, rate: int, start: int, stop: int,
                          profiler: Profiler, masks: list[np.ndarray]) -> np.ndarray:
        """Stems (K, n, C) of one segment: its masks (`_prepare_segment`) mapped onto each channel's
        STFT at `rate`.

        Works in float32/complex64 on batches of input frames, laid out (channel, source,
        frame, bin) so every FFT runs on contiguous rows.
        """
        n, channels = x.shape
        k = len(self.sources)
        grid = self._input_grid(rate)
        spec = grid.spec
        n_fft, hop, pad, window = spec.n_fft, spec.hop, spec.pad, spec.window()
        frames = spec.frame_count(n)
        by_residual = self.normalization == "exhaustive" and not self.wiener and k > 1
        # Wiener adds a residual source unless the sources cover the mixture (an export knows
        # only its normalisation: "exhaustive" says they do)
        covers_mixture = (self.exhaustive if self.exhaustive is not None
                          else self.normalization == "exhaustive")
        k_out = k - 1 if by_residual else k
        with profiler.stage("mapping"):
            # one (freq_bins, model frames, K) array per distinct mask (mono: one)
            keys = list({id(m): m for m in masks}.values())
            key_ids = [id(m) for m in keys]
            which = [key_ids.index(id(m)) for m in masks]
            if not self.wiener:  # the residual source needs no gains
                keys = [m[..., :k_out] for m in keys]
            # input frame u is centred at u * hop / rate s; model frame t at t * hop_m / r_m
            pos = np.arange(frames) * (hop / rate) * (self.audio.sample_rate / self.audio.hop)
            t_lo, t_hi, t_frac = linear_weights(pos, masks[0].shape[1])
            same_frames = not t_frac.any() and np.array_equal(t_lo, np.arange(frames))
        with profiler.stage("input_stft"):
            xp = spec.padded(x)  # (C, pad + n + pad)
            framed = spec.frames(xp)  # (C, frames, n_fft) views
        batch = self.frame_batch if self.wiener else min(self.frame_batch, 32)
        # stems (K, C, samples) with the STFT's padding: the overlap-add's own rows, so every
        # write runs along contiguous time and nothing is copied out afterwards
        rows = np.zeros((k, channels, (frames - 1) * hop + n_fft + hop), np.float32)
        ola = OverlapAdd(rows[:k_out].transpose(1, 0, 2), frames, spec)
        synthesis = ola.synthesis
        starts = list(range(0, frames, batch))
        spent: list[dict[str, float]] = []

        def run(u0: int) -> None:
            """One batch of input frames, from frames to their stems' samples. numpy and
            the FFTs release the GIL: threads use the cores."""
            clock, times = time.perf_counter, {"input_stft": 0.0, "mapping": 0.0, "istft": 0.0}
            u = slice(u0, min(frames, u0 + batch))
            t0 = clock()
            spec = fft.rfft(framed[:, u] * window)  # (C, nb, F)
            t1 = clock()
            gains = []
            for m in keys:  # by time (linear), then by Hz (two gathers), then extended
                f = t_frac[u][None, :, None]
                mt = m[:, u] if same_frames else m[:, t_lo[u]] * (1 - f) + m[:, t_hi[u]] * f
                gains.append(grid.gains(grid.extend(mt)))
            if self.wiener:  # (C, K, nb, F)
                est = wiener_batch([grid.full_gains(*gains[w]) for w in which], spec,
                                   covers_mixture, self.wiener_iterations)
            else:  # real gains: complex bins below n_low, (re, im) pairs above (one gain each)
                est = np.empty((channels, k_out, *spec.shape[1:]), np.complex64)
                re_im, out = spec.view(np.float32), est.view(np.float32)
                n_low = grid.n_low
                for c in range(channels):
                    g_low, g_top = gains[which[c]]
                    np.multiply(spec[c, None, :, :n_low], g_low, out=est[c, :, :, :n_low])
                    np.multiply(re_im[c, None, :, 2 * n_low :], g_top[:, :, None],
                                out=out[c, :, :, 2 * n_low :])
            t2 = clock()
            y = fft.irfft(est, n_fft, overwrite=True)
            y *= synthesis
            ola.add(y, u0)
            times["input_stft"] += t1 - t0
            times["mapping"] += t2 - t1
            times["istft"] += clock() - t2
            spent.append(times)

        # batches of one round share no samples: added concurrently, in the same order of terms
        # whatever the number of threads
        rounds = ola.rounds(batch)
        threads = max(1, min(self.threads or fft_workers(), len(starts)))
        t0 = time.perf_counter()
        if threads == 1:
            for r in range(rounds):
                for u0 in starts[r::rounds]:
                    run(u0)
        else:
            with ThreadPoolExecutor(threads) as pool:
                for r in range(rounds):
                    list(pool.map(run, starts[r::rounds]))
        profiler.add_threads(spent, time.perf_counter() - t0)
        with profiler.stage("istft"):
            stems = rows[:, :, pad : pad + n]
            ola.finish(pad, n)
        if by_residual:
            with profiler.stage("output"):
                np.subtract(xp[:, pad : pad + n], stems[0], out=stems[-1])
                for j in range(1, k_out):
                    stems[-1] -= stems[j]
        return stems.transpose(0, 2, 1)


class NetworkSeparator(MaskSeparator):
    """A separator whose masks come from a network in any runtime (a `masks.MaskFunction`).

    Args:
        audio, sources: the model's audio domain and source order.
        mask_fn: magnitude patches -> masks on the network's grid (see `masks.MaskFunction`).
        overlap: fraction of a patch shared with the next one (0 = back to back).
        batch_size: patches per `mask_fn` call.
        name: label in tables and logs.
        **options: `MaskSeparator` options.
    """

    def __init__(self, audio: AudioConfig, sources, mask_fn: MaskFunction, *,
                 overlap: float = DEFAULT_OVERLAP, batch_size: int = 8, name: str = "model",
                 **options):
        super().__init__(audio, tuple(sources), **options)
        if not 0 <= overlap < 1:
            raise ValueError(f"overlap must be in [0, 1). Received: overlap={overlap}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1. Received: batch_size={batch_size}")
        self.mask_fn = mask_fn
        self.overlap = overlap
        self.batch_size = batch_size
        self.name = name
        self.grid = ModelGrid(audio)

    def masks_for_view(self, view, index, start, stop, profiler):
        with profiler.stage("model_stft"):
            mag = self.grid.magnitude(view)
        return network_masks(mag, self.audio, self.mask_fn, len(self.sources), self.overlap,
                             self.batch_size, self.grid.to_linear, profiler)

    def settings(self) -> dict:
        extra = {"overlap": self.overlap} if self.overlap != 0.5 else {}  # old cache keys hold
        return {**super().settings(), "name": self.name, **extra}
