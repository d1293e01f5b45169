"""One STFT: the numpy spec (`tf_munet_core.stft`) against independent references, and every
graph that implements it (`tf_munet.spectral`, `tf_munet.export.dsp`) against the spec, for
every preset in the registry."""

import dataclasses

import numpy as np
import pytest

from tf_munet.presets import PRESETS
from tf_munet_core.mapping import input_spec
from tf_munet_core.stft import OverlapAdd, StftSpec

# every preset's audio domain, one per distinct STFT (several presets share one)
AUDIO = {}
for _name, _preset in PRESETS.items():
    if StftSpec.of(_preset.audio) not in {StftSpec.of(a) for a in AUDIO.values()}:
        AUDIO[_name] = _preset.audio


def _wave(spec: StftSpec, frames: int = 20, channels: int = 2, seed: int = 0) -> np.ndarray:
    """(samples, channels) noise of `frames` frames plus a part of a hop (not a whole chunk)."""
    n = (frames - 1) * spec.hop + spec.hop // 3
    return np.random.default_rng(seed).standard_normal((n, channels)).astype(np.float32)


def _spectrum(spec: StftSpec, frames: int, channels: int = 2, seed: int = 1) -> np.ndarray:
    """(frames, bins, channels) random complex spectrum: not the STFT of any signal."""
    rng = np.random.default_rng(seed)
    shape = (frames, spec.bins, channels)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


def _reference_istft(spec: StftSpec, x: np.ndarray, length: int) -> np.ndarray:
    """Frame by frame in float64: irfft, window, add, divide by the summed squared window."""
    w = spec.window(np.float64)
    frames, _, channels = x.shape
    total = (frames - 1) * spec.hop + spec.n_fft
    out, env = np.zeros((total, channels)), np.zeros(total)
    for t in range(frames):
        s = slice(t * spec.hop, t * spec.hop + spec.n_fft)
        out[s] += np.fft.irfft(x[t].astype(np.complex128), spec.n_fft, axis=0) * w[:, None]
        env[s] += w**2
    return (out / np.maximum(env, 1e-8)[:, None])[spec.pad : spec.pad + length]


def _close(got, want, rel=1e-5):
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= rel * np.abs(want).max()


# ------------------------------------------------------------------------------ the numpy spec


