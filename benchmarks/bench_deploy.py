"""Deployment: Keras vs SavedModel vs TF-Lite, end to end and network against network.

Per family, an untrained run (speed does not depend on the weights) is exported once with
`tf_munet.export.export_run` (SavedModel + every TF-Lite variant, both inputs; the export's wall
time is reported). Then, on the same synthetic 44.1 kHz stereo clips as the inference section:

- "keras": `Separator.load(run, batch_size=8).separate(clip, 44100)`;
- "savedmodel": the same inference core with the exported SavedModel's `separate_spectrogram`
  signature as its network (`SavedModelSeparator`), batches of 8 patches as Keras';
- "tflite <variant>": the edge runner's separator (`tf_munet_core.litert`, numpy + LiteRT, no
  TensorFlow), spectrogram-in model, batches of 8 patches per interpreter call, 2 LiteRT threads;
- "tflite waveform float32": the runner's waveform-in model (STFT and inverse STFT inside the
  .tflite file) on fixed chunks at the model's rate. Its stems only reach the model's bandwidth
  (half its sample rate), so its difference to Keras' stems is not a round-off error.

End to end = resampling, STFTs, network, mask mapping and inverse STFTs, all sources; every
runtime once per round, in turn (so a slow minute of a noisy machine costs every row alike),
best of 3 rounds (30 s clips) or 2 (3-min song) after a short warm-up call. Max |diff| = the
largest absolute sample difference between a row's stems and Keras' (same clip, every source).

"Keras graph vs LiteRT" puts the 1.3x target side by side: one model-rate chunk (batch 1)
through the export's own graphs run as `tf.function`s in TensorFlow (`ExportGraphs`, as the
exporter builds them) and through the float32 .tflite files in LiteRT, 2 threads each (TF's
default on this 2-core machine: all cores), calls interleaved in rounds, best time per chunk. C-U-Net
needs one call per source (condition), a dedicated set one call per source's file.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.bench_inference import _clip, _make_run
from tf_munet.export.tflite import QUANTIZE as VARIANT_OF
from tf_munet.registry import FAMILIES

RATE = 44100
THREADS = 2
QUANTIZE = tuple(VARIANT_OF)  # every TF-Lite variant: none (float32), fp16, dynamic, int8
VARIANTS = tuple(VARIANT_OF.values())
KINDS = ("spectrogram", "waveform")
TARGET = 1.3
"""TF-Lite float32 waveform model within 1.3x of the Keras graph (the benchmark issue's goal)."""


def _runtimes(run: Path, out: Path, variants: tuple[str, ...] = VARIANTS) -> dict:
    """{label: object with .separate(clip, rate)} for one exported run."""
    from tf_munet.export.savedmodel import SavedModelSeparator
    from tf_munet.separation import Separator
    from tf_munet_core.litert import load_separator

    runtimes = {
        "keras": Separator.load(run, batch_size=8),
        "savedmodel": SavedModelSeparator.load(out, batch_size=8),
    }
    for v in variants:
        runtimes[f"tflite {v}"] = load_separator(out, variant=v, litert_threads=THREADS)
    runtimes["tflite waveform float32"] = load_separator(out, kind="waveform",
                                                         litert_threads=THREADS)
    return runtimes


def _end_to_end(runtimes: dict, clip: np.ndarray, rounds: int) -> dict[str, tuple[float, float]]:
    """{label: (best seconds, max |diff| to Keras' stems)} of `separate(clip, RATE)`, after a 2 s
    warm-up each: every runtime once per round, in turn, so a slow minute of a noisy machine
    costs every runtime alike instead of one row."""
    for sep in runtimes.values():
        sep.separate(clip[: 2 * RATE], RATE)
    best = dict.fromkeys(runtimes, math.inf)
    diffs = dict.fromkeys(runtimes, 0.0)
    keras_stems = None
    for r in range(rounds):
        for label, sep in runtimes.items():
            t0 = time.perf_counter()
            stems = sep.separate(clip, RATE)
            best[label] = min(best[label], time.perf_counter() - t0)
            if r == 0 and label == "keras":
                keras_stems = stems
            elif r == 0:
                diffs[label] = _max_diff(keras_stems, stems)
            del stems
    return {label: (best[label], diffs[label]) for label in runtimes}


def _rows(times: dict[str, tuple[float, float]], seconds: float, preset: str, family: str,
          overlaps: dict) -> list[dict]:
    """Table rows of one clip's `_end_to_end` results: seconds of audio per second of work
    (real-time factor) and time relative to Keras' (below 1: faster)."""
    t_keras = times["keras"][0]
    return [{
        "preset": preset, "family": family, "runtime": label, "seconds": seconds,
        "end_to_end_s": t, "realtime_factor": seconds / t, "vs_keras": t / t_keras,
        "max_abs_diff": diff, "overlap": overlaps[label],
    } for label, (t, diff) in times.items()]


def _max_diff(a: dict, b: dict) -> float:
    return max(float(np.max(np.abs(a[s] - b[s]))) for s in a)


def _chunk_calls(run: Path, out: Path, kind: str):
    """Per-chunk calls of one kind: ([(tf.function, tf feed)], [(LiteRT runner, numpy feed)])."""
    import tensorflow as tf

    from tf_munet.data.synthetic import synthetic_stems
    from tf_munet.export.graphs import ExportGraphs
    from tf_munet.export.tflite import Runner
    from tf_munet.models import one_hot_conditions
    from tf_munet.run_dir import load_run

    config, network = load_run(run)
    a = config.preset.audio
    graphs = ExportGraphs(network, a, config.model, config.sources)
    wave = synthetic_stems(3, a.chunk_samples / a.sample_rate + 0.1, rate=a.sample_rate,
                           channels=a.channels)["mixture"][None, : a.chunk_samples]
    wave = wave.astype(np.float32)
    x = graphs.front.magnitude(tf.constant(wave)).numpy() if kind == "spectrogram" else wave
    conds = list(one_hot_conditions(len(config.sources))[:, None]) if graphs.conditioned else [None]
    manifest = json.loads((out / "manifest.json").read_text())
    entries = manifest["variants"][f"{kind}-float32"]["models"]
    units = graphs.units(split_dedicated=True)
    assert [e["sources"] for e in entries] == [[u.suffix] if u.suffix else list(config.sources)
                                               for u in units], "manifest order != units"
    keras_calls, lite_calls = [], []
    for unit, entry in zip(units, entries):
        make = graphs.spectrogram_function if kind == "spectrogram" else graphs.waveform_function
        fn, runner = make(unit, batch=1), Runner(out / entry["file"], THREADS, entry["signature"])
        for cond in conds:
            feed = {"magnitude" if kind == "spectrogram" else "waveform": x}
            if cond is not None:
                feed["condition"] = cond
            keras_calls.append((fn, {n: tf.constant(v) for n, v in feed.items()}))
            lite_calls.append((runner, feed))
    return keras_calls, lite_calls, a


EDGE_TARGET = 1.2
"""The edge runner (LiteRT float32) within 1.2x of the Keras separator end to end."""

COMMANDS = {
    "separate RUN_DIR (Keras)": ["-m", "tf_munet.separate", "{run}"],
    "separate EXPORT_DIR (LiteRT)": ["-m", "tf_munet.separate", "{export}"],
    "tf-munet-edge EXPORT_DIR": ["-m", "tf_munet_core.edge", "{export}"],
}
"""Command lines timed from start to stems on disk ("time to stems")."""


def _time_to_stems(run: Path, out: Path, clips: dict[float, np.ndarray], tmp: Path) -> list[dict]:
    """Wall seconds of each command in `COMMANDS` on a file of each clip length, fresh process
    (imports, model load, reading, separation, writing 16-bit stems)."""
    import subprocess
    import sys

    import soundfile as sf

    rows = []
    for seconds, clip in clips.items():
        song = tmp / f"song-{seconds:.0f}s.wav"
        sf.write(song, clip, RATE, subtype="PCM_16")
        for label, args in COMMANDS.items():
            target = tmp / f"stems-{len(rows)}"
            cmd = [sys.executable, *(a.format(run=run, export=out) for a in args), str(song),
                   "-o", str(target), "--no-progress"]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            if proc.returncode:
                raise RuntimeError(f"{label}: {proc.stderr[-500:]}")
            rows.append({"command": label, "seconds": seconds, "time_to_stems_s": wall})
            print(rows[-1], flush=True)
    return rows


def _graph_vs_litert(run: Path, out: Path, rounds: int, repeat: int) -> list[dict]:
    """Keras graph vs LiteRT float32 per model-rate chunk, both kinds (see module docstring)."""
    from benchmarks.common import best_time

    rows = []
    for kind in KINDS:
        keras_calls, lite_calls, a = _chunk_calls(run, out, kind)

        def keras(calls=keras_calls):
            return [{n: v.numpy() for n, v in fn(**feed).items()} for fn, feed in calls]

        def lite(calls=lite_calls):
            return [runner(**feed) for runner, feed in calls]

        diff = max(float(np.max(np.abs(ko[n] - lo[n])))
                   for ko, lo in zip(keras(), lite()) for n in ko)
        t_keras = t_lite = math.inf
        for _ in range(rounds):  # interleaved: a busy spell on the machine hits both
            t_keras = min(t_keras, best_time(keras, repeat=repeat, warmup=1))
            t_lite = min(t_lite, best_time(lite, repeat=repeat, warmup=1))
        rows.append({
            "kind": kind, "calls_per_chunk": len(keras_calls),
            "chunk_seconds": a.chunk_samples / a.sample_rate, "keras_ms": 1e3 * t_keras,
            "tflite_ms": 1e3 * t_lite, "ratio": t_lite / t_keras, "max_abs_diff": diff,
        })
        print(rows[-1], flush=True)
    return rows


def run(quick: bool = False) -> dict:
    import gc
    import os

    import tensorflow as tf

    from tf_munet.export import export_run

    t_start = time.time()
    preset = "tiny" if quick else "cunet"
    families = ("munet", "cunet") if quick else FAMILIES  # quick: no dedicated (32 conversions)
    durations = (5.0,) if quick else (30.0, 180.0)
    # quick: float32 files only (the quantized ones are converted and checked in tests/test_export.py)
    quantize = ("none",) if quick else QUANTIZE
    variants = tuple(VARIANT_OF[q] for q in quantize)
    clips = {d: _clip(d) for d in durations}
    rows, exports, graph_rows, startup = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for family in families:
            run_dir = _make_run(Path(tmp), preset, family)
            out = Path(tmp) / f"export-{preset}-{family}"
            t0 = time.perf_counter()
            report = export_run(run_dir, out, quantize=quantize, inputs=KINDS, threads=THREADS,
                                latency_repeats=2, calibration=4, excerpt_chunks=2)
            exports.append({
                "preset": preset, "family": family, "export_s": time.perf_counter() - t0,
                "savedmodel_bytes": report["savedmodel"]["size_bytes"],
                "savedmodel_max_abs_error": max(s["max_abs_error"]
                                                for s in report["savedmodel"]["signatures"].values()),
                "tflite": {name: {"size_bytes": v["size_bytes"], "conversion_s": v["conversion_s"],
                                  "max_abs_error": v["max_abs_error"], "sdr_change": v["sdr_change"],
                                  "latency_best_ms_per_chunk": v["latency_best_ms_per_chunk"]}
                           for name, v in report["tflite"].items()},
            })
            print({k: v for k, v in exports[-1].items() if k != "tflite"}, flush=True)
            runtimes = _runtimes(run_dir, out, variants)
            overlaps = {label: getattr(sep, "overlap", None) for label, sep in runtimes.items()}
            for d in durations:
                times = _end_to_end(runtimes, clips[d], rounds=2 if d > 60 else 3)
                for row in _rows(times, d, preset, family, overlaps):
                    rows.append(row)
                    print(row, flush=True)
            del runtimes
            gc.collect()
            if family == "munet":  # start-up matters for one song: from the command line
                lengths = {1.0: clips[durations[0]][:RATE]}
                if not quick:
                    lengths[durations[-1]] = clips[durations[-1]]
                startup = _time_to_stems(run_dir, out, lengths, Path(tmp))
            for r in _graph_vs_litert(run_dir, out, rounds=2 if quick else 3, repeat=3 if quick else 5):
                graph_rows.append({"preset": preset, "family": family, **r})
    data = {
        "preset": preset, "threads": THREADS, "target_ratio": TARGET, "rows": rows, "variants": variants,
        "tf_threads": tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count(),
        "exports": exports, "graph_vs_litert": graph_rows, "time_to_stems": startup,
        "edge_target_ratio": EDGE_TARGET, "section_s": time.time() - t_start,
    }
    data["markdown"] = render(data)
    return data


def verdict(ratio: float, target: float = TARGET) -> str:
    """"met" when `ratio` <= `target`, else by how much it is missed (percent of the target)."""
    return "met" if ratio <= target else f"missed by {100 * (ratio / target - 1):.1f} %"


def render(data: dict) -> str:
    mb = 1 / 2**20
    variants = data.get("variants", VARIANTS)
    intro = (
        f"{data['preset']} preset, untrained networks, {data['threads']} LiteRT threads, "
        f"TensorFlow {data['tf_threads']} (intra-op). Each run is exported once (`tf_munet.export.export_run`, "
        f"SavedModel + {'/'.join(variants)} TF-Lite files, spectrogram and waveform "
        "inputs; sizes of the spectrogram-in files, a dedicated set's four files together):"
    )
    heads = " | ".join([f".tflite {variants[0]}", *variants[1:]])
    out = [intro, "",
           f"| preset | family | export time | SavedModel | {heads} |",
           "|---|---|---|---|" + "---|" * len(variants)]
    for e in data["exports"]:
        sizes = " | ".join(f"{e['tflite'][f'spectrogram-{v}']['size_bytes'] * mb:.1f} MiB"
                           for v in variants)
        out.append(f"| {e['preset']} | {e['family']} | {e['export_s']:.0f} s | "
                   f"{e['savedmodel_bytes'] * mb:.1f} MiB | {sizes} |")
    rows_intro = (
        "End to end, all 4 sources of a 44.1 kHz stereo clip (resampling, STFTs, network, mask "
        "mapping, inverse STFTs): `savedmodel` = the Keras separator with its network call "
        "replaced by the SavedModel's signature; `tflite` rows = the edge runner "
        "`tf-munet-edge` (the inference core + LiteRT, batches of 8 patches); the waveform row's stems "
        "stop at the model's bandwidth (half its sample rate), so its difference to Keras' stems "
        "is not round-off. Every runtime once per round, in turn; best of 3 rounds (30 s clips) "
        "or 2 (3-min song)."
    )
    out += ["", rows_intro, "",
            "| preset | family | runtime | clip | end to end | × real time | vs Keras | max abs diff to Keras' stems |",
            "|---|---|---|---|---|---|---|---|"]
    for r in data["rows"]:
        diff = "–" if r["runtime"] == "keras" else f"{r['max_abs_diff']:.1e}"
        out.append(f"| {r['preset']} | {r['family']} | {r['runtime']} | {r['seconds']:.0f} s | "
                   f"{r['end_to_end_s']:.2f} s | {r['realtime_factor']:.0f}× | "
                   f"{r['vs_keras']:.2f}× | {diff} |")
    edge = [r for r in data["rows"] if r["runtime"] == "tflite float32"]
    if edge:
        out += ["", f"Edge runner (tflite float32) against the Keras separator, end to end, "
                f"target within {data['edge_target_ratio']}×: " + "; ".join(
                    f"{r['family']} {r['seconds']:.0f} s clip {r['vs_keras']:.2f}× "
                    f"({verdict(r['vs_keras'], data['edge_target_ratio'])})" for r in edge) + "."]
    if data.get("time_to_stems"):
        api = {r["seconds"]: r["end_to_end_s"] for r in data["rows"]
               if r["family"] == "munet" and r["runtime"] == "keras"}
        out += ["", "Time to stems from the command line (a fresh process: imports, model load, "
                "decoding, separation, 16-bit stems on disk), M-U-Net, 44.1 kHz stereo WAV; "
                "the API's separation time (Keras, in memory, warm) beside it:", "",
                "| command | file | time to stems | API separation |", "|---|---|---|---|"]
        for r in data["time_to_stems"]:
            a = api.get(r["seconds"])
            out.append(f"| `{r['command']}` | {r['seconds']:.0f} s | {r['time_to_stems_s']:.2f} s | "
                       + (f"{a:.2f} s |" if a is not None else "– |"))
    g = data["graph_vs_litert"]
    if g:
        side = (
            f"Keras graph vs LiteRT, float32, one model-rate chunk ({g[0]['chunk_seconds']:.2f} s, "
            "batch 1): the export's graphs as `tf.function`s in TensorFlow against the .tflite "
            f"files in LiteRT (TensorFlow {data['tf_threads']} intra-op threads, LiteRT "
            f"{data['threads']}), best of interleaved rounds. Target: "
            f"TF-Lite within {data['target_ratio']}× of Keras."
        )
        out += ["", side, "",
                "| preset | family | model | calls per chunk | Keras graph | LiteRT | LiteRT / Keras | target |",
                "|---|---|---|---|---|---|---|---|"]
        for r in g:
            out.append(f"| {r['preset']} | {r['family']} | {r['kind']} | {r['calls_per_chunk']} | "
                       f"{r['keras_ms']:.1f} ms | {r['tflite_ms']:.1f} ms | {r['ratio']:.2f}× | "
                       f"{verdict(r['ratio'], data['target_ratio'])} |")
    out += ["", f"The section took {data['section_s'] / 60:.1f} minutes."]
    return "\n".join(out)


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    print(run(p.parse_args().quick)["markdown"])
