"""Inference copies of a network that compute in bfloat16 (its weights stay float32).

On CPUs with AMX or AVX512-BF16 instructions (oneDNN uses them at run time) a bfloat16 copy's
convolutions run about 1.8x faster than float32 (cunet and paper presets, measured by the
benchmarks); its masks differ from float32 by a few thousandths. On CPUs without those
instructions bfloat16 is slower: measure before choosing it. The input scaling (a log or a
division of magnitudes) and the mask head (activation, reshape, outputs) stay float32.
"""

from __future__ import annotations

import keras

from tf_munet.errors import UserError

PRECISIONS = ("float32", "bfloat16")
_FLOAT32_LAYERS = ("InputLayer", "InputScaling", "Activation", "SourceMasks")


def with_precision(network: keras.Model, precision: str) -> keras.Model:
    """`network` itself for "float32"; for "bfloat16" a copy with the same weights whose
    layers compute in bfloat16 (Keras' "mixed_bfloat16" policy)."""
    if precision not in PRECISIONS:
        raise UserError(f"Unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}.")
    if precision == "float32":
        return network
    import tf_munet.layers  # noqa: F401 - registers the custom layers for from_config

    config = network.get_config()
    entries = config["output_layers"]  # [name, node, index] for one output, else a list of them
    outputs = {entries[0]} if isinstance(entries[0], str) else {e[0] for e in entries}
    for layer in config["layers"]:
        if layer["class_name"] not in _FLOAT32_LAYERS and layer["name"] not in outputs:
            layer["config"]["dtype"] = "mixed_bfloat16"
    copy = keras.Model.from_config(config)
    copy.set_weights(network.get_weights())
    return copy
