"""The README's generated blocks and docs/benchmarks.md are what benchmarks/results.json renders:
no figure on either page is typed by hand (fast: no training, no TensorFlow)."""

import copy
import importlib
import re

import pytest
from _bench import ROOT
from _bench import bench_module as _module


@pytest.fixture(scope="module")
def results() -> dict:
    return _module("common").load_results()


def test_committed_pages_are_what_the_results_render(results):
    """Fails when README.md's blocks or docs/benchmarks.md differ from results.json: regenerate
    them with `python -m benchmarks.report` (never edit the generated text by hand)."""
    report = _module("report")
    assert report.stale(results) == [], "run `python -m benchmarks.report` and commit the pages"


def test_a_changed_stored_figure_makes_both_pages_stale(results):
    """The check above sees a number: the headline's M-U-Net score is on both pages."""
    report, common = _module("report"), _module("common")
    changed = copy.deepcopy(results)
    changed["baselines"]["results"]["paper"]["M-U-Net UW [steps]"]["all"]["SDR"]["mean"] += 0.01
    assert set(report.stale(changed)) == {common.README, common.DOCS}
    changed = copy.deepcopy(results)
    changed["inference"]["rows"][1]["end_to_end_s"] *= 1.1  # cunet M-U-Net, 3-min song: a target row
    assert report.stale(changed) == [common.DOCS]


def test_readme_keeps_only_a_summary_and_states_seeds_songs_and_spread(results):
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index("<!-- benchmarks:begin -->"):readme.index("<!-- benchmarks:end -->")]
    opening = readme[readme.index("<!-- summary:begin -->"):readme.index("<!-- summary:end -->")]
    data = results["baselines"]
    for text in (block, opening):
        assert f"seed {data['seed']}" in text and f"{len(data['tracks'])} held-out rendered songs" in text
        assert "within the spread (±" in text or "more than the spread (±" in text
        assert "docs/benchmarks.md" in text
    assert len(block.splitlines()) < 25
    assert "matches" not in opening and "beats" not in opening


def test_paper_protocol_chunks_are_labelled_from_the_runs_preset(results):
    """Both training sections ran the half-width preset with 64-frame patches: the paper protocol
    cut 63 hops of 256 samples at 8192 Hz, not 6 s."""
    table = _module("bench_paper_table")
    for name in ("paper_table", "baselines"):
        assert results[name]["audio"]["frames"] == 64 and "64 frames" in results[name]["preset"]
        assert "non-overlapping 1.97 s chunks (64 frames), mono 8192 Hz" in table.render(results[name])
    full = {"sample_rate": 8192, "channels": 1, "n_fft": 1024, "hop": 256, "freq_bins": 512, "frames": 128}
    assert table.chunk_label(full).startswith("non-overlapping 3.97 s chunks (128 frames)")
    assert "6 s chunks" not in (ROOT / "README.md").read_text()
    # on the docs page, only the paper preset's own run (256 frames of 256 samples at 10880 Hz) says 6 s
    for name in ("paper_table", "baselines"):
        assert "6 s chunks" not in table.render(results[name])


def test_the_training_sections_are_rendered_from_raw_numbers_not_stored_markdown(results):
    report = _module("report")
    for name in report.RENDERERS:
        data = {**results[name], "markdown": "STALE"}
        assert "STALE" not in report.section_markdown(name, data)
        module = _module(report.RENDERERS[name].removeprefix("benchmarks."))
        assert report.section_markdown(name, data) == module.render(results[name])


def test_a_new_section_with_markdown_needs_no_code(results):
    """Another benchmark stores {"markdown": ...}: it appears on the docs page under its name (or
    its TITLES entry), after the known sections."""
    report = _module("report")
    page = report.render_docs({**results, "paper_preset_short": {"markdown": "| a | b |\n|---|---|"}})
    assert "### Paper preset short\n\n| a | b |" in page
    assert page.index("### Distillation") < page.index("### Paper preset short")
    assert "[Paper preset short](#paper-preset-short)" in page


def test_comparisons_are_worded_by_the_spread():
    table = _module("bench_paper_table")
    assert table.within(0.02, 4.07) == "within the spread (±4.07 dB)"
    assert table.within(-5.0, 4.07) == "behind by more than the spread (±4.07 dB)"
    assert table.within(5.0, 4.07) == "ahead by more than the spread (±4.07 dB)"


