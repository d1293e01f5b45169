"""Task weighting for the multi-task loss L = sum_k lambda_k L_k, one small object per method.

Every method answers the same few questions, and the trainer asks them at the right time:

- `initial(K)`: lambda before training (from dataset energies for EBW and Oh et al.);
- `on_epoch_end(history)`: new lambda from the per-source epoch losses so far (DWA), or None;
- `per_batch` / `batch_weights(energy)`: lambda computed in the train step from the batch's
  per-source energies (InstP1);
- learned lambda (uncertainty, GradNorm): `add_weights(trainer, K)` creates the trainer's extra
  weights, `total_loss` combines the per-source losses, `before_gradients` and `after_step`
  update lambda around the optimizer step.

The registry (`tf_munet.registry.WEIGHTINGS`) names each method and says what data it needs;
its factories are the `make_*` functions below.

Objects are Keras-serializable (`get_config` / `from_config`) so a run's weighting is saved with
its model and restored on resume. All methods return finite weights when a source is silent or
a loss is zero: energies and losses are floored at `eps`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras
import numpy as np

from tf_munet.errors import UserError
from tf_munet.registry import WEIGHTINGS, get_weighting  # noqa: F401 (re-exported)

REFERENCE_SOURCE = {4: "bass", 2: "accompaniment"}
"""EBW's reference source: bass for 4 sources, accompaniment for 2 (the authors' losses.py)."""


class TaskWeighting:
    """Base class: unit weights unless a subclass says otherwise."""

    name = "uw"
    per_batch = False
    persistent_tape = False
    """True when `before_gradients` takes more than one gradient from the step's tape."""

    def __init__(self, eps: float = 1e-8):
        self.eps = eps

    def initial(self, num_sources: int) -> np.ndarray:
        return np.ones(num_sources, np.float32)

    # Train-step hooks (`SeparatorTrainer.train_step`); the defaults keep lambda as it is.

    def add_weights(self, trainer, num_sources: int) -> None:
        """Create the trainer weights this method learns or keeps (after `task_weights`)."""

    def total_loss(self, trainer, losses, per_example):
        """The loss to minimise from the (K,) per-source losses; `per_example` (errors, weights)
        of a conditioned network, whose examples each train one condition."""
        from keras import ops

        if per_example is not None:
            errors, weights = per_example
            return ops.mean(errors * weights)
        return ops.sum(trainer.task_weights * losses)

    def before_gradients(self, trainer, tape, task_losses) -> None:
        """Called with the step's tape before the network's gradients are taken."""

    def after_step(self, trainer) -> None:
        """Called after the optimizer step."""

    def on_epoch_end(self, history: Sequence[Sequence[float]]) -> np.ndarray | None:
        """`history[e][k]` = epoch e's mean training loss of source k. None = keep lambda."""
        return None

    def get_config(self) -> dict:
        return {"eps": self.eps}

    @classmethod
    def from_config(cls, config: dict) -> "TaskWeighting":
        return cls(**config)


@keras.saving.register_keras_serializable(package="tf_munet")
class UnitWeighting(TaskWeighting):
    """UW: lambda_k = 1."""

    name = "uw"


@keras.saving.register_keras_serializable(package="tf_munet")
class DynamicWeightAverage(TaskWeighting):
    """DWA (Liu et al. 2019): lambda_k(t) = K softmax_k(w(t-1) / T), w_k(t-1) = L_k(t-1)/L_k(t-2).

    Unit weights until two epochs of losses exist (the two warm-up epochs).
    """

    name = "dwa"

    def __init__(self, temperature: float = 2.0, eps: float = 1e-8):
        super().__init__(eps)
        self.temperature = temperature

    def weights_from(self, last: Sequence[float], before: Sequence[float]) -> np.ndarray:
        last = np.asarray(last, np.float64)
        before = np.maximum(np.asarray(before, np.float64), self.eps)
        ratio = last / before
        z = ratio / self.temperature
        e = np.exp(z - z.max())
        return (len(ratio) * e / e.sum()).astype(np.float32)

    def on_epoch_end(self, history):
        if len(history) < 2:
            return None
        return self.weights_from(history[-1], history[-2])

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}


