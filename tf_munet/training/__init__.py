"""Training: options, callbacks and the loop behind `python -m tf_munet.train`.

`TrainOptions` (options.py) holds every setting, merged from defaults, a config file and the
command line; `run_training(options)` (loop.py) builds the data, the network, the
`SeparatorTrainer` (trainer.py: the weighted multi-task train and test steps) and the callbacks,
and writes a run folder (see `tf_munet.run_dir`) that explains and resumes itself. Only loop.py,
trainer.py and callbacks.py import TensorFlow.
"""

from tf_munet.training.options import TrainOptions, parse_options

__all__ = ["TrainOptions", "parse_options", "run_training"]


def __getattr__(name):  # lazy: keeps `--help` free of TensorFlow
    if name == "run_training":
        from tf_munet.training.loop import run_training

        return run_training
    raise AttributeError(name)
