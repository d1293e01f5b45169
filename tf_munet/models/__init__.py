"""Model families (M-U-Net, dedicated U-Nets, C-U-Net), their backbones and cost counters.

The names below load on first use (PEP 562), so `python -m tf_munet.models --help` answers
without importing TensorFlow.
"""

from importlib import import_module

_HOMES = {
    "all_source_masks": "conditions", "is_conditioned": "conditions",
    "one_hot_conditions": "conditions", "FAMILIES": "families", "build_model": "families",
    "masks_per_source": "families",
    "count_flops": "flops", "count_params": "flops",
}

__all__ = [
    "FAMILIES", "build_model", "masks_per_source", "is_conditioned", "one_hot_conditions", "all_source_masks",
    "count_flops", "count_params",
]


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(import_module(f"tf_munet.models.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'tf_munet.models' has no attribute {name!r}")
