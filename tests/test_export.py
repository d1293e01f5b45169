"""Export: builtin-only DSP, SavedModel signatures, TF-Lite variants in LiteRT, report, edge runner.

Every run here is a tiny model trained for a few dozen steps (tests/_tiny_run.py); each export is
converted once per module (the conversions are the slow part).
"""

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from _tiny_run import FOUR, train_tiny_run

from tf_munet.presets import get_preset
from tf_munet_core import edge, litert
from tf_munet_core.errors import UserError

TINY = get_preset("tiny")
# The paper's route at test size: double-conv backbone, log input, non-power-of-two n_fft (DFT
# matmul in the graph) and the log-frequency warp.
PAPER_TINY = get_preset("paper").replace(
    backbone={"widths": (4, 8)},
    audio={"sample_rate": 8192, "n_fft": 254, "hop": 64, "freq_bins": 128, "frames": 64, "warp_bins": 64},
)
# fullband's route at test size: stereo in, masks per channel.
STEREO_TINY = get_preset("fullband").replace(
    backbone={"widths": (4, 8)},
    audio={"sample_rate": 8192, "n_fft": 256, "hop": 64, "freq_bins": 96, "frames": 64},
)


DEDICATED = ("vocals", "drums")


def _export(tmp, family, preset=TINY, steps=40, sources=FOUR, **kwargs):
    from tf_munet.export import export_run

    run = train_tiny_run(tmp / f"run_{family}", family=family, steps=steps, preset=preset, sources=sources)
    out = tmp / f"export_{family}"
    report = export_run(run, out, excerpt_chunks=3, calibration=12, latency_repeats=3, **kwargs)
    return run, out, report


@pytest.fixture(scope="module")
def munet(tmp_path_factory):
    """Every format, quantization and input of an M-U-Net."""
    return _export(tmp_path_factory.mktemp("munet"), "munet", steps=60)


@pytest.fixture(scope="module")
def cunet(tmp_path_factory):
    return _export(tmp_path_factory.mktemp("cunet"), "cunet", steps=20, quantize=("none",))


@pytest.fixture(scope="module")
def dedicated(tmp_path_factory):
    """Two sources: one file per source and kind (each file is a TF-Lite conversion, seconds each)."""
    return _export(tmp_path_factory.mktemp("dedicated"), "dedicated", steps=20, sources=DEDICATED, quantize=("none",),
                   formats=("tflite",))


@pytest.fixture(scope="module")
def paper_tiny(tmp_path_factory):
    return _export(tmp_path_factory.mktemp("paper"), "munet", PAPER_TINY, steps=10, quantize=("none", "fp16"))


@pytest.fixture(scope="module")
def stereo_tiny(tmp_path_factory):
    return _export(tmp_path_factory.mktemp("stereo"), "munet", STEREO_TINY, steps=10,
                   quantize=("none",), formats=("tflite",))


def _snr(ref, est):
    return 10 * np.log10(np.sum(ref**2) / max(np.sum((ref - est) ** 2), 1e-20))


# ------------------------------------------------------------------------------ report and numbers


@pytest.mark.integration
def test_munet_variants_meet_error_and_sdr_bounds(munet):
    _, out, report = munet
    variants = report["tflite"]
    assert set(variants) == {f"{k}-{q}" for k in ("spectrogram", "waveform")
                             for q in ("float32", "float16", "dynamic", "int8")}
    for name, v in variants.items():
        assert all((out / f).is_file() for f in v["files"]), name
        assert v["size_bytes"] == sum((out / f).stat().st_size for f in v["files"])
        assert not [op for op in v["ops"] if op.startswith("Flex") or op == "CUSTOM"], name
        assert v["latency_ms_per_chunk"] > 0 and np.isfinite(v["sdr"])
    for kind in ("spectrogram", "waveform"):
        assert variants[f"{kind}-float32"]["max_rel_error"] <= 1e-4
        assert variants[f"{kind}-float16"]["max_rel_error"] <= 1e-2
        assert variants[f"{kind}-dynamic"]["sdr_change"] >= -1.0
        assert variants[f"{kind}-int8"]["sdr_change"] >= -1.0
        # quantization shrinks the files
        assert variants[f"{kind}-int8"]["size_bytes"] < 0.5 * variants[f"{kind}-float32"]["size_bytes"]
    # the trained model separates: better than the mixture / K baseline on the excerpt
    assert report["excerpt"]["sdr_keras"]["waveform"] > 1.0
    # the waveform graph's STFT is the RFFT builtin for n_fft 256; int8 keeps the DSP in float
    assert "RFFT2D" in variants["waveform-float32"]["ops"]
    assert report["stft_mode"] == "fft"
    saved = json.loads((out / "report.json").read_text())
    assert saved["tflite"]["waveform-int8"]["sdr"] == pytest.approx(variants["waveform-int8"]["sdr"])


