"""Inference: separating all sources of a stereo 44.1 kHz clip end to end, per family and preset.

End to end = `Separator.separate(waveform, 44100)`: downmix, resampling, STFT, the network in
patches, mask mapping back to 44.1 kHz stereo and the inverse STFTs. "Network" = the same
patches through the network alone (one pass for M-U-Net and the dedicated set, one per source
for C-U-Net). Networks are untrained (speed does not depend on the weights). Real-time factor =
audio seconds / wall seconds; end to end is the best of 2-3 runs, each followed by a
measurement of the floor (below), so the ratio of the two holds on a machine whose speed
drifts. Besides each family's default separator (patch overlap 0.25,
float32), M-U-Net runs with the speed options (`SPEED_OPTIONS`; their SDR cost is in the
quality section). "Stages" splits one more end-to-end run with
a `tf_munet_core.profiler.Profiler` (`STAGES` says what each stage holds; "other" is the
rest of the wall time: Python, block bookkeeping).
"""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from tf_munet.registry import FAMILIES

SPEED_OPTIONS = [("overlap 0", {"overlap": 0.0}), ("bfloat16", {"precision": "bfloat16"}),
                 ("fast FFT", {"fast_fft": True}),
                 ("overlap 0, bfloat16, fast FFT", {"overlap": 0.0, "precision": "bfloat16",
                                                    "fast_fft": True})]


def _make_run(root: Path, preset_name: str, family: str) -> Path:
    from tf_munet.models import build_model
    from tf_munet.presets import get_preset, resolve_sources
    from tf_munet.run_dir import RunConfig, save_network, save_run_config

    preset = get_preset(preset_name)
    sources = resolve_sources("4stems")
    run = root / f"{preset_name}-{family}"
    if (run / "model.keras").exists():
        return run
    save_run_config(run, RunConfig(preset, family, sources))
    save_network(run / "model.keras", build_model(preset, family, sources))
    return run


def _clip(seconds: float, rate: int = 44100) -> np.ndarray:
    from tf_munet.data.synthetic import synthetic_stems

    stems = synthetic_stems(0, seconds=seconds, rate=rate, channels=2)
    return stems["mixture"].astype(np.float32)


def _network_time(sep, seconds: float) -> float:
    """Time of the network alone on the patches a `seconds` clip needs (same batching)."""
    a = sep.audio
    patches = _patches(sep, seconds)
    call = sep._network_fn()
    batch = np.random.default_rng(0).random(
        (min(sep.batch_size, patches), a.model_bins, a.frames, a.channels)
    ).astype(np.float32)
    sizes = [min(sep.batch_size, patches - i) for i in range(0, patches, sep.batch_size)]
    inputs = {b: batch[:b] for b in set(sizes)}
    for x in inputs.values():
        call(x)
    t0 = time.perf_counter()
    for b in sizes:
        call(inputs[b])
    return time.perf_counter() - t0


def _patches(sep, seconds: float) -> int:
    from tf_munet_core.stft import StftSpec

    a = sep.audio
    frames = StftSpec.of(a).frame_count(int(seconds * a.sample_rate))
    step = max(1, int(a.frames * (1 - sep.overlap)))
    return max(1, int(np.ceil((frames - a.frames) / step)) + 1)


def _floor(sep, clip: np.ndarray, peak_flops: float) -> dict[str, float]:
    """What no implementation of this method escapes on this machine, for one clip: the
    input-rate FFTs alone (each channel's STFT, K - 1 inverse STFTs per channel, with the
    separator's FFT library, batches and threads) and the network's FLOPs at the measured
    matmul peak."""
    from concurrent.futures import ThreadPoolExecutor

    from benchmarks.common import best_time
    from tf_munet.models.flops import count_flops
    from tf_munet_core import fft
    from tf_munet_core.mapping import fft_workers as _fft_workers
    from tf_munet_core.mapping import input_spec

    spec = input_spec(sep.audio, 44100, sep.fast_fft)  # the separator's input-rate STFT
    n_fft, frames = spec.n_fft, spec.frame_count(len(clip))
    channels, k_out = clip.shape[1], len(sep.sources) - 1
    workers = _fft_workers()
    # 256 frames in batches of 32 (the separator's), spread over its threads
    x = np.random.default_rng(0).random((8, channels, 32, n_fft)).astype(np.float32)
    spec_k = np.repeat(fft.rfft(x)[:, :, None], k_out, axis=2)

    def batch(i):
        fft.rfft(x[i])
        fft.irfft(spec_k[i], n_fft)

    def ffts():
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(batch, range(len(x))))

    fft_s = best_time(ffts, repeat=5) * frames / 256
    passes = FAMILIES[sep.family].passes_per_separation(len(sep.sources))
    network_flops = count_flops(sep.trained_network) * passes * _patches(sep, len(clip) / 44100)
    return {"fft_s": fft_s, "network_at_peak_s": network_flops / peak_flops,
            "network_gflop": network_flops / 1e9}


