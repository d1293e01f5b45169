// An export's spectrogram model in LiteRT.js, and the separator around it (block by block).
//
// Mirrors tf_munet_core/litert.py (LiteRTExport, spectrogram_separator) and separator.py
// (NetworkSeparator, MaskSeparator.separate_file's path through streaming.Blocks). The DSP is
// in dsp.js, the FFTs in fft.js, the resampler in resample.js.

import { loadAndCompile, loadLiteRt, supportsFeature, Tensor } from "./vendor/litertjs/core/index.js";
import * as dsp from "./dsp.js";
import { loadFFT } from "./fft.js";
import { loadResampler, resample } from "./resample.js";

export const MANIFEST = "manifest.json";
export const MANIFEST_FORMAT = "tf_munet-tflite/1";
export const BATCH_SIZE = 8;  // NetworkSeparator's batch_size: patches per network call

/** Load LiteRT.js (threaded WebAssembly where the page is cross-origin isolated), KISS FFT and
 * soxr. Returns the number of LiteRT threads (1 without isolation). */
export async function loadRuntime(wasmDir) {
  const threads = self.crossOriginIsolated && (await supportsFeature("relaxedSimd")) && (await supportsFeature("threads"));
  await Promise.all([loadLiteRt(wasmDir, { threads }), loadFFT(), loadResampler()]);
  return threads ? Math.max(1, Math.min(navigator.hardwareConcurrency || 1, 8)) : 1;
}

/** The spectrogram variants of a manifest ("float32", "int8", ...), float32 first. */
export function spectrogramVariants(manifest) {
  return Object.keys(manifest.variants)
    .filter((name) => name.startsWith("spectrogram-"))
    .map((name) => name.slice("spectrogram-".length))
    .sort((a, b) => (a === "float32" ? -1 : b === "float32" ? 1 : a.localeCompare(b)));
}

