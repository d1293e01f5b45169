"""The network's arithmetic at inference: which precision "auto" means on this machine, and the
config edit that makes a copy hold and compute bfloat16 weights (`inference.inference_network`).

On CPUs with AMX or AVX512-BF16 instructions (oneDNN uses them at run time) a bfloat16 copy's
networks run 2.4x (cunet preset) to 3.6x (paper preset) faster than float32 (measured by the
benchmarks); its masks differ from float32 by about a thousandth. On CPUs without those
instructions bfloat16 is slower: `choose_precision("auto", preset, family)` takes it only on a
CPU with those flags and only for runs the quality benchmark measured without loss. The
weights are rounded to bfloat16 once, in the copy (a mixed-precision policy would cast them on
every call). The input scaling (a log or a division of magnitudes) and the mask head
(activation, reshape, outputs) stay float32.
"""

from __future__ import annotations

import warnings

from tf_munet.errors import Notice, UserError
from tf_munet_core.options import PRECISIONS

_FLOAT32_LAYERS = ("InputLayer", "InputScaling", "Activation", "SourceMasks")
_BFLOAT16_FLAGS = ("amx_bf16", "avx512_bf16")

BFLOAT16_NO_LOSS = frozenset({("cunet", "munet")})
"""(preset, family) of the runs whose bfloat16 separation the quality benchmark measured at
float32's SDR (every source within `NO_LOSS_DB`; benchmarks/results.json, "quality": the cunet
preset's M-U-Net, 7.867 dB both). "auto" takes bfloat16 for these only, with the preset as
shipped (a changed width or patch length is another network: a half-width cunet network with
64-frame patches got NaN masks in bfloat16, see the README's Speed options)."""

NO_LOSS_DB = 0.05
"""Largest SDR change (dB, any source) the quality benchmark may show for `BFLOAT16_NO_LOSS`."""


def bfloat16_flags(cpuinfo: str = "/proc/cpuinfo") -> tuple[str, ...]:
    """The CPU's bfloat16 matrix instruction flags (AMX-BF16, AVX512-BF16) in Linux's `cpuinfo`
    (none where there is no such file)."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return tuple(flag for flag in _BFLOAT16_FLAGS if flag in line.split())
    except OSError:
        pass
    return ()


def cpu_has_bfloat16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU has bfloat16 matrix instructions (AMX-BF16 or AVX512-BF16)."""
    return bool(bfloat16_flags(cpuinfo))


def _has_gpu() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def native_bfloat16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether bfloat16 runs natively here: a GPU, or a CPU with bfloat16 instructions."""
    return _has_gpu() or cpu_has_bfloat16(cpuinfo)


def choose_precision(precision: str, preset=None, family: str | None = None,
                     cpuinfo: str = "/proc/cpuinfo") -> tuple[str, str]:
    """(precision, why) for a network of `preset` and `family`.

    "auto" is "bfloat16" only on a CPU with bfloat16 instructions (and no GPU) for a run the
    quality benchmark measured without loss (`BFLOAT16_NO_LOSS`), else "float32". "bfloat16"
    asked for where it is not native is kept but warned about: it is emulated there, several
    times slower than float32 (9x for the cunet preset on an AVX2-only CPU).
    """
    if precision not in PRECISIONS:
        raise UserError(f"Unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}.")
    if precision == "float32":
        return precision, "asked for"
    if precision == "bfloat16":
        if not native_bfloat16(cpuinfo):
            warnings.warn("this CPU has no bfloat16 instructions (AMX-BF16 or AVX512-BF16): the "
                          "bfloat16 network is emulated and several times slower than float32; "
                          "--precision auto chooses by the CPU", Notice, stacklevel=3)
        return precision, "asked for"
    from tf_munet.presets import PRESETS

    name = getattr(preset, "name", None)
    measured = (name, family) in BFLOAT16_NO_LOSS and PRESETS.get(name) == preset
    if not measured:
        shown = ", ".join(f"the {p} preset's {f}" for p, f in sorted(BFLOAT16_NO_LOSS))
        return "float32", f"auto: bfloat16 is measured without loss for {shown} only"
    if _has_gpu():
        return "float32", "auto: a GPU runs the network; bfloat16 was measured on CPUs"
    flags = bfloat16_flags(cpuinfo)
    if not flags:
        return "float32", "auto: this CPU has no bfloat16 instructions (AMX-BF16, AVX512-BF16)"
    return "bfloat16", (f"auto: this CPU has {flags[0]} and the quality benchmark measured no loss "
                        f"for the {name} preset's {family}; --precision float32 to turn it off")


def resolve_precision(precision: str, cpuinfo: str = "/proc/cpuinfo", preset=None,
                      family: str | None = None) -> str:
    """The precision `choose_precision` takes (without its reason)."""
    return choose_precision(precision, preset, family, cpuinfo)[0]


def use_bfloat16(config: dict) -> None:
    """Edit a functional config in place: every layer but the input scaling, the mask head and
    the outputs holds and computes bfloat16."""
    entries = config["output_layers"]  # [name, node, index] for one output, else a list of them
    outputs = {entries[0]} if isinstance(entries[0], str) else {e[0] for e in entries}
    for layer in config["layers"]:
        if layer["class_name"] not in _FLOAT32_LAYERS and layer["name"] not in outputs:
            layer["config"]["dtype"] = "bfloat16"
