"""Writes the tutorial notebooks (01_quickstart, 02_multitask_weighting, 03_export_tflite).

The .ipynb files are what users open (locally or in Colab); this script is their source, so
edit the cells here and run `python notebooks/build_notebooks.py`. Notebooks are written without
outputs, with deterministic cell ids, and with a "parameters" cell (papermill convention) that
tests/test_notebooks.py overrides with tiny settings. Cells only call the package and plot:
anything more goes into the package (tf_munet.plotting, tf_munet.comparison).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
# ----------------------------------------------------------------------------- shared cells

COMMON_PARAMETERS = '''\
INSTALL_FROM = None  # Colab only: a repository URL, an uploaded wheel or checkout (None: found in /content)
WORK_DIR = "tf_munet_work"  # everything this notebook writes goes here
MUSDB_ROOT = None  # your MUSDB18 / MUSDB18-HQ root, "musdb-sample" (MUSDB18's 7-s sample, downloaded once), None: a generated set
SYNTHETIC_STYLE = "rendered"  # generated set: "rendered" (sampled instruments, sung vocals) or "procedural" (toy sounds)
SYNTHETIC_TRAIN = 8  # generated set (used when MUSDB_ROOT is None): training tracks,
SYNTHETIC_TEST = 1  # test tracks
SYNTHETIC_SECONDS = 8.0  # and seconds per track
PRESET = "tiny"  # tiny (seconds on a CPU), cunet (C-U-Net size), paper (124 M params), fullband
BATCH_SIZE = 8
SEED = 0'''

INSTALL = '''\
# Install. In Colab: the system packages, then tf_munet from INSTALL_FROM, which may be
#   - a repository URL, e.g. "https://github.com/<you>/tf_munet" or "git+https://...@branch";
#   - an uploaded wheel, e.g. "tf_munet-0.1.0-py3-none-any.whl" (`pip wheel --no-deps .`);
#   - an uploaded checkout folder holding setup.py, e.g. "tf_munet" (unzip it first);
#   - None: the one wheel or checkout found in the working folder.
# Locally: nothing to do once tf_munet is installed in this kernel's environment.
import glob
import importlib.util
import os
import re
import shutil
import subprocess
import sys


def pip_requirement(source, folder="."):
    """What pip installs for INSTALL_FROM; SystemExit with a one-line reason if it can't be."""
    if source is None:
        found = sorted(glob.glob(os.path.join(folder, "tf_munet-*.whl"))) + sorted(
            os.path.dirname(p) for p in glob.glob(os.path.join(folder, "*", "setup.py"))
            if os.path.isdir(os.path.join(os.path.dirname(p), "tf_munet")))
        if len(found) != 1:
            raise SystemExit(f"set INSTALL_FROM to a repository URL, a wheel or a checkout "
                             f"folder ({len(found)} found in {os.path.abspath(folder)})")
        source = found[0]
    source = str(source).strip()
    if re.search(r"YOUR_ORG|<you>|example\\.com", source):
        raise SystemExit(f"INSTALL_FROM {source!r} is a placeholder: set it to your repository")
    if re.match(r"^(git\\+)?(https?|ssh|file)://", source):
        return source if source.startswith("git+") else f"git+{source}"
    if source.endswith(".whl") and os.path.isfile(source):
        return os.path.abspath(source)
    if os.path.isfile(os.path.join(source, "setup.py")):
        return os.path.abspath(source)
    raise SystemExit(f"INSTALL_FROM {source!r}: not a repository URL, a wheel file or a folder "
                     "with setup.py")


def install(source, *pip_options, extras="render"):
    """pip-install tf_munet with `extras` (rendered data sets) from `source`; SystemExit with
    pip's last lines if it fails."""
    requirement = pip_requirement(source)
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", *pip_options, requirement,
                           f"tf_munet[{extras}]"], capture_output=True, text=True)
    if done.returncode:
        last = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise SystemExit(f"pip could not install {requirement}: " + " / ".join(last))
    return requirement


