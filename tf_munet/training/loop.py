"""`run_training(options) -> run_dir`: data, network, trainer, callbacks, fit, run folder.

A run folder starts, resumes and finishes the same way whatever interrupted it:

- new folder (or one holding only an unfinished first epoch): a fresh run;
- folder with checkpoint.keras and the same settings (re-running the same command), or
  `--resume`: training continues from the last saved epoch with the saved weights, optimizer
  state, task weights, DWA loss history and plateau/early-stopping counters;
- folder with different settings: an error that names the differences (use `--resume` to
  continue with the saved settings, or another `--run-dir`).

Model families: `munet` trains one network with K masks; `dedicated` trains K independent
U-Nets held in one Keras model (each source's loss reaches only its own backbone, so this *is*
training one dedicated U-Net per source) and saves them as one separator; `cunet` trains a
conditioned U-Net with one random condition per example, so a chunk needs K + 2 iterations to
be seen under every condition: config.json and the final report give those "effective
iterations per epoch" next to the M-U-Net count.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

from tf_munet.data.musdb_sample import is_musdb_sample, musdb_sample_root
from tf_munet.distill import TEACHER_STEMS
from tf_munet.errors import UserError
from tf_munet.presets import SOURCE_STEMS, Preset, get_preset, resolve_sources
from tf_munet.registry import FAMILIES, WEIGHTINGS
from tf_munet.run_dir import CHECKPOINT, CONFIG, HISTORY, MODEL, RunConfig, load_run_config
from tf_munet.training.data import default_synthetic_dir
from tf_munet.training.options import INFO_KEYS, RUNTIME_KEYS, TrainOptions

RESUME_OVERRIDES = RUNTIME_KEYS | {"lr"}
"""Options `--resume` takes from the command line; the rest come from the saved config.json."""

NOT_SAVED = ("run_dir", "resume")


class TrainingDiverged(UserError):
    """The loss became NaN or infinite; the last good checkpoint was kept."""


# ------------------------------------------------------------------ settings


def default_run_dir(options: TrainOptions) -> Path:
    """runs/<preset>-<model>-<weighting>: no time stamp, so re-running a command resumes it."""
    preset = options.preset if isinstance(options.preset, str) else options.preset["name"]
    return Path("runs") / f"{preset}-{options.model}-{options.weighting}"


def latest_run(root: Path = Path("runs")) -> Path:
    """The run under `root` whose checkpoint was written last (`--resume` without --run-dir)."""
    runs = sorted(root.glob(f"*/{CHECKPOINT}"), key=lambda p: p.stat().st_mtime)
    if not runs:
        raise UserError(f"{root}: no run to resume (no */{CHECKPOINT}); pass --run-dir")
    return runs[-1].parent


def option_overrides(options: TrainOptions) -> dict:
    """Preset fields set by options (--loss, --film-*), then `preset_overrides` on top."""
    film = {key: value for key, value in (
        ("film_type", options.film_type), ("control", options.film_control),
        ("control_dropout", options.control_dropout), ("init", options.film_init),
    ) if value is not None}
    out: dict = {"film": film} if film else {}
    if options.film_control == "authors":  # their decoder dropout, none in the encoder
        out["backbone"] = {"encoder_dropout": 0.0, "decoder_dropout": 0.5}
    if options.loss:
        out["train"] = {"loss": options.loss}
    for section, values in options.preset_overrides.items():
        out[section] = {**out.get(section, {}), **values} if isinstance(values, dict) else values
    return out


def resolve_preset(options: TrainOptions) -> Preset:
    """The preset named (or given as a dict) by the options, with option and explicit
    overrides applied (`option_overrides`)."""
    try:
        preset = (get_preset(options.preset) if isinstance(options.preset, str)
                  else Preset.from_dict(options.preset))
        overrides = option_overrides(options)
        return preset.replace(**overrides) if overrides else preset
    except (TypeError, KeyError, ValueError) as exc:
        raise UserError(f"preset/preset_overrides: {exc}") from None


def resolve(options: TrainOptions, run_dir: Path) -> tuple[TrainOptions, Preset, tuple[str, ...]]:
    """Fill every None option from the preset; no --data means the shared synthetic set."""
    preset = resolve_preset(options)
    try:
        sources = resolve_sources(options.sources)
    except UserError as exc:
        raise UserError(f"--sources: {exc}") from None
    if options.teacher:
        sources = _teacher_sources(options, sources)
    parts = [s for s in sources if s not in SOURCE_STEMS]
    if parts:
        raise UserError(f"--sources: {', '.join(parts)} is no MUSDB18 stem; cannot train on it")
    t = preset.train
    data = options.data
    if is_musdb_sample(data):
        data = musdb_sample_root()
    data = str(Path(data or default_synthetic_dir(options.seed)).resolve())
    filled = options.replace(
        preset=preset.name,
        sources=",".join(sources),
        data=data,
        epochs=options.epochs or t.epochs,
        steps_per_epoch=options.steps_per_epoch or t.steps_per_epoch,
        batch_size=options.batch_size or t.batch_size,
        lr=options.lr or t.learning_rate,
        optimizer=options.optimizer or t.optimizer,
        plateau_patience=(t.plateau_patience if options.plateau_patience is None
                          else options.plateau_patience),
        early_stopping_patience=(t.early_stopping_patience
                                 if options.early_stopping_patience is None
                                 else options.early_stopping_patience),
        run_dir=str(run_dir),
        teacher=str(Path(options.teacher).resolve()) if options.teacher else None,
    )
    return filled, preset, sources


def _teacher_sources(options: TrainOptions, sources: tuple[str, ...]) -> tuple[str, ...]:
    """A student separates its teacher's sources; distillation needs --data."""
    teacher = load_run_config(options.teacher)
    if "sources" in options.given() and tuple(sources) != tuple(teacher.sources):
        raise UserError(f"--sources {','.join(sources)}: the teacher {options.teacher} separates "
                        f"{','.join(teacher.sources)}; leave --sources out to distil")
    if not options.data:
        raise UserError("--teacher: give --data, a folder of audio files to distil on")
    return tuple(teacher.sources)


