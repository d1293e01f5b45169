"""A Spleeter checkpoint with seeded weights, written the same way under TF 2.12 and TF 2.21.

Shared by `tests/make_spleeter_reference.py` (run with Spleeter 2.4.2 in its own environment)
and `tests/test_hub.py`: both write the same checkpoint from the same seed, so the stems stored
by the first can check the conversion in the second. numpy's PCG64 `random()` stream is the same
in numpy 1.x and 2.x; weights and input carry checksums in the reference file all the same.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from tf_munet.hub.spleeter import checkpoint_variables

SEED = 19
DATA = Path(__file__).parent / "data"
RESOURCES = DATA / "spleeter_resources.json"
"""Spleeter 2.4.2's own `spleeter/resources/<name>.json` files, copied by the reference script."""
MODELS = ("2stems", "4stems", "5stems")
RATE = 44100
SECONDS = 13.0  # two of Spleeter's 512-frame patches
KEPT_VALUES = 32768  # stems are stored at 32768 / sources seeded positions (files < 300 KB)

# Scales that keep the seeded network's activations moderate on the seeded input (magnitudes
# of a 4096-point STFT of audio at ~0.3 are in the tens): sigmoid and softmax masks stay off
# saturation, ELUs see both signs.
_FIRST_BN_VARIANCE = 400.0


def reference_path(name: str) -> Path:
    """The stored stems of Spleeter `name` ("2stems", "4stems" or "5stems")."""
    return DATA / f"spleeter_{name}_reference.npz"


def seeded_values(instruments: tuple[str, ...], seed: int = SEED) -> dict[str, np.ndarray]:
    """{checkpoint name: float32 array} for every variable of the U-Net set."""
    values = {}
    for name, _, weight, shape in checkpoint_variables(instruments):
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        u = rng.random(shape)
        if weight == "kernel":
            conv_transpose = "transpose" in name
            fan_in = shape[0] * shape[1] * (shape[3] if conv_transpose else shape[2])
            v = (2 * u - 1) * np.sqrt(6.0 / fan_in)
        elif weight == "bias":
            v = (2 * u - 1) * 0.05
        elif weight == "gamma":
            v = 0.8 + 0.4 * u
        elif weight == "beta" or weight == "moving_mean":
            v = (2 * u - 1) * 0.1
        else:  # moving_variance
            layer = name.split("/")[0]
            index = 0 if layer == "batch_normalization" else int(layer.rsplit("_", 1)[1])
            first = index % 12 == 0  # each U-Net's first BN sees the raw magnitudes' scale
            v = (0.5 + u) * (_FIRST_BN_VARIANCE if first else 1.0)
        values[name] = v.astype(np.float32)
    return values


def write_checkpoint(folder: str | Path, values: dict[str, np.ndarray]) -> str:
    """Write a TF checkpoint `folder/model` (+ its `checkpoint` state file) with these names."""
    import tensorflow as tf

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {n: tf.constant(v) for n, v in values.items()}
    tensors["global_step"] = tf.constant(0, tf.int64)  # tf.estimator restores it
    names = sorted(tensors)
    prefix = str(folder / "model")
    tf.raw_ops.SaveV2(
        prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names),
        tensors=[tensors[n] for n in names],
    )
    (folder / "checkpoint").write_text('model_checkpoint_path: "model"\n'
                                       'all_model_checkpoint_paths: "model"\n')
    return prefix


def seeded_input(seed: int = SEED) -> np.ndarray:
    """(samples, 2) float32: chords of partials with vibrato plus noise bursts, ~0.3 peak."""
    rng = np.random.default_rng([seed, 1])
    n = int(SECONDS * RATE)
    t = np.arange(n) / RATE
    x = np.zeros((n, 2))
    for _ in range(12):
        f0 = 80 + 900 * rng.random()
        start, length = rng.random() * SECONDS, 0.3 + 2 * rng.random()
        env = np.clip(1 - np.abs(t - start - length / 2) / (length / 2), 0, None)
        pan = rng.random()
        for h in range(1, 8):
            tone = np.sin(2 * np.pi * h * f0 * t + 3 * np.sin(2 * np.pi * 5 * t)) / h
            x[:, 0] += pan * env * tone
            x[:, 1] += (1 - pan) * env * tone
    x += 0.3 * (2 * rng.random((n, 2)) - 1) * (np.sin(2 * np.pi * 2 * t) > 0.7)[:, None]
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


def kept_positions(n: int, sources: int = 2, seed: int = SEED) -> np.ndarray:
    """The sample positions whose stem values the reference file of `sources` stems keeps."""
    rng = np.random.default_rng([seed, 2])
    return np.sort(rng.choice(n, KEPT_VALUES // sources, replace=False))


def checksum(values) -> float:
    """A float64 sum of |x| over arrays (detects a different weight or input stream)."""
    arrays = values.values() if isinstance(values, dict) else [values]
    return float(sum(np.abs(np.asarray(a, np.float64)).sum() for a in arrays))
