"""The full-band preset: 44.1 kHz stereo, one mask per source and channel (tiny widths here)."""

import keras
import numpy as np
import pytest
from _tiny_run import FOUR, train_tiny_run

from tf_munet.models import build_model, count_flops
from tf_munet.presets import get_preset
from tf_munet.separation import Separator

FULLBAND_TINY = get_preset("fullband").replace(
    audio={"frames": 32}, backbone={"widths": (4, 8, 16, 32)}
)


def test_preset_is_full_rate_stereo_with_per_channel_masks():
    p = get_preset("fullband")
    assert (p.audio.sample_rate, p.audio.channels, p.audio.n_fft, p.audio.hop) == (44100, 2, 4096, 1024)
    assert p.audio.freq_bins * p.audio.sample_rate / p.audio.n_fft == pytest.approx(11025)
    net = build_model(FULLBAND_TINY, "munet", FOUR)
    assert tuple(net.output.shape[1:]) == (1024, 32, 2, 4)
    # One M-U-Net at full band costs a quarter of the dedicated set (Spleeter's 4 U-Nets).
    full = count_flops(build_model(p, "munet", FOUR))
    assert count_flops(build_model(p, "dedicated", FOUR)) > 3.5 * full


def test_save_load_round_trip(tmp_path):
    net = build_model(FULLBAND_TINY, "munet", FOUR)
    net.save(tmp_path / "m.keras")
    back = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    x = np.random.default_rng(0).random((1, 1024, 32, 2)).astype("float32")
    np.testing.assert_array_equal(np.asarray(net(x)), np.asarray(back(x)))


def test_channel_specific_content_gives_channel_specific_stems():
    """Left = vocals, right = drums: the stereo grid keeps each channel's own masks, so the
    vocals stem lives in the left channel and the drums stem in the right."""
    from tf_munet.data.synthetic import synthetic_stems
    from tf_munet.separation import OracleSeparator

    track = synthetic_stems(7, 4.0, rate=44100, channels=2)
    zeros = np.zeros_like(track["vocals"][:, 0])
    refs = {
        "vocals": np.stack([track["vocals"].mean(1), zeros], axis=1),
        "drums": np.stack([zeros, track["drums"].mean(1)], axis=1),
        "bass": np.zeros_like(track["bass"]),
        "other": np.zeros_like(track["other"]),
    }
    mix = refs["vocals"] + refs["drums"]
    stems = OracleSeparator(FULLBAND_TINY, FOUR).separate(mix, 44100, references=refs)
    assert stems["vocals"].shape == mix.shape
    np.testing.assert_allclose(sum(stems.values()), mix, atol=1e-4)
    energy = {s: np.square(stems[s]).sum(0) for s in ("vocals", "drums")}  # per channel
    assert energy["vocals"][0] > 100 * energy["vocals"][1]
    assert energy["drums"][1] > 100 * energy["drums"][0]


def test_network_masks_are_per_channel(tmp_path):
    """A stereo model's masks for one channel react to that channel (not one mask copied)."""
    run = train_tiny_run(tmp_path / "run", steps=0, preset=FULLBAND_TINY)
    sep = Separator.load(run)
    a = FULLBAND_TINY.audio
    mag = np.random.default_rng(1).random((1, a.model_bins, a.frames, 2)).astype("float32")
    mag[..., 1] *= 0.01
    masks = np.asarray(sep.network(mag))
    assert np.abs(masks[..., 0, :] - masks[..., 1, :]).mean() > 1e-3
    mix = np.random.default_rng(2).standard_normal((44100, 2)).astype("float32") * 0.1
    stems = sep.separate(mix, 44100)
    assert stems["vocals"].shape == (44100, 2)
    np.testing.assert_allclose(sum(stems.values()), mix, atol=1e-4)


@pytest.mark.integration
def test_train_and_separate_cli_with_fullband(synthetic_musdb, tmp_path):
    """`train --preset fullband` (narrowed through the config file) -> `separate` keeps stereo."""
    import json

    import soundfile as sf

    from tf_munet.cli.separate import main as separate_main
    from tf_munet.cli.train import main as train_main

    config = tmp_path / "narrow.json"
    config.write_text(json.dumps({"preset_overrides": {"audio": {"frames": 32},
                                                       "backbone": {"widths": [4, 8, 16, 32]}}}))
    run = tmp_path / "run"
    assert train_main(["--preset", "fullband", "--data", str(synthetic_musdb), "--config", str(config),
                       "--cache", str(tmp_path / "cache"), "--run-dir", str(run), "--epochs", "1",
                       "--steps-per-epoch", "2", "--batch-size", "1", "--validation-steps", "1",
                       "--excerpt-every", "0", "--verbose", "0"]) == 0
    saved = json.loads((run / "config.json").read_text())
    assert saved["preset"]["audio"]["channels"] == 2 and saved["preset"]["audio"]["frames"] == 32
    song = tmp_path / "song.wav"
    sf.write(song, np.random.default_rng(0).standard_normal((22050, 2)) * 0.1, 44100)
    assert separate_main([str(run), str(song), "-o", str(tmp_path / "out"), "--no-progress"]) == 0
    vocals, rate = sf.read(tmp_path / "out" / "song" / "vocals.wav")
    assert rate == 44100 and vocals.shape == (22050, 2)
