"""Regression on a real song: museval scores of the oracle mask (each preset's grid) and of
mixture / 4 on the MUSDB18 track inside stempeg, against tests/data/stempeg_example_scores.json
(tolerance 0.1 dB). Regenerate with tests/make_real_track_reference.py after intended changes."""

import json
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import make_real_track_reference as reference

pytestmark = pytest.mark.integration  # museval on a real song, per preset

TOLERANCE_DB = 0.1


@pytest.mark.parametrize("preset_name", reference.PRESET_NAMES)
def test_reference_separators_score_as_recorded_on_the_real_track(preset_name):
    expected = json.loads(reference.REFERENCE.read_text())
    for key, sources in reference.scores(preset_name).items():
        for source, metrics in sources.items():
            for metric, value in metrics.items():
                want = expected[key][source][metric]
                assert (math.isnan(value) and math.isnan(want)) or abs(value - want) <= TOLERANCE_DB, \
                    (key, source, metric, value, want)
