#!/usr/bin/env bash
# Optional CI check of the tensorflow-io backend, in its own environment.
#
# tensorflow-io 0.37.1 (the latest) works only with TensorFlow 2.16/2.17, so it cannot share the
# main environment (TensorFlow 2.21). This script builds a second virtual environment pinned to
# tensorflow 2.17.1 + tensorflow-io 0.37.1 and runs tests/test_data_tfio.py there.
#
#   bash .ci/tfio_check.sh            # venv in ${TMPDIR:-/tmp}/tf_munet-tfio-venv (reused if present)
#   TFIO_VENV=/tmp/v bash .ci/tfio_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
if ! command -v ffmpeg >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq ffmpeg >/dev/null
fi
VENV="${TFIO_VENV:-${TMPDIR:-/tmp}/tf_munet-tfio-venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  # one pip command: installing numpy 2 afterwards breaks TensorFlow 2.17
  "$VENV/bin/pip" install -q "tensorflow==2.17.1" "tensorflow-io==0.37.1" "numpy<2" "keras==3.15.1" \
    soundfile soxr tqdm pyyaml "musdb>=0.4" pytest
  "$VENV/bin/pip" install -q --no-deps -e .
fi
"$VENV/bin/python" -c "import tensorflow as tf, tensorflow_io as tfio; print('tensorflow', tf.__version__, 'tensorflow-io', tfio.__version__)"
TF_CPP_MIN_LOG_LEVEL=3 "$VENV/bin/python" -m pytest -q -p no:cacheprovider -o addopts="" tests/test_data_tfio.py  # no pytest-xdist here
