"""Spleeter's released models as run folders (tf_munet.hub).

The reference stems in tests/data/ come from Spleeter 2.4.2 itself
(tests/make_spleeter_reference.py, run in Spleeter's own environment); here the same seeded
checkpoint is rebuilt under TF 2.21, converted, and separated the way Spleeter does.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import tarfile
import threading

import _spleeter_seeded as seeded
import numpy as np
import pytest

from tf_munet.hub.cli import main as hub_main
from tf_munet.hub.spleeter import (
    checkpoint_variables,
    separate_like_spleeter,
    spleeter_model,
)

TWO_STEMS = ("vocals", "accompaniment")


@pytest.fixture(scope="module")
def seeded_checkpoint(tmp_path_factory):
    """A folder holding a 2stems checkpoint with the reference's seeded weights."""
    folder = tmp_path_factory.mktemp("spleeter") / "2stems"
    seeded.write_checkpoint(folder, seeded.seeded_values(TWO_STEMS))
    return folder


@pytest.fixture(scope="module")
def seeded_archive(seeded_checkpoint):
    """The checkpoint packed in a subfolder and without its `checkpoint` state file (release
    archives have the files at the top level: the converter takes both)."""
    path = seeded_checkpoint.parent / "2stems.tar.gz"
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        for f in sorted(seeded_checkpoint.iterdir()):
            if f.name != "checkpoint":
                tar.add(f, arcname=f"2stems/{f.name}")
    return path


