"""The Keras workaround for multi-worker training (`training.distribute.multiworker_keras_patch`):
it is needed, it works, it is undone, and it tells when a Keras release makes it unnecessary."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from tf_munet.training.distribute import check_patched_keras, multiworker_keras_patch

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}

WORKER = textwrap.dedent("""
    import json, os, sys
    import tensorflow as tf
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    import keras
    import numpy as np
    from keras.src.backend.tensorflow import trainer as tf_trainer
    from tf_munet.training.distribute import multiworker_keras_patch

    class Regressor(keras.Model):  # built by fit from a sample batch, like SeparatorTrainer
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1)

        def call(self, x):
            return self.dense(x)

    # Each worker its own data: training that is not synchronised across workers shows.
    index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    x = np.full((16, 4), 1.0 + index, "float32")
    data = tf.data.Dataset.from_tensor_slices((x, 3 * x[:, :1])).batch(4)

    def fit(patched):
        keras.utils.set_random_seed(0)
        with strategy.scope():
            model = Regressor()
            model.compile("sgd", "mse")
        try:
            if patched:
                with multiworker_keras_patch(model):
                    inside = tf_trainer.reduce_per_replica
                    history = model.fit(data, epochs=2, steps_per_epoch=2, verbose=0).history
                assert inside is not tf_trainer.reduce_per_replica is original
                assert "_maybe_symbolic_build" not in vars(model)
                return {"loss": history["loss"], "weights": [w.tolist() for w in model.get_weights()]}
            model.fit(data, epochs=1, steps_per_epoch=2, verbose=0)
        except Exception as exc:  # what Keras raises is what this test reports
            return f"{type(exc).__name__}: {str(exc)[:120]}"
        return "ok"

    original = tf_trainer.reduce_per_replica
    print(json.dumps({"unpatched": fit(False), "patched": fit(True)}))
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_installed_keras_is_one_the_patch_was_checked_for():
    check_patched_keras()  # fails here when a new Keras is installed: run the test below, widen


@pytest.mark.integration
def test_multiworker_fit_fails_without_the_patch_and_works_with_it(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    cluster = {"worker": [f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"]}
    procs = [
        subprocess.Popen(
            [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
            env={**ENV, "TF_CONFIG": json.dumps({"cluster": cluster,
                                                 "task": {"type": "worker", "index": i}})},
        )
        for i in range(2)
    ]
    try:
        outputs = [p.communicate(timeout=240) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    results = []
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    for r in results:
        assert isinstance(r["patched"], dict), r
        if r["unpatched"] == "ok":
            pytest.fail(f"Keras {keras.__version__} trains under MultiWorkerMirroredStrategy "
                        "without multiworker_keras_patch: delete the patch and KERAS_PATCHED.")
    # Both workers report the epoch loss over both workers' data and hold the same trained
    # weights (gradients averaged across workers).
    first, second = (r["patched"] for r in results)
    assert first["loss"] == pytest.approx(second["loss"], rel=1e-6)
    assert first["loss"][1] < first["loss"][0]
    np.testing.assert_allclose(np.concatenate([np.ravel(w) for w in first["weights"]]),
                               np.concatenate([np.ravel(w) for w in second["weights"]]), rtol=1e-6)


def test_the_patch_leaves_other_strategies_alone():
    from keras.src.backend.tensorflow import trainer as tf_trainer

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    original = tf_trainer.reduce_per_replica
    with multiworker_keras_patch(model):
        assert tf_trainer.reduce_per_replica is original
        assert "_maybe_symbolic_build" not in vars(model)


@pytest.mark.parametrize("version, checked", [("3.9.2", False), ("3.10.0", True), ("3.15.1", True),
                                              ("3.16.0", False), ("4.0.0", False)])
def test_keras_versions_outside_the_checked_range_are_refused(monkeypatch, version, checked):
    from tf_munet.errors import UserError

    monkeypatch.setattr(keras, "__version__", version)
    if checked:
        check_patched_keras()
    else:
        with pytest.raises(UserError, match=f"Keras {version} is installed"):
            check_patched_keras()
