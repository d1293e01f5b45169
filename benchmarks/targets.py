"""The benchmark issue's speed, cost and memory targets, checked against the stored results.

Each target is a threshold and a function that reads the sections it needs from
`benchmarks/results.json` and returns what was measured and the verdict; a target whose
sections are missing is left out. Every figure in the table is computed here from stored
values, so a rerun of a section changes its row and its verdict together.
"""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.bench_tests import TARGET_FRACTION as TESTS_FRACTION
from benchmarks.bench_tests import TARGET_SECONDS as TESTS_SECONDS

NETWORK_RATIO = 3.5
"""M-U-Net's separation network time at least this many times shorter than C-U-Net's and the
dedicated set's (4 sources)."""
END_TO_END_RATIO = 2.5
"""The same, end to end."""
SONG_SECONDS = 0.9
"""A 3-minute 44.1 kHz stereo song separated by the cunet preset's M-U-Net in at most this (s)."""
FLOOR_RATIO = 1.25
"""... and within this factor of the floor (FFTs alone + the network's FLOPs at the matmul peak)."""
PAPER_REALTIME = 40.0
"""The paper preset's M-U-Net at least this many times real time on the 3-minute song."""
PEAK_FRACTION = 0.6
"""Train step and batched forward at least this fraction of the measured matmul peak."""
MEMORY_BYTES = 1.5e9
"""Peak resident memory of separating a 60-minute file at most this."""


def _met(ok: bool) -> str:
    return "met" if ok else "missed"


def _ratio_range(values: list[float]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo:.2f}×" if f"{lo:.2f}" == f"{hi:.2f}" else f"{lo:.2f}–{hi:.2f}×"


def _clip(seconds: float) -> str:
    return f"{seconds:.0f} s"


def _family_ratios(results: dict, key: str) -> dict[tuple[str, float], list[float]]:
    """{(preset, clip seconds): [`key` of the dedicated set and the C-U-Net / M-U-Net's]}."""
    rows = results["inference"]["rows"]
    base = {(r["preset"], r["seconds"]): r[key] for r in rows if r["family"] == "munet"}
    out: dict[tuple[str, float], list[float]] = {}
    for r in rows:
        if r["family"] in ("dedicated", "cunet") and (r["preset"], r["seconds"]) in base:
            out.setdefault((r["preset"], r["seconds"]), []).append(r[key] / base[(r["preset"], r["seconds"])])
    return out


def _by_preset(ratios: dict[tuple[str, float], list[float]], threshold: float) -> tuple[str, str]:
    presets = list(dict.fromkeys(p for p, _ in ratios))
    measured = ", ".join(f"{p} {_ratio_range([x for (q, _), v in ratios.items() if q == p for x in v])}"
                         for p in presets)
    groups = {True: [], False: []}
    for (p, seconds), values in ratios.items():
        groups[min(values) >= threshold].append(f"{p} {_clip(seconds)}")
    verdict = "; ".join(f"{_met(ok)}: {', '.join(groups[ok])}" for ok in (True, False) if groups[ok])
    return measured, verdict


def network_ratio(results: dict) -> tuple[str, str] | None:
    if "inference" not in results:
        return None
    return _by_preset(_family_ratios(results, "network_s"), NETWORK_RATIO)


def end_to_end_ratio(results: dict) -> tuple[str, str] | None:
    if "inference" not in results:
        return None
    return _by_preset(_family_ratios(results, "end_to_end_s"), END_TO_END_RATIO)


def _song_rows(results: dict, preset: str) -> list[dict]:
    return [r for r in results["inference"]["rows"]
            if r["preset"] == preset and r["seconds"] >= 180 and r["family"].startswith("munet")]


def _option(family: str) -> str:
    """"munet, overlap 0, bfloat16" -> "overlap 0 + bfloat16"; "munet" -> "default"."""
    return family.removeprefix("munet").removeprefix(", ").replace(", ", " + ") or "default"