FIGURE = re.compile(r"\d\.\d|\d+\s*(?:dB|ms|s\b|×|x\b|%|GFLOP|MiB|GB|min\b|steps|songs|frames)")


def test_hand_written_prose_carries_no_figures():
    """Prose typed into the renderers explains; every figure comes from results.json."""
    report = _module("report")
    prose = [report.INTRO, *report.SPEED_NOTES, *report.NOTES.values()]
    assert [p for p in prose if FIGURE.search(p)] == []
    assert FIGURE.search("took 4.1× longer") and FIGURE.search("793 ms")  # the pattern sees figures


def test_scored_song_length_is_read_from_the_files(tmp_path):
    """The training sections store how long the scored songs are (one length, or None)."""
    import numpy as np
    import soundfile

    table = _module("bench_paper_table")
    find_tracks = importlib.import_module("tf_munet.data.musdb_io").find_tracks
    for name, seconds in (("a", 1.5), ("b", 1.5)):
        folder = tmp_path / "test" / name
        folder.mkdir(parents=True)
        for stem in ("mixture", "vocals", "drums", "bass", "other"):
            soundfile.write(folder / f"{stem}.wav", np.zeros((int(8000 * seconds), 2), np.float32), 8000)
    tracks = find_tracks(tmp_path, "test")
    assert table._track_seconds(tracks) == 1.5
    soundfile.write(tmp_path / "test" / "b" / "mixture.wav", np.zeros((4000, 2), np.float32), 8000)
    assert table._track_seconds(tracks) is None
    assert table._track_seconds([]) is None


def test_every_trained_result_is_stored_and_shown_with_its_seed(results):
    docs = (ROOT / "docs" / "benchmarks.md").read_text()
    report = _module("report")
    for name in ("quality", "paper_table", "baselines", "distill"):
        assert isinstance(results[name]["seed"], int)
        section = docs[docs.index(f"### {report.title(name)}"):]
        section = section[:section.find("\n### ", 1)]
        assert f"Seed {results[name]['seed']} " in section or f"seed {results[name]['seed']})" in section


def test_readme_figures_beside_the_prose_are_rendered_from_the_stored_sections(results):
    """The parameter table, the C-U-Net's budget and the export variants in the README are their
    sections' stored numbers: change one and its block (and the README) changes."""
    figures, report, common = _module("readme_figures"), _module("report"), _module("common")
    readme = (ROOT / "README.md").read_text()
    blocks = report.readme_blocks(results)
    for name, render in figures.BLOCKS.items():
        assert f"<!-- {name}:begin -->\n{render(results).rstrip()}\n<!-- {name}:end -->" in readme
        assert blocks[name] == render(results)

    changed = copy.deepcopy(results)
    row = next(r for r in changed["cost"]["params"] if (r["preset"], r["family"]) == ("paper", "munet"))
    assert f"{row['params'] / 1e6:.2f} M" in figures.params(results)
    row["params"] += 20_000
    assert figures.params(changed) != figures.params(results)
    assert f"{row['params'] / 1e6:.2f} M" in figures.params(changed)

    changed = copy.deepcopy(results)
    stats = changed["baselines"]["results"]["paper"]["C-U-Net [steps]"]["all"]["SDR"]
    assert f"{stats['mean']:.2f} ± {stats['std']:.2f} dB after {results['baselines']['steps']} steps" \
        in figures.cunet_budget(results)
    stats["mean"] += 1.0
    changed["paper_table"]["seed"] = 7
    text = figures.cunet_budget(changed)
    assert f"{stats['mean']:.2f} ± " in text and "seed 7" in text and text != figures.cunet_budget(results)

    changed = copy.deepcopy(results)
    variant = next(e for e in changed["deploy"]["exports"] if e["family"] == "munet")["tflite"]["spectrogram-int8"]
    variant["size_bytes"] += 1_000_000
    changed["deploy"]["threads"] = 5
    text = figures.exports(changed)
    assert f"| spectrogram int8 | {variant['size_bytes'] / 1e6:.1f} MB |" in text and "5 threads" in text
    assert report.stale(changed) == [common.README]


def test_readme_figures_say_when_a_section_is_missing():
    figures = _module("readme_figures")
    assert all("Not measured yet" in render({}) for render in figures.BLOCKS.values())
