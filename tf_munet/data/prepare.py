"""Prepare a cache: decode, check, downmix, resample and chunk every track into TFRecord shards.

Parallel over tracks (spawned worker processes, each writing its own track), with a progress
bar, idempotent and resumable: a finished track (its metadata file exists) is skipped, files are
written to temporary names and renamed, and leftovers of a killed run are removed on the next.
Per-chunk energies for EBW are measured here (see `chunk_energies`). The layout is in
`tf_munet.data.cache`.
"""

from __future__ import annotations

import concurrent.futures as cf
import fcntl
import json
import multiprocessing
import os
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from tf_munet import run_dir
from tf_munet.data import cache as cache_lib
from tf_munet.data.audio_io import resample, to_channels
from tf_munet.data.musdb_io import TrackRef, find_tracks, load_track, musdb_root, validation_split
from tf_munet.errors import Notice, UserError, atomic_path
from tf_munet.presets import STEMS, AudioConfig, Preset
from tf_munet.quiet import quiet_tensorflow

ENERGY_DEFINITION = (
    "E_k = mean over the training split's full, non-overlapping chunks of chunk_samples samples "
    "(track tails dropped) of sum_{t,c} s_k[t,c]^2, the chunk's waveform energy at the preset's rate "
    "and channel count (the authors' get_signal_energy in dataset/preprocessing.py); "
    "proportional to the chunk's spectrogram energy by Parseval"
)


def write_json(path: Path, data) -> None:
    """Atomic JSON write with a stable key order, so reruns give equal bytes."""
    run_dir.write_json(path, data, indent=1, sort_keys=True)


def block_powers(blocks: np.ndarray, valid: list[int]) -> np.ndarray:
    """Mean square per sample and channel of each block for every name in ENERGY_NAMES.

    Args:
        blocks: (n_blocks, chunk_samples, channels, 4) stems in STEMS order.
        valid: valid samples of each block.

    Returns:
        (n_blocks, 6) float64.
    """
    x = blocks.astype(np.float64)
    acc = x[..., 1:].sum(-1)
    mix = x.sum(-1)
    per = np.concatenate([x, acc[..., None], mix[..., None]], axis=-1) ** 2
    sums = per.sum(axis=(1, 2))
    counts = np.asarray(valid, np.float64)[:, None] * blocks.shape[2]
    return sums / np.maximum(counts, 1)


