#!/usr/bin/env bash
# Build pocketfft.wasm: pocketfft's C version (M. Reinecke, BSD-3-Clause; the FFT of numpy <= 1.26)
# for the page's real FFTs, from numpy 1.26's sdist (numpy/fft/_pocketfft.c, CPython wrapper cut).
#
# Needs Debian's clang, lld and wasi-libc:  apt-get install -y clang lld wasi-libc
# glue.c: the page's entry points (float32 arrays in and out, numpy's spectrum layout). -msimd128
# (WebAssembly SIMD: Chromium 91+, node 16.4+) lets clang vectorise the butterflies: the pair of
# 5512-point transforms ran 1.6x faster than with -O3 alone in node 20 (4.7x KISS FFT's speed).
# pip prepares numpy's metadata before it keeps the sdist (minutes on 2 cores; nothing installed);
# NUMPY_SDIST=path/numpy-1.26.4.tar.gz uses one downloaded before. CFLAGS: the optimisation flags.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version="${NUMPY_VERSION:-1.26.4}"
python="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [ -n "${NUMPY_SDIST:-}" ]; then cp "$NUMPY_SDIST" "$work/"  # an sdist downloaded before
else "$python" -m pip download -q --no-deps --no-binary numpy "numpy==$version" -d "$work"; fi
tar xzf "$work/numpy-$version.tar.gz" -C "$work" "numpy-$version/numpy/fft/_pocketfft.c" "numpy-$version/LICENSE.txt"
src="$work/numpy-$version/numpy/fft/_pocketfft.c"
# the FFT part: everything before the wrapper (execute_complex on), without Python's headers
wrapper="$(grep -n '^execute_complex(' "$src" | cut -d: -f1)"
head -n "$((wrapper - 2))" "$src" | grep -v -e 'Python\.h' -e 'numpy/arrayobject\.h' -e 'npy_config\.h' \
  -e 'NPY_NO_DEPRECATED_API' -e 'PY_SSIZE_T_CLEAN' > "$work/pocketfft.c"
clang --target=wasm32-wasi --sysroot=/usr -isystem /usr/include/wasm32-wasi -L/usr/lib/wasm32-wasi \
  ${CFLAGS:--O3 -msimd128} -DNDEBUG -I"$work" -ffile-prefix-map="$work"=/src -ffile-prefix-map="$here"=/pocketfft \
  "$here/glue.c" -mexec-model=reactor -Wl,--no-entry -Wl,--export=real_fft_new -Wl,--export=real_fft_free \
  -Wl,--export=real_fft_forward -Wl,--export=real_fft_inverse -Wl,--export=malloc -Wl,--export=free \
  -Wl,--strip-all -Wl,--gc-sections -o "${OUT:-$here/pocketfft.wasm}"
{ echo "pocketfft.wasm is built from numpy $version's numpy/fft/_pocketfft.c, whose header reads:"
  echo; sed -n '1,11p' "$src"
  echo; echo "numpy's licence, under which numpy distributes the file:"; echo
  cat "$work/numpy-$version/LICENSE.txt"; } > "$here/LICENSE"
echo "${OUT:-$here/pocketfft.wasm} ($(stat -c %s "${OUT:-$here/pocketfft.wasm}") bytes) from numpy $version"
