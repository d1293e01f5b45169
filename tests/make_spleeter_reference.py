"""Regenerate tests/data/spleeter_<name>_reference.npz and spleeter_resources.json with
Spleeter 2.4.2 itself.

Spleeter pins TensorFlow 2.12.1 and Python < 3.12, so it runs in its own environment:

    python3.11 -m venv /tmp/spleeter-venv && /tmp/spleeter-venv/bin/pip install spleeter==2.4.2
    PYTHONPATH=. /tmp/spleeter-venv/bin/python tests/make_spleeter_reference.py [2stems 4stems 5stems]

For each model it writes a checkpoint with seeded weights (`_spleeter_seeded`), separates the
seeded input with `spleeter.separator.Separator` (its TensorFlow estimator path) under the
model's own configuration (`spleeter/resources/<name>.json`: 4stems and 5stems ELU, 5stems a
softmax across the instruments) and stores the stems at a few seeded sample positions, with
checksums of the weights and input, so that `tests/test_hub.py` can rebuild the same checkpoint
under TF 2.21 and compare. It also copies every released model's configuration file, which
`tests/test_hub.py` checks the converter's table (`tf_munet.hub.spleeter.RELEASES`) against.
"""

from __future__ import annotations

import json
import sys
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import _spleeter_seeded as seeded


def resource(name: str) -> dict:
    return json.loads(resources.files("spleeter.resources").joinpath(f"{name}.json").read_text())


def write_resources() -> None:
    """Spleeter's configuration of every released model, as it ships them."""
    names = [f"{m}{band}" for m in seeded.MODELS for band in ("", "-16kHz")]
    seeded.RESOURCES.write_text(json.dumps({n: resource(n) for n in names}, indent=1) + "\n")
    print(f"wrote {seeded.RESOURCES}")


def write_reference(name: str) -> None:
    import spleeter
    from spleeter.separator import Separator

    from tf_munet.hub.spleeter import spleeter_model

    model = spleeter_model(name)
    params = resource(name)
    values = seeded.seeded_values(model.instruments)
    x = seeded.seeded_input()
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / name
        seeded.write_checkpoint(model_dir, values)
        (model_dir / ".probe").write_text("OK")  # Spleeter's "already downloaded" marker
        params["model_dir"] = str(model_dir)
        config = Path(tmp) / f"{name}.json"
        config.write_text(json.dumps(params))
        stems = Separator(str(config), multiprocess=False).separate(x)
    keep = seeded.kept_positions(len(x), len(model.instruments))
    path = seeded.reference_path(name)
    path.parent.mkdir(exist_ok=True)
    np.savez(
        path,
        **{f"stem_{k}": np.asarray(stems[k], np.float32)[keep] for k in model.instruments},
        weights_checksum=seeded.checksum(values), input_checksum=seeded.checksum(x),
        spleeter_version=getattr(spleeter, "__version__", "2.4.2"),
    )
    print(f"wrote {path} ({path.stat().st_size} bytes)")


def main(argv: list[str]) -> int:
    write_resources()
    for name in argv or seeded.MODELS:
        write_reference(name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