def test_windows_are_scipys_hann():
    from scipy.signal import get_window
    from scipy.signal.windows import hann

    for n in (256, 1022, 4096, 5512):
        np.testing.assert_allclose(StftSpec(n, n // 4).window(np.float64), get_window("hann", n), atol=1e-15)
        np.testing.assert_allclose(StftSpec(n, n // 4, periodic=False).window(np.float64), hann(n, sym=True),
                                   atol=1e-15)
        assert StftSpec(n, n // 4).window().dtype == np.float32


@pytest.mark.parametrize("name", sorted(AUDIO))
def test_spec_stft_is_scipys_centred_stft(name):
    """Every preset's STFT: scipy's on the reflect-padded signal, times sum(window) = n_fft / 2."""
    from scipy.signal import stft as scipy_stft

    spec = StftSpec.of(AUDIO[name])
    x = _wave(spec)
    ours = spec.stft(x)
    assert ours.shape == (spec.frame_count(len(x)), spec.bins, 2) and ours.dtype == np.complex64
    padded = np.pad(x, ((spec.pad, spec.pad), (0, 0)), mode="reflect")
    _, _, ref = scipy_stft(padded.T, nperseg=spec.n_fft, noverlap=spec.n_fft - spec.hop, window="hann",
                           boundary=None, padded=False)  # (C, bins, frames)
    _close(ours, ref.transpose(2, 1, 0) * spec.n_fft / 2)


@pytest.mark.parametrize("spec", [
    StftSpec(256, 64), StftSpec(1022, 256),
    StftSpec(255, 100),  # odd size, hop not dividing it
    StftSpec(256, 96, periodic=False, pad_mode="constant"),
    StftSpec(128, 32, center=False),
], ids=lambda s: f"{s.n_fft}-{s.hop}-{'periodic' if s.periodic else 'symmetric'}-"
                 f"{s.pad_mode if s.center else 'uncentred'}")
def test_spec_istft_is_the_frame_by_frame_overlap_add_and_inverts_stft(spec):
    x = _wave(spec)
    frames = spec.frame_count(len(x))
    covered = (frames - 1) * spec.hop + spec.n_fft - spec.pad  # output samples the frames reach
    y = _spectrum(spec, frames)
    for length in (min(len(x), covered), len(x) - spec.hop - 3):
        _close(spec.istft(y, length), _reference_istft(spec, y, length))
    with pytest.raises(ValueError, match="frames cover fewer"):
        spec.istft(y, covered + 1)
    if spec.center:  # a spectrum that is an STFT comes back to its signal, ends included
        np.testing.assert_allclose(spec.istft(spec.stft(x), len(x)), x, atol=3e-6)


def test_every_presets_chunk_gives_its_frames():
    for name, preset in PRESETS.items():
        assert StftSpec.of(preset.audio).frame_count(preset.audio.chunk_samples) == preset.audio.frames, name


def test_input_rate_specs_keep_the_models_window_and_padding():
    """The separator's STFT at an input rate is the model's spec at another size."""
    paper = AUDIO["paper"]
    for rate in (44100, 22050, paper.sample_rate):
        s = input_spec(paper, rate)
        assert dataclasses.replace(s, n_fft=paper.n_fft, hop=paper.hop) == StftSpec.of(paper)
        assert s.n_fft / rate == pytest.approx(paper.n_fft / paper.sample_rate, rel=1e-3)
    assert input_spec(paper, paper.sample_rate) == StftSpec.of(paper)


def test_overlap_add_in_batches_is_the_spec_istft():
    """The separator's overlap-add (batches of frames added in rounds, by hop-sized parts) sums
    what `istft` sums."""
    spec = input_spec(AUDIO["paper"], 44100)
    x = _spectrum(spec, 37)
    frames = np.fft.irfft(x.transpose(2, 0, 1), spec.n_fft).astype(np.float32)
    rows = np.zeros((2, (37 + spec.n_fft // spec.hop + 1) * spec.hop), np.float32)
    ola = OverlapAdd(rows, 37, spec)
    for r in range(ola.rounds(4)):
        for u0 in range(4 * r, 37, 4 * ola.rounds(4)):
            ola.add(frames[:, u0 : u0 + 4] * ola.synthesis, u0)
    length = 36 * spec.hop
    _close(ola.finish(spec.pad, length).T, _reference_istft(spec, x, length))


def test_bad_specs_are_value_errors():
    for bad in (dict(window_kind="kaiser"), dict(pad_mode="edge"), dict(hop=0), dict(hop=300)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            StftSpec(**{"n_fft": 256, "hop": 64, **bad})


# ------------------------------------------------------------------------------ graphs vs the spec


@pytest.mark.parametrize("name", sorted(AUDIO))
def test_tensorflow_graph_is_the_spec(name):
    """`tf_munet.spectral` (training, Python evaluation) against the numpy spec."""
    import tensorflow as tf

    from tf_munet import spectral

    audio = AUDIO[name]
    spec = StftSpec.of(audio)
    x = _wave(spec)
    got = spectral.stft(tf.constant(x.T), audio).numpy()  # (C, bins, frames)
    want = spec.stft(x)
    _close(got.transpose(2, 1, 0), want)
    frames = len(want)
    y = _spectrum(spec, frames)
    back = spectral.istft(tf.constant(y.transpose(2, 1, 0)), audio, len(x)).numpy()
    _close(back.T, spec.istft(y, len(x)))


@pytest.mark.parametrize("name", sorted(AUDIO))
def test_tflite_export_graph_is_the_spec(name):
    """`tf_munet.export.dsp` (builtins-only graphs, both FFT routes where the size allows)."""
    import tensorflow as tf

    from tf_munet.export import dsp

    audio = AUDIO[name]
    spec = StftSpec.of(audio)
    x = _wave(spec)
    want = spec.stft(x)
    y = _spectrum(spec, len(want))
    modes = ["fft", "dft"] if spec.n_fft & (spec.n_fft - 1) == 0 else ["dft"]
    assert dsp.resolve_mode("auto", spec.n_fft) == modes[0]
    for mode in modes:
        real, imag = dsp.stft(tf.constant(x.T), audio, mode)  # (C, frames, bins)
        _close((real.numpy() + 1j * imag.numpy()).transpose(1, 2, 0), want)
        rows = y.transpose(2, 0, 1)
        back = dsp.istft(tf.constant(rows.real), tf.constant(rows.imag), audio, len(x), mode).numpy()
        _close(back.T, spec.istft(y, len(x)))
    with pytest.raises(ValueError, match="power-of-two"):
        dsp.resolve_mode("fft", 254)
