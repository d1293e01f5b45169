// The page: load the export's model, separate a chosen or dropped file block by block, play the
// stems with a mixer while the rest is separated, download each stem as WAV.
//
// `window.tfMunet` exposes the state for scripts (python -m tf_munet.web separate drives it):
// state ("loading", "ready", "separating", "done", "error"), error, timings (seconds).

import { StemPlayer } from "./player.js";
import { Blocks } from "./dsp.js";
import { DspPool, ExportModel, PageSeparator, fetchManifest, loadRuntime, spectrogramVariants } from "./separator.js";
import { decodeAudioFile, encodeWav } from "./wav.js";

const $ = (id) => document.getElementById(id);
const FAMILIES = { munet: "M-U-Net", dedicated: "dedicated U-Nets", cunet: "C-U-Net" };
const VARIANT_NAMES = { none: "float32", fp16: "float16" };  // litert.VARIANT_NAMES: export's --quantize names
const base = new URL(".", document.baseURI);  // the export folder: manifest.json and .tflite files
const params = new URLSearchParams(location.search);
const api = (window.tfMunet = { state: "loading", error: null, timings: {}, stems: null, rate: null });

let separator = null;
let player = null;

function setState(state) {
  api.state = state;
  document.body.dataset.state = state;
}

function fail(err) {
  console.error(err);
  api.error = (err && err.message) || String(err);
  $("error").textContent = api.error;
  $("error").hidden = false;
  setState("error");
}

