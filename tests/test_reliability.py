"""Reliability (issue #8): bad input, crashes and hostile files lose nothing and explain themselves.

A generated corpus (tests/_bad_audio.py) goes through prepare, train, separate, evaluate and the
edge runner: a bad file gives exactly one `error:` line naming the file and the problem, exit
code 2 and nothing at a final path; a merely unusual file gives a correct result. Processes are
killed with SIGKILL at random points of separate and export; output folders are missing,
unwritable or full; models and configs come from strangers.

Covered elsewhere and not repeated here: SIGKILL during prepare (test_data.py
test_killed_prepare_resumes_to_the_same_cache), during training and the NaN-loss guard
(test_train.py test_sigkill_mid_epoch_then_rerun_resumes,
test_nan_stops_with_clear_message_and_keeps_last_good_checkpoint), finite EBW/InstP1/DWA weights
for silent sources (test_weighting.py test_zero_energy_and_zero_loss_give_finite_weights),
safe_child itself (test_spectral.py test_safe_child_never_escapes).
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from _bad_audio import music

from tf_munet_core.errors import UserError

REPO = Path(__file__).resolve().parents[1]
RUNNER = ("-m", "tf_munet_core.edge")  # the edge runner, as `tf-munet-edge` runs it
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(REPO)}
CASES = ["corrupt header", "truncated", "empty", "zero samples", "nan", "inf", "text named .wav",
         "directory named .wav", "one sample", "silence", "8-bit", "96 kHz 6-channel",
         "spaces and non-ASCII"]
STEMS = ("mixture", "vocals", "drums", "bass", "other")
FOUR = ("vocals", "drums", "bass", "other")


def _runner():
    from tf_munet_core import edge

    return edge


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def _assert_one_error(rc, stderr: str, *names: str, problem: str | None = None) -> str:
    """Exit 2, exactly one `error:` line naming every `names` (and matching `problem`), no traceback."""
    assert "Traceback" not in stderr, stderr[-3000:]
    lines = _error_lines(stderr)
    assert rc == 2 and len(lines) == 1, (rc, stderr[-3000:])
    for name in names:
        assert name in lines[0], (name, lines[0])
    if problem:
        assert re.search(problem, lines[0], re.I), (problem, lines[0])
    return lines[0]


def _finals(folder: Path) -> list[Path]:
    """Files at final paths (not the hidden temporaries of atomic writes)."""
    if not folder.exists():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def _leftovers(folder: Path) -> list[Path]:
    if not folder.exists():
        return []
    return sorted(p for p in folder.rglob(".*") if ".tmp" in p.name)


def _check_stems(folder: Path, case, names=FOUR) -> dict[str, np.ndarray]:
    """Stems of a correct separation: every source, the input's rate/channels/length, finite,
    summing to the input (the 4-source masks are normalised; 16-bit output)."""
    x, _ = sf.read(case.path, dtype="float32", always_2d=True)
    stems = {}
    for name in names:
        info = sf.info(folder / f"{name}.wav")
        assert (info.samplerate, info.channels, info.frames) == (case.rate, case.channels, case.samples), name
        stems[name], _ = sf.read(folder / f"{name}.wav", dtype="float32", always_2d=True)
        assert np.isfinite(stems[name]).all()
    if set(names) == set(FOUR):
        assert np.abs(sum(stems.values()) - x).max() < 1e-3
    if not np.any(x):
        assert all(not np.any(s) for s in stems.values())
    return stems


def _track_root(tmp: Path, case, subset: str) -> tuple[Path, str]:
    """A MUSDB-layout root with one track whose five files are all the case's file."""
    name = case.path.stem if not case.path.stem.isascii() else f"Track {case.path.stem}"
    track = tmp / "root" / subset / name
    track.mkdir(parents=True)
    for k in STEMS:
        if case.path.is_dir():
            (track / f"{k}.wav").mkdir()
        else:
            shutil.copy(case.path, track / f"{k}.wav")
    return tmp / "root", name


# ------------------------------------------------------------------------------ the corpus


def _check_outcome(case, rc: int, err: str, out) -> None:
    """A bad file: one error line naming it, nothing at a final path; an unusual one: stems."""
    if case.bad:
        _assert_one_error(rc, err, str(case.path), problem=case.problem)
        assert not _finals(out) and not _leftovers(out)
    else:
        assert rc == 0, err
        _check_stems(out / case.path.stem, case)
        assert not _leftovers(out)


