"""The network's arithmetic at inference: which precision "auto" means on this machine, and the
config edit that makes a copy hold and compute bfloat16 weights (`inference.inference_network`).

On CPUs with AMX or AVX512-BF16 instructions (oneDNN uses them at run time) a bfloat16 copy's
networks run 2.4x (cunet preset) to 3.6x (paper preset) faster than float32 (measured by the
benchmarks); its masks differ from float32 by about a thousandth. On CPUs without those
instructions bfloat16 is slower: `resolve_precision("auto")` chooses by the CPU's flags. The
weights are rounded to bfloat16 once, in the copy (a mixed-precision policy would cast them on
every call). The input scaling (a log or a division of magnitudes) and the mask head
(activation, reshape, outputs) stay float32.
"""

from __future__ import annotations

import warnings

from tf_munet.errors import UserError
from tf_munet_core.options import PRECISIONS

_FLOAT32_LAYERS = ("InputLayer", "InputScaling", "Activation", "SourceMasks")
_BFLOAT16_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_has_bfloat16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU has bfloat16 matrix instructions (AMX-BF16 or AVX512-BF16): the flags
    of Linux's `cpuinfo` (False where there is none)."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return any(flag in line.split() for flag in _BFLOAT16_FLAGS)
    except OSError:
        pass
    return False


def resolve_precision(precision: str, cpuinfo: str = "/proc/cpuinfo") -> str:
    """"auto" -> "bfloat16" on CPUs with bfloat16 instructions and no GPU, else "float32";
    the others as they are. "bfloat16" asked for on a CPU without those instructions (and no
    GPU) is kept but warned about: it is emulated there, several times slower than float32
    (9x for the cunet preset on an AVX2-only CPU)."""
    if precision not in PRECISIONS:
        raise UserError(f"Unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}.")
    if precision == "float32":
        return precision
    import tensorflow as tf

    native = bool(tf.config.list_physical_devices("GPU")) or cpu_has_bfloat16(cpuinfo)
    if precision == "bfloat16":
        if not native:
            warnings.warn("this CPU has no bfloat16 instructions (AMX-BF16 or AVX512-BF16): the "
                          "bfloat16 network is emulated and several times slower than float32; "
                          "--precision auto chooses by the CPU", RuntimeWarning, stacklevel=2)
        return precision
    return "bfloat16" if native else "float32"


def use_bfloat16(config: dict) -> None:
    """Edit a functional config in place: every layer but the input scaling, the mask head and
    the outputs holds and computes bfloat16."""
    entries = config["output_layers"]  # [name, node, index] for one output, else a list of them
    outputs = {entries[0]} if isinstance(entries[0], str) else {e[0] for e in entries}
    for layer in config["layers"]:
        if layer["class_name"] not in _FLOAT32_LAYERS and layer["name"] not in outputs:
            layer["config"]["dtype"] = "bfloat16"
