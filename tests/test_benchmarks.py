"""Benchmarks: the deployment section's quick run (tiny preset, 5 s clip) and its report."""

import math
import time

import numpy as np
import pytest
from _bench import ROOT
from _bench import bench_module as _module


@pytest.fixture(scope="module")
def deploy():
    """`bench_deploy.run(quick=True)`: M-U-Net and C-U-Net, the float32 TF-Lite files only."""
    return _module("bench_deploy").run(quick=True)


def _positive(x) -> bool:
    return math.isfinite(x) and x > 0


@pytest.mark.integration
def test_deploy_every_runtime_timed(deploy):
    bd = _module("bench_deploy")
    assert deploy["variants"] == ("float32",)
    runtimes = ["keras", "savedmodel", "tflite float32", "tflite waveform float32"]
    rows = deploy["rows"]
    assert [(r["family"], r["runtime"]) for r in rows] == [
        (f, rt) for f in ("munet", "cunet") for rt in runtimes
    ]
    for r in rows:
        assert r["preset"] == "tiny" and r["seconds"] == 5.0
        for key in ("end_to_end_s", "realtime_factor", "vs_keras"):
            assert _positive(r[key]), (r, key)
    for e in deploy["exports"]:
        assert _positive(e["export_s"]) and e["savedmodel_bytes"] > 0
        assert sorted(e["tflite"]) == sorted(f"{k}-float32" for k in bd.KINDS)
    assert [(g["family"], g["kind"]) for g in deploy["graph_vs_litert"]] == [
        (f, k) for f in ("munet", "cunet") for k in bd.KINDS
    ]
    for g in deploy["graph_vs_litert"]:
        assert _positive(g["keras_ms"]) and _positive(g["tflite_ms"])
        assert g["calls_per_chunk"] == (4 if g["family"] == "cunet" else 1)


class _Paced:
    """A runtime of known cost and stems: sleeps `cost[i]` s per second of audio on its i-th call
    (the last entry from then on) and returns the clip split by `gain`."""

    def __init__(self, cost: list[float], gain: float):
        self.cost, self.gain, self.calls = cost, gain, 0

    def separate(self, x, rate):
        time.sleep(self.cost[min(self.calls, len(self.cost) - 1)] * len(x) / rate)
        self.calls += 1
        return {"a": x * self.gain, "b": x * (1 - self.gain)}


def test_end_to_end_times_the_whole_clip_best_of_rounds_and_diffs_to_keras():
    """Runtimes of known cost: a row's time is its cost on the whole 3 s clip (not the 2 s
    warm-up), the best round's (the slow first round left out), its max |diff| to Keras' stems;
    and the rows say 3 s of audio per second of work and half Keras' time."""
    bd = _module("bench_deploy")
    clip = np.full((3 * bd.RATE, 2), 0.5, np.float32)
    runtimes = {"keras": _Paced([0.2], 0.5), "fast": _Paced([0.1, 0.5, 0.1 / 3], 0.4)}
    times = bd._end_to_end(runtimes, clip, rounds=2)
    (t_keras, d_keras), (t_fast, d_fast) = times["keras"], times["fast"]
    assert 0.6 <= t_keras < 0.6 + 0.4 and 0.1 <= t_fast < 0.1 + 0.4 and t_fast < t_keras
    assert d_keras == 0 and d_fast == pytest.approx(0.05)
    rows = bd._rows({"keras": (2.0, 0.0), "fast": (1.0, 0.05)}, 3.0, "tiny", "munet",
                    {"keras": 0.25, "fast": None})
    assert [(r["runtime"], r["realtime_factor"], r["vs_keras"]) for r in rows] == [
        ("keras", 1.5, 1.0), ("fast", 3.0, 0.5)]


@pytest.mark.integration
def test_deploy_savedmodel_and_tflite_float32_match_keras(deploy):
    close = [r for r in deploy["rows"] if r["runtime"] in ("savedmodel", "tflite float32")]
    assert len(close) == 4
    for r in close:
        assert r["max_abs_diff"] < 1e-4, r
    for r in deploy["rows"]:
        assert math.isfinite(r["max_abs_diff"]), r
    for g in deploy["graph_vs_litert"]:  # the same graphs in TensorFlow and in LiteRT
        assert g["max_abs_diff"] < 1e-4, g


