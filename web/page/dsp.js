// The separator's signal processing, ported from tf_munet_core: the reference for app developers.
//
// Every function names the core function it mirrors; any difference from the core is a bug
// (tests/test_web.py compares this page's stems with tf-munet-edge's). Audio is planar: one
// Float32Array per channel. Arrays the core holds as float32 are Float32Arrays here, so every
// stored value is rounded to float32 as numpy rounds it.
//
// Layouts (row-major, as numpy's):
//   magnitudes  (model_bins, frames, Cm)          ModelGrid.magnitude
//   masks       (freq_bins, frames, Cm, K)        masks.network_masks
//   channel masks (freq_bins, frames, K)          masks.masks_per_channel

import { RealFFT } from "./fft.js";

/** spectra.EXTEND_TOP: bins above the model's band take the mean of this many top bins. */
export const EXTEND_TOP = 8;

const f32 = Math.fround;

/** Python's round(): halves go to the even neighbour. */
export function pyRound(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** spectra.hann: periodic Hann window, float32. */
export function hann(n) {
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n);
  return w;
}

/** np.pad(x, pad, mode="reflect") of one channel (the edge sample is not repeated). */
export function reflectPad(x, pad) {
  const n = x.length;
  const out = new Float32Array(n + 2 * pad);
  out.set(x, pad);
  for (let i = 1; i <= pad; i++) {
    out[pad - i] = x[i];
    out[pad + n - 1 + i] = x[n - 1 - i];
  }
  return out;
}

/** np.linspace(a, b, n). */
function linspace(a, b, n) {
  const out = new Float64Array(n);
  const step = (b - a) / (n - 1);
  for (let i = 0; i < n; i++) out[i] = i * step + a;
  if (n > 1) out[n - 1] = b;
  return out;
}

/** spectra.interp_matrix: (positions.length, nIn) linear-interpolation rows, float32. */
export function interpMatrix(positions, nIn) {
  const m = new Float32Array(positions.length * nIn);
  positions.forEach((p, row) => {
    const pos = Math.min(Math.max(p, 0), nIn - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(lo + 1, nIn - 1);
    const frac = pos - lo;
    m[row * nIn + lo] += 1 - frac;
    m[row * nIn + hi] += frac;
  });
  return m;
}

/** spectra.warp_matrix: (nOut, nIn) linear bins -> the paper's log-spaced bins. */
export function warpMatrix(nIn, nOut) {
  const y = linspace(-1, 1, nOut);
  return interpMatrix(Array.from(y, (v) => ((((21 ** ((v + 1) / 2)) - 11) / 10 + 1) / 2) * (nIn - 1)), nIn);
}

/** spectra.unwarp_matrix: (nLinear, nWarped) log-spaced bins back to linear bins. */
export function unwarpMatrix(nWarped, nLinear) {
  const yLin = linspace(-1, 1, nLinear);
  return interpMatrix(Array.from(yLin, (v) => ((2 * Math.log(10 * v + 11)) / Math.log(21.0) - 1 + 1) / 2 * (nWarped - 1)),
    nWarped);
}

/** (rows, inner) @ (inner, cols) float32 matrices, accumulated in double. */
function matmul(a, b, rows, inner, cols) {
  const out = new Float32Array(rows * cols);
  const acc = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    acc.fill(0);
    for (let i = 0; i < inner; i++) {
      const w = a[r * inner + i];
      if (w === 0) continue;
      const off = i * cols;
      for (let c = 0; c < cols; c++) acc[c] += w * b[off + c];
    }
    out.set(acc, r * cols);
  }
  return out;
}

/** spectra.ModelGrid: model-rate audio -> the network's input grid, and masks back. */
export class ModelGrid {
  constructor(audio) {
    this.audio = audio;
    this.window = hann(audio.n_fft);
    this.fft = new RealFFT(audio.n_fft);
    this.warp = audio.warp_bins ? warpMatrix(audio.freq_bins, audio.warp_bins) : null;
    this.unwarp = audio.warp_bins ? unwarpMatrix(audio.warp_bins, audio.freq_bins) : null;
  }

