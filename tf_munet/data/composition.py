"""Composed songs as General MIDI multitracks, one instrument per part, named by its stem.

A song is a key, a tempo, a four-chord progression and a list of sections (intro, verse, chorus,
bridge, outro) in which each stem plays or rests, so stems drop in and out as in real
arrangements. Parts:

- drums: a GM kit (channel 10) playing one of several grooves, crashes on section starts and fills
  before section changes;
- bass: a GM bass following the chord roots in one of several patterns;
- other: 1-3 layers among pads, comping chords, arpeggios and a countermelody, in the registers
  the vocals also use (real mixes overlap);
- vocals: a melody on chord tones in phrases with rests, sung by `tf_munet.data.singing`.

Everything is drawn from `seed`. Notes carry humanised timing and velocities; pan, reverb and
chorus sends are set by control changes, so any GM renderer reproduces the mix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tf_munet.extras import require

require("render", "composed songs")  # a one-line error naming the extra, not an ImportError

import pretty_midi  # noqa: E402

STEM_NAMES = ("vocals", "drums", "bass", "other")

_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
# Progressions as scale degrees (0-based), for major and minor keys.
_PROGRESSIONS = {
    "major": [(0, 4, 5, 3), (5, 3, 0, 4), (0, 5, 3, 4), (1, 4, 0, 0), (0, 3, 4, 3), (3, 0, 4, 5)],
    "minor": [(0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 3, 6, 2), (5, 6, 0, 0)],
}
# 16-step drum grooves: GM drum note -> velocity pattern ("X" accent, "x" normal, "o" ghost).
_GROOVES = {
    "rock": {36: "X.......X.x.....", 38: "....X.......X...", 42: "x.x.x.x.x.x.x.x."},
    "four": {36: "X...X...X...X...", 38: "....X.......X...", 42: "x.x.x.x.x.x.x.x.", 46: "..x...x...x...x."},
    "half": {36: "X.........x.....", 38: "........X.......", 42: "x.x.x.x.x.x.x.x."},
    "funk": {36: "X..x..x...x..x..", 38: "....X..o.o..X..o", 42: "xxxxxxxxxxxxxxxx"},
    "shuffle": {36: "X.....x.X.....x.", 38: "....X.......X...", 42: "x..x.xx..x.xx..x"},
}
_KITS = (0, 8, 16, 24, 25, 32, 40)  # Standard, Room, Power, Electronic, TR-808, Jazz, Brush
_BASSES = (32, 33, 34, 35, 36, 38, 39)
# Bass patterns on an 8th-note grid: (step, length in steps, semitones above the root).
_BASS_PATTERNS = [
    [(0, 8, 0)],
    [(0, 2, 0), (2, 2, 0), (4, 2, 0), (6, 2, 0)],
    [(0, 3, 0), (3, 1, 0), (4, 2, 7), (6, 2, 12)],
    [(0, 1, 0), (1, 1, 0), (2, 1, 0), (3, 1, 0), (4, 1, 0), (5, 1, 0), (6, 1, 7), (7, 1, 0)],
    [(0, 3, 0), (3, 3, 0), (6, 2, 7)],
]
_PADS = (48, 49, 50, 52, 16, 19, 88, 89, 90, 91, 94)  # strings, choir, organs, synth pads
_COMPS = (0, 1, 2, 4, 5, 24, 25, 26, 27, 29, 11, 6)  # pianos, e-pianos, guitars, vibes, harpsichord
_ARPS = (46, 45, 8, 24, 25, 10, 108, 81, 13)  # harp, pizzicato, celesta, guitars, music box, ...
_LEADS = (73, 71, 65, 66, 56, 40, 68, 22, 80, 61)  # flute, clarinet, saxes, trumpet, violin, ...
_COMP_RHYTHMS = ["x...x...x...x...", "x..x..x...x..x..", "..x...x...x...x.", "x.x.x.x.x.x.x.x.", "x.......x.x....."]
_SECTION_KINDS = ("intro", "verse", "chorus", "verse", "chorus", "bridge", "chorus", "outro")


@dataclass(frozen=True)
class Section:
    """A span of bars in which a fixed set of stems plays."""

    kind: str
    start: float
    end: float
    stems: frozenset[str]


@dataclass
class Song:
    """A multitrack: General MIDI instruments named by stem, and the sections (empty for MIDI files)."""

    midi: pretty_midi.PrettyMIDI
    seconds: float
    sections: list[Section] = field(default_factory=list)
    lyrics_seed: int = 0


def _instrument(stem: str, program: int, *, drum: bool = False, pan: float = 0.0,
                reverb: int = 40, chorus: int = 0) -> pretty_midi.Instrument:
    inst = pretty_midi.Instrument(program=program, is_drum=drum, name=stem)
    for number, value in ((10, int(np.clip(64 + 63 * pan, 0, 127))), (91, reverb), (93, chorus)):
        inst.control_changes.append(pretty_midi.ControlChange(number, value, 0.0))
    return inst


def _arrangement(rng: np.random.Generator, count: int) -> list[frozenset[str]]:
    """Active stems per section: with three sections or more, each stem plays in some and rests
    in others; shorter songs have no arrangement (every stem plays throughout)."""
    if count < 3:
        return [frozenset(STEM_NAMES)] * count
    kinds = [_SECTION_KINDS[min(i, len(_SECTION_KINDS) - 2)] for i in range(count)]
    if count >= 3:
        kinds[-1] = "outro"
    base = {"intro": {"drums": 0.5, "bass": 0.5, "other": 0.9, "vocals": 0.1},
            "verse": {"drums": 0.85, "bass": 0.9, "other": 0.7, "vocals": 0.95},
            "chorus": {"drums": 1.0, "bass": 1.0, "other": 1.0, "vocals": 1.0},
            "bridge": {"drums": 0.5, "bass": 0.7, "other": 0.9, "vocals": 0.5},
            "outro": {"drums": 0.6, "bass": 0.6, "other": 0.9, "vocals": 0.3}}
    active = [{s for s in STEM_NAMES if rng.random() < base[k][s]} for k in kinds]
    for stem in STEM_NAMES:  # every stem both plays and rests somewhere
        if not any(stem in a for a in active):
            active[int(rng.integers(count))].add(stem)
        if all(stem in a for a in active):
            candidates = [i for i, a in enumerate(active) if len(a) > 2] or list(range(count))
            active[int(rng.choice(candidates))].discard(stem)
    for a in active:  # at least two stems sound together
        while len(a) < 2:
            a.add(STEM_NAMES[int(rng.integers(4))])
    return [frozenset(a) for a in active]


def _note(inst, pitch, start, end, velocity, rng, jitter=0.006):
    start = max(0.0, start + rng.normal(0, jitter))
    velocity = int(np.clip(velocity + rng.normal(0, 7), 20, 127))
    inst.notes.append(pretty_midi.Note(velocity, int(pitch), start, max(start + 0.03, end)))


def compose_song(seed: int, seconds: float) -> Song:
    """Compose one song of `seconds` (sections of 1-4 bars, at least three when long enough).

    Args:
        seed: everything (key, tempo, instruments, arrangement, notes, lyrics) derives from it.
        seconds: song length; notes past it are dropped.

    Returns:
        The song: `midi.instruments` named "vocals", "drums", "bass" or "other".
    """
    if seconds <= 0:
        raise ValueError(f"seconds must be positive; received seconds={seconds}")
    rng = np.random.default_rng(seed)
    mode = "major" if rng.random() < 0.6 else "minor"
    scale = np.array(_MAJOR if mode == "major" else _MINOR)
    tonic = 48 + int(rng.integers(0, 12))  # C3..B3
    bpm = float(rng.uniform(78, 150))
    beat = 60.0 / bpm
    bar = 4 * beat
    step = beat / 4
    progression = _PROGRESSIONS[mode][int(rng.integers(len(_PROGRESSIONS[mode])))]
    total_bars = int(np.ceil(seconds / bar))
    section_bars = int(np.clip(total_bars // 3, 1, 4))
    count = int(np.ceil(total_bars / section_bars))
    active = _arrangement(rng, count)
    kinds = [_SECTION_KINDS[min(i, len(_SECTION_KINDS) - 2)] for i in range(count)]
    if count >= 3:
        kinds[-1] = "outro"
    sections = [Section(kinds[i], i * section_bars * bar, min(seconds, (i + 1) * section_bars * bar), active[i])
                for i in range(count)]

    def chord(bar_index: int, sevenths: bool = False) -> list[int]:
        degree = progression[bar_index % len(progression)]
        tones = [degree, degree + 2, degree + 4] + ([degree + 6] if sevenths else [])
        return [int(tonic + scale[t % 7] + 12 * (t // 7)) for t in tones]

    midi = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    drums = _instrument("drums", int(rng.choice(_KITS)), drum=True, reverb=int(rng.integers(20, 70)))
    bass = _instrument("bass", int(rng.choice(_BASSES)), pan=rng.uniform(-0.1, 0.1), reverb=int(rng.integers(0, 30)))
    vocals = _instrument("vocals", 53, pan=0.0)
    layer_kinds = list(rng.choice(["pad", "comp", "arp", "lead"], size=int(rng.choice([1, 2, 2, 3, 3])), replace=False))
    pools = {"pad": _PADS, "comp": _COMPS, "arp": _ARPS, "lead": _LEADS}
    layers = [(kind, _instrument("other", int(rng.choice(pools[kind])), pan=rng.uniform(-0.7, 0.7),
                                 reverb=int(rng.integers(30, 100)), chorus=int(rng.integers(0, 60))))
              for kind in layer_kinds]
    groove = _GROOVES[str(rng.choice(list(_GROOVES)))]
    chorus_groove = _GROOVES[str(rng.choice(list(_GROOVES)))] if rng.random() < 0.4 else groove
    ride = rng.random() < 0.4
    bass_pattern = _BASS_PATTERNS[int(rng.integers(len(_BASS_PATTERNS)))]
    comp_rhythm = _COMP_RHYTHMS[int(rng.integers(len(_COMP_RHYTHMS)))]
    sevenths = rng.random() < 0.4
    arp_rate = int(rng.choice([2, 4]))  # notes per beat
    voice_low = tonic + (12 if rng.random() < 0.5 else 0)  # a low or a high voice, up to 14 semitones above
    melody_degree = int(rng.integers(0, 7))

    for si, section in enumerate(sections):
        first_bar = si * section_bars
        for b in range(first_bar, min(first_bar + section_bars, total_bars)):
            t0 = b * bar
            last_bar_of_section = b == first_bar + section_bars - 1
            tones = chord(b, sevenths)
            if "drums" in section.stems:
                pattern = chorus_groove if section.kind == "chorus" else groove
                fill = last_bar_of_section and si + 1 < count and rng.random() < 0.7
                for note, text in pattern.items():
                    if ride and section.kind == "chorus" and note in (42, 46):
                        note = 51
                    for s, ch in enumerate(text):
                        if ch == "." or (fill and s >= 12):
                            continue
                        vel = {"X": 112, "x": 90, "o": 50}[ch] - (0 if note != 42 or s % 4 == 0 else 15)
                        _note(drums, note, t0 + s * step, t0 + (s + 1) * step, vel, rng, 0.004)
                if fill:
                    toms = rng.choice([38, 45, 47, 48, 50, 38], size=4)
                    for s in range(12, 16):
                        _note(drums, int(toms[s - 12]), t0 + s * step, t0 + (s + 1) * step, 100, rng, 0.004)
                if b == first_bar and (si == 0 or "drums" not in sections[si - 1].stems or section.kind == "chorus"):
                    _note(drums, 49, t0, t0 + bar, 110, rng, 0.002)
            if "bass" in section.stems:
                root = tones[0] - 24 if tones[0] - 24 >= 28 else tones[0] - 12
                for s, length, interval in bass_pattern:
                    _note(bass, root + interval, t0 + s * 2 * step, t0 + (s + length) * 2 * step * 0.92, 100, rng)
            if "other" in section.stems:
                for kind, inst in layers:
                    if kind == "pad":
                        for p in tones:
                            _note(inst, p, t0, t0 + bar * 0.98, 70, rng, 0.01)
                    elif kind == "comp":
                        voicing = [p + 12 if p < tonic + 5 else p for p in tones]
                        for s, ch in enumerate(comp_rhythm):
                            if ch == "x":
                                for p in voicing:
                                    _note(inst, p, t0 + s * step, t0 + (s + 2) * step, 85, rng)
                    elif kind == "arp":
                        seq = tones + [p + 12 for p in tones]
                        for k in range(4 * arp_rate):
                            p = seq[k % len(seq)] if (k // len(seq)) % 2 == 0 else seq[-1 - k % len(seq)]
                            _note(inst, p + 12, t0 + k * beat / arp_rate, t0 + (k + 1) * beat / arp_rate, 80, rng)
                    elif kind == "lead" and ("vocals" not in section.stems or rng.random() < 0.5):
                        for half in range(2):
                            p = tones[int(rng.integers(len(tones)))] + 12
                            _note(inst, p, t0 + half * 2 * beat, t0 + (half + 1) * 2 * beat * 0.95, 85, rng)
            if "vocals" in section.stems:
                s = int(rng.integers(0, 2))
                end = 16 - int(rng.choice([2, 4])) if b % 2 else 16  # breathe at phrase ends
                while s < end:
                    length = int(rng.choice([1, 2, 2, 2, 3, 4, 4, 6]))
                    melody_degree = int(np.clip(melody_degree + rng.integers(-2, 3), 0, 8))
                    pitch = voice_low + scale[melody_degree % 7] + 12 * (melody_degree // 7)
                    if s % 4 == 0:  # strong beats land on a chord tone
                        pitch = min(tones, key=lambda p: abs((p - pitch) % 12))
                        pitch += 12 * round((voice_low + 6 - pitch) / 12)
                    stop = min(end, s + length)
                    _note(vocals, pitch, t0 + s * step, t0 + (stop - 0.15) * step, 95, rng, 0.008)
                    s = stop + (1 if rng.random() < 0.2 else 0)
    instruments = [vocals, drums, bass] + [inst for _, inst in layers]
    for inst in instruments:
        inst.notes = [n for n in inst.notes if n.start < seconds]
        for n in inst.notes:
            n.end = min(n.end, seconds)
    midi.instruments.extend(instruments)
    return Song(midi, seconds, sections, lyrics_seed=int(rng.integers(2**31)))
