"""Every registered family, weighting, preset and runtime against its contract (tests/contracts.py).

The lists come from the registries: an entry added to `tf_munet.registry` or `tf_munet.presets`
is tested here without editing this file.
"""

import pytest
from contracts import (
    FOUR,
    family_names,
    run_export_contract,
    run_family_build_contract,
    run_family_save_contract,
    run_preset_oracle_contract,
    run_train_contract,
    run_weighting_contract,
    weighting_names,
)

from tf_munet.errors import UserError
from tf_munet.presets import PRESETS, get_preset
from tf_munet.registry import FAMILIES, WEIGHTINGS
from tf_munet.training.options import TrainOptions

DEFAULT_WEIGHTING = TrainOptions().weighting


@pytest.mark.parametrize("family", family_names())
def test_family_builds_by_its_own_description(family):
    run_family_build_contract(family)


@pytest.mark.parametrize("family", family_names())
def test_family_run_folder_loads_back(family, tmp_path):
    run_family_save_contract(family, tmp_path / "run")


@pytest.mark.parametrize("family", family_names())
def test_family_train_steps_change_every_kernel(family):
    run_train_contract(family, DEFAULT_WEIGHTING)


@pytest.mark.parametrize("weighting", weighting_names())
def test_weighting_builds_serialises_and_trains(weighting):
    run_weighting_contract(weighting)


@pytest.mark.integration
@pytest.mark.parametrize("weighting", weighting_names())
@pytest.mark.parametrize("family", family_names())
def test_options_refuse_exactly_the_pairs_that_cannot_train(family, weighting):
    """Every (family, weighting) the training options accept trains; the others are refused
    before any data is read, with a one-line error."""
    options = TrainOptions(model=family, weighting=weighting)
    if WEIGHTINGS[weighting].needs_shared_backbone and not FAMILIES[family].shares_backbone(len(FOUR)):
        with pytest.raises(UserError, match=weighting):
            options.validate()
        return
    options.validate()
    run_train_contract(family, weighting, steps=1)


def test_per_source_selection_needs_a_network_per_source():
    for name, family in FAMILIES.items():
        options = TrainOptions(model=name, selection="per-source")
        if family.network_per_source:
            options.validate()
        else:
            with pytest.raises(UserError, match="per-source"):
                options.validate()


@pytest.fixture(scope="module")
def track():
    """A synthetic track, 44.1 kHz stereo, 4 s (seed 7)."""
    from tf_munet.data.synthetic import synthetic_stems

    return synthetic_stems(7, 4.0, rate=44100, channels=2)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_preset_oracle_masks_give_back_the_sources(preset, track):
    run_preset_oracle_contract(get_preset(preset), track)


@pytest.mark.integration
@pytest.mark.parametrize("family", family_names())
def test_family_exports_alike_in_every_runtime(family, tmp_path):
    run_export_contract(family, tmp_path)
