"""Shared fixtures. Each test area appends its own fixtures below its own header comment."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tf_munet.quiet import quiet_tensorflow  # noqa: E402

quiet_tensorflow()  # no TensorFlow banner in captured output


# --- tiers: integration tests run only with --run-integration -----------------------------------
# Plain `python -m pytest -q` is the fast tier. A test that trains a model for more than a few
# steps, converts to TF-Lite, runs a notebook or kills a subprocess is marked `integration`
# (pytest.ini) and skipped unless asked for, as keras-hub does with `large` and --run_large.
import pytest  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--run-integration", action="store_true", default=False,
                     help="also run the tests marked integration (training runs, exports, notebooks, "
                          "subprocess kills)")


def pytest_configure(config):
    if hasattr(config.option, "loadscopereorder"):  # pytest-xdist: keep LONGEST_FIRST's order
        config.option.loadscopereorder = False


# Under `--dist loadfile` each process takes whole files in collection order: the longest
# integration files start first, so none of them starts last while the other process idles
# (test_train.py alone is a third of the integration tier). Other files keep pytest's order.
LONGEST_FIRST = (  # the integration tier's files by --durations=0 on 2 cores, longest first
    "test_train.py", "test_export.py", "test_web.py", "test_reliability.py", "test_runtimes.py",
    "test_notebooks.py", "test_evaluation.py", "test_real_track.py", "test_benchmarks.py", "test_data.py",
    "test_hub.py",
)


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: in-file order kept
    if config.getoption("--run-integration"):
        return
    skip = pytest.mark.skip(reason="integration tier: run with --run-integration")
    for item in items:
        if item.get_closest_marker("integration"):
            item.add_marker(skip)


# --- data (tests/test_data.py; usable by every area) -------------------------------------------


@pytest.fixture(scope="session")
def synthetic_musdb(tmp_path_factory):
    """A synthetic MUSDB18-HQ root: 4 train + 1 test tracks, 6 s, 44.1 kHz stereo, seed 0.

    Read-only for tests: copy it before changing files. Its default prepared caches go to
    <root>/.tf_munet_cache/, inside the temporary folder.
    """
    from tf_munet.data.synthetic import write_synthetic_musdb

    return write_synthetic_musdb(tmp_path_factory.mktemp("synthetic_musdb"), train=4, test=1, seconds=6.0, seed=0)


@pytest.fixture(scope="session")
def synthetic_musdb_stems(tmp_path_factory):
    """A synthetic root with both layouts: 2 train + 1 test tracks of 3 s as WAV folders and .stem.mp4."""
    from tf_munet.data.synthetic import write_synthetic_musdb

    return write_synthetic_musdb(tmp_path_factory.mktemp("synthetic_stems"), train=2, test=1, seconds=3.0, seed=1,
                                 stems=True)


# --- training (tests/test_train.py; usable by every area) ---------------------------------------


@pytest.fixture(scope="session")
def tiny_cache(synthetic_musdb, tmp_path_factory):
    """`synthetic_musdb` prepared for the tiny preset (in-process), as a cache for --data."""
    from tf_munet.data.pipeline import prepare_if_needed
    from tf_munet.presets import get_preset

    out = tmp_path_factory.mktemp("tiny_cache") / "cache"
    return prepare_if_needed(synthetic_musdb, get_preset("tiny"), cache=out, workers=1, progress=False)


# --- separation / evaluation (tests/test_separation.py, tests/test_evaluation.py) ---------------


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A tiny munet run folder (config.json + model.keras) trained 200 steps on synthetic
    magnitudes (tests/_tiny_run.py), without the training CLI. Read-only: copy before changing."""
    from _tiny_run import train_tiny_run

    return train_tiny_run(tmp_path_factory.mktemp("tiny_run") / "tiny run", steps=200)


# --- reliability (tests/test_reliability.py) ----------------------------------------------------


@pytest.fixture(scope="session")
def bad_audio(tmp_path_factory):
    """{case: Case} from tests/_bad_audio.py: bad and merely unusual 1 s audio files. Read-only."""
    from _bad_audio import write_corpus

    return write_corpus(tmp_path_factory.mktemp("bad audio"))


@pytest.fixture(scope="session")
def tiny_export(tiny_run, tmp_path_factory):
    """`tiny_run` exported for the edge runner (spectrogram-float32 TF-Lite only). Read-only."""
    from tf_munet.export import export_run

    out = tmp_path_factory.mktemp("tiny_export") / "export"
    export_run(tiny_run, out, formats=("tflite",), quantize=("none",), inputs=("spectrogram",),
               excerpt_chunks=2, latency_repeats=1)
    return out
