"""Stem files as Demucs users expect them (issue 32): a default output folder, --two-stems,
--format wav|flac|mp3 with bit depths and bitrates, a file-name template, and any input ffmpeg
reads (.mp4, .stem.mp4) in `separate` and the TensorFlow-free edge runner alike.

The first tests run the numpy inference core with a fixed mask function (no network); the
`integration` ones run a trained tiny run and its TF-Lite export through both commands.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from tf_munet_core.config import AudioConfig
from tf_munet_core.encoding import Encoding
from tf_munet_core.errors import UserError
from tf_munet_core.files import separate_file, write_stems
from tf_munet_core.layout import Layout, default_out
from tf_munet_core.separator import NetworkSeparator

FOUR = ("vocals", "drums", "bass", "other")
AUDIO = AudioConfig(sample_rate=8192, channels=1, n_fft=256, hop=64, freq_bins=128, frames=64)


def _masks(patches: np.ndarray) -> np.ndarray:
    """Fixed, frequency-dependent shares of the four sources (a stand-in for a network)."""
    rows = np.linspace(0.0, 3.0, patches.shape[1])[None, :, None, None, None]
    shares = np.exp(-((rows - np.arange(4)) ** 2))
    return np.broadcast_to(shares, (*patches.shape, 4)).astype(np.float32)


@pytest.fixture(scope="module")
def separator():
    return NetworkSeparator(AUDIO, FOUR, _masks, exhaustive=True)


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    """3 s of 44.1 kHz stereo: two chords and noise bursts, peak 0.8 (16-bit WAV)."""
    rng = np.random.default_rng(0)
    t = np.arange(3 * 44100) / 44100
    tones = sum(np.sin(2 * np.pi * f * t + p) for f, p in ((110, 0), (440, 1), (1320, 2), (3520, 3)))
    bursts = rng.standard_normal(t.size) * (np.sin(2 * np.pi * 2 * t) > 0.7)
    x = np.stack([tones + 0.5 * bursts, 0.8 * tones - 0.3 * bursts], axis=1)
    x = (0.8 * x / np.abs(x).max()).astype(np.float32)
    path = tmp_path_factory.mktemp("song") / "my song.wav"
    sf.write(path, x, 44100, subtype="PCM_16")
    return path


def _snr(ref: np.ndarray, est: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(ref**2) / np.sum((ref - est) ** 2)))


def test_two_stems_sum_to_the_mixture(separator, song, tmp_path):
    """SOURCE and no_SOURCE: the second is the input minus the first, so they sum to it exactly
    (float WAV: float32 rounding; 16-bit: two roundings)."""
    mix = sf.read(song, dtype="float32", always_2d=True)[0]
    files = separate_file(separator, song, tmp_path / "f", two_stems="drums", encoding=Encoding("wav", "32f"))
    assert list(files) == ["drums", "no_drums"]
    drums, rest = (sf.read(files[k], dtype="float32", always_2d=True)[0] for k in files)
    assert drums.shape == rest.shape == mix.shape
    assert np.abs(drums + rest - mix).max() < 1e-6
    # no_drums is the input minus the same drums the 4-stem separation writes
    four = separate_file(separator, song, tmp_path / "four", encoding=Encoding("wav", "32f"))
    np.testing.assert_allclose(sf.read(four["drums"], dtype="float32")[0], drums, atol=1e-6)
    others = sum(sf.read(four[s], dtype="float32", always_2d=True)[0] for s in ("vocals", "bass", "other"))
    assert np.abs(others - rest).max() < 1e-4  # the masks sum to 1: the other three are the rest
    pcm = separate_file(separator, song, tmp_path / "pcm", two_stems="Vocals")  # any case
    assert sorted(p.name for p in (tmp_path / "pcm").iterdir()) == ["no_vocals.wav", "vocals.wav"]
    total = sum(sf.read(p, dtype="float32", always_2d=True)[0] for p in pcm.values())
    assert np.abs(total - mix).max() <= 2 / 32768 + 1e-7
    with pytest.raises(UserError, match="did you mean 'bass'"):
        separate_file(separator, song, tmp_path / "x", two_stems="bas")


def test_mp3_stems_decode_and_sum_to_the_mixture_within_mp3_error(separator, song, tmp_path):
    """MP3 stems have the input's length (gapless LAME) and rate; their sum is the mixture up
    to MP3's own error: the mixture's own MP3 round trip sets the bar."""
    mix, rate = sf.read(song, dtype="float32", always_2d=True)
    files = separate_file(separator, song, tmp_path / "mp3", two_stems="vocals", encoding=Encoding("mp3"))
    assert [p.name for p in files.values()] == ["vocals.mp3", "no_vocals.mp3"]
    stems = []
    for path in files.values():
        info = sf.info(path)
        assert (info.format, info.samplerate, info.channels) == ("MP3", rate, 2)
        stems.append(sf.read(path, dtype="float32", always_2d=True)[0])
        assert stems[-1].shape == mix.shape
    with Encoding("mp3").open(tmp_path / "mix.mp3", rate, 2) as f:
        f.write(mix)
    own = _snr(mix, sf.read(tmp_path / "mix.mp3", dtype="float32", always_2d=True)[0])
    summed = _snr(mix, stems[0] + stems[1])
    assert own > 20 and summed > own - 4, (summed, own)
    # the bitrate is the one asked for (constant): file size over duration
    low = separate_file(separator, song, tmp_path / "128", stems=("bass",),
                        encoding=Encoding("mp3", mp3_bitrate=128))["bass"]
    for path, kbps in ((files["vocals"], 320), (low, 128)):
        assert abs(path.stat().st_size * 8 / 3.0 / 1000 - kbps) < 0.1 * kbps, path


def test_bit_depths_and_formats(separator, song, tmp_path):
    for encoding, subtype in ((Encoding("wav", "24"), "PCM_24"), (Encoding("flac", "24"), "PCM_24"),
                              (Encoding("wav", "32f"), "FLOAT"), (Encoding("flac"), "PCM_16")):
        (path,) = separate_file(separator, song, tmp_path / subtype / encoding.format, stems=("bass",),
                                encoding=encoding).values()
        assert sf.info(path).subtype == subtype and path.suffix == f".{encoding.format}"
    with pytest.raises(UserError, match="FLAC stores integer"):
        Encoding("flac", "32f")
    with pytest.raises(UserError, match="--mp3-bitrate"):
        Encoding("mp3", mp3_bitrate=500)
    six = tmp_path / "six.wav"
    sf.write(six, np.zeros((8192, 6), np.float32), 8192)
    with pytest.raises(UserError, match="six.wav: 6 channels; MP3 holds at most 2"):
        separate_file(separator, six, tmp_path / "o", encoding=Encoding("mp3"))
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_filename_template_names_every_file(separator, song, tmp_path):
    out = tmp_path / "out"
    layout = Layout(out, "{stem}/{track}-{trackext}.{ext}")
    assert layout.path(song, "vocals", "mp3") == out / "vocals" / "my song-wav.mp3"
    assert Layout(out).path(song, "no_vocals", "wav") == out / "my song" / "no_vocals.wav"
    (other,) = [song.with_name("other.flac")]
    sf.write(other, np.zeros((4096, 1)), 8192)
    plan = layout.plan([str(song), str(other)], ("vocals", "no_vocals"), "flac")
    for path, files in plan:
        write_stems(separator, path, files, encoding=Encoding("flac"))
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.*")) == [
        "no_vocals/my song-wav.flac", "no_vocals/other-flac.flac",
        "vocals/my song-wav.flac", "vocals/other-flac.flac"]
    # the earlier stems of one track are exactly its files, never another track's nor notes
    (out / "vocals" / "my song-wav.txt").write_text("mine")
    assert [p.name for p in layout.earlier(song)] == ["my song-wav.flac", "my song-wav.flac"]
    flat = Layout(out, "{track}_{stem}.{ext}")
    with pytest.raises(UserError, match="would overwrite those of"):
        Layout(out, "{stem}.{ext}").plan([str(song), str(other)], FOUR, "wav")
    for template, words in (("{track}/{stem}.{extension}", "unknown field {extension}"),
                            ("{track}.{ext}", "needs {stem}"), ("../{stem}.{ext}", "would leave"),
                            ("{stem:>10}.{ext}", "no format spec")):
        with pytest.raises(UserError, match=words.replace("{", r"\{").replace("}", r"\}")):
            Layout(out, template).path(song, "vocals", "wav")
    assert flat.earlier(song) == []


def test_default_output_folder_is_separated_model_track(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from tf_munet_core.edge import build_parser
    from tf_munet_core.options import output_layout

    args = build_parser().parse_args(["exports/tiny run", "a.wav"])
    layout = output_layout(args, args.export_dir)
    assert layout.out == default_out("exports/tiny run") and str(layout.out) == "separated/tiny run"
    assert layout.path("music/a.wav", "vocals", "wav").as_posix() == "separated/tiny run/a/vocals.wav"
    args = build_parser().parse_args(["exports/tiny run", "a.wav", "-o", "stems"])
    assert output_layout(args, args.export_dir).path("a.wav", "bass", "flac").as_posix() == "stems/a/bass.flac"


def test_the_core_reads_a_stem_mp4_through_ffmpeg(separator, tmp_path):
    """MUSDB18's .stem.mp4 (stempeg's example track): its first stream, the mixture, separated
    without TensorFlow; the stems sum to ffmpeg's decoding of it."""
    import stempeg

    from tf_munet_core.ffmpeg import decode

    path = stempeg.example_stem_path()
    mix, rate = decode(path)
    files = separate_file(separator, path, tmp_path / "o", two_stems="vocals", encoding=Encoding("wav", "32f"))
    got = [sf.read(p, dtype="float32", always_2d=True)[0] for p in files.values()]
    assert got[0].shape == mix.shape and rate == 44100
    assert np.abs(got[0] + got[1] - mix).max() < 1e-6


