"""Training CLI and loop: run folders, resume after SIGKILL, NaN guard, distribution strategies.

Every run is the tiny preset on synthetic data with a few steps of batch 2. Runs that need
their own TensorFlow set-up (SIGKILL, two logical CPUs, two workers) are subprocesses.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tf_munet.cli.train import main
from tf_munet.errors import UserError
from tf_munet.training.options import TrainOptions, parse_options

SMALL = ["--steps-per-epoch", "2", "--batch-size", "2", "--validation-steps", "1",
         "--verbose", "0"]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}


def _history(run: Path) -> dict:
    return json.loads((run / "history.json").read_text())


def _config(run: Path) -> dict:
    return json.loads((run / "config.json").read_text())


def _event_tags(folder: Path) -> set[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    acc.Reload()
    return set(acc.Tags()["tensors"])


def _first_image(folder: Path, tag: str) -> np.ndarray:
    import tensorflow as tf
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    acc.Reload()
    encoded = tf.make_ndarray(acc.Tensors(tag)[0].tensor_proto)[2]  # width, height, PNG
    return tf.io.decode_png(encoded).numpy()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------- options


def test_options_and_help_import_no_tensorflow():
    code = ("import sys; from tf_munet.training.options import "
            "parse_options; o = parse_options(['--preset', 'cunet']); "
            "assert 'tensorflow' not in sys.modules, 'TF imported'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV)
    assert out.returncode == 0, out.stderr
    helped = subprocess.run([sys.executable, "-m", "tf_munet.train", "--help"],
                            capture_output=True, text=True, env=ENV, timeout=30)
    assert helped.returncode == 0
    for flag in ("--preset", "--model", "--weighting", "--resume", "--strategy",
                 "--mixed-precision", "--config", "--steps-per-epoch"):
        assert flag in helped.stdout


def test_config_file_merges_under_command_line(tmp_path):
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("model: cunet\nepochs: 7\nbatch-size: 3\nsources: [vocals, drums]\n"
                         "preset_overrides: {backbone: {dropout: 0.0}}\n")
    o = parse_options(["--config", str(yaml_file), "--epochs", "9"])
    assert (o.model, o.epochs, o.batch_size, o.sources) == ("cunet", 9, 3, "vocals,drums")
    assert o.preset_overrides == {"backbone": {"dropout": 0.0}}
    assert {"model", "epochs", "batch_size", "sources", "config"} - {"config"} <= o.given()
    assert parse_options([]) == TrainOptions()  # no arguments: tiny, munet, uw, synthetic data
    assert parse_options([]).given() == frozenset()

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"epochs": 2, "learning_rte": 0.1}))
    with pytest.raises(Exception, match="unknown option 'learning_rte'"):
        parse_options(["--config", str(bad)])


def test_bad_options_are_one_line_errors(tmp_path, capsys):
    assert main(["--epochs", "0", "--run-dir", str(tmp_path / "r")]) == 2
    assert "--epochs: must be a positive integer" in capsys.readouterr().err
    assert main(["--weighting", "gradnorm", "--model", "cunet"]) == 2
    assert "gradnorm needs one shared backbone" in capsys.readouterr().err
    assert main(["--resume", "--run-dir", str(tmp_path / "none")]) == 2
    assert "nothing to resume" in capsys.readouterr().err


# ---------------------------------------------------------------------------- run folders


@pytest.fixture(scope="module")
def user_cache(tmp_path_factory):
    """$TF_MUNET_CACHE for this module: where the default synthetic set is generated once."""
    patch = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("user_cache")
    patch.setenv("TF_MUNET_CACHE", str(path))
    yield path
    patch.undo()


@pytest.fixture(scope="module")
def munet_run(tmp_path_factory, user_cache):
    """Two epochs of M-U-Net with the default synthetic data (generated in the user cache)."""
    run = tmp_path_factory.mktemp("munet") / "run"
    assert main(["--run-dir", str(run), "--epochs", "2", "--excerpt-every", "1", *SMALL]) == 0
    return run


def _check_run_folder(run: Path, sources: list[str], epochs: int) -> dict:
    """Everything the issue lists is in the folder; returns history.json."""
    from tf_munet.run_dir import load_run, load_run_config

    cfg = load_run_config(run)
    assert list(cfg.sources) == sources and cfg.preset.name == "tiny"
    for key in ("epochs", "batch_size", "lr", "seed", "data", "strategy", "versions",
                "effective_iterations_per_epoch", "git_commit", "energies", "num_replicas"):
        assert key in cfg.extra, key
    assert cfg.extra["versions"]["tensorflow"].startswith("2.")
    history = _history(run)
    assert history["epochs_completed"] == epochs and history["stop_reason"] == "completed"
    assert "git_commit" in history
    sums = [e["val"]["sum"] for e in history["epochs"]]
    assert history["best_epoch"] == int(np.argmin(sums)) + 1
    assert history["best_val_sum_loss"] == pytest.approx(min(sums))
    for e in history["epochs"]:
        assert set(e["train"]) == set(e["val"]) == {*sources, "sum", "weighted"}
        assert e["val"]["sum"] == pytest.approx(sum(e["val"][s] for s in sources), rel=1e-5)
        assert set(e["task_weights"]) == set(sources)
        assert e["lr"] > 0 and e["epoch_time_s"] > 0
    _, net = load_run(run)  # model.keras: the best network, safe_mode
    assert net.output_shape[1:3] == (128, 64)
    with zipfile.ZipFile(run / "checkpoint.keras") as zf:
        assert zf.testzip() is None and "tf_munet_state.json" in zf.namelist()
    train_tags = _event_tags(run / "logs" / "train")
    assert {f"epoch_loss_{s}" for s in sources} <= train_tags
    assert {f"epoch_weight_{s}" for s in sources} | {"epoch_learning_rate"} <= train_tags
    assert {f"epoch_loss_{s}" for s in sources} <= _event_tags(run / "logs" / "validation")
    excerpt = _event_tags(run / "logs" / "excerpt")
    assert {f"spectrogram/{s}_estimate" for s in sources} <= excerpt
    assert {f"audio/{s}_estimate" for s in sources} | {"audio/mixture"} <= excerpt
    # task weights are logged for training only; spectrograms are labelled colour images
    assert not [t for t in _event_tags(run / "logs" / "validation") if "weight" in t]
    image = _first_image(run / "logs" / "excerpt", f"spectrogram/{sources[0]}_estimate")
    assert image.shape[0] >= 200 and image.shape[1] >= 400 and image.shape[2] == 3
    assert np.ptp(image.astype(int), axis=2).max() > 50  # a colour map, not grey levels
    assert not [p for p in run.iterdir() if p.name.startswith(".")]  # no temporaries left
    return history


@pytest.mark.integration
def test_munet_run_folder_and_best_model(munet_run, capsys):
    history = _check_run_folder(munet_run, ["vocals", "drums", "bass", "other"], 2)
    cfg = _config(munet_run)
    from tf_munet.training.data import default_synthetic_dir

    assert Path(cfg["data"]) == default_synthetic_dir(0).resolve()
    assert cfg["passes_per_chunk"] == 1 and cfg["effective_iterations_per_epoch"] == 2
    # model.keras is the best epoch's network: its validation losses are the recorded ones.
    from tf_munet.data.pipeline import validation_dataset
    from tf_munet.presets import get_preset
    from tf_munet.run_dir import load_network
    from tf_munet.training.trainer import SeparatorTrainer

    sources = ("vocals", "drums", "bass", "other")
    net = load_network(munet_run / "model.keras")
    trainer = SeparatorTrainer(net, sources)
    trainer.compile()
    val = validation_dataset(cfg["data"], get_preset("tiny"), sources, 2, max_chunks=2)
    got = trainer.evaluate(val, return_dict=True, verbose=0)
    best = history["epochs"][history["best_epoch"] - 1]["val"]
    for s in sources:
        assert got[f"loss_{s}"] == pytest.approx(best[s], rel=1e-4)


@pytest.mark.integration
def test_same_command_on_finished_run_does_nothing_and_other_settings_are_refused(
        munet_run, capsys):
    before = (munet_run / "history.json").read_text()
    assert main(["--run-dir", str(munet_run), "--epochs", "2", *SMALL]) == 0
    out = capsys.readouterr().out
    assert "nothing to do" in out and "Run folder:" in out
    assert (munet_run / "history.json").read_text() == before
    assert main(["--run-dir", str(munet_run), "--epochs", "2", "--lr", "0.1", *SMALL]) == 2
    assert "other settings (lr: 0.002 -> 0.1)" in capsys.readouterr().err


@pytest.mark.integration
def test_resume_without_run_dir_takes_the_latest_run(munet_run, tmp_path, monkeypatch, capsys):
    (tmp_path / "runs").symlink_to(munet_run.parent)
    monkeypatch.chdir(tmp_path)
    assert main(["--resume"]) == 0
    assert "already trained (2 of 2 epochs done); nothing to do" in capsys.readouterr().out


@pytest.mark.integration
def test_the_same_bare_command_resumes_one_run_on_one_synthetic_set(munet_run, user_cache,
                                                                    tmp_path, monkeypatch, capsys):
    """No --run-dir: runs/<preset>-<model>-<weighting>, so re-running the command resumes it
    (here: finds it finished); the synthetic set munet_run generated is reused, not rewritten."""
    from tf_munet.training.data import default_synthetic_dir

    synthetic = default_synthetic_dir(0)
    stamp = synthetic.stat().st_mtime_ns
    monkeypatch.chdir(tmp_path)
    assert main(["--epochs", "1", *SMALL]) == 0
    assert "Generating" not in capsys.readouterr().out
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["tiny-munet-uw"]
    assert main(["--epochs", "1", *SMALL]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["tiny-munet-uw"]
    assert synthetic.stat().st_mtime_ns == stamp


@pytest.mark.integration
def test_final_report_says_what_a_tiny_model_is_for(munet_run):
    import shlex

    from tf_munet.training.loop import describe_run

    text = describe_run(munet_run)
    assert "demonstration model" in text and "hub spleeter:4stems" in text
    (command,) = [line for line in text.splitlines() if "tf_munet.separate" in line]
    assert Path(shlex.split(command)[4]).is_file()  # a test track of its own data


def test_a_failed_start_leaves_no_folder(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["--run-dir", str(run), "--data", str(tmp_path / "nowhere"), *SMALL]) == 2
    assert "nowhere" in capsys.readouterr().err
    assert not run.exists()


@pytest.mark.integration
def test_run_config_is_a_config_file(munet_run, tmp_path):
    """--config RUN/config.json repeats a run: same resolved settings, new folder."""
    from tf_munet.training.loop import _differences, resolve, run_config

    o = parse_options(["--config", str(munet_run / "config.json"), "--run-dir",
                       str(tmp_path / "again")])
    o, preset, sources = resolve(o, tmp_path / "again")
    assert _differences(_config(munet_run), run_config(o, preset, sources, {}).to_dict()) == []


@pytest.mark.integration
def test_dedicated_run_with_oh_weighting(tiny_cache, tmp_path):
    """Two dedicated U-Nets trained as one model; Oh et al. weights = 1/E normalised."""
    run = tmp_path / "run"
    assert main(["--data", str(tiny_cache), "--run-dir", str(run), "--model", "dedicated",
                 "--sources", "vocals,drums", "--weighting", "oh", "--epochs", "2",
                 "--excerpt-every", "1", *SMALL]) == 0
    history = _check_run_folder(run, ["vocals", "drums"], 2)
    from tf_munet.data.pipeline import source_energies
    from tf_munet.presets import get_preset

    energies = source_energies(tiny_cache, get_preset("tiny"), ("vocals", "drums"))
    saved = _config(run)["energies"]
    assert saved["vocals"] == pytest.approx(energies["vocals"])
    inv = np.array([1 / energies["vocals"], 1 / energies["drums"]])
    weights = history["epochs"][-1]["task_weights"]
    np.testing.assert_allclose([weights["vocals"], weights["drums"]], inv / inv.sum(), rtol=1e-5)
    from tf_munet.run_dir import load_run

    _, net = load_run(run)  # one separator: a backbone per source, both masks out
    assert net.output_shape[-1] == 2
    assert {"vocals_mask", "drums_mask"} <= {layer.name for layer in net.layers}


@pytest.mark.integration
def test_cunet_run_with_ebw_reports_effective_iterations(tiny_cache, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["--data", str(tiny_cache), "--run-dir", str(run), "--model", "cunet",
                 "--weighting", "ebw-p1", "--epochs", "2", "--excerpt-every", "1",
                 *SMALL]) == 0
    out = capsys.readouterr().out
    assert "K+2=6 conditions takes 12 (M-U-Net: 2)" in out
    history = _check_run_folder(run, ["vocals", "drums", "bass", "other"], 2)
    cfg = _config(run)
    assert cfg["passes_per_chunk"] == 6 and cfg["effective_iterations_per_epoch"] == 12
    assert history["epochs"][-1]["effective_iterations"] == 24
    e = cfg["energies"]
    weights = history["epochs"][0]["task_weights"]
    for s in ("vocals", "drums", "bass", "other"):
        assert weights[s] == pytest.approx(e["bass"] / e[s], rel=1e-5)


# ---------------------------------------------------------------------------- resume, NaN


@pytest.mark.integration
def test_sigkill_mid_epoch_then_rerun_resumes(tiny_cache, tmp_path):
    """Kill -9 during epoch 2, re-run the same command: 3 epochs, history continued, DWA and
    optimizer state restored; checkpoint.keras is a complete file whenever it exists."""
    from tf_munet.training.callbacks import read_checkpoint_state
    from tf_munet.weighting import DynamicWeightAverage

    run = tmp_path / "run"
    steps = 80
    cmd = [sys.executable, "-m", "tf_munet.train", "--data", str(tiny_cache), "--run-dir",
           str(run), "--weighting", "dwa", "--epochs", "3", "--steps-per-epoch", str(steps),
           "--batch-size", "2", "--validation-steps", "1", "--excerpt-every", "0",
           "--verbose", "0"]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    ckpt = run / "checkpoint.keras"
    try:
        deadline = time.time() + 180
        while time.time() < deadline and proc.poll() is None:
            if ckpt.exists():
                with zipfile.ZipFile(ckpt) as zf:  # never half-written
                    assert "tf_munet_state.json" in zf.namelist()
            if (run / "history.json").exists() and _history(run)["epochs_completed"] >= 1:
                break
            time.sleep(0.02)
        time.sleep(0.4)  # into epoch 2
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL, proc.stdout.read().decode()[-2000:]
    saved = _history(run)
    assert saved["epochs_completed"] == 1 and saved["stop_reason"] is None
    assert read_checkpoint_state(ckpt).epochs_done == 1

    done = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Resuming" in done.stdout
    final = _history(run)
    assert [e["epoch"] for e in final["epochs"]] == [1, 2, 3]
    assert final["epochs"][0] == saved["epochs"][0]
    tr = [[e["train"][s] for s in ("vocals", "drums", "bass", "other")] for e in final["epochs"]]
    expected = DynamicWeightAverage().weights_from(tr[1], tr[0])  # epoch 1 came from the checkpoint
    np.testing.assert_allclose(list(final["epochs"][2]["task_weights"].values()), expected,
                               rtol=1e-5)
    from tf_munet.training.loop import load_trainer

    trainer = load_trainer(ckpt)
    assert int(trainer.optimizer.iterations) == 3 * steps  # optimizer state carried on
    assert not [p for p in run.iterdir() if p.name.startswith(".")]


@pytest.mark.integration
def test_killed_in_its_first_seconds_the_same_command_or_resume_completes(tiny_cache, tmp_path):
    """SIGKILL as soon as the run folder appears (before config.json or the first checkpoint):
    neither the same command nor --resume is blocked by what is left; both start over."""
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "tf_munet.train", "--data", str(tiny_cache), "--run-dir",
           str(run), "--epochs", "1", "--excerpt-every", "0", *SMALL]
    for again in (cmd, [*cmd, "--resume"]):
        if run.exists():
            shutil.rmtree(run)
        proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 120
        while proc.poll() is None and not run.exists() and time.time() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        assert proc.returncode == -signal.SIGKILL and run.is_dir()
        assert not (run / "checkpoint.keras").exists()
        done = subprocess.run(again, env=ENV, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        assert _history(run)["epochs_completed"] == 1
        assert not [p for p in run.iterdir() if p.name.startswith(".")]
    # what a kill can leave before config.json: temporaries only, cleared by the next run
    shutil.rmtree(run)
    run.mkdir()
    (run / ".config.json.x1.json.tmp").write_text("{")
    (run / ".synthetic.x2.tmp").mkdir()
    assert main([*cmd[3:], "--resume"]) == 0
    assert _history(run)["epochs_completed"] == 1 and (run / "checkpoint.keras").is_file()
    assert not [p for p in run.iterdir() if p.name.startswith(".")]


@pytest.mark.integration
def test_ctrl_c_says_how_to_resume(tiny_cache, tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "tf_munet.train", "--data", str(tiny_cache), "--run-dir",
           str(run), "--epochs", "50", "--steps-per-epoch", "4", "--batch-size", "2",
           "--validation-steps", "1", "--excerpt-every", "0", "--verbose", "0"]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 180
    while proc.poll() is None and time.time() < deadline:
        if (run / "history.json").exists() and _history(run)["epochs_completed"] >= 1:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    assert f"--resume --run-dir {run}" in err and "Traceback" not in err
    assert "the same command resumes it" in err


@pytest.mark.integration
def test_progress_fits_80_columns_and_log_files_get_no_escape_codes(tiny_cache, tmp_path,
                                                                      capsys):
    import pty

    run = tmp_path / "run"
    args = ["--data", str(tiny_cache), "--run-dir", str(run), "--steps-per-epoch", "3",
            "--batch-size", "2", "--validation-steps", "1", "--excerpt-every", "0",
            "--weighting", "ebw-p1"]
    assert main([*args, "--epochs", "2"]) == 0  # stdout is not a terminal here: a log file
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out
    progress = out.split("Run folder:")[0]  # the final report names long temporary paths
    assert max(len(line) for line in progress.splitlines()) <= 80, progress
    assert "loss: weighted sum" in out and "epoch 2/2" in out and "  weights  vocals" in out
    # a 60-column terminal: the bar is redrawn in place within the width
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "tf_munet.train", *args, "--epochs", "3"],
                            env={**ENV, "COLUMNS": "60"}, stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(120) == 0, proc.stderr.read().decode()[-2000:]
    text = b"".join(chunks).decode()
    drawn = [seg for line in text.split("Run folder:")[0].split("\n") for seg in line.split("\r")]
    assert "\x1b" not in text and any("epoch 3/3 [" in seg and "ETA" in seg for seg in drawn)
    ours = [seg for seg in drawn if seg.startswith(("epoch ", "  val", "  weights"))]
    assert len(ours) > 3 and max(len(seg) for seg in ours) < 60, ours


@pytest.mark.integration
def test_nan_stops_with_clear_message_and_keeps_last_good_checkpoint(tiny_cache, tmp_path,
                                                                      capsys):
    from tf_munet.training.callbacks import read_checkpoint_state

    run = tmp_path / "run"
    base = ["--data", str(tiny_cache), "--run-dir", str(run), "--excerpt-every", "0", *SMALL]
    assert main([*base, "--epochs", "1"]) == 0
    good = (run / "model.keras").read_bytes()
    capsys.readouterr()
    assert main(["--run-dir", str(run), "--resume", "--epochs", "3", "--lr", "1e30"]) == 2
    err = capsys.readouterr().err
    assert "loss became NaN/inf at epoch 2" in err and "checkpoint.keras (epoch 1)" in err
    assert "--lr 1e+29" in err
    assert read_checkpoint_state(run / "checkpoint.keras").epochs_done == 1
    assert (run / "model.keras").read_bytes() == good
    history = _history(run)
    assert history["stop_reason"] == "nan" and history["nan_at"]["epoch"] == 2
    assert history["epochs_completed"] == 1


@pytest.mark.integration
def test_mixed_precision_saves_float32_model(tiny_cache, tmp_path):
    run = tmp_path / "run"
    assert main(["--data", str(tiny_cache), "--run-dir", str(run), "--epochs", "1",
                 "--mixed-precision", "--excerpt-every", "0", *SMALL]) == 0
    import keras

    keras.mixed_precision.set_global_policy("float32")
    assert _config(run)["versions"]["dtype_policy"] == "mixed_bfloat16"  # CPU
    assert np.isfinite(_history(run)["epochs"][0]["val"]["sum"])
    from tf_munet.run_dir import load_run

    _, net = load_run(run)
    assert net.dtype_policy.name == "float32" and net.outputs[0].dtype == "float32"


# ---------------------------------------------------------------------------- distribution


MIRRORED = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    import numpy as np
    from tf_munet.training.distribute import make_strategy
    from tf_munet.training.loop import build_trainer, resolve, run_training
    from tf_munet.training.options import TrainOptions

    cache, out = sys.argv[1], Path(sys.argv[2])
    opts = TrainOptions(optimizer="sgd", lr=0.05, batch_size=2,
                        preset_overrides={"backbone": {"dropout": 0.0}})
    opts, preset, sources = resolve(opts, out / "unused")
    a = preset.audio
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 1, (3, a.model_bins, a.frames, a.channels, 4)).astype("float32") ** 2
    # Each batch is one example twice: per-replica BatchNorm statistics equal the global ones,
    # so one device and two replicas must compute the same updates.
    src = np.repeat(src, 2, axis=0)
    ds = tf.data.Dataset.from_tensor_slices((src.sum(-1), src)).batch(2)

    keras.utils.set_random_seed(0)
    single = build_trainer(opts, preset, sources, None)
    w0 = [np.array(w) for w in single.get_weights()]
    h1 = single.fit(ds, epochs=1, verbose=0).history
    strategy = make_strategy("mirrored")
    with strategy.scope():
        mirrored = build_trainer(opts, preset, sources, None)
    mirrored.set_weights(w0)
    h2 = mirrored.fit(ds, epochs=1, verbose=0).history
    d1 = [np.array(w) - w_0 for w, w_0 in zip(single.get_weights(), w0)]
    d2 = [np.array(w) - w_0 for w, w_0 in zip(mirrored.get_weights(), w0)]
    rel = max(float(np.abs(x - y).max()) for x, y in zip(d1, d2)) / max(
        float(np.abs(x).max()) for x in d1)

    run = run_training(TrainOptions(data=cache, run_dir=str(out / "run"), strategy="mirrored",
                                    epochs=1, steps_per_epoch=2, batch_size=2,
                                    validation_steps=1, excerpt_every=0, verbose=0))
    config = json.loads((run / "config.json").read_text())
    history = json.loads((run / "history.json").read_text())
    print(json.dumps({"replicas": strategy.num_replicas_in_sync, "rel": rel,
                      "single": h1, "mirrored": h2, "run_replicas": config["num_replicas"],
                      "run_epochs": history["epochs_completed"]}))
""")


