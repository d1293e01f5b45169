"""--data/--root musdb-sample: the MUSDB18 7-second sample through musdb's own download code,
offline: a small generated STEMS set is placed where musdb keeps its download."""

import shutil

import pytest

from tf_munet.data.musdb_io import find_tracks, musdb_root
from tf_munet.data.musdb_sample import MUSDB_SAMPLE, MUSDB_SAMPLE_ROOT
from tf_munet.data.synthetic import write_synthetic_musdb
from tf_munet.errors import UserError


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


def test_musdb_sample_is_read_where_musdb_downloads_it(home, tmp_path, capsys):
    from tf_munet.cli.prepare import main as prepare_main

    generated = write_synthetic_musdb(tmp_path / "gen", train=2, test=1, seconds=2.0, seed=2, stems=True)
    root = home / MUSDB_SAMPLE_ROOT.removeprefix("~/")
    for stem_file in generated.glob("*/*.stem.mp4"):  # the sample is STEMS only
        (root / stem_file.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(stem_file, root / stem_file.parent.name / stem_file.name)
    assert musdb_root(MUSDB_SAMPLE) == root
    tracks = find_tracks(MUSDB_SAMPLE, ("train", "test"))
    assert [(t.subset, t.format) for t in tracks] == [("train", "stems")] * 2 + [("test", "stems")]
    assert prepare_main(["--root", MUSDB_SAMPLE, "--preset", "tiny", "--out", str(tmp_path / "cache"),
                         "--workers", "1"]) == 0
    assert len(list((tmp_path / "cache").rglob("*.tfrecord*"))) >= 2
    assert "Downloading" not in capsys.readouterr().out
    from tf_munet.training import TrainOptions
    from tf_munet.training.loop import resolve

    filled, _, _ = resolve(TrainOptions(preset="tiny", data=MUSDB_SAMPLE), tmp_path / "run")
    assert filled.data == str(root.resolve())  # train --data musdb-sample trains on the sample


def test_failed_musdb_sample_download_is_one_line_and_leaves_nothing(home, monkeypatch, capsys):
    from tf_munet.cli.prepare import main as prepare_main

    for name in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # the discard port: refused at once, offline
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(UserError, match="MUSDB18 7-second sample: download .* failed"):
        musdb_root(MUSDB_SAMPLE)
    assert prepare_main(["--root", MUSDB_SAMPLE, "--preset", "tiny", "--out", str(home / "cache")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "MUSDB18 7-second sample" in err[0]
    assert not (home / "MUSDB18" / "MUSDB18-7").exists()
    assert not list((home / "MUSDB18").glob(".MUSDB18-7.partial-*"))