function clock(seconds) {
  const s = Math.floor(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

async function init() {
  const t0 = performance.now();
  try {
    const manifest = await fetchManifest(base);
    const variants = spectrogramVariants(manifest);
    if (!variants.length) throw new Error("this export has no spectrogram model (export with --inputs spectrogram)");
    const asked = params.get("variant");
    const variant = asked ? VARIANT_NAMES[asked] || asked : variants[0];
    for (const v of variants) $("variant").add(new Option(v, v, false, v === variant));
    $("variant").onchange = () => { location.search = `?variant=${$("variant").value}`; };
    const threads = await loadRuntime(new URL("./vendor/litertjs/wasm/", import.meta.url).href);
    const model = await ExportModel.load(base, manifest, variant, threads);
    const blockSeconds = Number(params.get("block_seconds") || 30);  // separate --block-seconds
    // DSP workers: every core (the `workers` parameter overrides; 0: the DSP in this thread)
    const workers = Number(params.get("workers") ?? Math.min(navigator.hardwareConcurrency || 1, 8));
    separator = new PageSeparator(model, {
      blocks: new Blocks(blockSeconds), pool: workers > 0 ? new DspPool(workers) : null,
      fastFFT: params.get("fast_fft") === "1",  // separate --fast-fft
    });
    const a = manifest.audio;
    $("model").textContent = `${FAMILIES[manifest.family] || manifest.family} separating ${manifest.sources.join(", ")}`
      + ` · ${variant} model, ${(model.bytes / 1e6).toFixed(1)} MB · works at ${a.sample_rate} Hz, stems at your file's rate`;
    $("runtime").textContent = `LiteRT.js on WebAssembly, ${threads} thread${threads > 1 ? "s" : ""}; `
      + `${workers || "no"} DSP worker${workers === 1 ? "" : "s"}`
      + (self.crossOriginIsolated ? "" : " (serve with python -m tf_munet.web serve for threads)");
    const shown = (list) => list.map((t) => `${t.name} ${t.dtype} [${t.shape.join(", ")}]`).join("\n");
    for (const t of model.tensors) {
      const row = $("tensors").insertRow();
      for (const text of [t.file, t.signature, shown(t.inputs), shown(t.outputs)]) row.insertCell().textContent = text;
    }
    api.timings.loadSeconds = (performance.now() - t0) / 1000;
    setState("ready");
  } catch (err) {
    fail(err);
  }
}

function buildMixer(sources) {
  const body = $("stems");
  body.replaceChildren();
  sources.forEach((source, k) => {
    const row = document.createElement("tr");
    row.innerHTML = `<td class="name"></td>
      <td><input type="range" min="0" max="1.5" step="0.01" value="1" aria-label="volume"></td>
      <td><input type="checkbox" aria-label="mute"></td>
      <td><input type="checkbox" aria-label="solo"></td>
      <td><a class="download" href="#" download>Download</a></td>`;
    row.querySelector(".name").textContent = source;
    const [volume, mute, solo] = row.querySelectorAll("input");
    volume.oninput = () => player.setVolume(k, Number(volume.value));
    mute.onchange = () => player.setMuted(k, mute.checked);
    solo.onchange = () => player.setSoloed(k, solo.checked);
    const link = row.querySelector("a");
    link.dataset.source = source;
    link.onclick = (event) => {
      event.preventDefault();
      if (!api.stems) return;  // enabled once every block is separated
      const blob = encodeWav(api.stems[k], api.rate, { float32: $("format").value === "float32" });
      const url = URL.createObjectURL(blob);
      const a = document.createElement("a");
      a.href = url;
      a.download = `${source}.wav`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    };
    body.append(row);
  });
}

async function separateFile(file) {
  if (!separator || api.state === "separating") return;
  player?.pause();
  $("error").hidden = true;
  api.error = null;
  api.stems = null;
  api.timings = { loadSeconds: api.timings.loadSeconds };
  setState("separating");
  separator.stages = {};
  const t0 = performance.now();
  try {
    $("progress").hidden = false;
    $("bar").style.width = "0";
    $("status").textContent = `Decoding ${file.name}…`;
    const { channels, rate } = await decodeAudioFile(file);
    api.timings.decodeSeconds = (performance.now() - t0) / 1000;
    const total = channels[0].length;
    const seconds = total / rate;
    const sources = separator.sources;
    const out = sources.map(() => channels.map(() => new Float32Array(total)));
    player = api.player = new StemPlayer(sources, rate, channels.length);
    buildMixer(sources);
    $("mixer").hidden = false;
    $("play").disabled = true;
    $("status").textContent = `Separating ${file.name} (${clock(seconds)}): the first block…`;
    let done = 0;
    for await (const block of separator.stream(channels, rate)) {
      block.stems.forEach((perChannel, k) => perChannel.forEach((ch, c) => out[k][c].set(ch, block.start)));
      player.add(block.start, block.stems);
      if (api.timings.firstAudioSeconds === undefined) {
        api.timings.firstAudioSeconds = (performance.now() - t0) / 1000;
        $("play").disabled = false;
      }
      done = Math.min(seconds, done + block.seconds);
      $("bar").style.width = `${(100 * done) / seconds}%`;
      $("status").textContent = `Separating ${file.name}: ${clock(done)} of ${clock(seconds)} (you can play what is ready)`;
      await new Promise((resolve) => setTimeout(resolve, 0));  // let the page paint
    }
    api.stems = out;
    api.rate = rate;
    api.name = file.name;
    api.timings.separateSeconds = (performance.now() - t0) / 1000;
    api.timings.stages = { ...separator.stages };
    api.timings.audioSeconds = seconds;
    $("bar").style.width = "100%";
    $("status").textContent = `${file.name}: ${clock(seconds)} separated in ${api.timings.separateSeconds.toFixed(1)} s`
      + ` (${(seconds / api.timings.separateSeconds).toFixed(1)}x real time)`;
    setState("done");
  } catch (err) {
    fail(err);
  }
}

$("file").onchange = () => {
  const file = $("file").files[0];
  $("file").value = "";  // choosing the same file again separates it again
  if (file) separateFile(file);
};
const drop = $("drop");
drop.ondragover = (event) => { event.preventDefault(); drop.classList.add("over"); };
drop.ondragleave = () => drop.classList.remove("over");
drop.ondrop = (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  if (event.dataTransfer.files.length) separateFile(event.dataTransfer.files[0]);
};
$("play").onclick = async () => {
  if (player.playing) {
    player.pause();
    $("play").textContent = "▶ Play";
  } else {
    await player.play();
    $("play").textContent = "❚❚ Pause";
  }
};
(function tick() {
  if (player) $("time").textContent = `${clock(player.position())} / ${clock(player.available / player.rate)}`;
  requestAnimationFrame(tick);
})();

init();
