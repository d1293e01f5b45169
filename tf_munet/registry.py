"""The named choices of a run, each defined once: model families and task weightings.

Presets and source sets are data in `tf_munet.presets`. This module imports neither Keras nor
TensorFlow, so argument parsers and run-folder checks use it without that cost; the modules that
build the things (`tf_munet.models`, `tf_munet.weighting`) are keyed by these names.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    """A model family.

    Attributes:
        name: the name on the command line and in config.json.
        label: the name in tables and plots.
        conditioned: the network takes a one-hot condition (batch, K) beside the magnitude and
            returns the mask of the selected source only, so separation runs it once per source.
    """

    name: str
    label: str
    conditioned: bool = False


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("munet", "M-U-Net"),
        Family("dedicated", "dedicated U-Nets"),
        Family("cunet", "C-U-Net", conditioned=True),
    )
}
"""Model families by name (`tf_munet.models.build_model` builds each)."""

WEIGHTINGS: tuple[str, ...] = (
    "uw", "dwa", "ebw-p1", "ebw-p2", "ebw-inst", "oh", "uncertainty", "gradnorm",
)
"""Task weighting names (`tf_munet.weighting.make_weighting` builds each)."""


LOSSES: tuple[str, ...] = ("masked_l1", "mask_l1")
"""Training losses (`tf_munet.trainer`): L1 on masked magnitudes (Jansson, the paper) or L1
between masks and ideal-ratio targets (the authors' EBW code)."""
