"""Input pipeline vs training step: does tf.data keep the cunet-preset training fed?

One run measures, on the same machine and in the same process:
- prepare: synthetic MUSDB18-HQ tracks (44.1 kHz stereo) -> cunet cache (decode, resample, shards),
  in audio seconds prepared per wall second;
- pipeline: batches/s of `training_dataset` (random crops, silence filter, gains, channel swap,
  remix, STFT magnitudes; batch 16) consumed alone;
- train step: M-U-Net (cunet preset, 4 sources) train-step time on constant tensors;
- fed training: the same train step fed by the pipeline (both sharing the CPU);
- rendering: seconds to render rendered-style songs (FluidSynth, sung vocals) per minute of audio.

The headline is the ratio pipeline batches/s / train steps/s (> 1: the pipeline is not the
bottleneck) and the fed step time against the constant-data step time.

    python -m benchmarks.bench_pipeline [--quick]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def _rate(iterator, n: int, warmup: int = 3) -> float:
    """Items per second of next(iterator) over n items after warmup."""
    for _ in range(warmup):
        next(iterator)
    t0 = time.perf_counter()
    for _ in range(n):
        next(iterator)
    return n / (time.perf_counter() - t0)


def run(quick: bool = False) -> dict:
    import keras
    import numpy as np
    import tensorflow as tf

    from tf_munet.data.pipeline import training_dataset
    from tf_munet.data.prepare import prepare
    from tf_munet.data.render import write_rendered_musdb
    from tf_munet.data.synthetic import write_synthetic_musdb
    from tf_munet.models import build_model
    from tf_munet.presets import get_preset, resolve_sources
    from tf_munet.training.trainer import SeparatorTrainer

    preset_name = "tiny" if quick else "cunet"
    tracks, seconds = (3, 6.0) if quick else (8, 30.0)
    batch, n_batches, n_steps = 16, (20 if quick else 60), (3 if quick else 10)
    preset = get_preset(preset_name)
    sources = resolve_sources("4stems")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        root = write_synthetic_musdb(tmp / "root", train=tracks, test=0, seconds=seconds, seed=0)
        t_synth = time.perf_counter() - t0
        render_tracks, render_seconds = (1, 6.0) if quick else (2, 30.0)
        t0 = time.perf_counter()
        write_rendered_musdb(tmp / "rendered", train=render_tracks, test=0, seconds=render_seconds, seed=0)
        t_render = (time.perf_counter() - t0) * 60 / (render_tracks * render_seconds)
        t0 = time.perf_counter()
        cache = prepare(root, preset, tmp / "cache", progress=False)
        t_prepare = time.perf_counter() - t0

        ds = training_dataset(cache, preset, sources, batch, seed=0)
        pipe_rate = _rate(iter(ds), n_batches)

        net = build_model(preset, "munet", sources)
        trainer = SeparatorTrainer(net, sources)
        trainer.compile(optimizer=keras.optimizers.Adam(1e-3))
        trainer.make_train_function()
        step = trainer.train_function
        mix, src = next(iter(ds))
        constant = iter(tf.data.Dataset.from_tensors((mix, src)).repeat())
        for _ in range(2):
            step(constant)
        times = []
        for _ in range(n_steps):
            t = time.perf_counter()
            step(constant)
            times.append(time.perf_counter() - t)
        t_step = float(np.median(times))

        fed = iter(ds)
        for _ in range(2):
            step(fed)
        t0 = time.perf_counter()
        for _ in range(n_steps):
            logs = step(fed)
        float(logs["loss"])
        t_fed = (time.perf_counter() - t0) / n_steps

    ratio = pipe_rate * t_step
    data = {
        "preset": preset_name,
        "batch": batch,
        "tracks": tracks,
        "track_seconds": seconds,
        "synthetic_s": round(t_synth, 2),
        "render_s_per_audio_minute": round(t_render, 2),
        "prepare_s": round(t_prepare, 2),
        "prepare_audio_s_per_s": round(tracks * seconds / t_prepare, 1),
        "pipeline_batches_per_s": round(pipe_rate, 2),
        "train_step_s": round(t_step, 4),
        "fed_train_step_s": round(t_fed, 4),
        "pipeline_over_training": round(ratio, 2),
        "fed_overhead": round(t_fed / t_step - 1, 3),
    }
    data["markdown"] = (
        f"{preset_name} preset, batch {batch}, 4 sources: the input pipeline alone delivers "
        f"{pipe_rate:.1f} batches/s; an M-U-Net train step takes {t_step * 1e3:.0f} ms on constant "
        f"tensors ({1 / t_step:.2f} steps/s), so the pipeline is **{ratio:.1f}× faster than training "
        f"consumes**. Fed by the pipeline (sharing the CPU) a step takes {t_fed * 1e3:.0f} ms "
        f"({100 * (t_fed / t_step - 1):+.0f}%). Preparing {tracks} synthetic 44.1 kHz stereo tracks of "
        f"{seconds:.0f} s into the cache took {t_prepare:.1f} s ({tracks * seconds / t_prepare:.0f}× real time, "
        f"worker start-up included). Rendering songs of the rendered style (`--style rendered`) "
        f"took {t_render:.1f} s per minute of audio."
    )
    return data


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_pipeline", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny preset, few batches (smoke run)")
    args = parser.parse_args()
    t0 = time.time()
    print(json.dumps(run(args.quick), indent=1))
    print(f"{time.time() - t0:.1f} s")
