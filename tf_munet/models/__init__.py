"""Model families (M-U-Net, dedicated U-Nets, C-U-Net), their backbones and cost counters."""

from tf_munet.models.conditions import all_source_masks, is_conditioned, one_hot_conditions
from tf_munet.models.families import FAMILIES, build_model
from tf_munet.models.flops import count_flops, count_params

__all__ = [
    "FAMILIES", "build_model", "is_conditioned", "one_hot_conditions", "all_source_masks",
    "count_flops", "count_params",
]
