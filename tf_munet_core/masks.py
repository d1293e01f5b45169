"""Masks on the model's grid: from a network's patches, normalised, assigned to input channels.

- Patches: the model-rate magnitude is cut into patches of `frames` frames overlapping by
  `overlap` (the last one aligned to the end); patch masks are averaged on overlaps with a Hann
  weight (> 0 everywhere), so patch edges count least. `overlap=0` gives back-to-back patches.
- Normalisation (`NORMALIZATIONS`): "exhaustive" divides masks by their sum over sources in
  every bin, so stems sum to the mixture (a bin where every mask is ~0 is shared equally);
  "partial" only scales them down where they sum above 1; "raw" keeps the network's masks
  (clipped at 0). "auto" is exhaustive for source sets that add up to the mixture
  (`tf_munet.presets.is_exhaustive`; an export's manifest carries the resolved choice) and
  partial otherwise.
- Channels: a mono model's mask applies to every input channel; a stereo model gives per-channel
  masks for stereo input and runs on each channel duplicated to stereo otherwise (its masks are
  then averaged over the model's two channels).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tf_munet_core.config import AudioConfig
from tf_munet_core.profiler import Profiler

NORMALIZATIONS = ("auto", "exhaustive", "partial", "raw")

DEFAULT_OVERLAP = 0.25
"""Fraction of a network patch shared with the next one (see `tf_munet.separation.Separator`)."""

MaskFunction = Callable[[np.ndarray], np.ndarray]
"""A network: magnitude patches (B, model_bins, frames, Cm) float32 -> masks
(B, model_bins, frames, Cm, K) on the network's grid, sources in the separator's order."""


def resolve_normalization(normalize: str | bool | None, exhaustive: bool | None) -> str:
    """"exhaustive", "partial" or "raw" from a user's choice (True/None: "auto"; False: "raw");
    `exhaustive`: whether the sources add up to the mixture (needed for "auto")."""
    if normalize is None or normalize is True:
        normalize = "auto"
    elif normalize is False:
        normalize = "raw"
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {NORMALIZATIONS}. Received: {normalize!r}")
    if normalize == "auto":
        if exhaustive is None:
            raise ValueError("normalize='auto' needs to know whether the sources add up to the "
                             "mixture (exhaustive=True/False)")
        return "exhaustive" if exhaustive else "partial"
    return normalize


def normalize_masks(masks: np.ndarray, mode: str) -> np.ndarray:
    """Masks (..., K) clipped at 0 and normalised over the last axis (a new float32 array)."""
    masks = np.maximum(masks, 0.0, dtype=np.float32)
    if mode == "raw":
        return masks
    total = sum_last_axis(masks)
    if mode == "exhaustive":
        masks /= np.maximum(total, 1e-8)
        masks[total[..., 0] <= 1e-8] = 1.0 / masks.shape[-1]  # silent bins: shared equally
        return masks
    if mode == "partial":
        masks /= np.maximum(total, 1.0)
        return masks
    raise ValueError(f"normalization must be exhaustive, partial or raw. Received: {mode!r}")


def sum_last_axis(a: np.ndarray) -> np.ndarray:
    """`a.sum(axis=-1, keepdims=True)` for a short last axis (sources, channels), by slices:
    the same sums (numpy adds fewer than 8 terms in order), several times faster."""
    total = a[..., :1].copy()
    for j in range(1, a.shape[-1]):
        total += a[..., j : j + 1]
    return total


def patch_starts(total: int, size: int, overlap: float) -> tuple[list[int], int]:
    """(patch starts, padded length) covering `total` frames with patches of `size` frames."""
    if not 0 <= overlap < 1:
        raise ValueError(f"overlap must be in [0, 1). Received: overlap={overlap}")
    step = max(1, int(size * (1 - overlap)))
    padded = max(size, total)
    starts = list(range(0, padded - size + 1, step))
    if starts[-1] + size < padded:
        starts.append(padded - size)
    return starts, padded


def patch_weight(size: int) -> np.ndarray:
    """Hann weights of a patch's frames (> 0 everywhere, sum to 1 at 50 % overlap)."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * (np.arange(size) + 0.5) / size)).astype(np.float32)


def network_masks(mag: np.ndarray, audio: AudioConfig, mask_fn: MaskFunction, k: int,
                  overlap: float, batch_size: int, to_linear: Callable[[np.ndarray], np.ndarray],
                  profiler: Profiler) -> np.ndarray:
    """Magnitudes (model_bins, T, Cm) -> linear masks (freq_bins, T, Cm, K), patch by patch.

    Patches go to `mask_fn` `batch_size` at a time; `to_linear` unwarps each batch's masks.
    """
    total = mag.shape[1]
    size = audio.frames
    starts, padded = patch_starts(total, size, overlap)
    if padded > total:
        mag = np.pad(mag, ((0, 0), (0, padded - total), (0, 0)))
    weight = patch_weight(size)
    acc = np.zeros((audio.freq_bins, padded, audio.channels, k), np.float32)
    wsum = np.zeros(padded, np.float32)
    for b0 in range(0, len(starts), batch_size):
        batch_starts = starts[b0 : b0 + batch_size]
        patches = np.stack([mag[:, s : s + size] for s in batch_starts])
        with profiler.stage("network"):
            masks = to_linear(np.asarray(mask_fn(patches), np.float32))
        with profiler.stage("masks"):
            masks = masks * weight[None, None, :, None, None]
            for s, m in zip(batch_starts, masks):
                acc[:, s : s + size] += m
                wsum[s : s + size] += weight
    with profiler.stage("masks"):
        acc = acc[:, :total]
        acc /= wsum[None, :total, None, None]
        return acc


def channel_views(x: np.ndarray, model_channels: int) -> tuple[list[np.ndarray], str]:
    """What the model sees of an input segment (samples, C): views (samples, model channels)
    and how their masks map back ("shared", "per_channel" or "dup", see the module docstring)."""
    if model_channels == 1:
        return [sum_last_axis(x) / np.float32(x.shape[1])], "shared"  # the mean, fast
    if x.shape[1] == model_channels:
        return [x], "per_channel"
    return [np.repeat(x[:, c : c + 1], model_channels, axis=1) for c in range(x.shape[1])], "dup"


def masks_per_channel(masks: list[np.ndarray], mode: str, channels: int) -> list[np.ndarray]:
    """Views' masks (freq_bins, T, Cm, K) -> one (freq_bins, T, K) per input channel (a mono
    model's single mask is the same object for every channel)."""
    if mode == "shared":
        return [masks[0][:, :, 0]] * channels
    if mode == "per_channel":
        return [masks[0][:, :, c] for c in range(channels)]
    return [m.mean(axis=2) for m in masks]
