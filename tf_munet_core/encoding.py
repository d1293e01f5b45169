"""How stem files are stored: WAV, FLAC or MP3, their bit depth or bitrate.

Every format is written by libsndfile (soundfile), block by block: MP3 through its LAME encoder
(libsndfile 1.1 or newer, as bundled with soundfile 0.12 and later), gapless, so an MP3 stem has
exactly the input's length. PCM samples are clipped to +-1; 32-bit float WAV keeps them as they
are.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from tf_munet_core.errors import UserError

FORMATS = {"wav": "WAV", "flac": "FLAC", "mp3": "MP3"}
"""Stem file formats: --format name (and file extension) -> soundfile format."""

BIT_DEPTHS = {"16": "PCM_16", "24": "PCM_24", "32f": "FLOAT"}
"""--bit-depth of WAV and FLAC -> soundfile subtype (FLAC stores integers only)."""

MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
"""Sample rates an MP3 file can have."""

_MP3_KBPS = ((32000, 32, 320), (16000, 8, 160), (0, 8, 64))
"""(lowest rate, lowest and highest kbit/s) of MPEG-1, -2 and -2.5 layer III: libsndfile maps a
compression level c to the bitrate highest - c * (highest - lowest), and LAME takes the nearest
standard one."""


@dataclass(frozen=True)
class Encoding:
    """A stem file format.

    Attributes:
        format: "wav", "flac" or "mp3".
        bit_depth: "16", "24" or "32f" (float, WAV only) for WAV and FLAC.
        mp3_bitrate: constant MP3 bitrate in kbit/s (8-320; below 32 kHz MP3 holds at most 160,
            below 16 kHz 64: the encoder then takes its highest).
    """

    format: str = "wav"
    bit_depth: str = "16"
    mp3_bitrate: int = 320

    def __post_init__(self):
        if self.format not in FORMATS:
            raise UserError(f"--format {self.format!r}: choose one of {', '.join(FORMATS)}")
        if self.bit_depth not in BIT_DEPTHS:
            raise UserError(f"--bit-depth {self.bit_depth!r}: choose one of {', '.join(BIT_DEPTHS)}")
        if self.format == "flac" and self.bit_depth == "32f":
            raise UserError("--bit-depth 32f: FLAC stores integer samples only; use 16 or 24, or "
                            "--format wav")
        if not 8 <= self.mp3_bitrate <= 320:
            raise UserError(f"--mp3-bitrate {self.mp3_bitrate}: must be 8 to 320 (kbit/s)")
        if self.format == "mp3":
            import soundfile as sf

            if "MP3" not in sf.available_formats():
                raise UserError(f"--format mp3: this libsndfile ({sf.__libsndfile_version__}) cannot "
                                "write MP3 (it needs 1.1 or newer): pip install --upgrade soundfile")

    @property
    def ext(self) -> str:
        return self.format

    @property
    def clipped(self) -> bool:
        """Whether samples are clipped to +-1 (all but float WAV)."""
        return not (self.format == "wav" and self.bit_depth == "32f")

    def check(self, path: str | os.PathLike, rate: int, channels: int) -> None:
        """A UserError naming the input when this format cannot hold its rate or channels."""
        if self.format != "mp3":
            return
        if channels > 2:
            raise UserError(f"{path}: {channels} channels; MP3 holds at most 2: use --format wav or flac")
        if rate not in MP3_RATES:
            raise UserError(f"{path}: {rate} Hz is not an MP3 sample rate "
                            f"({', '.join(map(str, MP3_RATES))}): use --format wav or flac")

    def open(self, path: str | os.PathLike, rate: int, channels: int):
        """A soundfile writer of this format at `path` (the caller closes it)."""
        import soundfile as sf

        if self.format == "mp3":
            lowest, high = next((lo, hi) for floor, lo, hi in _MP3_KBPS if rate >= floor)
            level = (high - min(max(self.mp3_bitrate, lowest), high)) / (high - lowest)
            return sf.SoundFile(str(path), "w", samplerate=rate, channels=channels, format="MP3",
                                subtype="MPEG_LAYER_III", compression_level=min(level, 0.999),
                                bitrate_mode="CONSTANT")
        return sf.SoundFile(str(path), "w", samplerate=rate, channels=channels,
                            format=FORMATS[self.format], subtype=BIT_DEPTHS[self.bit_depth])

    def prepare(self, samples: np.ndarray) -> np.ndarray:
        """Samples as written: clipped to +-1 unless float WAV."""
        return np.clip(samples, -1.0, 1.0) if self.clipped else samples