@keras.saving.register_keras_serializable(package="tf_munet")
class EnergyBasedWeighting(TaskWeighting):
    """EBW: lambda_k = (E_ref / E_k)^p from the mean per-chunk energy of each source.

    Args:
        energies: {source: mean energy per training chunk}, measured by `prepare`/the pipeline.
        sources: the run's source order.
        power: p (1 = "P1", 2 = "P2").
        reference: the reference source; default bass (4 sources) / accompaniment (2 sources).
    """

    name = "ebw"

    def __init__(
        self,
        energies: Mapping[str, float],
        sources: Sequence[str],
        power: float = 1.0,
        reference: str | None = None,
        eps: float = 1e-8,
    ):
        super().__init__(eps)
        self.energies = {k: float(v) for k, v in energies.items()}
        self.sources = list(sources)
        self.power = power
        self.reference = reference or REFERENCE_SOURCE.get(len(self.sources), self.sources[-1])
        missing = [s for s in [*self.sources, self.reference] if s not in self.energies]
        if missing:
            raise UserError(f"EBW needs the energy of every source; missing: {missing}")

    def initial(self, num_sources):
        e = np.array([max(self.energies[s], self.eps) for s in self.sources])
        ref = max(self.energies[self.reference], self.eps)
        return ((ref / e) ** self.power).astype(np.float32)

    def get_config(self):
        return {
            **super().get_config(),
            "energies": self.energies,
            "sources": self.sources,
            "power": self.power,
            "reference": self.reference,
        }


@keras.saving.register_keras_serializable(package="tf_munet")
class InstantEnergyWeighting(TaskWeighting):
    """EBW "InstP1": the same ratio computed per batch from the ground-truth magnitudes.

    The trainer calls `batch_weights` inside the train step (the batch's targets exist only
    there) and stores the result in the tracked lambda variable.
    """

    name = "ebw-inst"
    per_batch = True

    def __init__(self, reference_index: int, power: float = 1.0, eps: float = 1e-8):
        super().__init__(eps)
        self.reference_index = reference_index
        self.power = power

    def batch_weights(self, source_energy):
        """source_energy: (K,) tensor of the batch's mean energy per source -> (K,) lambda."""
        from keras import ops

        e = ops.maximum(source_energy, self.eps)
        return ops.power(e[self.reference_index] / e, self.power)

    def get_config(self):
        return {**super().get_config(), "reference_index": self.reference_index, "power": self.power}


@keras.saving.register_keras_serializable(package="tf_munet")
class InverseEnergyWeighting(EnergyBasedWeighting):
    """Oh et al. baseline: lambda_k proportional to 1 / E_k, normalised to sum 1."""

    name = "oh"

    def initial(self, num_sources):
        inv = 1.0 / np.array([max(self.energies[s], self.eps) for s in self.sources])
        return (inv / inv.sum()).astype(np.float32)


@keras.saving.register_keras_serializable(package="tf_munet")
class UncertaintyWeighting(TaskWeighting):
    """Kendall et al. 2018: learned log-variances s_k, L = sum 0.5 exp(-s_k) L_k + 0.5 s_k.

    The reported lambda_k is 0.5 exp(-s_k).
    """

    name = "uncertainty"

    def initial(self, num_sources):
        return np.full(num_sources, 0.5, np.float32)

    def add_weights(self, trainer, num_sources):
        trainer.log_variances = trainer.add_weight(
            shape=(num_sources,), initializer="zeros", trainable=True, name="log_variances"
        )

    def total_loss(self, trainer, losses, per_example):
        from keras import ops

        s = trainer.log_variances
        return ops.sum(0.5 * ops.exp(-s) * losses + 0.5 * s)

    def after_step(self, trainer):
        from keras import ops

        trainer.task_weights.assign(0.5 * ops.exp(-trainer.log_variances))


