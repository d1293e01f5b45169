"""Distillation (`train --teacher RUN_DIR --data FOLDER`): a student learns a teacher's stems
from plain audio files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from tf_munet.cli.train import main as train_main
from tf_munet.data.synthetic import synthetic_stems

RATE = 16000  # neither the teacher's nor the student's rate: the files are resampled


def _sdr(ref: np.ndarray, est: np.ndarray) -> float:
    return float(10 * np.log10((ref**2).sum() / ((ref - est) ** 2).sum()))


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    """Three plain mixtures (wav and flac, one in a subfolder) and a held-out one."""
    root = tmp_path_factory.mktemp("music")
    (root / "album").mkdir()
    for i, name in enumerate(["a.wav", "album/b.flac", "c.wav"]):
        sf.write(root / name, synthetic_stems(300 + i, 8.0, rate=RATE, channels=2)["mixture"], RATE)
    held_out = synthetic_stems(400, 8.0, rate=RATE, channels=2)["mixture"]
    return root, held_out


def _two_stems_teacher(run_dir):
    """An untrained tiny 2stems run (vocals, accompaniment): enough to test the labelling."""
    import keras

    from tf_munet.models import build_model
    from tf_munet.presets import get_preset
    from tf_munet.run_dir import RunConfig, save_network, save_run_config

    keras.utils.set_random_seed(3)
    sources = ("vocals", "accompaniment")
    save_run_config(run_dir, RunConfig(get_preset("tiny"), "munet", sources))
    save_network(run_dir / "model.keras", build_model(get_preset("tiny"), "munet", sources))
    return run_dir


@pytest.mark.integration
def test_student_loss_falls_and_its_stems_approach_the_teacher(tiny_run, music, tmp_path):
    from tf_munet.separation import Separator

    folder, held_out = music
    run = tmp_path / "student"
    assert train_main(["--teacher", str(tiny_run), "--data", str(folder), "--run-dir", str(run),
                       "--weighting", "ebw-p1", "--epochs", "3", "--steps-per-epoch", "20",
                       "--verbose", "0"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["teacher"] == str(tiny_run.resolve()) and config["model"] == "munet"
    assert set(config["energies"]) >= {"vocals", "drums", "bass", "other"}  # EBW on teacher stems
    tracks = sorted(p.name for p in (run / "teacher_stems" / "train").iterdir())
    assert tracks == ["a", "album - b", "c"]
    epochs = json.loads((run / "history.json").read_text())["epochs"]
    assert epochs[-1]["train"]["sum"] < 0.75 * epochs[0]["train"]["sum"]

    teacher = Separator.load(tiny_run).separate(held_out, RATE)
    student = Separator.load(run).separate(held_out, RATE)
    to_teacher = np.mean([_sdr(teacher[k], student[k]) for k in teacher])
    floor = np.mean([_sdr(teacher[k], held_out / len(teacher)) for k in teacher])
    assert to_teacher > floor + 3.0, (to_teacher, floor)  # measured 8.6 vs 1.3 dB

    # the same command again: labels and training are reused, nothing is redone
    assert train_main(["--teacher", str(tiny_run), "--data", str(folder), "--run-dir", str(run),
                       "--weighting", "ebw-p1", "--epochs", "3", "--steps-per-epoch", "20",
                       "--verbose", "0"]) == 0


def test_two_stems_teacher_labels_musdb_tracks(music, tmp_path):
    from tf_munet.distill import label_with_teacher

    folder, _ = music
    teacher = _two_stems_teacher(tmp_path / "teacher")
    root = label_with_teacher(teacher, folder, tmp_path / "labels", progress=False)
    track = root / "train" / "a"
    audio = {p.stem: sf.read(p, dtype="float32")[0] for p in track.iterdir()}
    assert sorted(audio) == ["bass", "drums", "mixture", "other", "vocals"]
    assert not audio["drums"].any() and not audio["bass"].any()
    # accompaniment is written as `other`: the stems sum back to the mixture
    np.testing.assert_allclose(audio["vocals"] + audio["other"], audio["mixture"], atol=1e-5)
    assert np.abs(audio["vocals"]).max() > 1e-3 and np.abs(audio["other"]).max() > 1e-3
    # another teacher never labels into the same folder
    other = _two_stems_teacher(tmp_path / "teacher2")
    with pytest.raises(Exception, match="labelled by another teacher"):
        label_with_teacher(other, folder, root, progress=False)


def test_distillation_errors_are_one_line(tiny_run, music, tmp_path, capsys):
    folder, _ = music
    cases = [
        (["--teacher", str(tiny_run)], "give --data"),
        (["--teacher", str(tiny_run), "--data", str(folder), "--sources", "2stems"],
         "the teacher"),
        (["--teacher", str(tmp_path), "--data", str(folder)], "not a tf_munet run folder"),
        (["--teacher", str(tiny_run), "--data", str(tmp_path / "none")], "not found"),
    ]
    for i, (args, message) in enumerate(cases):
        assert train_main([*args, "--run-dir", str(tmp_path / f"run{i}"), "--verbose", "0"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, (args, err)
        assert not (tmp_path / f"run{i}").exists()
