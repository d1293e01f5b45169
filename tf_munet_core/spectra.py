"""The model's spectral grid in numpy: the paper's log-frequency warp, the high-band rule.

`tf_munet.spectral` (TensorFlow, for training and exported graphs) takes its warp matrices and
extension rule from here, and its STFT from `tf_munet_core.stft`, so every runtime uses one
definition of each.
"""

from __future__ import annotations

import numpy as np

from tf_munet_core.config import AudioConfig
from tf_munet_core.stft import StftSpec

EXTEND_TOP = 8
"""Bins above the model's band take the mean of this many top modelled bins (`extend_mask`)."""


def interp_matrix(positions: np.ndarray, n_in: int) -> np.ndarray:
    """Rows of linear-interpolation weights sampling a length-n_in axis at `positions`."""
    positions = np.clip(positions, 0, n_in - 1)
    lo = np.floor(positions).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = positions - lo
    m = np.zeros((len(positions), n_in), np.float32)
    m[np.arange(len(positions)), lo] += 1 - frac
    m[np.arange(len(positions)), hi] += frac
    return m


def warp_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) matrix: linear bins -> the paper's log-spaced bins.

    Sound-of-Pixels grid: output row y in [-1, 1] samples input position
    y' = (21^((y+1)/2) - 11) / 10, bilinear (align_corners=True).
    """
    y = np.linspace(-1, 1, n_out)
    y_src = (np.power(21.0, (y + 1) / 2) - 11) / 10
    return interp_matrix((y_src + 1) / 2 * (n_in - 1), n_in)


def unwarp_matrix(n_warped: int, n_linear: int) -> np.ndarray:
    """(n_linear, n_warped) matrix: log-spaced bins back to linear bins (the inverse grid).

    Linear row y' in [-1, 1] samples the warped axis at y = 2 log_21(10 y' + 11) - 1.
    """
    y_lin = np.linspace(-1, 1, n_linear)
    y = 2 * np.log(10 * y_lin + 11) / np.log(21.0) - 1
    return interp_matrix((y + 1) / 2 * (n_warped - 1), n_warped)


def extend_mask(mask: np.ndarray, n_bins: int, axis: int = 0, top: int = EXTEND_TOP) -> np.ndarray:
    """Extend masks above the modelled band to `n_bins` along `axis`.

    The documented rule: every bin above the model's band takes the mean of the top `top`
    modelled bins of the same frame. Sources keep their share of the high band (hi-hats stay
    with drums, sibilants with vocals) instead of losing it, and the masks still sum to about 1.
    """
    have = mask.shape[axis]
    if have >= n_bins:
        return np.take(mask, np.arange(n_bins), axis=axis)
    top_mean = np.take(mask, np.arange(max(0, have - top), have), axis=axis).mean(
        axis=axis, keepdims=True
    )
    reps = [1] * mask.ndim
    reps[axis] = n_bins - have
    return np.concatenate([mask, np.tile(top_mean, reps)], axis=axis)


class ModelGrid:
    """A model's route from model-rate audio to its input grid and from its masks back.

    Args:
        audio: the model's audio domain.
    """

    def __init__(self, audio: AudioConfig):
        self.audio = audio
        self.warp = warp_matrix(audio.freq_bins, audio.warp_bins) if audio.warp_bins else None
        self.unwarp = unwarp_matrix(audio.warp_bins, audio.freq_bins) if audio.warp_bins else None

    def magnitude(self, view: np.ndarray) -> np.ndarray:
        """Model-rate audio (samples, Cm) -> magnitudes (model_bins, frames, Cm) float32."""
        a = self.audio
        mag = np.abs(StftSpec.of(a).stft(view)[:, : a.freq_bins])  # (T, F, Cm)
        mag = np.ascontiguousarray(mag.transpose(1, 0, 2))
        if self.warp is not None:
            f, t, c = mag.shape
            mag = (self.warp @ mag.reshape(f, -1)).reshape(-1, t, c)
        return mag.astype(np.float32, copy=False)

    def to_linear(self, masks: np.ndarray) -> np.ndarray:
        """Masks (B, model_bins, ...) on the network's grid -> (B, freq_bins, ...) linear bins."""
        if self.unwarp is None:
            return masks
        b, w = masks.shape[:2]
        rest = masks.shape[2:]
        flat = np.moveaxis(masks.reshape(b, w, -1), 1, 0).reshape(w, -1)
        out = (self.unwarp @ flat).reshape(-1, b, int(np.prod(rest)))
        return np.moveaxis(out, 0, 1).reshape(b, -1, *rest).astype(np.float32, copy=False)
