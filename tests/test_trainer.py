"""The weighted multi-task train/test steps: wiring, learning, learned weightings, resume state."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_munet.models import build_model
from tf_munet.presets import get_preset
from tf_munet.registry import FAMILIES
from tf_munet.training.trainer import SeparatorTrainer
from tf_munet.weighting import WEIGHTINGS, make_weighting

FOUR = ("vocals", "drums", "bass", "other")
ENERGIES = {"vocals": 1.0, "drums": 2.0, "bass": 3.0, "other": 4.0}
SMALL = get_preset("tiny").replace(
    audio={"freq_bins": 32, "frames": 16}, backbone={"widths": (4, 8), "dropout": 0.0}
)


def batch(n=4, seed=0):
    """Sources with distinct spectral shapes; the mixture is their sum."""
    rng = np.random.default_rng(seed)
    a = SMALL.audio
    src = rng.random((n, a.freq_bins, a.frames, 1, 4)).astype("float32")
    src *= np.linspace(1, 0.1, a.freq_bins)[None, :, None, None, None] ** np.arange(4)
    return src.sum(-1), src


def trainer(family="munet", weighting="uw", lr=1e-2, **kw):
    t = SeparatorTrainer(
        build_model(SMALL, family, FOUR), FOUR, make_weighting(weighting, FOUR, ENERGIES), **kw
    )
    t.compile(optimizer=keras.optimizers.Adam(lr))
    return t


def dataset(n=4):
    return tf.data.Dataset.from_tensors(batch(n)).repeat()


@pytest.mark.parametrize("k", range(4))
def test_one_hot_lambda_makes_the_loss_that_sources_loss(k):
    t = trainer(lr=0.0)
    t.set_task_weights(np.eye(4)[k])
    logs = t.fit(dataset(), steps_per_epoch=1, epochs=1, verbose=0, shuffle=False).history
    assert logs["loss"][0] == pytest.approx(logs[f"loss_{FOUR[k]}"][0], rel=1e-6)
    ev = t.evaluate(dataset(), steps=1, verbose=0, return_dict=True)
    assert ev["loss"] == pytest.approx(ev[f"loss_{FOUR[k]}"], rel=1e-6)
    assert ev["sum_loss"] == pytest.approx(sum(ev[f"loss_{s}"] for s in FOUR), rel=1e-5)


def test_losses_match_numpy():
    t = trainer(lr=0.0, target_clip=10.0)
    mix, src = batch()
    ev = t.evaluate(tf.data.Dataset.from_tensors((mix, src)), verbose=0, return_dict=True)
    masks = np.asarray(t.network(mix))
    target = np.clip(src / (mix[..., None] + 1e-6), 0, 10) * mix[..., None]
    expected = np.abs(masks * mix[..., None] - target).mean(axis=(0, 1, 2, 3))
    np.testing.assert_allclose([ev[f"loss_{s}"] for s in FOUR], expected, rtol=1e-4)
    t2 = trainer(lr=0.0, loss="mask_l1")
    t2.network.set_weights(t.network.get_weights())
    ev2 = t2.evaluate(tf.data.Dataset.from_tensors((mix, src)), verbose=0, return_dict=True)
    ratio = np.clip(src / (mix[..., None] + 1e-6), 0, 1)
    np.testing.assert_allclose(
        [ev2[f"loss_{s}"] for s in FOUR], np.abs(masks - ratio).mean(axis=(0, 1, 2, 3)), rtol=1e-4
    )


def _learns(family, weighting):
    t = trainer(family, weighting)
    before = t.evaluate(dataset(), steps=1, verbose=0, return_dict=True)["sum_loss"]
    t.fit(dataset(), steps_per_epoch=12, epochs=1, verbose=0, shuffle=False)
    after = t.evaluate(dataset(), steps=1, verbose=0, return_dict=True)["sum_loss"]
    assert np.isfinite(t.task_weights.numpy()).all()
    return before, after, t


@pytest.mark.parametrize("weighting", WEIGHTINGS)
def test_fit_reduces_the_loss_for_every_weighting(weighting):
    before, after, _ = _learns("munet", weighting)
    assert after < 0.9 * before


@pytest.mark.parametrize("family", list(FAMILIES))
def test_fit_reduces_the_loss_for_every_family(family):
    before, after, _ = _learns(family, "uw")
    assert after < 0.9 * before


def test_learned_weightings_move_lambda():
    _, _, t = _learns("munet", "uncertainty")
    lam = t.task_weights.numpy()
    np.testing.assert_allclose(lam, 0.5 * np.exp(-t.log_variances.numpy()), rtol=1e-6)
    assert not np.allclose(lam, 0.5)
    _, _, t = _learns("munet", "gradnorm")
    lam = t.task_weights.numpy()
    assert lam.sum() == pytest.approx(4.0, rel=1e-5) and not np.allclose(lam, 1.0)
    assert (t.initial_losses.numpy() > 0).all()


def test_instant_energy_weights_follow_the_batch():
    t = trainer(weighting="ebw-inst", lr=0.0)
    mix, src = batch()
    t.fit(tf.data.Dataset.from_tensors((mix, src)), epochs=1, verbose=0, shuffle=False)
    energy = np.square(src).mean(axis=(0, 1, 2, 3))
    np.testing.assert_allclose(t.task_weights.numpy(), energy[2] / energy, rtol=1e-4)


def test_gradnorm_refuses_networks_without_a_shared_backbone():
    with pytest.raises(ValueError, match="GradNorm"):
        trainer("dedicated", "gradnorm").fit(dataset(), steps_per_epoch=1, verbose=0)


def test_checkpoint_restores_weights_optimizer_and_lambda(tmp_path):
    t = trainer(weighting="dwa")
    t.fit(dataset(), steps_per_epoch=3, epochs=1, verbose=0, shuffle=False)
    t.set_task_weights([0.5, 1.0, 1.5, 1.0])
    t.save(tmp_path / "ckpt.keras")
    back = keras.saving.load_model(tmp_path / "ckpt.keras", safe_mode=True)
    assert back.optimizer.iterations.numpy() == 3
    np.testing.assert_array_equal(back.task_weights.numpy(), [0.5, 1.0, 1.5, 1.0])
    mix, _ = batch()
    np.testing.assert_array_equal(np.asarray(back.network(mix)), np.asarray(t.network(mix)))
    for a, b in zip(t.optimizer.variables, back.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


E = np.array([ENERGIES[s] for s in FOUR])


@pytest.mark.parametrize("weighting, lam", [
    ("uw", np.ones(4)),  # lambda_k = 1
    ("ebw-p1", E[2] / E),  # (E_bass / E_k)^p, bass the reference
    ("ebw-p2", (E[2] / E) ** 2),
    ("oh", (1 / E) / (1 / E).sum()),  # proportional to 1 / E_k, summing to 1
], ids=["uw", "ebw-p1", "ebw-p2", "oh"])
def test_the_trained_loss_is_the_weightings_sum(weighting, lam):
    """loss = sum_k lambda_k L_k with each method's lambda from the paper's formula (energies
    1..4 here), not the weighting object's own answer."""
    t = trainer(weighting=weighting, lr=0.0)
    np.testing.assert_allclose(t.task_weights.numpy(), lam, rtol=1e-6)
    logs = t.fit(dataset(), steps_per_epoch=1, epochs=1, verbose=0, shuffle=False).history
    losses = np.array([logs[f"loss_{s}"][0] for s in FOUR])
    assert logs["loss"][0] == pytest.approx(float(lam @ losses), rel=1e-5)
    assert logs["sum_loss"][0] == pytest.approx(float(losses.sum()), rel=1e-5)


