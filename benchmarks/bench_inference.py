"""Inference: separating all sources of a stereo 44.1 kHz clip end to end, per family and preset.

End to end = `Separator.separate(waveform, 44100)`: downmix, resampling, STFT, the network in
patches, mask mapping back to 44.1 kHz stereo and the inverse STFTs. "Network" = the same
patches through the network alone (one pass for M-U-Net and the dedicated set, one per source
for C-U-Net). Networks are untrained (speed does not depend on the weights). Real-time factor =
audio seconds / wall seconds. "Stages" splits one more end-to-end run with
`Separator.timings` (`tf_munet.separation.STAGES` says what each stage holds; "other" is the
rest of the wall time: Python, block bookkeeping).
"""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path

import numpy as np

FAMILIES = ("munet", "dedicated", "cunet")


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
    import tensorflow as tf

    a = sep.audio
    frames = int(seconds * a.sample_rate / a.hop) + 1
    step = max(1, int(a.frames * (1 - getattr(sep, "overlap", 0.5))))
    patches = max(1, int(np.ceil((frames - a.frames) / step)) + 1)
    call = sep._network_fn()
    batch = np.random.default_rng(0).random(
        (min(sep.batch_size, patches), a.model_bins, a.frames, a.channels)
    ).astype(np.float32)
    sizes = [min(sep.batch_size, patches - i) for i in range(0, patches, sep.batch_size)]
    inputs = {b: tf.constant(batch[:b]) for b in set(sizes)}
    for x in inputs.values():
        call(x)
    t0 = time.perf_counter()
    for b in sizes:
        call(inputs[b]).numpy()
    return time.perf_counter() - t0


def _stage_times(sep, clip: np.ndarray) -> dict[str, float]:
    """Seconds per stage of one end-to-end run (plus "other" and "total")."""
    from tf_munet.separation import STAGES

    sep.timings = {}
    t0 = time.perf_counter()
    sep.separate(clip, 44100)
    total = time.perf_counter() - t0
    stages = {name: sep.timings.get(name, 0.0) for name in STAGES}
    sep.timings = None
    stages["other"] = max(0.0, total - sum(stages.values()))
    stages["total"] = total
    return stages


def run(quick: bool = False) -> dict:
    from benchmarks.common import best_time
    from tf_munet.separation import Separator

    presets = ("tiny",) if quick else ("cunet", "paper", "fullband")
    durations = (5.0,) if quick else (30.0, 180.0)
    clips = {d: _clip(d) for d in durations}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for preset in presets:
            # (family, label, options): the default separator per family, plus M-U-Net with a
            # quarter patch overlap instead of half (a third fewer network patches)
            variants = [(f, f, {}) for f in FAMILIES] + [("munet", "munet, overlap 0.25",
                                                          {"overlap": 0.25})]
            for family, label, options in variants:
                if preset == "paper" and label != "munet" and not quick:
                    durations_here = (30.0,)  # 124 M-parameter passes: a 30 s clip is enough
                else:
                    durations_here = durations
                sep = Separator.load(_make_run(Path(tmp), preset, family), batch_size=8, **options)
                for d in durations_here:
                    clip = clips[d]
                    sep.separate(clips[durations[0]][: 44100 * 2], 44100)  # warm up graphs
                    t_e2e = best_time(lambda: sep.separate(clip, 44100), repeat=1 if d > 60 else 2, warmup=0)
                    t_net = _network_time(sep, d)
                    stages = _stage_times(sep, clip)
                    rows.append({
                        "preset": preset, "family": label, "seconds": d,
                        "end_to_end_s": t_e2e, "network_s": t_net,
                        "realtime_factor": d / t_e2e, "stages": stages,
                    })
                    print(rows[-1], flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rows": rows, "peak_rss_mb": peak, "markdown": render(rows)}


def render(rows: list[dict]) -> str:
    out = ["| preset | family | clip | end to end | × real time | network | network vs M-U-Net | end to end vs M-U-Net |",
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
    return "\n".join(out)


if __name__ == "__main__":
    import argparse
    import json

    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    res = run(args.quick)
    print(res["markdown"])
    print(json.dumps({"peak_rss_mb": res["peak_rss_mb"]}))
