"""tf.data pipelines: prepared cache -> batches of (mixture, sources) magnitudes on the model grid.

Training is a chain of named steps over the cache's TFRecord shards:

    shuffled_tracks -> block_pairs (interleaved across tracks) -> random_crop
    -> drop_silent (the authors' filter) -> shuffle -> gain / channel swap -> remix across tracks
    -> mix_and_targets (mixture = sum of the augmented stems) -> batch -> magnitudes -> prefetch

Output elements: mix (B, model_bins, frames, C) and sources (B, model_bins, frames, C, K), float32,
linear magnitudes (the network scales its own input), C = preset.audio.channels. A random crop
starts anywhere in a track: each shard record is one block, and a crop is cut from a block and
the next. With `seed` the batches are the same on every run (stateless random ops, seeded
shuffles, deterministic parallel maps). Validation reads the validation tracks' blocks in order,
unaugmented: a finite, fixed data set.

`data` may be a prepared cache or a raw MUSDB root (prepared on the fly into the default cache).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import tensorflow as tf

from tf_munet.data import augment as aug
from tf_munet.data import cache as cache_lib
from tf_munet.data.prepare import prepare_if_needed
from tf_munet.errors import Notice, UserError
from tf_munet.presets import SOURCE_STEMS, STEMS, Preset, resolve_sources
from tf_munet.spectral import SpectralFrontEnd

__all__ = ["training_dataset", "validation_dataset", "source_energies", "prepare_if_needed",
           "cache_info", "source_matrix", "SILENCE_MEAN_SQUARE"]

SILENCE_MEAN_SQUARE = 0.5 / 65280
"""A chunk's source counts as silent below this mean square per sample and channel: the authors
dropped chunks whose energy sum(x^2) rounded to 0 over 65280 samples (6 s at 10880 Hz),
i.e. about -51 dBFS RMS; expressed per sample so it holds for any chunk length."""

AUTOTUNE = tf.data.AUTOTUNE


def source_matrix(sources: tuple[str, ...]) -> np.ndarray:
    """(4, K) 0/1 matrix from the stems (vocals, drums, bass, other) to the run's sources."""
    m = np.zeros((len(STEMS), len(sources)), np.float32)
    for k, name in enumerate(sources):
        for stem in SOURCE_STEMS[name]:
            m[STEMS.index(stem), k] = 1.0
    return m


def _cache(data, preset: Preset, cache) -> tuple[Path, dict]:
    path = prepare_if_needed(data, preset, cache=cache)
    return path, cache_lib.load_cache(path, preset.audio)


def cache_info(data, preset: Preset, cache: str | os.PathLike | None = None) -> dict:
    """The cache's cache.json (tracks, validation split, energies), preparing it if needed."""
    return _cache(data, preset, cache)[1]


def _training_tracks(info: dict) -> list[str]:
    train = info["tracks"].get("train", [])
    valid = set(info["validation"]["tracks"])
    names = [n for n in train if n not in valid]
    if not names and train:
        warnings.warn("only one training track: it is used for training and validation", Notice, stacklevel=3)
        names = train
    if not names:
        raise UserError("the cache has no training tracks (prepare the train subset)")
    return names


# ------------------------------------------------------------------------------ named steps


def _decode_block(audio_cfg, record: tf.Tensor) -> tf.Tensor:
    """Shard record -> (chunk_samples, channels, 4) float32."""
    block = tf.io.decode_raw(record, tf.float32, little_endian=True)
    return tf.reshape(block, [audio_cfg.chunk_samples, audio_cfg.channels, len(STEMS)])


def _block_pairs(audio_cfg):
    """One track's shard -> (block, next block or zeros, valid samples of both)."""
    chunk = audio_cfg.chunk_samples

    def pairs(path, n_blocks, last_valid):
        blocks = tf.data.TFRecordDataset(path).map(lambda r: _decode_block(audio_cfg, r))
        zeros = tf.data.Dataset.from_tensors(tf.zeros([chunk, audio_cfg.channels, len(STEMS)]))
        valid = tf.data.Dataset.range(n_blocks).map(
            lambda i: tf.where(i == n_blocks - 1, last_valid, tf.constant(chunk, tf.int64))
        )
        nexts = blocks.skip(1).concatenate(zeros)
        valid_next = valid.skip(1).concatenate(tf.data.Dataset.from_tensors(tf.constant(0, tf.int64)))
        return tf.data.Dataset.zip((blocks, nexts, valid, valid_next))

    return pairs


