"""The paper's frequency warp, mask extension, and the error helpers (the STFT: test_stft.py)."""

import numpy as np
import pytest
import tensorflow as tf

from tf_munet.errors import UserError, atomic_path, cli_main, safe_child
from tf_munet.presets import PRESETS, get_preset
from tf_munet.spectral import (
    SpectralFrontEnd,
    extend_mask,
    unwarp_matrix,
    warp_matrix,
)


def test_warp_grid_is_log_spaced_and_unwarp_inverts_it():
    w = warp_matrix(512, 256)
    assert w.shape == (256, 512)
    np.testing.assert_allclose(w.sum(1), 1.0, atol=1e-6)
    centres = w @ np.arange(512)
    steps = np.diff(centres)
    assert steps[0] < 1 < steps[-1]  # low bins are stretched, high bins compressed
    assert centres[0] == pytest.approx(0) and centres[-1] == pytest.approx(511)
    u = unwarp_matrix(256, 512)
    smooth = np.sin(np.linspace(0, 3, 512))
    np.testing.assert_allclose(u @ (w @ smooth), smooth, atol=2e-3)


def _warped_position_of_linear_bins(n_linear: int, n_warped: int) -> np.ndarray:
    """Where each linear bin lies on the warped axis (fractional row), by inverting the paper's
    forward warp numerically: warped row y in [-1, 1] samples linear y' = (21^((y+1)/2) - 11) / 10."""
    y = np.linspace(-1, 1, 200001)
    forward = (np.power(21.0, (y + 1) / 2) - 11) / 10  # increasing in y
    return (np.interp(np.linspace(-1, 1, n_linear), forward, y) + 1) / 2 * (n_warped - 1)


def test_front_end_gives_the_networks_grid():
    """Every preset's front end: magnitudes are the numpy core's (`ModelGrid`), and masks
    linear along the warped rows come back on the linear bins as that line at each bin's warped
    position (the unwarp is linear interpolation on the inverse log map)."""
    from tf_munet_core.spectra import ModelGrid

    rng = np.random.default_rng(0)
    for name, preset in PRESETS.items():
        audio = preset.audio
        fe = SpectralFrontEnd(audio)
        wave = rng.standard_normal((1, audio.hop * 20, audio.channels)).astype(np.float32)
        mag = fe.magnitude(tf.constant(wave)).numpy()
        frames = 21
        assert mag.shape == (1, audio.model_bins, frames, audio.channels)
        np.testing.assert_allclose(mag[0], ModelGrid(audio).magnitude(wave[0]), atol=1e-4 * mag.max())
        # masks a + b * row along the network's rows, a and b random per frame, channel, source
        a, b = rng.random((2, 1, 1, frames, audio.channels, 4)).astype(np.float32)
        rows = np.arange(audio.model_bins, dtype=np.float32)[None, :, None, None, None]
        lin = fe.mask_to_linear(tf.constant(a + b * rows / audio.model_bins)).numpy()
        assert lin.shape == (1, audio.freq_bins, frames, audio.channels, 4)
        pos = (_warped_position_of_linear_bins(audio.freq_bins, audio.warp_bins) if audio.warp_bins
               else np.arange(audio.freq_bins))[None, :, None, None, None]
        np.testing.assert_allclose(lin, a + b * pos / audio.model_bins, atol=1e-4, err_msg=name)


def test_extend_mask_uses_the_top_band_mean():
    mask = np.zeros((10, 3, 2))
    mask[-4:, :, 0] = 1.0
    ext = extend_mask(mask, 16, axis=0, top=4)
    assert ext.shape == (16, 3, 2)
    np.testing.assert_array_equal(ext[10:, :, 0], 1.0)
    np.testing.assert_array_equal(ext[10:, :, 1], 0.0)
    np.testing.assert_array_equal(extend_mask(mask, 8, axis=0), mask[:8])


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    final = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with atomic_path(final) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    with atomic_path(final) as tmp:
        tmp.write_text("whole")
    assert final.read_text() == "whole" and len(list(tmp_path.iterdir())) == 1


def test_safe_child_never_escapes(tmp_path):
    assert safe_child(tmp_path, "../../etc/passwd") == tmp_path / "passwd"
    assert safe_child(tmp_path, "/abs/name") == tmp_path / "name"
    assert safe_child(tmp_path, "..") == tmp_path / "unnamed"
    assert safe_child(tmp_path, "ünï cödé song") == tmp_path / "ünï cödé song"


def test_cli_main_prints_user_errors_in_one_line_and_keeps_bugs_as_tracebacks(tmp_path, capsys,
                                                                              monkeypatch):
    monkeypatch.setenv("TF_MUNET_DEBUG", "0")  # --debug below sets both; restored after
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")

    @cli_main
    def main(argv):
        if argv[0] == "user":
            raise UserError("song.wav: not an audio file\n  (header unreadable)")
        if argv[0] == "os":
            (tmp_path / "missing.wav").read_bytes()
        if argv[0] == "bug":
            return int((np.zeros(2) + np.zeros(3)).sum())  # numpy's ValueError: a bug
        return 0

    assert main(["user"]) == 2
    assert capsys.readouterr().err == "error: song.wav: not an audio file (header unreadable)\n"
    assert main(["os"]) == 2
    assert "missing.wav" in capsys.readouterr().err
    with pytest.raises(ValueError, match="broadcast"):
        main(["bug"])
    with pytest.raises(UserError):
        main(["user", "--debug"])
    assert main(["fine"]) == 0


def test_bad_names_are_user_errors():
    from tf_munet.presets import resolve_sources
    from tf_munet.weighting import make_weighting

    for bad in (lambda: get_preset("huge"), lambda: resolve_sources("vocals,kazoo"),
                lambda: make_weighting("magic", ("vocals",))):
        with pytest.raises(UserError):
            bad()
