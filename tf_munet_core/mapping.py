"""Masks on the model's grid -> gains on an input STFT at the input's own rate and length.

Every input channel gets its own STFT whose window and hop last as long *in seconds* as the
model's (n_fft * r_in / r_model, hop * r_in / r_model, rounded; `input_stft`). Masks are
interpolated onto it by Hz along frequency and by seconds along time; bins above the model's band
follow `extend_mask`'s rule (each takes the mean of the top modelled bins of its frame), so the
high band is shared, never dropped. `frequency_map` is that mapping as a matrix (the
definition); `InputGrid` applies it as two gathers per bin in the model's band plus one value per
frame for every bin above it (the same numbers, without a dense product over mostly extended
bins). The STFTs themselves are `tf_munet_core.stft`'s (`input_spec`).
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass

import numpy as np

from tf_munet_core.config import AudioConfig
from tf_munet_core.spectra import extend_mask
from tf_munet_core.stft import StftSpec


def linear_weights(positions: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def input_spec(audio: AudioConfig, rate: int, fast: bool = False) -> StftSpec:
    """The model's STFT (`StftSpec.of`) at `rate`, sized by `input_stft`."""
    n_fft, hop = input_stft(audio, rate, fast)
    return dataclasses.replace(StftSpec.of(audio), n_fft=n_fft, hop=hop)


def frequency_positions(audio: AudioConfig, rate: int, n_fft: int):
    """Where input bin j (at j * rate / n_fft Hz) samples the model's bins extended to n_ext.

    Returns (lo, hi, frac, n_ext): linear weights on an axis of n_ext rows, the first
    `freq_bins` the model's and the rest `extend_mask`'s extension rows.
    """
    hz = np.arange(n_fft // 2 + 1) * rate / n_fft
    pos = hz * audio.n_fft / audio.sample_rate
    n_ext = max(audio.freq_bins, int(math.ceil(pos.max())) + 2)
    return (*linear_weights(pos, n_ext), n_ext)


def frequency_map(audio: AudioConfig, rate: int, n_fft: int) -> np.ndarray:
    """(n_fft//2+1, freq_bins) matrix: masks on the model's linear bins -> an input STFT's bins.

    Input bin j (at j * rate / n_fft Hz) samples the model's bins linearly at the same Hz; bins
    above the model's band get `extend_mask`'s rule (the matrix is that rule applied to
    the identity, so it is the same rule, not a copy of it). `InputGrid` applies the same map
    as gathers; tests check both agree.
    """
    lo, hi, frac, n_ext = frequency_positions(audio, rate, n_fft)
    ext = extend_mask(np.eye(audio.freq_bins, dtype=np.float32), n_ext, axis=0)
    return ((1 - frac)[:, None] * ext[lo] + frac[:, None] * ext[hi]).astype(np.float32)


def fft_workers() -> int:
    """Threads for the input-rate work (STFTs, mapping, iSTFTs): OMP_NUM_THREADS when set
    (evaluation's worker processes set it to their share of the cores), else every core this
    process may use."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass(frozen=True)
class InputGrid:
    """An input rate's STFT and `frequency_map` as gathers (built once per rate).

    Input bins below `n_low` sample the model's bins linearly at `f_lo`/`f_hi` (index
    `freq_bins` is the extension row); bins from `n_low` up lie wholly in the extended band and
    take the extension value itself: two gathers and a broadcast instead of a dense matmul over
    all (mostly extended) bins.
    """

    spec: StftSpec
    freq_bins: int
    n_low: int
    f_lo: np.ndarray
    f_hi: np.ndarray
    f_frac: np.ndarray
    same_bins: bool  # input bin j is model bin j (the input is at the model's rate): no gathers

    @property
    def n_fft(self) -> int:
        return self.spec.n_fft

    @property
    def hop(self) -> int:
        return self.spec.hop

    @classmethod
    def build(cls, audio: AudioConfig, rate: int, fast: bool = False) -> "InputGrid":
        spec = input_spec(audio, rate, fast)
        lo, hi, frac, _ = frequency_positions(audio, rate, spec.n_fft)
        fb = audio.freq_bins
        n_low = int(np.sum(lo < fb))  # positions increase with j: the first n_low bins
        f_lo, f_hi, f_frac = np.minimum(lo[:n_low], fb), np.minimum(hi[:n_low], fb), frac[:n_low]
        same = not f_frac.any() and np.array_equal(f_lo, np.arange(n_low))
        return cls(spec, fb, n_low, f_lo, f_hi, f_frac, same)

    def extend(self, masks: np.ndarray) -> np.ndarray:
        """Masks (freq_bins, frames, K) -> (K, frames, freq_bins + 1) with the extension row."""
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