def _table_cells(table: str) -> list[dict[str, str]]:
    """The variant table's rows as {header: cell}, each cell under the header its right edge
    (values are right-aligned under right-aligned headers) closes."""
    import re

    lines = table.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("variant"))
    head, rows = lines[start], []
    for line in lines[start + 2 :]:
        if line.startswith("ms/chunk"):
            break
        spans = [m.span() for m in re.finditer(r"\S+", line)]
        edges = [0] + [end for _, end in spans[:-1]]
        rows.append({head[a:end].strip(): line[s:end] for a, (s, end) in zip(edges, spans)})
    return rows


@pytest.mark.integration
def test_report_table_shows_each_variants_numbers_under_their_headers(munet):
    from tf_munet.export.report import format_table

    _, _, report = munet
    table = format_table(report)
    rows = _table_cells(table)
    assert [r["variant"] for r in rows] == list(report["tflite"])
    for row, v in zip(rows, report["tflite"].values()):
        want = {"files": len(v["files"]), "size MB": v["size_bytes"] / 1e6, "ops": len(v["ops"]),
                "max err": v["max_abs_error"], "max rel": v["max_rel_error"], "mean err": v["mean_abs_error"],
                "SDR keras": v["sdr_keras"], "SDR": v["sdr"], "dSDR": v["sdr_change"],
                "ms/chunk": v["latency_ms_per_chunk"], "best": v["latency_best_ms_per_chunk"]}
        assert set(row) == {"variant", *want}, row
        for header, value in want.items():  # to the printed precision: 3 digits (e) or 2-3 decimals
            cell = row[header]
            tol = {"rel": 6e-3, "abs": 0} if "e" in cell else {"rel": 0, "abs": 6e-3}
            assert float(cell) == pytest.approx(value, **tol), (row["variant"], header)
    sm = report["savedmodel"]
    assert f"SavedModel {sm['path']} ({sm['size_bytes'] / 1e6:.2f} MB)" in table
    for name, sig in sm["signatures"].items():
        assert f"{name} max rel err {sig['max_rel_error']:.1e}" in table


@pytest.mark.integration
def test_int8_quantizes_the_network_only(munet):
    from tf_munet.export import tflite

    _, out, _ = munet
    it = tflite.interpreter(out / "waveform-int8.tflite", delegates=False)
    kinds = {}
    tensors = {t["index"]: t for t in it.get_tensor_details()}
    for op in it._get_ops_details():
        kinds.setdefault(op["op_name"], set()).update(tensors[i]["dtype"].__name__ for i in op["outputs"])
    assert kinds["CONV_2D"] == {"int8"} and kinds["TRANSPOSE_CONV"] == {"int8"}
    assert "int8" not in kinds["MIRROR_PAD"] | kinds["SUM"]  # STFT framing and overlap-add
    assert it.get_input_details()[0]["dtype"] == np.float32


@pytest.mark.integration
def test_savedmodel_signatures_are_served(munet):
    import tensorflow as tf

    from tf_munet.export.graphs import default_normalization, reference_masks, reference_waveform
    from tf_munet.run_dir import load_run

    run, out, report = munet
    assert all(v["max_rel_error"] <= 1e-5 for v in report["savedmodel"]["signatures"].values())
    loaded = tf.saved_model.load(str(out / "savedmodel"))
    assert {"separate_spectrogram", "separate_waveform"} <= set(loaded.signatures)
    config, net = load_run(run)
    a = config.preset.audio
    rng = np.random.default_rng(1)
    wave = (0.1 * rng.standard_normal((2, a.chunk_samples, a.channels))).astype(np.float32)
    stems = loaded.signatures["separate_waveform"](waveform=tf.constant(wave))
    assert set(stems) == set(FOUR)
    got = np.stack([stems[s].numpy() for s in FOUR], -1)
    ref = reference_waveform(net, a, wave, normalize=default_normalization(FOUR))
    assert np.abs(got - ref).max() <= 1e-4 * np.abs(ref).max()
    # exhaustive normalisation: the stems add up to the chunk
    assert np.abs(got.sum(-1) - wave).max() < 1e-4
    from tf_munet.spectral import SpectralFrontEnd

    mag = SpectralFrontEnd(a).magnitude(tf.constant(wave))
    masks = loaded.signatures["separate_spectrogram"](magnitude=mag)["masks"].numpy()
    np.testing.assert_allclose(masks, reference_masks(net, a, wave), atol=1e-5)