  /** ModelGrid.magnitude: views (Cm channels at the model's rate) -> {data (model_bins,
   * frames, Cm), frames}: |spectra.stft| of the first freq_bins bins, warped when the preset
   * warps. */
  magnitude(view) {
    const { n_fft: nFft, hop, freq_bins: fb } = this.audio;
    const cm = view.length;
    const n = view[0].length;
    const frames = 1 + Math.floor(n / hop);
    const mag = new Float32Array(fb * frames * cm);
    const frame = new Float32Array(nFft);
    const spec = new Float32Array(nFft + 2);
    for (let c = 0; c < cm; c++) {
      const xp = reflectPad(view[c], nFft / 2);
      for (let t = 0; t < frames; t++) {
        for (let i = 0; i < nFft; i++) frame[i] = xp[t * hop + i] * this.window[i];
        this.fft.rfft(frame, spec);
        for (let f = 0; f < fb; f++) mag[(f * frames + t) * cm + c] = Math.hypot(spec[2 * f], spec[2 * f + 1]);
      }
    }
    if (!this.warp) return { data: mag, frames };
    return { data: matmul(this.warp, mag, this.audio.warp_bins, fb, frames * cm), frames };
  }

  /** ModelGrid.to_linear: masks (B, model_bins, ...rest) -> (B, freq_bins, ...rest). */
  toLinear(masks, batch, rest) {
    if (!this.unwarp) return masks;
    const w = this.audio.warp_bins;
    const fb = this.audio.freq_bins;
    const out = new Float32Array(batch * fb * rest);
    for (let b = 0; b < batch; b++) {
      const lin = matmul(this.unwarp, masks.subarray(b * w * rest, (b + 1) * w * rest), fb, w, rest);
      out.set(lin, b * fb * rest);
    }
    return out;
  }
}

/** masks.patch_starts: patch starts and padded length covering `total` frames. */
export function patchStarts(total, size, overlap) {
  const step = Math.max(1, Math.trunc(size * (1 - overlap)));
  const padded = Math.max(size, total);
  const starts = [];
  for (let s = 0; s <= padded - size; s += step) starts.push(s);
  if (starts[starts.length - 1] + size < padded) starts.push(padded - size);
  return { starts, padded };
}

/** masks.patch_weight: Hann weights of a patch's frames (> 0 everywhere). */
export function patchWeight(size) {
  const w = new Float32Array(size);
  for (let i = 0; i < size; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * (i + 0.5)) / size);
  return w;
}

/** litert.batch_plan: [[items, batch size]] covering n items with calls of fixed sizes. */
export function batchPlan(n, sizes) {
  const plan = [];
  const biggest = Math.max(...sizes);
  while (n > 0) {
    const size = n >= biggest ? biggest : Math.min(...sizes.filter((s) => s >= n));
    plan.push([Math.min(n, size), size]);
    n -= size;
  }
  return plan;
}

/** masks.normalize_masks, in place on groups of k values (the sources of one bin): clipped at
 * 0; "exhaustive" divides by their sum (silent bins shared equally), "partial" only where the
 * sum is above 1, "raw" keeps them. */
export function normalizeMasks(masks, k, mode) {
  for (let i = 0; i < masks.length; i++) if (!(masks[i] > 0)) masks[i] = 0;  // np.maximum(m, 0)
  if (mode === "raw") return masks;
  if (mode !== "exhaustive" && mode !== "partial") throw new Error(`unknown normalization ${mode}`);
  const share = f32(1 / k);
  const tiny = f32(1e-8);
  for (let g = 0; g < masks.length; g += k) {
    let total = masks[g];
    for (let j = 1; j < k; j++) total = f32(total + masks[g + j]);  // masks.sum_last_axis
    if (mode === "exhaustive") {
      const d = Math.max(total, tiny);
      for (let j = 0; j < k; j++) masks[g + j] = total <= 1e-8 ? share : masks[g + j] / d;
    } else {
      const d = Math.max(total, 1);
      for (let j = 0; j < k; j++) masks[g + j] = masks[g + j] / d;
    }
  }
  return masks;
}

