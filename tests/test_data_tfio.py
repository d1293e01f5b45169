"""The optional tensorflow-io backend; runs only where tensorflow-io works (.ci/tfio_check.sh).

In the main environment (TensorFlow 2.21) these tests are skipped and the backend must refuse
with a clear error instead of failing inside tensorflow-io.
"""

from __future__ import annotations

import numpy as np
import pytest

from tf_munet.data.audio_io import read_audio, resample, write_audio
from tf_munet.errors import UserError


def _tfio_works() -> bool:
    try:
        import tensorflow as tf
        import tensorflow_io  # noqa: F401
    except ImportError:
        return False
    return tuple(int(v) for v in tf.__version__.split(".")[:2]) in ((2, 16), (2, 17))


needs_tfio = pytest.mark.skipif(not _tfio_works(),
                                reason="tensorflow-io needs TensorFlow 2.16/2.17 (.ci/tfio_check.sh)")


@pytest.mark.skipif(_tfio_works(), reason="tensorflow-io works here")
def test_tfio_backend_refuses_clearly_where_it_cannot_work(tmp_path):
    path = write_audio(tmp_path / "a.wav", np.zeros((100, 1), np.float32), 8000)
    with pytest.raises(UserError, match="tensorflow-io|tfio"):
        read_audio(path, backend="tfio")


@needs_tfio
def test_tfio_reads_like_soundfile(tmp_path):
    x = (np.random.default_rng(0).uniform(-0.5, 0.5, (4410, 2)) * 32768).astype(np.int16)
    path = write_audio(tmp_path / "a.wav", x, 44100, subtype="PCM_16")
    a, ra = read_audio(path)
    b, rb = read_audio(path, backend="tfio")
    assert ra == rb == 44100 and a.shape == b.shape == (4410, 2)
    np.testing.assert_allclose(a, b, atol=1e-6)
    (tmp_path / "bad.wav").write_text("not audio\n" * 10)
    with pytest.raises(UserError, match="bad.wav"):
        read_audio(tmp_path / "bad.wav", backend="tfio")


@needs_tfio
def test_tfio_resamples_like_soxr():
    t = np.arange(44100) / 44100
    x = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 1000 * t)], 1).astype(np.float32) * 0.5
    a = resample(x, 44100, 8192)
    b = resample(x, 44100, 8192, backend="tfio")
    assert a.shape == b.shape == (8192, 2)
    for ch, f in ((0, 440), (1, 1000)):
        assert abs(np.argmax(np.abs(np.fft.rfft(b[:, ch]))) - f) <= 1
    mid = slice(500, -500)  # edges differ with the filters' start-up
    assert np.sqrt(np.mean((a[mid] - b[mid]) ** 2)) < 0.05


@needs_tfio
def test_prepare_with_the_tfio_backend(tmp_path):
    from tf_munet.data.cache import load_cache
    from tf_munet.data.pipeline import training_dataset
    from tf_munet.data.prepare import prepare
    from tf_munet.data.synthetic import write_synthetic_musdb
    from tf_munet.presets import get_preset

    root = write_synthetic_musdb(tmp_path / "r", train=2, test=0, seconds=2.0, seed=0)
    preset = get_preset("tiny")
    ref = load_cache(prepare(root, preset, tmp_path / "soxr", workers=1, progress=False))
    cache = prepare(root, preset, tmp_path / "tfio", workers=1, progress=False, backend="tfio")
    got = load_cache(cache)
    assert got["tracks"] == ref["tracks"]
    for k, v in ref["energies"].items():
        assert got["energies"][k] == pytest.approx(v, rel=0.05)
    mix, src = next(iter(training_dataset(cache, preset, "4stems", 2, seed=0)))
    assert src.shape == (2, 128, 64, 1, 4) and np.isfinite(src.numpy()).all()
