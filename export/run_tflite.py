#!/usr/bin/env python3
"""Separate audio files with a tf_munet TF-Lite export, using only numpy, soundfile and LiteRT.

    python export/run_tflite.py EXPORT_DIR song.wav [more.flac ...] -o OUT
        [--variant float32|float16|dynamic|int8] [--input spectrogram|waveform]

writes OUT/<song>/<source>.wav. EXPORT_DIR is what `python -m tf_munet.export` wrote
(manifest.json + .tflite files); nothing here imports TensorFlow or tf_munet, so this file and
the export folder are all a device needs (pip install numpy soundfile ai-edge-litert; soxr is
used for resampling when installed, a windowed-sinc resampler in numpy otherwise).

Files are read and written block by block (memory is bounded by `--block-seconds`, not by the
file's length); blocks overlap by a short context and are crossfaded, and every block is cut
into the model's fixed chunks/patches, overlap-added. Two ways to run:

- `--input spectrogram` (default): the spectrogram-in model, with the signal processing of
  `tf_munet.separation.Separator` in numpy: the model sees the input downmixed (mono presets)
  and resampled to its rate, magnitude patches of `frames` frames overlapping by the manifest's
  `overlap` (the separator's default, 0.25; `--overlap` changes it) with Hann weights, masks normalised across sources, then mapped onto an STFT of every input channel at
  the input's own rate (bins above the model's band share the top band's masks). Stems keep the
  input's rate, channels and full bandwidth, and match `separate`'s within float32 round-off
  (quantized variants: within their quantization error).
- `--input waveform`: the waveform-in model (STFT and inverse STFT inside the .tflite file) on
  fixed chunks at the model's rate, crossfaded with raised-cosine ramps over the overlap, then
  resampled back. Simpler on devices that can only feed audio, but the stems only reach the
  model's bandwidth (half its sample rate). A mono model runs once per input channel.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import numpy as np

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "tf_munet-tflite/1"
EPS = 1e-8
SOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


class RunnerError(Exception):
    """A problem with the user's input (file, export folder, option): printed as one line."""


# ----------------------------------------------------------------------------- resampling