def _stage_times(sep, clip: np.ndarray) -> dict[str, float]:
    """Seconds per stage of one end-to-end run (plus "other" and "total")."""
    from tf_munet_core.profiler import STAGES, Profiler

    profiler = Profiler()
    t0 = time.perf_counter()
    sep.separate(clip, 44100, profiler=profiler)
    total = time.perf_counter() - t0
    stages = {name: profiler.seconds.get(name, 0.0) for name in STAGES}
    stages["other"] = max(0.0, total - sum(stages.values()))
    stages["total"] = total
    return stages


def run(quick: bool = False, presets: tuple[str, ...] | None = None,
        families: tuple[str, ...] | None = None) -> dict:
    """Every preset and family (or the `presets` / `families` given: a partial run, printed
    by `__main__`, not saved)."""
    from benchmarks.bench_cost import matmul_peak
    from benchmarks.common import best_time
    from tf_munet.models.precision import native_bfloat16
    from tf_munet.separation import Separator

    peak = matmul_peak(1024 if quick else 2048)
    # emulated bfloat16 (a CPU without its instructions) is several times slower: not a row
    native_bf16 = native_bfloat16()
    speed_options = [(n, o) for n, o in SPEED_OPTIONS
                     if native_bf16 or o.get("precision") != "bfloat16"]
    presets = presets or (("tiny",) if quick else ("cunet", "paper", "fullband"))
    durations = (5.0,) if quick else (30.0, 180.0)
    clips = {d: _clip(d) for d in durations}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for preset in presets:
            # (family, label, options): the default separator per family (patch overlap
            # 0.25, float32), plus M-U-Net with the speed options
            variants = [(f, f, {}) for f in FAMILIES] + [("munet", f"munet, {name}", options)
                                                         for name, options in speed_options]
            variants = [v for v in variants if families is None or v[1] in families]
            for family, label, options in variants:
                if preset == "paper" and family != "munet" and not quick:
                    durations_here = (30.0,)  # 124 M-parameter passes: a 30 s clip is enough
                else:
                    durations_here = durations
                sep = Separator.load(_make_run(Path(tmp), preset, family), batch_size=8, **options)
                for d in durations_here:
                    clip = clips[d]
                    sep.separate(clips[durations[0]][: 44100 * 2], 44100)  # warm up graphs
                    # end to end and the floor's FFTs alternately, best of each: the ratio
                    # of the two is what counts on a machine whose speed drifts
                    times, floors = [], []
                    for _ in range(2 if d > 60 else 3):
                        times.append(best_time(lambda: sep.separate(clip, 44100), repeat=1, warmup=0))
                        floors.append(_floor(sep, clip, peak))
                    t_e2e = min(times)
                    t_net = _network_time(sep, d)
                    stages = _stage_times(sep, clip)
                    rows.append({
                        "preset": preset, "family": label, "seconds": d,
                        "end_to_end_s": t_e2e, "network_s": t_net,
                        "realtime_factor": d / t_e2e, "stages": stages,
                        "floor": min(floors, key=lambda f: f["fft_s"]),
                    })
                    print(rows[-1], flush=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    note = "" if native_bf16 else (
        "The bfloat16 rows are left out: this CPU has no bfloat16 instructions (AMX-BF16 or "
        "AVX512-BF16), and emulated bfloat16 is several times slower than float32.")
    return {"rows": rows, "peak_rss_mb": rss, "matmul_peak_gflops": peak / 1e9,
            "markdown": render(rows, peak, note)}


def render(rows: list[dict], peak_flops: float | None = None, note: str = "") -> str:
    out = ([note, ""] if note else []) + [
        "| preset | family | clip | end to end | × real time | network | network vs M-U-Net "
        "| end to end vs M-U-Net |",
        "|---|---|---|---|---|---|---|---|"]
    base = {(r["preset"], r["seconds"]): r for r in rows if r["family"] == "munet"}
    for r in rows:
        b = base.get((r["preset"], r["seconds"]))
        out.append(
            f"| {r['preset']} | {r['family']} | {r['seconds']:.0f} s | {r['end_to_end_s']:.2f} s | "
            f"{r['realtime_factor']:.0f}× | {r['network_s']:.2f} s | "
            f"{r['network_s'] / b['network_s']:.2f}× | {r['end_to_end_s'] / b['end_to_end_s']:.2f}× |"
        )
    out += ["", "Where the time goes (one end-to-end run, seconds per stage; see "
            "`tf_munet.separation.STAGES`):", ""]
    names = [n for n in rows[0].get("stages", {}) if n != "total"] if rows else []
    if names:
        out.append("| preset | family | clip | " + " | ".join(n.replace("_", " ") for n in names)
                   + " | total |")
        out.append("|---|---|---|" + "---|" * (len(names) + 1))
        for r in rows:
            st = r["stages"]
            out.append(f"| {r['preset']} | {r['family']} | {r['seconds']:.0f} s | "
                       + " | ".join(f"{st[n]:.3f}" for n in names) + f" | {st['total']:.2f} |")
    floors = [r for r in rows if "floor" in r and "bfloat16" not in r["family"]]  # fp32 peak
    if floors:
        peak = f" ({peak_flops / 1e9:.0f} GFLOP/s, measured in this run)" if peak_flops else ""
        out += ["", "The floor of this method on this machine: the input-rate FFTs alone (STFT of "
                "every channel, K - 1 inverse STFTs per channel) plus the network's FLOPs at the "
                f"matmul peak{peak}: nothing built on the same STFT grid, network, FFTs (ducc0) and oneDNN gets "
                "below it on these cores:", "",
                "| preset | family | clip | FFTs alone | network | network at peak | floor | "
                "× real time at the floor | end to end / floor | FFTs + network as run / floor |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        for r in floors:
            f = r["floor"]
            low = f["fft_s"] + f["network_at_peak_s"]
            out.append(f"| {r['preset']} | {r['family']} | {r['seconds']:.0f} s | {f['fft_s']:.2f} s | "
                       f"{f['network_gflop']:.1f} GFLOP | {f['network_at_peak_s']:.2f} s | {low:.2f} s | "
                       f"{r['seconds'] / low:.0f}× | {r['end_to_end_s'] / low:.1f}× | "
                       f"{(f['fft_s'] + r['network_s']) / low:.2f}× |")
        out += ["", "The last column puts the network at the speed its runtime runs it: the FFTs "
                "alone plus the network alone (column *network* of the first table), one after the "
                "other, as if every other pass of the DSP cost nothing. Above the target (1.25× "
                "the floor), only overlap can close the rest: the DSP running on the cycles the "
                "network leaves idle (the separator pipelines blocks for that)."]
    return "\n".join(out)


if __name__ == "__main__":
    import argparse
    import json

    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_inference",
                                description="a partial inference run, printed (python -m "
                                "benchmarks.run --only inference runs and saves all of it)")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--presets", help="comma-separated presets (default: cunet, paper, fullband)")
    p.add_argument("--rows", help="';'-separated row labels, e.g. 'munet;munet, overlap 0' "
                   "(default: every family and speed option)")
    args = p.parse_args()
    res = run(args.quick, tuple(args.presets.split(",")) if args.presets else None,
              tuple(args.rows.split(";")) if args.rows else None)
    print(res["markdown"])
    print(json.dumps({"peak_rss_mb": res["peak_rss_mb"]}))
