"""A family and a weighting defined in this file only, registered at test time, pass the contracts.

What adding one takes: a weighting is a `TaskWeighting` subclass plus `register_weighting`; a
family is a builder plus `register_family` (in the package: a builder in `models/`, a line in
`registry.py`). Nothing else in the package or its tests names them: the CLI, training, run
folders, separation and export ask the registry.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from contracts import (
    FOUR,
    SMALL,
    make_trainer,
    run_export_contract,
    run_family_build_contract,
    run_family_save_contract,
    run_train_contract,
    run_weighting_contract,
    training_batch,
)
from keras import layers

from tf_munet.layers import InputScaling, SourceMasks
from tf_munet.models.backbones import build_backbone
from tf_munet.registry import FAMILIES, WEIGHTINGS, Family, Weighting, register_family, register_weighting
from tf_munet.weighting import TaskWeighting


def build_halves(preset, sources):
    """Two U-Nets: one for the first half of the sources (rounded up), one for the rest."""
    a = preset.audio
    inp = keras.Input((a.model_bins, a.frames, a.channels), name="magnitude")
    x = InputScaling(preset.backbone.input_scaling, name="input_scaling")(inp)
    masks = []
    for part, n in zip(("low", "high"), halves(len(sources))):
        y = build_backbone(x, preset.backbone, a.channels * n, prefix=f"{part}_")
        y = layers.Activation(preset.backbone.mask_activation, name=f"{part}_activation")(y)
        masks.append(SourceMasks(a.channels, n, name=f"{part}_masks")(y))
    return keras.Model(inp, layers.Concatenate(axis=-1, name="masks")(masks), name="halves")


def halves(k: int) -> tuple[int, int]:
    return (k - k // 2, k // 2)


@keras.saving.register_keras_serializable(package="tests")
class FirstSourceTwice(TaskWeighting):
    """Fixed weights 2:1: the first source counts twice, the others once."""

    name = "first-twice"

    def initial(self, num_sources):
        return np.array([2.0] + [1.0] * (num_sources - 1), np.float32)


HALVES = Family("halves", "two half U-Nets", build_halves, help="two U-Nets, half the sources each",
                backbone_masks=halves)
FIRST_TWICE = Weighting("first-twice", lambda sources, energies, temperature: FirstSourceTwice())


@pytest.fixture(scope="module", autouse=True)
def registered():
    register_family(HALVES)
    register_weighting(FIRST_TWICE)
    yield
    FAMILIES.pop(HALVES.name)
    WEIGHTINGS.pop(FIRST_TWICE.name)


def test_new_family_passes_the_family_contracts(tmp_path):
    network = run_family_build_contract(HALVES.name)
    assert {layer.name for layer in network.layers} >= {"low_mask_head", "high_mask_head"}
    run_family_save_contract(HALVES.name, tmp_path / "run")
    run_train_contract(HALVES.name)


def test_new_weighting_passes_the_weighting_contract():
    run_weighting_contract(FIRST_TWICE.name)


def test_new_weighting_weighs_the_loss_two_to_one():
    trainer = make_trainer(HALVES.name, FIRST_TWICE.name, lr=0.0)
    np.testing.assert_array_equal(trainer.task_weights.numpy(), [2, 1, 1, 1])
    data = tf.data.Dataset.from_tensors(training_batch(SMALL))
    logs = trainer.fit(data, epochs=1, verbose=0, shuffle=False).history
    losses = [logs[f"loss_{s}"][0] for s in FOUR]
    assert logs["loss"][0] == pytest.approx(2 * losses[0] + sum(losses[1:]), rel=1e-5)


def test_new_entries_reach_the_training_cli():
    from tf_munet.training.options import parse_options

    options = parse_options(["--model", HALVES.name, "--weighting", FIRST_TWICE.name])
    assert (options.model, options.weighting) == (HALVES.name, FIRST_TWICE.name)
    assert options.validate() is options


@pytest.mark.integration
def test_new_family_trains_from_the_cli_and_exports_alike_in_every_runtime(tiny_cache, tmp_path):
    from tf_munet.cli.train import main
    from tf_munet.separation import Separator

    run = tmp_path / "cli"
    assert main(["--data", str(tiny_cache), "--run-dir", str(run), "--model", HALVES.name,
                 "--weighting", FIRST_TWICE.name, "--epochs", "1", "--steps-per-epoch", "2",
                 "--batch-size", "2", "--validation-steps", "1", "--verbose", "0"]) == 0
    separator = Separator.load(run)
    assert separator.family == HALVES.name and separator.sources == FOUR
    run_export_contract(HALVES.name, tmp_path / "export")
