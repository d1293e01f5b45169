"""Web: the separation page (export --web) in headless Chromium against tf-munet-edge.

An untrained M-U-Net of the cunet preset (speed does not depend on the weights) is exported with
`--web` (float32 spectrogram model). Then, on the same synthetic 44.1 kHz stereo song (3 minutes;
--quick: 10 s, the tiny preset), written as a 16-bit WAV:

- "page": `python -m tf_munet.web separate`'s session (`tf_munet.web.browser.PageSession`): Debian's
  Chromium, headless, the page served cross-origin isolated (LiteRT.js threaded WebAssembly, one
  DSP worker per core). Its own clock (performance.now) times decoding the chosen file, the first
  playable block (from choosing the file) and the whole separation; stages (network, input-rate DSP,
  ...) overlap (the next block's masks are computed while workers run this block's DSP).
- "edge": `tf_munet_core.litert.load_separator(export, litert_threads=2).separate(song)`: the
  same inference core in numpy + ducc0 + LiteRT, on the decoded song (no file I/O).

Both once per round, in turn, best of 2 rounds (--quick: 1), with the core's default input STFT
(5512 samples at 44.1 kHz for the cunet preset, 2^3*13*53: the factor 53 goes through pocketfft's
generic real butterfly in the page, web/page/fft.js) and with `--fast-fft` (5508 = 2^2*3^4*17, on both sides). Page
load: seconds from the request to the model compiled, and bytes the server sent for it (page,
scripts, WebAssembly, model). Targets (issue 33): the page within 3x the edge runner's time; first
audio within 5 s.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.bench_inference import _clip, _make_run

RATE = 44100
THREADS = 2
TARGET_RATIO = 3.0
TARGET_FIRST_AUDIO_S = 5.0


def _export(root: Path, preset: str) -> Path:
    from tf_munet.export import export_run

    out = root / "export"
    export_run(_make_run(root, preset, "munet"), out, formats=("tflite",), quantize=("none",),
               inputs=("spectrogram",), excerpt_chunks=1, latency_repeats=1, web=True)
    return out


def _rows(out: Path, song: Path, clip: np.ndarray, seconds: float, rounds: int, fast_fft: bool) -> dict:
    """Page and edge runner on the song, in turn, best of `rounds` (one setting of fast_fft)."""
    from tf_munet.web.browser import PageSession
    from tf_munet_core.litert import load_separator

    edge = load_separator(out, litert_threads=THREADS, **({"fast_fft": True} if fast_fft else {}))
    edge.separate(clip[: 2 * RATE], RATE)  # warm-up
    best = {"edge": math.inf, "page": math.inf, "page_total": math.inf, "first_audio": math.inf}
    stages = {}
    with PageSession(out, fast_fft=fast_fft) as page:
        load = {"seconds": page.load_seconds, "bytes": page.load_bytes}
        info = page.page.evaluate("({threads: navigator.hardwareConcurrency, isolated: crossOriginIsolated, "
                                  "runtime: document.getElementById('runtime').textContent})")
        for _ in range(rounds):
            timings = page.separate(song, timeout=30 * seconds)
            compute = timings["separateSeconds"] - timings["decodeSeconds"]
            if compute < best["page"]:
                best["page"], stages = compute, timings.get("stages", {})
            best["page_total"] = min(best["page_total"], timings["separateSeconds"])
            best["first_audio"] = min(best["first_audio"], timings["firstAudioSeconds"])
            t0 = time.perf_counter()
            stems = edge.separate(clip, RATE)
            best["edge"] = min(best["edge"], time.perf_counter() - t0)
            assert all(np.isfinite(s).all() for s in stems.values())
    return {
        "fast_fft": fast_fft,
        "edge_s": round(best["edge"], 2),
        "page_s": round(best["page"], 2),
        "page_with_decode_s": round(best["page_total"], 2),
        "page_over_edge": round(best["page"] / best["edge"], 2),
        "first_audio_s": round(best["first_audio"], 2),
        "page_stages_s": {k: round(v, 2) for k, v in stages.items()},
        "load_s": round(load["seconds"], 2),
        "load_bytes": load["bytes"],
        "browser": info,
    }


def run(quick: bool = False) -> dict:
    import soundfile as sf

    from tf_munet.web.site import site_bytes

    preset = "tiny" if quick else "cunet"
    seconds = 10.0 if quick else 180.0
    rounds = 1 if quick else 2
    with tempfile.TemporaryDirectory(prefix="tf_munet_web_") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        out = _export(tmp, preset)
        export_s = time.perf_counter() - t0
        model_bytes = sum(p.stat().st_size for p in out.glob("spectrogram-float32*.tflite"))
        scripts_bytes = site_bytes(out)
        song = tmp / "song.wav"
        sf.write(song, _clip(seconds), RATE, subtype="PCM_16")
        clip, _ = sf.read(song, dtype="float32", always_2d=True)
        rows = [_rows(out, song, clip, seconds, rounds, fast) for fast in (False, True)]
    default = rows[0]
    data = {
        "preset": preset,
        "model": "munet, spectrogram-float32 (untrained weights)",
        "song_seconds": seconds,
        "rounds": rounds,
        "export_s": round(export_s, 1),
        "rows": rows,
        # the default settings' figures, for the targets
        **{k: default[k] for k in ("edge_s", "page_s", "page_over_edge", "first_audio_s", "load_s", "load_bytes")},
        "model_bytes": model_bytes,
        "site_bytes": scripts_bytes,
        "targets": {"page_over_edge": TARGET_RATIO, "first_audio_s": TARGET_FIRST_AUDIO_S},
    }
    data["markdown"] = render(data)
    return data


def render(data: dict) -> str:
    """The section's markdown, every figure from `data`."""
    rows, seconds, rounds, preset = data["rows"], data["song_seconds"], data["rounds"], data["preset"]
    default = rows[0]
    model_bytes, scripts_bytes = data["model_bytes"], data["site_bytes"]
    mb = 1e-6
    length = f"{seconds / 60:g}-minute" if seconds % 60 == 0 else f"{seconds:g} s"
    table = []
    for r in rows:
        setting = "`--fast-fft`" if r["fast_fft"] else "default"
        table += [
            f"| {setting} | tf-munet-edge (LiteRT {THREADS} threads, numpy + ducc0) | {r['edge_s']:.1f} s | "
            f"{seconds / r['edge_s']:.1f}× | (whole file) |",
            f"| {setting} | page ({r['browser'].get('runtime', '')}) | {r['page_s']:.1f} s "
            f"(**{r['page_over_edge']:.1f}× edge**) | {seconds / r['page_s']:.1f}× | {r['first_audio_s']:.1f} s |",
        ]
    stages = "; ".join(
        ("`--fast-fft`: " if r["fast_fft"] else "default: ")
        + ", ".join(f"{k} {v:.1f} s" for k, v in r["page_stages_s"].items()) for r in rows)
    return "\n".join([
        f"The page (`export --web`, M-U-Net, {preset} preset, float32) in headless Chromium against "
        f"`tf-munet-edge` on the same export and a {length} 44.1 kHz stereo song (best of {rounds}; "
        f"targets: the page within {data['targets']['page_over_edge']:g}× the edge runner, first audio within "
        f"{data['targets']['first_audio_s']:g} s of choosing the file):",
        "",
        "| input STFT | runtime | separation | × real time | first playable audio |",
        "|---|---|---|---|---|",
        *table,
        "",
        f"Page stages, the main thread's seconds in each (the DSP workers run a step's input-rate DSP "
        f"while the main thread computes masks and writes the previous step's output, so input_dsp is "
        f"the time spent waiting for them): {stages}. Decoding the file: "
        f"{default['page_with_decode_s'] - default['page_s']:.1f} s more.",
        "",
        f"Page load (request to model compiled, served locally): {default['load_s']:.1f} s, "
        f"{default['load_bytes'] * mb:.1f} MB fetched (model {model_bytes * mb:.1f} MB; the site's "
        f"scripts and WebAssembly runtimes on disk {scripts_bytes * mb:.1f} MB, of which the page "
        "loads one LiteRT.js runtime).",
    ])
