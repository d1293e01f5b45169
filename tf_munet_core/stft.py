"""The STFT, defined once: window, padding, framing and the overlap-add normaliser.

`StftSpec` is the numpy definition every runtime follows. The separator frames, windows and
overlap-adds with it (`frames`, `window`, `OverlapAdd`); the TensorFlow graphs
(`tf_munet.spectral` for training, `tf_munet.export.dsp` for TF-Lite) take their window,
padding and normaliser from it as constants, and tests compare each of them with `stft` /
`istft` here. A model's spec is `StftSpec.of(audio)` (its `AudioConfig`); an input rate's is the
same spec at another size (`mapping.input_spec`).

Layouts: waveforms are (samples, channels); spectra are (frames, n_fft // 2 + 1, channels).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WINDOWS = ("hann",)
PAD_MODES = ("reflect", "constant")


@dataclass(frozen=True)
class StftSpec:
    """A short-time Fourier transform and its inverse.

    Attributes:
        n_fft: frame and FFT length; `n_fft // 2 + 1` bins.
        hop: samples between frames.
        window_kind: "hann".
        periodic: the periodic window (torch.hann_window, scipy's sym=False), not the symmetric one.
        center: pad n_fft // 2 samples at both ends, so frame t is centred at t * hop
            (torch.stft(center=True)); a chunk of `(frames - 1) * hop` samples gives `frames` frames.
        pad_mode: "reflect" (no edge sample repeated, numpy's and TF's REFLECT) or "constant" (zeros).

    The inverse divides the overlap-added windowed frames by the overlap-added squared window
    (`ola_envelope`), at the ends as well as inside, so `istft(stft(x))` gives back x exactly.
    """

    n_fft: int
    hop: int
    window_kind: str = "hann"
    periodic: bool = True
    center: bool = True
    pad_mode: str = "reflect"

    @classmethod
    def of(cls, audio) -> "StftSpec":
        """A model's STFT: its audio domain's (an `AudioConfig`) n_fft and hop, the rest as above."""
        return cls(audio.n_fft, audio.hop)

    def __post_init__(self):
        if self.window_kind not in WINDOWS:
            raise ValueError(f"window_kind must be one of {WINDOWS}. Received: window_kind={self.window_kind!r}")
        if self.pad_mode not in PAD_MODES:
            raise ValueError(f"pad_mode must be one of {PAD_MODES}. Received: pad_mode={self.pad_mode!r}")
        if not 0 < self.hop <= self.n_fft:
            raise ValueError(f"hop must be in [1, n_fft]. Received: hop={self.hop}, n_fft={self.n_fft}")

    @property
    def bins(self) -> int:
        """Frequency bins of the real FFT."""
        return self.n_fft // 2 + 1

    @property
    def pad(self) -> int:
        """Samples padded at each end before framing (0 when not centred)."""
        return self.n_fft // 2 if self.center else 0

    def window(self, dtype=np.float32) -> np.ndarray:
        """The analysis (and synthesis) window, computed in float64 and cast to `dtype`."""
        n = self.n_fft
        period = n if self.periodic else n - 1
        return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / period)).astype(dtype)

    def frame_count(self, samples: int) -> int:
        """Frames of a signal of `samples` samples."""
        return 1 + (samples + 2 * self.pad - self.n_fft) // self.hop

    def padded(self, x: np.ndarray) -> np.ndarray:
        """(samples, C) -> the padded signal as contiguous rows (C, samples + 2 pad), float32."""
        pad = self.pad
        rows = np.pad(np.asarray(x, np.float32), ((pad, pad), (0, 0)), mode=self.pad_mode).T
        return np.ascontiguousarray(rows)

    def frames(self, rows: np.ndarray) -> np.ndarray:
        """Padded rows (C, n) (`padded`) -> frames (C, frames, n_fft): strided views, not copies."""
        return np.lib.stride_tricks.sliding_window_view(rows, self.n_fft, axis=-1)[..., :: self.hop, :]

    def stft(self, x: np.ndarray) -> np.ndarray:
        """(samples, C) float -> complex64 (frames, bins, C)."""
        from tf_munet_core.fft import rfft

        spec = rfft(self.frames(self.padded(x)) * self.window())  # (C, T, F)
        return np.ascontiguousarray(spec.transpose(1, 2, 0), dtype=np.complex64)

    def ola_envelope(self, frames: int) -> np.ndarray:
        """Overlap-added squared window of `frames` frames, float64 ((frames - 1) * hop + n_fft).

        Summed hop-sized part by part, in the order `OverlapAdd` adds frames.
        """
        parts = -(-self.n_fft // self.hop)
        env = np.zeros((frames - 1 + parts, self.hop), np.float64)
        sq = self.window().astype(np.float64) ** 2
        for r in range(parts):
            a, b = r * self.hop, min(self.n_fft, (r + 1) * self.hop)
            env[r : r + frames, : b - a] += sq[a:b]
        return env.reshape(-1)[: (frames - 1) * self.hop + self.n_fft]

    def ola_normaliser(self, frames: int, length: int) -> np.ndarray:
        """1 / `ola_envelope` over the `length` output samples (padding cut off), float32."""
        env = self.ola_envelope(frames)[self.pad : self.pad + length]
        return (1.0 / np.maximum(env, 1e-8)).astype(np.float32)

    def istft(self, spec: np.ndarray, length: int) -> np.ndarray:
        """Inverse of `stft`: (frames, bins, C) complex -> (length, C) float32."""
        from tf_munet_core.fft import irfft

        frames, _, channels = spec.shape
        if self.pad + length > (frames - 1) * self.hop + self.n_fft:
            raise ValueError(f"{frames} frames cover fewer than {length} samples. Received: length={length}")
        rows = np.zeros((channels, (frames - 1 + -(-self.n_fft // self.hop)) * self.hop), np.float32)
        ola = OverlapAdd(rows, frames, self)
        y = irfft(np.ascontiguousarray(spec.transpose(2, 0, 1), dtype=np.complex64), self.n_fft)
        ola.add(y * ola.synthesis, 0)
        return ola.finish(self.pad, length).T.copy()


class OverlapAdd:
    """The inverse STFT's overlap-add, in place in the caller's rows of samples.

    `rows` (..., length) are float32 zeros at least `(frames - 1 + ceil(n_fft / hop)) * hop`
    long; frames (..., nb, n_fft) are added hop-sized part by part (one vectorised add per part
    of a frame instead of one per frame). `synthesis` is the window to multiply frames by: the
    analysis window divided by the sum of squared windows where that sum is constant
    (everywhere but the first and last frames' reach), so `finish` only corrects the samples
    near the ends.

    Batches of frames `rounds` apart never touch the same samples, so the batches of one round
    may be added from several threads at once, and every sample gets its terms in the same
    order whatever the number of threads.
    """

    def __init__(self, rows: np.ndarray, frames: int, spec: StftSpec):
        n_fft, hop = spec.n_fft, spec.hop
        self.n_fft, self.hop, self.frames = n_fft, hop, frames
        self.parts = -(-n_fft // hop)
        length = (frames - 1 + self.parts) * hop
        if rows.shape[-1] < length or rows.strides[-1] != rows.itemsize:
            raise ValueError(f"rows must be contiguous along time and at least {length} long")
        self.rows = rows
        step = rows.strides[-1]
        self.parted = np.lib.stride_tricks.as_strided(  # (..., frames - 1 + parts, hop) view
            rows, (*rows.shape[:-1], frames - 1 + self.parts, hop), (*rows.strides[:-1], hop * step, step)
        )
        self.env = np.zeros(length, np.float64)
        self.env[: (frames - 1) * hop + n_fft] = spec.ola_envelope(frames)
        self.level = float(self.env.max())
        self.synthesis = (spec.window() / self.level).astype(np.float32)

    def rounds(self, batch: int) -> int:
        """How many batches of `batch` frames apart two batches are free of shared samples."""
        return 1 + -(-(self.parts - 1) // batch)

    def add(self, y: np.ndarray, u0: int) -> None:
        """Add frames u0, u0 + 1, ... (y: (..., nb, n_fft), already multiplied by `synthesis`)."""
        nb = y.shape[-2]
        for r in range(self.parts):
            a, b = r * self.hop, min(self.n_fft, (r + 1) * self.hop)
            self.parted[..., u0 + r : u0 + r + nb, : b - a] += y[..., a:b]

    def finish(self, pad: int, n: int) -> np.ndarray:
        """Samples [pad, pad + n): the sum of windows divided out where it is not `level`."""
        gain = self.level / np.maximum(self.env[pad : pad + n], 1e-8)
        off = np.flatnonzero(np.abs(gain - 1.0) > 1e-7)
        out = self.rows[..., pad : pad + n]
        if off.size:
            out[..., off] *= gain[off].astype(np.float32)
        return out
