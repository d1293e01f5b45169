#!/usr/bin/env bash
# CI check of the edge runner on a machine without TensorFlow.
#
# The main environment (first argument: its python) trains a tiny run a few steps, exports it and
# separates a clip with `python -m tf_munet.separate`; then a fresh virtual environment gets only
# `pip install ./edge` (the inference core + numpy, ducc0, soundfile, soxr, ai-edge-litert),
# proves TensorFlow is absent, separates the same clip with `tf-munet-edge` and compares stems.
#
#   bash .ci/edge_check.sh .venv/bin/python       # venv in ${TMPDIR:-/tmp}/tf_munet-edge-venv
set -euo pipefail
cd "$(dirname "$0")/.."
MAIN_PY="${1:-python}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tf_munet-edge-check.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
VENV="${EDGE_VENV:-${TMPDIR:-/tmp}/tf_munet-edge-venv}"

TF_CPP_MIN_LOG_LEVEL=3 PYTHONPATH="$PWD/tests:$PWD" "$MAIN_PY" - "$WORK" <<'PY'
import sys
from pathlib import Path

import soundfile as sf
from _tiny_run import train_tiny_run

from tf_munet.data.synthetic import synthetic_stems
from tf_munet.export import export_run
from tf_munet.cli.separate import main as separate

work = Path(sys.argv[1])
run = train_tiny_run(work / "run", steps=10)
export_run(run, work / "export", formats=("tflite",), quantize=("none",), inputs=("spectrogram",),
           excerpt_chunks=2, latency_repeats=1)
sf.write(work / "clip.wav", synthetic_stems(3, 5.0, rate=44100, channels=2)["mixture"], 44100,
         subtype="FLOAT")
assert separate([str(run), str(work / "clip.wav"), "-o", str(work / "separate"), "--float32",
                 "--no-progress"]) == 0
PY

rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q ./edge
rm -rf edge/build edge/*.egg-info
(cd "$WORK" && "$VENV/bin/python" -c "import importlib.util as u; assert not u.find_spec('tensorflow') and not u.find_spec('keras') and not u.find_spec('tf_munet'), 'not TF-free'")
(cd "$WORK" && "$VENV/bin/tf-munet-edge" export clip.wav -o edge --float32 --no-progress)
# an mp4 (AAC) input through ffmpeg, two MP3 stems in the default folder separated/export/
(cd "$WORK" && ffmpeg -v error -i clip.wav -c:a aac clip.mp4 && "$VENV/bin/tf-munet-edge" export clip.mp4 \
  --two-stems vocals --format mp3 && test -s separated/export/clip/vocals.mp3 && test -s separated/export/clip/no_vocals.mp3)
"$VENV/bin/python" - "$WORK" <<'PY'
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

work = Path(sys.argv[1])
worst = 0.0
for source in ("vocals", "drums", "bass", "other"):
    keras = sf.read(work / "separate" / "clip" / f"{source}.wav")[0]
    edge = sf.read(work / "edge" / "clip" / f"{source}.wav")[0]
    assert keras.shape == edge.shape, (source, keras.shape, edge.shape)
    worst = max(worst, float(np.abs(keras - edge).max()))
assert worst < 1e-4, worst
print(f"edge runner without TensorFlow: stems within {worst:.1e} of python -m tf_munet.separate")
PY