def _random_crop(chunk: int):
    """Cut chunk_samples at a uniform random offset from a block and its successor."""

    def crop(pair, seed):
        block, nxt, valid, valid_next = pair
        span = tf.maximum(valid + valid_next - chunk, 0)
        offset = tf.random.stateless_uniform(
            [], aug._seed(seed, 1), minval=0, maxval=tf.cast(span, tf.int64) + 1, dtype=tf.int64
        )
        both = tf.concat([block, nxt], axis=0)
        return {"stems": both[offset : offset + chunk], "seed": seed}

    return crop


def _no_silent_target(matrix: np.ndarray, threshold: float = SILENCE_MEAN_SQUARE):
    """The authors' filter: keep a chunk only if every target source is audible."""
    m = tf.constant(matrix)

    def keep(example):
        stems = example["stems"]
        targets = tf.matmul(tf.reshape(stems, [-1, stems.shape[-1]]), m)  # 2-D matmul (oneDNN)
        power = tf.reduce_mean(tf.square(targets), axis=0)
        return tf.reduce_all(power >= threshold)

    return keep


def _augment_one(gain_range, swap_prob):
    def step(example):
        stems = aug.random_gain(example["stems"], example["seed"], *gain_range)
        stems = aug.random_channel_swap(stems, example["seed"], swap_prob)
        return {"stems": stems, "seed": example["seed"]}

    return step


def _remix(prob):
    def step(group):
        return {"stems": aug.remix_group(group["stems"], group["seed"][0], prob), "seed": group["seed"]}

    return step


def _mix_and_targets(matrix: np.ndarray):
    """stems (samples, C, 4) -> mixture (samples, C) = sum of stems, targets (samples, C, K)."""
    m = tf.constant(matrix)

    def step(example):
        stems = example["stems"] if isinstance(example, dict) else example
        shape = tf.shape(stems)
        mix = tf.reduce_sum(stems, axis=-1)
        targets = tf.matmul(tf.reshape(stems, [-1, stems.shape[-1]]), m)
        targets = tf.reshape(targets, tf.concat([shape[:-1], [m.shape[1]]], 0))
        return mix, targets

    return step


def _magnitudes(preset: Preset, n_sources: int, linear_energy: bool = False):
    """Batched waveforms -> magnitudes on the model grid (the preset's centred STFT and warp).

    With `linear_energy`, also each example's sum_{bins, frames, channels} |S_k|^2 on the
    linear STFT (batch, K): the energies the authors' EBW InstP1 weighs a batch by, which the
    paper preset's log-frequency warp would distort.
    """
    front = SpectralFrontEnd(preset.audio)
    a = preset.audio

    def step(mix, targets):
        batch = tf.shape(mix)[0]
        mix_mag = front.magnitude(mix)
        flat = tf.reshape(tf.transpose(targets, [0, 3, 1, 2]), [-1, a.chunk_samples, a.channels])
        linear = tf.abs(front.linear_spectrogram(flat))
        src = front.to_model_grid(linear[:, : a.freq_bins])
        src = tf.reshape(src, [batch, n_sources, a.model_bins, a.frames, a.channels])
        src = tf.transpose(src, [0, 2, 3, 4, 1])
        mix_mag = tf.ensure_shape(mix_mag, [None, a.model_bins, a.frames, a.channels])
        src = tf.ensure_shape(src, [None, a.model_bins, a.frames, a.channels, n_sources])
        if not linear_energy:
            return mix_mag, src
        energy = tf.reshape(tf.reduce_sum(tf.square(linear), axis=[1, 2, 3]), [batch, n_sources])
        return mix_mag, src, energy

    return step


