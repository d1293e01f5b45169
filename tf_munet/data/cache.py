"""The prepared cache: layout, metadata, and where a raw root's cache lives by default.

A cache holds the training audio of one data root at one preset's rate, channel count and chunk
size, as TFRecord shards that tf.data streams:

    CACHE/cache.json                      written last: settings, tracks, split, energies
    CACHE/config.json                     the audio settings (written first; guards a resume)
    CACHE/tracks/<subset>/<track>.json    one per finished track: blocks, powers, checks
    CACHE/shards/<subset>/<track>.tfrecord

Each shard record is one block of `chunk_samples` samples: raw little-endian float32 bytes of shape
(chunk_samples, channels, 4), the stems in order vocals, drums, bass, other. A track's last block
is zero-padded; its metadata gives the valid length (`last_valid`). Track files are written to a
temporary name and renamed, and a track's metadata only after its shard, so a track either is in
the cache completely or not at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from tf_munet.errors import UserError
from tf_munet.presets import SOURCE_STEMS, AudioConfig

CACHE_VERSION = 1
ENERGY_NAMES = (*SOURCE_STEMS, "mixture")
"""Names whose per-chunk energies a cache stores (accompaniment = drums + bass + other,
mixture = sum of the four stems)."""


def cache_settings(audio: AudioConfig) -> dict:
    """The part of a preset's audio settings that fixes a cache's contents."""
    return {
        "sample_rate": int(audio.sample_rate),
        "channels": int(audio.channels),
        "chunk_samples": int(audio.chunk_samples),
    }


def cache_key(audio: AudioConfig) -> str:
    s = cache_settings(audio)
    return f"{s['sample_rate']}hz-{s['channels']}ch-{s['chunk_samples']}"


def safe_name(name: str) -> str:
    """A file-name-safe, collision-free stem for a track name."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:80] or "track"
    return f"{slug}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"


def track_meta_path(cache: Path, subset: str, name: str) -> Path:
    return cache / "tracks" / subset / f"{safe_name(name)}.json"


def shard_path(cache: Path, subset: str, name: str) -> Path:
    return cache / "shards" / subset / f"{safe_name(name)}.tfrecord"


def is_cache(path: str | os.PathLike) -> bool:
    """True for a finished cache folder (one with cache.json)."""
    return (Path(path) / "cache.json").is_file()


def read_json(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: cannot read cache metadata ({exc})") from None


def load_cache(path: str | os.PathLike, audio: AudioConfig | None = None) -> dict:
    """Read cache.json and check it matches `audio` (rate, channels, chunk size)."""
    path = Path(path)
    if not is_cache(path):
        raise UserError(f"{path}: not a prepared cache (no cache.json); run python -m tf_munet.prepare")
    info = read_json(path / "cache.json")
    if info.get("version") != CACHE_VERSION:
        raise UserError(f"{path}: cache version {info.get('version')} is not {CACHE_VERSION}; prepare it again")
    if audio is not None and info["audio"] != cache_settings(audio):
        raise UserError(
            f"{path}: cache was prepared for {info['audio']} but the preset needs "
            f"{cache_settings(audio)}; prepare a cache for this preset"
        )
    return info


def track_metas(cache: str | os.PathLike, info: dict, subset: str, names: list[str]) -> list[dict]:
    """Metadata of the named tracks, in the given order."""
    cache = Path(cache)
    return [read_json(track_meta_path(cache, subset, n)) for n in names]


def default_cache_dir(root: str | os.PathLike, audio: AudioConfig) -> Path:
    """Where a raw root's cache goes when none is named.

    $TF_MUNET_CACHE/<root-id>-<key> if that variable is set; else <root>/.tf_munet_cache/<key> when
    the root is writable; else ~/.cache/tf_munet/<root-id>-<key>.
    """
    root = Path(root).resolve()
    key = cache_key(audio)
    root_id = f"{re.sub(r'[^A-Za-z0-9_-]+', '_', root.name)[:40]}-{hashlib.sha1(str(root).encode()).hexdigest()[:8]}"
    if os.environ.get("TF_MUNET_CACHE"):
        return user_cache_dir() / f"{root_id}-{key}"
    if os.access(root, os.W_OK):
        return root / ".tf_munet_cache" / key
    return user_cache_dir() / f"{root_id}-{key}"


def user_cache_dir() -> Path:
    """$TF_MUNET_CACHE, else ~/.cache/tf_munet: data shared by every run of this user."""
    env = os.environ.get("TF_MUNET_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "tf_munet"
