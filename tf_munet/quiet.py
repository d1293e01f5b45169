"""Quiet TensorFlow: its start-up banner and C++ log lines say nothing a user can act on.

On a machine without a GPU, every process that imports TensorFlow prints lines such as
`E0000 ... failed call to cuInit` and `E0000 ... oneDNN supports DT_STRING only on platforms with
AVX-512`, which look like failures and are not; the TF-Lite converter adds its own. The commands
(through `errors.cli_main`) and their worker processes call `quiet_tensorflow()` first:

- TF_CPP_MIN_LOG_LEVEL=3 (only if unset; importing tf_munet sets it too): TensorFlow's C++
  logging keeps fatal messages only;
- the lines TensorFlow prints while it loads, before its logging is set up (which no variable
  silences), are captured during `import tensorflow` and only the known banner lines dropped;
- TensorFlow's and absl's Python loggers keep errors only.

`--debug` or TF_MUNET_DEBUG=1 skips all of it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import re
import sys

from tf_munet_core.native_log import native_lines_dropped

BANNER = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IW]\d{4} [\d:. ]+\d+ (port|cudart_stub|cpu_feature_guard)\.cc:\d+\] .*"
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\.)$"
)
"""Lines TensorFlow prints while loading (oneDNN notice, no CUDA driver, CPU features)."""



def quiet_tensorflow() -> None:
    """Make the next `import tensorflow` (and TensorFlow's logging) quiet; see the module doc."""
    if os.environ.get("TF_MUNET_DEBUG") == "1":
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        _quiet_python_loggers()
    elif not any(isinstance(f, _QuietImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietImport())


def _quiet_python_loggers() -> None:
    import logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:
        pass


class _QuietImport(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` once, as the normal finders do, and hands it a loader that captures
    file descriptor 2 while the package runs."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _CapturingLoader(spec.loader)
        return spec


class _CapturingLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self._loader = loader

    def __getattr__(self, name):  # resource readers and the like: the real loader's
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        with native_lines_dropped(BANNER):
            self._loader.exec_module(module)
        _quiet_python_loggers()


