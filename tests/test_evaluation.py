"""Evaluation: museval v4 and the paper's protocol, references, per-track cache, jobs, compare."""

import json
import shutil

import numpy as np
import pytest
from _tiny_run import FOUR

from tf_munet import evaluation as ev
from tf_munet.cli.evaluate import main as evaluate_main
from tf_munet.paper_protocol import score as paper_score
from tf_munet.presets import get_preset

TINY = get_preset("tiny").to_dict()


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """Two held-out synthetic test tracks, 2 s, 44.1 kHz stereo (museval costs ~3 s per call)."""
    from tf_munet.data.synthetic import write_synthetic_musdb

    return write_synthetic_musdb(tmp_path_factory.mktemp("eval") / "musdb", train=0, test=2,
                                 seconds=2.0, seed=3)


@pytest.fixture(scope="module")
def reference_eval(root, tmp_path_factory):
    """oracle + mixture/K on the tiny grid, both protocols, two worker processes."""
    out = tmp_path_factory.mktemp("eval") / "refs"
    specs = [ev.reference_spec(k, TINY, FOUR) for k in ev.REFERENCES]
    summary = ev.evaluate(specs, root, out, protocols=("museval", "paper"), jobs=2, progress=False)
    return out, summary


def sdr(summary, protocol, label, source, stat="median"):
    return summary["results"][protocol][label][source]["SDR"][stat]


@pytest.mark.integration
def test_oracle_far_above_the_mixture_baseline(reference_eval):
    out, summary = reference_eval
    assert summary["computed"] == 2 and len(summary["tracks"]) == 2
    for source in (*FOUR, "all"):
        assert sdr(summary, "museval", "oracle", source) > sdr(summary, "museval", "mixture", source) + 4
        assert sdr(summary, "paper", "oracle", source, "mean") > sdr(summary, "paper", "mixture", source, "mean") + 8
    # museval rows carry ISR, paper rows don't; per-track values are kept for box plots
    assert set(summary["results"]["museval"]["oracle"]["vocals"]) == {"SDR", "SIR", "SAR", "ISR"}
    assert set(summary["results"]["paper"]["oracle"]["vocals"]) == {"SDR", "SIR", "SAR"}
    assert len(summary["per_track"]["museval"]["oracle"]["drums"]["SDR"]) == 2
    table = (out / "summary.md").read_text()
    assert "| oracle | vocals |" in table and "| mixture | all |" in table and "±" in table
    assert json.loads((out / "summary.json").read_text())["results"] == summary["results"]
    assert sorted(p.name for p in (out / "tracks").iterdir()) == sorted(
        f"{t}.json" for t in summary["tracks"])


@pytest.mark.integration
def test_cached_evaluation_is_reused_and_resumed(reference_eval, root, tmp_path):
    out = tmp_path / "refs"
    shutil.copytree(reference_eval[0], out)
    specs = [ev.reference_spec(k, TINY, FOUR) for k in ev.REFERENCES]
    again = ev.evaluate(specs, root, out, protocols=("museval", "paper"), progress=False)
    assert again["computed"] == 0 and again["results"] == reference_eval[1]["results"]
    # an interrupted evaluation: one track lacks its mixture scores -> only that is computed
    track = out / "tracks" / f"{again['tracks'][0]}.json"
    data = json.loads(track.read_text())
    oracle_before = data["results"]["oracle"]
    del data["results"]["mixture"]["paper"]
    track.write_text(json.dumps(data))
    resumed = ev.evaluate(specs, root, out, protocols=("museval", "paper"), progress=False)
    assert resumed["computed"] == 1
    for label in ev.REFERENCES:  # same scores (mixture/K's ~135 dB SAR is rounding noise: skipped)
        for source in (*FOUR, "all"):
            got = resumed["results"]["paper"][label][source]["SDR"]["mean"]
            assert got == pytest.approx(sdr(reference_eval[1], "paper", label, source, "mean"), abs=1e-3)
    assert json.loads(track.read_text())["results"]["oracle"] == oracle_before
    # a different grid is a different separator: its key changes, its scores are recomputed
    other = ev.reference_spec("oracle", get_preset("cunet").to_dict(), FOUR)
    assert other.key != specs[0].key


@pytest.fixture(scope="module")
def run_eval(reference_eval, root, tiny_run, tmp_path_factory):
    """A tiny trained run evaluated through the CLI, both protocols, into a copy of the
    references' folder (their scores are reused from the cache)."""
    out = tmp_path_factory.mktemp("run_eval") / "eval"
    shutil.copytree(reference_eval[0], out)
    code = evaluate_main([str(tiny_run), "--root", str(root), "--out", str(out), "--protocol", "both",
                          "--no-progress"])
    return code, out


@pytest.mark.integration
def test_trained_run_evaluates_end_to_end(run_eval):
    code, out = run_eval
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["computed"] == 2
    assert list(summary["separators"]) == ["tiny run", "oracle", "mixture"]
    for protocol, stat in (("museval", "median"), ("paper", "mean")):
        run_all = sdr(summary, protocol, "tiny run", "all", stat)
        assert sdr(summary, protocol, "mixture", "all", stat) + 2 < run_all
    md = (out / "summary.md").read_text()
    assert md.count("| tiny run |") == 2 * 5  # 4 sources + all, per protocol
    assert md.count("| oracle |") == 2 * 5 and "mean ± std (median)" in md


