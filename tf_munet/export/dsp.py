"""STFT and inverse STFT that convert to TF-Lite builtin ops only (no Flex).

Why this exists beside `tf_munet.spectral`: `tf.signal.inverse_stft` and `tf.complex` become Flex
ops that neither LiteRT nor TF's own interpreter can run, and TF-Lite's
RFFT2D needs a power-of-two FFT length (the paper's n_fft 1022 is not). So the exported graphs
carry spectra as separate real and imaginary tensors and use:

- "fft" (power-of-two n_fft): `tf.signal.rfft` (RFFT2D) for the analysis; the inverse real DFT
  is one more real FFT, of the even extension of the real part plus the odd extension of the
  imaginary part (an inverse FFT written with a forward FFT), so the cost stays O(n log n) and
  nothing is quantized.
- "dft" (any n_fft): the DFT and its inverse as 2-D matmuls with constant matrices (the window
  folded in). Quantized variants quantize these matrices like any other weight.

Both are `tf_munet_core.stft.StftSpec` (`StftSpec.of(audio)` for a preset's audio: its window, padding,
framing and overlap-add normaliser as constants) and match its numpy `stft` / `istft` to
float32 round-off (tests compare them for every preset).

Shapes: waves are (rows, samples); spectra are (rows, frames, n_fft // 2 + 1), frames first, so
that every matmul is 2-D (rank-4 matmuls with size-1 dims crash oneDNN).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tf_munet.presets import AudioConfig
from tf_munet.spectral import pad_signal
from tf_munet_core.stft import StftSpec

MODES = ("auto", "fft", "dft")


def resolve_mode(mode: str, n_fft: int) -> str:
    """"auto" -> "fft" for power-of-two sizes (TF-Lite's RFFT2D limit), else "dft"."""
    if mode not in MODES:
        raise ValueError(f"STFT mode must be one of {MODES}. Received: mode={mode!r}")
    if mode == "auto":
        return "fft" if n_fft & (n_fft - 1) == 0 else "dft"
    if mode == "fft" and n_fft & (n_fft - 1):
        raise ValueError(f"TF-Lite's RFFT needs a power-of-two n_fft. Received: n_fft={n_fft}")
    return mode


def _angles(n_fft: int) -> np.ndarray:
    """2 pi k n / N for n in [0, N), k in [0, N/2], exact modulo N (float64)."""
    n = np.arange(n_fft)[:, None]
    k = np.arange(n_fft // 2 + 1)[None, :]
    return 2 * np.pi * ((n * k) % n_fft) / n_fft


def analysis_matrix(spec: StftSpec) -> np.ndarray:
    """(n_fft, 2 * bins) float32: frame @ M = [real | imag] of the windowed real DFT."""
    ang = _angles(spec.n_fft)
    w = spec.window(np.float64)[:, None]
    return np.concatenate([w * np.cos(ang), -w * np.sin(ang)], axis=1).astype(np.float32)


def synthesis_matrix(spec: StftSpec) -> np.ndarray:
    """(2 * bins, n_fft) float32: [real | imag] @ M = inverse real DFT times the window."""
    n_fft = spec.n_fft
    ang = _angles(n_fft).T  # (bins, n)
    bins = n_fft // 2 + 1
    weight = np.full((bins, 1), 2.0)
    weight[0] = 1.0
    if n_fft % 2 == 0:
        weight[-1] = 1.0
    w = spec.window(np.float64)[None, :]
    real = weight * np.cos(ang) / n_fft * w
    imag = -weight * np.sin(ang) / n_fft * w
    return np.concatenate([real, imag], axis=0).astype(np.float32)


def _frames(wave: tf.Tensor, spec: StftSpec) -> tf.Tensor:
    """(rows, samples) -> padded frames (rows, frames, n_fft) (`StftSpec.frames`)."""
    return tf.signal.frame(pad_signal(wave, spec), spec.n_fft, spec.hop, pad_end=False)


def stft(wave: tf.Tensor, audio: AudioConfig, mode: str = "auto") -> tuple[tf.Tensor, tf.Tensor]:
    """The preset's STFT (`StftSpec.of(audio)`) of (rows, samples) -> (real, imag), each
    (rows, frames, n_fft // 2 + 1)."""
    spec = StftSpec.of(audio)
    mode = resolve_mode(mode, spec.n_fft)
    frames = _frames(wave, spec)
    if mode == "fft":
        out = tf.signal.rfft(frames * tf.constant(spec.window()))
        return tf.math.real(out), tf.math.imag(out)
    rows, count = tf.shape(frames)[0], frames.shape[1]
    flat = tf.reshape(frames, [-1, spec.n_fft])
    out = tf.matmul(flat, tf.constant(analysis_matrix(spec)))
    out = tf.reshape(out, [rows, count, 2 * spec.bins])
    return out[..., : spec.bins], out[..., spec.bins :]


def _irfft_by_rfft(real: tf.Tensor, imag: tf.Tensor, n_fft: int) -> tf.Tensor:
    """Inverse real DFT of a half spectrum (..., n/2 + 1) -> (..., n) with one forward RFFT.

    Let a be the even extension of the real part and b the odd extension of the imaginary part
    (b[0] = b[N/2] = 0). A = RFFT(a) is real and B = RFFT(b) imaginary, so C = RFFT(a + b)
    holds both: Re C = A, Im C = B / i. Then x[n] = (Re C[n] + Im C[n]) / N for n <= N/2 and
    x[N - n] = (Re C[n] - Im C[n]) / N.
    """
    half = n_fft // 2
    inner_sum = (real + imag)[..., 1:half]  # (imag at 0 and N/2 left out: b is zero there)
    mirror = tf.reverse((real - imag)[..., 1:half], axis=[-1])
    c = tf.signal.rfft(tf.concat([real[..., :1], inner_sum, real[..., half:], mirror], axis=-1))
    a, b = tf.math.real(c), tf.math.imag(c)
    front = a + b  # n = 0 .. N/2
    back = tf.reverse((a - b)[..., 1:half], axis=[-1])  # n = N/2 + 1 .. N - 1
    return tf.concat([front, back], axis=-1) / float(n_fft)


def istft(
    real: tf.Tensor, imag: tf.Tensor, audio: AudioConfig, length: int, mode: str = "auto"
) -> tf.Tensor:
    """Inverse of `stft`: (real, imag) each (rows, frames, bins) -> (rows, length)."""
    spec = StftSpec.of(audio)
    mode = resolve_mode(mode, spec.n_fft)
    rows, count = tf.shape(real)[0], real.shape[1]
    if mode == "fft":
        frames = _irfft_by_rfft(real, imag, spec.n_fft)
        frames = frames * tf.constant(spec.window())
    else:
        flat = tf.reshape(tf.concat([real, imag], axis=-1), [-1, 2 * spec.bins])
        frames = tf.matmul(flat, tf.constant(synthesis_matrix(spec)))
        frames = tf.reshape(frames, [rows, count, spec.n_fft])
    wave = tf.signal.overlap_and_add(frames, spec.hop)
    return wave[:, spec.pad : spec.pad + length] * tf.constant(spec.ola_normaliser(count, length))