if "google.colab" in sys.modules and importlib.util.find_spec("tf_munet") is None:
    if shutil.which("ffmpeg") is None or shutil.which("fluidsynth") is None:
        subprocess.run("apt-get update -qq && apt-get install -y -qq ffmpeg fluidsynth "
                       "fluid-soundfont-gm espeak-ng", shell=True, check=True)
    print("installed", install(INSTALL_FROM))
elif importlib.util.find_spec("tf_munet") is None:
    raise SystemExit("tf_munet is not installed in this kernel's environment: run "
                     "`pip install -e \\".[notebooks]\\"` in the repository, then restart the kernel")'''

SETUP = '''\
from pathlib import Path

import matplotlib.pyplot as plt
from IPython.display import Audio, Markdown, display

work = Path(WORK_DIR)
work.mkdir(parents=True, exist_ok=True)'''

DATA_MD = '''\
## Data

With `MUSDB_ROOT` set, the notebook uses your MUSDB18 copy (STEMS `.stem.mp4` or HQ WAV folders),
or with `MUSDB_ROOT = "musdb-sample"` the MUSDB18 7-second sample (144 real tracks, downloaded
once by musdb). Otherwise it writes a small generated set in the same layout (`train/` and
`test/` folders with `mixture.wav` and the four stems per track): by default *rendered* songs —
drums, bass and other instruments played by FluidSynth with a General MIDI SoundFont and a sung
vocal line, with sections where stems drop in and out — or, with `SYNTHETIC_STYLE =
"procedural"`, toy sine/noise stems that a model learns in minutes. Training prepares the data
once into a cache of TFRecord shards under `WORK_DIR/cache/`.'''

DATA = '''\
from tf_munet.data.musdb_io import find_tracks, load_track, musdb_root
from tf_munet.data.render import write_rendered_musdb
from tf_munet.data.synthetic import write_synthetic_musdb

if MUSDB_ROOT:
    data = musdb_root(MUSDB_ROOT)
elif SYNTHETIC_STYLE == "rendered":  # one folder per setting: a re-run reuses it, never mixes sets
    data = work / f"rendered-{SYNTHETIC_TRAIN}-{SYNTHETIC_TEST}-{SYNTHETIC_SECONDS:g}s-seed{SEED}"
    if not data.is_dir():
        write_rendered_musdb(data, train=SYNTHETIC_TRAIN, test=SYNTHETIC_TEST,
                             seconds=SYNTHETIC_SECONDS, seed=SEED)
else:
    data = write_synthetic_musdb(work / "synthetic", train=SYNTHETIC_TRAIN, test=SYNTHETIC_TEST,
                                 seconds=SYNTHETIC_SECONDS, seed=SEED)
print(f"{data}: {len(find_tracks(data, 'train'))} training tracks, "
      f"{len(find_tracks(data, 'test'))} test tracks")'''


def parameters(extra: str) -> str:
    return ("# Parameters (papermill-style: tests/test_notebooks.py replaces them with tiny settings)\n"
            + COMMON_PARAMETERS + "\n" + extra.strip("\n"))


def install_md() -> str:
    return ("Run the cells in order. In Colab, set `INSTALL_FROM` below to the repository URL you "
            "install from, or upload a wheel (`pip wheel --no-deps .`) or a checkout of the "
            "repository (unzipped) into the working folder and leave it `None`; if Colab asks to "
            "restart the session after the install, do so and run the notebook again from the top. A GPU runtime (Runtime > Change runtime type) speeds "
            "up the bigger presets.")


# ----------------------------------------------------------------------------- 01 quickstart

QUICKSTART = [
    ("markdown", '''\
# tf_munet quickstart: train, separate, listen, look

