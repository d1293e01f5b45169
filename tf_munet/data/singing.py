"""A sung vocal line with words: espeak-ng speech re-pitched onto a melody with the WORLD vocoder.

Each phrase (notes separated by less than half a second) gets random English words spoken by
espeak-ng; WORLD (pyworld) splits the speech into pitch, spectral envelope and aperiodicity, the
frames are stretched to the phrase's length and the pitch of voiced frames is replaced by the
melody (with portamento and vibrato), so consonants, vowels and formant motion stay speech-like
while the tune is the song's. Output is mono at the song's rate.
"""

from __future__ import annotations

import io
import shutil
import subprocess

import numpy as np

from tf_munet.errors import UserError

FRAME_MS = 5.0
_WORDS = ("love", "night", "fire", "heart", "baby", "dream", "shine", "away", "tonight", "forever",
          "river", "golden", "hold", "me", "you", "never", "let", "go", "falling", "down", "rain",
          "stay", "alive", "together", "home", "city", "lights", "running", "higher", "sky",
          "open", "your", "eyes", "we", "are", "young", "dancing", "alone", "wild", "time",
          "summer", "road", "believe", "my", "soul", "oh", "yeah", "no", "only", "one")
_VOICES = {"low": ("en-us+m3", "en+m1", "en-us+m7", "en+m5"), "high": ("en-us+f3", "en+f2", "en-us+f4", "en+f5")}


def _speak(text: str, voice: str, speed: int) -> tuple[np.ndarray, int]:
    if shutil.which("espeak-ng") is None:
        raise UserError("espeak-ng not found: install the Debian package espeak-ng (apt-get install espeak-ng)")
    import soundfile as sf

    result = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text],
                            capture_output=True, check=False)
    if result.returncode != 0 or not result.stdout:
        raise UserError(f"espeak-ng failed on voice {voice}: {result.stderr.decode(errors='replace').strip()}")
    audio, rate = sf.read(io.BytesIO(result.stdout), dtype="float64")
    loud = np.flatnonzero(np.abs(audio) > 1e-3)
    return (audio[loud[0] : loud[-1] + 1] if len(loud) else audio), rate


def _phrases(notes: list[tuple[float, float, int]]) -> list[list[tuple[float, float, int]]]:
    phrases: list[list] = []
    for note in sorted(notes):
        if phrases and note[0] - phrases[-1][-1][1] < 0.5:
            phrases[-1].append(note)
        else:
            phrases.append([note])
    return phrases


def melody_line(notes: list[tuple[float, float, int]]) -> list[tuple[float, float, int]]:
    """A monophonic line from possibly overlapping notes: the highest note sounding wins."""
    line: list[tuple[float, float, int]] = []
    for start, end, pitch in sorted(notes, key=lambda n: (n[0], -n[2])):
        if line and start < line[-1][1]:
            if pitch <= line[-1][2] or start == line[-1][0]:
                continue
            line[-1] = (line[-1][0], start, line[-1][2])
        line.append((start, end, pitch))
    return [n for n in line if n[1] - n[0] > 0.02]


def _target_f0(phrase, start: float, frames: int, rng: np.random.Generator) -> np.ndarray:
    times = start + np.arange(frames) * FRAME_MS / 1000
    midi = np.full(frames, float(phrase[0][2]))
    onset = np.full(frames, start)
    for s, _, p in phrase:  # each frame holds the latest started note (gaps keep the last pitch)
        midi[times >= s] = p
        onset[times >= s] = s
    kernel = np.ones(7) / 7  # ~30 ms portamento between notes
    midi = np.convolve(np.pad(midi, 3, mode="edge"), kernel, "valid")
    rate, depth = rng.uniform(4.8, 6.2), rng.uniform(0.15, 0.45)
    growth = np.clip((times - onset - 0.15) / 0.3, 0, 1)
    midi += depth * growth * np.sin(2 * np.pi * rate * times)
    return 440.0 * 2 ** ((midi - 69) / 12)


def sing(notes: list[tuple[float, float, int]], seconds: float, rate: int, seed: int) -> np.ndarray:
    """Sing `notes` ((start s, end s, MIDI pitch), monophonic) with words; float32 mono of `seconds`.

    Args:
        notes: the melody; overlapping notes are reduced to their top line.
        seconds: output length.
        rate: output sample rate.
        seed: words, voice and vibrato.
    """
    import pyworld
    import soxr

    rng = np.random.default_rng(seed)
    n = round(seconds * rate)
    out = np.zeros(n, np.float64)
    line = melody_line(notes)
    if not line:
        return out.astype(np.float32)
    register = "high" if np.median([p for _, _, p in line]) >= 62 else "low"
    voice = str(rng.choice(_VOICES[register]))
    for phrase in _phrases(line):
        start, end = phrase[0][0], phrase[-1][1]
        words = rng.choice(_WORDS, size=max(1, round(len(phrase) * rng.uniform(0.5, 0.9))))
        speech, speech_rate = _speak(" ".join(words), voice, int(rng.integers(120, 170)))
        if len(speech) < speech_rate // 20:
            continue
        f0, times = pyworld.dio(speech, speech_rate, frame_period=FRAME_MS)
        f0 = pyworld.stonemask(speech, f0, times, speech_rate)
        envelope = pyworld.cheaptrick(speech, f0, times, speech_rate)
        aperiodicity = pyworld.d4c(speech, f0, times, speech_rate)
        frames = max(2, round((end - start) * 1000 / FRAME_MS))
        index = np.round(np.linspace(0, len(f0) - 1, frames)).astype(int)
        voiced = f0[index] > 0
        pitch = np.where(voiced, _target_f0(phrase, start, frames, rng), 0.0)
        sung = pyworld.synthesize(pitch, np.ascontiguousarray(envelope[index]),
                                  np.ascontiguousarray(aperiodicity[index]), speech_rate, FRAME_MS)
        sung = soxr.resample(sung, speech_rate, rate)
        fade = min(len(sung), int(0.01 * rate))
        sung[len(sung) - fade :] *= np.linspace(1, 0, fade)
        at = round(start * rate)
        stop = min(n, at + len(sung))
        if stop > at:
            out[at:stop] += sung[: stop - at] * rng.uniform(0.8, 1.0)
    return out.astype(np.float32)
