"""Contract harnesses: what every registered family, weighting, preset and runtime must do.

keras-hub's `run_backbone_test` pattern: each `run_*_contract` takes one registry entry and
checks it against what the entry itself declares (`tf_munet.registry.Family`/`Weighting`).
`test_contracts.py` runs them over the registries, so an entry added to `tf_munet.registry` or
`tf_munet.presets` is tested without editing a list; a test file that registers its own entry
calls them directly (`test_new_entries.py`). Sizes are tiny: one network builds in about a second.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_munet.errors import UserError
from tf_munet.models import all_source_masks, build_model, count_params, is_conditioned
from tf_munet.models.backbones import build_backbone
from tf_munet.presets import Preset, get_preset
from tf_munet.registry import FAMILIES, WEIGHTINGS, get_family, get_weighting
from tf_munet.training.trainer import SeparatorTrainer

FOUR = ("vocals", "drums", "bass", "other")
ENERGIES = {"vocals": 1.0, "drums": 2.0, "bass": 3.0, "other": 4.0, "accompaniment": 9.0}
SMALL = get_preset("tiny").replace(
    audio={"freq_bins": 32, "frames": 16}, backbone={"widths": (4, 8), "dropout": 0.0}
)
"""A preset whose networks build and train in a fraction of a second."""


def family_names() -> list[str]:
    return list(FAMILIES)


def weighting_names() -> list[str]:
    return list(WEIGHTINGS)


def magnitudes(preset: Preset, batch: int = 2, seed: int = 0) -> np.ndarray:
    a = preset.audio
    return np.random.default_rng(seed).random((batch, a.model_bins, a.frames, a.channels), "float32")


def training_batch(preset: Preset = SMALL, sources=FOUR, n: int = 4, seed: int = 0):
    """Sources with distinct spectral shapes; the mixture is their sum."""
    a = preset.audio
    rng = np.random.default_rng(seed)
    src = rng.random((n, a.model_bins, a.frames, a.channels, len(sources))).astype("float32")
    src *= np.linspace(1, 0.1, a.model_bins)[None, :, None, None, None] ** np.arange(len(sources))
    return src.sum(-1), src


def randomize_film(network: keras.Model, seed: int = 0) -> keras.Model:
    """Random FiLM heads, so each condition's mask is visibly its own (an untrained C-U-Net's
    FiLM starts close to the identity)."""
    rng = np.random.default_rng(seed)
    for layer in network.layers:
        if layer.name.startswith("film") and getattr(layer, "kernel", None) is not None:
            layer.kernel.assign(rng.standard_normal(layer.kernel.shape).astype("float32"))
    return network


def backbone_params(preset: Preset, out_channels: int) -> int:
    """Parameters of one bare backbone with `out_channels` mask channels (no FiLM)."""
    a = preset.audio
    inp = keras.Input((a.model_bins, a.frames, a.channels))
    return count_params(keras.Model(inp, build_backbone(inp, preset.backbone, out_channels)))


def expected_params(name: str, preset: Preset, network: keras.Model, sources=FOUR) -> int:
    """The family's own formula: its backbones (`Family.backbone_masks`) plus the control
    generator and FiLM heads of a conditioned network."""
    family = get_family(name)
    c = preset.audio.channels
    layout = family.backbone_masks(len(sources))
    control = count_params(network, "control") + count_params(network, "film")
    return sum(backbone_params(preset, m * c) for m in layout) + control


# ----------------------------------------------------------------------------------- families


def run_family_build_contract(name: str, preset: Preset = SMALL, sources=FOUR) -> keras.Model:
    """Builds, counts its parameters by its own formula, returns every source's mask in source
    order, keeps what it says about conditions, passes and export units, and loads back."""
    family = get_family(name)
    k = len(sources)
    network = randomize_film(build_model(preset, name, sources))
    assert is_conditioned(network) == family.conditioned, name
    assert count_params(network) == expected_params(name, preset, network, sources), name
    if family.conditioned:
        assert count_params(network, "control") > 0, name
    # passes x masks per pass = K: the declared passes are what the network needs
    assert family.passes_per_separation(k) * network.output.shape[-1] == k, name
    assert family.training_conditions(k) >= family.passes_per_separation(k), name

    x = magnitudes(preset)
    masks = np.asarray(all_source_masks(network, x))
    a = preset.audio
    assert masks.shape == (2, a.model_bins, a.frames, a.channels, k), name
    assert np.isfinite(masks).all() and masks.min() >= 0, name
    eye = np.eye(k, dtype="float32")
    for i in range(k):  # column i is source i: its output, or the pass under its one-hot condition
        want = (network([x, np.repeat(eye[i : i + 1], len(x), 0)]) if family.conditioned
                else network(x)[..., i : i + 1])
        np.testing.assert_allclose(masks[..., i], np.asarray(want)[..., 0], rtol=1e-5, atol=1e-6)
    assert np.abs(masks[..., 0] - masks[..., 1]).max() > 1e-4, name  # each source its own mask

    units = family.export_units(tuple(sources))
    assert [s for _, members in units for s in members] == list(sources), name
    for suffix, members in units:
        if suffix:  # a unit of its own: the layer it ends in exists and gives its masks
            assert network.get_layer(f"{suffix}_mask").output.shape[-1] == len(members), name
    return network


def run_family_save_contract(name: str, directory: Path, preset: Preset = SMALL, sources=FOUR) -> None:
    """A run folder written for the family loads back (safe mode) with the same masks."""
    from tf_munet.run_dir import RunConfig, load_run, save_network, save_run_config

    network = randomize_film(build_model(preset, name, sources))
    save_run_config(directory, RunConfig(preset, name, tuple(sources)))
    save_network(directory / "model.keras", network)
    config, loaded = load_run(directory)
    assert config.model == name and tuple(config.sources) == tuple(sources)
    x = magnitudes(preset)
    np.testing.assert_array_equal(np.asarray(all_source_masks(network, x)),
                                  np.asarray(all_source_masks(loaded, x)))


def make_trainer(family: str, weighting: str = "uw", preset: Preset = SMALL, sources=FOUR,
                 lr: float = 1e-2) -> SeparatorTrainer:
    spec = get_weighting(weighting)
    trainer = SeparatorTrainer(build_model(preset, family, sources), sources,
                               spec.make(sources, ENERGIES))
    # eager: tracing and compiling cost more than two tiny steps (test_trainer.py traces them)
    trainer.compile(optimizer=keras.optimizers.Adam(lr), run_eagerly=True)
    return trainer


def run_train_contract(family: str, weighting: str = "uw", preset: Preset = SMALL, sources=FOUR,
                       steps: int = 2) -> SeparatorTrainer:
    """A couple of train steps change every backbone's weights and keep every number finite."""
    trainer = make_trainer(family, weighting, preset, sources)
    before = [v.numpy().copy() for v in trainer.network.trainable_variables]
    mix, src = training_batch(preset, sources)
    data = tf.data.Dataset.from_tensors((mix, src)).repeat()
    logs = trainer.fit(data, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False).history
    for s in sources:
        assert np.isfinite(logs[f"loss_{s}"][-1]), (family, weighting, s)
    assert np.isfinite(trainer.task_weights.numpy()).all(), (family, weighting)
    changed = {v.path for v, b in zip(trainer.network.trainable_variables, before)
               if not np.array_equal(v.numpy(), b)}
    kernels = [v.path for v in trainer.network.trainable_variables if len(v.shape) == 4]
    assert set(kernels) <= changed, (family, weighting, sorted(set(kernels) - changed)[:3])
    return trainer


