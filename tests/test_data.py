"""Data layer: synthetic sets, audio I/O, MUSDB reading (HQ and STEMS), prepare, tf.data pipelines."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tf_munet.data import cache as cache_lib
from tf_munet.data.audio_io import read_audio, resample, to_channels, write_audio
from tf_munet.data.musdb_io import find_tracks, load_track, official_validation_tracks, validation_split
from tf_munet.data.prepare import prepare
from tf_munet.data.synthetic import STEMS, synthetic_stems, write_synthetic_musdb
from tf_munet.errors import UserError
from tf_munet.presets import get_preset

REPO = Path(__file__).resolve().parents[1]


def _cache_digest(cache: Path) -> dict[str, str]:
    """{relative path: sha1} of every file of a cache except the lock file."""
    return {
        str(p.relative_to(cache)): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(cache.rglob("*")) if p.is_file() and p.name != ".prepare.lock"
    }


def _hidden_leftovers(cache: Path) -> list[Path]:
    return [p for p in cache.rglob(".*") if p.is_file() and p.name != ".prepare.lock"]


# ------------------------------------------------------------------------------ synthetic


def test_synthetic_stems_are_distinct_and_sum_exactly(tmp_path):
    root = write_synthetic_musdb(tmp_path / "s", train=4, test=2, seconds=6.0, seed=3)
    track = root / "train" / "Synthetic Train - Track 01"
    audio = {k: sf.read(track / f"{k}.wav", dtype="int32")[0] for k in ("mixture", *STEMS)}
    info = sf.info(track / "mixture.wav")
    assert (info.samplerate, info.channels, info.frames) == (44100, 2, 264600)
    # the written mixture is the exact sum of the written stems
    assert np.array_equal(audio["mixture"], sum(audio[k] for k in STEMS))
    mix = audio["mixture"] / 2**31
    assert 0.3 < np.abs(mix).max() <= 0.99
    # stereo with some channel difference
    assert np.abs(mix[:, 0] - mix[:, 1]).mean() > 1e-4
    # distinct: spectral centroids ordered bass < other < vocals, drums broadband; low correlation
    cents = {}
    for k in STEMS:
        x = audio[k][:, 0] / 2**31
        spec = np.abs(np.fft.rfft(x))
        freqs = np.fft.rfftfreq(len(x), 1 / 44100)
        cents[k] = float((spec * freqs).sum() / spec.sum())
        assert np.sqrt(np.mean(x**2)) > 0.01, k
    assert cents["bass"] < cents["other"] < cents["vocals"] < cents["drums"], cents
    corr = np.corrcoef(np.stack([audio[k][:, 0] for k in STEMS]))
    assert np.abs(corr[np.triu_indices(4, 1)]).max() < 0.3
    # seeded: same seed same audio, another seed other audio
    a, b, c = synthetic_stems(7, 1.0), synthetic_stems(7, 1.0), synthetic_stems(8, 1.0)
    assert np.array_equal(a["vocals"], b["vocals"]) and not np.array_equal(a["vocals"], c["vocals"])


def test_synthetic_cli(tmp_path, capsys):
    from tf_munet.cli.synthetic import main

    assert main(["--out", str(tmp_path / "d"), "--train", "1", "--test", "1", "--seconds", "1", "--seed", "2",
                 "--channels", "1", "--rate", "22050"]) == 0
    x, rate = read_audio(tmp_path / "d" / "test" / "Synthetic Test - Track 01" / "drums.wav")
    assert (rate, x.shape) == (22050, (22050, 1))
    assert main(["--out", str(tmp_path / "e"), "--train", "0", "--test", "0"]) == 2
    assert "need at least one track" in capsys.readouterr().err


# ------------------------------------------------------------------------------ audio I/O


def test_audio_io_roundtrip_resample_and_errors(tmp_path):
    t = np.arange(44100) / 44100
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    path = write_audio(tmp_path / "a.wav", np.stack([tone, -tone], 1), 44100, subtype="FLOAT")
    x, rate = read_audio(path)
    assert rate == 44100 and x.shape == (44100, 2) and np.allclose(x[:, 0], tone)
    assert not list(tmp_path.glob(".*"))  # atomic write left no temporary
    y = resample(x, 44100, 8192)
    assert y.shape == (8192, 2) and y.dtype == np.float32
    peak = np.argmax(np.abs(np.fft.rfft(y[:, 0])))  # 1 s -> bin = Hz
    assert abs(peak - 440) <= 1
    assert to_channels(x, 1).shape == (44100, 1) and np.allclose(to_channels(x, 1), 0, atol=1e-6)
    assert to_channels(x[:, :1], 2).shape == (44100, 2)
    # ffmpeg fallback: an AAC file
    m4a = tmp_path / "a.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-c:a", "aac", str(m4a)], check=True)
    z, zr = read_audio(m4a)
    assert zr == 44100 and z.shape[1] == 2 and abs(len(z) - 44100) < 2048
    # bad files: the message names the file
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.wav").write_text("not audio at all\n" * 20)
    (tmp_path / "cut.wav").write_bytes(path.read_bytes()[:30])
    for name, word in [("empty.wav", "empty"), ("text.wav", "not a readable audio file"),
                       ("cut.wav", "not a readable audio file"), ("missing.wav", "not found")]:
        with pytest.raises(UserError, match=word) as err:
            read_audio(tmp_path / name)
        assert name in str(err.value)


# ------------------------------------------------------------------------------ MUSDB reading


def test_hq_and_stems_read_the_same_audio(synthetic_musdb_stems):
    hq = find_tracks(synthetic_musdb_stems, ("train", "test"), "hq")
    st = find_tracks(synthetic_musdb_stems, ("train", "test"), "stems")
    assert [t.name for t in hq] == [t.name for t in st] == [
        "Synthetic Train - Track 01", "Synthetic Train - Track 02", "Synthetic Test - Track 01"]
    assert find_tracks(synthetic_musdb_stems, "train")[0].format == "hq"  # auto prefers HQ
    a = load_track(hq[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # AAC coding error stays under the STEMS threshold
        b = load_track(st[0])
    assert a.rate == b.rate == 44100
    assert a.mixture.shape == b.mixture.shape == (132300, 2)  # AAC padding trimmed
    assert a.mixture_error_db < -100 and b.mixture_error_db < -10
    for k in STEMS:  # same stem in the same place (stream order and alignment)
        err = 10 * np.log10(np.mean((a.stems[k] - b.stems[k]) ** 2) / np.mean(a.stems[k] ** 2))
        assert err < -12, (k, err)


def test_musdb_root_from_environment(synthetic_musdb, monkeypatch):
    monkeypatch.setenv("MUSDB_PATH", str(synthetic_musdb))
    assert len(find_tracks(None, "train")) == 4
    monkeypatch.delenv("MUSDB_PATH")
    with pytest.raises(UserError, match="MUSDB_PATH"):
        find_tracks(None, "train")


def test_validation_split():
    official = official_validation_tracks()
    assert len(official) == 14
    names = sorted([*official[:3], "Some Other - Song", "Another - Song"])
    assert validation_split(names) == (sorted(official[:3]), "musdb18")
    synth = [f"Track {i:02d}" for i in range(10)]
    valid, kind = validation_split(synth, 0.2, seed=0)
    assert kind == "seeded" and len(valid) == 2 and set(valid) < set(synth)
    assert validation_split(synth, 0.2, seed=0)[0] == valid != validation_split(synth, 0.2, seed=5)[0]
    assert len(validation_split(synth[:2])[0]) == 1  # at least one, one left for training
    assert validation_split(synth[:1])[0] == synth[:1]


# ------------------------------------------------------------------------------ prepare + pipelines

PRESET_CASES = [("tiny", "4stems", 2), ("cunet", "2stems", 2), ("paper", "4stems", 1),
                pytest.param("fullband", "2stems", 1, marks=pytest.mark.integration)]  # 44.1 kHz stereo: slow


@pytest.mark.parametrize("preset_name,sources,batch", PRESET_CASES)
def test_prepare_then_pipelines_per_preset(synthetic_musdb, tmp_path, preset_name, sources, batch):
    from tf_munet.data import pipeline

    preset = get_preset(preset_name)
    a = preset.audio
    cache = prepare(synthetic_musdb, preset, tmp_path / "cache", workers=1, progress=False)
    info = cache_lib.load_cache(cache, a)
    assert info["tracks"]["train"] == [f"Synthetic Train - Track {i:02d}" for i in range(1, 5)]
    assert info["validation"]["split"] == "seeded" and len(info["validation"]["tracks"]) == 1
    k = 4 if sources == "4stems" else 2
    ds = pipeline.training_dataset(cache, preset, sources, batch, seed=0)
    for mix, src in ds.take(2):
        mix, src = mix.numpy(), src.numpy()
        assert mix.shape == (batch, a.model_bins, a.frames, a.channels) and mix.dtype == np.float32
        assert src.shape == (batch, a.model_bins, a.frames, a.channels, k) and src.dtype == np.float32
        assert np.isfinite(mix).all() and np.isfinite(src).all()
        assert mix.min() >= 0 and src.min() >= 0
        # mixture = sum of the (augmented) sources: |X| <= sum_k |S_k| bin by bin (also after the warp)
        assert (mix <= src.sum(-1) * (1 + 1e-4) + 1e-4).all()
        assert mix.max() > 0.5 and mix.max() < 4 * 1.25 * a.n_fft / 2
        assert (src.reshape(-1, k).max(0) > 0).all()  # every source present
    val = list(pipeline.validation_dataset(cache, preset, sources, batch))
    samples = int(round(6.0 * a.sample_rate))
    per_track = max(1, samples // a.chunk_samples)
    assert sum(m.shape[0] for m, _ in val) == per_track
    assert val[0][1].shape[1:] == (a.model_bins, a.frames, a.channels, k)


def test_pipeline_values_match_an_independent_computation(synthetic_musdb, tmp_path):
    """Validation chunk 0 = magnitudes computed here from the WAV files; energies likewise."""
    import tensorflow as tf

    from tf_munet.data import pipeline
    from tf_munet.spectral import SpectralFrontEnd

    preset = get_preset("tiny")
    a = preset.audio
    cache = prepare(synthetic_musdb, preset, tmp_path / "c", workers=1, progress=False)
    info = cache_lib.load_cache(cache)
    (name,) = info["validation"]["tracks"]
    folder = synthetic_musdb / "train" / name
    stems = {k: resample(to_channels(read_audio(folder / f"{k}.wav")[0], 1), 44100, a.sample_rate) for k in STEMS}
    chunk = {k: v[: a.chunk_samples][None] for k, v in stems.items()}
    front = SpectralFrontEnd(a)
    acc = chunk["drums"] + chunk["bass"] + chunk["other"]
    want_mix = front.magnitude(tf.constant(acc + chunk["vocals"])).numpy()
    want_src = np.stack([front.magnitude(tf.constant(x)).numpy() for x in (chunk["vocals"], acc)], -1)
    mix, src = next(iter(pipeline.validation_dataset(cache, preset, "2stems", 3)))
    np.testing.assert_allclose(mix.numpy()[:1], want_mix, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(src.numpy()[:1], want_src, rtol=1e-4, atol=1e-4)
    # energies: mean over the training tracks' full chunks of sum(x^2)
    sums, n = {k: 0.0 for k in ("vocals", "drums", "accompaniment")}, 0
    for track in info["tracks"]["train"]:
        if track == name:
            continue
        f = synthetic_musdb / "train" / track
        s = {k: resample(to_channels(read_audio(f / f"{k}.wav")[0], 1), 44100, a.sample_rate) for k in STEMS}
        full = len(s["vocals"]) // a.chunk_samples
        s["accompaniment"] = s["drums"] + s["bass"] + s["other"]
        for kname in sums:
            x = s[kname][: full * a.chunk_samples].astype(np.float64).reshape(full, -1)
            sums[kname] += float((x**2).sum())
        n += full
    got = pipeline.source_energies(cache, preset, ["vocals", "drums", "accompaniment"])
    assert set(got) == set(sums)
    for kname, total in sums.items():
        assert got[kname] == pytest.approx(total / n, rel=1e-5)


def test_training_pipeline_is_seeded(synthetic_musdb, tmp_path):
    from tf_munet.data import pipeline

    preset = get_preset("tiny")
    cache = prepare(synthetic_musdb, preset, tmp_path / "c", workers=1, progress=False)

    def batches(seed, **kw):
        ds = pipeline.training_dataset(cache, preset, "4stems", 4, seed=seed, **kw)
        return [s.numpy() for _, s in ds.take(3)]

    a, b, c = batches(5), batches(5), batches(6)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))
    # augmentation changes the data; without it, sources are unscaled crops of the cache
    plain = batches(5, augment=False)
    assert not all(np.array_equal(x, y) for x, y in zip(a, plain))


def test_augmentation_steps():
    import tensorflow as tf

    from tf_munet.data import augment

    stems = tf.ones([100, 2, 4]) * tf.constant([[1.0], [2.0]])  # left 1, right 2
    gained = augment.random_gain(stems, tf.constant(3, tf.int64)).numpy()
    g = gained[0, 0]
    assert ((g >= 0.25) & (g <= 1.25)).all() and len(set(np.round(g, 6))) == 4
    assert np.allclose(gained[:, 1], 2 * gained[:, 0])  # one gain per source, all channels
    swapped = np.stack([augment.random_channel_swap(stems, tf.constant(s, tf.int64)).numpy()[0] for s in range(20)])
    assert set(np.unique(swapped[:, 0])) == {1.0, 2.0}  # some swapped, some not
    assert np.array_equal(augment.random_channel_swap(stems[:, :1], tf.constant(1)).numpy(), stems[:, :1].numpy())
    group = tf.reshape(tf.range(8 * 4, dtype=tf.float32), [8, 1, 1, 4])  # value = 4 * example + source
    out = augment.remix_group(tf.tile(group, [1, 3, 1, 1]), tf.constant(9, tf.int64), prob=1.0).numpy()[:, 0, 0]
    for k in range(4):  # each source column is a permutation of that source's chunks
        assert sorted(out[:, k]) == sorted(group.numpy()[:, 0, 0, k])
    assert (np.diff(out // 4, axis=1) != 0).any()  # examples mix sources of different chunks
    same = augment.remix_group(group, tf.constant(9, tf.int64), prob=0.0).numpy()
    assert np.array_equal(same, group.numpy())


def _sum_of_stems(track: Path) -> np.ndarray:
    return sum(sf.read(track / f"{k}.wav", dtype="int16")[0].astype(np.int32) for k in STEMS).astype(np.int16)


def test_silence_filter_drops_chunks_with_a_silent_source(synthetic_musdb, tmp_path):
    from tf_munet.data import pipeline

    root = tmp_path / "r"
    shutil.copytree(synthetic_musdb, root, ignore=shutil.ignore_patterns(".tf_munet_cache"))
    for track in sorted((root / "train").iterdir()):  # vocals silent in the first 4 s of every track
        v, rate = sf.read(track / "vocals.wav", dtype="int16")
        v[: 4 * rate] = 0
        sf.write(track / "vocals.wav", v, rate, subtype="PCM_16")
        sf.write(track / "mixture.wav", _sum_of_stems(track), rate, subtype="PCM_16")
    preset = get_preset("tiny")
    cache = prepare(root, preset, tmp_path / "c", workers=1, progress=False)

    def vocal_energy(**kw):
        ds = pipeline.training_dataset(cache, preset, "4stems", 8, seed=1, augment=False, **kw)
        return np.concatenate([s.numpy()[..., 0].reshape(8, -1).max(1) for _, s in ds.take(4)])

    assert (vocal_energy() > 0.1).all()
    assert (vocal_energy(silence_filter=False) < 1e-3).any()
    for track in (root / "train").iterdir():  # vocals silent everywhere: fail, don't filter forever
        v, rate = sf.read(track / "vocals.wav", dtype="int16")
        sf.write(track / "vocals.wav", v * 0, rate, subtype="PCM_16")
        sf.write(track / "mixture.wav", _sum_of_stems(track), rate, subtype="PCM_16")
    silent = prepare(root, preset, tmp_path / "c2", workers=1, progress=False)
    with pytest.raises(UserError, match="no training chunk has all of vocals audible"):
        pipeline.training_dataset(silent, preset, "vocals", 2)
    assert pipeline.training_dataset(silent, preset, "drums", 2) is not None


@pytest.mark.integration
def test_raw_root_is_prepared_on_the_fly(synthetic_musdb_stems, tmp_path, monkeypatch):
    """A raw root goes to the default cache (here under $TF_MUNET_CACHE), prepared in parallel."""
    from tf_munet.data import pipeline
    from tf_munet.data.prepare import prepare_if_needed

    monkeypatch.setenv("TF_MUNET_CACHE", str(tmp_path / "caches"))
    preset = get_preset("tiny")
    mix, src = next(iter(pipeline.training_dataset(synthetic_musdb_stems, preset, "2stems", 2, seed=0)))
    assert src.shape == (2, 128, 64, 1, 2)
    (cache,) = (tmp_path / "caches").iterdir()
    assert cache_lib.load_cache(cache)["formats"] == ["hq"]  # auto prefers the WAV folders
    assert prepare_if_needed(cache, preset) == cache  # a cache is used as it is
    with pytest.raises(UserError, match="prepared for"):
        pipeline.source_energies(cache, get_preset("cunet"), "4stems")
    stems = prepare_if_needed(synthetic_musdb_stems, preset, cache=tmp_path / "s", format="stems", workers=1,
                              progress=False)
    info = cache_lib.load_cache(stems)
    assert info["formats"] == ["stems"] and len(info["tracks"]["train"]) == 2
    mix, src = next(iter(pipeline.validation_dataset(stems, preset, "4stems", 1)))
    assert src.shape == (1, 128, 64, 1, 4) and float(mix.numpy().max()) > 0.5


@pytest.mark.integration
def test_prepare_is_idempotent_and_parallel_equals_serial(synthetic_musdb, tmp_path):
    preset = get_preset("tiny")
    serial = prepare(synthetic_musdb, preset, tmp_path / "serial", workers=1, progress=False)
    stamp = (serial / "cache.json").stat().st_mtime_ns
    prepare(synthetic_musdb, preset, tmp_path / "serial", workers=1, progress=False)
    assert (serial / "cache.json").stat().st_mtime_ns == stamp  # nothing redone
    parallel = prepare(synthetic_musdb, preset, tmp_path / "parallel", workers=2, progress=False)
    assert _cache_digest(serial) == _cache_digest(parallel)


@pytest.mark.integration
def test_killed_prepare_resumes_to_the_same_cache(tmp_path):
    root = write_synthetic_musdb(tmp_path / "root", train=8, test=0, seconds=8.0, seed=4)
    out = tmp_path / "killed"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    cmd = [sys.executable, "-m", "tf_munet.prepare", "--root", str(root), "--preset", "paper", "--out", str(out),
           "--workers", "1", "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if len(list((out / "tracks" / "train").glob("*.json"))) >= 2 if (out / "tracks" / "train").is_dir() else False:
            break
        time.sleep(0.005)
    assert proc.poll() is None, proc.stderr.read().decode()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = len(list((out / "tracks" / "train").glob("*.json")))
    assert 2 <= finished < 8 and not (out / "cache.json").exists()
    (out / "shards" / "train" / ".stale.tfrecord.x1.tfrecord.tmp").write_bytes(b"half")  # as a kill can leave
    from tf_munet.cli.prepare import main

    assert main(["--root", str(root), "--preset", "paper", "--out", str(out), "--workers", "1", "--no-progress"]) == 0
    fresh = prepare(root, get_preset("paper"), tmp_path / "fresh", workers=1, progress=False)
    assert not _hidden_leftovers(out)
    assert _cache_digest(out) == _cache_digest(fresh)


# ------------------------------------------------------------------------------ bad input


def _corrupt(track: Path, case: str) -> str:
    """Damage one track of a copied root; returns the file name the error must mention."""
    if case == "missing stem":
        (track / "bass.wav").unlink()
        return "bass.wav"
    if case == "different lengths":
        x, rate = sf.read(track / "drums.wav", dtype="int16")
        sf.write(track / "drums.wav", x[:-100], rate, subtype="PCM_16")
        return "drums.wav"
    if case == "different rates":
        x, rate = sf.read(track / "other.wav", dtype="int16")
        sf.write(track / "other.wav", x, 22050, subtype="PCM_16")
        return "other.wav"
    if case == "corrupt":
        data = (track / "vocals.wav").read_bytes()
        (track / "vocals.wav").write_bytes(data[:12] + b"\xff" * 200)
        return "vocals.wav"
    if case == "empty":
        (track / "vocals.wav").write_bytes(b"")
        return "vocals.wav"
    if case == "not audio":
        (track / "mixture.wav").write_text("<html>this is not a wave file</html>\n" * 10)
        return "mixture.wav"
    if case == "zero length":
        for k in ("mixture", *STEMS):
            sf.write(track / f"{k}.wav", np.zeros((0, 2), np.int16), 44100, subtype="PCM_16")
        return "mixture.wav"
    raise AssertionError(case)


BAD_CASES = ["missing stem", "different lengths", "different rates", "corrupt", "empty", "not audio", "zero length"]


@pytest.fixture(scope="module")
def small_root(tmp_path_factory):
    return write_synthetic_musdb(tmp_path_factory.mktemp("small"), train=2, test=0, seconds=1.0, seed=9)


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_gives_one_clear_error_or_a_skip(small_root, tmp_path, capsys, case):
    from tf_munet.cli.prepare import main

    root = tmp_path / "root"
    shutil.copytree(small_root, root)
    bad = root / "train" / "Synthetic Train - Track 02"
    file_name = _corrupt(bad, case)
    args = ["--root", str(root), "--preset", "tiny", "--workers", "1", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "c1")]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: ") and "Synthetic Train - Track 02" in err and file_name in err, err
    assert not (tmp_path / "c1" / "cache.json").exists() and not _hidden_leftovers(tmp_path / "c1")
    with pytest.warns(UserWarning, match="skipping bad track.*Track 02"):
        assert main([*args, "--out", str(tmp_path / "c2"), "--skip-bad"]) == 0
    info = cache_lib.load_cache(tmp_path / "c2")
    assert info["tracks"]["train"] == ["Synthetic Train - Track 01"]
    assert list(info["skipped"]) == ["train/Synthetic Train - Track 02"]
    assert not _hidden_leftovers(tmp_path / "c2")


def test_mixture_not_sum_of_stems_warns_with_the_error(small_root, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(small_root, root)
    track = root / "train" / "Synthetic Train - Track 01"
    x, rate = sf.read(track / "mixture.wav", dtype="int16")
    sf.write(track / "mixture.wav", x // 2, rate, subtype="PCM_16")
    with pytest.warns(UserWarning, match=r"Track 01.*mixture.wav.*differs from the sum of its stems by -6\.\d dB"):
        cache = prepare(root, get_preset("tiny"), tmp_path / "c", workers=1, progress=False)
    assert len(cache_lib.load_cache(cache)["tracks"]["train"]) == 2


def test_bad_stems_files(synthetic_musdb_stems, tmp_path):
    root = tmp_path / "root"
    (root / "train").mkdir(parents=True)
    good = synthetic_musdb_stems / "train" / "Synthetic Train - Track 01.stem.mp4"
    two = root / "train" / "Two Streams.stem.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(good), "-map", "0:0", "-map", "0:1", "-c", "copy", str(two)],
                   check=True)
    (root / "train" / "Garbage.stem.mp4").write_bytes(b"\x00\x01garbage" * 100)
    (root / "train" / "Empty.stem.mp4").write_bytes(b"")
    for ref in find_tracks(root, "train", "stems"):
        with pytest.raises(UserError) as err:
            load_track(ref)
        assert ref.name in str(err.value) and ref.path.name in str(err.value)
        if ref.name == "Two Streams":
            assert "missing stem(s) bass, other, vocals" in str(err.value)


def test_musdb18_names_get_the_official_validation_split(small_root, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(small_root, root)
    official = official_validation_tracks()[0]
    (root / "train" / "Synthetic Train - Track 01").rename(root / "train" / official)
    info = cache_lib.load_cache(prepare(root, get_preset("tiny"), tmp_path / "c", workers=1, progress=False))
    assert info["validation"] == {"tracks": [official], "split": "musdb18", "fraction": 0.2, "seed": 0}
    assert info["tracks"]["train"] == sorted([official, "Synthetic Train - Track 02"])


@pytest.mark.integration
def test_unguarded_script_with_workers_fails_instead_of_hanging(synthetic_musdb, tmp_path):
    """A script calling prepare at top level (no `if __name__ == "__main__":`) re-runs in each
    spawned worker; the worker must stop with the advice, not wait for its parent's lock."""
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from tf_munet.data.prepare import prepare\n"
        "from tf_munet.presets import get_preset\n"
        f"prepare({str(synthetic_musdb)!r}, get_preset('tiny'), {str(tmp_path / 'c')!r}, workers=2,"
        " progress=False)\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode != 0
    assert 'if __name__ == "__main__":' in proc.stderr
