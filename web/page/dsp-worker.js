// A worker for the input-rate DSP of a frame range (dsp.overlapAddFrames): the page's threads
// for the work tf_munet_core's separator shares out between its threads.

import * as dsp from "./dsp.js";
import { loadFFT } from "./fft.js";

const ready = loadFFT();
const grids = new Map();
let block = null;  // the segment whose frames are asked for: sent once, then frame ranges

self.onmessage = async ({ data }) => {
  try {
    await ready;
    if (data.type === "block") {
      const key = `${JSON.stringify(data.audio)}@${data.rate}/${data.fast}`;
      if (!grids.has(key)) grids.set(key, new dsp.InputGrid(data.audio, data.rate, data.fast));
      block = { ...data, grid: grids.get(key) };
      return;
    }
    const b = block;
    const rows = dsp.overlapAddFrames(b.x, b.masks, b.modelFrames, b.grid, b.audio, b.k, b.normalization,
      data.u0, data.u1, b.synthesis);
    self.postMessage({ id: data.id, rows }, rows.flat().map((r) => r.buffer));
  } catch (err) {
    self.postMessage({ id: data.id, error: String((err && err.stack) || err) });
  }
};
