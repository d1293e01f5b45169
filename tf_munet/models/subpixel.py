"""Inference copies whose few-filter transposed convolutions run as sub-pixel convolutions.

A U-Net's mask head is a 5x5 stride-2 transposed convolution from 16-32 channels to a handful of
masks at the full patch size; oneDNN and XNNPACK run such a layer 2-3x slower than a stride-1
convolution with four times the filters followed by depth-to-space
(`tf_munet.layers.SubpixelConv2DTranspose`), which gives the same outputs. With wide
transposed convolutions the two forms cost about the same, so only those with at most
`MAX_FILTERS` filters are replaced. The copy shares every other layer (and its weights) with the
network: it costs a graph walk, not a rebuild.
"""

from __future__ import annotations

import keras

from tf_munet.layers import SubpixelConv2DTranspose

MAX_FILTERS = 8
"""Transposed convolutions with at most this many filters are replaced (mask heads: 1 to 8)."""


def replaceable(layer: keras.layers.Layer) -> bool:
    """A 'same' Conv2DTranspose with equal strides >= 2, no dilation or output padding,
    channels last, and at most `MAX_FILTERS` filters."""
    if type(layer) is not keras.layers.Conv2DTranspose:
        return False
    cfg = layer.get_config()
    s = cfg["strides"]
    return (cfg["padding"] == "same" and s[0] == s[1] >= 2 and cfg["kernel_size"][0] == cfg["kernel_size"][1]
            and tuple(cfg["dilation_rate"]) == (1, 1) and cfg.get("output_padding") is None
            and cfg["data_format"] == "channels_last" and cfg["filters"] <= MAX_FILTERS)


def subpixel_copy(network: keras.Model) -> keras.Model:
    """`network` with its replaceable transposed convolutions in sub-pixel form (`network`
    itself when it has none). Layer names are kept; the other layers are shared."""
    if not any(replaceable(layer) for layer in network.layers):
        return network
    return keras.models.clone_model(
        network,
        clone_function=lambda layer: SubpixelConv2DTranspose.from_transposed(layer) if replaceable(layer) else layer,
    )