# ---------------------------------------------------------------------------------- weightings


def family_for(weighting: str) -> str:
    """The first registered family the weighting can train (`Family.check_options`)."""
    from tf_munet.training.options import TrainOptions

    for name in FAMILIES:
        try:
            get_family(name).check_options(TrainOptions(model=name, weighting=weighting))
        except UserError:
            continue
        return name
    raise AssertionError(f"no registered family trains with weighting {weighting!r}")


def run_weighting_contract(name: str, family: str | None = None, sources=FOUR) -> None:
    """Builds from the registry (refusing missing energies when it needs them), starts from
    finite positive weights, survives a checkpoint's serialisation and trains."""
    spec = get_weighting(name)
    family = family or family_for(name)
    k = len(sources)
    if spec.needs_energies:
        with pytest.raises(UserError, match="energies"):
            spec.make(sources, None)
    weighting = spec.make(sources, ENERGIES)
    initial = np.asarray(weighting.initial(k))
    assert initial.shape == (k,) and np.isfinite(initial).all() and (initial > 0).all(), name
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(weighting))
    assert type(again) is type(weighting) and again.get_config() == weighting.get_config(), name
    run_train_contract(family, name, sources=sources)
    history = [[1.0] * k, [0.5] * k, [0.4] * k]
    update = weighting.on_epoch_end(history)
    assert update is None or (np.shape(update) == (k,) and np.isfinite(update).all()), name