def _prepare_track(
    ref: TrackRef, settings: dict, cache: str, backend: str
) -> tuple[dict | None, list[str], str | None]:
    """Worker: one track -> shard + metadata. Returns (meta, [(warning, category)], error message)."""
    cache = Path(cache)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rate, channels, chunk = settings["sample_rate"], settings["channels"], settings["chunk_samples"]
        try:
            track = load_track(ref, backend=backend)
            stems = [resample(to_channels(track.stems[k], channels), track.rate, rate, backend=backend)
                     for k in STEMS]
        except (UserError, ValueError) as exc:
            message = str(exc) if isinstance(exc, UserError) else f"track {ref.name!r} [{ref.subset}]: {exc}"
            return None, [(str(w.message), w.category) for w in caught], message
    audio = np.stack(stems, axis=-1)  # (samples, channels, 4)
    n = audio.shape[0]
    if n == 0:
        return None, [], (f"track {ref.name!r} [{ref.subset}] ({ref.files()['mixture']}): too short "
                          f"({len(track.mixture)} samples at {track.rate} Hz are none at {rate} Hz)")
    n_blocks = -(-n // chunk)
    padded = np.zeros((n_blocks * chunk, channels, len(STEMS)), np.float32)
    padded[:n] = audio
    blocks = padded.reshape(n_blocks, chunk, channels, len(STEMS))
    valid = [chunk] * (n_blocks - 1) + [n - (n_blocks - 1) * chunk]
    powers = block_powers(blocks, valid)
    full = np.array(valid) == chunk
    energy_sum = (powers[full] * chunk * channels).sum(axis=0)

    shard = cache_lib.shard_path(cache, ref.subset, ref.name)
    _write_shard(shard, blocks)
    meta = {
        "name": ref.name,
        "subset": ref.subset,
        "format": ref.format,
        "source": str(ref.path),
        "file_rate": int(track.rate),
        "file_samples": int(len(track.mixture)),
        "samples": int(n),
        "blocks": int(n_blocks),
        "last_valid": int(valid[-1]),
        "shard": str(shard.relative_to(cache)),
        "mixture_error_db": track.mixture_error_db,
        "settings": settings,
        "block_power": [[float(v) for v in row] for row in powers],
        "energy": {"chunks": int(full.sum()),
                   "sum": {k: float(v) for k, v in zip(cache_lib.ENERGY_NAMES, energy_sum)}},
    }
    write_json(cache_lib.track_meta_path(cache, ref.subset, ref.name), meta)
    return meta, [(str(w.message), w.category) for w in caught], None


def _write_shard(path: Path, blocks: np.ndarray) -> None:
    import tensorflow as tf

    with atomic_path(path, suffix=".tfrecord.tmp") as tmp:
        with tf.io.TFRecordWriter(str(tmp)) as writer:
            for block in blocks:
                writer.write(np.ascontiguousarray(block, "<f4").tobytes())


@contextmanager
def _locked(cache: Path):
    """One prepare per cache at a time (a second one waits); released even on SIGKILL.

    A spawned worker that re-runs an unguarded script would wait forever for its parent's
    lock, so it is stopped with the usual multiprocessing advice instead.
    """
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise UserError(
            f"{cache}: data preparation was started while a worker process imported the main "
            "script; call it under `if __name__ == \"__main__\":`"
        )
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".prepare.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _remove_leftovers(cache: Path) -> None:
    """Delete temporary files of a killed run (atomic writes leave `.<name>.*.tmp*`)."""
    for sub in ("tracks", "shards", "."):
        folder = cache / sub
        if not folder.is_dir():
            continue
        pattern = "*" if sub == "." else "**/*"
        for p in folder.glob(pattern):
            if p.is_file() and p.name.startswith(".") and ".tmp" in p.name:
                p.unlink(missing_ok=True)


def _is_done(cache: Path, ref: TrackRef, settings: dict) -> bool:
    meta_path = cache_lib.track_meta_path(cache, ref.subset, ref.name)
    if not meta_path.is_file():
        return False
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    return (meta.get("settings") == settings and meta.get("source") == str(ref.path)
            and (cache / meta["shard"]).is_file())


def prepare(
    root: str | os.PathLike | None,
    preset: Preset | AudioConfig,
    out: str | os.PathLike,
    subsets: tuple[str, ...] | str = ("train",),
    format: str = "auto",
    workers: int | None = None,
    skip_bad: bool = False,
    backend: str = "soundfile",
    validation_fraction: float = 0.2,
    split_seed: int = 0,
    progress: bool = True,
) -> Path:
    """Prepare (or finish preparing) the cache of `root` for a preset.

    Args:
        root: MUSDB root, STEMS or HQ (None: MUSDB_PATH).
        preset: the preset (or its AudioConfig): rate, channels and chunk size.
        out: cache folder.
        subsets: subsets to prepare ("train" is what the pipelines need).
        format: "auto", "hq" or "stems".
        workers: worker processes (default: CPU count, at most one per track); 1 = in-process.
        skip_bad: skip tracks with bad input (with a warning) instead of stopping.
        backend: "soundfile" (soundfile/ffmpeg + soxr) or "tfio".
        validation_fraction, split_seed: the seeded split used when track names are not MUSDB18's.
        progress: show a tqdm progress bar (on a terminal).

    Returns:
        The cache folder.

    Raises:
        UserError naming the track and file on bad input (unless skip_bad), or when `out` holds
        a cache for other settings.
    """
    audio = preset.audio if isinstance(preset, Preset) else preset
    settings = cache_lib.cache_settings(audio)
    root = musdb_root(root)
    subsets = (subsets,) if isinstance(subsets, str) else tuple(subsets)
    tracks = find_tracks(root, subsets, format)
    cache = Path(out)
    with _locked(cache):
        config_path = cache / "config.json"
        if config_path.is_file():
            old = cache_lib.read_json(config_path)
            if old.get("audio") != settings:
                raise UserError(f"{cache}: holds a cache for {old.get('audio')}, not {settings}; use another --out")
        else:
            write_json(config_path, {"version": cache_lib.CACHE_VERSION, "audio": settings})
        _remove_leftovers(cache)
        todo = [t for t in tracks if not _is_done(cache, t, settings)]
        skipped = _run(todo, settings, cache, backend, workers, skip_bad, progress)
        done = [t for t in tracks if t not in skipped]
        info = _summarise(cache, root, done, skipped, subsets, settings, validation_fraction, split_seed)
        if not (cache / "cache.json").is_file() or cache_lib.read_json(cache / "cache.json") != info:
            write_json(cache / "cache.json", info)
    return cache


def _run(todo, settings, cache, backend, workers, skip_bad, progress) -> dict[TrackRef, str]:
    """Process tracks, in this process or in spawned workers; returns {skipped track: error}."""
    from tqdm import tqdm

    skipped: dict[TrackRef, str] = {}
    if not todo:
        return skipped
    workers = min(workers or os.cpu_count() or 1, len(todo))
    # redrawn on a terminal only: no carriage returns in log files
    bar = tqdm(total=len(todo), desc="prepare", unit="track", disable=not progress or not sys.stderr.isatty(),
               dynamic_ncols=True)

    def handle(ref: TrackRef, result) -> None:
        meta, messages, error = result
        for m, category in messages:  # the worker's warnings, ours (`Notice`) and libraries'
            warnings.warn(m, category, stacklevel=3)
        if error is not None:
            if not skip_bad:
                raise UserError(error)
            warnings.warn(f"skipping bad track: {error}", Notice, stacklevel=3)
            skipped[ref] = error
        bar.update(1)

    try:
        if workers <= 1:
            for ref in todo:
                bar.set_postfix_str(ref.name[:40])
                handle(ref, _prepare_track(ref, settings, str(cache), backend))
        else:
            ctx = multiprocessing.get_context("spawn")  # TF may be loaded here: never fork
            with cf.ProcessPoolExecutor(workers, mp_context=ctx, initializer=quiet_tensorflow) as pool:
                futures = {pool.submit(_prepare_track, ref, settings, str(cache), backend): ref for ref in todo}
                try:
                    for fut in cf.as_completed(futures):
                        handle(futures[fut], fut.result())
                except BaseException:
                    for f in futures:
                        f.cancel()
                    raise
    finally:
        bar.close()
    return skipped


def _summarise(cache, root, done, skipped, subsets, settings, fraction, seed) -> dict:
    """cache.json: settings, track lists, validation split, per-source chunk energies."""
    by_subset = {s: sorted(t.name for t in done if t.subset == s) for s in subsets}
    train = by_subset.get("train", [])
    valid, split_kind = validation_split(train, fraction, seed) if train else ([], "none")
    training = [n for n in train if n not in valid] or train
    totals = np.zeros(len(cache_lib.ENERGY_NAMES))
    chunks = 0
    for meta in cache_lib.track_metas(cache, {}, "train", training):
        chunks += meta["energy"]["chunks"]
        totals += [meta["energy"]["sum"][k] for k in cache_lib.ENERGY_NAMES]
    energies = {k: float(v / max(chunks, 1)) for k, v in zip(cache_lib.ENERGY_NAMES, totals)}
    return {
        "version": cache_lib.CACHE_VERSION,
        "audio": settings,
        "root": str(root),
        "formats": sorted({t.format for t in done}),
        "stems": list(STEMS),
        "tracks": by_subset,
        "validation": {"tracks": valid, "split": split_kind, "fraction": fraction, "seed": seed},
        "energies": energies,
        "energy_chunks": chunks,
        "energy_definition": ENERGY_DEFINITION,
        "skipped": {f"{t.subset}/{t.name}": e
                    for t, e in sorted(skipped.items(), key=lambda kv: (kv[0].subset, kv[0].name))},
    }


def prepare_if_needed(
    data: str | os.PathLike | None,
    preset: Preset,
    cache: str | os.PathLike | None = None,
    **options,
) -> Path:
    """Return a cache for `data`: `data` itself when it is a cache, else prepare one.

    Args:
        data: a prepared cache folder or a MUSDB root (STEMS or HQ; None: MUSDB_PATH).
        preset: the run's preset.
        cache: where to put the cache of a raw root (default: `cache.default_cache_dir`).
        **options: passed to `prepare` (workers, skip_bad, format, backend, progress ...).
    """
    if data is not None and cache_lib.is_cache(data):
        cache_lib.load_cache(data, preset.audio)
        return Path(data)
    root = musdb_root(data)
    out = Path(cache) if cache is not None else cache_lib.default_cache_dir(root, preset.audio)
    return prepare(root, preset, out, **options)
