#!/usr/bin/env bash
# CI check of the user install: `pip install .` in a fresh virtual environment, with no C/C++
# compiler usable (CC/CXX point to `false`, so any package that needs one fails) and none of the
# render extra's packages; then the default training (fewer steps), a separation with no -o and
# the one-line error that names the render extra.
#
#   bash .ci/light_check.sh            # venv in ${TMPDIR:-/tmp}/tf_munet-light-venv
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
VENV="${LIGHT_VENV:-${TMPDIR:-/tmp}/tf_munet-light-venv}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tf_munet-light-check.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
CC=false CXX=false "$VENV/bin/pip" install -q "$REPO"
rm -rf "$REPO/build"
cd "$WORK"
"$VENV/bin/python" -c "import importlib.util as u; bad = [m for m in ('pyworld', 'fluidsynth', 'pretty_midi', 'pytest') if u.find_spec(m)]; assert not bad, bad"
export TF_CPP_MIN_LOG_LEVEL=3 TF_MUNET_CACHE="$WORK/cache"
"$VENV/bin/tf-munet-train" --epochs 1 --steps-per-epoch 5 --verbose 2 --run-dir "runs/tiny"
"$VENV/bin/python" -c "from tf_munet.data.synthetic import synthetic_stems; import soundfile as sf; sf.write('song.wav', synthetic_stems(3, 4.0, rate=44100, channels=2)['mixture'], 44100)"
"$VENV/bin/tf-munet-separate" runs/tiny song.wav --two-stems vocals --format mp3 2>err.txt
test -f separated/tiny/song/vocals.mp3 && test -f separated/tiny/song/no_vocals.mp3
! grep -q $'\r' err.txt
set +e
"$VENV/bin/python" -m tf_munet.synthetic --style rendered --out rendered 2>render.txt
status=$?
set -e
test "$status" = 2 && test "$(wc -l < render.txt)" = 1 && grep -q 'pip install "tf_munet\[render\]"' render.txt
echo "user install: no compiler, no render packages; train, separate (mp3, two stems) and the render extra's one-line error work"
