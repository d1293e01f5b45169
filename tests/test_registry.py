"""Each named choice is defined once (tf_munet.registry, tf_munet.presets) and everything that
builds, parses or checks a choice agrees with that one definition. What each family and weighting
must do is in tests/contracts.py (run over the registries by test_contracts.py)."""

import numpy as np
import pytest

from tf_munet.presets import PRESETS, SOURCE_SETS, SOURCE_STEMS, STEMS, is_exhaustive
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
