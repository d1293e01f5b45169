"""The exportable graphs of a trained network: spectrogram -> masks and waveform -> stems.

`ExportGraphs` turns a run's network into `tf.function`s with fixed input signatures that use
only TF-Lite builtin ops (see `dsp`): the spectrogram graph is the network itself; the waveform
graph adds the centred STFT, the preset's frequency warp, the mask unwarp and extension above the
modelled band (`spectral.extend_mask`'s rule), masks applied to the real and imaginary parts
separately (no complex tensors: `tf.complex` is a Flex op) and the inverse STFT.

A graph is exported per *unit*: the whole network for M-U-Net and C-U-Net, and one unit per
source for dedicated U-Nets (one file per source, so a device can load only the stems it needs)
unless their masks are computed across the sources (Spleeter's ratio masks, a softmax): then
every mask needs every U-Net, and the set is one unit (`models.masks_per_source`).
C-U-Net units take the condition (batch, K) as a named input and return one stem, "estimate".

`reference_waveform` computes the same stems with the package's own TF ops (`spectral.stft`,
`tf.complex`, `tf.signal.inverse_stft`) and Keras: the ground truth every export is checked
against.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from tf_munet import spectral
from tf_munet.export import dsp
from tf_munet.models import is_conditioned, masks_per_source
from tf_munet.models.subpixel import subpixel_copy
from tf_munet.presets import AudioConfig, is_exhaustive
from tf_munet_core.masks import normalize_masks as core_normalize
from tf_munet_core.masks import resolve_normalization
from tf_munet_core.spectra import EXTEND_TOP

NETWORK_SCOPE = "network"
"""Name scope of the network inside the waveform graph; the signal processing is outside it."""

CONDITIONED_OUTPUT = "estimate"
"""Output name of a C-U-Net unit's waveform graph (the stem of the condition given)."""


@dataclass
class Unit:
    """One exported network.

    Attributes:
        suffix: "" for the whole network, the source name for a dedicated per-source unit.
        network: Keras model magnitude [, condition] -> masks (B, bins, frames, C, K').
        outputs: names of the waveform outputs, one per mask (C-U-Net: ("estimate",)).
        conditioned: takes a condition input.
        graph: what the exported graphs run: `network` with sub-pixel mask heads
            (`models.subpixel`; the same masks, 2x faster in LiteRT and TensorFlow).
    """

    suffix: str
    network: keras.Model
    outputs: tuple[str, ...]
    conditioned: bool
    graph: keras.Model | None = None

    def __post_init__(self):
        if self.graph is None:
            self.graph = subpixel_copy(self.network)


def extend_mask(mask: tf.Tensor, n_bins: int, top: int = EXTEND_TOP) -> tf.Tensor:
    """TF version of `spectral.extend_mask` along axis 1: bins above the model band take the mean
    of the top `top` modelled bins of the same frame."""
    have = mask.shape[1]
    if have >= n_bins:
        return mask[:, :n_bins]
    top_mean = tf.reduce_mean(mask[:, max(0, have - top) : have], axis=1, keepdims=True)
    reps = [1] * len(mask.shape)
    reps[1] = n_bins - have
    return tf.concat([mask, tf.tile(top_mean, reps)], axis=1)


def default_normalization(sources: tuple[str, ...]) -> str:
    """The separator's default (`tf_munet_core.masks.resolve_normalization`): "exhaustive" for
    source sets that add up to the mixture, "partial" otherwise."""
    return resolve_normalization("auto", is_exhaustive(sources))


def normalize_masks(mask, mode: str | None):
    """The core's mask normalisation (`tf_munet_core.masks.normalize_masks`) in TF or numpy.

    "raw" (or None): clip at 0. "exhaustive": masks / their sum (an all-zero bin is shared
    equally). "partial": scaled down only where the sum exceeds 1.
    """
    mode = "raw" if mode is None else mode
    if mode not in ("raw", "exhaustive", "partial"):
        raise ValueError(f"normalize must be 'raw', 'exhaustive' or 'partial'. Received: {mode!r}")
    if isinstance(mask, np.ndarray):
        return core_normalize(mask, mode)
    k = mask.shape[-1]
    mask = tf.maximum(mask, 0.0)
    if mode == "raw":
        return mask
    total = tf.reduce_sum(mask, axis=-1, keepdims=True)
    if mode == "partial":
        return mask / tf.maximum(total, 1.0)
    return tf.where(total > 1e-8, mask / tf.maximum(total, 1e-8), tf.fill(tf.shape(mask), 1.0 / k))


