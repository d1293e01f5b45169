// Real FFTs for the page: KISS FFT (npm @echogarden/kissfft-wasm) in WebAssembly.
//
// Mirrors tf_munet_core/fft.py (rfft, irfft): unnormalised forward transform, inverse divided
// by n. KISS FFT is mixed-radix (radix 2, 3, 4, 5 and a generic butterfly for other primes), so
// it takes every even length the presets use at the input rate and at the model's rate:
// 5512 = 2^3*13*53 (cunet at 44.1 kHz), 4142 = 2*19*109 (paper), 1378 = 2*13*53 (tiny), 1022,
// 1024, 4096. Its real transform needs an even n; `mapping.input_stft` makes every n_fft even.

import KissFFT from "./vendor/kissfft/kissfft.js";

let kiss = null;

/** Load the WebAssembly module once (before the first `RealFFT`). */
export async function loadFFT() {
  if (!kiss) {
    kiss = await KissFFT({ locateFile: (name) => new URL(`./vendor/kissfft/${name}`, import.meta.url).href });
  }
  return kiss;
}

/** Forward and inverse real FFTs of one length, with their buffers in the module's memory. */
export class RealFFT {
  constructor(n) {
    if (!kiss) throw new Error("loadFFT() first");
    if (n % 2) throw new Error(`real FFT length must be even (got ${n})`);
    this.n = n;
    this.bins = n / 2 + 1;
    this.forwardCfg = kiss._kiss_fftr_alloc(n, 0, 0, 0);
    this.inverseCfg = kiss._kiss_fftr_alloc(n, 1, 0, 0);
    this.timePtr = kiss._malloc(4 * n);
    this.freqPtr = kiss._malloc(8 * this.bins);
  }

  /** Spectrum (re, im interleaved, n/2+1 bins) of `frame` (n samples): `fft.rfft`. */
  rfft(frame, out) {
    kiss.HEAPF32.set(frame, this.timePtr >> 2);
    kiss._kiss_fftr(this.forwardCfg, this.timePtr, this.freqPtr);
    out.set(kiss.HEAPF32.subarray(this.freqPtr >> 2, (this.freqPtr >> 2) + 2 * this.bins));
    return out;
  }

  /** n samples of an interleaved half spectrum, divided by n: `fft.irfft`. The imaginary parts
   * of bin 0 and bin n/2 are ignored, as by numpy's and ducc0's c2r. */
  irfft(spec, out) {
    kiss.HEAPF32.set(spec, this.freqPtr >> 2);
    kiss._kiss_fftri(this.inverseCfg, this.freqPtr, this.timePtr);
    const t = kiss.HEAPF32.subarray(this.timePtr >> 2, (this.timePtr >> 2) + this.n);
    const scale = 1 / this.n;
    for (let i = 0; i < this.n; i++) out[i] = t[i] * scale;
    return out;
  }

  free() {
    for (const p of [this.forwardCfg, this.inverseCfg, this.timePtr, this.freqPtr]) kiss._free(p);
  }
}