@pytest.mark.integration
def test_cunet_loss_scales_with_its_task_weights():
    """C-U-Net examples drawn under source k's condition count lambda_k times (the all-ones and
    all-zeros conditions once): with the same conditions drawn, the loss is affine in lambda."""
    totals, sums = [], []
    for scale in (1.0, 3.0, 5.0):
        keras.utils.set_random_seed(3)
        t = trainer("cunet", lr=0.0)
        t.set_task_weights(np.full(4, scale))
        logs = t.fit(dataset(8), steps_per_epoch=1, epochs=1, verbose=0, shuffle=False).history
        totals.append(logs["loss"][0])
        sums.append(logs["sum_loss"][0])
    assert sums[0] == pytest.approx(sums[1], rel=1e-5) == sums[2]  # the same conditions
    assert totals[1] > 1.5 * totals[0]
    assert totals[2] - totals[0] == pytest.approx(2 * (totals[1] - totals[0]), rel=1e-4)


def test_gradnorm_lowers_lambda_of_tasks_with_large_gradients():
    """GradNorm's first step (all training rates equal): tasks whose loss gradient at the last
    shared layer is above the mean norm lose weight, the others gain; the sum stays K."""
    keras.utils.set_random_seed(0)
    t = trainer(weighting="gradnorm", lr=0.0)
    mix, src = batch()
    t.fit(tf.data.Dataset.from_tensors((mix, src)), epochs=1, verbose=0, shuffle=False)  # builds
    t.set_task_weights(np.ones(4))
    t.initial_losses.assign(np.zeros(4))
    shared = t.shared_kernel()
    with tf.GradientTape(persistent=True) as tape:
        losses, _ = t.per_source_losses(tf.constant(mix), tf.constant(src), training=True)
        task_losses = [losses[i] for i in range(4)]
    norms = np.array([float(tf.norm(tape.gradient(task, shared))) for task in task_losses])
    del tape
    assert norms.max() > 1.2 * norms.min()  # the sources' gradients differ enough to rank
    t.fit(tf.data.Dataset.from_tensors((mix, src)), epochs=1, verbose=0, shuffle=False)
    lam = t.task_weights.numpy()
    assert lam.sum() == pytest.approx(4.0, rel=1e-5)
    np.testing.assert_array_equal(np.sign(lam - 1.0), -np.sign(norms - norms.mean()))