class ExportGraphs:
    """Builds the export signatures of a network.

    Args:
        network: the run's network (`tf_munet.models.build_model` output).
        audio: the preset's AudioConfig.
        family: "munet", "dedicated" or "cunet".
        sources: source names in mask order.
        stft_mode: "auto" (RFFT for power-of-two n_fft, DFT matmul otherwise), "fft" or "dft".
        normalize: mask normalisation of the waveform graphs and the manifest ("auto": the
            separator's default for the source set; "raw" (None), "exhaustive" or "partial"). It
            needs every source's mask, so units that see one source (C-U-Net, dedicated
            per-source files) only clip at 0 in their waveform graphs.
    """

    def __init__(
        self,
        network: keras.Model,
        audio: AudioConfig,
        family: str,
        sources: tuple[str, ...],
        stft_mode: str = "auto",
        normalize: str | None = "auto",
    ):
        self.network = network
        self.audio = audio
        self.family = family
        self.sources = tuple(sources)
        self.stft_mode = dsp.resolve_mode(stft_mode, audio.n_fft)
        self.conditioned = is_conditioned(network)
        self._units: dict[bool, list[Unit]] = {}
        self.front = spectral.SpectralFrontEnd(audio)
        self.normalize = resolve_normalization("raw" if normalize is None else normalize,
                                               is_exhaustive(self.sources))

    def unit_normalization(self, unit: "Unit") -> str:
        """The normalisation a unit's waveform graph applies ("raw" when it sees one source)."""
        return self.normalize if len(unit.outputs) == len(self.sources) else "raw"

    # ------------------------------------------------------------------ units

    def units(self, split_dedicated: bool = True) -> list[Unit]:
        """The networks to export: one, or one per source for a dedicated set whose masks
        are the U-Nets' own (made once)."""
        if split_dedicated not in self._units:
            self._units[split_dedicated] = self._make_units(split_dedicated)
        return self._units[split_dedicated]

    def _make_units(self, split_dedicated: bool) -> list[Unit]:
        if (self.family == "dedicated" and split_dedicated and len(self.sources) > 1
                and masks_per_source(self.network)):
            units = []
            for src in self.sources:
                sub = keras.Model(
                    self.network.inputs, self.network.get_layer(f"{src}_mask").output,
                    name=f"dedicated_{src}",
                )
                units.append(Unit(src, sub, (src,), False))
            return units
        outputs = (CONDITIONED_OUTPUT,) if self.conditioned else self.sources
        return [Unit("", self.network, outputs, self.conditioned)]

    # ------------------------------------------------------------------ specs

    def spectrogram_spec(self, batch: int | None) -> tf.TensorSpec:
        a = self.audio
        return tf.TensorSpec((batch, a.model_bins, a.frames, a.channels), tf.float32, "magnitude")

    def waveform_spec(self, batch: int | None) -> tf.TensorSpec:
        a = self.audio
        return tf.TensorSpec((batch, a.chunk_samples, a.channels), tf.float32, "waveform")

    def condition_spec(self, batch: int | None) -> tf.TensorSpec:
        return tf.TensorSpec((batch, len(self.sources)), tf.float32, "condition")

    # ------------------------------------------------------------------ graphs

    def spectrogram_function(self, unit: Unit, batch: int | None = 1):
        """tf.function magnitude (B, bins, frames, C) [, condition (B, K)] -> {"masks": ...}."""
        net = unit.graph
        if unit.conditioned:

            @tf.function(input_signature=[self.spectrogram_spec(batch), self.condition_spec(batch)])
            def separate_spectrogram(magnitude, condition):
                with tf.name_scope(NETWORK_SCOPE):
                    return {"masks": net([magnitude, condition], training=False)}

        else:

            @tf.function(input_signature=[self.spectrogram_spec(batch)])
            def separate_spectrogram(magnitude):
                with tf.name_scope(NETWORK_SCOPE):
                    return {"masks": net(magnitude, training=False)}

        return separate_spectrogram

    def waveform_function(self, unit: Unit, batch: int | None = 1):
        """tf.function waveform (B, chunk_samples, C) [, condition] -> {output: (B, samples, C)}."""
        if unit.conditioned:

            @tf.function(input_signature=[self.waveform_spec(batch), self.condition_spec(batch)])
            def separate_waveform(waveform, condition):
                return self.waveform_graph(unit, waveform, condition)

        else:

            @tf.function(input_signature=[self.waveform_spec(batch)])
            def separate_waveform(waveform):
                return self.waveform_graph(unit, waveform)

        return separate_waveform

    def waveform_graph(self, unit: Unit, wave: tf.Tensor, condition=None) -> dict[str, tf.Tensor]:
        """Builtin-only ops: STFT, network, masks on real/imag parts, inverse STFT."""
        a = self.audio
        length, chans = a.chunk_samples, a.channels
        bins = a.n_fft // 2 + 1
        batch = tf.shape(wave)[0]
        rows = tf.reshape(tf.transpose(wave, [0, 2, 1]), [-1, length])  # (B*C, L)
        real, imag = dsp.stft(rows, a, self.stft_mode)  # (B*C, T, bins)
        frames = real.shape[1]
        mag = tf.sqrt(real * real + imag * imag)[..., : a.freq_bins]
        mag = tf.transpose(tf.reshape(mag, [batch, chans, frames, a.freq_bins]), [0, 3, 2, 1])
        inputs = self.front.to_model_grid(mag)
        if unit.conditioned:
            inputs = [inputs, condition]
        with tf.name_scope(NETWORK_SCOPE):  # int8 quantizes only this scope (see tflite.py)
            masks = unit.graph(inputs, training=False)  # (B, model_bins, T, C, K)
        k = len(unit.outputs)
        normalization = self.unit_normalization(unit)
        masks = normalize_masks(self.front.mask_to_linear(masks), normalization)
        # masks that sum to 1: the last stem is the mixture minus the others (exact by
        # linearity, one inverse STFT fewer; the core's separator does the same)
        k_out = k - 1 if normalization == "exhaustive" and k > 1 else k
        masks = extend_mask(masks[..., :k_out], bins)  # (B, bins, T, C, K')
        masks = tf.reshape(tf.transpose(masks, [0, 3, 4, 2, 1]), [-1, k_out, frames, bins])
        est_real = tf.reshape(real[:, None] * masks, [-1, frames, bins])
        est_imag = tf.reshape(imag[:, None] * masks, [-1, frames, bins])
        out = dsp.istft(est_real, est_imag, a, length, self.stft_mode)  # (B*C*K', L)
        out = tf.reshape(out, [-1, k_out, length])
        if k_out < k:
            out = tf.concat([out, (rows - tf.reduce_sum(out, axis=1))[:, None]], axis=1)
        out = tf.transpose(tf.reshape(out, [batch, chans, k, length]), [0, 3, 1, 2])
        return {name: out[..., i] for i, name in enumerate(unit.outputs)}


