"""The network as the separator runs it: the trained network with its mask heads in sub-pixel
form (`subpixel`), or a bfloat16 copy with batch norm folded that is checked against float32;
one traced function from patches to every source's mask.

Folding removes two memory-bound passes per layer and the copy holds its weights in bfloat16
(no casts per call). A bfloat16 copy is checked once on random magnitudes: oneDNN's
bfloat16 convolutions (TensorFlow 2.21, AMX) returned wrong masks and NaNs for a half-width
cunet network with 64-frame patches, whose deepest convolution outputs one frame; a copy whose
masks stray from float32's by more than `BFLOAT16_TOLERANCE` is dropped for the float32
network, with a warning. A copy is made once: later changes to the trained network's weights do
not reach it.
"""

from __future__ import annotations

import warnings
from typing import Callable

import keras
import numpy as np

from tf_munet.errors import Notice
from tf_munet.models.conditions import all_source_masks
from tf_munet.models.folding import fold_batchnorm
from tf_munet.models.precision import resolve_precision, use_bfloat16
from tf_munet.models.subpixel import subpixel_copy

BFLOAT16_TOLERANCE = 0.25
"""Largest mask difference (masks lie in [0, 1]) a bfloat16 copy may show against float32 on
random magnitudes; sound copies stayed within 0.07, broken ones reached 1.0 or NaN."""


def mask_gap(reference: keras.Model, candidate: keras.Model, seed: int = 0) -> float:
    """Largest |mask difference| between two networks of one family on a batch of random
    magnitudes (inf when `candidate` returns a non-finite mask)."""
    shape = reference.inputs[0].shape[1:]
    x = np.random.default_rng(seed).random((2, *shape)).astype(np.float32)
    want = keras.ops.convert_to_numpy(all_source_masks(reference, x)).astype(np.float32)
    got = keras.ops.convert_to_numpy(all_source_masks(candidate, x)).astype(np.float32)
    return float(np.abs(got - want).max()) if np.isfinite(got).all() else float("inf")


def checked_copy(network: keras.Model, copy: keras.Model,
                 tolerance: float = BFLOAT16_TOLERANCE) -> keras.Model:
    """`copy` when its masks stay within `tolerance` of `network`'s, else `network` (warned)."""
    gap = mask_gap(network, copy)
    if gap <= tolerance:
        return copy
    warnings.warn(f"the bfloat16 network's masks differ from float32 by {gap:.3g} (a oneDNN "
                  f"bfloat16 kernel issue on this CPU): running in float32", Notice,
                  stacklevel=2)
    return network


def inference_network(network: keras.Model, precision: str = "float32") -> keras.Model:
    """For float32, `network` with its few-filter transposed convolutions (the mask heads) in
    sub-pixel form (`subpixel.subpixel_copy`: the same masks, shared weights); for bfloat16
    a copy with its batch norms folded into their convolutions (on the float32 weights, before
    rounding) and the same sub-pixel heads, that `checked_copy` accepted.

    Float32 is not folded: the copy costs more start-up (0.2 s for the cunet preset, 1.5 s for
    the paper's) than its 7 % shorter network time saves on a 3-minute song.
    """
    if resolve_precision(precision) == "float32":
        return subpixel_copy(network)
    return checked_copy(network, subpixel_copy(fold_batchnorm(network, edit=use_bfloat16)))


def network_precision(network: keras.Model) -> str:
    """"bfloat16" when any of `network`'s layers computes in bfloat16, else "float32"."""
    return "bfloat16" if any(lay.compute_dtype == "bfloat16" for lay in network.layers) else "float32"


def mask_function(network: keras.Model, spec) -> Callable[[np.ndarray], np.ndarray]:
    """patches (B, bins, frames, C) matching `spec` (a tf.TensorSpec with a free batch) ->
    masks (B, bins, frames, C, K) float32 from `network` (any family), traced once."""
    import tensorflow as tf

    @tf.function(input_signature=[spec])
    def masks(magnitude):
        return tf.cast(all_source_masks(network, magnitude), tf.float32)

    return lambda patches: masks(tf.constant(patches, tf.float32)).numpy()