def passes_per_chunk(model: str, num_sources: int) -> int:
    """Iterations one chunk needs to train every output (K + 2 conditions for C-U-Net)."""
    return FAMILIES[model].training_conditions(num_sources)


def run_config(options: TrainOptions, preset: Preset, sources, info: dict) -> RunConfig:
    """config.json: the resolved preset and options plus facts (energies, versions, ...)."""
    extra = {k: v for k, v in options.to_dict().items()
             if k not in ("preset", "model", "sources", "weighting", *NOT_SAVED)}
    return RunConfig(preset=preset, model=options.model, sources=tuple(sources),
                     weighting=options.weighting, extra={**extra, **info})


def _core(d: dict) -> dict:
    """The settings that define a run (what must match to resume it by re-running)."""
    skip = RUNTIME_KEYS | INFO_KEYS | set(NOT_SAVED)
    return json.loads(json.dumps({k: v for k, v in d.items() if k not in skip}))


def _differences(saved: dict, new: dict) -> list[str]:
    a, b = _core(saved), _core(new)
    out = []
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            if key == "preset" and isinstance(a.get(key), dict) and isinstance(b.get(key), dict):
                sub = [k for k in sorted(set(a[key]) | set(b[key]))
                       if a[key].get(k) != b[key].get(k)]
                out.append(f"preset ({', '.join(sub)})")
            else:
                out.append(f"{key}: {a.get(key)!r} -> {b.get(key)!r}")
    return out


def options_from_config(saved: RunConfig, current: TrainOptions) -> TrainOptions:
    """Saved settings of a run, with the runtime options given now (for --resume)."""
    d = saved.to_dict()
    values = {k: v for k, v in d.items() if k in TrainOptions.__dataclass_fields__}
    values["preset"] = d["preset"]
    values["sources"] = ",".join(d["sources"])
    values["preset_overrides"] = {}  # already applied to the saved preset
    for key in RESUME_OVERRIDES & current.given():
        values[key] = getattr(current, key)
    values["run_dir"] = current.run_dir
    values["resume"] = True
    return TrainOptions(**values, explicit=current.explicit).validate()


