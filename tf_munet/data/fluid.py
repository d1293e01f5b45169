"""Render General MIDI instruments to stereo audio with FluidSynth and a GM SoundFont.

A fresh synthesizer renders each call (FluidSynth caches the SoundFont's samples per process, so
only the first load is slow), so a stem never hears another stem's reverb tail and the same
instruments always give the same samples. Each instrument gets its own MIDI channel; events are
applied at their sample position (FluidSynth quantises them to its 64-sample blocks).
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import numpy as np
import pretty_midi

from tf_munet.errors import UserError

SOUNDFONT_ENV = "TF_MUNET_SOUNDFONT"
SOUNDFONT_CANDIDATES = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/soundfonts/FluidR3_GM.sf2")


def soundfont_path() -> Path:
    """The GM SoundFont: $TF_MUNET_SOUNDFONT, else FluidR3_GM from the Debian package."""
    chosen = os.environ.get(SOUNDFONT_ENV)
    for candidate in [chosen] if chosen else SOUNDFONT_CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    where = chosen or " or ".join(SOUNDFONT_CANDIDATES)
    raise UserError(f"General MIDI SoundFont not found at {where}: install the Debian package "
                    f"fluid-soundfont-gm (apt-get install fluid-soundfont-gm) or set {SOUNDFONT_ENV}")


def _fluidsynth():
    try:
        import fluidsynth
    except ModuleNotFoundError as err:
        raise UserError("pyfluidsynth is not installed: pip install \"tf_munet[render]\"") from err
    except ImportError as err:  # the binding is there, the C library is not
        raise UserError(f"FluidSynth library not found ({err}): install the Debian package "
                        "fluidsynth (apt-get install fluidsynth)") from err
    return fluidsynth


def _writer(fluidsynth):
    write = fluidsynth._fl.fluid_synth_write_float
    write.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                      ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    write.restype = ctypes.c_int
    return write


def _events(instruments: list[pretty_midi.Instrument]) -> list[tuple]:
    """(time, order, kind, channel, a, b), note-offs before controls before note-ons at one time."""
    events = []
    for channel, inst in enumerate(instruments):
        for cc in inst.control_changes:
            events.append((cc.time, 1, "cc", channel, cc.number, cc.value))
        for bend in inst.pitch_bends:
            events.append((bend.time, 1, "bend", channel, bend.pitch, 0))
        for note in inst.notes:
            events.append((note.start, 2, "on", channel, note.pitch, note.velocity))
            events.append((note.end, 0, "off", channel, note.pitch, 0))
    events.sort(key=lambda e: e[:2])
    return events


def render_instruments(
    instruments: list[pretty_midi.Instrument],
    seconds: float,
    rate: int = 44100,
    reverb: tuple[float, float, float, float] = (0.6, 0.4, 0.8, 0.5),
) -> np.ndarray:
    """Render instruments together (one stem) to float32 (samples, 2).

    Args:
        instruments: GM instruments (drum parts: `is_drum`, kit = program in bank 128).
        seconds: output length; later events are dropped.
        rate: sample rate.
        reverb: FluidSynth reverb (room size, damping, width, level); sends per channel are CC 91.
    """
    fluidsynth = _fluidsynth()
    font = soundfont_path()
    n = round(seconds * rate)
    out = np.zeros((n, 2), np.float32)
    synth = fluidsynth.Synth(gain=0.5, samplerate=float(rate), channels=max(16, len(instruments) + 1))
    try:
        font_id = synth.sfload(str(font))
        if font_id < 0:
            raise UserError(f"{font}: FluidSynth cannot load this SoundFont")
        synth.set_reverb(*reverb)
        for channel, inst in enumerate(instruments):
            bank = 128 if inst.is_drum else 0
            if synth.program_select(channel, font_id, bank, inst.program) != 0:
                synth.program_select(channel, font_id, bank, 0)
        write = _writer(fluidsynth)
        pointer = out.ctypes.data
        pos = 0
        for time, _, kind, channel, a, b in _events(instruments):
            at = min(n, round(time * rate))
            if at > pos:
                write(synth.synth, at - pos, pointer, 2 * pos, 2, pointer, 2 * pos + 1, 2)
                pos = at
            if pos >= n:
                break
            if kind == "on":
                synth.noteon(channel, a, b)
            elif kind == "off":
                synth.noteoff(channel, a)
            elif kind == "cc":
                synth.cc(channel, a, b)
            else:
                synth.pitch_bend(channel, a)
        if pos < n:
            write(synth.synth, n - pos, pointer, 2 * pos, 2, pointer, 2 * pos + 1, 2)
    finally:
        synth.delete()
    return out