@pytest.fixture(scope="module")
def converted_run(seeded_checkpoint, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "spleeter-2stems"
    assert hub_main(["spleeter:2stems", "--run-dir", str(run), "--archive",
                     str(seeded_checkpoint)]) == 0
    return run


def test_checkpoint_layout_follows_spleeter_numbering():
    names = [n for n, *_ in checkpoint_variables(("vocals", "drums"))]
    # Spleeter's second U-Net starts after the first one's 7 convolutions, 6 transposed
    # convolutions and 12 batch norms
    assert names[0] == "conv2d/kernel" and "conv2d_7/kernel" in names
    assert "conv2d_transpose_6/kernel" in names and "batch_normalization_12/gamma" in names
    assert "conv2d_14/kernel" not in names and len(names) == len(set(names))


def test_models_and_presets():
    assert spleeter_model("spleeter:5stems").instruments[1] == "piano"
    assert spleeter_model("4stems-16kHz").preset.audio.freq_bins == 1536
    assert spleeter_model("spleeter:2stems").preset.audio.freq_bins == 1024
    # piano is part of MUSDB's other: the five add up to the mixture, piano without other not
    from tf_munet.presets import is_exhaustive

    assert is_exhaustive(spleeter_model("5stems").instruments)
    assert not is_exhaustive(("vocals", "piano", "drums", "bass"))


@pytest.mark.integration
def test_converted_run_separates_like_spleeter(converted_run):
    from tf_munet.run_dir import load_run

    reference = np.load(seeded.REFERENCE)
    x = seeded.seeded_input()
    values = seeded.seeded_values(TWO_STEMS)
    assert seeded.checksum(values) == pytest.approx(float(reference["weights_checksum"]), rel=1e-12)
    assert seeded.checksum(x) == pytest.approx(float(reference["input_checksum"]), rel=1e-12)
    config, network = load_run(converted_run)
    assert config.preset.backbone.kind == "spleeter" and config.model == "dedicated"
    assert config.extra["spleeter"]["name"] == "2stems"
    stems = separate_like_spleeter(network, spleeter_model("2stems"), x)
    keep = seeded.kept_positions(len(x))
    for src in TWO_STEMS:
        ours, theirs = stems[src][keep], reference[f"stem_{src}"]
        peak = np.abs(theirs).max()
        assert peak > 0.05  # the seeded network passes real signal
        # float32 round-off through 13 layers and two TF versions: measured 1.1e-5 of the peak
        assert np.abs(ours - theirs).max() < 5e-5 * peak, src


@pytest.mark.integration
def test_converted_run_works_with_separate(converted_run, tmp_path):
    import soundfile as sf

    from tf_munet.separate import main as separate_main

    x = seeded.seeded_input()[: 3 * seeded.RATE]
    sf.write(tmp_path / "mix.wav", x, seeded.RATE, subtype="FLOAT")
    assert separate_main([str(converted_run), str(tmp_path / "mix.wav"), "-o", str(tmp_path / "out"),
                          "--float32", "--no-progress"]) == 0
    stems = {s: sf.read(tmp_path / "out" / "mix" / f"{s}.wav", dtype="float32")[0] for s in TWO_STEMS}
    assert stems["vocals"].shape == x.shape
    # Spleeter's masks sum to 1, so the project's separator gives stems that add up to the mix
    np.testing.assert_allclose(stems["vocals"] + stems["accompaniment"], x, atol=1e-4)
    assert np.abs(stems["vocals"]).max() > 0.01 and np.abs(stems["accompaniment"]).max() > 0.01


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _Server:
    """A loopback HTTP server for a folder (the release's files)."""

    def __init__(self, folder):
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1.4.0"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _release(folder, archive_bytes: bytes, listed_sha: str):
    (folder / "v1.4.0").mkdir(parents=True)
    (folder / "v1.4.0" / "2stems.tar.gz").write_bytes(archive_bytes)
    (folder / "v1.4.0" / "checksum.json").write_text(json.dumps({"2stems": listed_sha}))


def test_download_from_a_release(seeded_archive, converted_run, tmp_path, capsys):
    data = seeded_archive.read_bytes()
    _release(tmp_path / "www", data, hashlib.sha256(data).hexdigest())
    server = _Server(tmp_path / "www")
    try:
        run = tmp_path / "downloaded"
        assert hub_main(["spleeter:2stems", "--run-dir", str(run), "--release-url", server.url]) == 0
    finally:
        server.close()
    config = json.loads((run / "config.json").read_text())
    assert config["spleeter"]["origin"] == f"{server.url}/2stems.tar.gz"
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "model.keras"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no work files left


def test_truncated_download_is_refused_by_name(seeded_archive, tmp_path, capsys):
    data = seeded_archive.read_bytes()
    _release(tmp_path / "www", data[: len(data) // 2], hashlib.sha256(data).hexdigest())
    server = _Server(tmp_path / "www")
    try:
        run = tmp_path / "run"
        assert hub_main(["spleeter:2stems", "--run-dir", str(run), "--release-url", server.url]) == 2
    finally:
        server.close()
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "2stems.tar.gz" in err and "corrupt" in err
    assert not run.exists()
    assert not list(tmp_path.glob(".*"))


def test_unreachable_release_is_one_line(tmp_path, capsys):
    run = tmp_path / "run"
    url = "http://127.0.0.1:9/none"  # discard port: connection refused
    assert hub_main(["spleeter:2stems", "--run-dir", str(run), "--release-url", url,
                     "--timeout", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "checksum.json" in err and not run.exists()


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_corrupt_local_archive_is_refused_by_name(damage, seeded_archive, tmp_path, capsys):
    data = seeded_archive.read_bytes()
    bad = tmp_path / "2stems.tar.gz"
    bad.write_bytes(data[: len(data) * 2 // 3] if damage == "truncated" else b"not a tar" * 99)
    run = tmp_path / "run"
    assert hub_main(["spleeter:2stems", "--run-dir", str(run), "--archive", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {bad}: corrupt or truncated archive"), err
    assert not run.exists() and not list(tmp_path.glob(".*"))


def test_damaged_checkpoint_and_wrong_model_are_refused(seeded_checkpoint, tmp_path, capsys):
    import shutil

    folder = tmp_path / "ckpt"
    shutil.copytree(seeded_checkpoint, folder)
    run = tmp_path / "run"
    # a 2stems checkpoint is not a 4stems one: the first missing variable is named
    assert hub_main(["spleeter:4stems", "--run-dir", str(run), "--archive", str(folder)]) == 2
    assert "no variable conv2d_14/kernel" in capsys.readouterr().err
    data = folder / "model.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 64] = bytes(64)
    data.write_bytes(bytes(raw))
    assert hub_main(["spleeter:2stems", "--run-dir", str(run), "--archive", str(folder)]) == 2
    err = capsys.readouterr().err
    assert f"{folder}: corrupt checkpoint data" in err and not run.exists()


def test_existing_run_folder_is_never_overwritten(seeded_checkpoint, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("mine")
    assert hub_main(["spleeter:2stems", "--run-dir", str(run), "--archive", str(seeded_checkpoint)]) == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert sorted(p.name for p in run.iterdir()) == ["notes.txt"]


def test_unknown_model_is_one_line(tmp_path, capsys):
    assert hub_main(["spleeter:3stems", "--run-dir", str(tmp_path / "r")]) == 2
    assert "unknown model" in capsys.readouterr().err


@pytest.mark.integration
def test_spleeter_graph_exports_to_builtins_only_litert(tmp_path):
    """The spleeter backbone and its ratio masks (narrowed, 5stems with the piano part source)
    through export: builtin ops only, LiteRT = Keras. Spectrogram files only: the waveform ones
    add the same STFT graph to every family (tests/test_export.py)."""
    import keras

    from tf_munet.export import export_run
    from tf_munet.models import build_model
    from tf_munet.presets import get_preset
    from tf_munet.run_dir import RunConfig, save_network, save_run_config

    narrow = get_preset("spleeter").replace(
        backbone={"widths": (4, 8, 16)},
        audio={"sample_rate": 8192, "n_fft": 256, "hop": 64, "freq_bins": 96, "frames": 64},
    )
    sources = spleeter_model("5stems").instruments
    keras.utils.set_random_seed(5)
    run = tmp_path / "run"
    save_run_config(run, RunConfig(narrow, "dedicated", sources))
    save_network(run / "model.keras", build_model(narrow, "dedicated", sources))
    report = export_run(run, tmp_path / "export", formats=("tflite",), quantize=("none",),
                        inputs=("spectrogram",), excerpt_chunks=2, latency_repeats=1)
    for name, v in report["tflite"].items():
        assert not [op for op in v["ops"] if op.startswith("Flex") or op == "CUSTOM"], name
        assert v["max_rel_error"] <= 1e-4, name
        assert np.isfinite(v["sdr"]), name