def git_commit() -> str | None:
    """The commit of the tf_munet source tree ("<sha>-dirty" with local changes), if any."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        if sha.returncode:
            return None
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain",
                                "--untracked-files=no", "--", "."], capture_output=True,
                               text=True, timeout=5)
        return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _is_temporary(path: Path) -> bool:
    """A temporary of an atomic write (`.<name>.<random>.tmp...`), left by a killed run."""
    return path.name.startswith(".") and ".tmp" in path.name


def _clean_stale_temps(run_dir: Path) -> None:
    """Remove temporaries a killed run left beside its files (never the files themselves)."""
    for tmp in filter(_is_temporary, run_dir.iterdir()):
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)


def _unstarted(run_dir: Path) -> bool:
    """True for a folder that holds no run yet: empty, or only what a run killed before writing
    config.json leaves (temporaries, a synthetic set of older versions, a distillation's
    teacher stems, which a rerun reuses)."""
    return all(p.name in ("synthetic", TEACHER_STEMS) or _is_temporary(p)
               for p in run_dir.iterdir())


# ------------------------------------------------------------------ building


def make_optimizer(options: TrainOptions, preset: Preset):
    import keras

    if options.optimizer == "sgd":
        return keras.optimizers.SGD(options.lr, momentum=preset.train.momentum)
    return keras.optimizers.Adam(options.lr, beta_1=preset.train.beta_1)


def build_trainer(options: TrainOptions, preset: Preset, sources, energies):
    """A compiled SeparatorTrainer for the options (call inside the strategy's scope)."""
    from tf_munet.models import build_model
    from tf_munet.training.trainer import SeparatorTrainer
    from tf_munet.weighting import make_weighting

    try:
        weighting = make_weighting(options.weighting, sources, energies,
                                   temperature=options.dwa_temperature)
    except UserError as exc:
        raise UserError(f"--weighting {options.weighting}: {exc}") from None
    network = build_model(preset, options.model, tuple(sources))
    trainer = SeparatorTrainer(network, sources, weighting, loss=preset.train.loss,
                               target_clip=preset.train.target_clip)
    trainer.compile(optimizer=make_optimizer(options, preset))
    return trainer


def load_trainer(path: Path):
    """The trainer saved in checkpoint.keras, optimizer state included (safe_mode)."""
    import keras

    import tf_munet.layers  # noqa: F401  (registers custom layers)
    import tf_munet.training.trainer  # noqa: F401
    import tf_munet.weighting  # noqa: F401

    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception as exc:
        raise UserError(f"{path}: cannot load checkpoint ({type(exc).__name__}: {exc})") from None


def make_callbacks(options, preset, sources, trainer, state, run_dir: Path, chief: bool,
                   header: dict, bundle):
    """The callback list, in the order callbacks.py explains."""
    import keras

    from tf_munet.training import callbacks as cb
    from tf_munet.training.progress import TrainingProgress

    verbose = 1 if options.verbose else 0
    out = [
        cb.NanGuard(state),
        *([cb.TimeBudget(options.time_budget)] if options.time_budget else []),
        cb.TaskWeightCallback(trainer.weighting, sources, state),
    ]
    if options.plateau_patience:
        out.append(cb.LearningRateOnPlateau(state, options.plateau_patience,
                                            preset.train.plateau_threshold, verbose=verbose,
                                            monitor=preset.train.plateau_monitor))
    if options.early_stopping_patience:
        out.append(cb.StopOnPlateau(state, options.early_stopping_patience, verbose=verbose,
                                    monitor=preset.train.early_stopping_monitor))
    out += [
        cb.EpochRecorder(state, sources, options.steps_per_epoch,
                         passes_per_chunk(options.model, len(sources))),
        *([TrainingProgress(state, sources, options.epochs, options.steps_per_epoch,
                            live=options.verbose == 1)] if options.verbose else []),
        cb.AtomicCheckpoint(run_dir, state, chief=chief,
                            export=float32_export(preset, options.model, sources),
                            write_best=options.selection == "sum"),
    ]
    if options.selection == "per-source":
        out.insert(-1, cb.PerSourceBest(run_dir, state, sources, chief=chief,
                                        export=float32_export(preset, options.model, sources)))
    if chief:
        out.append(cb.HistoryWriter(run_dir, state, header))
        out.append(keras.callbacks.TensorBoard(str(run_dir / "logs"), write_graph=False,
                                               update_freq="epoch", profile_batch=0))
        if options.excerpt_every:
            out.append(cb.ExcerptLogger(run_dir / "logs", preset, sources, bundle.excerpt_mix,
                                        bundle.excerpt_targets, bundle.excerpt_wave,
                                        every=options.excerpt_every))
    return out


def float32_export(preset: Preset, model: str, sources):
    """None under a float32 policy; else a function giving a float32 copy of a network
    (mixed-precision variables are float32 already, only the compute dtype changes)."""
    import keras

    if keras.mixed_precision.global_policy().name == "float32":
        return None

    def export(network):
        from tf_munet.models import build_model

        policy = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy("float32")
        try:
            copy = build_model(preset, model, tuple(sources))
        finally:
            keras.mixed_precision.set_global_policy(policy)
        copy.set_weights(network.get_weights())
        return copy

    return export


def _load_data(options: TrainOptions, preset: Preset, sources):
    from tf_munet.training.data import ensure_synthetic, load_data

    run_dir = Path(options.run_dir)
    synthetic = Path(options.data) in (default_synthetic_dir(options.seed).resolve(),
                                       (run_dir / "synthetic").resolve())  # older runs' place
    if synthetic:
        ensure_synthetic(Path(options.data), seed=options.seed)
    elif not Path(options.data).exists():
        raise UserError(f"{options.data}: data folder not found (--data)")
    data = options.data
    if options.teacher:
        from tf_munet.distill import label_with_teacher

        data = str(label_with_teacher(options.teacher, options.data, run_dir / TEACHER_STEMS,
                                      progress=options.verbose > 0))
    weighting = WEIGHTINGS[options.weighting]
    return load_data(data, preset, sources, options.batch_size, options.seed,
                     options.augment, need_energies=weighting.needs_energies, cache=options.cache,
                     validation_steps=options.validation_steps,
                     linear_energy=weighting.needs_batch_energies,
                     silence_filter=not options.keep_silent_chunks,
                     prepare_workers=1 if synthetic else None)


def _shard_by_data(dataset):
    """Multi-worker: shard by elements (generated/TFRecord data may have fewer files than
    workers)."""
    import tensorflow as tf

    opts = tf.data.Options()
    opts.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(opts)


# ------------------------------------------------------------------ the loop


def run_training(options: TrainOptions, strategy=None) -> Path:
    """Train as the options say and return the run folder (see the module docstring).

    Args:
        options: TrainOptions (from `parse_options` or built directly).
        strategy: a tf.distribute strategy to use instead of `options.strategy` (e.g. a
            TPUStrategy, see `tf_munet.training.distribute`).

    Raises:
        UserError: bad options or data, or a run folder holding a different run.
        TrainingDiverged: the loss became NaN/inf (the last good checkpoint is kept).
    """
    options.validate()
    if options.run_dir:
        run_dir = Path(options.run_dir)
    else:
        run_dir = latest_run() if options.resume else default_run_dir(options)
    checkpoint = run_dir / CHECKPOINT

    # The strategy comes first: multi-worker collectives must be set up before TF starts.
    from tf_munet.training.distribute import is_chief, make_strategy, set_mixed_precision

    strategy = strategy or make_strategy(options.strategy)
    chief = is_chief(strategy)  # only the chief checks and writes the run folder

    if run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"{run_dir}: exists and is not a folder; --run-dir takes a folder")
    saved = load_run_config(run_dir) if (run_dir / CONFIG).is_file() else None
    if chief and saved is None and run_dir.is_dir() and not _unstarted(run_dir):
        raise UserError(f"{run_dir}: exists and is not a tf_munet run folder (no {CONFIG}); "
                        "choose another --run-dir")
    if options.resume:
        if saved is None and not run_dir.is_dir():
            raise UserError(f"{run_dir}: nothing to resume (no such run folder); run without "
                            "--resume to start training there")
        if saved is not None:
            options = options_from_config(saved, options.replace(run_dir=str(run_dir)))
        if not checkpoint.is_file():  # killed before its first epoch ended: start over
            print(f"{run_dir}: no epoch was saved before it stopped; starting from the "
                  "beginning.", flush=True)
    options, preset, sources = resolve(options, run_dir)
    k = len(sources)
    passes = passes_per_chunk(options.model, k)
    if chief and saved is not None and not options.resume:
        diff = _differences(saved.to_dict(), run_config(options, preset, sources, {}).to_dict())
        if diff:
            raise UserError(f"{run_dir}: holds a run with other settings ({'; '.join(diff)}); "
                            "pass --resume to continue it with its own settings, or choose "
                            "another --run-dir")
    resuming = saved is not None and checkpoint.is_file()

    from tf_munet.training import callbacks as cb

    state = cb.read_checkpoint_state(checkpoint) if resuming else cb.RunState()
    header = {
        "model": options.model, "preset": preset.name, "sources": list(sources),
        "weighting": options.weighting, "git_commit": git_commit(),
        "iterations_per_epoch": options.steps_per_epoch, "passes_per_chunk": passes,
    }
    if state.stop_reason == "early_stopping" and options.resume:
        state.callbacks.pop("early_stopping", None)  # asked to go on: fresh patience
    elif resuming and (state.stop_reason == "early_stopping"
                       or state.epochs_done >= options.epochs):
        why = ("stopped early" if state.stop_reason == "early_stopping"
               else f"{state.epochs_done} of {options.epochs} epochs done")
        print(f"{run_dir}: already trained ({why}); nothing to do. Train longer with: "
              f"python -m tf_munet.train --resume --run-dir {run_dir} --epochs N", flush=True)
        return run_dir

    import keras

    policy = set_mixed_precision(options.mixed_precision)
    keras.utils.set_random_seed(options.seed + 7919 * state.epochs_done)
    created = chief and not run_dir.exists()
    if chief:
        run_dir.mkdir(parents=True, exist_ok=True)
        _clean_stale_temps(run_dir)
    try:
        return _train(options, preset, sources, run_dir, strategy, chief, saved, resuming,
                      state, header, policy)
    except KeyboardInterrupt:
        if chief and (run_dir / CONFIG).is_file():
            print(f"\nInterrupted after epoch {state.epochs_done} of {options.epochs}; the same "
                  f"command resumes it (or: python -m tf_munet.train --resume --run-dir "
                  f"{run_dir}).", file=sys.stderr, flush=True)
        raise
    finally:
        if created and run_dir.is_dir() and _unstarted(run_dir):
            shutil.rmtree(run_dir, ignore_errors=True)  # failed before writing anything