@pytest.mark.parametrize("name", CASES)
def test_separate_on_the_corpus(name, bad_audio, tiny_run, tmp_path, capsys):
    from tf_munet.cli.separate import main

    case = bad_audio[name]
    out = tmp_path / "missing" / "out"  # created on demand
    rc = main([str(tiny_run), str(case.path), "-o", str(out), "--no-progress", "--block-seconds", "2"])
    _check_outcome(case, rc, capsys.readouterr().err, out)


@pytest.mark.parametrize("name", CASES)
def test_edge_runner_on_the_corpus(name, bad_audio, tiny_export, tmp_path, capsys):
    case = bad_audio[name]
    out = tmp_path / "missing" / "out"
    rc = _runner().main([str(tiny_export), str(case.path), "-o", str(out), "--block-seconds", "2"])
    _check_outcome(case, rc, capsys.readouterr().err, out)


PREPARE_BAD = {"one sample": r"too short"}
"""Unusual for separation, unusable for training: a one-sample track has no sample at 8192 Hz."""


@pytest.mark.parametrize("name", CASES)
def test_prepare_on_the_corpus(name, bad_audio, tmp_path, capsys):
    from tf_munet.cli.prepare import main
    from tf_munet.data import cache as cache_lib

    case = bad_audio[name]
    root, track = _track_root(tmp_path, case, "train")
    out = tmp_path / "missing" / "cache"
    rc = main(["--root", str(root), "--preset", "tiny", "--out", str(out), "--workers", "1", "--no-progress"])
    err = capsys.readouterr().err
    problem = PREPARE_BAD.get(name, case.problem)
    if problem:
        _assert_one_error(rc, err, track, "mixture.wav", problem=problem)
        assert not (out / "cache.json").exists() and not _leftovers(out)
        assert not list(out.rglob("*.tfrecord"))
    else:
        assert rc == 0, err
        info = cache_lib.load_cache(out)
        assert info["tracks"]["train"] == [track]
        meta = cache_lib.track_metas(out, info, "train", [track])[0]
        assert meta["samples"] == round(case.samples * 8192 / case.rate)
        assert not _leftovers(out)


@pytest.mark.integration
def test_train_on_bad_and_unusual_roots(bad_audio, tmp_path, capsys):
    from tf_munet.cli.train import main

    small = ["--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "2", "--validation-steps", "1",
             "--verbose", "0"]
    bad_root, track = _track_root(tmp_path / "bad", bad_audio["nan"], "train")
    run = tmp_path / "bad" / "run"
    rc = main(["--data", str(bad_root), "--cache", str(tmp_path / "bad" / "cache"), "--run-dir", str(run), *small])
    _assert_one_error(rc, capsys.readouterr().err, track, "mixture.wav", problem="NaN or infinite")
    assert not (run / "model.keras").exists() and not (run / "checkpoint.keras").exists()

    # 8-bit, 96 kHz 6-channel and a non-ASCII name in one root: a normal run
    root = tmp_path / "unusual" / "root"
    for name in ("8-bit", "96 kHz 6-channel", "spaces and non-ASCII"):
        sub, _ = _track_root(tmp_path / "unusual" / name, bad_audio[name], "train")
        for track_dir in (sub / "train").iterdir():
            shutil.copytree(track_dir, root / "train" / track_dir.name)
    run = tmp_path / "unusual" / "rün dir"
    assert main(["--data", str(root), "--cache", str(tmp_path / "unusual" / "cache"), "--run-dir", str(run),
                 *small]) == 0, capsys.readouterr().err
    history = json.loads((run / "history.json").read_text())
    assert history["epochs_completed"] == 1 and np.isfinite(history["epochs"][0]["train"]["sum"])
    assert (run / "model.keras").is_file() and not _leftovers(run)


EVALUATE_BAD = {"one sample": r"too short to score"}
"""BSS Eval gives meaningless (even infinite) values for a one-sample track: refused by name."""


