"""Model families (M-U-Net, dedicated U-Nets, C-U-Net), their backbones and cost counters."""

from tf_munet.models.families import FAMILIES, build_model, is_conditioned
from tf_munet.models.flops import count_flops, count_params

__all__ = ["FAMILIES", "build_model", "is_conditioned", "count_flops", "count_params"]