/** Fetch and check an export's manifest (litert.LiteRTExport's checks). */
export async function fetchManifest(base) {
  const url = new URL(MANIFEST, base);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: not an export folder (no ${MANIFEST}; run python -m tf_munet.export)`);
  const manifest = await response.json();
  if (manifest.format !== MANIFEST_FORMAT) throw new Error(`${url}: unknown manifest format ${manifest.format}`);
  return manifest;
}

/** litert.LiteRTExport for the spectrogram model: one variant's files compiled in LiteRT.js. */
export class ExportModel {
  static async load(base, manifest, variant, threads) {
    const name = `spectrogram-${variant}`;
    if (!manifest.variants[name]) {
      throw new Error(`no variant ${name}; this export has ${Object.keys(manifest.variants).join(", ")}`);
    }
    const self = new ExportModel();
    self.manifest = manifest;
    self.variant = variant;
    self.audio = manifest.audio;
    self.sources = manifest.sources;
    // exports before the inference core wrote null for partial sets
    self.normalization = manifest.normalize || "partial";
    self.overlap = manifest.overlap ?? 0.5;
    self.models = [];
    self.tensors = [];  // [{file, signature, inputs, outputs: [{name, dtype, shape}]}] for app developers
    self.bytes = 0;
    for (const entry of manifest.variants[name].models) {
      const url = new URL(entry.file, base);
      const response = await fetch(url);
      if (!response.ok) throw new Error(`${url}: missing model file listed in ${MANIFEST}`);
      const bytes = new Uint8Array(await response.arrayBuffer());
      self.bytes += bytes.length;
      const model = await loadAndCompile(bytes, { accelerator: "wasm", cpuOptions: { numThreads: threads } });
      const signatures = entry.batches || { 1: entry.signature };
      const runners = {};
      for (const [size, signature] of Object.entries(signatures)) {
        const runner = model.signatures[signature];
        const shape = runner.getInputDetails().find((d) => d.name === "magnitude").shape;
        if (shape[0] < 1) {
          throw new Error(`${entry.file}: free batch dimension, which LiteRT.js cannot run; export again with --web`);
        }
        runners[size] = runner;
        const describe = (details) => details.map((d) => ({ name: d.name, dtype: d.dtype, shape: Array.from(d.shape) }));
        self.tensors.push({ file: entry.file, signature, inputs: describe(runner.getInputDetails()),
          outputs: describe(runner.getOutputDetails()) });
      }
      self.models.push({ entry, runners, sizes: Object.keys(runners).map(Number) });
    }
    return self;
  }

  /** LiteRTExport.run: patches (count, model_bins, frames, Cm) -> masks (count, model_bins,
   * frames, Cm, K), sources in manifest order. */
  async run(patches, count) {
    const a = this.audio;
    const item = (a.warp_bins || a.freq_bins) * a.frames * a.channels;
    const k = this.sources.length;
    const out = new Float32Array(count * item * k);
    for (const { entry, runners, sizes } of this.models) {
      const conditions = entry.conditioned ? entry.sources.map((s) => [s, this.sources.indexOf(s)]) : [[null, null]];
      for (const [source, index] of conditions) {
        const names = source ? [source] : entry.sources;
        const targets = names.map((s) => this.sources.indexOf(s));
        let start = 0;
        for (const [take, size] of dsp.batchPlan(count, sizes)) {
          const part = new Float32Array(size * item);  // a fixed batch larger than what is left: zeros
          part.set(patches.subarray(start * item, (start + take) * item));
          const feed = { magnitude: new Tensor(part, [size, a.warp_bins || a.freq_bins, a.frames, a.channels]) };
          if (index !== null) {
            const cond = new Float32Array(size * k);
            for (let b = 0; b < size; b++) cond[b * k + index] = 1;
            feed.condition = new Tensor(cond, [size, k]);
          }
          const result = await runners[size].run(feed);
          const masks = result.masks.toTypedArray();  // (size, bins, frames, Cm, names)
          for (const t of Object.values(feed)) t.delete();
          for (const t of Object.values(result)) t.delete();
          const kn = names.length;
          for (let i = 0; i < take * item; i++) {
            const o = (start * item + i) * k;
            for (let j = 0; j < kn; j++) out[o + targets[j]] = masks[i * kn + j];
          }
          start += take;
        }
      }
    }
    return out;
  }
}

/**
 * Workers sharing out a segment's input-rate DSP by frame ranges (the core's separator shares
 * batches of frames between threads): each range's overlap-added rows come back and are summed,
 * then dsp.finishSegment runs here.
 */
export class DspPool {
  constructor(size) {
    this.workers = Array.from({ length: size }, () => new Worker(new URL("./dsp-worker.js", import.meta.url),
      { type: "module" }));
    this.calls = new Map();
    this.id = 0;
    for (const worker of this.workers) {
      worker.onmessage = ({ data }) => {
        const call = this.calls.get(data.id);
        this.calls.delete(data.id);
        if (data.error) call.reject(new Error(`DSP worker: ${data.error}`));
        else call.resolve(data.rows);
      };
      worker.onerror = (event) => {
        for (const call of this.calls.values()) call.reject(new Error(`DSP worker: ${event.message}`));
        this.calls.clear();
      };
    }
  }

  call(worker, message) {
    const id = ++this.id;
    return new Promise((resolve, reject) => {
      this.calls.set(id, { resolve, reject });
      worker.postMessage({ ...message, id });
    });
  }

  /** dsp.separateSegment with the frames shared out between the workers. */
  async separateSegment(x, masks, modelFrames, grid, audio, k, normalization) {
    const layout = dsp.segmentLayout(x[0].length, grid, k, normalization);
    const ola = new dsp.OverlapAdd(layout.frames, grid.window, grid.hop);
    const per = Math.ceil(layout.frames / this.workers.length);
    const ranges = this.workers.map((_, i) => [i * per, Math.min(layout.frames, (i + 1) * per)]).filter(([a, b]) => a < b);
    const parts = await Promise.all(ranges.map(([u0, u1], i) => this.call(this.workers[i], {
      x, masks, modelFrames, audio, rate: grid.rate, fast: grid.fast, k, normalization, u0, u1,
      synthesis: ola.synthesis,
    })));
    const rows = parts[0].map((perChannel) => perChannel.map(() => new Float32Array(ola.length + grid.hop)));
    parts.forEach((part, i) => part.forEach((perChannel, s) => perChannel.forEach((row, c) => {
      const full = rows[s][c];
      const off = ranges[i][0] * grid.hop;
      for (let j = 0; j < row.length; j++) full[off + j] += row[j];
    })));
    return dsp.finishSegment(x, rows, ola, layout);
  }
}

/** separator.NetworkSeparator (as litert.spectrogram_separator builds it) in the page. */
export class PageSeparator {
  constructor(model, { overlap = model.overlap, blocks = new dsp.Blocks(), pool = null, fastFFT = false } = {}) {
    this.model = model;
    this.audio = model.audio;
    this.sources = model.sources;
    this.normalization = model.normalization;
    this.overlap = overlap;
    this.blocks = blocks;
    this.pool = pool;  // a DspPool, or null: the input-rate DSP in this thread
    this.fastFFT = fastFFT;  // MaskSeparator's fast_fft (separate --fast-fft)
    this.grid = new dsp.ModelGrid(this.audio);
    this.inputGrids = new Map();
    this.stages = {};  // seconds per stage, as tf_munet_core.profiler names them
  }

  /** The result of fn(), its time added to stage `name` (profiler.Profiler.stage). */
  timed(name, fn) {
    const t0 = performance.now();
    const out = fn();
    this.stages[name] = (this.stages[name] || 0) + (performance.now() - t0) / 1000;
    return out;
  }

  async timedAsync(name, fn) {
    const t0 = performance.now();
    const out = await fn();
    this.stages[name] = (this.stages[name] || 0) + (performance.now() - t0) / 1000;
    return out;
  }

  /** MaskSeparator._input_grid. */
  inputGrid(rate) {
    if (!this.inputGrids.has(rate)) this.inputGrids.set(rate, new dsp.InputGrid(this.audio, rate, this.fastFFT));
    return this.inputGrids.get(rate);
  }

  /** masks.network_masks: magnitudes (model_bins, T, Cm) -> linear masks (freq_bins, T, Cm, K),
   * patch by patch, averaged on overlaps with Hann weights. */
  async networkMasks(mag, total) {
    const a = this.audio;
    const k = this.sources.length;
    const size = a.frames;
    const bins = a.warp_bins || a.freq_bins;
    const cm = a.channels;
    const { starts, padded } = dsp.patchStarts(total, size, this.overlap);
    const weight = dsp.patchWeight(size);
    const acc = new Float32Array(a.freq_bins * padded * cm * k);
    const wsum = new Float32Array(padded);
    for (let b0 = 0; b0 < starts.length; b0 += BATCH_SIZE) {
      const batch = starts.slice(b0, b0 + BATCH_SIZE);
      const patches = new Float32Array(batch.length * bins * size * cm);  // zeros past the end
      batch.forEach((s, b) => {
        for (let f = 0; f < bins; f++) {
          const have = Math.max(0, Math.min(size, total - s)) * cm;
          const src = (f * total + s) * cm;
          patches.set(mag.subarray(src, src + have), ((b * bins + f) * size) * cm);
        }
      });
      const raw = await this.timedAsync("network", () => this.model.run(patches, batch.length));
      const t0 = performance.now();
      const masks = this.grid.toLinear(raw, batch.length, size * cm * k);
      const row = cm * k;
      batch.forEach((s, b) => {
        for (let f = 0; f < a.freq_bins; f++) {
          for (let t = 0; t < size; t++) {
            const w = weight[t];
            const src = ((b * a.freq_bins + f) * size + t) * row;
            const dst = (f * padded + s + t) * row;
            for (let j = 0; j < row; j++) acc[dst + j] += Math.fround(masks[src + j] * w);
          }
        }
        for (let t = 0; t < size; t++) wsum[s + t] += weight[t];
      });
      this.stages.masks = (this.stages.masks || 0) + (performance.now() - t0) / 1000;
    }
    const out = new Float32Array(a.freq_bins * total * cm * k);
    const row = cm * k;
    for (let f = 0; f < a.freq_bins; f++) {
      for (let t = 0; t < total; t++) {
        const src = (f * padded + t) * row;
        const dst = (f * total + t) * row;
        for (let j = 0; j < row; j++) out[dst + j] = acc[src + j] / wsum[t];
      }
    }
    return out;
  }

  /** MaskSeparator._segment_masks: per input channel, normalised masks (freq_bins, model
   * frames, K) on the model's grid. */
  async segmentMasks(x, rate) {
    const a = this.audio;
    const k = this.sources.length;
    const { views, mode } = dsp.channelViews(x, a.channels);
    const masks = [];
    let frames = 0;
    for (const view of views) {
      const v = this.timed("resample", () => resample(view, rate, a.sample_rate));
      const mag = this.timed("model_stft", () => this.grid.magnitude(v));  // NetworkSeparator.masks_for_view
      frames = mag.frames;
      const linear = await this.networkMasks(mag.data, mag.frames);
      masks.push(this.timed("masks", () => dsp.normalizeMasks(linear, k, this.normalization)));
    }
    return { masks: dsp.masksPerChannel(masks, mode, x.length, a.channels, k), frames };
  }

  /**
   * files.separate_file's loop: the stems of a whole input (C channels of `total` samples at
   * `rate`), block by block. Yields {start, stems: stems[k][c] (finished samples from start),
   * seconds: the input seconds done}; the caller owns the arrays.
   */
  async *stream(x, rate) {
    const total = x[0].length;
    const length = Math.max(total, dsp.minSamples(this.audio, rate, this.fastFFT));  // reads past the end give zeros
    const read = (s0, s1) => x.map((ch) => {
      const out = new Float32Array(s1 - s0);
      out.set(ch.subarray(Math.min(s0, ch.length), Math.min(s1, ch.length)));
      return out;
    });
    const blocks = this.blocks.plan(length, rate);
    const grid = this.inputGrid(rate);
    const k = this.sources.length;
    let pending = null;
    // streaming.Blocks.stream's prepare-ahead: the next block's masks (here, in LiteRT's threads)
    // while the workers run this block's input-rate DSP
    const prepare = (i) => {
      const segment = read(blocks[i][2], blocks[i][3]);
      return this.segmentMasks(segment, rate).then((prepared) => ({ segment, ...prepared }));
    };
    let next = prepare(0);
    for (let i = 0; i < blocks.length; i++) {
      const [a, b, s0] = blocks[i];
      const { segment, masks, frames } = await next;
      const t0 = performance.now();
      const job = this.pool  // input STFT, mapping, inverse STFT
        ? this.pool.separateSegment(segment, masks, frames, grid, this.audio, k, this.normalization)
        : Promise.resolve(dsp.separateSegment(segment, masks, frames, grid, this.audio, k, this.normalization));
      if (i + 1 < blocks.length) next = prepare(i + 1);
      const stems = await job;
      this.stages.input_dsp = (this.stages.input_dsp || 0) + (performance.now() - t0) / 1000;
      const [finished, rest] = this.timed("output", () => this.blocks.crossfade(blocks, i, stems, pending, length, rate));
      pending = rest;
      const keep = Math.max(0, Math.min(finished[0][0].length, total - s0));
      yield { start: s0, stems: finished.map((p) => p.map((ch) => ch.subarray(0, keep))), seconds: (b - a) / rate };
    }
  }
}