@keras.saving.register_keras_serializable(package="tf_munet")
class GradNormWeighting(TaskWeighting):
    """GradNorm (Chen et al. 2018): lambda learned so that each task's gradient norm at the
    last shared layer follows its relative inverse training rate; renormalised to sum K.

    Args:
        alpha: restoring-force strength.
        learning_rate: step size of the lambda updates (plain gradient descent).
    """

    name = "gradnorm"
    persistent_tape = True

    def __init__(self, alpha: float = 1.5, learning_rate: float = 0.025, eps: float = 1e-8):
        super().__init__(eps)
        self.alpha = alpha
        self.learning_rate = learning_rate

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "learning_rate": self.learning_rate}

    def add_weights(self, trainer, num_sources):
        trainer.initial_losses = trainer.add_weight(
            shape=(num_sources,), initializer="zeros", trainable=False, name="initial_losses",
            aggregation="only_first_replica",
        )

    def before_gradients(self, trainer, tape, task_losses):
        """One GradNorm step on lambda (Chen et al. 2018, eq. 2), then renormalise to sum K."""
        import tensorflow as tf
        from keras import ops

        shared = trainer.shared_kernel().value
        k = len(task_losses)
        norms = ops.stack([ops.norm(ops.reshape(tape.gradient(t, shared), (-1,))) for t in task_losses])
        losses = ops.stack(task_losses)
        lam = trainer.task_weights
        initial = ops.where(trainer.initial_losses > 0, trainer.initial_losses, losses)
        trainer.initial_losses.assign(initial)
        ratio = losses / ops.maximum(initial, self.eps)
        inverse_rate = ratio / ops.maximum(ops.mean(ratio), self.eps)
        grad_norms = lam * norms
        target = tf.stop_gradient(ops.mean(grad_norms) * ops.power(inverse_rate, self.alpha))
        d_lambda = ops.sign(grad_norms - target) * norms
        new = ops.maximum(lam - self.learning_rate * d_lambda, 1e-3)
        trainer.task_weights.assign(k * new / ops.sum(new))


def make_uw(sources, energies, temperature) -> TaskWeighting:
    return UnitWeighting()


def make_dwa(sources, energies, temperature) -> TaskWeighting:
    return DynamicWeightAverage(temperature)


def make_ebw_p1(sources, energies, temperature) -> TaskWeighting:
    return EnergyBasedWeighting(energies, sources, power=1.0)


def make_ebw_p2(sources, energies, temperature) -> TaskWeighting:
    return EnergyBasedWeighting(energies, sources, power=2.0)


def make_ebw_inst(sources, energies, temperature) -> TaskWeighting:
    ref = REFERENCE_SOURCE.get(len(sources))
    return InstantEnergyWeighting(sources.index(ref) if ref in sources else len(sources) - 1)


def make_oh(sources, energies, temperature) -> TaskWeighting:
    return InverseEnergyWeighting(energies, sources)


def make_uncertainty(sources, energies, temperature) -> TaskWeighting:
    return UncertaintyWeighting()


def make_gradnorm(sources, energies, temperature) -> TaskWeighting:
    return GradNormWeighting()


def make_weighting(
    name: str,
    sources: Sequence[str],
    energies: Mapping[str, float] | None = None,
    temperature: float = 2.0,
) -> TaskWeighting:
    """Build a weighting from its command-line name (`tf_munet.registry.WEIGHTINGS`).

    Args:
        name: one of WEIGHTINGS.
        sources: the run's sources, in model order.
        energies: per-source mean chunk energy (for the weightings that need them).
        temperature: DWA's T.
    """
    return get_weighting(name).make(sources, energies, temperature)