@pytest.mark.integration
def test_nan_export_trap_is_caught(munet, tmp_path):
    """A tf.saved_model.save directory converts to a NaN model; verify()
    must refuse it."""
    import tensorflow as tf

    from tf_munet.export import tflite
    from tf_munet.run_dir import load_run

    run, _, _ = munet
    config, net = load_run(run)
    tf.saved_model.save(net, str(tmp_path / "trap"))
    model = tflite.convert(tmp_path / "trap", "serving_default")
    runner = tflite.Runner(model)
    a = config.preset.audio
    feed = {runner.inputs[0]: np.ones((1, a.model_bins, a.frames, a.channels), np.float32)}
    with pytest.raises(tflite.ExportError, match="not finite"):
        tflite.verify(runner, [feed], "trap.tflite")


def test_flex_ops_are_rejected():
    from tf_munet.export import tflite

    tflite.check_builtin_only(["CONV_2D", "RFFT2D"])
    with pytest.raises(tflite.ExportError, match="FlexComplex"):
        tflite.check_builtin_only(["CONV_2D", "FlexComplex"], "m.tflite")


# ------------------------------------------------------------------------------ families and presets


@pytest.mark.integration
def test_cunet_takes_the_condition_as_named_input(cunet):
    _, out, report = cunet
    manifest = json.loads((out / "manifest.json").read_text())
    for kind in ("spectrogram", "waveform"):
        (model,) = manifest["variants"][f"{kind}-float32"]["models"]
        assert model["conditioned"] and "condition" in model["inputs"]
        assert model["sources"] == list(FOUR)
        v = report["tflite"][f"{kind}-float32"]
        assert v["max_rel_error"] <= 1e-4 and v["calls_per_chunk"] == len(FOUR)
    assert manifest["variants"]["waveform-float32"]["models"][0]["outputs"] == ["estimate"]


@pytest.mark.integration
def test_dedicated_exports_one_file_per_source(dedicated):
    _, out, report = dedicated
    manifest = json.loads((out / "manifest.json").read_text())
    for kind in ("spectrogram", "waveform"):
        models = manifest["variants"][f"{kind}-float32"]["models"]
        assert [m["sources"] for m in models] == [[s] for s in DEDICATED]
        assert [m["file"] for m in models] == [f"{kind}-float32-{s}.tflite" for s in DEDICATED]
        assert report["tflite"][f"{kind}-float32"]["max_rel_error"] <= 1e-4


@pytest.mark.integration
def test_paper_route_warp_and_dft(paper_tiny):
    """The paper's route exports. Its input floor is the authors' 2.2e-16, so the network also
    sees the float32 rounding noise of near-silent bins, where the waveform graph's DFT and
    TensorFlow's FFT differ: its stems drift further from Keras than with a 1e-3 floor
    (measured here: float32 1.0e-4 against 6.4e-6, float16 3.2e-2 against 6.0e-3; the
    spectrogram graph, fed the same magnitudes, 5.9e-7 and 8.1e-4 either way)."""
    _, out, report = paper_tiny
    assert report["stft_mode"] == "dft"
    assert (out / "grids.npz").is_file()
    bounds = {"spectrogram": (1e-4, 1e-2), "waveform": (2e-4, 5e-2)}
    for kind, (float32, float16) in bounds.items():
        assert report["tflite"][f"{kind}-float32"]["max_rel_error"] <= float32
        assert report["tflite"][f"{kind}-float16"]["max_rel_error"] <= float16
    assert "RFFT2D" not in report["tflite"]["waveform-float32"]["ops"]
    # silence: the float16 variant stores 2.2e-16 as 0, and log(0) would make the masks NaN
    a = PAPER_TINY.audio
    silent = np.zeros((2, a.model_bins, a.frames, a.channels), np.float32)
    for variant in ("float32", "float16"):
        assert np.isfinite(litert.LiteRTExport(out, variant).run(silent)).all(), variant


@pytest.mark.integration
def test_stereo_route(stereo_tiny):
    _, out, report = stereo_tiny
    assert report["audio"]["channels"] == 2
    for kind in ("spectrogram", "waveform"):
        assert report["tflite"][f"{kind}-float32"]["max_rel_error"] <= 1e-4