# ------------------------------------------------------------------------------------ presets


def run_preset_oracle_contract(preset: Preset, track: dict, sources=FOUR, margin_db: float = 3.0) -> None:
    """Ideal masks on the preset's grid, through the separator's mapping, give back each source:
    every stem is nearer its own source than any other, and far better than mixture / K."""
    from tf_munet.separation import MixtureSeparator, OracleSeparator

    refs = {s: track[s] for s in sources}
    est = OracleSeparator(preset, sources).separate(track["mixture"], 44100, references=refs)
    assert list(est) == list(sources)
    base = MixtureSeparator(sources).separate(track["mixture"], 44100)
    for s in sources:
        own = snr(track[s], est[s])
        assert own > snr(track[s], base[s]) + 5, (preset.name, s, own)
        assert all(own > snr(track[o], est[s]) + margin_db for o in FOUR if o != s), (preset.name, s)


def snr(ref, est) -> float:
    return float(10 * np.log10(np.sum(ref**2) / max(np.sum((ref - est) ** 2), 1e-20)))


# ----------------------------------------------------------------------------------- runtimes


def _keras(run, export, **options):
    from tf_munet.separation import Separator

    return Separator.load(run, **options)


def _savedmodel(run, export, **options):
    from tf_munet.export.savedmodel import SavedModelSeparator

    return SavedModelSeparator.load(export, **options)


def _litert(run, export, **options):
    from tf_munet_core.litert import load_separator

    return load_separator(export, **options)


RUNTIMES = {"keras": _keras, "savedmodel": _savedmodel, "litert": _litert}
"""The runtimes a run separates with: (run folder, export folder, **options) -> separator."""


def run_export_contract(family: str, directory: Path, preset: Preset | None = None,
                        sources=("vocals", "drums"), steps: int = 4) -> None:
    """A few-step run of the family exported (SavedModel + float32 spectrogram TF-Lite) gives
    the same stems in every runtime (slow: TF-Lite conversion; mark callers integration)."""
    from _tiny_run import train_tiny_run

    from tf_munet.data.synthetic import synthetic_stems
    from tf_munet.export import export_run

    run = train_tiny_run(directory / "run", family=family, steps=steps, preset=preset, sources=sources)
    export = directory / "export"
    export_run(run, export, formats=("savedmodel", "tflite"), quantize=("none",),
               inputs=("spectrogram",), excerpt_chunks=2, latency_repeats=1)
    clip = synthetic_stems(11, 2.0, rate=22050, channels=2)["mixture"]
    stems = {name: load(run, export, block_seconds=2.0).separate(clip, 22050) for name, load in RUNTIMES.items()}
    want = stems.pop("keras")
    assert list(want) == list(sources)
    assert max(np.abs(want[s]).max() for s in sources) > 1e-3  # stems, not silence
    for name, got in stems.items():
        for s in sources:
            assert got[s].shape == clip.shape, (family, name, s)
            assert np.abs(got[s] - want[s]).max() < 1e-4, (family, name, s)
