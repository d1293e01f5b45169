"""`SeparatorTrainer`: the weighted multi-task train and test steps around any family's network.

The network (see `tf_munet.models`) maps a mixture magnitude patch X (batch, bins, frames, C) to
masks M (batch, bins, frames, C, K). With source magnitudes S (batch, bins, frames, C, K):

    L_k = mean |M_k * X - T_k|,   T_k = S_k                      (masked_l1, Jansson)
                                  T_k = clip(S_k / X, 0, c) * X  (masked_l1 with target_clip c,
                                                                  the paper's ratio targets)
    L   = sum_k lambda_k L_k

`mask_l1` compares masks instead: mean |M_k - clip(S_k / X, 0, c)|.

lambda is a tracked non-trainable weight (`task_weights`, saved with the model) that a
`TaskWeightCallback` updates per epoch (DWA), that the step itself sets per batch (InstP1), or
that the step learns (uncertainty weighting, GradNorm) through the weighting's own hooks
(`tf_munet.weighting.TaskWeighting`). Per-source losses, lambda and the
unweighted sum (`sum_loss`, the authors' model-selection criterion) are reported as metrics.

C-U-Net networks get one random condition per example, as in Meseguer-Brocal & Peeters:
one-hot k (target S_k), all-ones (target sum_k S_k) or all-zeros (target silence), so K + 2
passes are needed to see a chunk under every condition. Their test step runs the K one-hot
conditions, so validation losses are per source for every family.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tf_munet.models.conditions import all_source_masks, is_conditioned
from tf_munet.registry import LOSSES
from tf_munet.weighting import TaskWeighting, UnitWeighting


@keras.saving.register_keras_serializable(package="tf_munet")
class SeparatorTrainer(keras.Model):
    """Wraps a separation network with the weighted multi-task training step.

    Args:
        network: a model from `tf_munet.models.build_model`.
        sources: source names in the order of the network's mask axis.
        weighting: a `TaskWeighting`; unit weights by default.
        loss: "masked_l1" or "mask_l1".
        target_clip: clip ideal-ratio targets to [0, target_clip] (the paper uses 10); None
            trains on the source magnitudes directly.
        eps: floor of the mixture magnitude in ratio targets.
    """

    def __init__(
        self,
        network: keras.Model,
        sources: Sequence[str],
        weighting: TaskWeighting | None = None,
        loss: str = "masked_l1",
        target_clip: float | None = None,
        eps: float = 1e-6,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}. Received: loss={loss!r}")
        self.network = network
        self.sources = list(sources)
        self.weighting = weighting or UnitWeighting()
        self.loss_name = loss
        self.target_clip = target_clip
        self.eps = eps
        self.conditioned = is_conditioned(network)
        k = len(self.sources)
        self.task_weights = self.add_weight(
            shape=(k,), initializer=keras.initializers.Constant(self.weighting.initial(k)),
            trainable=False, name="task_weights", aggregation="only_first_replica",
        )
        self.weighting.add_weights(self, k)  # learned weightings' own weights
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.sum_tracker = keras.metrics.Mean(name="sum_loss")
        self.source_trackers = [keras.metrics.Mean(name=f"loss_{s}") for s in self.sources]
        self.weight_trackers = [keras.metrics.Mean(name=f"weight_{s}") for s in self.sources]
        self.built = True  # the network is built; lets load_model restore optimizer state

    # ---------------------------------------------------------------- losses

    def call(self, inputs, training=False):
        return self.network(inputs, training=training)

    def _targets(self, mix, sources):
        """Per-source targets in the domain the loss compares (see module docstring)."""
        mix5 = ops.expand_dims(mix, -1)
        if self.target_clip is None and self.loss_name == "masked_l1":
            return sources
        ratio = sources / (mix5 + self.eps)
        ratio = ops.clip(ratio, 0.0, self.target_clip if self.target_clip else 1.0)
        return ratio * mix5 if self.loss_name == "masked_l1" else ratio

    def _errors(self, mix, masks, targets):
        """Per-example, per-source mean absolute error -> (batch, K'), in float32 (masks may be
        float16/bfloat16 under a mixed-precision policy)."""
        masks = ops.cast(masks, "float32")
        estimate = masks * ops.expand_dims(mix, -1) if self.loss_name == "masked_l1" else masks
        return ops.mean(ops.abs(estimate - targets), axis=(1, 2, 3))

    def _sample_conditions(self, batch):
        """C-U-Net conditions: index k < K one-hot, K all-ones, K + 1 all-zeros."""
        k = len(self.sources)
        index = tf.random.uniform((batch,), 0, k + 2, dtype=tf.int32)
        onehot = tf.one_hot(tf.minimum(index, k), k + 1)[:, :k]
        cond = tf.where(tf.equal(index, k)[:, None], tf.ones_like(onehot), onehot)
        return index, cond

    def per_source_losses(self, mix, sources, training: bool):
        """(K,) mean loss of each source on this batch, the per-example losses and weights.

        Returns:
            losses: (K,) per-source mean loss (a source absent from a C-U-Net batch gets 0).
            example_loss: (batch,) loss of each example under its source/condition weight
                (None for unconditioned networks).
        """
        targets = self._targets(mix, sources)
        if not self.conditioned:
            errors = self._errors(mix, self.network(mix, training=training), targets)
            return ops.mean(errors, axis=0), None
        batch = ops.shape(mix)[0]
        k = len(self.sources)
        index, cond = self._sample_conditions(batch)
        cond_target = ops.sum(targets * cond[:, None, None, None, :], axis=-1, keepdims=True)
        masks = self.network([mix, cond], training=training)
        errors = self._errors(mix, masks, cond_target)[:, 0]
        member = ops.cast(tf.one_hot(index, k + 2)[:, :k], "float32")
        counts = ops.sum(member, axis=0)
        self._condition_counts = counts
        losses = ops.sum(member * errors[:, None], axis=0) / ops.maximum(counts, 1.0)
        weight_of_example = ops.sum(member * self.task_weights[None, :], axis=1) + (
            1.0 - ops.sum(member, axis=1)
        )
        return losses, (errors, weight_of_example)

    def _source_energy(self, sources):
        return ops.mean(ops.square(sources), axis=(0, 1, 2, 3))

    # ---------------------------------------------------------------- steps

    def train_step(self, data):
        mix, sources, *linear_energy = data
        if self.weighting.per_batch:
            # InstP1 weighs by energies on the linear STFT: given by the pipeline as a third
            # element (`linear_energy`), else those of the targets (linear for unwarped grids).
            energy = (ops.mean(linear_energy[0], axis=0) if linear_energy
                      else self._source_energy(sources))
            self.task_weights.assign(self.weighting.batch_weights(energy))
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape(persistent=self.weighting.persistent_tape) as tape:
            losses, per_example = self.per_source_losses(mix, sources, training=True)
            total = self.weighting.total_loss(self, losses, per_example)
            scaled = self.optimizer.scale_loss(total / replicas)
            task_losses = [losses[i] for i in range(len(self.sources))]
        variables = self.trainable_variables
        self.weighting.before_gradients(self, tape, task_losses)
        grads = tape.gradient(scaled, variables)
        del tape
        self.optimizer.apply(grads, variables)
        self.weighting.after_step(self)
        counts = getattr(self, "_condition_counts", None) if self.conditioned else None
        return self._report(total, losses, counts)

    def shared_kernel(self):
        """The last shared layer's kernel (GradNorm measures task gradients there)."""
        kernels = [
            v for v in self.network.trainable_weights
            if len(v.shape) == 4 and "mask_head" not in v.path
        ]
        heads = [
            v for v in self.network.trainable_weights if "mask_head" in v.path and len(v.shape) == 4
        ]
        if len(heads) != 1 or self.conditioned:
            raise ValueError("GradNorm needs one shared backbone: use it with --model munet.")
        return kernels[-1]

    def test_step(self, data):
        mix, sources = data[:2]
        targets = self._targets(mix, sources)
        if self.conditioned:
            masks = all_source_masks(self.network, mix)
            losses = ops.mean(self._errors(mix, masks, targets), axis=0)
        else:
            losses, _ = self.per_source_losses(mix, sources, training=False)
        logs = self._report(ops.sum(self.task_weights * losses), losses)
        # Task weights are a training quantity: no val_weight_* copies in logs and TensorBoard.
        return {k: v for k, v in logs.items() if not k.startswith("weight_")}

    def _report(self, total, losses, counts=None):
        """Update the metrics. `counts` (C-U-Net training) weights each source's loss by how
        many examples drew its condition, so epoch averages are not biased by batches in
        which a source was never drawn."""
        self.loss_tracker.update_state(total)
        self.sum_tracker.update_state(ops.sum(losses))
        for i, tracker in enumerate(self.source_trackers):
            tracker.update_state(losses[i], sample_weight=None if counts is None else counts[i])
        for i, tracker in enumerate(self.weight_trackers):
            tracker.update_state(self.task_weights[i])
        return {m.name: m.result() for m in self.metrics}

    @property
    def metrics(self):
        return [self.loss_tracker, self.sum_tracker, *self.source_trackers, *self.weight_trackers]

    # ---------------------------------------------------------------- config

    def set_task_weights(self, weights: np.ndarray) -> None:
        self.task_weights.assign(np.asarray(weights, np.float32))

    def get_config(self):
        return {
            "network": keras.saving.serialize_keras_object(self.network),
            "sources": self.sources,
            "weighting": keras.saving.serialize_keras_object(self.weighting),
            "loss": self.loss_name,
            "target_clip": self.target_clip,
            "eps": self.eps,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["network"] = keras.saving.deserialize_keras_object(config["network"])
        config["weighting"] = keras.saving.deserialize_keras_object(config["weighting"])
        return cls(**config)