/** masks.channel_views: what the model sees of a segment, and how masks map back. */
export function channelViews(x, modelChannels) {
  if (modelChannels === 1) {
    const mean = Float32Array.from(x[0]);
    for (let c = 1; c < x.length; c++) for (let i = 0; i < mean.length; i++) mean[i] += x[c][i];
    const count = x.length;
    for (let i = 0; i < mean.length; i++) mean[i] /= count;
    return { views: [[mean]], mode: "shared" };
  }
  if (x.length === modelChannels) return { views: [x], mode: "per_channel" };
  return { views: x.map((ch) => Array.from({ length: modelChannels }, () => ch)), mode: "dup" };
}

/** masks.masks_per_channel: views' masks (F, T, Cm, K) -> one (F, T, K) per input channel (a
 * mono model's mask is the same array for every channel). */
export function masksPerChannel(masks, mode, channels, cm, k) {
  const pick = (m, c) => {  // m[:, :, c]
    const groups = m.length / (cm * k);
    const out = new Float32Array(groups * k);
    for (let g = 0; g < groups; g++) for (let j = 0; j < k; j++) out[g * k + j] = m[(g * cm + c) * k + j];
    return out;
  };
  if (mode === "shared") {
    const one = pick(masks[0], 0);
    return Array.from({ length: channels }, () => one);
  }
  if (mode === "per_channel") return Array.from({ length: channels }, (_, c) => pick(masks[0], c));
  return masks.map((m) => {  // m.mean(axis=2)
    const groups = m.length / (cm * k);
    const out = new Float32Array(groups * k);
    for (let g = 0; g < groups; g++) {
      for (let j = 0; j < k; j++) {
        let s = m[g * cm * k + j];
        for (let c = 1; c < cm; c++) s = f32(s + m[(g * cm + c) * k + j]);
        out[g * k + j] = s / cm;
      }
    }
    return out;
  });
}

/** mapping._largest_prime_factor. */
function largestPrimeFactor(n) {
  let factor = 2;
  let largest = 1;
  while (factor * factor <= n) {
    while (n % factor === 0) {
      n /= factor;
      largest = factor;
    }
    factor += 1;
  }
  return Math.max(largest, n);
}

/** mapping.input_stft: [n_fft, hop] at `rate` lasting as long as the model's (n_fft even);
 * `fast`: the even length within 0.1 % whose largest prime factor is the smallest. */
export function inputStft(audio, rate, fast = false) {
  const scale = rate / audio.sample_rate;
  const exact = audio.n_fft * scale;
  let nFft = Math.max(16, 2 * pyRound(exact / 2));
  if (fast && nFft > 64) {
    let best = null;
    for (let n = 2 * Math.ceil((exact * 0.999) / 2); n <= Math.floor(exact * 1.001); n += 2) {
      const key = [largestPrimeFactor(n), Math.abs(n - exact)];
      if (!best || key[0] < best[0] || (key[0] === best[0] && key[1] < best[1])) best = [...key, n];
    }
    if (best) nFft = best[2];
  }
  const hop = Math.max(1, pyRound(audio.hop * scale));
  return [nFft, Math.min(hop, Math.floor(nFft / 2))];
}

/** mapping.linear_weights: {lo, hi, frac} sampling a length-n axis at clamped positions. */
export function linearWeights(positions, n) {
  const lo = new Int32Array(positions.length);
  const hi = new Int32Array(positions.length);
  const frac = new Float32Array(positions.length);
  positions.forEach((p, i) => {
    const pos = Math.min(Math.max(p, 0), n - 1);
    lo[i] = Math.floor(pos);
    hi[i] = Math.min(lo[i] + 1, n - 1);
    frac[i] = pos - lo[i];
  });
  return { lo, hi, frac };
}

