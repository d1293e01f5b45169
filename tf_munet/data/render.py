"""Rendered multitracks (the Slakh2100 approach): composed songs or MIDI files played by sampled
instruments, written in the MUSDB18-HQ layout.

Drums, bass and other are rendered by FluidSynth with a General MIDI SoundFont
(`tf_munet.data.fluid`), vocals are sung with words (`tf_munet.data.singing`) and get a
convolution reverb. Each stem is brought to its own level (drawn per song around typical pop mix
levels), then stems are quantised and the mixture is their exact sum
(`tf_munet.data.synthetic.exact_sum_mix`). Everything is deterministic by seed.

MIDI files are routed to stems by instrument (`stem_of`): the drum channel to drums, GM basses to
bass, voice and lead programs or a track named like a vocal to vocals, the rest to other.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from tf_munet.extras import require

require("render", "rendered data sets")  # a one-line error naming the extra, not an ImportError

import pretty_midi  # noqa: E402

from tf_munet.data.composition import Song, compose_song  # noqa: E402
from tf_munet.data.synthetic import STEMS, exact_sum_mix, track_seeds, write_track  # noqa: E402
from tf_munet.errors import UserError  # noqa: E402

LEVELS_DB = {"vocals": -18.0, "drums": -17.0, "bass": -18.0, "other": -17.0}
"""Mean level of each stem where it plays (dB RMS re full scale, before the mixture's peak scaling);
each song draws its own within +-3 dB."""
VOCAL_PROGRAMS = frozenset({52, 53, 54, 85}) | frozenset(range(80, 88))
"""GM programs (0-based) routed to vocals: choir/voice/synth voice and the synth leads."""
_VOCAL_NAMES = ("vocal", "voice", "vox", "sing", "lyric", "melody")


def stem_of(instrument: pretty_midi.Instrument) -> str:
    """The MUSDB stem an instrument of a MIDI file belongs to."""
    name = instrument.name.strip().lower()
    if name in STEMS:
        return name
    if instrument.is_drum:
        return "drums"
    if any(word in name for word in _VOCAL_NAMES):
        return "vocals"
    if 32 <= instrument.program <= 39:
        return "bass"
    if instrument.program in VOCAL_PROGRAMS:
        return "vocals"
    return "other"


def load_midi_song(path: str | os.PathLike, seconds: float | None = None) -> Song:
    """A MIDI file as a Song: instruments renamed to their stems, cropped to `seconds` if given.

    Raises:
        UserError: the file cannot be parsed or holds no notes.
    """
    path = Path(path)
    try:
        midi = pretty_midi.PrettyMIDI(str(path))
    except Exception as err:  # mido/pretty_midi raise many types for broken files
        raise UserError(f"{path}: not a readable MIDI file ({type(err).__name__}: {err})") from err
    midi.instruments = [inst for inst in midi.instruments if inst.notes]
    if not midi.instruments:
        raise UserError(f"{path}: the MIDI file has no notes")
    length = midi.get_end_time() + 1.0 if seconds is None else float(seconds)
    for inst in midi.instruments:
        inst.name = stem_of(inst)
        inst.notes = [n for n in inst.notes if n.start < length]
        for n in inst.notes:
            n.end = min(n.end, length)
    return Song(midi, length)


def _vocal_reverb(dry: np.ndarray, rate: int, rng: np.random.Generator) -> np.ndarray:
    """Stereo plate-like reverb: decaying noise impulse responses, one per channel."""
    from scipy.signal import fftconvolve, lfilter

    rt60 = rng.uniform(0.8, 2.2)
    t = np.arange(int(rt60 * rate)) / rate
    ir = rng.standard_normal((len(t), 2)) * np.exp(-6.9 * t / rt60)[:, None]
    ir = lfilter([0.35], [1, -0.65], ir, axis=0)  # darker tail
    ir[: int(rng.uniform(0.01, 0.04) * rate)] = 0  # pre-delay
    ir /= np.sqrt((ir**2).sum(axis=0, keepdims=True))
    wet = fftconvolve(dry[:, None], ir, axes=0)[: len(dry)]
    return dry[:, None] + 10 ** (rng.uniform(-14, -6) / 20) * wet


def _active_rms(x: np.ndarray, rate: int) -> float:
    """RMS over the 100 ms blocks within 40 dB of the loudest (a stem's level where it plays)."""
    block = max(1, rate // 10)
    count = len(x) // block
    if count == 0:
        return float(np.sqrt(np.mean(x**2)))
    power = (x[: count * block] ** 2).reshape(count, block, -1).mean(axis=(1, 2))
    active = power[power > power.max() * 1e-4]
    return float(np.sqrt(active.mean())) if len(active) else 0.0


def render_song(song: Song, rate: int = 44100, channels: int = 2, seed: int = 0) -> dict[str, np.ndarray]:
    """Render a song's stems: {stem: float32 (samples, channels)} plus their exact-sum "mixture".

    Args:
        song: composed (`compose_song`) or loaded (`load_midi_song`); instruments named by stem.
        rate, channels: output sample rate and channel count (1 or 2).
        seed: reverb, levels and the sung words and voice.
    """
    from tf_munet.data.fluid import render_instruments
    from tf_munet.data.singing import sing

    rng = np.random.default_rng(seed)
    reverb = (rng.uniform(0.3, 0.9), rng.uniform(0.2, 0.7), rng.uniform(0.5, 1.0), rng.uniform(0.3, 0.8))
    n = round(song.seconds * rate)
    groups = {stem: [inst for inst in song.midi.instruments if inst.name == stem] for stem in STEMS}
    stems = {}
    for stem in STEMS:
        if stem == "vocals":
            notes = [(n.start, n.end, n.pitch) for inst in groups[stem] for n in inst.notes]
            dry = sing(notes, song.seconds, rate, int(rng.integers(2**31)) ^ song.lyrics_seed)
            audio = _vocal_reverb(dry.astype(np.float64), rate, rng)
        elif groups[stem]:
            audio = render_instruments(groups[stem], song.seconds, rate, reverb).astype(np.float64)
        else:
            audio = np.zeros((n, 2))
        audio = audio[:n] if channels == 2 else audio[:n].mean(axis=1, keepdims=True)
        rms = _active_rms(audio, rate)
        target = 10 ** ((LEVELS_DB[stem] + rng.uniform(-3, 3)) / 20)
        stems[stem] = audio * (target / rms if rms > 0 else 0.0)
    return exact_sum_mix(stems)


def _midi_files(midi: str | os.PathLike) -> list[Path]:
    path = Path(midi)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in (".mid", ".midi"))
        if not files:
            raise UserError(f"{path}: no .mid or .midi files in this folder")
        return files
    if not path.is_file():
        raise UserError(f"{path}: MIDI file or folder not found")
    return [path]


def write_rendered_musdb(
    out: str | os.PathLike,
    train: int = 4,
    test: int = 2,
    seconds: float | None = 30.0,
    seed: int = 0,
    rate: int = 44100,
    channels: int = 2,
    stems: bool = False,
    midi: str | os.PathLike | None = None,
) -> Path:
    """Write a rendered MUSDB18-HQ-layout set: {train,test}/<track>/{mixture,vocals,drums,bass,other}.wav.

    The set is written to a temporary sibling folder and moved to `out` when complete, so `out`
    never holds a partial set; an existing non-empty `out` is an error.

    Args:
        out: root folder (must not exist, or be empty).
        train, test: number of tracks per subset. With `midi`, the first `train` files (sorted by
            path) go to train and the next `test` to test.
        seconds: length of each composed song; with `midi`, the crop length (None: whole file).
        seed: base seed; each track's seed derives from (seed, subset, index).
        rate, channels: sample rate and channel count (1 or 2) of the files.
        stems: also write {train,test}/<track>.stem.mp4 (MUSDB18 STEMS).
        midi: a MIDI file or a folder of them (searched recursively) to render instead of
            composing songs.

    Returns:
        The root path.

    Raises:
        UserError: no tracks, `out` not empty, missing SoundFont/FluidSynth/espeak-ng, too few
            or unreadable MIDI files, or MIDI files without notes.
    """
    if train < 0 or test < 0 or train + test == 0:
        raise UserError(f"need at least one track; received train={train}, test={test}")
    if channels not in (1, 2):
        raise UserError(f"channels must be 1 or 2; received channels={channels}")
    if midi is None and (seconds is None or seconds <= 0):
        raise UserError(f"seconds must be positive for composed songs; received seconds={seconds}")
    root = Path(out)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise UserError(f"{root}: already exists and is not empty; choose a new output folder")
    seeds = track_seeds(train, test, seed)
    if midi is None:
        songs = [(f"Rendered {subset.title()} - Song {i + 1:02d}", lambda s=s: compose_song(s, seconds))
                 for subset, i, s in seeds]
    else:
        files = _midi_files(midi)
        if len(files) < train + test:
            raise UserError(f"{midi}: {len(files)} MIDI file(s) for train={train} + test={test} tracks")
        loaded = [load_midi_song(f, seconds) for f in files[: train + test]]  # every file checked first
        songs = [(f.stem, lambda song=song: song) for f, song in zip(files, loaded)]
    from tf_munet.data.fluid import soundfont_path

    soundfont_path()  # fail before any work when the SoundFont is missing
    partial = root.parent / f".{root.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        for (subset, _, track_seed), (name, make_song) in zip(seeds, songs):
            write_track(partial, subset, name, render_song(make_song(), rate, channels, track_seed), rate, stems)
        if root.exists():
            root.rmdir()
        os.replace(partial, root)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return root