# ------------------------------------------------------------------------------ pipelines


def _check_trainable(cache: Path, info: dict, names: list[str], sources: tuple[str, ...]) -> None:
    """Fail early (instead of filtering forever) when no block has all target sources audible."""
    idx = [cache_lib.ENERGY_NAMES.index(s) for s in sources]
    for meta in cache_lib.track_metas(cache, info, "train", names):
        power = np.asarray(meta["block_power"])[:, idx]
        if (power >= SILENCE_MEAN_SQUARE).all(axis=1).any():
            return
    raise UserError(
        f"{cache}: no training chunk has all of {', '.join(sources)} audible; the silent-source "
        "filter would drop everything (train with --keep-silent-chunks or other --sources)"
    )


def training_dataset(
    data: str | os.PathLike | None,
    preset: Preset,
    sources: tuple[str, ...] | list[str] | str,
    batch_size: int,
    seed: int | None = None,
    augment: bool = True,
    *,
    cache: str | os.PathLike | None = None,
    silence_filter: bool = True,
    gain_range: tuple[float, float] = aug.GAIN_RANGE,
    swap_prob: float = 0.5,
    remix_prob: float = 0.5,
    remix_group_size: int = 16,
    shuffle_buffer: int | None = None,
    cycle_length: int = 8,
    linear_energy: bool = False,
) -> tf.data.Dataset:
    """Infinite training batches of random chunks.

    Args:
        data: prepared cache or MUSDB root (None: MUSDB_PATH); a root is prepared into `cache`.
        preset: the run's preset (rate, channels, chunk, STFT, warp).
        sources: the run's sources ("4stems", "2stems", "vocals,drums" or a sequence).
        batch_size: examples per batch.
        seed: fixes every random choice (same batches on every run); None = fresh randomness.
        augment: per-source gains, stereo channel swaps and remixing across tracks.
        cache: cache folder for a raw root (default `cache.default_cache_dir`).
        silence_filter: drop chunks in which a target source is silent (authors' filter).
        gain_range, swap_prob, remix_prob: augmentation settings (see `augment`).
        remix_group_size: chunks shuffled together when remixing.
        shuffle_buffer: chunks in the shuffle buffer (default: ~256 MB worth, 8..256).
        cycle_length: tracks read at once.
        linear_energy: add each example's per-source energy on the linear STFT (B, K) as a
            third element (EBW InstP1).

    Returns:
        tf.data.Dataset of (mix (B, model_bins, frames, C), sources (B, model_bins, frames, C, K)
        [, energy (B, K)]).
    """
    sources = resolve_sources(sources)
    path, info = _cache(data, preset, cache)
    names = _training_tracks(info)
    if silence_filter:
        _check_trainable(path, info, names, sources)
    metas = cache_lib.track_metas(path, info, "train", names)
    a = preset.audio
    deterministic = seed is not None
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    matrix = source_matrix(sources)
    crop_bytes = a.chunk_samples * a.channels * len(STEMS) * 4
    buffer = shuffle_buffer or int(np.clip(256 * 2**20 // crop_bytes, 8, 256))

    tracks = tf.data.Dataset.from_tensor_slices((
        [str(path / m["shard"]) for m in metas],
        np.array([m["blocks"] for m in metas], np.int64),
        np.array([m["last_valid"] for m in metas], np.int64),
    ))
    ds = tracks.shuffle(len(metas), seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.interleave(_block_pairs(a), cycle_length=min(cycle_length, len(metas)), block_length=1,
                       num_parallel_calls=AUTOTUNE, deterministic=deterministic)
    ds = tf.data.Dataset.zip((ds, tf.data.Dataset.random(seed=seed)))
    ds = ds.map(_random_crop(a.chunk_samples), num_parallel_calls=AUTOTUNE, deterministic=deterministic)
    if silence_filter:
        ds = ds.filter(_no_silent_target(matrix))
    ds = ds.shuffle(buffer, seed=seed + 1, reshuffle_each_iteration=True)
    if augment:
        ds = ds.map(_augment_one(gain_range, swap_prob), num_parallel_calls=AUTOTUNE, deterministic=deterministic)
        if remix_prob > 0:
            ds = ds.batch(remix_group_size, drop_remainder=True).map(_remix(remix_prob)).unbatch()
    return _to_batches(ds, preset, sources, batch_size, deterministic, drop_remainder=True,
                       linear_energy=linear_energy)


def _to_batches(ds, preset: Preset, sources: tuple[str, ...], batch_size: int,
                deterministic: bool, drop_remainder: bool,
                linear_energy: bool = False) -> tf.data.Dataset:
    """The steps both pipelines end with: mix and targets, batch, STFT magnitudes, prefetch."""
    ds = ds.map(_mix_and_targets(source_matrix(sources)), num_parallel_calls=AUTOTUNE,
                deterministic=deterministic)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    ds = ds.map(_magnitudes(preset, len(sources), linear_energy), num_parallel_calls=AUTOTUNE,
                deterministic=deterministic)
    return ds.prefetch(AUTOTUNE)


def validation_dataset(
    data: str | os.PathLike | None,
    preset: Preset,
    sources: tuple[str, ...] | list[str] | str,
    batch_size: int,
    *,
    cache: str | os.PathLike | None = None,
    max_chunks: int | None = None,
) -> tf.data.Dataset:
    """Finite, fixed validation batches: every full chunk of the validation tracks, in order.

    Validation tracks: MUSDB18's official list when the names are MUSDB18's, else a seeded
    split of the train tracks (see `musdb_io.validation_split`); a track shorter than one chunk
    contributes its zero-padded chunk. No augmentation, no silence filter.

    Args:
        max_chunks: keep only the first chunks (a cheaper validation).
    """
    sources = resolve_sources(sources)
    path, info = _cache(data, preset, cache)
    names = info["validation"]["tracks"]
    if not names:
        raise UserError(f"{path}: no validation tracks (prepare the train subset)")
    metas = cache_lib.track_metas(path, info, "train", names)
    counts = [max(1, m["blocks"] - (m["last_valid"] < preset.audio.chunk_samples)) for m in metas]
    files = tf.data.Dataset.from_tensor_slices(([str(path / m["shard"]) for m in metas], np.array(counts, np.int64)))
    ds = files.flat_map(lambda f, n: tf.data.TFRecordDataset(f).take(n))
    if max_chunks is not None:
        ds = ds.take(max_chunks)
    ds = ds.map(lambda r: _decode_block(preset.audio, r), num_parallel_calls=AUTOTUNE, deterministic=True)
    return _to_batches(ds, preset, sources, batch_size, deterministic=True, drop_remainder=False)


def source_energies(
    data: str | os.PathLike | None,
    preset: Preset,
    sources: tuple[str, ...] | list[str] | str,
    *,
    cache: str | os.PathLike | None = None,
) -> dict[str, float]:
    """Mean energy per training chunk of each source, for EBW.

    Definition (the authors' `get_signal_energy`): E_k is the mean, over the full non-overlapping
    chunks of `preset.audio.chunk_samples` samples of the training split (track tails dropped),
    of the chunk's waveform energy sum_{t,c} s_k[t, c]^2 at the preset's rate and channel count.
    By Parseval this is proportional to the energy of the chunk's STFT, so the EBW ratios
    E_ref / E_k match those of magnitude spectrograms. The authors hard-code their values
    (vocals 173.43 ... bass 252.70, `settings.py`); whether this measurement reproduces them on
    MUSDB18 is unchecked (MUSDB18 is not available here, and their per-track CSV averages to
    different values: vocals 234.7, bass 289.0).

    Returns:
        {source: E} for every source in `sources` (accompaniment = drums + bass + other).
    """
    sources = resolve_sources(sources)
    info = _cache(data, preset, cache)[1]
    if info["energy_chunks"] == 0:
        raise UserError("no full training chunk to measure energies on (tracks shorter than one chunk)")
    return {s: float(info["energies"][s]) for s in sources}