@pytest.mark.integration
def test_mirrored_two_logical_cpus_matches_one_device(tiny_cache, tmp_path):
    script = tmp_path / "mirrored.py"
    script.write_text(MIRRORED)
    out = subprocess.run([sys.executable, str(script), str(tiny_cache), str(tmp_path)],
                         capture_output=True, text=True, env=ENV, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["replicas"] == 2 and r["run_replicas"] == 2 and r["run_epochs"] == 1
    for key in ("loss_vocals", "loss_drums", "loss_bass", "loss_other", "sum_loss"):
        assert r["mirrored"][key][0] == pytest.approx(r["single"][key][0], rel=1e-4), key
    # A loss not divided by the replica count would double the update (rel ~ 1).
    assert r["rel"] < 1e-3


@pytest.mark.integration
def test_multiworker_two_local_workers_complete_an_epoch(tiny_cache, tmp_path):
    run = tmp_path / "run"
    cluster = {"worker": [f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"]}
    cmd = [sys.executable, "-m", "tf_munet.train", "--data", str(tiny_cache), "--run-dir",
           str(run), "--strategy", "multiworker", "--epochs", "1", "--steps-per-epoch", "2",
           "--batch-size", "4", "--validation-steps", "1", "--verbose", "0"]
    procs = []
    for index in range(2):
        tf_config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        procs.append(subprocess.Popen(cmd, env={**ENV, "TF_CONFIG": json.dumps(tf_config)},
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    try:
        outputs = [p.communicate(timeout=240)[0].decode() for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, text in zip(procs, outputs):
        assert p.returncode == 0, text[-3000:]
    assert _history(run)["epochs_completed"] == 1
    assert _config(run)["num_replicas"] == 2
    assert (run / "model.keras").is_file()


@pytest.mark.integration
def test_time_budget_stops_after_the_current_epoch(tiny_cache, tmp_path):
    run = tmp_path / "budget"
    assert main(["--data", str(tiny_cache), "--run-dir", str(run), "--epochs", "5",
                 "--time-budget", "0.001", "--excerpt-every", "0", *SMALL]) == 0
    history = _history(run)
    assert len(history["epochs"]) == 1  # stopped after the first batch, epoch closed
    assert (run / "model.keras").is_file()


@pytest.mark.integration
def test_options_reach_the_preset_and_the_pipeline(tmp_path):
    """--film-*, --loss and --keep-silent-chunks land where they act: the saved preset (FiLM,
    the authors' C-U-Net decoder dropout, the loss) and the training pipeline's silence filter
    (a set whose vocals are silent everywhere is refused with the filter, trained without)."""
    import soundfile as sf

    from tf_munet.data.synthetic import write_synthetic_musdb
    from tf_munet.training.loop import _load_data, resolve, resolve_preset

    options = parse_options(["--preset", "paper", "--model", "cunet", "--film-control", "authors",
                             "--film-type", "simple", "--control-dropout", "0.5", "--film-init",
                             "reference", "--loss", "mask_l1"])
    preset = resolve_preset(options)
    assert (preset.film.control, preset.film.film_type, preset.film.control_dropout,
            preset.film.init) == ("authors", "simple", 0.5, "reference")
    assert (preset.backbone.encoder_dropout, preset.backbone.decoder_dropout) == (0.0, 0.5)
    assert preset.train.loss == "mask_l1"
    assert resolve_preset(parse_options(["--preset", "paper"])).train.loss == "masked_l1"

    root = write_synthetic_musdb(tmp_path / "root", train=2, test=0, seconds=3.0, seed=5)
    for track in (root / "train").iterdir():
        rate = sf.info(str(track / "vocals.wav")).samplerate
        mix, _ = sf.read(str(track / "mixture.wav"), dtype="float32")
        vocals, _ = sf.read(str(track / "vocals.wav"), dtype="float32")
        sf.write(str(track / "mixture.wav"), mix - vocals, rate, subtype="FLOAT")
        sf.write(str(track / "vocals.wav"), np.zeros_like(vocals), rate, subtype="FLOAT")
    argv = ["--data", str(root), "--cache", str(tmp_path / "cache"), "--batch-size", "2"]
    with pytest.raises(UserError, match="silent"):
        filled, preset, sources = resolve(parse_options(argv), tmp_path / "run1")
        _load_data(filled, preset, sources)
    filled, preset, sources = resolve(parse_options([*argv, "--keep-silent-chunks"]), tmp_path / "run2")
    mix, targets = next(iter(_load_data(filled, preset, sources).train))
    assert mix.shape[0] == 2 and float(np.abs(targets[..., 0]).max()) == 0.0


@pytest.mark.integration
def test_dedicated_per_source_selection_keeps_each_sources_best_epoch(tiny_cache, tmp_path):
    """--selection per-source: model.keras holds each source's U-Net from the epoch with that
    source's lowest validation loss, so its validation loss per source is that minimum."""
    import keras

    from tf_munet.data.pipeline import validation_dataset
    from tf_munet.presets import get_preset
    from tf_munet.run_dir import load_network
    from tf_munet.training.trainer import SeparatorTrainer

    run = tmp_path / "ded"
    assert main(["--model", "dedicated", "--selection", "per-source", "--data", str(tiny_cache),
                 "--run-dir", str(run), "--epochs", "4", "--steps-per-epoch", "4",
                 "--validation-steps", "2", "--batch-size", "8", "--lr", "0.02",
                 "--excerpt-every", "0", "--verbose", "0"]) == 0
    history = json.loads((run / "history.json").read_text())
    four = ("vocals", "drums", "bass", "other")
    per_source = history["best_epoch_per_source"]
    best = {s: min(e["val"][s] for e in history["epochs"]) for s in four}
    for s in four:
        assert history["epochs"][per_source[s] - 1]["val"][s] == pytest.approx(best[s])
    trainer = SeparatorTrainer(load_network(run / "model.keras"), four)
    trainer.compile(optimizer=keras.optimizers.Adam())
    val = validation_dataset(tiny_cache, get_preset("tiny"), four, 8, max_chunks=16)
    scores = trainer.evaluate(val, return_dict=True, verbose=0)
    for s in four:
        assert scores[f"loss_{s}"] == pytest.approx(best[s], rel=1e-3), s
    with pytest.raises(SystemExit):
        parse_options(["--model", "munet", "--selection", "bogus"])
    assert main(["--model", "munet", "--selection", "per-source", "--data", str(tiny_cache),
                 "--run-dir", str(tmp_path / "m")]) == 2
