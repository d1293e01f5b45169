"""A corpus of bad and merely unusual audio files, generated (nothing binary is stored).

`write_corpus(folder)` writes one file (or folder) per case and returns {case: Case}. A case is
either *bad* (every tool must refuse it with one `error:` line naming the file and the problem,
and write nothing at a final path) or *unusual* (every tool must give a correct result).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 44100


@dataclass(frozen=True)
class Case:
    """One corpus entry.

    Attributes:
        path: the file (or folder) to feed.
        problem: for a bad case, a regex the one-line error must match (besides the file name);
            None for an unusual case that must work.
        rate, channels, samples: what a correct result keeps (unusual cases).
    """

    path: Path
    problem: str | None = None
    rate: int = RATE
    channels: int = 2
    samples: int = 0

    @property
    def bad(self) -> bool:
        return self.problem is not None


def music(seconds: float, rate: int = RATE, channels: int = 2, seed: int = 0) -> np.ndarray:
    """A short deterministic mixture: tones + decaying noise bursts, peak 0.5."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * rate))
    t = np.arange(n) / rate
    x = np.zeros((n, channels), np.float32)
    for c in range(channels):
        x[:, c] = 0.3 * np.sin(2 * np.pi * (110 + 40 * c) * t) + 0.2 * np.sin(2 * np.pi * 660 * t + c)
        x[:, c] += 0.2 * rng.standard_normal(n) * np.exp(-((t * 4) % 1) * 8)
    return (0.5 * x / max(np.abs(x).max(), 1e-9)).astype(np.float32)


def _float_wav_with(path: Path, value: float, rate: int = RATE) -> None:
    x = music(1.0, rate)
    x[len(x) // 2, 0] = value
    sf.write(path, x, rate, subtype="FLOAT")


def write_corpus(folder: str | Path, seconds: float = 1.0) -> dict[str, Case]:
    """Write every case into `folder` (created); returns {case name: Case}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cases: dict[str, Case] = {}
    n = int(round(seconds * RATE))

    good = music(seconds)
    # bad -----------------------------------------------------------------------------------
    p = folder / "corrupt header.wav"  # RIFF/WAVE kept, the fmt chunk garbled
    sf.write(p, good, RATE, subtype="PCM_16")
    data = bytearray(p.read_bytes())
    data[20:36] = b"\xff" * 16
    p.write_bytes(bytes(data))
    cases["corrupt header"] = Case(p, r"(not a readable audio|cannot decode|cannot read|unsupported|invalid)")

    p = folder / "truncated.wav"  # header says 1 s, the data stops half-way (a cut download)
    sf.write(p, good, RATE, subtype="PCM_16")
    p.write_bytes(p.read_bytes()[: 44 + 2 * n])
    cases["truncated"] = Case(p, r"truncated")

    p = folder / "empty.wav"
    p.write_bytes(b"")
    cases["empty"] = Case(p, r"empty file")

    p = folder / "zero samples.wav"
    sf.write(p, np.zeros((0, 2), np.float32), RATE, subtype="PCM_16")
    cases["zero samples"] = Case(p, r"no audio samples|no samples|zero-length")

    p = folder / "nan.wav"
    _float_wav_with(p, float("nan"))
    cases["nan"] = Case(p, r"NaN or infinite")

    p = folder / "inf.wav"
    _float_wav_with(p, float("inf"))
    cases["inf"] = Case(p, r"NaN or infinite")

    p = folder / "text.wav"
    p.write_text("this is a text file, not a wave file\n" * 20, encoding="utf-8")
    cases["text named .wav"] = Case(p, r"(not a readable audio|cannot decode|cannot read|not audio)")

    p = folder / "folder.wav"
    p.mkdir(exist_ok=True)
    cases["directory named .wav"] = Case(p, r"is a folder")

    # merely unusual ---------------------------------------------------------------------------
    p = folder / "one sample.wav"
    sf.write(p, good[:1], RATE, subtype="FLOAT")
    cases["one sample"] = Case(p, samples=1)

    p = folder / "silence.wav"
    sf.write(p, np.zeros_like(good), RATE, subtype="PCM_16")
    cases["silence"] = Case(p, samples=n)

    p = folder / "8 bit.wav"
    sf.write(p, good, RATE, subtype="PCM_U8")
    cases["8-bit"] = Case(p, samples=n)

    p = folder / "96k 6ch.wav"
    x = music(seconds, 96000, 6, seed=1)
    sf.write(p, x, 96000, subtype="PCM_24")
    cases["96 kHz 6-channel"] = Case(p, rate=96000, channels=6, samples=len(x))

    p = folder / "Björk – ½ ñame 曲 (live).wav"
    sf.write(p, good, RATE, subtype="PCM_16")
    cases["spaces and non-ASCII"] = Case(p, samples=n)
    return cases

