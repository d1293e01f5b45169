"""From a trained run (or a reference method) to stems at the input's rate and channel count.

How masks computed at the model's rate reach full-rate audio (PAPER.md, "Measured here": this
mapping is worth about 1 dB over upsampling low-rate stems):

1. The model sees the input downmixed (mono presets) and resampled to its rate. Its magnitude
   goes through the run's front end (`SpectralFrontEnd.magnitude`) and the network in patches of
   `frames` frames overlapping by a quarter (`Separator(overlap=...)`; 0.5 costs a third more
   network time for the same SDR, 0 is the fastest); masks are averaged on overlaps
   with a Hann weight, then unwarped to linear bins (`SpectralFrontEnd.mask_to_linear`).
2. Normalisation: when the run's sources cover the mixture (4stems, 2stems) the masks are
   divided by their sum over sources in every bin, so the stems sum to the mixture (a bin where
   every mask is ~0 is shared equally). For a partial source set masks are only scaled down
   where they sum above 1. `normalize=False` keeps the raw network masks.
3. The input keeps its rate and channels: every channel gets its own STFT whose window and hop
   last as long *in seconds* as the model's (n_fft * r_in / r_model, hop * r_in / r_model,
   rounded). Masks are interpolated onto it by Hz along frequency and by seconds along time;
   bins above the model's band follow `spectral.extend_mask`'s rule (each takes the mean of the
   top modelled bins of its frame), so the high band is shared, never dropped.
   Done in float32 on batches of 32 input frames shared out between the cores (threads; numpy
   and scipy.fft release the GIL): the Hz interpolation is two gathers per bin in
   the model's band plus one value per frame for every bin above it (the same numbers as
   `frequency_map`'s matrix, without a dense product over mostly extended bins). The FFT size
   stays the window's: zero-padding to an FFT-friendly size (5512 -> 5625 at 44.1 kHz for the
   cunet preset) puts the input bins between the model's and cost the oracle 0.13-0.22 dB.
   When the masks sum to 1 (normalised exhaustive sets, no Wiener) the last source is the
   mixture minus the others, exactly what its own inverse STFT gives, one iSTFT fewer.
4. Channels: a mono model's mask applies to every input channel; a stereo model gives per-channel
   masks for stereo input and runs on each channel duplicated to stereo otherwise.
5. Long inputs go in blocks of `block_seconds` with `margin` seconds of context on both sides
   and a linear crossfade of `fade` seconds between blocks (crossfade weights sum to 1, so stems
   still sum to the mixture). Memory is bounded by the block, not the input; the CLI reads and
   writes files block by block.
6. `wiener=True` refines the masked estimates with norbert's multichannel Wiener filter (one EM
   iteration by default), in batches of input frames.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tf_munet.errors import UserError, atomic_path, one_line, safe_child
from tf_munet.presets import AudioConfig, Preset, is_exhaustive

FORMATS = {"wav": "WAV", "flac": "FLAC"}

DEFAULT_OVERLAP = 0.25
"""Fraction of a network patch shared with the next one (see `Separator`)."""

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
"""What `MaskSeparator.timings` measures, stage by stage."""

# ----------------------------------------------------------------------------- audio helpers


def resample(data: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """(samples, channels) float32 from one rate to another (the data package's soxr HQ)."""
    from tf_munet.data.audio_io import resample as _resample

    return np.asarray(_resample(data, from_rate, to_rate), np.float32)


class _ForwardReader:
    """Serves `read(start, stop)` requests with non-decreasing `start` from a soundfile stream.

    Keeps only the samples not yet passed, so reading a long file never holds more than one
    block (plus its context) in memory. A file shorter than announced is padded with zeros.
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


# ----------------------------------------------------------------------------- mapping


def _linear_weights(positions: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lo, hi, frac) to sample a length-n axis linearly at fractional `positions` (clamped)."""
    positions = np.clip(positions, 0, n - 1)
    lo = np.floor(positions).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    return lo, hi, (positions - lo).astype(np.float32)


def _largest_prime_factor(n: int) -> int:
    factor, largest = 2, 1
    while factor * factor <= n:
        while n % factor == 0:
            n, largest = n // factor, factor
        factor += 1
    return max(largest, n)


def input_stft(audio: AudioConfig, rate: int, fast: bool = False) -> tuple[int, int]:
    """(n_fft, hop) at `rate` lasting as long in seconds as the model's STFT (n_fft even).

    `fast`: the even length within 0.1 % of the exact one whose largest prime factor is the
    smallest (an FFT-friendly size: 5512 -> 5508 and 4142 -> 4140 at 44.1 kHz for the cunet and
    paper presets, 1.7x and 2.4x faster inverse FFTs). Input bins then drift from the model's
    by up to half a bin at the top of its band: the oracle lost 0.02-0.03 dB on synthetic tracks.
    """
    scale = rate / audio.sample_rate
    exact = audio.n_fft * scale
    n_fft = max(16, 2 * round(exact / 2))
    if fast and n_fft > 64:
        near = range(2 * math.ceil(exact * 0.999 / 2), math.floor(exact * 1.001) + 1, 2)
        n_fft = min(near, key=lambda n: (_largest_prime_factor(n), abs(n - exact)), default=n_fft)
    hop = max(1, round(audio.hop * scale))
    return n_fft, min(hop, n_fft // 2)


def _frequency_positions(audio: AudioConfig, rate: int, n_fft: int):
    """Where input bin j (at j * rate / n_fft Hz) samples the model's bins extended to n_ext.

    Returns (lo, hi, frac, n_ext): linear weights on an axis of n_ext rows, the first
    `freq_bins` the model's and the rest `spectral.extend_mask`'s extension rows.
    """
    hz = np.arange(n_fft // 2 + 1) * rate / n_fft
    pos = hz * audio.n_fft / audio.sample_rate
    n_ext = max(audio.freq_bins, int(math.ceil(pos.max())) + 2)
    return (*_linear_weights(pos, n_ext), n_ext)


def frequency_map(audio: AudioConfig, rate: int, n_fft: int) -> np.ndarray:
    """(n_fft//2+1, freq_bins) matrix: masks on the model's linear bins -> an input STFT's bins.

    Input bin j (at j * rate / n_fft Hz) samples the model's bins linearly at the same Hz; bins
    above the model's band get `spectral.extend_mask`'s rule (the matrix is that rule applied to
    the identity, so it is the same rule, not a copy of it). `Separator` applies the same map
    as gathers (`_InputGrid`); tests check both agree.
    """
    from tf_munet.spectral import extend_mask

    lo, hi, frac, n_ext = _frequency_positions(audio, rate, n_fft)
    ext = extend_mask(np.eye(audio.freq_bins, dtype=np.float32), n_ext, axis=0)
    return ((1 - frac)[:, None] * ext[lo] + frac[:, None] * ext[hi]).astype(np.float32)


def _hann(n: int) -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)


def _fft_workers() -> int:
    """Threads for the input-rate work (STFTs, mapping, iSTFTs): OMP_NUM_THREADS when set
    (evaluation's worker processes set it to their share of the cores), else every core this
    process may use."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass(frozen=True)
class _InputGrid:
    """An input rate's STFT and `frequency_map` as gathers (built once per rate).

    Input bins below `n_low` sample the model's bins linearly at `f_lo`/`f_hi` (index
    `freq_bins` is the extension row); bins from `n_low` up lie wholly in the extended band and
    take the extension value itself: two gathers and a broadcast instead of a dense matmul over
    all (mostly extended) bins.
    """

    n_fft: int
    hop: int
    window: np.ndarray
    freq_bins: int
    n_low: int
    f_lo: np.ndarray
    f_hi: np.ndarray
    f_frac: np.ndarray
    same_bins: bool  # input bin j is model bin j (the input is at the model's rate): no gathers

    @classmethod
    def build(cls, audio: AudioConfig, rate: int, fast: bool = False) -> "_InputGrid":
        n_fft, hop = input_stft(audio, rate, fast)
        lo, hi, frac, _ = _frequency_positions(audio, rate, n_fft)
        fb = audio.freq_bins
        n_low = int(np.sum(lo < fb))  # positions increase with j: the first n_low bins
        f_lo, f_hi, f_frac = np.minimum(lo[:n_low], fb), np.minimum(hi[:n_low], fb), frac[:n_low]
        same = not f_frac.any() and np.array_equal(f_lo, np.arange(n_low))
        return cls(n_fft, hop, _hann(n_fft), fb, n_low, f_lo, f_hi, f_frac, same)

    def extend(self, masks: np.ndarray) -> np.ndarray:
        """Masks (freq_bins, frames, K) -> (K, frames, freq_bins + 1) with the extension row."""
        from tf_munet.spectral import extend_mask

        m = np.ascontiguousarray(np.transpose(masks, (2, 1, 0)), dtype=np.float32)
        return extend_mask(m, self.freq_bins + 1, axis=-1)

    def gains(self, ext: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Extended masks (K, nb, freq_bins + 1) -> gains of bins below n_low (K, nb, n_low) and
        the extension value every bin from n_low up takes (K, nb)."""
        if self.same_bins:
            return ext[..., : self.n_low], ext[..., self.freq_bins]
        low = ext[..., self.f_lo] * (1 - self.f_frac) + ext[..., self.f_hi] * self.f_frac
        return low, ext[..., self.freq_bins]

    def full_gains(self, low: np.ndarray, top: np.ndarray) -> np.ndarray:
        """(K, nb, n_low) and (K, nb) -> gains of every input bin (K, nb, n_fft // 2 + 1)."""
        high = np.broadcast_to(top[..., None], (*top.shape, self.n_fft // 2 + 1 - self.n_low))
        return np.concatenate([low, high], axis=-1)


class _OverlapAdd:
    """Overlap-add of windowed frames (..., nb, n_fft) into (..., samples), by hop-sized parts
    (one vectorised add per part of a frame instead of one per frame)."""

    def __init__(self, lead: tuple[int, ...], frames: int, n_fft: int, hop: int):
        self.n_fft, self.hop, self.frames = n_fft, hop, frames
        self.parts = -(-n_fft // hop)
        self.buf = np.zeros((*lead, frames - 1 + self.parts, hop), np.float32)

    def add(self, y: np.ndarray, u0: int) -> None:
        """Add frames u0, u0 + 1, ... (y: (..., nb, n_fft), already windowed)."""
        nb = y.shape[-2]
        for r in range(self.parts):
            a, b = r * self.hop, min(self.n_fft, (r + 1) * self.hop)
            self.buf[..., u0 + r : u0 + r + nb, : b - a] += y[..., a:b]

    def result(self, window: np.ndarray, pad: int, n: int, out: np.ndarray | None = None):
        """Samples [pad, pad + n) divided by the frames' summed squared window (..., n)."""
        env = np.zeros((self.frames - 1 + self.parts, self.hop), np.float32)
        sq = window**2
        for r in range(self.parts):
            a, b = r * self.hop, min(self.n_fft, (r + 1) * self.hop)
            env[r : r + self.frames, : b - a] += sq[a:b]
        env = env.reshape(-1)[pad : pad + n]
        flat = self.buf.reshape(*self.buf.shape[:-2], -1)[..., pad : pad + n]
        return np.multiply(flat, 1.0 / np.maximum(env, 1e-8), out=out)


def stft_np(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Centred STFT (reflect pad, periodic Hann) of (samples, C) -> (frames, n_fft//2+1, C).

    Same conventions as `spectral.stft`; used at the input's rate, where the model's TF front
    end is not involved.
    """
    pad = n_fft // 2
    xp = np.pad(x, ((pad, pad), (0, 0)), mode="reflect")
    frames = 1 + len(x) // hop
    idx = np.arange(frames)[:, None] * hop + np.arange(n_fft)[None, :]
    return np.fft.rfft(xp[idx] * _hann(n_fft)[None, :, None], axis=1).astype(np.complex64)


# ----------------------------------------------------------------------------- separators


class MaskSeparator:
    """Everything between a waveform and its stems except where the masks come from.

    Subclasses implement `_view_masks`: masks on the model's linear-frequency grid for one
    model-rate view of a segment of the input.

    Args:
        preset: the preset whose audio settings (rate, channels, STFT) the masks live on.
        sources: source names, in the order of the masks' last axis.
        normalize: normalise masks across sources (see module docstring: to sum 1 for source
            sets that add up to the mixture, to sum at most 1 otherwise); False keeps raw masks.
        wiener: refine estimates with norbert's multichannel Wiener filter.
        wiener_iterations: EM iterations of the Wiener filter.
        block_seconds, fade, margin: block processing of long inputs (seconds).
        frame_batch: input STFT frames processed at once (bounds temporary memory; the Wiener
            filter's statistics are per batch). Without Wiener at most 32 at a time: a batch's
            spectra then stay in cache (faster than 128).
        fast_fft: input-rate STFTs of an FFT-friendly length within 0.1 % of the model's window
            (see `input_stft`): faster inverse STFTs for a few hundredths of a dB.
    """

    def __init__(
        self,
        preset: Preset,
        sources: tuple[str, ...],
        *,
        normalize: bool | None = None,
        wiener: bool = False,
        wiener_iterations: int = 1,
        block_seconds: float = 30.0,
        fade: float = 1.0,
        margin: float = 0.5,
        frame_batch: int = 128,
        fast_fft: bool = False,
    ):
        self.preset = preset
        self.audio = preset.audio
        self.sources = tuple(sources)
        self.exhaustive = is_exhaustive(self.sources)
        self.normalize = True if normalize is None else normalize
        self.wiener = wiener
        self.wiener_iterations = wiener_iterations
        if block_seconds < 2 * fade or fade <= 0 or margin < 0:
            raise ValueError(
                "block_seconds must be at least twice fade, fade > 0, margin >= 0. Received: "
                f"block_seconds={block_seconds}, fade={fade}, margin={margin}"
            )
        self.block_seconds = block_seconds
        self.fade = fade
        self.margin = margin
        self.frame_batch = frame_batch
        self.fast_fft = fast_fft
        self._maps: dict[int, _InputGrid] = {}
        self.timings: dict[str, float] | None = None
        """Set to {} to accumulate wall seconds per stage of `separate` (see `STAGES`)."""

    def _record(self, spent: list[dict[str, float]], wall: float) -> None:
        """Add threads' stage times to `timings`, scaled so they add up to the wall time."""
        if self.timings is None:
            return
        total = sum(sum(d.values()) for d in spent) or 1.0
        for d in spent:
            for name, seconds in d.items():
                self.timings[name] = self.timings.get(name, 0.0) + seconds * wall / total

    @contextmanager
    def _stage(self, name: str):
        """Time a block of work as `name` in `timings` (when set)."""
        if self.timings is None:
            yield
            return
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t0

    # ------------------------------------------------------------------ subclass hooks

    def _view_masks(self, view: np.ndarray, index: int, start: int, stop: int) -> np.ndarray:
        """Masks (freq_bins, frames, model channels, K) for a model-rate view (samples, Cm).

        `index` numbers the views of the segment [start, stop) (input samples), see `_views`.
        """
        raise NotImplementedError

    def settings(self) -> dict:
        """What changes the stems (used to key cached evaluations)."""
        return {
            "audio": self.preset.to_dict()["audio"], "sources": list(self.sources),
            "normalize": self.normalize, "wiener": self.wiener,
            "wiener_iterations": self.wiener_iterations if self.wiener else 0,
            "block_seconds": self.block_seconds, "fade": self.fade, "margin": self.margin,
            **({"fast_fft": True} if self.fast_fft else {}),
        }

    # ------------------------------------------------------------------ public API

    def separate(
        self,
        waveform: np.ndarray,
        rate: int,
        *,
        stems: tuple[str, ...] | None = None,
        progress=None,
    ) -> dict[str, np.ndarray]:
        """Separate a waveform (samples, channels) or (samples,) at `rate`.

        Returns:
            {source: (samples, channels) float32} at the input's rate and channel count
            ((samples,) in, (samples, 1) out). `stems` picks a subset of the sources.
        """
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
        for start, block in self._stream(lambda a, b: x[a:b], len(x), x.shape[1], int(rate),
                                         progress):
            if start == 0 and block.shape[1] == len(x):  # one block: its stems are the result
                whole = block
                continue
            if out is None:
                out = np.empty((len(picks), *x.shape), np.float32)
            with self._stage("output"):
                for i, k in enumerate(picks):
                    out[i, start : start + block.shape[1]] = block[k]
        if whole is not None:
            return {self.sources[k]: whole[k, :n] for k in picks}
        return {self.sources[k]: out[i, :n] for i, k in enumerate(picks)}

    def separate_file(
        self,
        path: str | os.PathLike,
        out_dir: str | os.PathLike,
        *,
        stems: tuple[str, ...] | None = None,
        fmt: str = "wav",
        float32: bool = False,
        progress=None,
    ) -> dict[str, Path]:
        """Separate one audio file into `out_dir/<source>.<fmt>`, block by block.

        Files soundfile can read are streamed (memory bounded by the block size); others are
        decoded whole (ffmpeg) first. Every stem file is written atomically.
        """
        import soundfile as sf

        from tf_munet.data.audio_io import check_complete, check_input_file, read_audio

        path = Path(path)
        if fmt not in FORMATS:
            raise UserError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
        check_input_file(path)
        picks = self.stem_indices(stems)
        with ExitStack() as stack:
            try:
                handle = stack.enter_context(sf.SoundFile(path))
                rate, channels, total = handle.samplerate, handle.channels, handle.frames
                stream: Callable[[int, int], np.ndarray] = _ForwardReader(handle, channels)
            except (sf.LibsndfileError, RuntimeError, TypeError):  # soundfile can't: decode whole
                handle = None
                data, rate = read_audio(path)
                channels, total = data.shape[1], len(data)
                stream = lambda a, b: data[a:b]  # noqa: E731
            if total == 0:
                raise UserError(f"{path}: no audio samples")
            if handle is not None:
                check_complete(path, handle)
            length = max(total, self.min_samples(rate))  # _ForwardReader pads with zeros

            def read(a: int, b: int) -> np.ndarray:
                """Stream reads that name the file when its audio turns out bad mid-way."""
                try:
                    x = stream(a, b)
                except (sf.LibsndfileError, RuntimeError) as exc:
                    raise UserError(f"{path}: cannot decode audio near {a / rate:.1f} s "
                                    f"({one_line(exc)})") from None
                if len(x) < b - a:
                    x = np.pad(x, ((0, b - a - len(x)), (0, 0)))
                if not np.isfinite(x).all():
                    raise UserError(f"{path}: audio contains NaN or infinite samples")
                return x

            subtype = "FLOAT" if float32 and fmt == "wav" else "PCM_16"
            paths, writers = {}, []
            try:
                for k in picks:
                    final = safe_child(Path(out_dir), f"{self.sources[k]}.{fmt}")
                    tmp = stack.enter_context(atomic_path(final, suffix=f".tmp.{fmt}"))
                    writers.append(stack.enter_context(sf.SoundFile(
                        tmp, "w", samplerate=rate, channels=channels, format=FORMATS[fmt],
                        subtype=subtype,
                    )))
                    paths[self.sources[k]] = final
                for start, block in self._stream(read, length, channels, rate, progress):
                    block = block[:, : max(0, total - start)]
                    for w, k in zip(writers, picks):
                        y = block[k]
                        w.write(y if subtype == "FLOAT" else np.clip(y, -1.0, 1.0))
                for w in writers:  # close before the atomic rename
                    w.close()
            except sf.LibsndfileError as exc:  # libsndfile says "System error." for a full disk
                raise UserError(f"{out_dir}: cannot write stems ({one_line(exc)} - disk full?)") from None
        return paths

    # ------------------------------------------------------------------ internals

    def min_samples(self, rate: int) -> int:
        """Shortest input the STFTs take (reflect padding needs over half a window, at the
        model's rate and at the input's); shorter inputs are zero-padded, their stems cut back."""
        n_fft, _ = input_stft(self.audio, rate, self.fast_fft)
        return max(n_fft, math.ceil(self.audio.n_fft * rate / self.audio.sample_rate)) + 2

    def stem_indices(self, stems) -> list[int]:
        """Indices of `stems` (None: all) in `sources`; a UserError names unknown ones."""
        if not stems:
            return list(range(len(self.sources)))
        bad = [s for s in stems if s not in self.sources]
        if bad:
            raise UserError(
                f"--stems {','.join(bad)}: not separated by this model "
                f"(it separates {', '.join(self.sources)})"
            )
        return [self.sources.index(s) for s in stems]

    def _blocks(self, total: int, rate: int) -> list[tuple[int, int, int, int]]:
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

    def _stream(
        self, read, total: int, channels: int, rate: int, progress
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (start, stems (K, n, channels)) with finished samples, in order.

        Each block's stems are weighted by the crossfade ramps (1 away from block boundaries,
        so only the ramps are touched) and the overlap with the previous block is added in.
        """
        blocks = self._blocks(total, rate)
        fade = self.fade * rate
        pending = None  # the previous block's stems from this block's start on
        for i, (a, b, s0, s1) in enumerate(blocks):
            y = self._separate_segment(read(s0, s1), rate, s0, s1)
            with self._stage("output"):
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

    def _views(self, x: np.ndarray) -> tuple[list[np.ndarray], str]:
        """What the model sees of an input segment (samples, C) at the input rate.

        Returns the views (samples, model channels) and how their masks map back: "shared"
        (mono model: one mask for every channel), "per_channel" (stereo model, stereo input),
        "dup" (stereo model, view c = input channel c duplicated; its masks are averaged).
        """
        cm = self.audio.channels
        if cm == 1:
            return [x.mean(axis=1, keepdims=True)], "shared"
        if x.shape[1] == cm:
            return [x], "per_channel"
        return [np.repeat(x[:, c : c + 1], cm, axis=1) for c in range(x.shape[1])], "dup"

    def _segment_masks(self, x: np.ndarray, rate: int, start: int, stop: int) -> list[np.ndarray]:
        """Per input channel: normalised masks (freq_bins, model frames, K) on the model grid."""
        views, mode = self._views(x)
        masks = []
        for i, v in enumerate(views):
            with self._stage("resample"):
                v = resample(v, rate, self.audio.sample_rate)
            m = self._view_masks(v, i, start, stop)
            with self._stage("masks"):
                masks.append(self._normalise(m))
        if mode == "shared":
            return [masks[0][:, :, 0]] * x.shape[1]
        if mode == "per_channel":
            return [masks[0][:, :, c] for c in range(x.shape[1])]
        with self._stage("masks"):
            return [m.mean(axis=2) for m in masks]

    def _normalise(self, masks: np.ndarray) -> np.ndarray:
        masks = np.maximum(masks, 0.0, dtype=np.float32)  # a new array: divided in place below
        if not self.normalize:
            return masks
        total = masks.sum(axis=-1, keepdims=True)
        if self.exhaustive:
            masks /= np.maximum(total, 1e-8)
            masks[total[..., 0] <= 1e-8] = 1.0 / masks.shape[-1]  # silent bins: shared equally
            return masks
        masks /= np.maximum(total, 1.0)
        return masks

    def _input_grid(self, rate: int) -> _InputGrid:
        if rate not in self._maps:
            self._maps[rate] = _InputGrid.build(self.audio, rate, self.fast_fft)
        return self._maps[rate]

    def _separate_segment(self, x: np.ndarray, rate: int, start: int, stop: int) -> np.ndarray:
        """Stems (K, n, C) of one segment: masks mapped onto each channel's STFT at `rate`.

        Works in float32/complex64 on batches of `frame_batch` input frames, laid out
        (channel, source, frame, bin) so every FFT runs on contiguous rows. When the masks sum
        to 1 (normalised exhaustive sets, no Wiener) the last source is the mixture minus the
        others: exact by linearity of the inverse STFT, and one inverse STFT fewer.
        """
        import scipy.fft

        n, channels = x.shape
        k = len(self.sources)
        masks = self._segment_masks(x, rate, start, stop)
        grid = self._input_grid(rate)
        n_fft, hop, window = grid.n_fft, grid.hop, grid.window
        pad = n_fft // 2
        frames = 1 + n // hop
        by_residual = self.normalize and self.exhaustive and not self.wiener and k > 1
        k_out = k - 1 if by_residual else k
        with self._stage("mapping"):
            # one extended (K, model frames, bins + 1) array per distinct mask (mono: one)
            keys = list({id(m): None for m in masks})
            ext = {id(m): grid.extend(m) for m in masks}
            which = [keys.index(id(m)) for m in masks]
            # input frame u is centred at u * hop / rate s; model frame t at t * hop_m / r_m
            pos = np.arange(frames) * (hop / rate) * (self.audio.sample_rate / self.audio.hop)
            t_lo, t_hi, t_frac = _linear_weights(pos, masks[0].shape[1])
            same_frames = not t_frac.any() and np.array_equal(t_lo, np.arange(frames))
        with self._stage("input_stft"):
            xp = np.ascontiguousarray(np.pad(x, ((pad, pad), (0, 0)), mode="reflect").T)
            framed = np.lib.stride_tricks.sliding_window_view(xp, n_fft, axis=1)[:, ::hop]
        batch = self.frame_batch if self.wiener else min(self.frame_batch, 32)
        threads = max(1, min(_fft_workers(), -(-frames // batch)))
        olas = [_OverlapAdd((channels, k_out), frames, n_fft, hop) for _ in range(threads)]
        spent = [{"input_stft": 0.0, "mapping": 0.0, "istft": 0.0} for _ in range(threads)]

        def run(t: int) -> None:
            """Batches t, t + threads, ... into olas[t]: a fixed order, so sums are the same
            from run to run. numpy and scipy.fft release the GIL: threads use the cores."""
            clock, times = time.perf_counter, spent[t]
            for u0 in range(t * batch, frames, threads * batch):
                u = slice(u0, min(frames, u0 + batch))
                t0 = clock()
                spec = scipy.fft.rfft(framed[:, u] * window, axis=-1)  # (C, nb, F)
                t1 = clock()
                gains = []
                for key in keys:  # by time (linear), then by Hz (two gathers), then extended
                    e, f = ext[key], t_frac[u][None, :, None]
                    mt = e[:, u] if same_frames else e[:, t_lo[u]] * (1 - f) + e[:, t_hi[u]] * f
                    gains.append(grid.gains(mt))
                if self.wiener:
                    est = self._wiener_batch(gains, which, spec, grid)  # (C, K, nb, F)
                else:
                    est = np.empty((channels, k_out, *spec.shape[1:]), np.complex64)
                    low = grid.n_low
                    for c in range(channels):
                        g_low, g_top = gains[which[c]]
                        np.multiply(spec[c, None, :, :low], g_low[:k_out], out=est[c, :, :, :low])
                        np.multiply(spec[c, None, :, low:], g_top[:k_out, :, None],
                                    out=est[c, :, :, low:])
                t2 = clock()
                y = scipy.fft.irfft(est, n=n_fft, axis=-1, overwrite_x=True)
                y *= window
                olas[t].add(y, u0)
                times["input_stft"] += t1 - t0
                times["mapping"] += t2 - t1
                times["istft"] += clock() - t2

        t0 = time.perf_counter()
        if threads == 1:
            run(0)
        else:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(run, range(threads)))
        self._record(spent, time.perf_counter() - t0)
        ola = olas[0]
        with self._stage("istft"):
            for other in olas[1:]:
                ola.buf += other.buf
        stems = np.empty((k, n, channels), np.float32)
        with self._stage("istft"):
            ola.result(window, pad, n, out=stems[:k_out].transpose(2, 0, 1))
        if by_residual:
            with self._stage("output"):
                np.subtract(x, stems[0], out=stems[-1])
                for j in range(1, k_out):
                    stems[-1] -= stems[j]
        return stems

    def _wiener_batch(self, gains, which, spec, grid) -> np.ndarray:
        """Wiener estimates (C, K, nb, F) of a batch from the mapped gains and spec (C, nb, F)."""
        full = np.stack([grid.full_gains(*gains[w]) for w in which])  # (C, K, nb, F)
        est = self._wiener(full.transpose(2, 3, 0, 1), spec.transpose(1, 2, 0))  # (nb, F, C, K)
        return np.ascontiguousarray(est.transpose(2, 3, 0, 1), dtype=np.complex64)

    def _wiener(self, gains: np.ndarray, spec: np.ndarray) -> np.ndarray:
        """Multichannel Wiener refinement (norbert) of mask estimates on a batch of frames."""
        import norbert

        mag = gains * np.abs(spec)[..., None]
        if not self.exhaustive:  # the residual keeps what the sources don't explain
            rest = np.maximum(1.0 - gains.sum(axis=-1, keepdims=True), 0.0) * np.abs(spec)[..., None]
            mag = np.concatenate([mag, rest], axis=-1)
        est = norbert.wiener(mag.astype(np.float64), spec.astype(np.complex128),
                             iterations=self.wiener_iterations, use_softmask=False)
        return est[..., : gains.shape[-1]]


class Separator(MaskSeparator):
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
        precision: "float32", or "bfloat16" to run the network in bfloat16 (about 1.8x faster
            on CPUs with AMX / AVX512-BF16, slower on others; see `models.precision`).
        name: label in tables and logs.
        **options: `MaskSeparator` options (normalize, wiener, block_seconds, ...).
    """

    def __init__(self, network, preset: Preset, sources, family: str = "munet", *,
                 batch_size: int = 8, overlap: float = DEFAULT_OVERLAP, precision: str = "float32",
                 name: str = "model", **options):
        super().__init__(preset, tuple(sources), **options)
        from tf_munet.models.conditions import is_conditioned
        from tf_munet.models.precision import with_precision
        from tf_munet.spectral import SpectralFrontEnd

        if not 0 <= overlap < 1:
            raise ValueError(f"overlap must be in [0, 1). Received: overlap={overlap}")
        self.network = with_precision(network, precision)
        self.precision = precision
        self.family = family
        self.batch_size = batch_size
        self.overlap = overlap
        self.name = name
        self.front = SpectralFrontEnd(preset.audio)
        self.conditioned = is_conditioned(network)
        self._call = None

    @classmethod
    def load(cls, run_dir: str | os.PathLike, **options) -> "Separator":
        """The best network of a run folder (config.json + model.keras)."""
        from tf_munet.run_dir import load_run

        config, network = load_run(run_dir)
        options.setdefault("name", Path(run_dir).resolve().name)
        return cls(network, config.preset, config.sources, config.model, **options)

    def _network_fn(self):
        """tf.function: magnitude patches (B, bins, frames, C) -> linear masks (B, F, frames, C, K)."""
        if self._call is None:
            import tensorflow as tf

            from tf_munet.models.conditions import all_source_masks

            a = self.audio
            spec = tf.TensorSpec((None, a.model_bins, a.frames, a.channels), tf.float32)

            @tf.function(input_signature=[spec])
            def call(mag):
                masks = all_source_masks(self.network, mag)
                return self.front.mask_to_linear(tf.cast(masks, tf.float32))

            self._call = call
        return self._call

    def _view_masks(self, view, index, start, stop):
        import tensorflow as tf

        a = self.audio
        with self._stage("model_stft"):
            mag = self.front.magnitude(tf.constant(view[None]))[0].numpy()  # (bins, T, C)
        total = mag.shape[1]
        size, step = a.frames, max(1, int(a.frames * (1 - self.overlap)))
        padded = max(size, total)
        if padded > total:
            mag = np.pad(mag, ((0, 0), (0, padded - total), (0, 0)))
        starts = list(range(0, padded - size + 1, step))
        if starts[-1] + size < padded:
            starts.append(padded - size)
        # Hann weights (> 0 everywhere, sum to 1 at 50 % overlap): patch edges count least
        weight = (0.5 - 0.5 * np.cos(2 * np.pi * (np.arange(size) + 0.5) / size)).astype(np.float32)
        acc = np.zeros((a.freq_bins, padded, a.channels, len(self.sources)), np.float32)
        wsum = np.zeros(padded, np.float32)
        call = self._network_fn()
        for b0 in range(0, len(starts), self.batch_size):
            batch_starts = starts[b0 : b0 + self.batch_size]
            patches = np.stack([mag[:, s : s + size] for s in batch_starts])
            with self._stage("network"):
                masks = call(tf.constant(patches)).numpy()
            with self._stage("masks"):
                masks *= weight[None, None, :, None, None]  # our own copy: weighted in place
                for s, m in zip(batch_starts, masks):
                    acc[:, s : s + size] += m
                    wsum[s : s + size] += weight
        with self._stage("masks"):
            acc = acc[:, :total]
            acc /= wsum[None, :total, None, None]
            return acc

    def settings(self) -> dict:
        extra = {"overlap": self.overlap} if self.overlap != 0.5 else {}  # old cache keys hold
        if self.precision != "float32":
            extra["precision"] = self.precision
        return {**super().settings(), "family": self.family, "name": self.name, **extra}


class OracleSeparator(MaskSeparator):
    """The ideal ratio mask |S_k| / sum_j |S_j| (plus the residual mixture - sum S_j), computed
    on the preset's grid (rate, channels, STFT) and mapped onto the input like a model's masks:
    the ceiling of what a mask model with this preset can reach.

    Call `separate(mix, rate, references={source: (samples, channels)})`.
    """

    name = "oracle"

    def __init__(self, preset: Preset, sources, **options):
        options.setdefault("normalize", False)  # ratio masks with the residual already sum to 1
        super().__init__(preset, tuple(sources), **options)
        self._refs: np.ndarray | None = None
        self._rate = 0

    def separate(self, waveform, rate, *, references: dict[str, np.ndarray], stems=None,
                 progress=None):
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
            return super().separate(x, rate, stems=stems, progress=progress)
        finally:
            self._refs = None

    def _view_masks(self, view, index, start, stop):
        a = self.audio
        mags = []
        for ref in self._refs:
            views, _ = self._views(ref[start:stop])
            r = resample(views[index], self._rate, a.sample_rate)
            mags.append(np.abs(stft_np(r, a.n_fft, a.hop))[:, : a.freq_bins])  # (T, F, Cm)
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
