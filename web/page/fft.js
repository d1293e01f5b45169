// Real FFTs for the page: pocketfft (C version, M. Reinecke; numpy <= 1.26's FFT) in WebAssembly,
// built by web/pocketfft/build.sh.
//
// Mirrors tf_munet_core/fft.py (rfft, irfft): unnormalised forward transform, inverse divided
// by n. pocketfft is mixed-radix with real-data butterflies for 2, 3, 4, 5 and FFTPACK's generic
// real butterfly for other factors (Bluestein's algorithm where a factor is too large), computed
// in double, so it takes every even length the presets use at the input rate and at the model's
// rate: 5512 = 2^3*13*53 (cunet at 44.1 kHz), 4142 = 2*19*109 (paper), 1378 = 2*13*53 (tiny),
// 1022, 1024, 4096. The page's spectra are float32 (re, im interleaved, n/2+1 bins) like the
// core's complex64; `mapping.input_stft` makes every n_fft even.

let pocket = null;

/** Load the WebAssembly module once (before the first `RealFFT`): the site's copy, or `bytes`
 * of pocketfft.wasm where there is no server (node, tests/test_web.py). */
export async function loadFFT(bytes = null) {
  if (!pocket) {
    const url = new URL("./vendor/pocketfft/pocketfft.wasm", import.meta.url);
    const { instance } = bytes
      ? await WebAssembly.instantiate(bytes, {})
      : await WebAssembly.instantiateStreaming(fetch(url), {});
    instance.exports._initialize();
    pocket = instance.exports;
  }
  return pocket;
}

/** Forward and inverse real FFTs of one length, with their buffers in the module's memory. */
export class RealFFT {
  constructor(n) {
    if (!pocket) throw new Error("loadFFT() first");
    if (n % 2) throw new Error(`real FFT length must be even (got ${n})`);
    this.n = n;
    this.bins = n / 2 + 1;
    this.plan = pocket.real_fft_new(n);
    this.timePtr = pocket.malloc(4 * n);
    this.freqPtr = pocket.malloc(8 * this.bins);
    if (!this.plan || !this.timePtr || !this.freqPtr) throw new Error(`no memory for a real FFT of ${n}`);
    this.buffer = null;  // views(): remade when the module's memory has grown (pocketfft allocates
    // its scratch space in every call, so a call can grow it)
  }

  views() {
    if (this.buffer !== pocket.memory.buffer) {
      this.buffer = pocket.memory.buffer;
      this.time = new Float32Array(this.buffer, this.timePtr, this.n);
      this.freq = new Float32Array(this.buffer, this.freqPtr, 2 * this.bins);
    }
    return this;
  }

  /** `time` (n samples, in the module's memory) -> `freq` (its spectrum): `fft.rfft` without
   * copies. The views are remade after the call: read them through `views()` afterwards. */
  forward() {
    if (pocket.real_fft_forward(this.plan, this.timePtr, this.freqPtr) !== 0) throw new Error(`real FFT of ${this.n} failed (no memory)`);
    return this.views();
  }

  /** `freq` -> `time` (divided by n), in the module's memory: `fft.irfft` without copies. */
  inverse() {
    if (pocket.real_fft_inverse(this.plan, this.freqPtr, this.timePtr) !== 0) throw new Error(`inverse real FFT of ${this.n} failed (no memory)`);
    return this.views();
  }

  /** Spectrum (re, im interleaved, n/2+1 bins) of `frame` (n samples): `fft.rfft`. */
  rfft(frame, out) {
    this.views().time.set(frame);
    out.set(this.forward().freq);
    return out;
  }

  /** n samples of an interleaved half spectrum, divided by n: `fft.irfft`. The imaginary parts
   * of bin 0 and bin n/2 are ignored, as by numpy's and ducc0's c2r. */
  irfft(spec, out) {
    this.views().freq.set(spec);
    out.set(this.inverse().time);
    return out;
  }

  free() {
    pocket.real_fft_free(this.plan);
    pocket.free(this.timePtr);
    pocket.free(this.freqPtr);
  }
}