/** mapping.InputGrid.build: the input rate's STFT and frequency map as gathers. */
export class InputGrid {
  constructor(audio, rate, fast = false) {
    const [nFft, hop] = inputStft(audio, rate, fast);
    this.rate = rate;
    this.fast = fast;
    this.nFft = nFft;
    this.hop = hop;
    this.window = hann(nFft);
    this.freqBins = audio.freq_bins;
    // mapping.frequency_positions: input bin j at j * rate / n_fft Hz on the model's bins
    const bins = nFft / 2 + 1;
    const pos = Array.from({ length: bins }, (_, j) => (((j * rate) / nFft) * audio.n_fft) / audio.sample_rate);
    const nExt = Math.max(audio.freq_bins, Math.ceil(Math.max(...pos)) + 2);
    const { lo, hi, frac } = linearWeights(pos, nExt);
    const fb = audio.freq_bins;
    this.nLow = lo.filter((v) => v < fb).length;
    this.fLo = lo.slice(0, this.nLow).map((v) => Math.min(v, fb));
    this.fHi = hi.slice(0, this.nLow).map((v) => Math.min(v, fb));
    this.fFrac = frac.slice(0, this.nLow);
    this.fft = new RealFFT(nFft);
  }
}

/** mapping.OverlapAdd: the synthesis window (the analysis window divided by the level the sum
 * of squared windows keeps away from the ends) and the division by that sum near the ends
 * (`finish`); overlapAddFrames adds the frames. */
export class OverlapAdd {
  constructor(frames, window, hop) {
    const nFft = window.length;
    this.nFft = nFft;
    this.hop = hop;
    this.frames = frames;
    this.parts = Math.ceil(nFft / hop);
    this.length = (frames - 1 + this.parts) * hop;
    const env = new Float64Array(this.length);
    const sq = Float64Array.from(window, (w) => w * w);
    for (let r = 0; r < this.parts; r++) {  // part r of every frame: samples [a, b) of the window
      const a = r * hop;
      const b = Math.min(nFft, (r + 1) * hop);
      for (let u = 0; u < frames; u++) {
        const to = (r + u) * hop - a;
        for (let i = a; i < b; i++) env[to + i] += sq[i];
      }
    }
    this.env = env;
    let level = 0;  // once per block, so plain loops: they are fast before the JIT has seen them
    for (let i = 0; i < env.length; i++) if (env[i] > level) level = env[i];
    this.level = level;
    this.synthesis = Float32Array.from(window, (w) => w / this.level);
  }

  /** OverlapAdd.finish: samples [pad, pad + n) of `row`, corrected near the ends. */
  finish(row, pad, n) {
    return this.finishRange(row, pad, 0, n);
  }

  /** OverlapAdd.finish on samples [a, b) only (each sample's correction is its own). */
  finishRange(row, pad, a, b) {
    const out = row.slice(pad + a, pad + b);
    for (let i = 0; i < b - a; i++) {
      const gain = this.level / Math.max(this.env[pad + a + i], 1e-8);
      if (Math.abs(gain - 1.0) > 1e-7) out[i] *= f32(gain);
    }
    return out;
  }
}

/** The shape of one segment's inverse STFT: frames, padding and the sources that get one
 * (separator.MaskSeparator._separate_segment: with exhaustive normalisation the last source is
 * the mixture minus the others, so it needs no inverse STFT). */
export function segmentLayout(n, grid, k, normalization) {
  const frames = 1 + Math.floor(n / grid.hop);
  const byResidual = normalization === "exhaustive" && k > 1;
  return { frames, pad: grid.nFft / 2, byResidual, kOut: byResidual ? k - 1 : k };
}

/**
 * The body of separator.MaskSeparator._separate_segment (no Wiener filter) for input frames
 * [u0, u1): each channel's STFT frames (x: C channels of n samples at `rate`) get its normalised
 * masks (F, model frames, K; the same array for channels that share masks) mapped by seconds
 * and by Hz, then an inverse FFT and the synthesis window. Returns rows[s][c]: the frames'
 * overlap-added samples of the padded signal from sample u0 * hop on (mapping.OverlapAdd.add).
 */