tf_munet is a TensorFlow/Keras 3 port of
*Multi-channel U-Net for Music Source Separation* (Kadandale et al., MMSP 2020): one U-Net that
predicts a mask per source (vocals, drums, bass, other), trained with a weighted sum of
per-source losses.

This notebook trains a small model (the `tiny` preset trains in about a minute on 2 CPU cores),
separates a real song into stems, plays them and plots their spectrograms next to the song's true
stems.'''),
    ("markdown", install_md()),
    ("parameters", parameters('''\
MODEL = "munet"  # munet (one U-Net, K masks), dedicated (one U-Net per source), cunet (C-U-Net)
WEIGHTING = "uw"  # uw, dwa, ebw-p1, ebw-p2, ... (see 02_multitask_weighting)
EPOCHS = 10  # tiny preset: about a minute on 2 CPU cores
STEPS_PER_EPOCH = 50
INPUT_FILE = None  # a song to separate (any format ffmpeg reads); None: the real MUSDB18 song inside stempeg
LISTEN_SECONDS = 20.0  # seconds played and plotted'''
    )),
    ("code", INSTALL),
    ("code", SETUP),
    ("markdown", DATA_MD),
    ("code", DATA),
    ("markdown", '''\
## Train

`run_training` is what `python -m tf_munet.train` runs. It writes a *run folder*: `config.json`
(every setting), `history.json` (per-epoch losses and task weights), `model.keras` (the best
network on the validation loss), `checkpoint.keras` (to resume) and TensorBoard `logs/`.
Running the cell again with the same settings finds the finished run and does nothing; raise
`EPOCHS` to continue it. The same from a shell:

```
python -m tf_munet.train --preset tiny --data DATA --run-dir RUN_DIR --epochs 4
```'''),
    ("code", '''\
from tf_munet.training import TrainOptions, run_training
from tf_munet.training.loop import describe_run

run_dir = run_training(TrainOptions(
    preset=PRESET, model=MODEL, weighting=WEIGHTING, data=str(data),
    cache=str(work / "cache" / PRESET), run_dir=str(work / "runs" / f"{PRESET}-{MODEL}-{WEIGHTING}"),
    epochs=EPOCHS, steps_per_epoch=STEPS_PER_EPOCH, batch_size=BATCH_SIZE, seed=SEED, verbose=2,
))
print(describe_run(run_dir))'''),
    ("code", '''\
from tf_munet.plotting import plot_source_losses

fig = plot_source_losses({"training": run_dir}, splits=("train", "val"))
plt.show()'''),
    ("markdown", '''\
## Separate a file

`Separator.load(run_dir)` rebuilds the trained network; `separate_file` reads any audio file
(any rate, mono or stereo, any length, in blocks) and writes one file per source at the input's
rate and channel count. `separate(waveform, rate)` does the same for an array. Without
`INPUT_FILE` the song is a real one: 6 s of "The Easton Ellises - Falcon 69" from the MUSDB18
test set, which ships (mixture and true stems) inside the `stempeg` package that musdb installs
(research use only; it is read from there). From a shell:

```
python -m tf_munet.separate RUN_DIR song.wav -o separated/
```'''),
    ("code", '''\
from tf_munet.data.audio_io import read_audio, write_audio
from tf_munet.data.musdb_io import example_track
from tf_munet.separation import Separator

separator = Separator.load(run_dir)
if INPUT_FILE:
    input_file, references = Path(INPUT_FILE), None
    stem_files = separator.separate_file(input_file, work / "separated" / input_file.stem)
else:
    song = load_track(example_track())
    input_file, references = work / "separated" / "real_song_mixture.wav", song.stems
    write_audio(input_file, song.mixture, song.rate)
    stem_files = {}
    for source, audio in separator.separate(song.mixture, song.rate).items():
        stem_files[source] = work / "separated" / f"real_song_{source}.wav"
        write_audio(stem_files[source], audio, song.rate)
for source, path in stem_files.items():
    print(f"{source:>13}: {path}")'''),
    ("markdown", "## Listen"),
    ("code", '''\
mixture, rate = read_audio(input_file)
stems = {source: read_audio(path)[0] for source, path in stem_files.items()}
clip = slice(0, int(LISTEN_SECONDS * rate))
for name, audio in {"mixture": mixture, **stems}.items():
    display(Markdown(f"**{name}**"), Audio(audio[clip].T, rate=rate, normalize=False))'''),
    ("markdown", '''\
## Look

Spectrograms of the mixture and of each separated stem, next to the true stems of the real song
(when no `INPUT_FILE` is given). All panels share one colour scale, so a quiet stem looks quiet.'''),
    ("code", '''\
from tf_munet.plotting import plot_spectrograms

fig = plot_spectrograms({"mixture": mixture, **stems}, rate, references=references,
                        seconds=LISTEN_SECONDS, max_hz=8000)
plt.show()'''),
    ("markdown", '''\
## Next

- `02_multitask_weighting.ipynb`: the paper's loss weightings (UW, DWA, EBW) side by side,
  evaluated with museval, and what M-U-Net saves over dedicated U-Nets and C-U-Net.
- `03_export_tflite.ipynb`: export the model to TF-Lite and run it with LiteRT.
- `python -m tf_munet.evaluate RUN_DIR --root MUSDB_ROOT --out eval/` scores a run on MUSDB18.'''),
]

