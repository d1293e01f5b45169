"""The three built-in model families, as functional Keras models with one output layout.

Every family maps a mixture magnitude patch (batch, bins, frames, channels) on the preset's
model grid to masks (batch, bins, frames, channels, sources):

- `munet`: one backbone, K * channels mask channels (Kadandale et al. 2020).
- `dedicated`: K single-mask backbones side by side in one model; each source's loss only
  reaches its own backbone, so training them together equals training them apart, and the set
  separates like one model.
- `cunet`: one backbone with FiLM in the encoder, conditioned on a (batch, K) vector
  (Meseguer-Brocal & Peeters 2019). It returns one mask (sources axis of size 1) for the
  condition given; separation runs it once per one-hot condition.

`tf_munet.registry` names each builder and says how the rest of the code treats its networks.
"""

from __future__ import annotations

import keras
from keras import layers

from tf_munet.errors import UserError
from tf_munet.layers import InputScaling, RatioMasks, SourceMasks
from tf_munet.models.backbones import build_backbone, encoder_widths
from tf_munet.presets import FilmConfig, Preset
from tf_munet.registry import FAMILIES, get_family  # noqa: F401 (FAMILIES re-exported)


def _spectrogram_input(preset: Preset) -> keras.KerasTensor:
    a = preset.audio
    return keras.Input((a.model_bins, a.frames, a.channels), name="magnitude")


ACROSS_SOURCES = ("softmax",)
"""Mask activations computed across the sources (after every source's logits, `_joint`)."""

PER_SOURCE_OUTPUT = "masks"
"""Output layer of a network whose masks are its sources' own, side by side."""


def _scaled_input(inp, preset: Preset):
    """The preset's input scaling (mode and floor), computed in float32 under any policy: the
    paper's floor 2.2e-16 is zero in float16, where log(x + eps) of a silent bin is -inf."""
    b = preset.backbone
    return InputScaling(b.input_scaling, eps=b.input_eps, dtype="float32", name="input_scaling")(inp)


def _head(x, preset: Preset, sources: int, name: str):
    """A backbone's output -> masks (..., channels, sources); an activation across the
    sources is left to `_joint`."""
    if preset.backbone.mask_activation not in ACROSS_SOURCES:
        x = layers.Activation(preset.backbone.mask_activation, name=f"{name}_activation")(x)
    return SourceMasks(preset.audio.channels, sources, name=name)(x)


def _joint(masks, inp, preset: Preset):
    """What the preset computes across the sources' masks: a softmax over them (Spleeter
    5stems) and/or Spleeter's ratio masks."""
    if preset.backbone.mask_activation == "softmax":
        masks = layers.Softmax(axis=-1, name="mask_softmax")(masks)
    p = preset.backbone.ratio_exponent
    return masks if p is None else RatioMasks(p, name="ratio_masks")([masks, inp])


def masks_per_source(network: keras.Model) -> bool:
    """Whether a (munet or dedicated) network's output is its sources' own masks side by side,
    so each dedicated U-Net can run alone. A softmax or ratio masks across the sources make
    every source's mask depend on every U-Net."""
    out = network.get_layer(network.output_names[0])
    return out.name == PER_SOURCE_OUTPUT or isinstance(out, SourceMasks)


def build_munet(preset: Preset, sources: tuple[str, ...]) -> keras.Model:
    """M-U-Net: one backbone, one mask per source and channel."""
    inp = _spectrogram_input(preset)
    x = _scaled_input(inp, preset)
    x = build_backbone(x, preset.backbone, preset.audio.channels * len(sources))
    masks = _head(x, preset, len(sources), PER_SOURCE_OUTPUT)
    return keras.Model(inp, _joint(masks, inp, preset), name="munet")


def build_dedicated(preset: Preset, sources: tuple[str, ...]) -> keras.Model:
    """K dedicated U-Nets (one per source) in one model whose outputs are stacked."""
    inp = _spectrogram_input(preset)
    x = _scaled_input(inp, preset)
    masks = []
    for src in sources:
        y = build_backbone(x, preset.backbone, preset.audio.channels, prefix=f"{src}_")
        masks.append(_head(y, preset, 1, f"{src}_mask"))
    out = layers.Concatenate(axis=-1, name=PER_SOURCE_OUTPUT)(masks) if len(masks) > 1 else masks[0]
    return keras.Model(inp, _joint(out, inp, preset), name="dedicated")


CONTROL_INIT_STDDEV = 0.02
"""Initial weights of the control generator, N(0, 0.02) as in the C-U-Net reference code."""


