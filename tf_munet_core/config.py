"""The model's audio domain (rate, channels, STFT, frequency warp): what masks live on."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class AudioConfig:
    """Sample rate, channels and STFT of a preset's model domain.

    Attributes:
        sample_rate: rate the model works at (Hz).
        channels: 1 (mono downmix) or 2 (stereo, channels as input channels).
        n_fft: STFT size; `n_fft // 2 + 1` bins, of which the first `freq_bins` are modelled.
        hop: STFT hop in samples. The rest of the STFT (window, padding) is `tf_munet_core.stft`'s
            (`StftSpec.of(audio)`).
        freq_bins: linear-frequency bins given to the model (bins above are extended at
            separation time, see `tf_munet_core.spectra.extend_mask`).
        frames: STFT frames per training patch; a chunk is `(frames - 1) * hop` samples.
        warp_bins: when set, magnitudes are resampled to this many log-spaced bins (the paper's
            Sound-of-Pixels grid) before the network, and masks are unwarped after it.
    """

    sample_rate: int
    channels: int
    n_fft: int
    hop: int
    freq_bins: int
    frames: int
    warp_bins: int | None = None

    @property
    def chunk_samples(self) -> int:
        """Samples of one training chunk (centred STFT gives exactly `frames` frames)."""
        return (self.frames - 1) * self.hop

    @property
    def model_bins(self) -> int:
        """Frequency rows the network sees (after the optional warp)."""
        return self.warp_bins or self.freq_bins

    @classmethod
    def from_dict(cls, d: dict) -> "AudioConfig":
        """From a preset's or an export manifest's "audio" entry (derived keys are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})
