"""Procedurally generated MUSDB18-HQ-layout data sets, so tests and demos run without MUSDB.

Each track has four distinct, learnable stems at moderate level:

- vocals: a melody of harmonic notes with vibrato, shaped by vowel-like formants, with short gaps;
- drums: a kick (decaying low sine sweep), a snare (noise burst + tone) and hi-hats (high-passed
  noise) on a 16th-note grid;
- bass: low harmonic notes on the chord roots;
- other: sustained chords (pads) in the mid range.

Tempo, key, chords, melody, levels and stereo panning are drawn per track from `seed`. Stems are
quantised to 16 bits first and the mixture is their exact sum, so the written `mixture.wav`
equals the sum of the written stems sample for sample (peak kept under 0.99).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tf_munet.data.audio_io import write_audio
from tf_munet.errors import UserError
from tf_munet.presets import STEMS

"""MUSDB18 stems, in the order used everywhere in tf_munet.data."""

_CHORDS = [(0, (0, 4, 7)), (5, (0, 4, 7)), (7, (0, 4, 7)), (9, (0, 3, 7)), (2, (0, 3, 7)),
           (4, (0, 3, 7))]
_MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
_VOWELS = [(730, 1090, 2440), (270, 2290, 3010), (530, 1840, 2480), (570, 840, 2410),
           (300, 870, 2240)]


def _hz(midi: float | np.ndarray) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(midi, np.float64) - 69) / 12)


def _envelope(n: int, rate: int, attack: float, decay: float, release: float = 0.02) -> np.ndarray:
    t = np.arange(n) / rate
    env = np.minimum(1.0, t / max(attack, 1e-4)) * np.exp(-t / decay)
    tail = min(n, int(release * rate))
    if tail:
        env[n - tail :] *= np.linspace(1.0, 0.0, tail)
    return env


def _harmonic(f0: np.ndarray | float, n: int, rate: int, amps: np.ndarray, phase0: float = 0.0) -> np.ndarray:
    """Sum of harmonics h*f0 with amplitudes amps[h-1]; f0 may vary per sample."""
    f0 = np.broadcast_to(np.asarray(f0, np.float64), (n,))
    phase = 2 * np.pi * np.cumsum(f0) / rate + phase0
    out = np.zeros(n)
    for h, a in enumerate(amps, start=1):
        if a == 0 or h * f0.max() >= rate / 2 * 0.95:
            continue
        out += a * np.sin(h * phase)
    return out


def _add(dst: np.ndarray, start: int, sig: np.ndarray) -> None:
    end = min(len(dst), start + len(sig))
    if end > start >= 0:
        dst[start:end] += sig[: end - start]


def _pan(mono: np.ndarray, pan: float, channels: int) -> np.ndarray:
    """Constant-power pan; pan in [-1, 1] (left .. right)."""
    if channels == 1:
        return mono[:, None]
    angle = (pan + 1) * np.pi / 4
    gains = np.array([np.cos(angle), np.sin(angle)] + [np.sqrt(0.5)] * (channels - 2))
    return mono[:, None] * gains[None, :] * np.sqrt(2)


def _vocals(rng, rate, n, key, beat):
    out = np.zeros(n)
    t = 0.1 * rng.random()
    degree = rng.integers(0, 7)
    while t * rate < n:
        dur = beat * rng.choice([0.5, 1.0, 1.0, 1.5, 2.0])
        degree = int(np.clip(degree + rng.integers(-2, 3), 0, 13))
        midi = key + 24 + _MAJOR[degree % 7] + 12 * (degree // 7)
        m = int(dur * rate)
        tt = np.arange(m) / rate
        depth = 0.35 * np.minimum(1.0, tt / 0.25)  # vibrato grows after the onset
        f0 = _hz(midi) * 2 ** (depth / 12 * np.sin(2 * np.pi * rng.uniform(4.5, 6.5) * tt))
        formants = _VOWELS[rng.integers(len(_VOWELS))]
        h = np.arange(1, 25) * _hz(midi)
        amps = sum(np.exp(-0.5 * ((h - f) / (80 + 0.08 * f)) ** 2) * w
                   for f, w in zip(formants, (1.0, 0.6, 0.3))) + 0.02 / np.arange(1, 25)
        note = _harmonic(f0, m, rate, amps) * _envelope(m, rate, 0.03, 2.0, 0.06)
        _add(out, int(t * rate), note)
        t += dur
        if rng.random() < 0.35:  # a breath between phrases
            t += rng.uniform(0.05, 0.2)
    return out


def _drums(rng, rate, n, beat, channels):
    out = np.zeros((n, channels))
    tk = np.arange(int(0.3 * rate)) / rate
    kick = np.sin(2 * np.pi * np.cumsum(45 + 110 * np.exp(-tk / 0.03)) / rate) * np.exp(-tk / 0.12)
    ts = np.arange(int(0.25 * rate)) / rate
    noise = np.convolve(rng.standard_normal(len(ts)), np.ones(3) / 3, "same")
    snare = (0.6 * noise + 0.5 * np.sin(2 * np.pi * 185 * ts)) * np.exp(-ts / 0.07)
    th = np.arange(int(0.06 * rate)) / rate
    hat = np.diff(rng.standard_normal(len(th) + 1)) * 0.35 * np.exp(-th / 0.015)
    pans = {"kick": 0.0, "snare": rng.uniform(-0.3, 0.3), "hat": rng.uniform(-0.8, 0.8)}
    parts = {k: np.zeros(n) for k in pans}
    step = beat / 4
    extra_kicks = rng.random(16) < 0.15
    for i in range(int(n / rate / step) + 1):
        pos, s = int(i * step * rate), i % 16
        if s in (0, 8) or (extra_kicks[s] and s % 4):
            _add(parts["kick"], pos, kick)
        if s in (4, 12):
            _add(parts["snare"], pos, snare)
        if s % 2 == 0 or rng.random() < 0.3:
            _add(parts["hat"], pos, hat * (1.0 if s % 4 == 0 else 0.6))
    for k, sig in parts.items():
        out += _pan(sig, pans[k], channels)
    return out


def _bass(rng, rate, n, key, beat, chords):
    out = np.zeros(n)
    amps = np.array([1.0, 0.5, 0.3, 0.15, 0.08])
    step = beat * rng.choice([1.0, 0.5])
    for i in range(int(n / rate / step) + 1):
        root = chords[int(i * step / (4 * beat)) % len(chords)][0]
        midi = key - 12 + root + (12 if rng.random() < 0.15 else 0)
        m = int(step * 0.9 * rate)
        _add(out, int(i * step * rate), _harmonic(_hz(midi), m, rate, amps) * _envelope(m, rate, 0.005, 0.4))
    return out


def _other(rng, rate, n, key, beat, chords):
    out = np.zeros(n)
    amps = 1.0 / np.arange(1, 7) ** 1.2
    bar = 4 * beat
    for i in range(int(n / rate / bar) + 1):
        root, triad = chords[i % len(chords)]
        m = int(bar * rate)
        for interval in triad:
            midi = key + 12 + root + interval
            for detune in (-0.08, 0.08):
                note = _harmonic(_hz(midi + detune), m, rate, amps, rng.uniform(0, 2 * np.pi))
                _add(out, i * m, note * _envelope(m, rate, 0.15, 6.0, 0.1) / 3)
    return out


def synthetic_stems(seed: int, seconds: float = 6.0, rate: int = 44100, channels: int = 2) -> dict[str, np.ndarray]:
    """One synthetic track: {stem: float32 (samples, channels)} plus "mixture" (exact sum).

    Values lie on the 16-bit grid (k / 32768), so writing them as PCM_16 is lossless.
    """
    if seconds <= 0:
        raise UserError(f"seconds must be positive; received seconds={seconds}")
    rng = np.random.default_rng(seed)
    n = int(round(seconds * rate))
    key = int(rng.integers(38, 46))
    beat = 60.0 / rng.uniform(90, 140)
    chords = [_CHORDS[i] for i in rng.choice(len(_CHORDS), 4, replace=False)]
    mono = {
        "vocals": _vocals(rng, rate, n, key, beat),
        "bass": _bass(rng, rate, n, key, beat, chords),
        "other": _other(rng, rate, n, key, beat, chords),
    }
    stems = {k: _pan(v, rng.uniform(-0.2, 0.2) if k != "other" else rng.uniform(-0.6, 0.6), channels)
             for k, v in mono.items()}
    stems["drums"] = _drums(rng, rate, n, beat, channels)
    levels_db = {"vocals": -18, "drums": -19, "bass": -20, "other": -22}
    for k in stems:
        rms = np.sqrt(np.mean(stems[k] ** 2)) + 1e-12
        stems[k] *= 10 ** ((levels_db[k] + rng.uniform(-3, 3)) / 20) / rms
    return exact_sum_mix(stems)


def exact_sum_mix(stems: dict[str, np.ndarray], peak: float = 0.95) -> dict[str, np.ndarray]:
    """Stems scaled so the mixture peaks at most at `peak`, on the 16-bit grid, plus their exact sum.

    Args:
        stems: {stem: float (samples, channels)} for every name in STEMS.
        peak: largest mixture magnitude after scaling (quieter mixtures are left as they are).

    Returns:
        {stem: float32} and "mixture", all multiples of 1/32768, mixture == sum of the stems.
    """
    loudest = float(np.abs(sum(stems[k] for k in STEMS)).max())
    scale = min(1.0, peak / loudest) if loudest > 0 else 1.0
    q = {k: np.clip(np.round(stems[k] * scale * 32768), -32768, 32767).astype(np.int16) for k in STEMS}
    mix = np.sum([q[k].astype(np.int32) for k in STEMS], axis=0)
    out = {k: (q[k] / 32768.0).astype(np.float32) for k in STEMS}
    out["mixture"] = (np.clip(mix, -32768, 32767) / 32768.0).astype(np.float32)
    return out


def write_synthetic_musdb(
    out: str | os.PathLike,
    train: int = 4,
    test: int = 2,
    seconds: float = 6.0,
    seed: int = 0,
    rate: int = 44100,
    channels: int = 2,
    stems: bool = False,
) -> Path:
    """Write a MUSDB18-HQ-layout set: {train,test}/<track>/{mixture,vocals,drums,bass,other}.wav.

    Args:
        out: root folder (created).
        train, test: number of tracks per subset.
        seconds: track length.
        seed: base seed; track i of a subset uses its own seed derived from (seed, subset, i).
        rate, channels: sample rate and channel count of the files.
        stems: also write {train,test}/<track>.stem.mp4 (MUSDB18 STEMS: AAC streams mixture,
            drums, bass, other, vocals) so the STEMS reading path can be tested.

    Returns:
        The root path.
    """
    if train < 0 or test < 0 or train + test == 0:
        raise UserError(f"need at least one track; received train={train}, test={test}")
    root = Path(out)
    for subset, i, track_seed in track_seeds(train, test, seed):
        name = f"Synthetic {subset.title()} - Track {i + 1:02d}"
        write_track(root, subset, name, synthetic_stems(track_seed, seconds, rate, channels), rate, stems)
    return root


def track_seeds(train: int, test: int, seed: int) -> list[tuple[str, int, int]]:
    """(subset, index, seed) of every track of a set: each track's seed derives from (seed, subset, index)."""
    return [(subset, i, int(np.random.SeedSequence([seed, salt, i]).generate_state(1)[0]))
            for subset, count, salt in (("train", train, 0), ("test", test, 1)) for i in range(count)]


def write_track(
    root: Path, subset: str, name: str, data: dict[str, np.ndarray], rate: int, stems: bool = False
) -> None:
    """Write one track of exact_sum_mix output as <root>/<subset>/<name>/<stem>.wav (16-bit, lossless).

    With `stems`, also <root>/<subset>/<name>.stem.mp4 (MUSDB18 STEMS).
    """
    folder = root / subset / name
    for stem, audio in data.items():
        pcm = np.round(audio * 32768).astype(np.int16)
        write_audio(folder / f"{stem}.wav", pcm, rate, subtype="PCM_16")
    if stems:
        from tf_munet.data.musdb_io import write_stems_file

        write_stems_file(root / subset / f"{name}.stem.mp4", data, rate)