def _train(options, preset, sources, run_dir, strategy, chief, saved, resuming, state, header,
           policy) -> Path:
    """The part of `run_training` after the run folder is settled: data, trainer, fit."""
    import keras
    import tensorflow as tf

    from tf_munet.training import callbacks as cb

    checkpoint = run_dir / CHECKPOINT
    passes = passes_per_chunk(options.model, len(sources))
    bundle = _load_data(options, preset, sources)
    train, validation = bundle.train, bundle.validation
    multiworker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    if multiworker:
        train, validation = _shard_by_data(train), _shard_by_data(validation)

    with strategy.scope():
        if resuming:
            trainer = load_trainer(checkpoint)
            if "lr" in options.given():
                trainer.optimizer.learning_rate.assign(options.lr)
        else:
            trainer = build_trainer(options, preset, sources, bundle.energies)

    from tf_munet.models import count_params

    info = {
        "energies": bundle.energies,
        "iterations_per_epoch": options.steps_per_epoch,
        "chunks_per_epoch": options.steps_per_epoch * options.batch_size,
        "passes_per_chunk": passes,
        "effective_iterations_per_epoch": options.steps_per_epoch * passes,
        "num_replicas": strategy.num_replicas_in_sync,
        "params": int(count_params(trainer.network)),
        "git_commit": header["git_commit"],
        "versions": {"tf_munet": _version(), "tensorflow": tf.__version__,
                     "keras": keras.__version__, "python": sys.version.split()[0],
                     "dtype_policy": policy},
        "created": (saved.extra.get("created") if saved else None)
        or time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    if chief:
        from tf_munet.run_dir import save_network, save_run_config

        save_run_config(run_dir, run_config(options, preset, sources, info))
        best = run_dir / MODEL
        if (resuming and state.best_epoch and state.best_epoch == state.epochs_done
                and (not best.is_file() or best.stat().st_mtime < checkpoint.stat().st_mtime)):
            # killed between the checkpoint's rename and model.keras's: write the best now
            export = float32_export(preset, options.model, sources) or (lambda n: n)
            save_network(best, export(trainer.network))
        cb.write_history(run_dir / HISTORY, state, header)
    if resuming:
        print(f"Resuming {run_dir} after epoch {state.epochs_done} of {options.epochs}.",
              flush=True)
    state.stop_reason = None
    callbacks = make_callbacks(options, preset, sources, trainer, state, run_dir, chief, header,
                               bundle)
    from tf_munet.training.distribute import multiworker_keras_patch

    with warnings.catch_warnings(), multiworker_keras_patch(trainer):
        # The validation set's length is unknown until its first pass; Keras warns then.
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        trainer.fit(train, steps_per_epoch=options.steps_per_epoch, epochs=options.epochs,
                    initial_epoch=state.epochs_done, validation_data=validation,
                    callbacks=callbacks, verbose=0, shuffle=False)  # TrainingProgress prints
    if state.nan_at:
        if chief:
            cb.write_history(run_dir / HISTORY, state, header)
        kept = (f"checkpoint.keras (epoch {state.epochs_done}) and model.keras (epoch "
                f"{state.best_epoch}) are kept" if state.epochs_done else "no epoch finished")
        raise TrainingDiverged(
            f"{run_dir}: the training loss became NaN/inf at epoch {state.nan_at['epoch']}, "
            f"batch {state.nan_at['batch']}; {kept}. Continue with a lower learning rate: "
            f"python -m tf_munet.train --resume --run-dir {run_dir} --lr {options.lr / 10:g}")
    state.stop_reason = state.stop_reason or "completed"
    if chief:
        cb.write_history(run_dir / HISTORY, state, header)
    return run_dir


def _version() -> str:
    from tf_munet import __version__

    return __version__


def describe_run(run_dir: str | os.PathLike) -> str:
    """What the CLI prints at the end: where the run is, its losses and how to look at it."""
    run_dir = Path(run_dir)
    history = json.loads((run_dir / HISTORY).read_text())
    config = json.loads((run_dir / CONFIG).read_text())
    records = history.get("epochs", [])
    lines = [f"Run folder: {run_dir}"]
    if records:
        last = records[-1]
        n = history["epochs_completed"]
        lines.append(f"  {n} epoch{'s' if n != 1 else ''} ({history.get('stop_reason')}), "
                     f"best epoch {history['best_epoch']} "
                     f"(val sum {history['best_val_sum_loss']:.4f})")
        lines.append(f"  final losses, epoch {last['epoch']}:   train      val")
        for src in [*history["sources"], "sum"]:
            tr, va = last["train"].get(src), last["val"].get(src)
            lines.append(f"    {src:<14} {_fmt(tr):>12} {_fmt(va):>8}")
    family = FAMILIES[config["model"]]
    conditions = family.training_conditions(len(config["sources"]))
    if conditions > 1:
        lines.append(f"  {family.label}: {config['iterations_per_epoch']} iterations/epoch; seeing each "
                     f"chunk under all K+2={conditions} conditions takes "
                     f"{config['effective_iterations_per_epoch']} (M-U-Net: "
                     f"{config['iterations_per_epoch']})")
    toy = config.get("preset", {}).get("name") == "tiny" or (
        config.get("data") and Path(config["data"]) == default_synthetic_dir(config.get("seed", 0)).resolve())
    if toy:
        lines += [
            "  Note: a tiny preset or generated data makes a demonstration model: on real music",
            "  expect little better than mixture / K. For real songs use a released model",
            "  (python -m tf_munet.hub spleeter:4stems) or train --preset cunet on MUSDB18",
            "  (README: What to expect).",
        ]
    lines += [
        "Look at it:",
        f"  tensorboard --logdir {run_dir / 'logs'}",
        f"  python -m tf_munet.separate {run_dir} {_example_input(config) if toy else 'song.wav'}"
        f"   (stems in separated/{Path(run_dir).resolve().name}/)",
        f"  python -m tf_munet.train --resume --run-dir {run_dir} --epochs N   (train longer)",
    ]
    return "\n".join(lines)


def _example_input(config: dict) -> str:
    """A test mixture of the run's own data (what a demonstration model separates well)."""
    import shlex

    tracks = sorted((Path(config.get("data") or ".") / "test").glob("*/mixture.wav"))
    return shlex.quote(str(tracks[0])) if tracks else "song.wav"


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.4f}"
