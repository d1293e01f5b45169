"""Regenerate tests/data/spleeter_2stems_reference.npz with Spleeter 2.4.2 itself.

Spleeter pins TensorFlow 2.12.1 and Python < 3.12, so it runs in its own environment:

    python3.11 -m venv /tmp/spleeter-venv && /tmp/spleeter-venv/bin/pip install spleeter==2.4.2
    PYTHONPATH=. /tmp/spleeter-venv/bin/python tests/make_spleeter_reference.py

It writes a 2stems checkpoint with seeded weights (`_spleeter_seeded`), separates the seeded
input with `spleeter.separator.Separator` (its TensorFlow estimator path) and stores the stems
at a few seeded sample positions, with checksums of the weights and input, so that
`tests/test_hub.py` can rebuild the same checkpoint under TF 2.21 and compare.
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


def main() -> int:
    import spleeter
    from spleeter.separator import Separator

    from tf_munet.hub.spleeter import spleeter_model

    model = spleeter_model("2stems")
    params = json.loads(resources.files("spleeter.resources").joinpath("2stems.json").read_text())
    values = seeded.seeded_values(model.instruments)
    x = seeded.seeded_input()
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(tmp) / "2stems"
        seeded.write_checkpoint(model_dir, values)
        (model_dir / ".probe").write_text("OK")  # Spleeter's "already downloaded" marker
        params["model_dir"] = str(model_dir)
        config = Path(tmp) / "2stems.json"
        config.write_text(json.dumps(params))
        stems = Separator(str(config), multiprocess=False).separate(x)
    keep = seeded.kept_positions(len(x))
    seeded.REFERENCE.parent.mkdir(exist_ok=True)
    np.savez(
        seeded.REFERENCE,
        **{f"stem_{k}": np.asarray(stems[k], np.float32)[keep] for k in model.instruments},
        weights_checksum=seeded.checksum(values), input_checksum=seeded.checksum(x),
        spleeter_version=spleeter.__version__ if hasattr(spleeter, "__version__") else "2.4.2",
    )
    print(f"wrote {seeded.REFERENCE} ({seeded.REFERENCE.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