def song_time(results: dict) -> tuple[str, str] | None:
    if "inference" not in results:
        return None
    rows = _song_rows(results, "cunet")
    default = next((r for r in rows if r["family"] == "munet" and "floor" in r), None)
    if default is None:
        return None
    f = default["floor"]
    floor = f["fft_s"] + f["network_at_peak_s"]
    fastest = min(rows, key=lambda r: r["end_to_end_s"])
    measured = (f"{default['end_to_end_s']:.2f} s ({default['realtime_factor']:.0f}× real time) by default, "
                f"{default['end_to_end_s'] / floor:.1f}× the floor of {floor:.2f} s (FFTs alone "
                f"{f['fft_s']:.2f} s + the network's FLOPs at the matmul peak {f['network_at_peak_s']:.2f} s); "
                f"FFTs + the network as its runtime runs it: {(f['fft_s'] + default['network_s']) / floor:.2f}× "
                f"the floor; fastest option ({_option(fastest['family'])}): {fastest['end_to_end_s']:.2f} s, "
                f"{fastest['end_to_end_s'] / floor:.1f}× the default's floor")
    verdict = (f"≤ {SONG_SECONDS} s: {_met(default['end_to_end_s'] <= SONG_SECONDS)} by default, "
               f"{_met(fastest['end_to_end_s'] <= SONG_SECONDS)} with {_option(fastest['family'])}; within "
               f"{FLOOR_RATIO}× of the floor: {_met(default['end_to_end_s'] <= FLOOR_RATIO * floor)}")
    return measured, verdict


def paper_realtime(results: dict) -> tuple[str, str] | None:
    if "inference" not in results:
        return None
    rows = _song_rows(results, "paper")
    if not rows:
        return None
    measured = ", ".join(f"{_option(r['family'])} {r['realtime_factor']:.0f}× ({r['end_to_end_s']:.2f} s)"
                         for r in rows)
    good = [_option(r["family"]) for r in rows if r["realtime_factor"] >= PAPER_REALTIME]
    default = next((r for r in rows if r["family"] == "munet"), rows[0])
    verdict = (f"{_met(default['realtime_factor'] >= PAPER_REALTIME)} by default"
               + (f"; met with: {'; '.join(good)}" if good and default["realtime_factor"] < PAPER_REALTIME else ""))
    return measured, verdict


def waveform_litert(results: dict) -> tuple[str, str] | None:
    deploy = results.get("deploy", {})
    graphs = deploy.get("graph_vs_litert")
    if not graphs:
        return None
    target = deploy["target_ratio"]
    wave = [g for g in graphs if g["kind"] == "waveform"]
    spec = [g["ratio"] for g in graphs if g["kind"] == "spectrogram"]
    measured = (", ".join(f"{g['family']} {g['ratio']:.2f}×" for g in wave)
                + (f" (spectrogram models {_ratio_range(spec)})" if spec else ""))
    groups = {ok: [g["family"] for g in wave if (g["ratio"] <= target) == ok] for ok in (True, False)}
    verdict = "; ".join(f"{_met(ok)}: {', '.join(groups[ok])}" for ok in (True, False) if groups[ok])
    return measured, f"target {target}×: {verdict}"


def edge_runner(results: dict) -> tuple[str, str] | None:
    deploy = results.get("deploy", {})
    rows = [r for r in deploy.get("rows", []) if r["runtime"] == "tflite float32"]
    if not rows or "edge_target_ratio" not in deploy:
        return None
    target = deploy["edge_target_ratio"]
    measured = ", ".join(f"{r['family']} {r['vs_keras']:.2f}× ({_clip(r['seconds'])})" for r in rows)
    groups = {ok: [f"{r['family']} {_clip(r['seconds'])}" for r in rows if (r["vs_keras"] <= target) == ok]
              for ok in (True, False)}
    verdict = "; ".join(f"{_met(ok)}: {', '.join(groups[ok])}" for ok in (True, False) if groups[ok])
    return measured, f"target {target}×: {verdict}"


def peak_fraction(results: dict) -> tuple[str, str] | None:
    rows = results.get("cost", {}).get("training")
    if not rows:
        return None
    train = [r["train_fraction_of_peak"] for r in rows]
    forward = [r["forward_fraction_of_peak"] for r in rows]

    def pct(values):
        lo, hi = round(100 * min(values)), round(100 * max(values))
        return f"{lo} %" if lo == hi else f"{lo}–{hi} %"

    measured = f"train step {pct(train)}, forward {pct(forward)} (cunet preset, every family)"
    return measured, _met(min(train + forward) >= PEAK_FRACTION)


def pipeline(results: dict) -> tuple[str, str] | None:
    p = results.get("pipeline")
    if not p:
        return None
    measured = (f"the pipeline alone {p['pipeline_over_training']:.1f}× faster than a train step; "
                f"a step fed by it +{100 * p['fed_overhead']:.0f} %")
    return measured, _met(p["pipeline_over_training"] > 1)