def resample(x: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """(samples, channels) float32 from one rate to another: soxr "HQ" (as tf_munet does) when
    installed, `resample_numpy` otherwise."""
    x = np.asarray(x, np.float32)
    if from_rate == to_rate:
        return x
    try:
        import soxr
    except ImportError:
        return resample_numpy(x, from_rate, to_rate)
    return np.asarray(soxr.resample(x, int(from_rate), int(to_rate), quality="HQ"), np.float32)


def resample_numpy(
    x: np.ndarray, from_rate: int, to_rate: int, taps: int = 24, beta: float = 8.6
) -> np.ndarray:
    """Windowed-sinc (Kaiser) resampling of (samples, channels); round(n * to / from) outputs.

    The low-pass sits at 0.95 of the lower Nyquist frequency; `taps` zero crossings per side.
    """
    x = np.asarray(x, np.float32)
    ratio = to_rate / from_rate
    n_out = int(round(len(x) * ratio))
    cutoff = 0.95 * min(1.0, ratio)
    width = taps / cutoff  # half-width of the kernel in input samples
    offsets = np.arange(-math.ceil(width), math.ceil(width) + 1)
    out = np.zeros((n_out, x.shape[1]), np.float32)
    for start in range(0, n_out, 4096):
        j = np.arange(start, min(n_out, start + 4096))
        t = j / ratio
        idx = np.floor(t).astype(np.int64)[:, None] + offsets[None, :]
        d = t[:, None] - idx
        inside = np.abs(d) < width
        window = np.where(inside, np.i0(beta * np.sqrt(np.clip(1 - (d / width) ** 2, 0, 1))), 0)
        w = cutoff * np.sinc(cutoff * d) * window / np.i0(beta)
        w *= (idx >= 0) & (idx < len(x))
        out[j] = np.einsum("jk,jkc->jc", w, x[np.clip(idx, 0, len(x) - 1)]).astype(np.float32)
    return out


# ----------------------------------------------------------------------------- signal processing


def hann(n: int) -> np.ndarray:
    """Periodic Hann window."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)


def stft(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Centred STFT (reflect pad n_fft // 2, periodic Hann) of (samples, C) -> (frames, bins, C)."""
    pad = n_fft // 2
    xp = np.pad(x, ((pad, pad), (0, 0)), mode="reflect")
    frames = 1 + len(x) // hop
    idx = np.arange(frames)[:, None] * hop + np.arange(n_fft)[None, :]
    return np.fft.rfft(xp[idx] * hann(n_fft)[None, :, None], axis=1).astype(np.complex64)


def extend_mask(mask: np.ndarray, n_bins: int, axis: int = 0, top: int = 8) -> np.ndarray:
    """Bins above the modelled band take the mean of the top `top` modelled bins (tf_munet's rule)."""
    have = mask.shape[axis]
    if have >= n_bins:
        return np.take(mask, np.arange(n_bins), axis=axis)
    top_mean = np.take(mask, np.arange(max(0, have - top), have), axis=axis).mean(axis=axis, keepdims=True)
    reps = [1] * mask.ndim
    reps[axis] = n_bins - have
    return np.concatenate([mask, np.tile(top_mean, reps)], axis=axis)


def linear_weights(positions: np.ndarray, n: int):
    """(lo, hi, frac) to sample a length-n axis linearly at fractional positions (clamped)."""
    positions = np.clip(positions, 0, n - 1)
    lo = np.floor(positions).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    return lo, hi, (positions - lo).astype(np.float32)


def input_stft(audio: dict, rate: int) -> tuple[int, int]:
    """(n_fft, hop) at `rate` lasting as long in seconds as the model's STFT (n_fft even)."""
    scale = rate / audio["sample_rate"]
    n_fft = max(16, 2 * round(audio["n_fft"] * scale / 2))
    hop = max(1, round(audio["hop"] * scale))
    return n_fft, min(hop, n_fft // 2)


def frequency_map(audio: dict, rate: int, n_fft: int, top: int) -> np.ndarray:
    """(n_fft//2+1, freq_bins): masks on the model's linear bins -> an input STFT's bins, by Hz."""
    hz = np.arange(n_fft // 2 + 1) * rate / n_fft
    pos = hz * audio["n_fft"] / audio["sample_rate"]
    n_ext = max(audio["freq_bins"], int(math.ceil(pos.max())) + 2)
    ext = extend_mask(np.eye(audio["freq_bins"], dtype=np.float32), n_ext, axis=0, top=top)
    lo, hi, frac = linear_weights(pos, n_ext)
    return ((1 - frac)[:, None] * ext[lo] + frac[:, None] * ext[hi]).astype(np.float32)


def normalise(masks: np.ndarray, mode: str | None) -> np.ndarray:
    """Masks (..., K): clip at 0, then "exhaustive" (divide by the sum) or "partial" (scale down
    where the sum exceeds 1)."""
    masks = np.maximum(masks, 0.0)
    if mode is None:
        return masks
    total = masks.sum(axis=-1, keepdims=True)
    if mode == "partial":
        return (masks / np.maximum(total, 1.0)).astype(np.float32)
    safe = np.maximum(total, EPS)
    return np.where(total > EPS, masks / safe, 1.0 / masks.shape[-1]).astype(np.float32)


# ----------------------------------------------------------------------------- the export


class Export:
    """An export folder: its manifest and one variant's LiteRT models.

    Args:
        folder: the export folder (manifest.json + .tflite files).
        variant: "<input>-<quantization>", e.g. "spectrogram-float32".
        threads: LiteRT threads (None: LiteRT's default).
    """

    def __init__(self, folder: str | os.PathLike, variant: str, threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        self.folder = Path(folder)
        path = self.folder / MANIFEST
        if not path.is_file():
            raise RunnerError(f"{path}: not an export folder (no {MANIFEST}; run python -m tf_munet.export)")
        try:
            manifest = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise RunnerError(f"{path}: unreadable manifest ({exc})") from None
        if manifest.get("format") != MANIFEST_FORMAT:
            raise RunnerError(f"{path}: unknown manifest format {manifest.get('format')!r}")
        if variant not in manifest["variants"]:
            raise RunnerError(
                f"{path}: no variant {variant!r}; this export has {', '.join(manifest['variants'])}"
            )
        self.manifest = manifest
        self.audio = manifest["audio"]
        self.sources = tuple(manifest["sources"])
        for source in self.sources:  # source names become file names: no paths from strangers
            if not isinstance(source, str) or not SOURCE_NAME.fullmatch(source):
                raise RunnerError(f"{path}: bad source name {source!r} (letters, digits, _ and - only)")
        self.normalize = manifest.get("normalize")
        self.top = int(manifest.get("extend_top", 8))
        self.kind = manifest["variants"][variant]["input"]
        self.warp = self.unwarp = None
        if manifest.get("grids"):
            grids = np.load(self.folder / manifest["grids"])
            self.warp, self.unwarp = grids["warp"], grids["unwarp"]
        self.models = []
        for entry in manifest["variants"][variant]["models"]:
            file = self.folder / entry["file"]
            if not file.is_file():
                raise RunnerError(f"{file}: missing model file listed in {path}")
            interp = Interpreter(model_path=str(file), num_threads=threads)
            self.models.append((entry, interp.get_signature_runner(entry["signature"])))

    def run(self, x: np.ndarray) -> np.ndarray:
        """One patch (model_bins, frames, C) -> masks (model_bins, frames, C, K), or one chunk
        (chunk_samples, C) -> stems (chunk_samples, C, K), sources in manifest order."""
        key = "magnitude" if self.kind == "spectrogram" else "waveform"
        feed = {key: np.ascontiguousarray(x[None], np.float32)}
        got: dict[str, np.ndarray] = {}
        for entry, runner in self.models:
            if entry["conditioned"]:
                for source in entry["sources"]:
                    cond = np.zeros((1, len(self.sources)), np.float32)
                    cond[0, self.sources.index(source)] = 1.0
                    got[source] = self._outputs(entry, runner(**feed, condition=cond))[..., 0]
            else:
                out = self._outputs(entry, runner(**feed))
                for i, source in enumerate(entry["sources"]):
                    got[source] = out[..., i]
        return np.stack([got[s] for s in self.sources], axis=-1)

    def _outputs(self, entry: dict, out: dict) -> np.ndarray:
        if self.kind == "spectrogram":
            return np.asarray(out["masks"])[0]
        return np.stack([np.asarray(out[name])[0] for name in entry["outputs"]], axis=-1)


# ----------------------------------------------------------------------------- separators


class _ForwardReader:
    """Serves read(start, stop) with non-decreasing start from an open soundfile (zero-padded)."""

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


class EdgeSeparator:
    """Block streaming shared by both inputs; `_separate_segment` is what differs.

    Args:
        export: the loaded export variant.
        block_seconds, fade, margin: blocks of the input (seconds), their crossfade and context
            (the defaults of `tf_munet.separation`).
        frame_batch: input STFT frames processed at once (spectrogram input).
        dsp_threads: threads for the input-rate STFTs and mask mapping (None: every core).
        overlap: fraction of a network patch shared with the next (spectrogram input; None:
            the manifest's, i.e. the separator's default; exports without one used 0.5).
    """

    def __init__(self, export: Export, block_seconds: float = 30.0, fade: float = 1.0,
                 margin: float = 0.5, frame_batch: int = 128, overlap: float | None = None,
                 dsp_threads: int | None = None):
        if block_seconds < 2 * fade or fade <= 0 or margin < 0:
            raise RunnerError("--block-seconds must be at least twice the 1 s crossfade")
        self.overlap = float(export.manifest.get("overlap", 0.5) if overlap is None else overlap)
        if not 0 <= self.overlap < 1:
            raise RunnerError(f"overlap {self.overlap}: must be in [0, 1)")
        self.export = export
        self.audio = export.audio
        self.sources = export.sources
        self.block_seconds, self.fade, self.margin = block_seconds, fade, margin
        self.frame_batch = frame_batch
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        self.dsp_threads = max(1, dsp_threads or cores or 1)
        self._maps: dict[int, tuple[int, int, np.ndarray]] = {}

    # ------------------------------------------------------------------ streaming

    def separate(self, x: np.ndarray, rate: int) -> dict[str, np.ndarray]:
        """(samples, channels) at `rate` -> {source: (samples, channels)} (in memory)."""
        x = np.asarray(x, np.float32)
        x = x[:, None] if x.ndim == 1 else x
        n = len(x)
        x = np.pad(x, ((0, max(0, self.min_samples(rate) - n)), (0, 0)))
        out = np.zeros((len(self.sources), *x.shape), np.float32)
        for start, block in self._stream(lambda a, b: x[a:b], len(x), x.shape[1], rate):
            out[:, start : start + len(block)] = np.moveaxis(block, -1, 0)
        return {s: out[k, :n] for k, s in enumerate(self.sources)}

    def min_samples(self, rate: int) -> int:
        """Shortest input the STFTs take (reflect padding needs over half a window); shorter
        inputs are zero-padded and their stems cut back."""
        n_fft, _ = input_stft(self.audio, rate)
        return max(n_fft, math.ceil(self.audio["n_fft"] * rate / self.audio["sample_rate"])) + 2

    def separate_file(self, path: Path, out_dir: Path, stems=None, float32: bool = False) -> dict:
        """Stream `path` into out_dir/<source>.wav (each written to a temp file, then renamed)."""
        import soundfile as sf

        picks = [self.sources.index(s) for s in (stems or self.sources)]
        if path.is_dir():
            raise RunnerError(f"{path}: is a folder, not an audio file")
        if path.stat().st_size == 0:
            raise RunnerError(f"{path}: empty file (0 bytes)")
        try:
            handle = sf.SoundFile(str(path))
        except Exception as exc:  # noqa: BLE001 - any decoder error names the file
            raise RunnerError(f"{path}: cannot read audio ({_one_line(exc)})") from None
        written = {}
        with ExitStack() as stack:
            stack.enter_context(handle)
            rate, channels, total = handle.samplerate, handle.channels, handle.frames
            _check_complete(path, handle)
            if total <= 0:
                raise RunnerError(f"{path}: no audio samples")
            out_dir.mkdir(parents=True, exist_ok=True)
            writers, temps = [], []
            for k in picks:
                fd, tmp = tempfile.mkstemp(prefix=f".{self.sources[k]}.", suffix=".tmp.wav", dir=out_dir)
                os.close(fd)
                temps.append(Path(tmp))
                stack.callback(lambda p=Path(tmp): p.unlink(missing_ok=True))
                writers.append(sf.SoundFile(tmp, "w", samplerate=rate, channels=channels,
                                            format="WAV", subtype="FLOAT" if float32 else "PCM_16"))
            stream = _ForwardReader(handle, channels)

            def read(a: int, b: int) -> np.ndarray:
                try:
                    x = stream(a, b)
                except Exception as exc:  # noqa: BLE001 - a decoder error mid-file names the file
                    raise RunnerError(f"{path}: cannot decode audio near {a / rate:.1f} s ({_one_line(exc)})") from None
                if not np.isfinite(x).all():
                    raise RunnerError(f"{path}: audio contains NaN or infinite samples")
                return x

            try:
                length = max(total, self.min_samples(rate))  # the reader pads with zeros
                for start, block in self._stream(read, length, channels, rate):
                    block = block[: max(0, total - start)]
                    for w, k in zip(writers, picks):
                        y = block[..., k]
                        w.write(y if float32 else np.clip(y, -1.0, 1.0))
                for w in writers:
                    w.close()
            except sf.LibsndfileError as exc:  # libsndfile says "System error." for a full disk
                raise RunnerError(f"{out_dir}: cannot write stems ({_one_line(exc)} - disk full?)") from None
            for w, tmp, k in zip(writers, temps, picks):
                final = out_dir / f"{self.sources[k]}.wav"
                os.replace(tmp, final)
                written[self.sources[k]] = final
        return written

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

    def _stream(self, read, total: int, channels: int, rate: int):
        """Yield (start, stems (n, channels, K)) of finished samples, in order."""
        blocks = self._blocks(total, rate)
        fade = self.fade * rate
        k = len(self.sources)
        pending_start, pending = 0, np.zeros((0, channels, k), np.float32)
        for i, (a, b, s0, s1) in enumerate(blocks):
            y = self._separate_segment(read(s0, s1), rate)
            pos = np.arange(s0, s1, dtype=np.float64)
            w = np.ones(s1 - s0)
            if i > 0:
                w *= np.clip((pos - (a - fade / 2)) / fade, 0, 1)
            if i < len(blocks) - 1:
                w *= np.clip(((b + fade / 2) - pos) / fade, 0, 1)
            y *= w.astype(np.float32)[:, None, None]
            if s1 - pending_start > len(pending):
                grow = np.zeros((s1 - pending_start - len(pending), channels, k), np.float32)
                pending = np.concatenate([pending, grow])
            pending[s0 - pending_start : s1 - pending_start] += y
            done = blocks[i + 1][2] if i < len(blocks) - 1 else total
            yield pending_start, pending[: done - pending_start]
            pending = pending[done - pending_start :].copy()
            pending_start = done

    def _separate_segment(self, x: np.ndarray, rate: int) -> np.ndarray:
        raise NotImplementedError


class SpectrogramSeparator(EdgeSeparator):
    """Masks from the spectrogram-in model, applied at the input's rate (see module docstring)."""

    def _views(self, x: np.ndarray):
        cm = self.audio["channels"]
        if cm == 1:
            return [x.mean(axis=1, keepdims=True)], "shared"
        if x.shape[1] == cm:
            return [x], "per_channel"
        return [np.repeat(x[:, c : c + 1], cm, axis=1) for c in range(x.shape[1])], "dup"

    def _view_masks(self, view: np.ndarray) -> np.ndarray:
        """Model-rate view (samples, Cm) -> linear masks (freq_bins, frames, Cm, K)."""
        a = self.audio
        mag = np.abs(stft(view, a["n_fft"], a["hop"]))[:, : a["freq_bins"]]  # (T, F, Cm)
        mag = np.transpose(mag, (1, 0, 2))
        if self.export.warp is not None:
            mag = np.einsum("wf,ftc->wtc", self.export.warp, mag)
        total = mag.shape[1]
        size, step = a["frames"], max(1, int(a["frames"] * (1 - self.overlap)))
        padded = max(size, total)
        if padded > total:
            mag = np.pad(mag, ((0, 0), (0, padded - total), (0, 0)))
        starts = list(range(0, padded - size + 1, step))
        if starts[-1] + size < padded:
            starts.append(padded - size)
        weight = (0.5 - 0.5 * np.cos(2 * np.pi * (np.arange(size) + 0.5) / size)).astype(np.float32)
        acc = np.zeros((a["freq_bins"], padded, a["channels"], len(self.sources)), np.float32)
        wsum = np.zeros(padded, np.float32)
        for s in starts:
            m = self.export.run(mag[:, s : s + size])  # (model_bins, size, Cm, K)
            if self.export.unwarp is not None:
                m = np.einsum("fw,wtck->ftck", self.export.unwarp, m)
            acc[:, s : s + size] += m * weight[None, :, None, None]
            wsum[s : s + size] += weight
        return acc[:, :total] / wsum[None, :total, None, None]

    def _segment_masks(self, x: np.ndarray, rate: int) -> list[np.ndarray]:
        views, mode = self._views(x)
        masks = [normalise(self._view_masks(resample(v, rate, self.audio["sample_rate"])),
                           self.export.normalize) for v in views]
        if mode == "shared":
            return [masks[0][:, :, 0]] * x.shape[1]
        if mode == "per_channel":
            return [masks[0][:, :, c] for c in range(x.shape[1])]
        return [m.mean(axis=2) for m in masks]

    def _input_grid(self, rate: int):
        """(n_fft, hop, low rows of the frequency map, its top row): input bins from n_low up
        lie wholly in the extended top band, so they share one row of the map."""
        if rate not in self._maps:
            n_fft, hop = input_stft(self.audio, rate)
            fmap = frequency_map(self.audio, rate, n_fft, self.export.top)
            same = np.all(fmap == fmap[-1], axis=1)
            n_low = len(fmap) - (int(np.argmin(same[::-1])) if not same.all() else len(fmap))
            self._maps[rate] = (n_fft, hop, np.ascontiguousarray(fmap[:n_low]), fmap[-1])
        return self._maps[rate]

    def _separate_segment(self, x: np.ndarray, rate: int) -> np.ndarray:
        """Stems (n, C, K) of a segment, in batches of input frames laid out (channel, source,
        frame, bin); the inverse STFT is an overlap-add of hop-sized parts. When masks sum to 1
        the last source is the mixture minus the others (one inverse STFT fewer)."""
        n, channels = x.shape
        k = len(self.sources)
        masks = self._segment_masks(x, rate)
        n_fft, hop, f_low, f_top = self._input_grid(rate)
        n_low = len(f_low)
        window = hann(n_fft)
        pad = n_fft // 2
        xp = np.ascontiguousarray(np.pad(x, ((pad, pad), (0, 0)), mode="reflect").T)
        framed = np.lib.stride_tricks.sliding_window_view(xp, n_fft, axis=1)[:, ::hop]
        frames = framed.shape[1]
        residual = self.export.normalize == "exhaustive" and k > 1
        k_out = k - 1 if residual else k
        model_frames = masks[0].shape[1]
        pos = np.arange(frames) * (hop / rate) * (self.audio["sample_rate"] / self.audio["hop"])
        lo, hi, frac = linear_weights(pos, model_frames)
        parts = -(-n_fft // hop)
        batch = min(self.frame_batch, 32)
        threads = max(1, min(self.dsp_threads, -(-frames // batch)))
        bufs = [np.zeros((channels, k_out, frames - 1 + parts, hop), np.float32)
                for _ in range(threads)]

        def run(w: int) -> None:
            """Batches w, w + threads, ... into bufs[w] (numpy's FFTs release the GIL)."""
            buf = bufs[w]
            for u0 in range(w * batch, frames, threads * batch):
                u = slice(u0, min(frames, u0 + batch))
                nb = u.stop - u0
                spec = np.fft.rfft(framed[:, u] * window, axis=-1)  # (C, nb, F)
                gains = {}  # a mono model's one mask serves every channel
                for m in masks:
                    if id(m) not in gains:  # by time (linear), then by Hz (the map's rows)
                        f = frac[u][None, :, None]
                        t = (m[:, lo[u]] * (1 - f) + m[:, hi[u]] * f).reshape(len(m), -1)
                        low = (f_low @ t).reshape(n_low, nb, k).transpose(2, 1, 0)[:k_out]
                        gains[id(m)] = (low, (f_top @ t).reshape(nb, k).T[:k_out])
                est = np.empty((channels, k_out, nb, spec.shape[-1]), np.complex64)
                for c, m in enumerate(masks):
                    g_low, g_top = gains[id(m)]
                    est[c, :, :, :n_low] = spec[c, None, :, :n_low] * g_low
                    est[c, :, :, n_low:] = spec[c, None, :, n_low:] * g_top[:, :, None]
                y = np.fft.irfft(est, n=n_fft, axis=-1).astype(np.float32, copy=False)
                y *= window
                for r in range(parts):  # frame u0 + j, part r lands in hop slot u0 + j + r
                    a, b = r * hop, min(n_fft, (r + 1) * hop)
                    buf[:, :, u0 + r : u0 + r + nb, : b - a] += y[..., a:b]

        if threads == 1:
            run(0)
        else:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(run, range(threads)))
        buf = bufs[0]
        for other in bufs[1:]:
            buf += other
        env = np.zeros((frames - 1 + parts, hop), np.float32)
        for r in range(parts):
            a, b = r * hop, min(n_fft, (r + 1) * hop)
            env[r : r + frames, : b - a] += window[a:b] ** 2
        env = env.reshape(-1)[pad : pad + n]
        out = np.empty((n, channels, k), np.float32)
        out[..., :k_out] = (buf.reshape(channels, k_out, -1)[..., pad : pad + n]
                            / np.maximum(env, EPS)).transpose(2, 0, 1)
        if residual:
            out[..., -1] = x - out[..., :-1].sum(axis=-1)
        return out


class WaveformSeparator(EdgeSeparator):
    """Stems from the waveform-in model on fixed chunks at the model's rate (module docstring)."""

    def chunk_layout(self) -> tuple[int, int]:
        """(chunk, step): step is a whole number of STFT hops close to half a chunk."""
        a = self.audio
        chunk = a["chunk_samples"]
        step = a["hop"] * max(1, (a["frames"] - 1) // 2)
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
            out[s : s + chunk] += self.export.run(padded[s : s + chunk]) * w[:, None, None]
        return out[:n]

    def _separate_segment(self, x: np.ndarray, rate: int) -> np.ndarray:
        n, channels = x.shape
        cm, model_rate = self.audio["channels"], self.audio["sample_rate"]
        if cm == channels:
            views = [(x, list(range(channels)))]
        elif cm == 1:
            views = [(x[:, c : c + 1], [c]) for c in range(channels)]
        else:  # stereo model, other input: each channel duplicated, outputs averaged
            views = [(np.repeat(x[:, c : c + 1], cm, axis=1), [c]) for c in range(channels)]
        out = np.zeros((n, channels, len(self.sources)), np.float32)
        for view, targets in views:
            stems = self.model_rate_stems(resample(view, rate, model_rate))  # (m, Cm, K)
            m, _, k = stems.shape
            back = resample(stems.reshape(m, -1), model_rate, rate).reshape(-1, stems.shape[1], k)
            back = back[:n] if len(back) >= n else np.pad(back, ((0, n - len(back)), (0, 0), (0, 0)))
            if len(targets) == back.shape[1]:
                out[:, targets] = back
            else:
                out[:, targets[0]] = back.mean(axis=1)
        return out


# ----------------------------------------------------------------------------- CLI


def _one_line(exc: BaseException) -> str:
    return " ".join(line.strip() for line in str(exc).splitlines() if line.strip()) or type(exc).__name__


def _check_complete(path: Path, info) -> None:
    """Refuse a WAV/AIFF cut short (libsndfile logs "data : <announced> (should be <present>)")."""
    match = re.search(r"^\s*(?:data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", info.extra_info or "", re.M)
    if match and 0 < int(match[1]) < 0xFFFFFFF0 and int(match[2]) + 8 < int(match[1]):
        raise RunnerError(f"{path}: truncated file (its header announces {match[1]} bytes of audio, "
                          f"{match[2]} are present)")


def _stem_name(path: Path) -> str:
    """Output folder name of an input file (as `python -m tf_munet.separate`: the file's stem)."""
    return re.sub(r"[\\/:]", "_", path.stem).strip(". ") or "unnamed"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="run_tflite.py",
        description="Separate audio files with a tf_munet TF-Lite export (numpy + soundfile + "
        "ai_edge_litert; no TensorFlow). Writes OUT/<file>/<source>.wav.",
    )
    p.add_argument("export_dir", metavar="EXPORT_DIR", help="folder written by python -m tf_munet.export")
    p.add_argument("inputs", metavar="INPUT", nargs="+", help="audio files (anything soundfile reads)")
    p.add_argument("-o", "--out", required=True, metavar="OUT", help="output folder")
    p.add_argument("--variant", default="float32", help="float32, float16, dynamic or int8 (default float32)")
    p.add_argument("--input", choices=("spectrogram", "waveform"), default="spectrogram",
                   help="which model: spectrogram-in with full-rate masks (default) or waveform-in")
    p.add_argument("--stems", default=None, help="comma list of sources to write (default all)")
    p.add_argument("--threads", type=int, default=None, help="LiteRT threads (default: LiteRT's)")
    p.add_argument("--dsp-threads", type=int, default=None,
                   help="threads for the STFTs and mask mapping (default: every core)")
    p.add_argument("--block-seconds", type=float, default=30.0, help="block length read at once (s)")
    p.add_argument("--overlap", type=float, default=None,
                   help="network patch overlap, spectrogram input (default: the export's, 0.25)")
    p.add_argument("--float32", action="store_true", help="write 32-bit float WAV (default 16-bit PCM)")
    p.add_argument("--debug", action="store_true", help="full traceback instead of a one-line error")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        export = Export(args.export_dir, f"{args.input}-{args.variant}", args.threads)
        stems = [s.strip() for s in args.stems.split(",") if s.strip()] if args.stems else None
        bad = [s for s in stems or [] if s not in export.sources]
        if bad:
            raise RunnerError(f"--stems {','.join(bad)}: the export separates {', '.join(export.sources)}")
        cls = SpectrogramSeparator if args.input == "spectrogram" else WaveformSeparator
        separator = cls(export, block_seconds=args.block_seconds, overlap=args.overlap,
                        dsp_threads=args.dsp_threads)
        for item in args.inputs:
            path = Path(item)
            if not path.exists():
                raise RunnerError(f"{path}: no such file")
            files = separator.separate_file(path, Path(args.out) / _stem_name(path), stems, args.float32)
            print(f"{path}: " + ", ".join(str(f) for f in files.values()))
    except (RunnerError, OSError) as exc:  # OSError: unwritable or full output folder, ...
        if args.debug:
            raise
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