export function overlapAddFrames(x, masks, modelFrames, grid, audio, k, normalization, u0, u1, synthesis) {
  const n = x[0].length;
  const channels = x.length;
  const { nFft, hop, window, freqBins: fb, nLow, fLo, fHi, fFrac } = grid;
  const { frames, pad, kOut } = segmentLayout(n, grid, k, normalization);
  // input frame u is centred at u * hop / rate s; model frame t at t * hop_m / r_m
  const pos = Array.from({ length: frames }, (_, u) => u * (hop / grid.rate) * (audio.sample_rate / audio.hop));
  const { lo: tLo, hi: tHi, frac: tFrac } = linearWeights(pos, modelFrames);
  const keys = [...new Set(masks)];
  const which = masks.map((m) => keys.indexOf(m));
  const span = (u1 - u0 - 1) * hop + nFft;
  const rows = Array.from({ length: kOut }, () => Array.from({ length: channels }, () => new Float32Array(span)));
  const bins = nFft / 2 + 1;
  const fft = grid.fft;  // frames and spectra are written and read in its buffers (fft.time, fft.freq)
  const spec = new Float32Array(2 * bins);
  const mt = new Float32Array(fb + 1);
  const low = keys.map(() => new Float32Array(kOut * nLow));
  const top = keys.map(() => new Float32Array(kOut));
  const topStart = Math.max(0, fb - EXTEND_TOP);
  for (let u = u0; u < u1; u++) {
    const f = tFrac[u];
    const g = f32(1 - f);
    const r0 = tLo[u] * k;
    const r1 = tHi[u] * k;
    const step = modelFrames * k;
    for (let w = 0; w < keys.length; w++) {  // gains: by time (linear), extended (InputGrid.extend), by Hz (InputGrid.gains)
      const m = keys[w];
      const gl = low[w];
      for (let s = 0; s < kOut; s++) {
        for (let b = 0, o = s; b < fb; b++, o += step) mt[b] = m[o + r0] * g + m[o + r1] * f;
        let sum = 0;
        for (let b = topStart; b < fb; b++) sum += mt[b];
        mt[fb] = sum / (fb - topStart);  // spectra.extend_mask: the mean of the top bins
        for (let j = 0; j < nLow; j++) {
          const fj = fFrac[j];
          gl[s * nLow + j] = mt[fLo[j]] * f32(1 - fj) + mt[fHi[j]] * fj;
        }
        top[w][s] = mt[fb];
      }
    }
    const start = u * hop - pad;  // the frame's first sample in the unpadded signal
    const off = (u - u0) * hop;
    for (let c = 0; c < channels; c++) {
      const ch = x[c];
      const frame = fft.views().time;
      if (start >= 0 && start + nFft <= n) {
        for (let i = 0; i < nFft; i++) frame[i] = ch[start + i] * window[i];
      } else {  // the reflect-padded signal (np.pad mode="reflect")
        for (let i = 0; i < nFft; i++) {
          const j = start + i;
          frame[i] = ch[j < 0 ? -j : j >= n ? 2 * (n - 1) - j : j] * window[i];
        }
      }
      spec.set(fft.forward().freq);
      const gl = low[which[c]];
      const gt = top[which[c]];
      for (let s = 0; s < kOut; s++) {  // real gains on complex bins (the core's products)
        const est = fft.views().freq;
        for (let j = 0, o = s * nLow; j < nLow; j++) {
          const gain = gl[o + j];
          est[2 * j] = spec[2 * j] * gain;
          est[2 * j + 1] = spec[2 * j + 1] * gain;
        }
        const t = gt[s];
        for (let j = 2 * nLow; j < 2 * bins; j++) est[j] = spec[j] * t;
        const y = fft.inverse().time;
        const row = rows[s][c];
        for (let i = 0; i < nFft; i++) row[off + i] += f32(y[i] * synthesis[i]);  // OverlapAdd.add
      }
    }
  }
  return rows;
}

/**
 * The end of separator.MaskSeparator._separate_segment: rows[s][c] of the whole padded segment
 * -> stems[k][c] (Float32Array n): OverlapAdd.finish, then the residual source (the mixture
 * minus the others) when normalisation is exhaustive.
 */
export function finishSegment(x, rows, ola, layout) {
  return finishSegmentRange(x, rows, ola, layout, 0, x[0].length);
}

/** finishSegment on the segment's samples [a, b) (every step is per sample): stems[k][c]
 * (Float32Array b - a). Rows must hold every frame that reaches those samples. */
