"""The training loop's one door to the data: `load_data` wraps `tf_munet.data.pipeline`.

Everything the loop needs from the data (training and validation datasets, per-source energies
for EBW / Oh et al., a fixed validation excerpt for TensorBoard) comes through `load_data`, so
the loop never reads audio itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tf_munet.errors import atomic_path


@dataclass
class DataBundle:
    """What the loop trains on.

    Attributes:
        train: infinite tf.data of (mix (B, bins, frames, C), sources (B, bins, frames, C, K)).
        validation: finite, fixed tf.data of the same.
        energies: {source: mean energy per training chunk} or None when not needed.
        data_path: the resolved data path (MUSDB root or cache).
        excerpt_mix, excerpt_targets: (bins, frames, C) and (bins, frames, C, K) magnitudes of
            the first validation example (TensorBoard images).
        excerpt_wave: (samples, C) mixture of that excerpt at the preset's rate, or None.
    """

    train: object
    validation: object
    energies: dict | None
    data_path: str
    excerpt_mix: np.ndarray
    excerpt_targets: np.ndarray | None
    excerpt_wave: np.ndarray | None = None


SYNTHETIC_VERSION = 1
"""Bumped when `write_synthetic_musdb` changes what it writes (a new default set is generated)."""


def default_synthetic_dir(seed: int = 0) -> Path:
    """Where the default synthetic set of a seed lives: generated once, shared by every run
    (and its prepared caches with it), in the user's tf_munet cache."""
    from tf_munet.data.cache import user_cache_dir

    return user_cache_dir() / f"synthetic-v{SYNTHETIC_VERSION}-seed{seed}"


def ensure_synthetic(path: Path, seed: int = 0) -> Path:
    """Generate the default synthetic MUSDB-layout set at `path` once (atomically)."""
    path = Path(path)
    if path.is_dir():
        return path
    from tf_munet.data.synthetic import write_synthetic_musdb

    print(f"Generating a synthetic MUSDB18-HQ-layout set in {path} ...", flush=True)
    try:
        with atomic_path(path, suffix=".tmp") as tmp:
            tmp.unlink()
            write_synthetic_musdb(tmp, train=4, test=2, seconds=6.0, seed=seed)
    except OSError:
        if not path.is_dir():  # another worker renamed its copy first: use that one
            raise
    return path


def load_data(data: str, preset, sources, batch_size: int, seed: int, augment: bool,
              need_energies: bool, cache: str | None = None,
              validation_steps: int | None = None, linear_energy: bool = False,
              silence_filter: bool = True,
              prepare_workers: int | None = None) -> DataBundle:
    """Datasets, energies and excerpt for a run (see DataBundle).

    `data` is prepared once (a progress bar per track) unless it already is a cache;
    `prepare_workers` = 1 prepares in this process (faster for a few short tracks).
    Energies include EBW's reference source when it is not a target (e.g. vocals,drums).
    """
    from tf_munet.data import pipeline
    from tf_munet.weighting import REFERENCE_SOURCE

    extra = {"workers": prepare_workers} if prepare_workers else {}
    prepared = pipeline.prepare_if_needed(data, preset, cache=cache, **extra)
    train = pipeline.training_dataset(prepared, preset, sources, batch_size, seed=seed,
                                      augment=augment, linear_energy=linear_energy,
                                      silence_filter=silence_filter)
    max_chunks = validation_steps * batch_size if validation_steps else None
    validation = pipeline.validation_dataset(prepared, preset, sources, batch_size,
                                             max_chunks=max_chunks)
    energies = None
    if need_energies:
        names = list(sources)
        ref = REFERENCE_SOURCE.get(len(names))
        if ref and ref not in names:
            names.append(ref)
        energies = pipeline.source_energies(prepared, preset, names)
    mix, targets = next(iter(validation.take(1)))
    return DataBundle(
        train=train, validation=validation, energies=energies, data_path=str(prepared),
        excerpt_mix=np.asarray(mix[0]), excerpt_targets=np.asarray(targets[0]),
        excerpt_wave=validation_excerpt(prepared, preset),
    )


def validation_excerpt(cache, preset) -> np.ndarray | None:
    """(chunk_samples, C) mixture of the first validation chunk, from the cache's documented
    layout (one raw float32 block (chunk_samples, C, 4 stems) per record); None if unreadable.
    It is the chunk the first validation batch starts with."""
    import tensorflow as tf

    from tf_munet.data import cache as cache_lib

    try:
        info = cache_lib.load_cache(cache, preset.audio)
        name = info["validation"]["tracks"][0]
        meta = cache_lib.track_metas(cache, info, "train", [name])[0]
        record = next(iter(tf.data.TFRecordDataset(str(Path(cache) / meta["shard"]))))
    except (OSError, KeyError, IndexError, StopIteration, tf.errors.OpError):
        return None
    a = preset.audio
    block = np.frombuffer(record.numpy(), "<f4").reshape(a.chunk_samples, a.channels, -1)
    return block.sum(axis=-1).astype(np.float32)


def random_data(preset, sources, batch_size: int, seed: int) -> DataBundle:
    """In-memory random magnitudes with the pipeline's shapes (for tests of the loop alone)."""
    import tensorflow as tf

    a = preset.audio
    rng = np.random.default_rng(seed)
    shape = (a.model_bins, a.frames, a.channels)

    def examples(n):
        src = rng.uniform(0, 1, (n, *shape, len(sources))).astype(np.float32) ** 2
        return src.sum(-1), src

    mix, src = examples(4 * batch_size)
    train = tf.data.Dataset.from_tensor_slices((mix, src)).repeat().batch(batch_size)
    vmix, vsrc = examples(2 * batch_size)
    validation = tf.data.Dataset.from_tensor_slices((vmix, vsrc)).batch(batch_size)
    energies = {s: float(np.mean(src[..., i] ** 2)) for i, s in enumerate(sources)}
    return DataBundle(train, validation, energies, "random", vmix[0], vsrc[0])
