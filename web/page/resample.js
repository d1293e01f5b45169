// Sample-rate conversion for the page: libsoxr compiled to WebAssembly (web/soxr/build.sh).
//
// Mirrors tf_munet_core/files.py `resample` (python-soxr's `soxr.resample`, quality "HQ"): the
// same library, configuration and call sequence (web/soxr/glue.c mirrors python-soxr's
// csoxr_divide_proc), so the model's input matches the core's to float round-off.

let soxr = null;

const wasi = {  // libsoxr asks only for environment variables (none here) and never prints
  environ_sizes_get: (count, size) => {
    const v = new Uint32Array(soxr.memory.buffer);
    v[count >> 2] = 0;
    v[size >> 2] = 0;
    return 0;
  },
  environ_get: () => 0,
  fd_close: () => 0,
  fd_seek: () => 0,
  fd_write: () => 0,
  proc_exit: (code) => { throw new Error(`soxr exited (${code})`); },
};

/** Load the WebAssembly module once (before the first `resample`). */
export async function loadResampler() {
  if (!soxr) {
    const url = new URL("./vendor/soxr/soxr.wasm", import.meta.url);
    const { instance } = await WebAssembly.instantiateStreaming(fetch(url), { wasi_snapshot_preview1: wasi });
    soxr = instance.exports;
    soxr._initialize();
  }
}

/**
 * Channels (array of Float32Array, equal lengths) from one rate to another: `files.resample`.
 * Returns new arrays (the same ones when the rates are equal).
 */
export function resample(channels, fromRate, toRate) {
  if (fromRate === toRate) return channels;
  const c = channels.length;
  const n = channels[0].length;
  const olen = Math.floor((n * toRate) / fromRate) + 1;  // python-soxr's output allowance
  const px = soxr.malloc(4 * n * c);
  const py = soxr.malloc(4 * olen * c);
  try {
    const x = new Float32Array(soxr.memory.buffer, px, n * c);
    for (let ch = 0; ch < c; ch++) {
      const src = channels[ch];
      for (let i = 0; i < n; i++) x[i * c + ch] = src[i];
    }
    const done = soxr.resample_f32(fromRate, toRate, c, px, n, py, olen) >>> 0;  // size_t
    if (done > olen) throw new Error(`soxr could not resample ${fromRate} Hz to ${toRate} Hz`);
    const y = new Float32Array(soxr.memory.buffer, py, done * c);
    return channels.map((_, ch) => {
      const out = new Float32Array(done);
      for (let i = 0; i < done; i++) out[i] = y[i * c + ch];
      return out;
    });
  } finally {
    soxr.free(px);
    soxr.free(py);
  }
}