# ----------------------------------------------------------------------------- 02 weighting

WEIGHTING_NB = [
    ("markdown", '''\
# Multi-task loss weighting: UW, DWA and EBW side by side

M-U-Net trains one U-Net for all sources with the loss $L = \\sum_k \\lambda_k L_k$, one L1 loss
per source. The paper compares ways to choose the task weights $\\lambda_k$:

- **UW** (uniform): $\\lambda_k = 1$.
- **DWA** (dynamic weight average, Liu et al. 2019): $\\lambda_k(t) = K\\,\\mathrm{softmax}_k(w_k(t-1)/T)$
  with $w_k(t-1) = \\bar L_k(t-1)/\\bar L_k(t-2)$, the ratio of the last two epochs' average
  training losses: a source whose loss stalls gets more weight. $\\lambda = 1$ for the first two
  epochs, $T = 2$.
- **EBW** (energy-based): $\\lambda_k = (E_\\text{ref}/E_k)^p$ from the mean energy $E_k$ of each
  source in the training data (reference: bass), $p = 1$ (`ebw-p1`) or 2 (`ebw-p2`): quiet
  sources get more weight.

This notebook trains one M-U-Net per weighting (plus, for reference, dedicated U-Nets and a
C-U-Net), plots the task weights and per-source losses across epochs from each run's
`history.json`, evaluates all of them with museval, and compares what the model families cost.'''),
    ("markdown", install_md()),
    ("parameters", parameters('''\
WEIGHTINGS = ["uw", "dwa", "ebw-p1"]  # M-U-Net task weightings to compare (also: ebw-p2, ebw-inst, oh, ...)
BASELINES = ["dedicated", "cunet"]  # other model families trained with UW ([] to skip)
EPOCHS = 10  # DWA changes the weights from epoch 3 on
STEPS_PER_EPOCH = 50  # tiny preset: about a minute per run on 2 CPU cores
PROTOCOLS = ["museval"]  # museval (BSS Eval v4, the field's) and/or paper (mir_eval v3, the paper's)
EVAL_JOBS = 1  # test tracks evaluated in parallel processes
COST_PRESET = "cunet"  # preset whose model families are compared for parameters and speed
COST_SECONDS = 30.0  # seconds of audio separated to time them'''
    )),
    ("code", INSTALL),
    ("code", SETUP),
    ("markdown", DATA_MD),
    ("code", DATA),
    ("markdown", '''\
## Train one model per weighting

Every run gets the same data, seed and schedule; only the weighting (or the model family)
changes. A finished run folder is reused when the cell runs again (also the `munet-uw` run of
`01_quickstart`, when both notebooks share `WORK_DIR` and settings).'''),
    ("code", '''\
from tf_munet.training import TrainOptions, run_training

common = dict(preset=PRESET, data=str(data), cache=str(work / "cache" / PRESET), epochs=EPOCHS,
              steps_per_epoch=STEPS_PER_EPOCH, batch_size=BATCH_SIZE, seed=SEED, verbose=2)
munet_runs = {
    weighting: run_training(TrainOptions(model="munet", weighting=weighting,
                                         run_dir=str(work / "runs" / f"{PRESET}-munet-{weighting}"),
                                         **common))
    for weighting in WEIGHTINGS
}
baseline_runs = {
    family: run_training(TrainOptions(model=family, weighting="uw",
                                      run_dir=str(work / "runs" / f"{PRESET}-{family}-uw"), **common))
    for family in BASELINES
}'''),
    ("markdown", '''\
## Task weights and per-source losses across epochs

Read from each run's `history.json`: the weights $\\lambda_k$ used in every epoch, then the
unweighted per-source L1 losses on the training and validation data.'''),
    ("code", '''\
from tf_munet.plotting import plot_source_losses, plot_task_weights

fig = plot_task_weights(munet_runs)
plt.show()'''),
    ("code", '''\
fig = plot_source_losses(munet_runs, splits=("train",))
plt.show()
fig = plot_source_losses(munet_runs, splits=("val",))
plt.show()'''),
    ("markdown", '''\
## SDR on the test set

`tf_munet.evaluation.evaluate` separates every test track with every run and scores the stems
(`python -m tf_munet.evaluate` from a shell). Two references frame the numbers: **oracle**, the
ideal ratio mask on the preset's grid (the best a mask model with this preset can do), and
**mixture**, every stem = mixture / K (the floor). museval rows are medians over tracks (dB),
paper-protocol rows means. Results are cached per track in `WORK_DIR/evaluation/tracks/`.'''),
    ("code", '''\
from tf_munet.comparison import markdown_table, sdr_rows
from tf_munet.evaluation import evaluate, reference_spec, run_spec

runs = {**{f"munet-{w}": path for w, path in munet_runs.items()},
        **{f"{f}-uw": path for f, path in baseline_runs.items()}}
specs = [run_spec(path, label=label) for label, path in runs.items()]
specs += [reference_spec(kind, specs[0].preset, specs[0].sources) for kind in ("oracle", "mixture")]
summary = evaluate(specs, data, work / "evaluation", protocols=tuple(PROTOCOLS), jobs=EVAL_JOBS,
                   overwrite=True)  # a re-run of this notebook replaces its earlier evaluation
for protocol in PROTOCOLS:
    display(Markdown(f"**SDR (dB), {protocol}**\\n\\n" + markdown_table(sdr_rows(summary, protocol))))'''),
    ("markdown", '''\
At equal iterations C-U-Net lags: each training example carries one of K + 2 conditions (each
source, all of them, none), so a chunk needs K + 2 iterations to train every output where
M-U-Net needs one (each run's `config.json` gives `effective_iterations_per_epoch`). Train it
longer (`python -m tf_munet.train --resume --run-dir RUN --epochs N`) for a fair comparison: on
the half-width cunet preset its one-hot masks stayed near zero for about 1000 steps before it
separated, and after 2000 steps it scored 4.1 dB against the M-U-Net's 6.5 (the README's
"The baselines at a longer budget").

## What the model families cost

One M-U-Net predicts all K masks in one pass. Dedicated U-Nets need K networks (K times the
parameters); C-U-Net shares one conditioned network but runs it once per source. The table
builds the three families for `COST_PRESET` (untrained: cost does not depend on the weights) and
times the network on one patch and a whole `Separator.separate` of `COST_SECONDS` of 44.1 kHz
stereo audio (resampling, STFTs and mask mapping included) on this machine.'''),
    ("code", '''\
from tf_munet.comparison import COST_COLUMNS, model_costs

costs = model_costs(COST_PRESET, seconds=COST_SECONDS)
display(Markdown(markdown_table(costs, COST_COLUMNS)))'''),
]