def _tables(markdown: str) -> list[list[dict[str, str]]]:
    """Every markdown table as rows of {header: cell}."""
    tables, lines = [], markdown.splitlines()
    for i, line in enumerate(lines[:-1]):
        if line.startswith("|") and lines[i + 1].startswith("|---"):
            header = [c.strip() for c in line.strip("|").split("|")]
            rows = []
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                rows.append(dict(zip(header, (c.strip() for c in row.strip("|").split("|")))))
            tables.append(rows)
    return tables


def _number(cell: str) -> float:
    return float(cell.split()[0].rstrip("×"))


@pytest.mark.integration
def test_deploy_markdown_shows_the_measured_numbers(deploy):
    """Read back from the rendered tables: each runtime's time, its ratio to Keras and the real-
    time factor agree with one another and with the measurement; verdicts follow the ratios."""
    md = deploy["markdown"]
    tables = _tables(md)
    runtimes = next(t for t in tables if t and "runtime" in t[0])
    assert len(runtimes) == len(deploy["rows"])
    for r, row in zip(deploy["rows"], runtimes):
        assert (row["family"], row["runtime"]) == (r["family"], r["runtime"])
        keras = next(k for k in deploy["rows"] if k["family"] == r["family"] and k["runtime"] == "keras")
        assert _number(row["end to end"]) == pytest.approx(r["end_to_end_s"], abs=0.006)
        assert _number(row["vs Keras"]) == pytest.approx(r["end_to_end_s"] / keras["end_to_end_s"], abs=0.006)
        assert _number(row["× real time"]) == pytest.approx(5.0 / r["end_to_end_s"], abs=0.51)
    graphs = next(t for t in tables if t and "LiteRT / Keras" in t[0])
    assert len(graphs) == len(deploy["graph_vs_litert"])
    for g, row in zip(deploy["graph_vs_litert"], graphs):
        assert _number(row["Keras graph"]) == pytest.approx(g["keras_ms"], abs=0.051)
        assert _number(row["LiteRT"]) == pytest.approx(g["tflite_ms"], abs=0.051)
        assert _number(row["LiteRT / Keras"]) == pytest.approx(g["tflite_ms"] / g["keras_ms"], abs=0.006)
        assert (row["target"] == "met") == (g["tflite_ms"] / g["keras_ms"] <= 1.3)
    exports = next(t for t in tables if t and "export time" in t[0])
    assert [(row["family"], _number(row["export time"])) for row in exports] == [
        (e["family"], pytest.approx(e["export_s"], abs=0.51)) for e in deploy["exports"]]
    page = _module("report").render({"inference": {"markdown": "INF"}, "deploy": deploy})
    assert "### Deployment\n\n" + md in page
    assert page.index("### Inference") < page.index("### Deployment")


@pytest.mark.integration
def test_deploy_time_to_stems(deploy):
    """Both command-line paths and the edge runner, on a 1 s file (quick: not the clip-length one)."""
    bd = _module("bench_deploy")
    rows = deploy["time_to_stems"]
    assert [(r["command"], r["seconds"]) for r in rows] == [
        (c, 1.0) for c in bd.COMMANDS]
    assert all(_positive(r["time_to_stems_s"]) for r in rows)
    for r in rows:
        assert f"| `{r['command']}` | {r['seconds']:.0f} s | {r['time_to_stems_s']:.2f} s |" in deploy["markdown"]
    assert "Edge runner (tflite float32) against the Keras separator" in deploy["markdown"]


def test_verdict():
    bd = _module("bench_deploy")
    assert bd.verdict(0.8) == bd.verdict(1.3) == "met"
    assert bd.verdict(2.6) == "missed by 100.0 %"
    assert bd.verdict(1.31) == "missed by 0.8 %"