def reference_masks(
    network: keras.Model, audio: AudioConfig, wave: np.ndarray, condition: np.ndarray | None = None
) -> np.ndarray:
    """Keras masks (B, model_bins, frames, C, K') of chunks (B, chunk_samples, C), computed with
    the package's own front end (`SpectralFrontEnd.magnitude`)."""
    front = spectral.SpectralFrontEnd(audio)
    mag = front.magnitude(tf.convert_to_tensor(wave, tf.float32))
    inputs = mag if condition is None else [mag, tf.convert_to_tensor(condition, tf.float32)]
    return np.asarray(network(inputs, training=False))


def reconstruct(
    audio: AudioConfig, wave: np.ndarray, masks: np.ndarray, normalize: str | None = None
) -> np.ndarray:
    """Stems of chunks from masks on the model grid, with the package's TF spectral ops.

    Args:
        wave: (B, chunk_samples, C) mixture chunks.
        masks: (B, model_bins, frames, C, K) network masks.
        normalize: see `normalize_masks`.

    Returns:
        (B, chunk_samples, C, K) float32: masks (unwarped, normalised, extended above the model
        band) times the mixture's complex STFT, inverse STFT (`spectral.istft`).
    """
    front = spectral.SpectralFrontEnd(audio)
    wave = tf.convert_to_tensor(wave, tf.float32)
    spec = front.linear_spectrogram(wave).numpy()  # (B, bins, T, C) complex
    linear = np.asarray(front.mask_to_linear(tf.convert_to_tensor(masks, tf.float32)))
    linear = spectral.extend_mask(normalize_masks(linear, normalize), spec.shape[1], axis=1)
    est = spec[..., None] * linear
    b, bins, t, c, k = est.shape
    rows = np.transpose(est, (0, 3, 4, 1, 2)).reshape(b * c * k, bins, t)
    out = spectral.istft(tf.convert_to_tensor(rows), audio, wave.shape[1]).numpy()
    return np.transpose(out.reshape(b, c, k, -1), (0, 3, 1, 2)).astype(np.float32)


def reference_waveform(
    network: keras.Model,
    audio: AudioConfig,
    wave: np.ndarray,
    condition: np.ndarray | None = None,
    normalize: str | None = None,
) -> np.ndarray:
    """What a waveform graph must return, computed with Keras and `spectral` (no export code).

    Args:
        wave: (B, chunk_samples, C) float32.
        condition: (B, K) for C-U-Net networks.
        normalize: the unit's normalisation (`ExportGraphs.unit_normalization`).

    Returns:
        (B, chunk_samples, C, K') float32.
    """
    masks = reference_masks(network, audio, wave, condition)
    return reconstruct(audio, wave, masks, normalize)
