"""Each named choice is defined once (tf_munet.registry, tf_munet.presets) and everything that
builds, parses or checks a choice agrees with that one definition."""

import numpy as np
import pytest

from tf_munet.models import all_source_masks, build_model, is_conditioned, one_hot_conditions
from tf_munet.models.families import BUILDERS
from tf_munet.presets import PRESETS, SOURCE_SETS, SOURCE_STEMS, STEMS, get_preset, is_exhaustive
from tf_munet.registry import FAMILIES, WEIGHTINGS
from tf_munet.training.options import parse_options
from tf_munet.weighting import make_weighting

FOUR = SOURCE_SETS["4stems"]


def test_every_name_is_accepted_by_the_training_cli_and_nothing_else():
    for name in FAMILIES:
        assert parse_options(["--model", name]).model == name
    for name in WEIGHTINGS:
        assert parse_options(["--weighting", name]).weighting == name
    for name in PRESETS:
        assert parse_options(["--preset", name]).preset == name
    for flag in ("--model", "--weighting", "--preset"):
        with pytest.raises(SystemExit):
            parse_options([flag, "magic"])


def test_every_family_builds_and_says_whether_it_is_conditioned():
    assert set(BUILDERS) == set(FAMILIES)
    tiny = get_preset("tiny")
    for name, family in FAMILIES.items():
        network = build_model(tiny, name, FOUR)
        assert is_conditioned(network) == family.conditioned, name


def test_every_weighting_name_builds_its_own_method():
    energies = {s: 1.0 + i for i, s in enumerate(SOURCE_STEMS)}
    built = {name: make_weighting(name, FOUR, energies) for name in WEIGHTINGS}
    # Distinct names are distinct methods: no two build the same class with the same settings.
    described = {(type(w).__name__, repr(w.get_config())) for w in built.values()}
    assert len(described) == len(WEIGHTINGS)


def test_source_sets_are_sums_of_the_four_stems():
    from tf_munet.data.pipeline import source_matrix

    # training targets from the stored stems (vocals, drums, bass, other): "4stems" takes each
    # stem alone, in its stored order; "2stems" vocals and the sum of the other three
    np.testing.assert_array_equal(source_matrix(SOURCE_SETS["4stems"]), np.eye(4))
    np.testing.assert_array_equal(source_matrix(SOURCE_SETS["2stems"]), [[1, 0], [0, 1], [0, 1], [0, 1]])
    for name, members in SOURCE_STEMS.items():
        assert set(members) <= set(STEMS), name
    for sources in SOURCE_SETS.values():
        assert is_exhaustive(sources)
    assert is_exhaustive(("accompaniment", "vocals"))
    for partial in [("vocals", "drums"), ("vocals", "accompaniment", "drums"), ("accompaniment",)]:
        assert not is_exhaustive(partial)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_all_source_masks_returns_each_source_in_order(family):
    """For C-U-Net, column k is the network run under the one-hot condition of source k."""
    preset = get_preset("tiny")
    network = build_model(preset, family, FOUR)
    a = preset.audio
    mag = np.random.default_rng(0).random((2, a.model_bins, a.frames, a.channels), "float32")
    masks = np.asarray(all_source_masks(network, mag))
    assert masks.shape == (2, a.model_bins, a.frames, a.channels, len(FOUR))
    conditions = one_hot_conditions(len(FOUR))
    np.testing.assert_array_equal(conditions.argmax(axis=1), np.arange(len(FOUR)))
    np.testing.assert_array_equal(conditions.sum(axis=1), 1.0)
    for k in range(len(FOUR)):
        if is_conditioned(network):
            expected = network([mag, np.repeat(conditions[k : k + 1], 2, axis=0)], training=False)
            expected = np.asarray(expected)[..., 0]
        else:
            expected = np.asarray(network(mag, training=False))[..., k]
        np.testing.assert_allclose(masks[..., k], expected, rtol=1e-5, atol=1e-6)
    if is_conditioned(network):  # the conditions reach the network: sources differ
        assert np.abs(masks[..., 0] - masks[..., 1]).max() > 1e-4
