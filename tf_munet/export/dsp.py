"""STFT and inverse STFT that convert to TF-Lite builtin ops only (no Flex).

Why this exists beside `tf_munet.spectral`: `tf.signal.inverse_stft` and `tf.complex` become Flex
ops that neither LiteRT nor TF's own interpreter can run (STACK.md pitfall 4), and TF-Lite's
RFFT2D needs a power-of-two FFT length (the paper's n_fft 1022 is not). So the exported graphs
carry spectra as separate real and imaginary tensors and use:

- "fft" (power-of-two n_fft): `tf.signal.rfft` (RFFT2D) for the analysis; the inverse real DFT
  is one more real FFT, of the even extension of the real part plus the odd extension of the
  imaginary part (an inverse FFT written with a forward FFT), so the cost stays O(n log n) and
  nothing is quantized.
- "dft" (any n_fft): the DFT and its inverse as 2-D matmuls with constant matrices (the window
  folded in). Quantized variants quantize these matrices like any other weight.

Both match `spectral.stft` / `spectral.istft` (centred, reflect padding of n_fft // 2, periodic
Hann window, overlap-added squared-window normalisation) to float32 round-off.

Shapes: waves are (rows, samples); spectra are (rows, frames, n_fft // 2 + 1), frames first, so
that every matmul is 2-D (rank-4 matmuls with size-1 dims crash oneDNN, STACK.md pitfall 1).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tf_munet import spectral
from tf_munet.presets import AudioConfig

MODES = ("auto", "fft", "dft")


def hann(n_fft: int) -> np.ndarray:
    """Periodic Hann window, the one `spectral.stft` uses."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)


def inverse_envelope(audio: AudioConfig, frames: int, length: int) -> np.ndarray:
    """1 / overlap-added squared window over the cropped output (`spectral.istft`'s normaliser,
    exact at the chunk edges too)."""
    pad = audio.n_fft // 2
    env = spectral.window_envelope(audio, frames)[pad : pad + length]
    return (1.0 / np.maximum(env, 1e-8)).astype(np.float32)


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


def analysis_matrix(n_fft: int) -> np.ndarray:
    """(n_fft, 2 * bins) float32: frame @ M = [real | imag] of the windowed real DFT."""
    ang = _angles(n_fft)
    w = hann(n_fft)[:, None]
    return np.concatenate([w * np.cos(ang), -w * np.sin(ang)], axis=1).astype(np.float32)


def synthesis_matrix(n_fft: int) -> np.ndarray:
    """(2 * bins, n_fft) float32: [real | imag] @ M = inverse real DFT times the Hann window."""
    ang = _angles(n_fft).T  # (bins, n)
    bins = n_fft // 2 + 1
    weight = np.full((bins, 1), 2.0)
    weight[0] = 1.0
    if n_fft % 2 == 0:
        weight[-1] = 1.0
    w = hann(n_fft)[None, :]
    real = weight * np.cos(ang) / n_fft * w
    imag = -weight * np.sin(ang) / n_fft * w
    return np.concatenate([real, imag], axis=0).astype(np.float32)


def _frames(wave: tf.Tensor, audio: AudioConfig) -> tf.Tensor:
    """(rows, samples) -> reflect-padded frames (rows, frames, n_fft)."""
    pad = audio.n_fft // 2
    wave = tf.pad(wave, [[0, 0], [pad, pad]], mode="REFLECT")
    return tf.signal.frame(wave, audio.n_fft, audio.hop, pad_end=False)


def stft(wave: tf.Tensor, audio: AudioConfig, mode: str = "auto") -> tuple[tf.Tensor, tf.Tensor]:
    """Centred STFT of (rows, samples) -> (real, imag), each (rows, frames, n_fft // 2 + 1)."""
    mode = resolve_mode(mode, audio.n_fft)
    frames = _frames(wave, audio)
    bins = audio.n_fft // 2 + 1
    if mode == "fft":
        spec = tf.signal.rfft(frames * tf.constant(hann(audio.n_fft), tf.float32))
        return tf.math.real(spec), tf.math.imag(spec)
    rows, count = tf.shape(frames)[0], frames.shape[1]
    flat = tf.reshape(frames, [-1, audio.n_fft])
    out = tf.matmul(flat, tf.constant(analysis_matrix(audio.n_fft)))
    out = tf.reshape(out, [rows, count, 2 * bins])
    return out[..., :bins], out[..., bins:]


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
    mode = resolve_mode(mode, audio.n_fft)
    n_fft, hop = audio.n_fft, audio.hop
    rows, count = tf.shape(real)[0], real.shape[1]
    if mode == "fft":
        frames = _irfft_by_rfft(real, imag, n_fft)
        frames = frames * tf.constant(hann(n_fft), tf.float32)
    else:
        bins = n_fft // 2 + 1
        flat = tf.reshape(tf.concat([real, imag], axis=-1), [-1, 2 * bins])
        frames = tf.matmul(flat, tf.constant(synthesis_matrix(n_fft)))
        frames = tf.reshape(frames, [rows, count, n_fft])
    wave = tf.signal.overlap_and_add(frames, hop)
    pad = n_fft // 2
    return wave[:, pad : pad + length] * tf.constant(inverse_envelope(audio, count, length))
