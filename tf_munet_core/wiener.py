"""Multichannel Wiener refinement (norbert) of masked estimates, on batches of input frames."""

from __future__ import annotations

import numpy as np

from tf_munet_core.errors import UserError


def wiener_batch(gains: list[np.ndarray], spec: np.ndarray, exhaustive: bool,
                 iterations: int) -> np.ndarray:
    """Refined estimates (C, K, nb, F) complex64 of a batch of input frames.

    Args:
        gains: per input channel, every bin's mask gains (K, nb, F).
        spec: the channels' spectra (C, nb, F).
        exhaustive: the sources add up to the mixture; otherwise a residual source keeps what
            they don't explain (and is dropped from the result).
        iterations: EM iterations.
    """
    try:
        import norbert
    except ImportError:
        raise UserError("--wiener needs norbert (pip install norbert)") from None

    full = np.stack(gains).transpose(2, 3, 0, 1)  # (nb, F, C, K)
    x = spec.transpose(1, 2, 0)  # (nb, F, C)
    mag = full * np.abs(x)[..., None]
    if not exhaustive:
        rest = np.maximum(1.0 - full.sum(axis=-1, keepdims=True), 0.0) * np.abs(x)[..., None]
        mag = np.concatenate([mag, rest], axis=-1)
    est = norbert.wiener(mag.astype(np.float64), x.astype(np.complex128), iterations=iterations,
                         use_softmask=False)[..., : full.shape[-1]]
    return np.ascontiguousarray(est.transpose(2, 3, 0, 1), dtype=np.complex64)
