"""Parameters, training cost and the machine's limit: sections 1, 2 and 4 of the benchmark.

- params: each family and preset (C-U-Net with its control generator's share);
- training: optimizer steps and examples per epoch on the same data (C-U-Net needs K + 2 passes
  per chunk to see every condition), examples per second of each family's train step;
- limit: achieved FLOP/s of the batched forward pass and the train step against a float32
  matmul peak measured in the same process.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def params_table(presets=("tiny", "cunet", "paper", "fullband")) -> list[dict]:
    from tf_munet.cli.models import summarize
    from tf_munet.presets import get_preset

    rows = []
    for name in presets:
        audio = get_preset(name).audio
        patch_seconds = audio.chunk_samples / audio.sample_rate
        for row in summarize(name):
            row["gflops_per_audio_second"] = row["flops_per_separation"] / patch_seconds / 1e9
            rows.append({"preset": name, "patch_seconds": patch_seconds, **row})
    return rows


def matmul_peak(n: int = 2048, repeat: int = 10) -> float:
    """Achieved float32 FLOP/s of an n x n matmul (the machine's practical peak)."""
    import tensorflow as tf

    from benchmarks.common import best_time

    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    fn = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
    t = best_time(lambda: fn().numpy(), repeat=repeat, warmup=2)
    return 2 * n**3 / t


def train_and_forward(preset_name: str = "cunet", batch: int = 16, steps: int = 5) -> list[dict]:
    """Examples/s of the train step and the forward pass, per family, same data and batch."""
    import keras
    import tensorflow as tf

    from benchmarks.common import best_time
    from tf_munet.models import build_model, count_flops
    from tf_munet.models.conditions import one_hot_conditions
    from tf_munet.presets import get_preset, resolve_sources
    from tf_munet.registry import FAMILIES
    from tf_munet.training.trainer import SeparatorTrainer

    preset = get_preset(preset_name)
    sources = resolve_sources("4stems")
    a = preset.audio
    rng = np.random.default_rng(0)
    src = rng.random((batch, a.model_bins, a.frames, a.channels, 4)).astype("float32")
    mix = src.sum(-1)
    rows = []
    for family in FAMILIES.values():
        net = build_model(preset, family.name, sources)
        trainer = SeparatorTrainer(net, sources)
        trainer.compile(optimizer=keras.optimizers.Adam(1e-4))
        trainer.make_train_function()
        data = (tf.constant(mix), tf.constant(src))
        step = trainer.train_function
        it = iter(tf.data.Dataset.from_tensors(data).repeat())
        t_train = best_time(lambda: step(it), repeat=steps, warmup=2)
        inputs = [tf.constant(mix)]
        if family.conditioned:
            inputs.append(tf.constant(one_hot_conditions(len(sources))[np.arange(batch) % len(sources)]))
        fwd = tf.function(lambda *x: net(list(x) if len(x) > 1 else x[0], training=False))
        t_fwd = best_time(lambda: fwd(*inputs).numpy(), repeat=steps, warmup=2)
        flops = count_flops(net)
        passes = family.passes_per_separation(len(sources))
        rows.append(
            {
                "family": family.name,
                "batch": batch,
                "train_step_s": t_train,
                "train_examples_per_s": batch / t_train,
                "train_gflops_per_s": 3 * flops * batch / t_train / 1e9,
                "forward_s": t_fwd,
                "forward_gflops_per_s": flops * batch / t_fwd / 1e9,
                "separation_network_s_per_patch": t_fwd * passes / batch,
            }
        )
    return rows


def epoch_cost(chunks: int = 1000, batch: int = 16, sources: int = 4) -> dict:
    """Optimizer steps (and examples) per epoch to see every chunk under every target."""
    return {
        "chunks": chunks,
        "munet_steps": int(np.ceil(chunks / batch)),
        "dedicated_steps": int(np.ceil(chunks / batch)),
        "dedicated_network_passes": sources * chunks,
        "cunet_steps": int(np.ceil(chunks * (sources + 2) / batch)),
        "cunet_examples": chunks * (sources + 2),
    }


def run(quick: bool = False) -> dict:
    peak = matmul_peak(1024 if quick else 2048)
    steps = 2 if quick else 5
    training = train_and_forward("tiny" if quick else "cunet", batch=16, steps=steps)
    for row in training:
        row["train_fraction_of_peak"] = row["train_gflops_per_s"] * 1e9 / peak
        row["forward_fraction_of_peak"] = row["forward_gflops_per_s"] * 1e9 / peak
    return {
        "matmul_peak_gflops": peak / 1e9,
        "params": params_table(("tiny",) if quick else ("tiny", "cunet", "paper", "fullband")),
        "training": training,
        "epoch_cost": epoch_cost(),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    t0 = time.time()
    import json

    print(json.dumps(run(args.quick), indent=1))
    print(f"{time.time() - t0:.1f} s")