def _reference_control(cond, film: FilmConfig, per_level: list[int]):
    """The C-U-Net reference control generator (gabolsgabs/cunet `control_models.py`).

    Dense: Dense-ReLU layers, [Dropout +] BatchNorm(momentum 0.9) after every layer but the
    first. CNN: the condition as a length-K sequence through Conv1D-ReLU layers of kernel K
    ('same' padding, the last 'valid', so the sequence ends with length 1), with the same
    rule. Linear gamma/beta outputs with N(0, 0.02) kernels. `film.init` "reference" also
    draws the hidden layers from N(0, 0.02) and starts gamma near 0, as the reference code;
    "identity" uses Glorot hidden layers and a gamma bias of 1, so FiLM starts as identity.
    """
    small = keras.initializers.RandomNormal(stddev=CONTROL_INIT_STDDEV)
    hidden = small if film.init == "reference" else "glorot_uniform"
    gamma_bias = "zeros" if film.init == "reference" else "ones"
    k = cond.shape[-1]
    widths = film.widths()
    x = layers.Reshape((k, 1), name="control_seq")(cond) if film.control == "cnn" else cond
    for i, width in enumerate(widths):
        if film.control == "cnn":
            padding = "valid" if i == len(widths) - 1 else "same"
            x = layers.Conv1D(width, k, padding=padding, activation="relu",
                              kernel_initializer=hidden, name=f"control_conv{i}")(x)
        else:
            x = layers.Dense(width, activation="relu", kernel_initializer=hidden,
                             name=f"control_dense{i}")(x)
        if i > 0:
            if film.dropout() > 0:
                x = layers.Dropout(film.dropout(), name=f"control_dropout{i}")(x)
            x = layers.BatchNormalization(momentum=0.9, name=f"control_bn{i}")(x)
    if film.control == "cnn":
        x = layers.Flatten(name="control_flat")(x)
    # One linear layer per level and parameter: the same as slicing one wide linear output.
    return [
        (
            layers.Dense(n, kernel_initializer=small, bias_initializer=gamma_bias,
                         name=f"film{i}_gamma")(x),
            layers.Dense(n, kernel_initializer=small, name=f"film{i}_beta")(x),
        )
        for i, n in enumerate(per_level)
    ]


def _authors_control(cond, film: FilmConfig, per_level: list[int]):
    """The M-U-Net authors' C-U-Net baseline (vskadandale/multichannel-unet-bss `models/cunet.py`).

    Two generators (one for the multiplicative, one for the additive FiLM term), each
    Linear-ReLU layers [32, 512, 4096] with Dropout + BatchNorm (momentum 0.9) after the second
    and third, and a ReLU output of all levels' parameters, sliced per level. Their FiLM is
    `g + b * x`: the second generator scales, the first shifts. The dropout is `film.dropout()`:
    their CUNET_DROPOUT = 0.1 unless the preset or --control-dropout says otherwise.
    """
    outputs = []
    for part in ("gamma", "beta"):
        x = cond
        for i, width in enumerate(film.widths()):
            x = layers.Dense(width, activation="relu", name=f"control_{part}_dense{i}")(x)
            if i > 0:
                if film.dropout() > 0:
                    x = layers.Dropout(film.dropout(), name=f"control_{part}_dropout{i}")(x)
                x = layers.BatchNormalization(momentum=0.9, name=f"control_{part}_bn{i}")(x)
        outputs.append(layers.Dense(sum(per_level), activation="relu", name=f"control_{part}")(x))
    shift, scale = outputs
    params, offset = [], 0
    for i, n in enumerate(per_level):
        gamma = layers.Identity(name=f"film{i}_gamma")(scale[:, offset : offset + n])
        beta = layers.Identity(name=f"film{i}_beta")(shift[:, offset : offset + n])
        params.append((gamma, beta))
        offset += n
    return params


def control_generator(cond, film: FilmConfig, level_widths: tuple[int, ...]):
    """The C-U-Net's control generator: condition (batch, K) -> per-level (gamma, beta).

    `film.control` picks the reference code's "dense" or "cnn" generator, or the M-U-Net
    authors' own baseline ("authors"); `film.film_type` one (gamma, beta) pair per level
    ("simple") or one per channel ("complex").
    """
    per_level = [1 if film.film_type == "simple" else w for w in level_widths]
    if film.control == "authors":
        return _authors_control(cond, film, per_level)
    return _reference_control(cond, film, per_level)


def build_cunet(preset: Preset, sources: tuple[str, ...]) -> keras.Model:
    """Conditioned U-Net: inputs [magnitude, condition (batch, K)] -> one mask."""
    if preset.backbone.mask_activation in ACROSS_SOURCES:
        raise UserError(f"mask_activation {preset.backbone.mask_activation!r} works across the "
                        f"sources' masks; a C-U-Net computes one source's mask per pass")
    inp = _spectrogram_input(preset)
    cond = keras.Input((len(sources),), name="condition")
    params = control_generator(cond, preset.film, encoder_widths(preset.backbone))
    x = _scaled_input(inp, preset)
    x = build_backbone(x, preset.backbone, preset.audio.channels, film=params)
    return keras.Model([inp, cond], _head(x, preset, 1, "masks"), name="cunet")


def build_model(preset: Preset, family: str, sources: tuple[str, ...]) -> keras.Model:
    """Build the network of a registered family (`tf_munet.registry.FAMILIES`) for a preset."""
    return get_family(family).build(preset, tuple(sources))
