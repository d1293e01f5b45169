"""Training callbacks: the plateau learning-rate schedule, early stopping and the progress
line, alone on a real model and wired into a real run."""

from __future__ import annotations

import json

import keras
import pytest

from tf_munet.training.callbacks import LearningRateOnPlateau, RunState, StopOnPlateau


def _model(lr: float = 0.1) -> keras.Model:
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(lr), "mse")
    return model


def _lr(model) -> float:
    return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))


def _epochs(callback, model, losses):
    callback.set_model(model)
    seen = []
    for epoch, loss in enumerate(losses):
        callback.on_epoch_end(epoch, {"val_sum_loss": loss})
        seen.append((_lr(model), model.stop_training))
    return seen


def test_plateau_reduces_lr_after_patience_with_the_relative_threshold():
    state, model = RunState(), _model(0.1)
    cb = LearningRateOnPlateau(state, patience=2, threshold=0.01, verbose=0)
    # 0.995 is lower than 1.0 but not by 1 %: no improvement; 0.98 is one.
    lrs = [lr for lr, _ in _epochs(cb, model, [1.0, 0.995, 0.98, 0.975, 0.971, 0.5])]
    assert lrs == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.01, 0.01])
    assert state.callbacks["reduce_lr_on_plateau"] == {"best": 0.5, "wait": 0, "best_epoch": 5}


def test_plateau_counters_survive_a_resume_through_run_state():
    state, model = RunState(), _model(0.1)
    _epochs(LearningRateOnPlateau(state, patience=2, threshold=0.0, verbose=0), model, [1.0, 1.0])
    resumed = RunState.from_dict(json.loads(json.dumps(state.to_dict())))
    cb = LearningRateOnPlateau(resumed, patience=2, threshold=0.0, verbose=0)
    assert [lr for lr, _ in _epochs(cb, model, [1.0])] == pytest.approx([0.01])


def test_early_stopping_waits_patience_epochs_without_a_lower_loss():
    state, model = RunState(), _model()
    cb = StopOnPlateau(state, patience=3, verbose=0)
    stops = [stop for _, stop in _epochs(cb, model, [1.0, 0.9, 0.95, 0.9, 0.91])]
    assert stops == [False, False, False, False, True]
    assert state.stop_reason == "early_stopping"
    assert state.callbacks["early_stopping"]["best_epoch"] == 1


def test_nan_epochs_do_not_count():
    state, model = RunState(), _model(0.1)
    cb = LearningRateOnPlateau(state, patience=1, threshold=0.0, verbose=0)
    _epochs(cb, model, [1.0, float("nan")])
    assert _lr(model) == pytest.approx(0.1)


def test_progress_summarises_an_epoch_within_the_width(capsys):
    """The epoch summary: loss vs sum, best mark, per-source validation losses, task weights
    only when they are not all 1; never wider than asked."""
    from tf_munet.training.progress import TrainingProgress, epoch_summary

    record = {"epoch": 1, "epoch_time_s": 75.0, "train": {"sum": 0.9, "weighted": 0.5},
              "val": {"vocals": 0.25, "drums": 0.5, "sum": 0.75},
              "task_weights": {"vocals": 2.0, "drums": 0.5}}
    state = RunState(records=[record], best_epoch=1)
    bar = TrainingProgress(state, ["vocals", "drums"], epochs=3, steps=2, live=True)  # not a tty
    bar.on_train_begin()
    bar.on_epoch_begin(0)
    bar.on_train_batch_end(0, {"loss": 1.0})
    bar.on_epoch_end(0, {})
    out = capsys.readouterr().out
    assert "\r" not in out and "\x1b" not in out
    assert "epoch 1/3  1 min 15 s  loss 0.5000  sum 0.9000  val sum 0.7500  best" in out
    assert "  val  vocals 0.2500  drums 0.5000" in out and "  weights  vocals 2  drums 0.5" in out
    record["task_weights"] = {"vocals": 1.0, "drums": 1.0}
    assert not any("weights" in line for line in epoch_summary(record, 3, False))
    narrow = epoch_summary(record, 3, True, width=30)
    assert len(narrow) > 2 and max(map(len, narrow)) <= 30


