"""`TrainOptions`: every setting of a training run, from defaults, a config file and argv.

Precedence, lowest first: the dataclass defaults, the preset's training defaults (filled in by
`resolve`), a `--config` file (JSON or YAML, keys spelled like the options, `-` or `_`), then
options given on the command line. A run folder's own config.json is a valid `--config` file,
so `--config runs/a/config.json --run-dir runs/b` repeats a run. Unknown keys are errors, not
warnings. This module does not import TensorFlow, so `--help` is instant.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tf_munet.errors import CommandParser, UserError, add_debug_flag
from tf_munet.presets import CONTROL_DROPOUT, FILM_CONTROLS, FILM_INITS, FILM_TYPES, PRESETS
from tf_munet.registry import FAMILIES, LOSSES, WEIGHTINGS
from tf_munet_core.cli import choices
from tf_munet_core.names import suggestion

PRESET_NAMES = tuple(PRESETS)
SELECTIONS = ("sum", "per-source")
STRATEGIES = ("auto", "mirrored", "multiworker")
OPTIMIZERS = ("adam", "sgd")

RUNTIME_KEYS = frozenset(
    {"resume", "strategy", "verbose", "epochs", "run_dir", "excerpt_every", "time_budget"}
)
"""Options that may change when a run is resumed; the others define the run."""

INFO_KEYS = frozenset({
    "git_commit", "versions", "energies", "iterations_per_epoch", "passes_per_chunk",
    "effective_iterations_per_epoch", "chunks_per_epoch", "num_replicas", "created",
    "data_prepared", "params", "command",
})
"""Keys a run's config.json records for people; ignored when it is read back as --config."""


