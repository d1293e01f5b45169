"""Batch normalisation folded into the convolution before it, for inference.

At inference a BatchNormalization layer is an affine map per channel: y = x * s + t with
s = gamma / sqrt(var + eps) and t = beta - mean * s. Applied right after a convolution with a
linear activation it folds into that convolution's kernel (scaled per output channel) and bias,
so the network runs two memory-bound passes fewer per layer. The folded copy's outputs equal
the original's to float32 round-off.
"""

from __future__ import annotations

from typing import Callable

import keras
import numpy as np

from tf_munet.models.copies import editable_config, rebuild

_FOLDS_INTO = {"Conv2D": -1, "Conv2DTranspose": -2}
"""Convolutions a batch norm folds into, and their kernel's output-channel axis."""


def _tensor_refs(obj):
    """Every keras_history [layer, node, index] list in a functional config's node entry."""
    if isinstance(obj, dict):
        if obj.get("class_name") == "__keras_tensor__":
            yield obj["config"]["keras_history"]
            return
        for value in obj.values():
            yield from _tensor_refs(value)
    elif isinstance(obj, (list, tuple)):
        if len(obj) == 3 and isinstance(obj[0], str) and isinstance(obj[1], int):
            yield obj  # an output_layers entry
        else:
            for value in obj:
                yield from _tensor_refs(value)


def foldable_pairs(config: dict) -> dict[str, str]:
    """{batch norm: convolution} for every batch norm (on the channel axis) whose only input is
    a linear convolution that feeds nothing else."""
    layers = {layer["name"]: layer for layer in config["layers"]}
    users: dict[str, list[str]] = {}
    for layer in config["layers"]:
        for ref in _tensor_refs(layer["inbound_nodes"]):
            users.setdefault(ref[0], []).append(layer["name"])
    for ref in _tensor_refs(config["output_layers"]):
        users.setdefault(ref[0], []).append("")  # a model output is a user too
    pairs = {}
    for layer in config["layers"]:
        if layer["class_name"] != "BatchNormalization" or layer["config"]["axis"] not in (-1, 3):
            continue
        sources = {ref[0] for ref in _tensor_refs(layer["inbound_nodes"])}
        if len(sources) != 1:
            continue
        conv = layers[sources.pop()]
        if (conv["class_name"] in _FOLDS_INTO and conv["config"].get("activation") == "linear"
                and conv["config"].get("data_format", "channels_last") == "channels_last"
                and users[conv["name"]] == [layer["name"]]):
            pairs[layer["name"]] = conv["name"]
    return pairs


def _folded_weights(conv: keras.layers.Layer, bn: keras.layers.BatchNormalization):
    kernel = keras.ops.convert_to_numpy(conv.kernel)
    axis = _FOLDS_INTO[type(conv).__name__]
    channels = kernel.shape[axis]
    bias = keras.ops.convert_to_numpy(conv.bias) if conv.use_bias else np.zeros(channels)
    gamma = keras.ops.convert_to_numpy(bn.gamma) if bn.scale else np.ones(channels)
    beta = keras.ops.convert_to_numpy(bn.beta) if bn.center else np.zeros(channels)
    mean = keras.ops.convert_to_numpy(bn.moving_mean).astype(np.float64)
    var = keras.ops.convert_to_numpy(bn.moving_variance).astype(np.float64)
    scale = gamma / np.sqrt(var + bn.epsilon)
    shape = [1] * kernel.ndim
    shape[axis] = channels
    return [kernel * scale.reshape(shape).astype(np.float32),
            ((bias - mean) * scale + beta).astype(np.float32)]


def fold_batchnorm(network: keras.Model,
                   edit: Callable[[dict], None] | None = None) -> keras.Model:
    """An inference copy of a functional `network` with every foldable batch norm folded into
    its convolution (`network` itself when there is none and no `edit`). Layer names are kept.

    `edit` changes the copy's config before it is built (`precision.use_bfloat16`): one copy
    instead of two.
    """
    config = editable_config(network)
    pairs = foldable_pairs(config)
    if not pairs and edit is None:
        return network
    for layer in config["layers"]:
        for ref in _tensor_refs(layer["inbound_nodes"]):
            ref[0] = pairs.get(ref[0], ref[0])
        if layer["name"] in pairs.values():
            layer["config"]["use_bias"] = True
    for ref in _tensor_refs(config["output_layers"]):
        ref[0] = pairs.get(ref[0], ref[0])
    config["layers"] = [layer for layer in config["layers"] if layer["name"] not in pairs]
    if edit is not None:
        edit(config)
    copy = rebuild(config)
    bn_of = {conv: bn for bn, conv in pairs.items()}
    for layer in copy.layers:
        source = network.get_layer(layer.name)
        if layer.name in bn_of:
            layer.set_weights(_folded_weights(source, network.get_layer(bn_of[layer.name])))
        else:
            layer.set_weights(source.get_weights())
    return copy
