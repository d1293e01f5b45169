"""One inference core, three runtimes: Keras, the SavedModel and the edge runner (LiteRT) give the
same stems for every source-set size (1-4), every family, mono and stereo presets, with and
without patch overlap.

Each case is a tiny run trained a few steps (the masks must not be uniform, or normalisation
would not show) and exported once (SavedModel + float32 spectrogram TF-Lite).
"""

import numpy as np
import pytest
from _tiny_run import FOUR, train_tiny_run

from tf_munet.presets import get_preset

TINY = get_preset("tiny")
STEREO = get_preset("fullband").replace(
    backbone={"widths": (4, 8)},
    audio={"sample_rate": 8192, "n_fft": 256, "hop": 64, "freq_bins": 96, "frames": 64},
)
CASES = {  # family, preset, sources: together every size, family and channel layout
    "munet-mono-1": ("munet", TINY, ("vocals",)),
    "dedicated-stereo-2": ("dedicated", STEREO, ("vocals", "drums")),
    "cunet-mono-3": ("cunet", TINY, ("vocals", "drums", "bass")),
    "munet-stereo-4": ("munet", STEREO, FOUR),
}


@pytest.fixture(scope="module", params=list(CASES))
def exported(request, tmp_path_factory):
    from tf_munet.export import export_run

    family, preset, sources = CASES[request.param]
    tmp = tmp_path_factory.mktemp(request.param)
    run = train_tiny_run(tmp / "run", family=family, steps=8, preset=preset, sources=sources)
    export_run(run, tmp / "export", formats=("savedmodel", "tflite"), quantize=("none",),
               inputs=("spectrogram",), excerpt_chunks=2, latency_repeats=1)
    return request.param, run, tmp / "export"


@pytest.fixture(scope="module")
def clip():
    """3 s of a held-out synthetic track at 22.05 kHz stereo (resampling, channel mapping)."""
    from tf_munet.data.synthetic import synthetic_stems

    return synthetic_stems(11, 3.0, rate=22050, channels=2)["mixture"]


@pytest.mark.integration
@pytest.mark.parametrize("overlap", [0.25, 0.0])
def test_keras_savedmodel_and_litert_give_the_same_stems(exported, clip, overlap):
    from tf_munet.export.savedmodel import SavedModelSeparator
    from tf_munet.separation import Separator
    from tf_munet_core.litert import load_separator

    case, run, export = exported
    inputs = [clip] + ([clip[:, :1]] if "stereo" in case else [])  # mono into a stereo model too
    runtimes = {
        "savedmodel": SavedModelSeparator.load(export, overlap=overlap, block_seconds=2.0),
        "litert": load_separator(export, overlap=overlap, block_seconds=2.0),
    }
    keras = Separator.load(run, overlap=overlap, block_seconds=2.0)
    for x in inputs:
        want = keras.separate(x, 22050)
        assert list(want) == list(CASES[case][2])
        for name, sep in runtimes.items():
            assert sep.normalization == keras.normalization, name
            got = sep.separate(x, 22050)
            for s in want:
                assert got[s].shape == x.shape
                assert np.abs(got[s] - want[s]).max() < 1e-4, (name, s)


@pytest.mark.integration
def test_partial_sets_are_normalised_alike(exported):
    """The manifest carries the separator's normalisation: "partial" for subsets of the four."""
    import json

    case, run, export = exported
    manifest = json.loads((export / "manifest.json").read_text())
    assert manifest["normalize"] == ("exhaustive" if case.endswith("-4") else "partial")


@pytest.mark.integration
def test_separate_takes_an_export_folder_and_skips_tensorflow(tiny_run, tiny_export, clip, tmp_path):
    """`python -m tf_munet.separate EXPORT_DIR ...`: the LiteRT path from the main command, with
    the run's stems and without importing TensorFlow or Keras (it starts in about a second)."""
    import subprocess
    import sys

    import soundfile as sf

    from tf_munet.cli.separate import main as separate

    song = tmp_path / "song.wav"
    sf.write(song, clip, 22050, subtype="FLOAT")
    assert separate([str(tiny_run), str(song), "-o", str(tmp_path / "keras"), "--float32",
                     "--no-progress"]) == 0
    code = (
        "import runpy, sys\n"
        "sys.argv = ['separate', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('tf_munet.separate', run_name='__main__')\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')]\n"
        "assert not bad, bad[:5]\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(tiny_export), str(song), "-o",
                           str(tmp_path / "litert"), "--float32", "--no-progress"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "XNNPACK" not in proc.stderr, proc.stderr  # LiteRT's native INFO line is dropped
    for s in FOUR:
        want = sf.read(tmp_path / "keras" / "song" / f"{s}.wav")[0]
        got = sf.read(tmp_path / "litert" / "song" / f"{s}.wav")[0]
        assert np.abs(got - want).max() < 1e-4, s


def test_edge_runner_never_mixes_runs(tiny_export, clip, tmp_path, capsys):
    """Like `separate`: stems an earlier run left are refused, --overwrite replaces exactly them."""
    import soundfile as sf

    from tf_munet_core import edge

    song = tmp_path / "song.wav"
    sf.write(song, clip[:22050], 22050)
    out = tmp_path / "out"
    args = [str(tiny_export), str(song), "-o", str(out), "--no-progress"]
    assert edge.main(args) == 0
    (out / "song" / "notes.txt").write_text("mine")
    assert edge.main(args + ["--stems", "vocals"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert edge.main(args + ["--stems", "vocals", "--overwrite"]) == 0
    assert sorted(p.name for p in (out / "song").iterdir()) == ["notes.txt", "vocals.wav"]