@pytest.mark.parametrize("name", CASES)
def test_evaluate_on_the_corpus(name, bad_audio, tiny_run, tmp_path, capsys):
    from tf_munet.cli.evaluate import main

    case = bad_audio[name]
    root, track = _track_root(tmp_path, case, "test")
    out = tmp_path / "missing" / "eval"
    rc = main([str(tiny_run), "--root", str(root), "--out", str(out), "--no-references", "--no-progress",
               "--protocol", "paper"])  # museval takes ~100 s on 1 s of 96 kHz 6-channel audio
    err = capsys.readouterr().err
    problem = EVALUATE_BAD.get(name, case.problem)
    if problem:
        _assert_one_error(rc, err, track, "mixture.wav", problem=problem)
        assert not _finals(out) and not _leftovers(out)
    else:
        assert rc == 0, err
        summary = json.loads((out / "summary.json").read_text())
        assert summary["tracks"] == [track]
        scores = json.loads(next((out / "tracks").glob("*.json")).read_text())["results"]
        values = [v for src in next(iter(scores.values()))["paper"].values() for v in src.values()]
        if name == "silence":  # every reference silent: no score, and no crash
            assert all(v is None or np.isnan(v) for v in values)
        else:
            assert all(np.isfinite(v) for v in values)
        assert not _leftovers(out)


# ------------------------------------------------------------------------------ real processes


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300, **kwargs)


@pytest.mark.integration
def test_real_processes_exit_2_with_one_line_and_debug_shows_the_traceback(bad_audio, tiny_run, tiny_export,
                                                                             tmp_path):
    py = sys.executable
    nan = bad_audio["nan"]
    out = tmp_path / "out"
    proc = _run([py, "-m", "tf_munet.separate", str(tiny_run), str(nan.path), "-o", str(out), "--no-progress"])
    _assert_one_error(proc.returncode, proc.stderr, str(nan.path), problem="NaN or infinite")
    proc = _run([py, *RUNNER, str(tiny_export), str(nan.path), "-o", str(out)])
    _assert_one_error(proc.returncode, proc.stderr, str(nan.path), problem="NaN or infinite")
    root, track = _track_root(tmp_path / "p", bad_audio["truncated"], "train")
    proc = _run([py, "-m", "tf_munet.prepare", "--root", str(root), "--preset", "tiny", "--out",
                 str(tmp_path / "cache"), "--workers", "2", "--no-progress"])  # spawned workers too
    _assert_one_error(proc.returncode, proc.stderr, track, problem="truncated")
    assert not _finals(out)
    # --debug: the full traceback instead
    proc = _run([py, "-m", "tf_munet.separate", str(tiny_run), str(nan.path), "-o", str(out), "--debug"])
    assert proc.returncode != 0 and "Traceback" in proc.stderr and "NaN or infinite" in proc.stderr
    edge = _runner()
    with pytest.raises(UserError, match="NaN or infinite"):
        edge.main([str(tiny_export), str(nan.path), "-o", str(out), "--debug"])
    assert not _finals(out)


# ------------------------------------------------------------------------------ output folders


def test_unwritable_output_folders_are_one_line_errors(bad_audio, tiny_run, tiny_export, synthetic_musdb,
                                                        tmp_path, capsys):
    """Root ignores permissions, so the unwritable folder is one below a regular file."""
    from tf_munet.cli.evaluate import main as evaluate
    from tf_munet.cli.export import main as export
    from tf_munet.cli.prepare import main as prepare
    from tf_munet.cli.separate import main as separate
    from tf_munet.cli.train import main as train

    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    out = blocker / "out"
    song = bad_audio["8-bit"].path
    calls = {
        "separate": lambda: separate([str(tiny_run), str(song), "-o", str(out), "--no-progress"]),
        "edge": lambda: _runner().main([str(tiny_export), str(song), "-o", str(out)]),
        "prepare": lambda: prepare(["--root", str(synthetic_musdb), "--preset", "tiny", "--out", str(out),
                                    "--workers", "1", "--no-progress"]),
        "train": lambda: train(["--run-dir", str(out), "--epochs", "1", "--steps-per-epoch", "1"]),
        "evaluate": lambda: evaluate(["mixture", "--root", str(synthetic_musdb), "--out", str(out),
                                      "--no-references", "--no-progress", "--preset", "tiny"]),
        "export": lambda: export([str(tiny_run), "--out", str(out), "--quiet", "--formats", "tflite",
                                  "--quantize", "none", "--inputs", "spectrogram"]),
    }
    for tool, call in calls.items():
        rc = call()
        _assert_one_error(rc, capsys.readouterr().err, str(blocker), problem="not a directory|not a folder")
    assert blocker.read_text() == "not a folder"


