"""Regenerate tests/data/stempeg_example_scores.json: museval scores of the deterministic
reference separators on the real MUSDB18 track that ships inside stempeg.

    PYTHONPATH=. python tests/make_real_track_reference.py

The track (`stempeg.example_stem_path()`, "The Easton Ellises - Falcon 69", 6 s, MUSDB18 test
set, research-only licence) is read from the installed package and never copied here. Scores:
the ideal ratio mask on each preset's grid ("oracle/<preset>") and mixture / 4 ("mixture"),
through `tf_munet.evaluation.evaluate_track`, the code `python -m tf_munet.evaluate` runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REFERENCE = Path(__file__).parent / "data" / "stempeg_example_scores.json"
PRESET_NAMES = ("paper", "cunet", "fullband", "tiny")


def scores(preset_name: str) -> dict:
    """{"oracle/<preset>" | "mixture": {source: {metric: dB}}} for one preset's grid."""
    from tf_munet.data.musdb_io import example_track
    from tf_munet.data.synthetic import STEMS
    from tf_munet.evaluation import build, evaluate_track, reference_spec
    from tf_munet.presets import get_preset

    preset = get_preset(preset_name).to_dict()
    out = {}
    for kind in ("oracle", "mixture") if preset_name == PRESET_NAMES[0] else ("oracle",):
        spec = reference_spec(kind, preset, STEMS)
        result = evaluate_track(example_track(), [(spec, build(spec))], {spec.label: ["museval"]})
        key = f"oracle/{preset_name}" if kind == "oracle" else "mixture"
        out[key] = {s: {m: round(v, 3) for m, v in metrics.items()}
                    for s, metrics in result["results"][spec.label]["museval"].items()}
    return out


def main() -> int:
    table = {}
    for name in PRESET_NAMES:
        table.update(scores(name))
    REFERENCE.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    print(f"wrote {REFERENCE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