def memory(results: dict) -> tuple[str, str] | None:
    m = results.get("memory")
    if not m:
        return None
    long, short = m["long"], m["baseline"]
    measured = (f"{long['peak_rss_bytes'] / 2**20:.0f} MiB for {long['minutes']:.0f} min "
                f"({short['peak_rss_bytes'] / 2**20:.0f} MiB for {short['minutes']:.0f} min)")
    return measured, _met(long["peak_rss_bytes"] <= MEMORY_BYTES)


def web_page(results: dict) -> tuple[str, str] | None:
    w = results.get("web")
    if not w:
        return None
    target = w["targets"]["page_over_edge"]
    rows = {("--fast-fft" if r["fast_fft"] else "default"): r for r in w["rows"]}
    measured = "; ".join(f"{name}: page {r['page_s']:.1f} s, edge {r['edge_s']:.1f} s, {r['page_over_edge']:.2f}×"
                         for name, r in rows.items())
    verdict = ", ".join(f"{_met(r['page_over_edge'] <= target)} {'by default' if name == 'default' else 'with ' + name}"
                        for name, r in rows.items())
    return measured, f"target {target:g}×: {verdict}"


def web_first_audio(results: dict) -> tuple[str, str] | None:
    w = results.get("web")
    if not w:
        return None
    target = w["targets"]["first_audio_s"]
    return f"{w['first_audio_s']:.1f} s", _met(w["first_audio_s"] <= target)


def fast_test_tier(results: dict) -> tuple[str, str] | None:
    t = results.get("tests")
    if not t:
        return None
    goal = t["targets"]
    measured = f"{t['fast_tier_s']:.0f} s, {t['passed']} of {t['all_tests']} tests ({100 * t['fast_fraction']:.0f} %)"
    return measured, _met(t["fast_tier_s"] <= goal["fast_tier_s"] and t["fast_fraction"] >= goal["fast_fraction"])


TARGETS: list[tuple[str, str, Callable[[dict], tuple[str, str] | None]]] = [
    (f"M-U-Net network time ≥ {NETWORK_RATIO}× shorter than the C-U-Net's and the dedicated set's",
     "inference", network_ratio),
    (f"≥ {END_TO_END_RATIO}× shorter end to end", "inference", end_to_end_ratio),
    (f"3-min 44.1 kHz stereo song ≤ {SONG_SECONDS} s with the cunet preset, and within {FLOOR_RATIO}× of "
     "the floor measured in the same run", "inference", song_time),
    (f"paper preset ≥ {PAPER_REALTIME:.0f}× real time (3-min song)", "inference", paper_realtime),
    ("TF-Lite float32 waveform model within the target of the Keras graph (per model-rate chunk)",
     "deploy", waveform_litert),
    ("edge runner (TF-Lite float32) end to end within the target of the Keras separator", "deploy", edge_runner),
    (f"train step and batched forward ≥ {100 * PEAK_FRACTION:.0f} % of the matmul peak", "cost", peak_fraction),
    ("input pipeline faster than the training step", "pipeline", pipeline),
    (f"60-minute file: peak memory ≤ {MEMORY_BYTES / 1e9} GB", "memory", memory),
    ("the browser page's separation of a 3-minute song within the target of tf-munet-edge's time", "web", web_page),
    ("the browser page's first playable audio within the target (s) of choosing the file", "web", web_first_audio),
    (f"the fast test tier (`python -m pytest -q`): at most {TESTS_SECONDS:.0f} s on 2 cores, at least "
     f"{100 * TESTS_FRACTION:.0f} % of the tests", "tests", fast_test_tier),
]
"""(target, section it is measured in, check)."""


def checked(results: dict) -> list[tuple[str, str, str, str]]:
    """(target, section, measured, verdict) for every target whose sections are stored."""
    out = []
    for target, section, check in TARGETS:
        got = check(results)
        if got is not None:
            out.append((target, section, *got))
    return out


def render(results: dict, titles: dict[str, str]) -> list[str]:
    """The targets table (markdown lines); `titles` names each section's heading on the page."""
    rows = checked(results)
    if not rows:
        return []
    out = ["| target | measured (section) | verdict |", "|---|---|---|"]
    for target, section, measured, verdict in rows:
        out.append(f"| {target} | {measured} ({titles.get(section, section)}) | {verdict} |")
    return out
