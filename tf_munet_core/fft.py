"""The core's real FFTs, in one place: ducc0 (the successor of pocketfft, by its author).

The input-rate STFT lengths have large prime factors (5512 = 2^3 * 13 * 53 samples at 44.1 kHz
for the 8192 Hz presets), where ducc0's transforms, vectorised across rows, ran 1.8x faster than
scipy.fft's on the separator's batches. Both release the GIL, so the separator's threads share
the cores. Every runtime (Keras, SavedModel, the edge runner) and the benchmark's floor use these
two functions. ducc0 is imported on first use (it takes ~0.2 s; `--help` and start-up need none).
"""

from __future__ import annotations

import numpy as np


def rfft(x: np.ndarray) -> np.ndarray:
    """Real FFT along the last axis (unnormalised, like `numpy.fft.rfft`); float32 in ->
    complex64 out."""
    import ducc0

    return ducc0.fft.r2c(x, axes=(x.ndim - 1,), forward=True, nthreads=1)


def irfft(spec: np.ndarray, n: int, *, overwrite: bool = False) -> np.ndarray:
    """Inverse real FFT of half spectra (..., n // 2 + 1) -> (..., n) along the last axis,
    divided by n (like `numpy.fft.irfft`). `overwrite`: `spec` may serve as scratch space."""
    import ducc0

    return ducc0.fft.c2r(spec, axes=(spec.ndim - 1,), lastsize=n, forward=False, inorm=2,
                         nthreads=1, allow_overwriting_input=overwrite)
