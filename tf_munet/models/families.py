"""The three model families, as functional Keras models with one output layout.

Every family maps a mixture magnitude patch (batch, bins, frames, channels) on the preset's
model grid to masks (batch, bins, frames, channels, sources):

- `munet`: one backbone, K * channels mask channels (Kadandale et al. 2020).
- `dedicated`: K single-mask backbones side by side in one model; each source's loss only
  reaches its own backbone, so training them together equals training them apart, and the set
  separates like one model.
- `cunet`: one backbone with FiLM in the encoder, conditioned on a (batch, K) vector
  (Meseguer-Brocal & Peeters 2019). It returns one mask (sources axis of size 1) for the
  condition given; separation runs it once per one-hot condition.
"""

from __future__ import annotations

import keras
from keras import layers

from tf_munet.errors import UserError
from tf_munet.layers import InputScaling, RatioMasks, SourceMasks
from tf_munet.models.backbones import build_backbone, encoder_widths
from tf_munet.presets import FilmConfig, Preset
from tf_munet.registry import FAMILIES


def _spectrogram_input(preset: Preset) -> keras.KerasTensor:
    a = preset.audio
    return keras.Input((a.model_bins, a.frames, a.channels), name="magnitude")


def _head(x, preset: Preset, sources: int, name: str):
    x = layers.Activation(preset.backbone.mask_activation, name=f"{name}_activation")(x)
    return SourceMasks(preset.audio.channels, sources, name=name)(x)


def _ratio(masks, inp, preset: Preset):
    """Spleeter's ratio masks across sources when the preset asks for them."""
    p = preset.backbone.ratio_exponent
    return masks if p is None else RatioMasks(p, name="ratio_masks")([masks, inp])


def build_munet(preset: Preset, sources: tuple[str, ...]) -> keras.Model:
    """M-U-Net: one backbone, one mask per source and channel."""
    inp = _spectrogram_input(preset)
    x = InputScaling(preset.backbone.input_scaling, name="input_scaling")(inp)
    x = build_backbone(x, preset.backbone, preset.audio.channels * len(sources))
    out = _ratio(_head(x, preset, len(sources), "masks"), inp, preset)
    return keras.Model(inp, out, name="munet")


def build_dedicated(preset: Preset, sources: tuple[str, ...]) -> keras.Model:
    """K dedicated U-Nets (one per source) in one model whose outputs are stacked."""
    inp = _spectrogram_input(preset)
    x = InputScaling(preset.backbone.input_scaling, name="input_scaling")(inp)
    masks = []
    for src in sources:
        y = build_backbone(x, preset.backbone, preset.audio.channels, prefix=f"{src}_")
        masks.append(_head(y, preset, 1, f"{src}_mask"))
    out = layers.Concatenate(axis=-1, name="masks")(masks) if len(masks) > 1 else masks[0]
    return keras.Model(inp, _ratio(out, inp, preset), name="dedicated")


def control_generator(cond, film: FilmConfig, level_widths: tuple[int, ...]):
    """The C-U-Net's control generator: condition (batch, K) -> per-level (gamma, beta).

    Dense: hidden Dense-ReLU-Dropout(0.5)-BN blocks. CNN: the condition as a length-K sequence
    through Conv1D-ReLU-Dropout-BN blocks, flattened. Linear outputs for gamma and beta.
    """
    per_level = [1 if film.film_type == "simple" else w for w in level_widths]
    x = cond
    if film.control == "cnn":
        x = layers.Reshape((-1, 1), name="control_seq")(x)
    for i, width in enumerate(film.widths()):
        if film.control == "cnn":
            x = layers.Conv1D(width, 3, padding="same", activation="relu", name=f"control_conv{i}")(x)
        else:
            x = layers.Dense(width, activation="relu", name=f"control_dense{i}")(x)
        x = layers.Dropout(0.5, name=f"control_dropout{i}")(x)
        x = layers.BatchNormalization(name=f"control_bn{i}")(x)
    if film.control == "cnn":
        x = layers.Flatten(name="control_flat")(x)
    # One linear layer per level and parameter: the same as splitting one wide linear output.
    return [
        (
            layers.Dense(n, name=f"film{i}_gamma", bias_initializer="ones")(x),
            layers.Dense(n, name=f"film{i}_beta")(x),
        )
        for i, n in enumerate(per_level)
    ]


def build_cunet(preset: Preset, sources: tuple[str, ...]) -> keras.Model:
    """Conditioned U-Net: inputs [magnitude, condition (batch, K)] -> one mask."""
    inp = _spectrogram_input(preset)
    cond = keras.Input((len(sources),), name="condition")
    params = control_generator(cond, preset.film, encoder_widths(preset.backbone))
    x = InputScaling(preset.backbone.input_scaling, name="input_scaling")(inp)
    x = build_backbone(x, preset.backbone, preset.audio.channels, film=params)
    return keras.Model([inp, cond], _head(x, preset, 1, "masks"), name="cunet")


BUILDERS = {"munet": build_munet, "dedicated": build_dedicated, "cunet": build_cunet}


def build_model(preset: Preset, family: str, sources: tuple[str, ...]) -> keras.Model:
    """Build the network of `family` ("munet", "dedicated" or "cunet") for a preset."""
    try:
        builder = BUILDERS[family]
    except KeyError:
        raise UserError(
            f"Unknown model family {family!r}; choose one of {', '.join(FAMILIES)}."
        ) from None
    return builder(preset, tuple(sources))