def test_learning_curves_count_steps_to_reach_the_munet():
    """The baselines section's 'steps to reach' column: the first logged step at which a model's
    validation loss is at or below M-U-Net UW's after a quarter of its budget."""
    table = _module("bench_paper_table")

    def row(model, curve, budget="steps"):
        return {"label": model, "model": model, "weighting": "uw", "budget": budget, "steps": 800,
                "val_curve": [[100 * (i + 1), v] for i, v in enumerate(curve)]}

    munet = row("munet", [0.9, 0.7, 0.6, 0.55, 0.5, 0.48, 0.47, 0.46])  # at 200 steps: 0.7
    cunet = row("cunet", [1.0, 0.95, 0.9, 0.9, 0.8, 0.71, 0.70, 0.65])  # reaches 0.7 at 700
    dedicated = row("dedicated", [0.8, 0.75, 0.72, 0.69, 0.6, 0.5, 0.45, 0.4])  # at 400
    slow = row("slow", [1.0] * 8)
    lines = table._curves([munet, cunet, dedicated, slow, row("cunet", [0.1] * 8, budget="time")])
    text = "\n".join(lines)
    assert "after 200 steps (0.700)" in text
    assert "| munet | 0.900 | 0.700 | 0.550 | 0.460 | 200 |" in text
    assert "| cunet | 1.000 | 0.950 | 0.900 | 0.650 | 700 |" in text
    assert "| dedicated | 0.800 | 0.750 | 0.690 | 0.400 | 400 |" in text
    assert "| slow | 1.000 | 1.000 | 1.000 | 1.000 | not within 800 |" in text
    assert text.count("| cunet |") == 1  # equal-time rows are not curves of their own


def test_equal_time_budget_and_a_reused_run_scored_once():
    table = _module("bench_paper_table")
    assert table.equal_time_steps(2000, 0.2, 0.8, 50) == 500  # a 4x slower step: a quarter
    assert table.equal_time_steps(2000, 0.200, 0.196, 50) is None  # 2050 steps: within 5 %
    assert table.equal_time_steps(100, 0.2, 0.8, 50) == 50  # at least one epoch
    rows = [{"label": "C-U-Net", "budget": "steps", "run_dir": "a"},
            {"label": "M-U-Net UW", "budget": "steps", "run_dir": "b"},
            {"label": "C-U-Net", "budget": "time", "run_dir": "a"},
            {"label": "dedicated", "budget": "time", "run_dir": "c"}]
    first, scored_as = table.score_labels(rows)
    assert first == {"a": "C-U-Net [steps]", "b": "M-U-Net UW [steps]", "c": "dedicated [time]"}
    assert scored_as["C-U-Net [time]"] == "C-U-Net [steps]"
    assert scored_as["dedicated [time]"] == "dedicated [time]"


def test_a_section_measured_on_another_machine_says_so():
    """A section rerun alone on another machine keeps its own machine, and the page says so."""
    report = _module("report")
    xeon = {"cpu": "Xeon", "cores": 2, "gpus": [], "tensorflow": "2.21.0"}
    epyc = {**xeon, "cpu": "EPYC"}
    page = report.render({"machine": xeon, "inference": {"markdown": "INF", "machine": epyc},
                          "deploy": {"markdown": "DEP", "machine": xeon}, "memory": {"markdown": "MEM"}})
    assert page.startswith("Measured by `python -m benchmarks.run` on Xeon (2 cores, no GPU)")
    inference = page[page.index("### Inference"):page.index("### Deployment")]
    assert "another machine: EPYC (2 cores, no GPU)" in inference and "INF" in inference
    assert page.count("another machine") == 1


def test_paper_preset_section_is_rendered_from_its_numbers():
    """The stored paper_preset markdown is what `render` makes of the stored raw numbers, and
    its labels follow the settings (chunk length, width divisor, steps), not fixed text."""
    import json

    bench = _module("bench_paper_preset")
    data = json.loads((ROOT / "benchmarks" / "results.json").read_text())[bench.SECTION]
    assert bench.render(data) == data["markdown"]
    assert f"{data['chunk_seconds']:g} s chunks" in data["markdown"]
    other = {**data, "chunk_seconds": 2.97, "width_divisor": 16, "steps": 40}
    text = bench.render(other)
    assert "2.97 s chunks" in text and "widths ÷16" in text and "40 optimizer steps" in text
    assert f"{data['chunk_seconds']:g} s chunks" not in text


