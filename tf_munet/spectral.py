"""STFT, the paper's log-frequency warp, and mask mapping, in TensorFlow ops.

The STFT is `tf_munet_core.stft.StftSpec` (`StftSpec.of(audio)` for a preset's audio) in TensorFlow: its
window, padding and overlap-add normaliser are the spec's own arrays as constants, and tests
compare `stft` / `istft` here with the spec's numpy ones. The forward path converts to TF-Lite
builtins (no Flex ops): the STFT is `tf.signal.stft` (RFFT), the warp and unwarp are the core's
constant matrices (`tf_munet_core.spectra`) applied with 2-D matmuls (rank-4 matmuls crash
oneDNN). `istft` here is for Python use; exported graphs use
`tf_munet.export.dsp.istft`, which avoids the complex tensors that become Flex ops.

Shapes: waveforms are (batch, samples) per channel; spectrograms are (batch, bins, frames, ...)
- frequency first, as the network sees them.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tf_munet.presets import AudioConfig
from tf_munet_core.spectra import (  # noqa: F401 (extend_mask, warp matrices: re-exported)
    extend_mask,
    unwarp_matrix,
    warp_matrix,
)
from tf_munet_core.stft import StftSpec


def pad_signal(wave: tf.Tensor, spec: StftSpec) -> tf.Tensor:
    """(rows, samples) -> (rows, pad + samples + pad): the spec's padding (`StftSpec.padded`)."""
    if not spec.pad:
        return wave
    return tf.pad(wave, [[0, 0], [spec.pad, spec.pad]], mode=spec.pad_mode.upper())


def stft(wave: tf.Tensor, audio: AudioConfig) -> tf.Tensor:
    """The preset's STFT (`StftSpec.of(audio)`): (batch, samples) float32 -> complex64
    (batch, n_fft//2+1, frames).

    Centred (reflect padding of n_fft // 2, as torch.stft(center=True)): a chunk of
    `(frames - 1) * hop` samples gives exactly `frames` frames.
    """
    spec = StftSpec.of(audio)
    window = tf.constant(spec.window())
    out = tf.signal.stft(
        pad_signal(wave, spec), frame_length=spec.n_fft, frame_step=spec.hop, fft_length=spec.n_fft,
        window_fn=lambda n, dtype: window, pad_end=False,
    )
    return tf.transpose(out, [0, 2, 1])


def istft(spec: tf.Tensor, audio: AudioConfig, length: int) -> tf.Tensor:
    """Inverse of `stft`: complex (batch, n_fft//2+1, frames) -> (batch, length) float32.

    Divided by the overlap-added squared window of these frames (`StftSpec.ola_normaliser`),
    not its steady-state value as `tf.signal.inverse_stft_window_fn` assumes: exact at the
    edges too.
    """
    s = StftSpec.of(audio)
    frames = int(spec.shape[-1])
    chunks = tf.signal.irfft(tf.transpose(spec, [0, 2, 1]), fft_length=[s.n_fft]) * tf.constant(s.window())
    wave = tf.signal.overlap_and_add(chunks, s.hop)
    return wave[:, s.pad : s.pad + length] * tf.constant(s.ola_normaliser(frames, length))


def apply_freq_matrix(x: tf.Tensor, matrix: np.ndarray) -> tf.Tensor:
    """Apply a (new_bins, bins) matrix along axis 1 of a (batch, bins, ...) tensor.

    Done as a 2-D matmul (oneDNN's rank-4 matmul with a size-1 dim corrupts memory).
    """
    shape = tf.shape(x)
    rest = shape[2:]
    bins = x.shape[1]
    flat = tf.reshape(tf.transpose(tf.reshape(x, [shape[0], bins, -1]), [1, 0, 2]), [bins, -1])
    out = tf.matmul(tf.constant(matrix), flat)
    out = tf.transpose(tf.reshape(out, [matrix.shape[0], shape[0], -1]), [1, 0, 2])
    return tf.reshape(out, tf.concat([[shape[0], matrix.shape[0]], rest], 0))


class SpectralFrontEnd:
    """A preset's route from waveforms to the network's grid and from masks back.

    Args:
        audio: the preset's AudioConfig.
    """

    def __init__(self, audio: AudioConfig):
        self.audio = audio
        self._warp = (
            warp_matrix(audio.freq_bins, audio.warp_bins) if audio.warp_bins else None
        )
        self._unwarp = (
            unwarp_matrix(audio.warp_bins, audio.freq_bins) if audio.warp_bins else None
        )

    def magnitude(self, wave: tf.Tensor) -> tf.Tensor:
        """(batch, samples, channels) waveform -> (batch, model_bins, frames, channels)."""
        spec = self.linear_spectrogram(wave)
        return self.to_model_grid(tf.abs(spec[:, : self.audio.freq_bins]))

    def linear_spectrogram(self, wave: tf.Tensor) -> tf.Tensor:
        """(batch, samples, channels) -> complex (batch, n_fft//2+1, frames, channels)."""
        batch = tf.shape(wave)[0]
        chans = wave.shape[-1]
        flat = tf.reshape(tf.transpose(wave, [0, 2, 1]), [batch * chans, -1])
        spec = stft(flat, self.audio)
        spec = tf.reshape(spec, [batch, chans, spec.shape[1], -1])
        return tf.transpose(spec, [0, 2, 3, 1])

    def to_model_grid(self, mag: tf.Tensor) -> tf.Tensor:
        """Linear-bin magnitudes (batch, freq_bins, ...) -> the network's grid."""
        return apply_freq_matrix(mag, self._warp) if self._warp is not None else mag

    def mask_to_linear(self, mask: tf.Tensor) -> tf.Tensor:
        """Masks on the network's grid -> (batch, freq_bins, ...) linear bins."""
        return apply_freq_matrix(mask, self._unwarp) if self._unwarp is not None else mask