def test_cache_keys_follow_the_separator_options(tiny_run):
    """Stems that differ get different cache keys; the default overlap keys like 0.25 and
    results cached under the old default (0.5) keep their key."""
    from tf_munet.evaluation import run_spec

    key = lambda **options: run_spec(tiny_run, options).key  # noqa: E731
    assert key() == key(overlap=0.25) != key(overlap=0.5) == key(overlap=0.5)
    assert len({key(), key(overlap=0.0), key(overlap=0.5), key(precision="bfloat16"),
                key(fast_fft=True)}) == 5


def test_cli_speed_flags_reach_the_separator(tiny_run):
    """evaluate's speed flags become the separator's options (and so its cache key)."""
    from tf_munet.cli.evaluate import build_parser, separator_options
    from tf_munet.evaluation import build, run_spec

    args = build_parser().parse_args([str(tiny_run), "--out", "x", "--overlap", "0",
                                      "--precision", "bfloat16", "--fast-fft"])
    options = separator_options(args)
    assert options == {"overlap": 0.0, "precision": "bfloat16", "fast_fft": True}
    sep = build(run_spec(tiny_run, options))
    assert (sep.overlap, sep.precision, sep.fast_fft) == (0.0, "bfloat16", True)
    assert separator_options(build_parser().parse_args([str(tiny_run), "--out", "x"])) == {}