@pytest.mark.integration
def test_test_tier_benchmark_counts_what_pytest_ran_and_skipped(tmp_path):
    from benchmarks import bench_tests

    (tmp_path / "test_sample.py").write_text(
        "import pytest\n\ndef test_a():\n    pass\n\ndef test_b():\n    pass\n\n"
        "@pytest.mark.skip(reason='x')\ndef test_c():\n    pass\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    wall, counts = bench_tests.timed_tier("-n", "0", cwd=tmp_path)
    assert counts == {"tests": 3, "failures": 0, "errors": 0, "skipped": 1} and wall > 0
    assert bench_tests.collected(cwd=tmp_path) == 3
    (tmp_path / "test_sample.py").write_text("def test_a():\n    assert False\n")
    with pytest.raises(RuntimeError, match="pytest failed"):
        bench_tests.timed_tier("-n", "0", cwd=tmp_path)


def test_test_tier_target_reads_the_stored_time_and_share():
    from benchmarks import targets

    stored = {"fast_tier_s": 161.0, "passed": 379, "all_tests": 529, "fast_fraction": 0.716,
              "targets": {"fast_tier_s": 300.0, "fast_fraction": 0.6}}
    measured, verdict = targets.fast_test_tier({"tests": stored})
    assert measured == "161 s, 379 of 529 tests (72 %)" and verdict == "met"
    assert targets.fast_test_tier({"tests": {**stored, "fast_tier_s": 301.0}})[1] == "missed"
    assert targets.fast_test_tier({"tests": {**stored, "fast_fraction": 0.59}})[1] == "missed"
    assert targets.fast_test_tier({}) is None


def test_web_section_is_rendered_from_its_numbers():
    """The README's browser figures come from the stored raw numbers: a changed ratio, song
    length or target changes the rendered text."""
    import json

    bench = _module("bench_web")
    data = json.loads((ROOT / "benchmarks" / "results.json").read_text())["web"]
    text = bench.render(data)
    assert f"**{data['rows'][0]['page_over_edge']:.1f}× edge**" in text
    rows = [{**data["rows"][0], "page_s": 9.99, "page_over_edge": 4.2}, *data["rows"][1:]]
    targets = {**data["targets"], "page_over_edge": 2.5}
    other = bench.render({**data, "rows": rows, "song_seconds": 90.0, "targets": targets})
    assert "| 10.0 s (**4.2× edge**)" in other and "| 10.0 s (**4.2× edge**)" not in text
    assert "a 90 s 44.1 kHz" in other and "within 2.5× the edge runner" in other


def test_web_targets_read_each_input_stft_setting_and_the_stored_targets():
    from benchmarks import targets

    rows = [{"fast_fft": False, "page_s": 6.69, "edge_s": 2.42, "page_over_edge": 2.76},
            {"fast_fft": True, "page_s": 9.0, "edge_s": 2.5, "page_over_edge": 3.6}]
    web = {"rows": rows, "first_audio_s": 1.29, "targets": {"page_over_edge": 3.0, "first_audio_s": 5.0}}
    measured, verdict = targets.web_page({"web": web})
    assert measured.startswith("default: page 6.7 s, edge 2.4 s, 2.76×; --fast-fft: page 9.0 s")
    assert verdict == "target 3×: met by default, missed with --fast-fft"
    assert targets.web_page({"web": {**web, "targets": {**web["targets"], "page_over_edge": 2.5}}})[1] == (
        "target 2.5×: missed by default, missed with --fast-fft")
    assert targets.web_first_audio({"web": web}) == ("1.3 s", "met")
    assert targets.web_first_audio({"web": {**web, "first_audio_s": 5.1}})[1] == "missed"
    assert targets.web_first_audio({"web": {**web, "targets": {**web["targets"], "first_audio_s": 1.0}}})[1] == "missed"
    assert targets.web_page({}) is None and targets.web_first_audio({}) is None
