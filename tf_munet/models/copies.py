"""Inference copies of a functional network: its config edited, the model rebuilt, the weights
filled in by the caller (`folding`, `precision`)."""

from __future__ import annotations

import json

import keras


def editable_config(network: keras.Model) -> dict:
    """`network`'s functional config with lists everywhere (safe to edit in place)."""
    return json.loads(json.dumps(network.get_config()))


def rebuild(config: dict) -> keras.Model:
    """The model of a functional `config` whose weights the caller sets next: every initializer
    becomes zeros, so no random weights are drawn only to be overwritten (over a second for the
    paper preset)."""
    import tf_munet.layers  # noqa: F401 - registers the custom layers for from_config

    for layer in config["layers"]:
        for key in layer["config"]:
            if key.endswith("_initializer") and layer["config"][key] is not None:
                layer["config"][key] = "zeros"
    return keras.Model.from_config(config)
