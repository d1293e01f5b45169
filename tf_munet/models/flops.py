"""Parameter and FLOP counts of a built network, by walking its layers.

FLOPs count multiply and add separately (2 per MAC) for convolutions, transposed
convolutions and dense layers, the layers that dominate a U-Net; element-wise layers are left
out (they are < 1% here).
"""

from __future__ import annotations

import math

import keras


def _layer_flops(layer) -> int:
    if isinstance(layer, keras.Model):
        return sum(_layer_flops(sub) for sub in layer.layers)
    out = layer.output.shape if hasattr(layer, "output") else None
    if isinstance(layer, keras.layers.Conv2DTranspose):
        inp = layer.input.shape
        kh, kw = layer.kernel_size
        return 2 * inp[1] * inp[2] * inp[3] * kh * kw * layer.filters
    if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv1D)):
        kernel = math.prod(layer.kernel_size)
        cin = layer.input.shape[-1]
        return 2 * math.prod(out[1:-1]) * layer.filters * kernel * cin
    if isinstance(layer, keras.layers.Dense):
        return 2 * layer.input.shape[-1] * layer.units
    return 0


def count_flops(model: keras.Model) -> int:
    """FLOPs of one forward pass of one example (batch 1)."""
    return sum(_layer_flops(layer) for layer in model.layers)


def count_params(model: keras.Model, prefix: str | None = None) -> int:
    """Parameters (trainable and not) of the model, or of its layers whose name starts with
    `prefix` (e.g. "control" for the C-U-Net's control generator, "film" for its heads)."""
    if prefix is None:
        return model.count_params()
    return sum(layer.count_params() for layer in model.layers if layer.name.startswith(prefix))