# ------------------------------------------------------------------------ the two commands


def _run(*args: str, cwd) -> subprocess.CompletedProcess:
    """`python -m ARGS`; stdout and stderr decoded as written (text=True would turn a carriage
    return into a newline)."""
    done = subprocess.run([sys.executable, "-m", *args], capture_output=True, cwd=cwd, timeout=600)
    done.stdout, done.stderr = done.stdout.decode(), done.stderr.decode()
    return done


@pytest.mark.integration
def test_separate_and_the_edge_runner_take_the_same_outputs(tiny_run, tiny_export, tmp_path):
    """No -o: separated/<model>/<track>/; --two-stems vocals --format mp3 writes two MP3 files
    that decode and sum to the mixture within MP3 error, in both commands; the edge runner reads
    a .stem.mp4; stderr redirected to a file gets no carriage return."""
    import shutil

    import stempeg

    mp4 = tmp_path / "track.stem.mp4"
    shutil.copy(stempeg.example_stem_path(), mp4)
    from tf_munet_core.ffmpeg import decode

    mix, _ = decode(mp4)
    for command, model in (("tf_munet.separate", tiny_run), ("tf_munet_core.edge", tiny_export)):
        done = _run(command, str(model), str(mp4), "--two-stems", "vocals", "--format", "mp3", cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "\r" not in done.stderr and "\r" not in done.stdout
        folder = tmp_path / "separated" / model.name / "track.stem"
        assert sorted(p.name for p in folder.iterdir()) == ["no_vocals.mp3", "vocals.mp3"], command
        assert f"-> separated/{model.name}/track.stem/ (vocals.mp3, no_vocals.mp3)" in done.stdout
        total = sum(sf.read(folder / f, dtype="float32", always_2d=True)[0] for f in ("vocals.mp3", "no_vocals.mp3"))
        assert total.shape == mix.shape and _snr(mix, total) > 15, command
    # the template and formats, and the earlier-output rule, through separate
    song = tmp_path / "song.wav"
    sf.write(song, mix[:44100], 44100, subtype="PCM_16")
    args = [str(tiny_run), str(song), "-o", "out", "--filename", "{track}_{stem}.{ext}", "--format",
            "FLAC", "--bit-depth", "24", "--no-progress"]
    done = _run("tf_munet.separate", *args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(f"song_{s}.flac" for s in FOUR)
    assert sf.info(tmp_path / "out" / "song_bass.flac").subtype == "PCM_24"
    again = _run("tf_munet.separate", *args[:-5], "--stems", "vocals", cwd=tmp_path)
    assert again.returncode == 2 and "--overwrite" in again.stderr and len(again.stderr.splitlines()) <= 2
