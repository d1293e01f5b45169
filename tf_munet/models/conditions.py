"""Asking a network for every source's mask, whatever its family.

A conditioned network (C-U-Net) returns the mask of the source its one-hot condition selects,
so every source costs one pass; the other families return all masks at once.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


def is_conditioned(network: keras.Model) -> bool:
    """True for networks that take a condition (batch, K) beside the magnitude (C-U-Net)."""
    return len(network.inputs) == 2


def one_hot_conditions(num_sources: int) -> np.ndarray:
    """(K, K) float32; row k is the condition that selects source k."""
    return np.eye(num_sources, dtype=np.float32)


def all_source_masks(network: keras.Model, magnitude, training: bool = False):
    """Masks of every source: magnitude (batch, bins, frames, C) -> (batch, bins, frames, C, K).

    A conditioned network runs once per one-hot condition, in source order.
    """
    if not is_conditioned(network):
        return network(magnitude, training=training)
    magnitude = ops.convert_to_tensor(magnitude)
    batch = ops.shape(magnitude)[0]
    num_sources = network.inputs[1].shape[-1]
    masks = [
        network([magnitude, ops.broadcast_to(condition, (batch, num_sources))], training=training)
        for condition in one_hot_conditions(num_sources)
    ]
    return ops.concatenate(masks, axis=-1)
