"""A trained tiny run folder for separation/evaluation tests, built without the training CLI.

Trains the tiny preset for a few hundred steps on magnitudes of synthetic tracks generated at the
model's rate, remixing sources across tracks with random gains (augmentation matters: without
it training on few tracks stops improving early), then writes config.json + model.keras as run_dir.py lays them out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FOUR = ("vocals", "drums", "bass", "other")


def train_tiny_run(run_dir: Path, family: str = "munet", steps: int = 200, seed: int = 0,
                   preset=None, sources: tuple[str, ...] = FOUR) -> Path:
    """A run separating `sources` (any subset of the four; the mixture always holds all four)."""
    import keras
    import tensorflow as tf

    from tf_munet.data.synthetic import synthetic_stems
    from tf_munet.models import build_model
    from tf_munet.presets import get_preset
    from tf_munet.run_dir import RunConfig, save_network, save_run_config
    from tf_munet.spectral import SpectralFrontEnd
    from tf_munet.training.trainer import SeparatorTrainer

    p = preset or get_preset("tiny")
    a = p.audio
    tracks = [synthetic_stems(100 + i, 8.0, rate=a.sample_rate, channels=a.channels) for i in range(6)]
    front = SpectralFrontEnd(a)
    rng = np.random.default_rng(seed)
    n, b, k = a.chunk_samples, 8, len(FOUR)

    def batches():
        while True:
            src = np.zeros((b, k, n, a.channels), np.float32)
            for i in range(b):
                for j, s in enumerate(FOUR):
                    t = tracks[rng.integers(len(tracks))][s]
                    o = rng.integers(0, len(t) - n)
                    src[i, j] = t[o : o + n] * rng.uniform(0.5, 1.5)
            mags = front.magnitude(tf.constant(src.reshape(b * k, n, a.channels)))
            mags = tf.reshape(mags, (b, k, a.model_bins, a.frames, a.channels))
            mags = tf.gather(mags, [FOUR.index(s) for s in sources], axis=1)
            yield front.magnitude(tf.constant(src.sum(1))), tf.transpose(mags, (0, 2, 3, 4, 1))

    spec = (tf.TensorSpec((b, a.model_bins, a.frames, a.channels)),
            tf.TensorSpec((b, a.model_bins, a.frames, a.channels, len(sources))))
    ds = tf.data.Dataset.from_generator(batches, output_signature=spec)
    keras.utils.set_random_seed(seed)
    net = build_model(p, family, sources)
    trainer = SeparatorTrainer(net, sources)
    trainer.compile(optimizer=keras.optimizers.Adam(2e-3))
    if steps:
        trainer.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
    run_dir = Path(run_dir)
    save_run_config(run_dir, RunConfig(p, family, tuple(sources)))
    save_network(run_dir / "model.keras", net)
    return run_dir