def _limited(limit: int):
    def apply():  # in the child: a file-size limit stands in for a full disk (EFBIG, like ENOSPC)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.integration
def test_a_full_disk_leaves_no_partial_stems(tiny_run, tiny_export, tmp_path):
    song = tmp_path / "song.wav"
    sf.write(song, music(3.0), 44100, subtype="PCM_16")  # each stem: 529 kB
    out = tmp_path / "out"
    cmds = {
        "separate": [sys.executable, "-m", "tf_munet.separate", str(tiny_run), str(song), "-o", str(out),
                     "--no-progress"],
        "edge": [sys.executable, *RUNNER, str(tiny_export), str(song), "-o", str(out)],
    }
    for tool, cmd in cmds.items():
        proc = _run(cmd, preexec_fn=_limited(200_000))
        _assert_one_error(proc.returncode, proc.stderr, str(out / "song"), problem="disk full|too large|space")
        assert not _finals(out) and not _leftovers(out), tool


# ------------------------------------------------------------------------------ SIGKILL


def _kill_while_writing(cmd: list[str], out: Path, delay: float, ready=None, start_timeout: float = 120) -> int:
    """Start `cmd`, wait until `ready(out)` (default: anything under `out`), sleep `delay`, SIGKILL it."""
    ready = ready or (lambda folder: folder.exists() and any(folder.rglob("*")))
    proc = subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + start_timeout
    while proc.poll() is None and time.time() < deadline:
        if ready(out):
            break
        time.sleep(0.005)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return proc.returncode


@pytest.mark.integration
def test_sigkill_during_separate_leaves_no_half_written_stem(tiny_run, tmp_path):
    from tf_munet.cli.separate import main

    seconds = 40
    song = tmp_path / "long song.wav"
    sf.write(song, music(seconds, seed=3), 44100, subtype="PCM_16")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "tf_munet.separate", str(tiny_run), str(song), "-o", str(out),
           "--no-progress", "--block-seconds", "2"]
    rng = random.Random(8)
    # a random point while the stems are being written, then one anywhere from the start
    rc = _kill_while_writing(cmd, out, rng.uniform(0.0, 0.3))
    assert rc == -signal.SIGKILL
    assert not _finals(out)  # temporaries at most: the stems are renamed at the end
    _kill_while_writing(cmd, out, rng.uniform(0.0, 6.0), ready=lambda folder: True)
    for stem in _finals(out):  # a stem at its final path is always complete
        assert sf.info(stem).frames == seconds * 44100, stem
    assert main([str(tiny_run), str(song), "-o", str(out), "--no-progress", "--block-seconds", "2",
                 "--overwrite"]) == 0  # the stems a killed run finished are replaced
    x, _ = sf.read(song, dtype="float32", always_2d=True)
    stems = [sf.read(out / "long song" / f"{s}.wav", dtype="float32", always_2d=True)[0] for s in FOUR]
    assert np.abs(sum(stems) - x).max() < 1e-3


@pytest.mark.integration
def test_sigkill_during_export_leaves_no_half_written_artifact(tiny_run, tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    from tf_munet.cli.export import main

    out = tmp_path / "export"
    args = [str(tiny_run), "--out", str(out), "--quantize", "none,fp16", "--inputs", "spectrogram",
            "--excerpt-chunks", "2", "--quiet"]
    # an earlier export's manifest must not vouch for the files a killed export leaves
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"format": "tf_munet-tflite/1", "variants": {}}))
    started = lambda folder: any(folder.glob("*.tflite")) or (folder / "savedmodel").exists()  # noqa: E731
    rc = _kill_while_writing([sys.executable, "-m", "tf_munet.export", *args, "--overwrite"], out,
                             random.Random(3).uniform(0.0, 2.0), ready=started)
    assert rc == -signal.SIGKILL
    # what is at a final path is whole: flatbuffers load, JSON parses, the SavedModel is complete
    for path in _finals(out):
        if path.suffix == ".tflite":
            Interpreter(model_path=str(path)).allocate_tensors()
        elif path.suffix == ".json":
            json.loads(path.read_text())
    if (out / "savedmodel").exists():
        assert (out / "savedmodel" / "saved_model.pb").is_file()
        assert (out / "savedmodel" / "variables" / "variables.index").is_file()
    assert not (out / "manifest.json").exists()  # written last: a killed export has none
    assert main(args) == 2  # what the killed export left is not mixed with a new one ...
    assert main([*args, "--overwrite"]) == 0  # ... unless asked
    manifest = json.loads((out / "manifest.json").read_text())
    for variant in manifest["variants"].values():
        for model in variant["models"]:
            assert (out / model["file"]).is_file()
    assert (out / "report.json").is_file() and not _leftovers(out)


