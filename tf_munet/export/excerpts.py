"""Audio an export is calibrated and checked on: chunks at the model's rate and channel count.

Both come from `tf_munet.data`: MUSDB tracks (`musdb_io`, HQ or STEMS) when a data root is given,
otherwise procedurally generated tracks (`synthetic.synthetic_stems`, rendered directly at the
model's rate). Calibration uses training tracks (or synthetic seeds) disjoint from the
validation excerpt (test tracks or another seed), so int8 ranges are not fitted to the audio
they are scored on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from tf_munet.presets import SOURCE_STEMS, AudioConfig

CALIBRATION_SEED = 2000
VALIDATION_SEED = 1000


@dataclass
class Excerpt:
    """Chunks of one track at the model's rate.

    Attributes:
        mixture: (chunks, chunk_samples, C) float32.
        sources: (chunks, chunk_samples, C, K) float32, in the run's source order.
        origin: where it came from (track name or synthetic seed).
    """

    mixture: np.ndarray
    sources: np.ndarray
    origin: str


def source_audio(stems: dict[str, np.ndarray], name: str) -> np.ndarray:
    """A source's audio from MUSDB's four stems (accompaniment = drums + bass + other); silence
    for a part source no stem isolates (Spleeter's piano), which the SDRs then leave out."""
    if name not in SOURCE_STEMS:
        return np.zeros_like(stems["mixture"])
    return sum(stems[stem] for stem in SOURCE_STEMS[name])


def _to_model(x: np.ndarray, rate: int, audio: AudioConfig) -> np.ndarray:
    from tf_munet.data.audio_io import resample, to_channels

    return resample(to_channels(np.asarray(x, np.float32), audio.channels), rate, audio.sample_rate)


def _synthetic(seed: int, seconds: float, audio: AudioConfig) -> dict[str, np.ndarray]:
    from tf_munet.data.synthetic import synthetic_stems

    return synthetic_stems(seed, seconds, audio.sample_rate, audio.channels)


def _musdb_tracks(
    data: str | os.PathLike, subsets: tuple[str, ...], limit: int
) -> Iterator[tuple[str, dict, int]]:
    """(name, {"mixture", stems...}, rate) of up to `limit` tracks spread over the first subset
    that has any (tracks are decoded one at a time)."""
    from tf_munet.data import musdb_io
    from tf_munet.errors import UserError

    for subset in subsets:
        try:
            refs = musdb_io.find_tracks(data, subset)
        except UserError:
            continue
        picks = np.unique(np.linspace(0, len(refs) - 1, min(limit, len(refs))).round().astype(int))
        for i in picks:
            track = musdb_io.load_track(refs[i])
            yield refs[i].name, {"mixture": track.mixture, **track.stems}, track.rate
        return
    raise UserError(f"{data}: no MUSDB18 tracks in {' or '.join(subsets)}")


def _chunks(x: np.ndarray, length: int, count: int) -> list[np.ndarray]:
    """Up to `count` non-overlapping chunks spread evenly over x (zero-padded if x is short)."""
    if len(x) < length:
        x = np.pad(x, [(0, length - len(x))] + [(0, 0)] * (x.ndim - 1))
    available = len(x) // length
    picks = np.linspace(0, available - 1, min(count, available)).round().astype(int)
    return [x[i * length : (i + 1) * length] for i in picks]


def validation_excerpt(
    audio: AudioConfig,
    sources: tuple[str, ...],
    data: str | os.PathLike | None = None,
    chunks: int = 4,
    seed: int = 0,
) -> Excerpt:
    """`chunks` consecutive chunks from the middle of the first test track (or a synthetic one)."""
    length = audio.chunk_samples
    if data is None:
        name = f"synthetic seed {VALIDATION_SEED + seed}"
        track = _synthetic(VALIDATION_SEED + seed, chunks * length / audio.sample_rate + 0.1, audio)
        rate = audio.sample_rate
    else:
        name, track, rate = next(_musdb_tracks(data, ("test", "train"), 1))
    mix = _to_model(track["mixture"], rate, audio)
    srcs = np.stack([_to_model(source_audio(track, s), rate, audio) for s in sources], -1)
    start = max(0, (len(mix) - chunks * length) // 2)
    need = start + chunks * length
    if len(mix) < need:
        pad = need - len(mix)
        mix = np.pad(mix, [(0, pad), (0, 0)])
        srcs = np.pad(srcs, [(0, pad), (0, 0), (0, 0)])
    mix = mix[start:need].reshape(chunks, length, audio.channels)
    srcs = srcs[start:need].reshape(chunks, length, audio.channels, len(sources))
    return Excerpt(mix.astype(np.float32), srcs.astype(np.float32), name)


def calibration_chunks(
    audio: AudioConfig, data: str | os.PathLike | None = None, count: int = 16, seed: int = 0
) -> np.ndarray:
    """(count, chunk_samples, C) mixture chunks for int8 calibration (training tracks)."""
    length = audio.chunk_samples
    out: list[np.ndarray] = []
    if data is None:
        per_track = 4
        i = 0
        while len(out) < count:
            track = _synthetic(CALIBRATION_SEED + 97 * seed + i, per_track * length / audio.sample_rate, audio)
            out += _chunks(track["mixture"], length, per_track)
            i += 1
    else:
        tracks = min(count, 8)
        per_track = -(-count // tracks)
        for _, track, rate in _musdb_tracks(data, ("train", "test"), tracks):
            out += _chunks(_to_model(track["mixture"], rate, audio), length, per_track)
    return np.stack(out[:count]).astype(np.float32)
