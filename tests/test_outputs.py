"""Output folders (issue #18, item 1): separate, evaluate and export never mix a new result with
an earlier one; they refuse in one line unless --overwrite, which removes only the earlier
outputs; an output path naming a file is a one-line error too."""

from __future__ import annotations

import json
import shutil

import soundfile as sf
from _bad_audio import music

FOUR = ("vocals", "drums", "bass", "other")


def _one_error(rc: int, err: str, *words: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert rc == 2 and len(lines) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def test_separate_refuses_earlier_stems_unless_overwrite(tiny_run, tmp_path, capsys):
    from tf_munet.cli.separate import main

    song = tmp_path / "song.wav"
    sf.write(song, music(2.0), 22050, subtype="PCM_16")
    out = tmp_path / "out"
    args = [str(tiny_run), str(song), "-o", str(out), "--no-progress", "--block-seconds", "2"]
    assert main(args) == 0
    before = {p.name: p.stat().st_mtime_ns for p in (out / "song").iterdir()}
    assert sorted(before) == sorted(f"{s}.wav" for s in FOUR)
    capsys.readouterr()
    # a second run (another --stems choice) would leave old stems beside the new ones
    _one_error(main([*args, "--stems", "vocals", "--format", "flac"]), capsys.readouterr().err,
               str(out / "song"), "--overwrite", "bass.wav")
    assert {p.name: p.stat().st_mtime_ns for p in (out / "song").iterdir()} == before
    assert main([*args, "--stems", "vocals", "--format", "flac", "--overwrite"]) == 0
    assert sorted(p.name for p in (out / "song").iterdir()) == ["vocals.flac"]
    # -o naming a file
    _one_error(main([str(tiny_run), str(song), "-o", str(song), "--no-progress"]),
               capsys.readouterr().err, str(song), "not a folder")


def test_export_refuses_an_earlier_export_unless_overwrite(tiny_run, tiny_export, tmp_path, capsys):
    from tf_munet.cli.export import main

    out = tmp_path / "export"
    shutil.copytree(tiny_export, out)
    (out / "waveform-int8.tflite").write_bytes(b"an older export's variant")
    (out / "notes.txt").write_text("the user's own file")
    before = sorted(p.name for p in out.iterdir())
    args = [str(tiny_run), "--out", str(out), "--quiet", "--formats", "tflite", "--quantize", "fp16",
            "--inputs", "spectrogram", "--excerpt-chunks", "2"]
    _one_error(main(args), capsys.readouterr().err, str(out), "earlier export", "--overwrite")
    assert sorted(p.name for p in out.iterdir()) == before
    assert main([*args, "--overwrite"]) == 0
    # only the new export's files, and the user's own file untouched
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.json", "notes.txt", "report.json", "spectrogram-float16.tflite"]
    assert list(json.loads((out / "manifest.json").read_text())["variants"]) == ["spectrogram-float16"]
    _one_error(main([str(tiny_run), "--out", str(out / "notes.txt"), "--quiet"]),
               capsys.readouterr().err, "notes.txt", "not a folder")


def test_evaluate_resumes_its_own_folder_and_refuses_another(tiny_run, tmp_path, capsys):
    from tf_munet.cli.evaluate import main
    from tf_munet.data.synthetic import write_synthetic_musdb

    root = write_synthetic_musdb(tmp_path / "musdb", train=0, test=1, seconds=2.0, seed=5)
    out = tmp_path / "eval"
    base = ["--root", str(root), "--out", str(out), "--no-progress", "--protocol", "paper", "--preset", "tiny"]
    assert main(["mixture", *base]) == 0
    assert main(["mixture", *base]) == 0  # the same evaluation: reused from the cache
    assert "0 of 1 tracks computed" in capsys.readouterr().out
    # a trained run reuses the references cached for its grid
    assert main([str(tiny_run), *base, "--no-references"]) == 0
    summary = (out / "summary.json").read_text()
    capsys.readouterr()
    # another model's options, or another grid's references, would replace the summary
    _one_error(main([str(tiny_run), *base, "--overlap", "0"]), capsys.readouterr().err,
               str(out), "tiny run", "--overwrite")
    _one_error(main(["oracle", *base[:-1], "cunet", "--no-references"]), capsys.readouterr().err,
               str(out), "another evaluation")
    assert (out / "summary.json").read_text() == summary
    assert main([str(tiny_run), *base, "--overlap", "0", "--no-references", "--overwrite"]) == 0
    got = json.loads((out / "summary.json").read_text())
    assert list(got["separators"]) == ["tiny run"] and got["computed"] == 1
    track = json.loads(next((out / "tracks").glob("*.json")).read_text())
    assert list(track["results"]) == ["tiny run"]  # the earlier cache is gone, not mixed in
    _one_error(main(["mixture", *base[:3], str(root / "test" / next(iter(got["tracks"])) / "mixture.wav"),
                     "--no-progress", "--preset", "tiny"]), capsys.readouterr().err, "not a folder")