@pytest.mark.integration
def test_spectrogram_files_have_fixed_batches_for_xnnpack(munet, cunet, dedicated):
    """A free batch dimension leaves SHAPE/STRIDED_SLICE/PACK feeding every TRANSPOSE_CONV's
    output shape, which XNNPACK cannot delegate (the decoder then runs ~3x slower): spectrogram
    files carry one signature per fixed batch size instead, and the manifest names them."""
    from tf_munet.export import tflite
    from tf_munet.export.savedmodel import PATCH_BATCHES

    for _, out, _ in (munet, cunet, dedicated):
        manifest = json.loads((out / "manifest.json").read_text())
        for model in manifest["variants"]["spectrogram-float32"]["models"]:
            assert sorted(map(int, model["batches"])) == sorted(PATCH_BATCHES)
            path = out / model["file"]
            assert not {"SHAPE", "STRIDED_SLICE", "PACK"} & set(tflite.op_names(path)), path
            it = tflite.interpreter(path)
            for size, signature in model["batches"].items():
                details = it.get_signature_runner(signature).get_input_details()["magnitude"]
                assert list(details["shape_signature"])[0] == int(size)


@pytest.mark.integration
def test_every_file_runs_in_litert_without_tensorflow(munet, cunet, dedicated, paper_tiny, stereo_tiny):
    folders = [str(e[1]) for e in (munet, cunet, dedicated, paper_tiny, stereo_tiny)]
    script = """
import sys, pathlib
import numpy as np
from ai_edge_litert.interpreter import Interpreter
count = 0
for folder in sys.argv[1:]:
    for path in sorted(pathlib.Path(folder).glob("*.tflite")):
        it = Interpreter(model_path=str(path))
        for key in it.get_signature_list():  # spectrogram files: one per fixed batch size
            run = it.get_signature_runner(key)
            feed = {}
            for name, d in run.get_input_details().items():
                x = np.random.default_rng(0).uniform(0, 1, d["shape"]).astype(np.float32)
                eye = np.eye(d["shape"][1], dtype=np.float32)[np.zeros(d["shape"][0], int)]
                feed[name] = eye if name == "condition" else x
            for name, y in run(**feed).items():
                assert np.all(np.isfinite(y)), (path, key, name)
        count += 1
assert not [m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf_munet")]
print("ran", count)
"""
    proc = subprocess.run([sys.executable, "-c", script, *folders], capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert int(proc.stdout.split()[-1]) >= 8 + 2 + 2 * len(DEDICATED) + 4 + 2


# ------------------------------------------------------------------------------ edge runner


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    """A held-out synthetic track at 22.05 kHz stereo (resampling and channel mapping)."""
    from tf_munet.data.synthetic import synthetic_stems

    track = synthetic_stems(7, 4.0, rate=22050, channels=2)
    path = tmp_path_factory.mktemp("song") / "song.wav"
    sf.write(path, track["mixture"], 22050, subtype="FLOAT")
    return path, track


def _run_edge(export_dir, song_path, out, *args):
    """The runner in a subprocess that fails if TensorFlow, Keras or tf_munet got imported."""
    code = (
        "import runpy, sys; sys.argv = ['tf-munet-edge', *sys.argv[1:]]; "
        "code = 0\n"
        "try:\n    runpy.run_module('tf_munet_core.edge', run_name='__main__', alter_sys=True)\n"
        "except SystemExit as e:\n    code = e.code\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'tf_munet')]\n"
        "assert not bad, bad[:5]\nsys.exit(code)"
    )
    return subprocess.run(
        [sys.executable, "-c", code, str(export_dir), str(song_path), "-o", str(out),
         "--float32", *args], capture_output=True, text=True, timeout=300,
    )


@pytest.mark.integration
def test_every_spectrogram_variant_separates_close_to_keras(munet, song):
    """Fixed-batch files (float32, float16) and free-batch ones (dynamic, int8) both go through
    the runner's batch plan; quantized stems stay near Keras' (their error, not a wrong patch)."""
    from tf_munet.separation import Separator

    run, export_dir, _ = munet
    _, track = song
    x = track["mixture"][: 3 * 22050]  # 3 s: several patches, a padded last batch
    ref = Separator.load(run).separate(x, 22050)
    bounds = {"float32": 120.0, "float16": 40.0, "dynamic": 10.0, "int8": 10.0}  # SNR, dB
    for variant, snr in bounds.items():
        got = litert.load_separator(export_dir, variant=variant).separate(x, 22050)
        for s in FOUR:
            assert got[s].shape == ref[s].shape
            assert _snr(ref[s], got[s]) > snr, (variant, s, _snr(ref[s], got[s]))


@pytest.mark.integration
def test_edge_runner_matches_the_separator(munet, song, tmp_path):
    from tf_munet.separation import Separator

    run, export_dir, _ = munet
    path, track = song
    # 2 s blocks: the file is streamed in several blocks with crossfades
    ref = Separator.load(run, block_seconds=2.0).separate(track["mixture"], 22050)
    proc = _run_edge(export_dir, path, tmp_path / "out", "--block-seconds", "2", "--variant", "none")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"{path}: 4.0 s in " in proc.stdout  # a summary line per file
    for s in FOUR:
        got, rate = sf.read(tmp_path / "out" / "song" / f"{s}.wav", always_2d=True)
        assert rate == 22050 and got.shape == ref[s].shape
        assert np.abs(got - ref[s]).max() < 1e-4, s
    # the patch overlap travels in the manifest; --overlap overrides it like separate's option
    assert json.loads((export_dir / "manifest.json").read_text())["overlap"] == 0.25
    ref = Separator.load(run, overlap=0.5).separate(track["mixture"], 22050)
    proc = _run_edge(export_dir, path, tmp_path / "half", "--overlap", "0.5", "--dsp-threads", "1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = sf.read(tmp_path / "half" / "song" / "vocals.wav", always_2d=True)[0]
    assert np.abs(got - ref["vocals"]).max() < 1e-4
    # the waveform-in model: model bandwidth only, chunks instead of patches, so close, not equal
    proc = _run_edge(export_dir, path, tmp_path / "wave", "--input", "waveform", "--variant", "int8")
    assert proc.returncode == 0, proc.stderr[-2000:]
    wave = {s: sf.read(tmp_path / "wave" / "song" / f"{s}.wav", always_2d=True)[0] for s in FOUR}
    assert np.mean([_snr(ref[s], wave[s]) for s in FOUR]) > 10
    true_sep = np.mean([_snr(track[s], ref[s]) for s in FOUR])
    true_wave = np.mean([_snr(track[s], wave[s]) for s in FOUR])
    assert true_wave > true_sep - 1.0


@pytest.mark.integration
@pytest.mark.parametrize("which", ["cunet", "dedicated", "stereo_tiny"])
def test_edge_runner_other_families(which, request, song):
    from tf_munet.separation import Separator

    run, export_dir, _ = request.getfixturevalue(which)
    path, track = song
    ref = Separator.load(run).separate(track["mixture"], 22050)
    got = litert.load_separator(export_dir).separate(track["mixture"], 22050)
    assert set(got) == set(ref)
    for s in ref:
        assert np.abs(got[s] - ref[s]).max() < 1e-4, s
    wave = litert.load_separator(export_dir, kind="waveform").separate(track["mixture"], 22050)
    assert set(wave) == set(ref)
    assert all(wave[s].shape == ref[s].shape and np.all(np.isfinite(wave[s])) for s in ref)


@pytest.mark.integration
def test_edge_runner_errors(munet, tmp_path):
    _, export_dir, _ = munet
    wav = tmp_path / "x.wav"
    sf.write(wav, np.zeros((9000, 1)), 8000)
    assert edge.main([str(tmp_path), str(wav), "-o", str(tmp_path / "o")]) == 2
    assert edge.main([str(export_dir), str(tmp_path / "missing.wav"), "-o", str(tmp_path / "o")]) == 2
    with pytest.raises(UserError, match="no variant 'waveform-int4'.*waveform-int8"):
        litert.LiteRTExport(export_dir, "int4", "waveform")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    assert edge.main([str(export_dir), str(bad), "-o", str(tmp_path / "o")]) == 2
    assert not list((tmp_path / "o").rglob("*.wav"))


# ------------------------------------------------------------------------------ CLI


@pytest.mark.integration
def test_cli(cunet, synthetic_musdb, tmp_path, capsys):
    from tf_munet.cli.export import main

    run, _, _ = cunet
    out = tmp_path / "cli"
    # --data: int8 calibration on MUSDB train tracks, validation excerpt from its test track
    assert main([str(run), "--out", str(out), "--formats", "tflite", "--quantize", "none,int8",
                 "--inputs", "spectrogram", "--quiet", "--excerpt-chunks", "2",
                 "--calibration", "4", "--data", str(synthetic_musdb)]) == 0
    table = capsys.readouterr().out
    assert "spectrogram-int8" in table and "waveform" not in table.split("\n", 1)[1]
    assert "Synthetic Test - Track 01" in table
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.json", "report.json", "spectrogram-float32.tflite", "spectrogram-int8.tflite"]
    report = json.loads((out / "report.json").read_text())
    assert report["tflite"]["spectrogram-int8"]["sdr_change"] >= -1.0
    assert main([str(run), "--out", str(out), "--quantize", "int4"]) == 2
    assert "--quantize int4" in capsys.readouterr().err
    assert main([str(tmp_path / "nope"), "--out", str(out)]) == 2
    assert "config.json" in capsys.readouterr().err
