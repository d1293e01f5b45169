// A worker for the input-rate DSP of a frame range (dsp.overlapAddFrames): the page's threads
// for the work tf_munet_core's separator shares out between its threads.

import * as dsp from "./dsp.js";
import { loadFFT } from "./fft.js";

const ready = loadFFT();
const grids = new Map();

self.onmessage = async ({ data }) => {
  try {
    await ready;
    const key = `${JSON.stringify(data.audio)}@${data.rate}/${data.fast}`;
    if (!grids.has(key)) grids.set(key, new dsp.InputGrid(data.audio, data.rate, data.fast));
    const rows = dsp.overlapAddFrames(data.x, data.masks, data.modelFrames, grids.get(key), data.audio, data.k,
      data.normalization, data.u0, data.u1, data.synthesis);
    self.postMessage({ id: data.id, rows }, rows.flat().map((r) => r.buffer));
  } catch (err) {
    self.postMessage({ id: data.id, error: String((err && err.stack) || err) });
  }
};