@pytest.mark.integration
def test_plateau_and_early_stopping_options_reach_a_run(tiny_cache, tmp_path):
    """A run that cannot improve (learning rate far below float32 resolution, frozen BatchNorm
    statistics, no dropout): the learning rate drops x0.1 after `plateau_patience` epochs and
    training ends after `early_stopping_patience`."""
    from tf_munet.training.loop import run_training
    from tf_munet.training.options import TrainOptions

    run = run_training(TrainOptions(
        data=str(tiny_cache), run_dir=str(tmp_path / "run"), epochs=6, steps_per_epoch=1,
        batch_size=2, validation_steps=1, lr=1e-12, plateau_patience=1,
        early_stopping_patience=2, excerpt_every=0, verbose=0,
        preset_overrides={"backbone": {"bn_momentum": 1.0, "dropout": 0.0}},
    ))
    history = json.loads((run / "history.json").read_text())
    assert [e["lr"] for e in history["epochs"]] == pytest.approx([1e-12, 1e-12, 1e-13], rel=1e-3, abs=0)
    assert history["stop_reason"] == "early_stopping"
    assert history["epochs_completed"] == 3


@pytest.mark.integration
def test_dwa_and_its_temperature_reach_a_run(tiny_cache, tmp_path):
    """From the third epoch DWA's lambda is K softmax(L(t-1)/L(t-2)/T) of the recorded training
    losses, with the --dwa-temperature given (not the default 2)."""
    import numpy as np

    from tf_munet.training.loop import run_training
    from tf_munet.training.options import TrainOptions
    from tf_munet.weighting import DynamicWeightAverage

    run = run_training(TrainOptions(
        data=str(tiny_cache), run_dir=str(tmp_path / "run"), weighting="dwa", dwa_temperature=0.05,
        epochs=3, steps_per_epoch=2, batch_size=2, validation_steps=1, excerpt_every=0,
        verbose=0, plateau_patience=0, early_stopping_patience=0,
    ))
    epochs = json.loads((run / "history.json").read_text())["epochs"]
    sources = list(epochs[0]["task_weights"])
    train = [[e["train"][s] for s in sources] for e in epochs]
    assert [e["task_weights"] for e in epochs[:2]] == [dict.fromkeys(sources, 1.0)] * 2
    expected = DynamicWeightAverage(temperature=0.05).weights_from(train[1], train[0])
    np.testing.assert_allclose([epochs[2]["task_weights"][s] for s in sources], expected, rtol=1e-4)
    default = DynamicWeightAverage().weights_from(train[1], train[0])
    assert np.abs(expected - default).max() > 1e-3  # the temperature matters for these losses


def test_paper_preset_schedule_watches_what_the_authors_watch():
    """Paper preset (authors' dwa.py): LR plateau on the weighted train loss, early stopping on
    the weighted validation loss with patience 60; other presets watch val_sum_loss."""
    from tf_munet.presets import get_preset

    t = get_preset("paper").train
    assert (t.plateau_monitor, t.early_stopping_monitor, t.early_stopping_patience) == ("loss", "val_loss", 60)
    assert get_preset("cunet").train.plateau_monitor == "val_sum_loss"
    state, model = RunState(), _model(0.1)
    lr_cb = LearningRateOnPlateau(state, patience=1, threshold=0.0, verbose=0, monitor=t.plateau_monitor)
    stop_cb = StopOnPlateau(state, patience=1, verbose=0, monitor=t.early_stopping_monitor)
    for cb in (lr_cb, stop_cb):
        cb.set_model(model)
    # the train loss stalls while every validation loss keeps falling: only the LR reacts
    for epoch, (train, val) in enumerate([(1.0, 1.0), (1.0, 0.9), (1.0, 0.8)]):
        logs = {"loss": train, "val_loss": val, "val_sum_loss": val}
        lr_cb.on_epoch_end(epoch, logs)
        stop_cb.on_epoch_end(epoch, logs)
    assert _lr(model) < 0.1 and not model.stop_training
    # the weighted validation loss stalls while the unweighted sum falls: early stopping fires
    for epoch, (val, total) in enumerate([(0.8, 0.7), (0.8, 0.6)], start=3):
        stop_cb.on_epoch_end(epoch, {"loss": 0.5, "val_loss": val, "val_sum_loss": total})
    assert model.stop_training