# ------------------------------------------------------------------------------ strangers' files


def test_keras_files_load_in_safe_mode_only(tiny_run, bad_audio, tmp_path, capsys, monkeypatch):
    """A .keras file with a Python lambda is refused before the lambda can run."""
    import keras

    from tf_munet.cli.separate import main

    marker = tmp_path / "the lambda ran"
    monkeypatch.setenv("TF_MUNET_TEST_MARKER", str(marker))
    inp = keras.Input((128, 64, 1), name="magnitude")
    x = keras.layers.Lambda(lambda t: (open(os.environ["TF_MUNET_TEST_MARKER"], "w").close(), t)[1])(inp)
    x = keras.layers.Concatenate()([keras.layers.Reshape((128, 64, 1, 1))(x)] * 4)
    run = tmp_path / "stranger's run"
    run.mkdir()
    shutil.copy(tiny_run / "config.json", run / "config.json")
    keras.Model(inp, x).save(run / "model.keras")
    marker.unlink()
    rc = main([str(run), str(bad_audio["8-bit"].path), "-o", str(tmp_path / "out"), "--no-progress"])
    _assert_one_error(rc, capsys.readouterr().err, str(run / "model.keras"), problem="Lambda.*arbitrary code")
    assert not marker.exists() and not _finals(tmp_path / "out")


def test_hostile_names_never_leave_the_output_folder(tiny_run, tiny_export, bad_audio, tmp_path, capsys):
    from tf_munet.cli.separate import main

    song = bad_audio["8-bit"].path
    jail = tmp_path / "jail"
    # a run whose config names a source "../../escaped": refused when the config is read
    run = tmp_path / "hostile run"
    shutil.copytree(tiny_run, run)
    config = json.loads((run / "config.json").read_text())
    config["sources"] = ["../../../../escaped", "drums", "bass", "/tmp/absolute"]
    (run / "config.json").write_text(json.dumps(config))
    rc = main([str(run), str(song), "-o", str(jail / "out"), "--no-progress"])
    _assert_one_error(rc, capsys.readouterr().err, str(run / "config.json"), problem="unknown sources")
    # the same in an export's manifest, read by the edge runner (no tf_munet there)
    export = tmp_path / "hostile export"
    shutil.copytree(tiny_export, export)
    manifest = json.loads((export / "manifest.json").read_text())
    manifest["sources"] = ["../../../../escaped", "drums", "bass", "/tmp/absolute"]
    for variant in manifest["variants"].values():
        for model in variant["models"]:
            model["sources"] = manifest["sources"]
    (export / "manifest.json").write_text(json.dumps(manifest))
    rc = _runner().main([str(export), str(song), "-o", str(jail / "out")])
    _assert_one_error(rc, capsys.readouterr().err, str(export / "manifest.json"), problem="source name")
    # input files named like paths: outputs stay inside the output folder
    dots = tmp_path / "in" / "...wav"
    dots.parent.mkdir()
    shutil.copy(song, dots)
    assert main([str(tiny_run), str(dots), "-o", str(jail / "out"), "--no-progress"]) == 0
    assert _runner().main([str(tiny_export), str(dots), "-o", str(jail / "edge")]) == 0
    written = [p for p in tmp_path.rglob("*.wav") if p != dots]
    assert len(written) == 8 and all(jail in p.parents for p in written), written
    assert not list(tmp_path.parent.glob("**/escaped*")) and not Path("/tmp/absolute.wav").exists()
