#!/usr/bin/env bash
# Build soxr.wasm: libsoxr (the library behind python-soxr, which tf_munet_core resamples with)
# for the page, from the same release's sources (python-soxr's sdist bundles libsoxr).
#
# Needs Debian's clang, lld and wasi-libc:  apt-get install -y clang lld wasi-libc
# Configuration (soxr-config.h): the scalar HQ engine (cr32 with fft4g), high-precision clock as
# libsoxr's default build; glue.c is python-soxr's csoxr_divide_proc for float32. The page's
# resampler matches python-soxr's output within 2e-7 (tests/test_web.py).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version="${SOXR_VERSION:-1.1.0}"
python="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$python" -m pip download -q --no-deps --no-binary :all: "soxr==$version" -d "$work"
tar xzf "$work"/soxr-"$version".tar.gz -C "$work"
src="$work/soxr-$version/libsoxr/src"
clang --target=wasm32-wasi --sysroot=/usr -isystem /usr/include/wasm32-wasi -L/usr/lib/wasm32-wasi \
  -O2 -DSOXR_LIB -I"$here" -I"$src" -ffile-prefix-map="$work"=/src -ffile-prefix-map="$here"=/soxr \
  "$src"/soxr.c "$src"/data-io.c "$src"/dbesi0.c "$src"/filter.c "$src"/fft4g64.c "$src"/cr.c \
  "$src"/cr32.c "$src"/fft4g32.c "$here"/glue.c \
  -mexec-model=reactor -Wl,--no-entry -Wl,--export=resample_f32 -Wl,--export=malloc \
  -Wl,--export=free -Wl,--strip-all -Wl,--gc-sections -w -o "$here/soxr.wasm"
cp "$work/soxr-$version/libsoxr/LICENCE" "$here/LICENCE"
echo "$here/soxr.wasm ($(stat -c %s "$here/soxr.wasm") bytes) from soxr $version"
