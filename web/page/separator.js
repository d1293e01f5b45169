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
const SOURCE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;  // litert.SOURCE_NAME

/** Load LiteRT.js (threaded WebAssembly where the page is cross-origin isolated), pocketfft and
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
  for (const source of manifest.sources) {  // source names become file names: no paths from strangers
    if (typeof source !== "string" || !SOURCE_NAME.test(source)) {
      throw new Error(`${url}: bad source name ${JSON.stringify(source)} (letters, digits, _ and - only)`);
    }
  }
  return manifest;
}

/** litert.LiteRTExport for the spectrogram model: one variant's files compiled in LiteRT.js. */
export class ExportModel {
  static async load(base, manifest, variant, threads) {
    const name = `spectrogram-${variant}`;
    if (!manifest.variants[name]) {
      throw new Error(`no variant ${name}; this export has ${Object.keys(manifest.variants).join(", ")}`);
    }
    const model = new ExportModel();
    model.manifest = manifest;
    model.variant = variant;
    model.audio = manifest.audio;
    model.sources = manifest.sources;
    // exports before the inference core wrote null for partial sets
    model.normalization = manifest.normalize || "partial";
    model.overlap = manifest.overlap ?? 0.5;
    model.models = [];
    model.tensors = [];  // [{file, signature, inputs, outputs: [{name, dtype, shape}]}] for app developers
    model.bytes = 0;
    for (const entry of manifest.variants[name].models) {
      const url = new URL(entry.file, base);
      const response = await fetch(url);
      if (!response.ok) throw new Error(`${url}: missing model file listed in ${MANIFEST}`);
      const bytes = new Uint8Array(await response.arrayBuffer());
      model.bytes += bytes.length;
      const compiled = await loadAndCompile(bytes, { accelerator: "wasm", cpuOptions: { numThreads: threads } });
      const signatures = entry.batches || { 1: entry.signature };
      const runners = {};
      for (const [size, signature] of Object.entries(signatures)) {
        const runner = compiled.signatures[signature];
        const shape = runner.getInputDetails().find((d) => d.name === "magnitude").shape;
        if (shape[0] < 1) {
          throw new Error(`${entry.file}: free batch dimension, which LiteRT.js cannot run; export again with --web`);
        }
        runners[size] = runner;
        const describe = (details) => details.map((d) => ({ name: d.name, dtype: d.dtype, shape: Array.from(d.shape) }));
        model.tensors.push({ file: entry.file, signature, inputs: describe(runner.getInputDetails()),
          outputs: describe(runner.getOutputDetails()) });
      }
      model.models.push({ entry, runners, sizes: Object.keys(runners).map(Number) });
    }
    return model;
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

/** The input-rate DSP of a segment's frames in this thread (dsp.overlapAddFrames). */
export class LocalDsp {
  begin(job, grid) {
    this.job = job;
    this.grid = grid;
  }

  /** [{u0, u1, rows}] of frames [u0, u1). */
  async frames(u0, u1) {
    const j = this.job;
    return [{ u0, u1, rows: dsp.overlapAddFrames(j.x, j.masks, j.modelFrames, this.grid, j.audio, j.k,
      j.normalization, u0, u1, j.synthesis) }];
  }
}

/**
 * Workers sharing out a segment's input-rate DSP by frame ranges (the core's separator shares
 * batches of frames between threads): each worker gets the segment once (`begin`), then ranges
 * of frames, and returns their overlap-added rows.
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

  begin(job, grid) {
    for (const worker of this.workers) worker.postMessage({ ...job, type: "block", rate: grid.rate, fast: grid.fast });
  }

  /** [{u0, u1, rows}] of frames [u0, u1), shared out between the workers. */
  frames(u0, u1) {
    const per = Math.ceil((u1 - u0) / this.workers.length);
    const ranges = this.workers.map((_, i) => [u0 + i * per, Math.min(u1, u0 + (i + 1) * per)]).filter(([a, b]) => a < b);
    return Promise.all(ranges.map(([a, b], i) => new Promise((resolve, reject) => {
      const id = ++this.id;
      this.calls.set(id, { resolve: (rows) => resolve({ u0: a, u1: b, rows }), reject });
      this.workers[i].postMessage({ type: "frames", id, u0: a, u1: b });
    })));
  }
}

/** Frames per step of a segment's input-rate DSP: a block's first samples are final (and
 * playable) after its first step, not its last. */
export const STEPS_PER_BLOCK = 16;

/** separator.NetworkSeparator (as litert.spectrogram_separator builds it) in the page. */
export class PageSeparator {
  constructor(model, { overlap = model.overlap, blocks = new dsp.Blocks(), pool = null, fastFFT = false } = {}) {
    this.dsp = pool || new LocalDsp();  // where the input-rate DSP runs
    this.model = model;
    this.audio = model.audio;
    this.sources = model.sources;
    this.normalization = model.normalization;
    this.overlap = overlap;
    this.blocks = blocks;
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
   * `rate`), block by block, each block in steps of frames. Yields {start, stems: stems[k][c]
   * (finished samples from start), seconds: input seconds they cover}, in order; the caller owns
   * the arrays.
   *
   * A sample is final once every frame that reaches it is added (later frames start later), so
   * after each step the samples before its last frame's start go through OverlapAdd.finish, the
   * residual and the crossfade (all per sample) and out: playback starts after a block's masks
   * and its first step.
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
    const channels = x.length;
    let pending = null;
    // streaming.Blocks.stream's prepare-ahead: the next block's masks (here, in LiteRT's threads)
    // while the DSP runs this block's frames
    const prepare = (i) => {
      const segment = read(blocks[i][2], blocks[i][3]);
      return this.segmentMasks(segment, rate).then((prepared) => ({ segment, ...prepared }));
    };
    let next = prepare(0);
    for (let i = 0; i < blocks.length; i++) {
      const s0 = blocks[i][2];
      const { segment, masks, frames: modelFrames } = await next;
      const n = segment[0].length;
      const layout = dsp.segmentLayout(n, grid, k, this.normalization);
      const ola = new dsp.OverlapAdd(layout.frames, grid.window, grid.hop);
      this.dsp.begin({ x: segment, masks, modelFrames, audio: this.audio, k, normalization: this.normalization,
        synthesis: ola.synthesis }, grid);
      if (i + 1 < blocks.length) next = prepare(i + 1);
      const rows = Array.from({ length: layout.kOut }, () => Array.from({ length: channels },
        () => new Float32Array(ola.length + grid.hop)));
      const done = this.blocks.doneOffset(blocks, i, length);
      const rest = Array.from({ length: k }, () => Array.from({ length: channels }, () => new Float32Array(n - done)));
      const step = Math.max(16, Math.ceil(layout.frames / STEPS_PER_BLOCK));
      // STFT, mapping, iSTFT of frames [ua, ua + step): the next step is asked for before this
      // one's samples go out, so the workers compute while this thread finishes and yields
      const ask = (ua) => this.timed("input_dsp", () => this.dsp.frames(ua, Math.min(layout.frames, ua + step)));
      let asked = ask(0);
      let emitted = 0;
      for (let ua = 0; ua < layout.frames; ua += step) {
        const ub = Math.min(layout.frames, ua + step);
        const parts = await this.timedAsync("input_dsp", () => asked);
        if (ub < layout.frames) asked = ask(ub);
        const end = this.timed("output", () => {
          for (const part of parts) {
            part.rows.forEach((perChannel, s) => perChannel.forEach((row, c) => {
              const full = rows[s][c];
              const off = part.u0 * grid.hop;
              for (let j = 0; j < row.length; j++) full[off + j] += row[j];
            }));
          }
          return ub === layout.frames ? n : Math.min(n, ub * grid.hop - layout.pad);
        });
        if (end <= emitted) continue;
        const stems = this.timed("output", () => {
          const out = dsp.finishSegmentRange(segment, rows, ola, layout, emitted, end);
          this.blocks.crossfadeRange(blocks, i, out, pending, emitted, end, rate);
          const from = Math.max(emitted, done);  // samples the next block's start overlaps: kept for it
          if (end > from) {
            out.forEach((perChannel, s) => perChannel.forEach((ch, c) => {
              rest[s][c].set(ch.subarray(from - emitted, end - emitted), from - done);
            }));
          }
          return out;
        });
        const keep = Math.max(0, Math.min(end, done, total - s0) - emitted);
        if (keep > 0) {
          yield { start: s0 + emitted, stems: stems.map((p) => p.map((ch) => ch.subarray(0, keep))), seconds: keep / rate };
        }
        emitted = end;
      }
      pending = rest;
    }
  }
}