# ----------------------------------------------------------------------------- 03 export

EXPORT_NB = [
    ("markdown", '''\
# Export to TF-Lite and run with LiteRT

`tf_munet.export` turns a trained run into a SavedModel and TF-Lite files that use builtin ops
only (no Flex ops), so they run with the standalone LiteRT interpreter (`ai-edge-litert`) on
phones and embedded boards:

- `spectrogram-*.tflite`: magnitude patch -> masks (the network alone);
- `waveform-*.tflite`: audio chunk -> stems, with the STFT and inverse STFT inside the graph;

each as float32 and quantized (float16 weights, dynamic-range int8, full int8 network). Every
file is checked against Keras before it is written. This notebook exports a run, runs the files
with LiteRT next to Keras, and compares outputs, latency and size.'''),
    ("markdown", install_md()),
    ("parameters", parameters('''\
RUN_DIR = None  # a trained run folder to export; None trains one here (as 01_quickstart does)
EPOCHS = 10  # (training when RUN_DIR is None)
STEPS_PER_EPOCH = 50
QUANTIZE = ["none", "fp16", "dynamic", "int8"]  # TF-Lite variants
INPUTS = ["spectrogram", "waveform"]  # exported graphs
CALIBRATION = 16  # chunks for int8 calibration
EXCERPT_CHUNKS = 4  # chunks the export checks outputs on
LATENCY_REPEATS = 10  # timed calls per file
COMPARE_CHUNKS = 16  # chunks of the test track run through LiteRT and Keras below
LISTEN_VARIANT = "waveform-int8"  # the variant played and plotted'''
    )),
    ("code", INSTALL),
    ("code", SETUP),
    ("markdown", DATA_MD),
    ("code", DATA),
    ("markdown", "## A trained run\n\n`RUN_DIR` if given, otherwise a small model trained here (see `01_quickstart`)."),
    ("code", '''\
from tf_munet.training import TrainOptions, run_training

run_dir = Path(RUN_DIR) if RUN_DIR else run_training(TrainOptions(
    preset=PRESET, data=str(data), cache=str(work / "cache" / PRESET),
    run_dir=str(work / "runs" / f"{PRESET}-munet-uw"), epochs=EPOCHS,
    steps_per_epoch=STEPS_PER_EPOCH, batch_size=BATCH_SIZE, seed=SEED, verbose=2,
))
print(run_dir)'''),
    ("markdown", '''\
## Export

`export_run` is what `python -m tf_munet.export RUN_DIR --out DIR` runs. It writes the files,
`manifest.json` (what an edge runner needs: file names, inputs, outputs, STFT settings) and
`report.json`; the table compares each file with Keras on a validation excerpt (errors, change
in SDR) and gives its LiteRT latency (one thread).'''),
    ("code", '''\
from tf_munet.export import export_run
from tf_munet.export.report import format_table

export_dir = work / "export"
report = export_run(run_dir, export_dir, quantize=tuple(QUANTIZE), inputs=tuple(INPUTS),
                    data=MUSDB_ROOT, calibration=CALIBRATION, excerpt_chunks=EXCERPT_CHUNKS,
                    latency_repeats=LATENCY_REPEATS, log=print,
                    overwrite=True)  # a re-run of this notebook replaces its earlier export
print(format_table(report))'''),
    ("markdown", '''\
## Run in LiteRT, compare with Keras

The first chunks of a test track (resampled to the model's rate) go through every exported
file with the LiteRT interpreter, and through the same computation in Keras/TF. Errors are
measured on each file's outputs (masks for spectrogram files, stems for waveform files);
latency is per chunk, batch 1, the best of `LATENCY_REPEATS` calls (the stable number on a
shared machine).'''),
    ("code", '''\
from tf_munet.comparison import COMPARE_COLUMNS, keras_vs_litert, markdown_table

test_track = load_track(find_tracks(data, "test")[0])
comparison = keras_vs_litert(run_dir, export_dir, test_track.mixture, test_track.rate,
                             max_chunks=COMPARE_CHUNKS, repeats=LATENCY_REPEATS)
display(Markdown(markdown_table(comparison.rows, COMPARE_COLUMNS)))'''),
    ("markdown", "## Size and speed of each quantization"),
    ("code", '''\
from tf_munet.comparison import EXPORT_COLUMNS, export_sizes
from tf_munet.plotting import plot_export

sizes = export_sizes(report, keras_ms=comparison.keras_ms())
display(Markdown(markdown_table(sizes, EXPORT_COLUMNS)))
fig = plot_export(sizes)
plt.show()'''),
    ("markdown", '''\
## Listen and look: LiteRT next to Keras

The stems of `LISTEN_VARIANT` (the first chunks of the test track, at the model's rate) next to
Keras' stems. Chunks are separated one by one here, without overlap, so their edges click (the
vertical lines); the edge runner overlaps and crossfades them. To separate whole files on a
device, copy the export folder there and install the runner alone from a checkout of the
repository, `pip install ./edge`: the inference core with numpy, ducc0, soundfile, soxr and
`ai-edge-litert`, no TensorFlow and no tf_munet. Then:

```
tf-munet-edge EXPORT_DIR song.wav -o stems/ --variant int8
```

(`python -m tf_munet.separate EXPORT_DIR song.wav -o stems/` takes the same LiteRT route from the
main package, without importing TensorFlow.)'''),
    ("code", '''\
from tf_munet.plotting import plot_spectrograms

litert_stems = comparison.litert[LISTEN_VARIANT]
display(Markdown("**mixture**"), Audio(comparison.mixture.T, rate=comparison.rate, normalize=False))
for source, audio in litert_stems.items():
    display(Markdown(f"**{source}**: Keras, then LiteRT `{LISTEN_VARIANT}`"),
            Audio(comparison.keras[source].T, rate=comparison.rate, normalize=False),
            Audio(audio.T, rate=comparison.rate, normalize=False))
fig = plot_spectrograms(litert_stems, comparison.rate, references=comparison.keras,
                        reference_label="Keras")
plt.show()'''),
]

