"""The M-U-Net authors' evaluation protocol ("paper"), the way their code runs it.

vskadandale/multichannel-unet-bss (`eval_metrics.py`) scores a model on each full test track:

1. mixture and references are downmixed to mono and resampled to the model's rate;
2. the mixture is cut into non-overlapping chunks of the training chunk length (the last one
   zero-padded), and each chunk separated on its own: the network's **raw** masks (no
   normalisation across sources, no overlap, no Wiener) times the chunk's STFT, with the mixture
   phase, inverted and clipped to [-1, 1];
3. the concatenated estimates are scored with mir_eval's
   `bss_eval_sources(reference, estimate, compute_permutation=False)`: one SDR/SIR/SAR per
   source and track.

This is not the `museval` pipeline (normalised masks, overlapping patches, masks mapped onto the
input's own STFT at 44.1 kHz stereo, BSS Eval v4): the two give different numbers for the same
model and every table says which one it shows.

A mask function maps a chunk batch to masks: `network_masks` for a trained network (one pass
per one-hot condition for a C-U-Net), `oracle_masks` (the ideal ratio mask |S_k| / sum_j |S_j|
of the chunk at the model's rate) and `mixture_masks` (1 / K everywhere: estimates = mixture / K).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tf_munet.presets import AudioConfig

MaskFunction = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""(chunks (B, n), complex STFT (B, bins, frames)) -> raw masks (B, bins, frames, K)."""


def mono_at(x: np.ndarray, rate: int, model_rate: int) -> np.ndarray:
    """(samples, channels) at `rate` -> (samples',) float32 mono at `model_rate`."""
    from tf_munet.data.audio_io import resample

    return resample(np.asarray(x, np.float32).mean(axis=-1, keepdims=True), rate, model_rate)[:, 0]


def chunk(mono: np.ndarray, audio: AudioConfig) -> np.ndarray:
    """(n,) -> (ceil(n / chunk), chunk) non-overlapping chunks, the last one zero-padded."""
    size = audio.chunk_samples
    count = max(1, -(-len(mono) // size))
    padded = np.zeros(count * size, np.float32)
    padded[: len(mono)] = mono
    return padded.reshape(count, size)


def separate_chunks(mono: np.ndarray, audio: AudioConfig, mask_fn: MaskFunction,
                    batch: int = 8) -> np.ndarray:
    """Estimates (K, n) of a mono mixture at the model's rate: raw masks per chunk, clipped."""
    import tensorflow as tf

    from tf_munet.spectral import istft, stft

    chunks = chunk(mono, audio)
    out = []
    for i in range(0, len(chunks), batch):
        part = chunks[i : i + batch]
        spec = stft(tf.constant(part), audio).numpy()  # (B, n_fft//2+1, frames)
        masks = mask_fn(part, spec)  # (B, bins, frames, K)
        k = masks.shape[-1]
        est = (masks * spec[..., None]).transpose(0, 3, 1, 2).reshape(-1, *spec.shape[1:])
        wave = istft(tf.constant(est.astype(np.complex64)), audio, audio.chunk_samples).numpy()
        out.append(wave.reshape(len(part), k, -1))
    est = np.concatenate(out).transpose(1, 0, 2).reshape(k, -1)[:, : len(mono)]
    return np.clip(est, -1.0, 1.0)


def network_masks(network, audio: AudioConfig) -> MaskFunction:
    """Raw masks of a trained network, on the linear bins of the chunk's STFT."""
    import tensorflow as tf

    from tf_munet.models.conditions import all_source_masks
    from tf_munet.spectral import SpectralFrontEnd, extend_mask

    front = SpectralFrontEnd(audio)

    def masks(chunks: np.ndarray, spec: np.ndarray) -> np.ndarray:
        mag = np.abs(spec[:, : audio.freq_bins, :, None])
        mag = front.to_model_grid(tf.constant(np.repeat(mag, audio.channels, axis=-1)))
        m = all_source_masks(network, mag)  # (B, model bins, frames, C, K); stereo: mean of C
        m = front.mask_to_linear(tf.reduce_mean(tf.cast(m, tf.float32), axis=3)).numpy()
        return extend_mask(m, spec.shape[1], axis=1)

    return masks


def oracle_masks(references: np.ndarray, audio: AudioConfig) -> MaskFunction:
    """The ideal ratio mask |S_k| / sum_j |S_j| of each chunk (references (K, n) mono)."""
    import tensorflow as tf

    from tf_munet.spectral import stft

    chunked = np.stack([chunk(r, audio) for r in references], axis=1)  # (chunks, K, size)
    position = {"next": 0}

    def masks(chunks: np.ndarray, spec: np.ndarray) -> np.ndarray:
        start = position["next"]
        position["next"] = start + len(chunks)
        part = chunked[start : start + len(chunks)]
        b, k, n = part.shape
        mags = np.abs(stft(tf.constant(part.reshape(b * k, n)), audio).numpy())
        mags = mags.reshape(b, k, *mags.shape[1:]).transpose(0, 2, 3, 1)
        return mags / np.maximum(mags.sum(axis=-1, keepdims=True), 1e-8)

    return masks


def mixture_masks(k: int) -> MaskFunction:
    """1 / K for every source: the estimates are the mixture / K (the floor)."""

    def masks(chunks: np.ndarray, spec: np.ndarray) -> np.ndarray:
        return np.full((*spec.shape, k), 1.0 / k, np.float32)

    return masks


def score(references: np.ndarray, estimates: np.ndarray) -> list[dict[str, float]]:
    """mir_eval v3 `bss_eval_sources(compute_permutation=False)` of (K, n) mono arrays.

    Silent reference sources are left out of the call (NaN for them); silent estimates are
    scored as near-silence (BSS Eval refuses all-zero signals).
    """
    from mir_eval.separation import bss_eval_sources

    n = min(references.shape[1], estimates.shape[1])
    r = np.asarray(references[:, :n], np.float64)
    e = np.array(estimates[:, :n], np.float64)
    nan = {"SDR": float("nan"), "SIR": float("nan"), "SAR": float("nan")}
    out = [dict(nan) for _ in range(len(r))]
    live = [k for k in range(len(r)) if np.any(r[k] != 0)]
    if not live:
        return out
    rng = np.random.default_rng(0)
    for k in live:
        if not np.any(e[k] != 0):
            e[k] = 1e-9 * rng.standard_normal(n)
    sdr, sir, sar, _ = bss_eval_sources(r[live], e[live], compute_permutation=False)
    for i, k in enumerate(live):
        out[k] = {"SDR": float(sdr[i]), "SIR": float(sir[i]), "SAR": float(sar[i])}
    return out
