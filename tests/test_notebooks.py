"""The tutorial notebooks: stored as built (no outputs, tagged parameters cell) and executed
end to end with nbclient on tiny settings, every file written under tmp_path.

The kernel is this interpreter (a kernelspec written to a temporary JUPYTER_PATH), with
matplotlib's inline backend: headless like Agg, but figures come back as PNG outputs that the
tests count (under MPLBACKEND=Agg a notebook's figures would leave no output at all).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SOURCES = ("vocals", "drums", "bass", "other")

TINY = {
    "SYNTHETIC_TRAIN": 1,
    "SYNTHETIC_TEST": 1,
    "SYNTHETIC_SECONDS": 2.5,
    "PRESET": "tiny",
    "BATCH_SIZE": 2,
    "EPOCHS": 2,
    "STEPS_PER_EPOCH": 2,
}
"""Overrides shared by every notebook (1 + 1 generated (rendered) tracks of 2.5 s, 2 epochs of 2 steps)."""


def _builder():
    spec = importlib.util.spec_from_file_location("build_notebooks", NOTEBOOKS / "build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory):
    """A "python3" kernelspec that runs this interpreter, found first through JUPYTER_PATH."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (tests)", "language": "python",
    }))
    env = {
        "JUPYTER_PATH": str(root),
        "JUPYTER_RUNTIME_DIR": str(root / "runtime"),  # connection files (HOME may be read-only)
        "IPYTHONDIR": str(root / "ipython"),  # no user profile or startup scripts
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    from jupyter_client.kernelspec import KernelSpecManager

    assert KernelSpecManager().get_kernel_spec("python3").argv[0] == sys.executable
    yield root
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def execute(name: str, overrides: dict, timeout: int = 300) -> nbformat.NotebookNode:
    """Run a notebook with a cell of overrides inserted after its parameters cell (papermill's
    convention); returns the executed notebook (errors raise CellExecutionError)."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    lines = [f"{key} = {value!r}" for key, value in overrides.items()]
    injected = nbformat.v4.new_code_cell("\n".join(lines), id="injected-parameters")
    injected.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(index + 1, injected)
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=timeout,
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    t0 = time.perf_counter()
    client.execute()
    nb.metadata["test_seconds"] = time.perf_counter() - t0
    return nb


def outputs(nb, kind: str) -> list[str]:
    """All outputs of one MIME type ("stdout" for printed text) across the notebook."""
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if kind == "stdout" and out.get("output_type") == "stream" and out.get("name") == "stdout":
                found.append(out["text"])
            elif kind in out.get("data", {}):
                found.append(out["data"][kind])
    return found


# ----------------------------------------------------------------------------- stored files


def test_stored_notebooks_are_built_without_outputs():
    builder = _builder()
    for name in builder.NOTEBOOKS:
        text = (NOTEBOOKS / name).read_text(encoding="utf-8")
        assert text == builder.render(name), f"{name} differs from build_notebooks.py: rebuild it"
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code)
        tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1 and code.index(tagged[0]) == 0  # before the install cell
        for key in (*TINY, "WORK_DIR", "INSTALL_FROM", "MUSDB_ROOT"):
            assert f"\n{key} = " in tagged[0].source, (name, key)
        assert 'if "google.colab" in sys.modules' in code[1].source


# ----------------------------------------------------------------------------- execution


@pytest.fixture(scope="module")
def quickstart(kernel_env, tmp_path_factory):
    work = tmp_path_factory.mktemp("nb01")
    nb = execute("01_quickstart.ipynb", {**TINY, "WORK_DIR": str(work), "LISTEN_SECONDS": 2.0})
    return nb, work


@pytest.mark.integration
def test_quickstart_trains_separates_and_plots(quickstart):
    nb, work = quickstart
    run = work / "runs" / "tiny-munet-uw"
    history = json.loads((run / "history.json").read_text())
    assert history["epochs_completed"] == 2 and (run / "model.keras").is_file()
    import soundfile as sf

    assert [p.name for p in work.glob("rendered-*/test/*")] == ["Rendered Test - Song 01"]
    mixture = sf.info(work / "separated" / "real_song_mixture.wav")  # the real song inside stempeg
    assert (mixture.frames, mixture.samplerate, mixture.channels) == (268288, 44100, 2)
    for source in SOURCES:
        info = sf.info(work / "separated" / f"real_song_{source}.wav")
        assert (info.frames, info.samplerate, info.channels) == (mixture.frames, 44100, 2)
    text = "".join(outputs(nb, "stdout"))
    assert "Run folder:" in text and all(f"real_song_{s}.wav" in text for s in SOURCES)
    assert len(outputs(nb, "text/html")) >= 5  # mixture + 4 stems as audio players
    assert len(outputs(nb, "image/png")) == 2  # loss curves, spectrograms
    print(f"01_quickstart: {nb.metadata['test_seconds']:.1f} s")


@pytest.mark.integration
def test_multitask_weighting_notebook(kernel_env, tmp_path):
    nb = execute("02_multitask_weighting.ipynb", {
        **TINY, "EPOCHS": 3, "WORK_DIR": str(tmp_path), "WEIGHTINGS": ["uw", "dwa", "ebw-p1"],
        "BASELINES": [], "PROTOCOLS": ["paper"], "COST_PRESET": "tiny", "COST_SECONDS": 1.0,
    })
    tables = outputs(nb, "text/markdown")
    sdr = next(t for t in tables if t.startswith("**SDR (dB), paper**"))
    for label in ("munet-uw", "munet-dwa", "munet-ebw-p1", "oracle", "mixture"):
        assert f"| {label} | " in sdr
    assert all(f" {s} |" in sdr.splitlines()[2] for s in (*SOURCES, "all"))
    costs = next(t for t in tables if "| parameters |" in t)
    for family in ("M-U-Net", "dedicated U-Nets", "C-U-Net"):
        assert f"| {family} | tiny |" in costs
    assert len(outputs(nb, "image/png")) == 3  # task weights, train and val losses
    # DWA's weights move from epoch 3 on; EBW's come from the data and favour quiet sources
    dwa = json.loads((tmp_path / "runs" / "tiny-munet-dwa" / "history.json").read_text())["epochs"]
    assert [e["task_weights"]["vocals"] for e in dwa[:2]] == [1.0, 1.0]
    assert dwa[2]["task_weights"] != dict.fromkeys(SOURCES, 1.0)
    ebw = json.loads((tmp_path / "runs" / "tiny-munet-ebw-p1" / "history.json").read_text())["epochs"]
    assert ebw[0]["task_weights"]["bass"] == pytest.approx(1.0)
    assert len(set(ebw[0]["task_weights"].values())) == 4
    summary = json.loads((tmp_path / "evaluation" / "summary.json").read_text())
    assert len(summary["tracks"]) == 1
    print(f"02_multitask_weighting: {nb.metadata['test_seconds']:.1f} s")


@pytest.mark.integration
def test_export_notebook_reuses_a_run(kernel_env, quickstart, tmp_path):
    _, work01 = quickstart
    run = work01 / "runs" / "tiny-munet-uw"
    stamp = (run / "model.keras").stat().st_mtime_ns
    nb = execute("03_export_tflite.ipynb", {
        **TINY, "WORK_DIR": str(tmp_path), "RUN_DIR": str(run), "QUANTIZE": ["none", "fp16"],
        "CALIBRATION": 2, "EXCERPT_CHUNKS": 1, "LATENCY_REPEATS": 2, "COMPARE_CHUNKS": 2,
        "LISTEN_VARIANT": "waveform-float16",
    })
    assert (run / "model.keras").stat().st_mtime_ns == stamp  # exported, not retrained
    assert not (tmp_path / "runs").exists()
    export = tmp_path / "export"
    variants = [f"{k}-{q}" for k in ("spectrogram", "waveform") for q in ("float32", "float16")]
    for variant in variants:
        assert (export / f"{variant}.tflite").stat().st_size > 10_000
    report = json.loads((export / "report.json").read_text())
    assert sorted(report["tflite"]) == sorted(variants)
    tables = outputs(nb, "text/markdown")
    compare = next(t for t in tables if "| LiteRT ms/chunk |" in t and "max abs. error" in t)
    rows = {line.split("|")[1].strip(): line.split("|")[2:-1] for line in compare.splitlines()[2:]}
    assert sorted(rows) == sorted(variants)
    assert float(rows["waveform-float32"][0]) < 1e-4  # LiteRT float32 matches Keras
    sizes = next(t for t in tables if "| size (MB) |" in t)
    assert all(f"| {v} |" in sizes for v in variants)
    assert len(outputs(nb, "image/png")) == 2  # size/latency bars, spectrograms
    assert len(outputs(nb, "text/html")) >= 9  # mixture + Keras and LiteRT per source
    print(f"03_export_tflite: {nb.metadata['test_seconds']:.1f} s")
