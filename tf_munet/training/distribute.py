"""tf.distribute strategies and mixed precision for `--strategy` / `--mixed-precision`.

- auto: MultiWorkerMirroredStrategy when TF_CONFIG names more than one task, MirroredStrategy
  over all local GPUs when there are several, otherwise the default (one device).
- mirrored: MirroredStrategy over the local GPUs, or over every logical CPU device when there is
  no GPU (how it is tested: `tf.config.set_logical_device_configuration` with two CPUs).
- multiworker: MultiWorkerMirroredStrategy; the cluster comes from TF_CONFIG, e.g. on each of
  two hosts `TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]},
  "task": {"type": "worker", "index": 0}}'` (index 1 on the second). Worker 0 is the chief: it
  alone writes the run folder; the others save to a temporary folder they delete, because
  saving may take part in collective ops.
- TPU: not a flag (it cannot be tested here). From Python, pass a strategy:
  `resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu="")`,
  `tf.config.experimental_connect_to_cluster(resolver)`,
  `tf.tpu.experimental.initialize_tpu_system(resolver)`,
  `run_training(options, strategy=tf.distribute.TPUStrategy(resolver))`, with
  `--mixed-precision` (bfloat16) and a batch size divisible by the core count.

The global batch is split across replicas; `SeparatorTrainer` divides its loss by the replica
count (Keras sums per-replica losses). BatchNorm statistics are per replica.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager


def tf_config_tasks() -> int:
    """Number of tasks (workers + chief) named by TF_CONFIG, 0 when unset."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return 0
    try:
        cluster = json.loads(raw).get("cluster", {})
    except json.JSONDecodeError:
        from tf_munet.errors import UserError

        raise UserError("TF_CONFIG: not valid JSON") from None
    return sum(len(v) for k, v in cluster.items() if k in ("worker", "chief"))


def make_strategy(name: str):
    """The tf.distribute strategy for `--strategy name` (see the module docstring)."""
    import tensorflow as tf

    if name == "multiworker" or (name == "auto" and tf_config_tasks() > 1):
        check_patched_keras()  # before any work: fit needs `multiworker_keras_patch`
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    if name == "mirrored":
        devices = gpus or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    if name == "auto" and len(gpus) > 1:
        return tf.distribute.MirroredStrategy(gpus)
    return tf.distribute.get_strategy()


def is_chief(strategy) -> bool:
    """True for the task that writes the run folder (worker 0 or the chief)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    spec = resolver.cluster_spec().as_dict()
    if "chief" in spec:
        return resolver.task_type == "chief"
    return resolver.task_type == "worker" and int(resolver.task_id or 0) == 0


def set_mixed_precision(enabled: bool) -> str:
    """Set Keras' global dtype policy; float16 on GPU, bfloat16 on CPU/TPU. Returns its name."""
    import keras
    import tensorflow as tf

    if not enabled:
        name = "float32"
    elif tf.config.list_logical_devices("GPU"):
        name = "mixed_float16"
    else:
        name = "mixed_bfloat16"
    keras.mixed_precision.set_global_policy(name)
    return name


KERAS_PATCHED = ("3.10", "3.15")
"""Keras minor versions, first and last, whose internals `multiworker_keras_patch` is known to
need and to fit. tests/test_distribute.py fails when the installed Keras runs multi-worker
`fit` without the patch (then delete it) or is outside this range (then re-check and widen)."""


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def check_patched_keras() -> None:
    """Raise UserError when the installed Keras is outside `KERAS_PATCHED`."""
    import keras

    from tf_munet.errors import UserError

    low, high = KERAS_PATCHED
    if not _minor(low) <= _minor(keras.__version__) <= _minor(high):
        raise UserError(
            f"--strategy multiworker: Keras {keras.__version__} is installed, but the workaround "
            f"it needs is checked for Keras {low} to {high} only; install one of those "
            f"(pip install 'keras>={low},<{_minor(high)[0]}.{_minor(high)[1] + 1}')"
        )


@contextmanager
def multiworker_keras_patch(trainer):
    """Let Keras 3 `fit`/`evaluate` run under MultiWorkerMirroredStrategy, inside the block only.

    Keras fails there in two places (tensorflow#72388): (1) before the first step it builds the
    model from a sample batch fetched with `strategy.reduce("MEAN", (mix, sources))`, and
    MultiWorkerMirroredStrategy cannot reduce a tuple ("Attempt to convert a value
    (PerReplica ...)"); (2) each step's scalar metrics are reduced with
    `strategy.reduce("MEAN", v, axis=0)`, which fails on scalars ("Invalid reduction dimension
    0 for input with 0 dimensions"). (1) is replaced on this trainer by a build from the first
    local replica's batch (the sample only gives shapes); (2) by a cross-worker mean with
    axis=None in Keras' TF trainer module. Both are undone on leaving the block. Other
    strategies are left alone; an unchecked Keras version is an error (`KERAS_PATCHED`).
    """
    import tensorflow as tf

    strategy = trainer.distribute_strategy
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        yield
        return
    check_patched_keras()
    from keras import tree
    from keras.src.backend.tensorflow import trainer as tf_trainer

    def local(x):
        if isinstance(x, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(x)[0]
        return x

    def build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, it in iterator:
                data_batch = tree.map_structure(local, next(it))
                break
        with strategy.scope():
            trainer._symbolic_build(data_batch=data_batch)

    original = tf_trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction="auto"):
        if reduction in ("auto", "mean") and isinstance(
            strategy, tf.distribute.MultiWorkerMirroredStrategy
        ):
            return tree.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return original(values, strategy, reduction)

    trainer._maybe_symbolic_build = build
    tf_trainer.reduce_per_replica = reduce_per_replica
    try:
        yield
    finally:
        tf_trainer.reduce_per_replica = original
        del trainer._maybe_symbolic_build
