"""The two U-Net backbones (the paper's and the C-U-Net's), built in loops as functional graphs.

Both take a scaled spectrogram tensor and return the pre-activation of the mask head with
`out_channels` channels. `film` is an optional list (one entry per encoder level) of
(gamma, beta) tensors that the C-U-Net injects after BatchNorm and before the activation.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from tf_munet.layers import FiLM
from tf_munet.presets import BackboneConfig

FilmParams = Sequence[tuple[keras.KerasTensor, keras.KerasTensor]] | None


def activation(kind: str, cfg: BackboneConfig, name: str) -> layers.Layer:
    """The backbone activation layer `kind` (`presets.ACTIVATIONS`): "leaky_relu" (slope
    `cfg.leaky_slope`), "relu" or "elu" (alpha 1)."""
    if kind == "leaky_relu":
        return layers.LeakyReLU(cfg.leaky_slope, name=name)
    if kind == "relu":
        return layers.ReLU(name=name)
    if kind == "elu":
        return layers.ELU(name=name)
    raise ValueError(f"Unknown activation. Received: {kind!r}")


def _film(x, film: FilmParams, level: int, name: str):
    if film is None:
        return x
    gamma, beta = film[level]
    return FiLM(name=f"{name}_film")([x, gamma, beta])


def strided_unet(
    x, cfg: BackboneConfig, out_channels: int, film: FilmParams = None, prefix: str = ""
):
    """Jansson et al. 2017 / C-U-Net backbone: 5x5 stride-2 convolutions, no pooling.

    Encoder level i: Conv2D(widths[i], 5, stride 2) - BN - [FiLM] - conv activation (LeakyReLU).
    Decoder: Conv2DTranspose(5, stride 2) - BN - deconv activation (ReLU) - (dropout on the
    first three) - concat skip; the last transposed conv gives `out_channels` without
    BN/activation.
    """
    skips = []
    for i, width in enumerate(cfg.widths):
        name = f"{prefix}enc{i}"
        x = layers.Conv2D(width, 5, strides=2, padding="same", name=f"{name}_conv")(x)
        x = layers.BatchNormalization(momentum=cfg.bn_momentum, name=f"{name}_bn")(x)
        x = _film(x, film, i, name)
        x = activation(cfg.conv_activation, cfg, f"{name}_act")(x)
        skips.append(x)
    skips.pop()  # the bottleneck is x itself
    for j, width in enumerate(reversed(cfg.widths[:-1])):
        name = f"{prefix}dec{j}"
        x = layers.Conv2DTranspose(width, 5, strides=2, padding="same", name=f"{name}_deconv")(x)
        x = layers.BatchNormalization(momentum=cfg.bn_momentum, name=f"{name}_bn")(x)
        x = activation(cfg.deconv_activation, cfg, f"{name}_act")(x)
        if j < 3 and cfg.side_dropout("decoder") > 0:
            x = layers.Dropout(cfg.side_dropout("decoder"), name=f"{name}_dropout")(x)
        x = layers.Concatenate(name=f"{name}_skip")([x, skips.pop()])
    return layers.Conv2DTranspose(
        out_channels, 5, strides=2, padding="same", name=f"{prefix}mask_head"
    )(x)


def _double_conv(x, width: int, cfg: BackboneConfig, name: str, film=None, level=0):
    # Glorot kernels, zero biases. The authors' settings.py asks for INITIALIZER = 'xavier', but
    # flerken's pytorchframework.py `__initialize_layers__` calls `map(self.init_function, ...)`,
    # which Python 3 never evaluates: their networks start from PyTorch's defaults instead
    # (kernels and biases U(+-1/sqrt(fan_in)), BatchNorm eps 1e-5). Glorot is kept: at reduced
    # widths that bias range (+-0.5 for the mask head's fan_in of 4 at widths / 8) can switch a
    # whole ReLU mask off before the first step, and from either start the masks of the quieter
    # sources fall to zero within a few dozen SGD steps in short, narrow runs.
    for k in range(2):
        x = layers.Conv2D(
            width, 3, padding="same", kernel_initializer="glorot_uniform", name=f"{name}_conv{k}"
        )(x)
        x = layers.BatchNormalization(momentum=cfg.bn_momentum, name=f"{name}_bn{k}")(x)
        if k == 1:
            x = _film(x, film, level, name)
        x = activation(cfg.conv_activation, cfg, f"{name}_act{k}")(x)
    return x


def double_conv_unet(
    x, cfg: BackboneConfig, out_channels: int, film: FilmParams = None, prefix: str = ""
):
    """The authors' U-Net: per level two 3x3 conv-BN-LeakyReLU, 2x2 max-pool; decoder 2x2
    stride-2 transposed conv, concat skip, two 3x3 conv-BN-LeakyReLU; spatial dropout in encoder
    and decoder blocks except the bottleneck and the last block; 1x1 conv head. Every
    activation is the conv activation (its transposed convolutions have none)."""
    skips = []
    levels = len(cfg.widths)
    for i, width in enumerate(cfg.widths):
        name = f"{prefix}enc{i}"
        x = _double_conv(x, width, cfg, name, film, i)
        if i < levels - 1:
            if cfg.side_dropout("encoder") > 0:
                x = layers.SpatialDropout2D(cfg.side_dropout("encoder"), name=f"{name}_dropout")(x)
            skips.append(x)
            x = layers.MaxPooling2D(2, name=f"{name}_pool")(x)
    for j, width in enumerate(reversed(cfg.widths[:-1])):
        name = f"{prefix}dec{j}"
        x = layers.Conv2DTranspose(width, 2, strides=2, name=f"{name}_up")(x)
        x = layers.Concatenate(name=f"{name}_skip")([x, skips.pop()])
        x = _double_conv(x, width, cfg, name)
        if j < levels - 2 and cfg.side_dropout("decoder") > 0:
            x = layers.SpatialDropout2D(cfg.side_dropout("decoder"), name=f"{name}_dropout")(x)
    return layers.Conv2D(out_channels, 1, name=f"{prefix}mask_head")(x)


def spleeter_unet(
    x, cfg: BackboneConfig, out_channels: int, film: FilmParams = None, prefix: str = ""
):
    """Spleeter's U-Net (Deezer 2019, `spleeter/model/functions/unet.py`), layer for layer.

    Jansson's strided U-Net with Spleeter's differences, so released checkpoints load exactly:
    skips (and the bottleneck) are the raw convolutions before BN; decoder blocks are
    Conv2DTranspose - deconv activation - BN (dropout on the first three); the last transposed
    conv has one channel and is followed by the deconv activation - BN and a 4x4 convolution
    dilated by 2 that gives `out_channels`. Spleeter's `conv_activation`/`deconv_activation`
    are the preset's (LeakyReLU(0.2)/ReLU by default, ELU/ELU in 4stems and 5stems).
    Spleeter's frequency/time axes are swapped here; every kernel is square
    and every stride equal, so the graph is the same with its kernels transposed. A C-U-Net
    FiLM goes after each encoder BN (on the raw bottleneck convolution at the last level).
    """
    init = "he_uniform"
    convs = []
    for i, width in enumerate(cfg.widths):
        name = f"{prefix}enc{i}"
        conv = layers.Conv2D(width, 5, strides=2, padding="same", kernel_initializer=init,
                             name=f"{name}_conv")(x)
        convs.append(conv)
        if i < len(cfg.widths) - 1:  # Spleeter's last encoder BN/activation feed nothing
            x = layers.BatchNormalization(momentum=cfg.bn_momentum, name=f"{name}_bn")(conv)
            x = _film(x, film, i, name)
            x = activation(cfg.conv_activation, cfg, f"{name}_act")(x)
    x = _film(convs.pop(), film, len(cfg.widths) - 1, f"{prefix}enc{len(cfg.widths) - 1}")
    for j, width in enumerate([*reversed(cfg.widths[:-1]), 1]):
        name = f"{prefix}dec{j}"
        x = layers.Conv2DTranspose(width, 5, strides=2, padding="same", kernel_initializer=init,
                                   name=f"{name}_deconv")(x)
        x = activation(cfg.deconv_activation, cfg, f"{name}_act")(x)
        x = layers.BatchNormalization(momentum=cfg.bn_momentum, name=f"{name}_bn")(x)
        if j < 3 and cfg.dropout > 0:
            x = layers.Dropout(cfg.dropout, name=f"{name}_dropout")(x)
        if convs:
            x = layers.Concatenate(name=f"{name}_skip")([convs.pop(), x])
    return layers.Conv2D(out_channels, 4, dilation_rate=2, padding="same",
                         kernel_initializer=init, name=f"{prefix}mask_head")(x)


BACKBONES = {"strided": strided_unet, "double_conv": double_conv_unet, "spleeter": spleeter_unet}


def encoder_widths(cfg: BackboneConfig) -> tuple[int, ...]:
    """Channels of each encoder level's FiLM point (what a complex FiLM must produce)."""
    return tuple(cfg.widths)


def build_backbone(x, cfg: BackboneConfig, out_channels: int, film=None, prefix: str = ""):
    """Dispatch on `cfg.kind`; a clear error for unknown kinds."""
    try:
        fn = BACKBONES[cfg.kind]
    except KeyError:
        raise ValueError(f"Unknown backbone kind. Received: kind={cfg.kind!r}") from None
    return fn(x, cfg, out_channels, film=film, prefix=prefix)
