"""Task weighting for the multi-task loss L = sum_k lambda_k L_k, one small object per method.

Every method answers the same few questions, and the trainer asks them at the right time:

- `initial(K)`: lambda before training (from dataset energies for EBW and Oh et al.);
- `on_epoch_end(history)`: new lambda from the per-source epoch losses so far (DWA), or None;
- `per_batch`: True when lambda is computed in the train step from the batch's targets (InstP1);
- `learned`: "uncertainty" or "gradnorm" when the trainer learns lambda itself.

Objects are Keras-serializable (`get_config` / `from_config`) so a run's weighting is saved with
its model and restored on resume. All methods return finite weights when a source is silent or
a loss is zero: energies and losses are floored at `eps`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras
import numpy as np

from tf_munet.errors import UserError
from tf_munet.registry import WEIGHTINGS

REFERENCE_SOURCE = {4: "bass", 2: "accompaniment"}
"""EBW's reference source: bass for 4 sources, accompaniment for 2 (PAPER.md)."""


class TaskWeighting:
    """Base class: unit weights unless a subclass says otherwise."""

    name = "uw"
    per_batch = False
    learned: str | None = None

    def __init__(self, eps: float = 1e-8):
        self.eps = eps

    def initial(self, num_sources: int) -> np.ndarray:
        return np.ones(num_sources, np.float32)

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
    learned = "uncertainty"

    def initial(self, num_sources):
        return np.full(num_sources, 0.5, np.float32)


@keras.saving.register_keras_serializable(package="tf_munet")
class GradNormWeighting(TaskWeighting):
    """GradNorm (Chen et al. 2018): lambda learned so that each task's gradient norm at the
    last shared layer follows its relative inverse training rate; renormalised to sum K.

    Args:
        alpha: restoring-force strength.
        learning_rate: step size of the lambda updates (plain gradient descent).
    """

    name = "gradnorm"
    learned = "gradnorm"

    def __init__(self, alpha: float = 1.5, learning_rate: float = 0.025, eps: float = 1e-8):
        super().__init__(eps)
        self.alpha = alpha
        self.learning_rate = learning_rate

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "learning_rate": self.learning_rate}


def make_weighting(
    name: str,
    sources: Sequence[str],
    energies: Mapping[str, float] | None = None,
    temperature: float = 2.0,
) -> TaskWeighting:
    """Build a weighting from its command-line name.

    Args:
        name: one of WEIGHTINGS.
        sources: the run's sources, in model order.
        energies: per-source mean chunk energy (needed by ebw-p1, ebw-p2 and oh).
        temperature: DWA's T.
    """
    sources = list(sources)
    if name in ("ebw-p1", "ebw-p2", "oh") and not energies:
        raise UserError(f"Weighting {name!r} needs per-source energies of the training data.")
    if name == "uw":
        return UnitWeighting()
    if name == "dwa":
        return DynamicWeightAverage(temperature)
    if name in ("ebw-p1", "ebw-p2"):
        return EnergyBasedWeighting(energies, sources, power=float(name[-1]))
    if name == "oh":
        return InverseEnergyWeighting(energies, sources)
    if name == "ebw-inst":
        ref = REFERENCE_SOURCE.get(len(sources))
        return InstantEnergyWeighting(sources.index(ref) if ref in sources else len(sources) - 1)
    if name == "uncertainty":
        return UncertaintyWeighting()
    if name == "gradnorm":
        return GradNormWeighting()
    raise UserError(f"Unknown weighting {name!r}; choose one of {', '.join(WEIGHTINGS)}.")