@dataclass
class TrainOptions:
    """Settings of one training run. None means "the preset's default" (see `resolve`).

    Attributes:
        preset: preset name (tiny, cunet, paper, fullband) or a full preset dict.
        model: model family: munet, dedicated (one U-Net per source, saved as one separator)
            or cunet (conditioned U-Net).
        weighting: task weighting of the multi-task loss (tf_munet.weighting).
        sources: "4stems", "2stems" or a comma list such as "vocals,drums".
        data: MUSDB root (STEMS or HQ layout) or prepared cache; None uses a synthetic set
            generated once in the user's tf_munet cache (`training.data.default_synthetic_dir`).
        cache: where prepared data goes (None: the data pipeline's default).
        run_dir: the run folder; None: runs/<preset>-<model>-<weighting> (so the same command
            resumes it).
        epochs, steps_per_epoch, batch_size, lr, optimizer, plateau_patience,
            early_stopping_patience: None takes the preset's value.
        validation_steps: validation batches per epoch (None: the whole validation set).
        seed: seeds initial weights, data order and augmentation.
        augment: random remixing/gains in the training pipeline.
        dwa_temperature: DWA's T.
        strategy: auto, mirrored or multiworker (tf.distribute; TF_CONFIG for multiworker).
        mixed_precision: float16 compute on GPU, bfloat16 elsewhere; float32 variables.
        resume: continue the run in run_dir with its saved settings.
        excerpt_every: epochs between TensorBoard spectrogram/audio logs (0: never).
        time_budget: stop after this many seconds of training in this invocation (the epoch
            in progress is closed, validated and checkpointed); equal-budget comparisons.
        verbose: 1 progress bar and epoch summaries, 2 summaries only, 0 silent
            (`training.progress`).
        loss: masked_l1 or mask_l1 (None: the preset's).
        keep_silent_chunks: train on chunks in which a target source is silent too (the
            authors drop them; MUSDB18 has songs without vocals).
        selection: which epoch model.keras keeps: "sum" (lowest unweighted sum of validation
            losses, the authors' rule) or, for dedicated U-Nets, "per-source" (each source's
            U-Net from its own best epoch, as separately trained models).
        film_type, film_control, control_dropout, film_init: the C-U-Net's FiLM (None: the
            preset's); film_control "authors" is the M-U-Net authors' own C-U-Net baseline
            (two ReLU generators with their dropout, `presets.CONTROL_DROPOUT`; no encoder
            dropout, decoder dropout 0.5).
        preset_overrides: nested fields replaced in the preset, e.g.
            {"backbone": {"dropout": 0.0}} (config files only).
        teacher: a run folder whose stems are the targets (distillation, `tf_munet.distill`):
            `data` is then a folder of plain audio files and the sources are the teacher's.
        explicit: names given on the command line or in the config file (not saved).
    """

    preset: Any = "tiny"
    model: str = "munet"
    weighting: str = "uw"
    sources: Any = "4stems"
    data: str | None = None
    cache: str | None = None
    run_dir: str | None = None
    epochs: int | None = None
    steps_per_epoch: int | None = None
    validation_steps: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    optimizer: str | None = None
    plateau_patience: int | None = None
    early_stopping_patience: int | None = None
    seed: int = 0
    augment: bool = True
    dwa_temperature: float = 2.0
    strategy: str = "auto"
    mixed_precision: bool = False
    resume: bool = False
    excerpt_every: int = 2
    time_budget: float | None = None
    verbose: int = 1
    preset_overrides: dict = field(default_factory=dict)
    teacher: str | None = None
    loss: str | None = None
    keep_silent_chunks: bool = False
    film_type: str | None = None
    film_control: str | None = None
    control_dropout: float | None = None
    film_init: str | None = None
    selection: str = "sum"
    explicit: frozenset | None = field(default=None, repr=False, compare=False)

    def given(self) -> frozenset:
        """Names set by the user: `explicit` when parsed from argv/config, otherwise the
        fields that differ from their defaults (options built in Python)."""
        if self.explicit is not None:
            return frozenset(self.explicit)
        default = TrainOptions()
        return frozenset(k for k in FIELDS if getattr(self, k) != getattr(default, k))

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("explicit")
        return d

    def replace(self, **changes) -> "TrainOptions":
        return dataclasses.replace(self, **changes)

    def validate(self) -> "TrainOptions":
        """Raise UserError naming the first bad option."""
        named = {
            "model": tuple(FAMILIES), "weighting": tuple(WEIGHTINGS), "strategy": STRATEGIES,
            "optimizer": (*OPTIMIZERS, None), "loss": (*LOSSES, None),
            "film_type": (*FILM_TYPES, None), "film_control": (*FILM_CONTROLS, None),
            "film_init": (*FILM_INITS, None), "selection": SELECTIONS,
        }
        if isinstance(self.preset, str) and self.preset not in PRESET_NAMES:
            named["preset"] = PRESET_NAMES
        for name, allowed in named.items():
            if getattr(self, name) not in allowed:
                names = [str(a) for a in allowed if a is not None]
                value = getattr(self, name)
                raise UserError(f"--{_flag(name)}: {value!r} is not one of {', '.join(names)}"
                                f"{suggestion(str(value), names)}")
        for name in ("epochs", "steps_per_epoch", "batch_size", "validation_steps"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise UserError(f"--{_flag(name)}: must be a positive integer, got {value!r}")
        for name in ("plateau_patience", "early_stopping_patience", "excerpt_every"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise UserError(f"--{_flag(name)}: must be an integer >= 0, got {value!r}")
        if self.control_dropout is not None and not 0 <= self.control_dropout < 1:
            raise UserError(f"--control-dropout: must be in [0, 1), got {self.control_dropout!r}")
        if self.lr is not None and not self.lr > 0:
            raise UserError(f"--lr: must be > 0, got {self.lr!r}")
        if self.verbose not in (0, 1, 2):
            raise UserError(f"--verbose: must be 0, 1 or 2, got {self.verbose!r}")
        if not isinstance(self.preset_overrides, dict):
            raise UserError("preset_overrides: must be a mapping such as {backbone: {dropout: 0}}")
        FAMILIES[self.model].check_options(self)
        return self


def _flag(name: str) -> str:
    return name.replace("_", "-")


FIELDS = {f.name: f for f in dataclasses.fields(TrainOptions) if f.name != "explicit"}


def read_config_file(path: str | Path) -> dict:
    """Options from a JSON or YAML file (keys as option names); unknown keys are errors."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: config file not found")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # json.JSONDecodeError, yaml.YAMLError
        raise UserError(f"{path}: not valid JSON/YAML ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of option names to values")
    out = {}
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name in INFO_KEYS:
            continue
        if name not in FIELDS or name == "explicit":
            raise UserError(f"{path}: unknown option {key!r} (known: {', '.join(FIELDS)})")
        out[name] = value
    if isinstance(out.get("sources"), list):
        out["sources"] = ",".join(out["sources"])
    return out


def build_parser() -> argparse.ArgumentParser:
    """The train CLI's parser. Every default is SUPPRESS so explicit options can be told apart."""
    p = CommandParser(
        prog="python -m tf_munet.train",
        description="Train a separation U-Net (M-U-Net, dedicated U-Nets or C-U-Net) and write "
        "a run folder: config.json, history.json, model.keras (best on the unweighted sum of "
        "validation losses), checkpoint.keras (resume), logs/ (TensorBoard). With no "
        "arguments: the tiny preset on a synthetic set generated on first use (about a minute).",
        argument_default=argparse.SUPPRESS,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--preset", **choices(PRESET_NAMES, "preset"), help="model/audio preset (default: tiny)")
    p.add_argument("--model", **choices(tuple(FAMILIES), "model family"),
                   help="; ".join(f"{f.name}: {f.help or f.label}" for f in FAMILIES.values())
                   + " (default: munet)")
    p.add_argument("--weighting", **choices(tuple(WEIGHTINGS), "weighting"), help="task weighting (default: uw)")
    p.add_argument("--sources", help="4stems, 2stems or a comma list, e.g. vocals,drums "
                   "(default: 4stems)")
    p.add_argument("--data", help="MUSDB18 root (STEMS or HQ layout), musdb-sample (the MUSDB18 "
                   "7-second sample, downloaded by musdb on first use) or a prepared cache "
                   "(default: a synthetic set, generated once in $TF_MUNET_CACHE or "
                   "~/.cache/tf_munet)")
    p.add_argument("--teacher", metavar="RUN_DIR",
                   help="distil this run: --data is then a folder of plain audio files (wav, "
                   "flac, mp3, ogg), labelled once with the teacher's stems inside the run "
                   "folder; the sources are the teacher's")
    p.add_argument("--cache", help="folder for prepared data (default: the pipeline's)")
    p.add_argument("--run-dir", help="run folder (default: runs/<preset>-<model>-<weighting>); "
                   "re-running the same command resumes an interrupted run")
    p.add_argument("--epochs", type=int, help="epochs (default: the preset's)")
    p.add_argument("--steps-per-epoch", type=int, help="optimizer steps per epoch (preset's)")
    p.add_argument("--validation-steps", type=int, help="validation batches (default: all)")
    p.add_argument("--batch-size", type=int, help="global batch size (preset's)")
    p.add_argument("--lr", type=float, help="learning rate (preset's)")
    p.add_argument("--optimizer", **choices(OPTIMIZERS, "optimizer"), help="optimizer (preset's)")
    p.add_argument("--plateau-patience", type=int, help="ReduceLROnPlateau patience (preset's)")
    p.add_argument("--early-stopping-patience", type=int, help="EarlyStopping patience "
                   "(preset's; 0 disables)")
    p.add_argument("--seed", type=int, help="random seed (default: 0)")
    p.add_argument("--no-augment", dest="augment", action="store_false",
                   help="train without remixing/gain augmentation")
    p.add_argument("--dwa-temperature", type=float, help="DWA temperature T (default: 2)")
    p.add_argument("--strategy", **choices(STRATEGIES, "strategy"),
                   help="tf.distribute strategy: auto (all local GPUs, or TF_CONFIG's cluster), "
                   "mirrored (local GPUs or logical CPUs), multiworker (TF_CONFIG) "
                   "(default: auto)")
    p.add_argument("--mixed-precision", action="store_true",
                   help="mixed_float16 on GPU, mixed_bfloat16 on CPU/TPU")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --run-dir (default: the latest under runs/) from "
                   "its last saved epoch, with its saved settings; --epochs, --lr, --strategy "
                   "may change")
    p.add_argument("--excerpt-every", type=int, help="epochs between TensorBoard spectrogram "
                   "and audio logs of a fixed validation excerpt, 0 = never (default: 2)")
    p.add_argument("--time-budget", type=float, help="stop after this many seconds of "
                   "training (the current epoch is closed and checkpointed; default: none)")
    p.add_argument("--verbose", type=int, choices=(0, 1, 2),
                   help="1: a progress bar on a terminal and a summary per epoch, 2: the "
                   "summary only (for log files), 0: silent (default: 1). In it, loss is the "
                   "weighted sum of source losses the optimizer minimises, sum their plain sum "
                   "that picks the best epoch")
    p.add_argument("--loss", **choices(LOSSES, "loss"), help="masked_l1: L1 between masked mixture and "
                   "source magnitudes; mask_l1: L1 between masks and ideal-ratio targets, as the "
                   "authors' EBW code (default: the preset's)")
    p.add_argument("--selection", **choices(SELECTIONS, "selection"),
                   help="model.keras: the epoch with the lowest unweighted sum of validation "
                   "losses, or (dedicated) each source's U-Net from its own best epoch "
                   "(default: sum)")
    p.add_argument("--keep-silent-chunks", action="store_true",
                   help="also train on chunks in which a target source is silent (the authors "
                   "drop them)")
    p.add_argument("--film-type", **choices(FILM_TYPES, "FiLM type"), help="C-U-Net FiLM: one (gamma, beta) "
                   "per layer or per channel (default: the preset's)")
    p.add_argument("--film-control", **choices(FILM_CONTROLS, "control generator"),
                   help="C-U-Net control generator: the reference code's dense or cnn, or the "
                   "M-U-Net authors' own baseline (default: the preset's)")
    p.add_argument("--control-dropout", type=float, help="dropout in the control generator "
                   "(the reference code: 0.5; default: the preset's, else the generator's own: "
                   + ", ".join(f"{k} {v:g}" for k, v in CONTROL_DROPOUT.items()) + ")")
    p.add_argument("--film-init", **choices(FILM_INITS, "FiLM initialisation"),
                   help="identity: FiLM starts as gamma 1, beta 0; reference: every control weight "
                   "N(0, 0.02) (default: identity)")
    p.add_argument("--config", help="JSON or YAML file with any of these options "
                   "(a run's config.json works)")
    add_debug_flag(p)
    return p


def parse_options(argv: list[str] | None = None) -> TrainOptions:
    """argv -> validated TrainOptions (config file merged under the command line)."""
    args = vars(build_parser().parse_args(argv))
    merged: dict = {}
    config = args.pop("config", None)
    if config:
        merged.update(read_config_file(config))
    merged.update(args)
    try:
        options = TrainOptions(**merged, explicit=frozenset(merged))
    except TypeError as exc:
        raise UserError(f"bad options: {exc}") from None
    return options.validate()