export function finishSegmentRange(x, rows, ola, layout, a, b) {
  const stems = rows.map((perChannel) => perChannel.map((row) => ola.finishRange(row, layout.pad, a, b)));
  if (layout.byResidual) {
    stems.push(x.map((ch, c) => {
      const out = ch.slice(a, b);
      for (const stem of stems) {
        const st = stem[c];
        for (let i = 0; i < b - a; i++) out[i] -= st[i];
      }
      return out;
    }));
  }
  return stems;
}

/** separator.MaskSeparator._separate_segment in one thread: stems[k][c] of one segment. */
export function separateSegment(x, masks, modelFrames, grid, audio, k, normalization) {
  const layout = segmentLayout(x[0].length, grid, k, normalization);
  const ola = new OverlapAdd(layout.frames, grid.window, grid.hop);
  const rows = overlapAddFrames(x, masks, modelFrames, grid, audio, k, normalization, 0, layout.frames,
    ola.synthesis);
  return finishSegment(x, rows.map((perChannel) => perChannel.map((row) => {
    const full = new Float32Array(ola.length + grid.hop);
    full.set(row);
    return full;
  })), ola, layout);
}

/** separator.MaskSeparator.min_samples: shortest input the STFTs take. */
export function minSamples(audio, rate, fast = false) {
  const [nFft] = inputStft(audio, rate, fast);
  return Math.max(nFft, Math.ceil((audio.n_fft * rate) / audio.sample_rate)) + 2;
}

/** streaming.Blocks: how a long input is cut into crossfaded blocks (seconds). */
export class Blocks {
  constructor(blockSeconds = 30.0, fade = 1.0, margin = 0.5) {
    this.blockSeconds = blockSeconds;
    this.fade = fade;
    this.margin = margin;
  }

  /** Blocks.plan: [[core_start, core_stop, seg_start, seg_stop]] covering [0, total). */
  plan(total, rate) {
    const nBlocks = Math.max(1, pyRound(total / (this.blockSeconds * rate)));
    const core = Math.ceil(total / nBlocks);
    const ctx = pyRound((this.fade / 2 + this.margin) * rate);
    const out = [];
    for (let i = 0; i < nBlocks; i++) {
      const a = i * core;
      const b = Math.min(total, (i + 1) * core);
      if (a >= b) break;
      out.push([a, b, Math.max(0, a - ctx), Math.min(total, b + ctx)]);
    }
    return out;
  }

  /** Blocks._crossfade for block i on its samples [from, to) (offsets from its start s0;
   * stems[k][c] hold those samples, changed in place): the ramps, then the previous block's
   * pending samples (pending[k][c], offsets from s0) added. Every step is per sample, so a block
   * can be finished range by range. */
  crossfadeRange(blocks, i, stems, pending, from, to, rate) {
    const [a, b, s0, s1] = blocks[i];
    const fade = this.fade * rate;
    const scale = (lo, hi, ramp) => {  // absolute positions [lo, hi) within the range
      for (let p = Math.max(lo, s0 + from); p < Math.min(hi, s0 + to); p++) {
        const w = f32(ramp(p));
        for (const perChannel of stems) for (const ch of perChannel) ch[p - s0 - from] *= w;
      }
    };
    if (i > 0) {  // fade in over [a - fade / 2, a + fade / 2)
      scale(s0, Math.min(s1, Math.ceil(a + fade / 2)), (p) => Math.min(1, Math.max(0, (p - (a - fade / 2)) / fade)));
    }
    if (i < blocks.length - 1) {  // fade out over (b - fade / 2, b + fade / 2]
      scale(Math.max(s0, Math.floor(b - fade / 2)), s1, (p) => Math.min(1, Math.max(0, (b + fade / 2 - p) / fade)));
    }
    if (pending) {
      stems.forEach((perChannel, s) => perChannel.forEach((ch, c) => {
        const tail = pending[s][c];
        for (let p = from; p < Math.min(to, tail.length); p++) ch[p - from] += tail[p];
      }));
    }
  }

  /** Where block i's finished samples end (offset from its start): the next block's start, or
   * the input's end (Blocks._crossfade's `done`). */
  doneOffset(blocks, i, total) {
    return (i < blocks.length - 1 ? blocks[i + 1][2] : total) - blocks[i][2];
  }
}