NOTEBOOKS = {
    "01_quickstart.ipynb": QUICKSTART,
    "02_multitask_weighting.ipynb": WEIGHTING_NB,
    "03_export_tflite.ipynb": EXPORT_NB,
}


def build(cells: list[tuple[str, str]], name: str) -> nbformat.NotebookNode:
    """A notebook without outputs; the "parameters" cell is tagged for papermill."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        "colab": {"provenance": [], "name": name},
    }
    for i, (kind, source) in enumerate(cells):
        cell_id = f"{Path(name).stem[:2]}-{i:02d}"
        if kind == "markdown":
            cell = nbformat.v4.new_markdown_cell(source, id=cell_id)
        else:
            cell = nbformat.v4.new_code_cell(source, id=cell_id)
            if kind == "parameters":
                cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def render(name: str) -> str:
    """The notebook file's text, exactly as written to disk."""
    return nbformat.writes(build(NOTEBOOKS[name], name)) + "\n"


def main(argv: list[str] | None = None) -> int:
    from tf_munet.errors import atomic_path

    out = Path(argv[0]) if argv else HERE
    for name in NOTEBOOKS:
        with atomic_path(out / name) as tmp:
            tmp.write_text(render(name), encoding="utf-8")
            tmp.chmod(0o644)  # mkstemp's 0600 would make the notebook private
        print(f"wrote {out / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