@pytest.mark.integration
def test_compare_writes_one_table_and_a_box_plot(reference_eval, run_eval, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert evaluate_main(["--compare", str(reference_eval[0]), str(run_eval[1]), "--out", str(out)]) == 0
    text = (out / "compare.md").read_text()
    printed = capsys.readouterr().out
    assert "| tiny run |" in printed
    for label in ("tiny run", "oracle", "mixture"):  # references have the same key: one row each
        assert text.count(f"| {label} |") == 2  # one row per protocol
    png = (out / "compare.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert evaluate_main(["--compare", str(run_eval[1]), "--out", str(out), "--protocol", "paper"]) == 0


def test_scores_of_perfect_and_silent_sources():
    rng = np.random.default_rng(0)
    refs = rng.standard_normal((3, 22050, 2)).astype(np.float32) * 0.1
    refs[2] = 0.0  # a silent reference (happens in MUSDB: no vocals in some tracks)
    est = refs + 1e-3 * rng.standard_normal(refs.shape).astype(np.float32)
    paper = paper_score(refs.mean(-1), est.mean(-1))
    assert paper[0]["SDR"] > 30 and paper[1]["SDR"] > 30 and np.isnan(paper[2]["SDR"])
    museval = ev.score_museval(refs, est, 22050)
    assert museval[0]["SDR"] > 30 and np.isnan(museval[2]["SDR"])


def test_cli_errors_name_the_problem(root, tmp_path, capsys):
    assert evaluate_main([str(tmp_path), "--root", str(root), "--out", str(tmp_path / "o")]) == 2
    assert "config.json" in capsys.readouterr().err
    assert evaluate_main(["oracle", "--root", str(tmp_path / "nowhere"), "--out", str(tmp_path)]) == 2
    assert "nowhere" in capsys.readouterr().err
    assert evaluate_main(["oracle", "--root", str(root), "--out", str(tmp_path), "--protocol", "v5"]) == 2
    assert "v5" in capsys.readouterr().err
    assert evaluate_main(["--compare", str(tmp_path)]) == 2
    assert "summary.json" in capsys.readouterr().err


def test_sir_and_sar_measure_interference_and_artifacts():
    """An estimate leaking another source has a low SIR and a high SAR; one with added noise
    (an artifact no source explains) the other way round, in both protocols."""
    rng = np.random.default_rng(1)
    refs = rng.standard_normal((2, 3 * 22050, 2)).astype(np.float32) * 0.1
    est = refs.copy()
    est[0] += 0.3 * refs[1]  # interference
    est[1] += 0.03 * rng.standard_normal(refs[1].shape).astype(np.float32)  # artifacts
    for scores in (ev.score_museval(refs, est, 22050), paper_score(refs.mean(-1), est.mean(-1))):
        leak, noisy = scores
        assert leak["SIR"] < 15 and leak["SAR"] > leak["SIR"] + 15, leak
        assert noisy["SAR"] < 15 and noisy["SIR"] > noisy["SAR"] + 15, noisy
        for s in scores:
            assert s["SDR"] == pytest.approx(min(s["SIR"], s["SAR"]), abs=2.0), s


# --- the paper protocol, against a direct mir_eval call on estimates computed here ----------------


def _stft(x, n_fft, hop):
    """Centred (reflect) periodic-Hann STFT, frames x bins (as torch.stft(center=True))."""
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    x = np.pad(x, n_fft // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]
    return np.fft.rfft(frames * win, axis=-1)


def _istft(spec, n_fft, hop, length):
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    frames = np.fft.irfft(spec, n=n_fft, axis=-1) * win
    total = (len(frames) - 1) * hop + n_fft
    out, env = np.zeros(total), np.zeros(total)
    for i, f in enumerate(frames):
        out[i * hop : i * hop + n_fft] += f
        env[i * hop : i * hop + n_fft] += win**2
    return (out / np.maximum(env, 1e-8))[n_fft // 2 : n_fft // 2 + length]


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["mixture", "oracle"])
def test_paper_protocol_is_the_authors_pipeline(root, tmp_path, kind):
    """Raw masks on non-overlapping zero-padded chunks of the mono mixture at the model's rate,
    mixture phase, clipped to +-1, then mir_eval bss_eval_sources without permutation: the
    numbers `evaluate --protocol paper` reports, recomputed here with numpy and mir_eval."""
    from mir_eval.separation import bss_eval_sources

    from tf_munet.data.audio_io import resample
    from tf_munet.data.musdb_io import find_tracks, load_track

    a = get_preset("tiny").audio
    spec = ev.reference_spec(kind, TINY, FOUR)
    summary = ev.evaluate([spec], root, tmp_path / "out", protocols=("paper",), jobs=1, progress=False)
    ref = find_tracks(root, "test")[0]
    track = load_track(ref)

    def mono(x):
        return resample(x.mean(axis=-1, keepdims=True).astype(np.float32), track.rate, a.sample_rate)[:, 0]

    mix = mono(track.mixture)
    refs = np.stack([mono(track.stems[s]) for s in FOUR])
    size = a.chunk_samples
    count = -(-len(mix) // size)
    pad = lambda x: np.pad(x, (0, count * size - len(x))).reshape(count, size)  # noqa: E731
    est = np.zeros((4, count * size))
    for c, part in enumerate(pad(mix)):
        spec_mix = _stft(part, a.n_fft, a.hop)
        if kind == "oracle":
            mags = np.stack([np.abs(_stft(pad(r)[c], a.n_fft, a.hop)) for r in refs])
            masks = mags / np.maximum(mags.sum(0), 1e-8)
        else:
            masks = np.full((4, *spec_mix.shape), 0.25)
        for k in range(4):
            est[k, c * size : (c + 1) * size] = _istft(masks[k] * spec_mix, a.n_fft, a.hop, size)
    est = np.clip(est[:, : len(mix)], -1, 1)
    sdr, sir, sar, _ = bss_eval_sources(refs.astype(np.float64), est, compute_permutation=False)
    track_scores = json.loads((tmp_path / "out" / "tracks" / f"{ref.name}.json").read_text())
    got = track_scores["results"][kind]["paper"]
    for k, s in enumerate(FOUR):
        assert got[s]["SDR"] == pytest.approx(sdr[k], abs=0.02), s
        assert got[s]["SIR"] == pytest.approx(sir[k], abs=0.02), s
        if sar[k] < 60:  # mixture / K has no artefacts: SAR is round-off (100+ dB), not a number
            assert got[s]["SAR"] == pytest.approx(sar[k], abs=0.02), s
    assert "raw masks" in ev.markdown(summary)


def test_usdr_is_the_mdx_sdr_of_whole_tracks(root, tmp_path):
    """The MDX challenges' SDR, checked by hand on the files: mixture / K against each stem."""
    from tf_munet.data.musdb_io import find_tracks, load_track

    out = tmp_path / "u"
    summary = ev.evaluate([ev.reference_spec("mixture", TINY, FOUR)], root, out, protocols=("usdr",),
                          progress=False)
    for i, ref in enumerate(find_tracks(root, "test")):
        track = load_track(ref)
        for source in FOUR:
            s = track.stems[source].astype(np.float64)
            e = track.mixture.astype(np.float64) / len(FOUR)
            want = 10 * np.log10((np.sum(s**2) + 1e-7) / (np.sum((s - e) ** 2) + 1e-7))
            assert summary["per_track"]["usdr"]["mixture"][source]["SDR"][i] == pytest.approx(want, abs=2e-4)
    silent = ev.score_usdr(np.zeros((1, 100, 2)), np.ones((1, 100, 2)))
    assert np.isnan(silent[0]["SDR"])
    md = (out / "summary.md").read_text()
    assert "usdr: the MDX challenges' SDR" in md and "not the mean of the source rows" in md
    assert "SAR (no artefacts at all) is only floating-point noise" in md


def test_compare_plot_tags_long_names(tmp_path):
    """Boxes carry short tags and a key names them: a long run name cannot spill over."""
    rows = [("run " + "x" * 90, {}, {}, {"museval": {"vocals": {"SDR": [1.0, 2.0, None]}}}),
            ("oracle", {}, {}, {"museval": {"vocals": {"SDR": [5.0, 6.0, 7.0]}}})]
    ev._box_plot(rows, ["vocals"], "museval", tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [ev._tag(i) for i in (0, 1, 25, 26, 27)] == ["A", "B", "Z", "AA", "AB"]
