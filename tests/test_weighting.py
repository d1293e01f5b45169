"""Loss weightings against hand-computed values, and finiteness on degenerate inputs."""

import keras
import numpy as np
import pytest

from tf_munet.weighting import (
    WEIGHTINGS,
    DynamicWeightAverage,
    EnergyBasedWeighting,
    InstantEnergyWeighting,
    make_weighting,
)

FOUR = ["vocals", "drums", "bass", "other"]
AUTHORS_ENERGIES = {
    "vocals": 173.43, "drums": 218.69, "bass": 252.70, "other": 216.49,
    "accompaniment": 687.53,
}


def test_dwa_matches_hand_computed_weights():
    history = [[1.0, 2.0, 3.0, 4.0], [0.5, 2.0, 2.7, 4.4]]
    w = DynamicWeightAverage(temperature=2.0).on_epoch_end(history)
    ratios = np.array([0.5, 1.0, 0.9, 1.1])
    expected = 4 * np.exp(ratios / 2) / np.exp(ratios / 2).sum()
    np.testing.assert_allclose(w, expected, rtol=1e-6)
    assert w.sum() == pytest.approx(4.0)
    assert np.argmax(w) == 3 and np.argmin(w) == 0  # the slowest-falling task gets most weight


def test_dwa_keeps_unit_weights_for_two_warmup_epochs():
    dwa = DynamicWeightAverage()
    assert dwa.on_epoch_end([]) is None
    assert dwa.on_epoch_end([[1, 1, 1, 1]]) is None
    np.testing.assert_array_equal(dwa.initial(4), np.ones(4))


def test_ebw_p1_and_p2_from_the_authors_energies():
    p1 = make_weighting("ebw-p1", FOUR, AUTHORS_ENERGIES).initial(4)
    np.testing.assert_allclose(p1, [1.457, 1.156, 1.0, 1.167], atol=1e-3)
    p2 = make_weighting("ebw-p2", FOUR, AUTHORS_ENERGIES).initial(4)
    np.testing.assert_allclose(p2, np.square([252.70 / e for e in (173.43, 218.69, 252.70, 216.49)]), rtol=1e-6)
    two = make_weighting("ebw-p1", ["vocals", "accompaniment"], AUTHORS_ENERGIES).initial(2)
    np.testing.assert_allclose(two, [687.53 / 173.43, 1.0], rtol=1e-6)


def test_oh_is_normalised_inverse_energy():
    w = make_weighting("oh", FOUR, AUTHORS_ENERGIES).initial(4)
    inv = 1 / np.array([173.43, 218.69, 252.70, 216.49])
    np.testing.assert_allclose(w, inv / inv.sum(), rtol=1e-6)
    assert w.sum() == pytest.approx(1.0)


def test_zero_energy_and_zero_loss_give_finite_weights():
    energies = {"vocals": 0.0, "drums": 1.0, "bass": 0.0, "other": 2.0}
    for name in ("ebw-p1", "ebw-p2", "oh"):
        assert np.isfinite(make_weighting(name, FOUR, energies).initial(4)).all()
    w = DynamicWeightAverage().on_epoch_end([[0.0, 1.0, 0.0, 1.0], [0.0, 0.5, 1.0, 1.0]])
    assert np.isfinite(w).all() and w.sum() == pytest.approx(4.0)
    inst = InstantEnergyWeighting(reference_index=2)
    w = np.asarray(inst.batch_weights(np.array([0.0, 1.0, 0.0, 4.0], "float32")))
    assert np.isfinite(w).all()
    np.testing.assert_allclose(
        np.asarray(inst.batch_weights(np.array([1.0, 2.0, 4.0, 8.0], "float32"))), [4, 2, 1, 0.5]
    )


@pytest.mark.parametrize("name", WEIGHTINGS)
def test_every_weighting_serializes(name):
    w = make_weighting(name, FOUR, AUTHORS_ENERGIES)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(w))
    assert type(clone) is type(w) and clone.get_config() == w.get_config()
    np.testing.assert_array_equal(clone.initial(4), w.initial(4))


def test_energy_weightings_need_energies():
    with pytest.raises(ValueError, match="energies"):
        make_weighting("ebw-p1", FOUR)
    with pytest.raises(ValueError, match="Unknown weighting"):
        make_weighting("magic", FOUR)
    with pytest.raises(ValueError, match="missing"):
        EnergyBasedWeighting({"vocals": 1.0}, FOUR)


def test_instp1_weighs_a_batch_by_its_linear_stft_energies():
    """EBW InstP1 (authors' `losses.py`): lambda_k = E_bass / E_k with E = sum |S_k|^2 of the
    batch on the *linear* STFT, even when the model sees a log-frequency-warped grid."""
    import tensorflow as tf

    from tf_munet.data.pipeline import _magnitudes
    from tf_munet.models import build_model
    from tf_munet.presets import get_preset
    from tf_munet.training.trainer import SeparatorTrainer
    from tf_munet.weighting import make_weighting

    four = ("vocals", "drums", "bass", "other")
    preset = get_preset("tiny").replace(audio={"warp_bins": 64})
    a = preset.audio
    rng = np.random.default_rng(0)
    gains = np.array([0.3, 1.0, 2.0, 0.6], np.float32)  # different energies per source
    waves = (rng.standard_normal((3, a.chunk_samples, 1, 4)) * gains).astype(np.float32)
    mix, src, energy = _magnitudes(preset, 4, linear_energy=True)(
        tf.constant(waves.sum(-1)), tf.constant(waves))
    assert src.shape[1] == 64  # the model's grid is warped

    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(a.n_fft) / a.n_fft)
    hand = np.zeros((3, 4))
    for b in range(3):
        for k in range(4):
            x = np.pad(waves[b, :, 0, k].astype(np.float64), a.n_fft // 2, mode="reflect")
            frames = np.lib.stride_tricks.sliding_window_view(x, a.n_fft)[:: a.hop]
            hand[b, k] = np.sum(np.abs(np.fft.rfft(frames * win, axis=-1)) ** 2)
    np.testing.assert_allclose(energy.numpy(), hand, rtol=1e-4)

    trainer = SeparatorTrainer(build_model(preset, "munet", four), four,
                               weighting=make_weighting("ebw-inst", four))
    trainer.compile(optimizer=keras.optimizers.Adam(1e-4))
    trainer.train_on_batch(mix, src, sample_weight=energy)  # the pipeline's third element
    expected = hand.mean(0)[2] / hand.mean(0)
    np.testing.assert_allclose(trainer.task_weights.numpy(), expected, rtol=1e-3)
    warped = np.mean(src.numpy() ** 2, axis=(0, 1, 2, 3))
    assert np.abs(warped[2] / warped - expected).max() > 0.05  # the warped grid would differ
