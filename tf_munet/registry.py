"""The named choices of a run, each defined once: model families and task weightings.

A `Family` and a `Weighting` carry their own behaviour (passes per separation, training
conditions, export units, option constraints; energies needed) so the rest of the code asks
them instead of testing names. `register_family` / `register_weighting` add one from anywhere,
a test file included. Builders are dotted paths ("module:attribute") or callables, resolved on
first use: this module imports neither Keras nor TensorFlow, so argument parsers and run-folder
checks use it without that cost. Presets and source sets are data in `tf_munet.presets`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from tf_munet.errors import UserError


def resolve(target: "str | Callable") -> Callable:
    """A callable, or the attribute a "package.module:attribute" path names."""
    if callable(target):
        return target
    module, _, attribute = target.partition(":")
    return getattr(import_module(module), attribute)


def _one_shared(k: int) -> tuple[int, ...]:
    return (k,)


def _one_each(k: int) -> tuple[int, ...]:
    return (1,) * k


def _single(k: int) -> tuple[int, ...]:
    return (1,)


@dataclass(frozen=True)
class Family:
    """A model family.

    Attributes:
        name: the name on the command line and in config.json.
        label: the name in tables and plots.
        builder: (preset, sources) -> Keras network, as "module:function" or a callable.
        help: one phrase for the train CLI's --model help.
        conditioned: the network takes a one-hot condition (batch, K) named "condition" beside
            the magnitude and returns the mask of the selected source only, so separation runs
            it once per source and training draws one of K + 2 conditions per example.
        network_per_source: source s has its own backbone ending in the layer "{s}_mask", so
            each source exports as its own file and --selection per-source applies.
        backbone_masks: K -> the number of source masks each backbone outputs (one entry per
            backbone); the contract tests count parameters from it.
    """

    name: str
    label: str
    builder: "str | Callable"
    help: str = ""
    conditioned: bool = False
    network_per_source: bool = False
    backbone_masks: Callable[[int], tuple[int, ...]] = _one_shared

    def build(self, preset, sources: tuple[str, ...]):
        """The family's Keras network for a preset and source order."""
        return resolve(self.builder)(preset, tuple(sources))

    def passes_per_separation(self, num_sources: int) -> int:
        """Network calls to get every source's mask of one patch."""
        return num_sources if self.conditioned else 1

    def training_conditions(self, num_sources: int) -> int:
        """Iterations one chunk needs to train every output: K one-hot, all-ones and all-zeros
        conditions for a conditioned network, 1 otherwise."""
        return num_sources + 2 if self.conditioned else 1

    def shares_backbone(self, num_sources: int) -> bool:
        """Every source's mask comes from one backbone in one pass (what GradNorm needs)."""
        return not self.conditioned and len(self.backbone_masks(num_sources)) == 1

    def export_units(self, sources: tuple[str, ...], split: bool = True) -> list[tuple[str, tuple[str, ...]]]:
        """(suffix, sources) of each exported network: one per source for a network per source
        (`split`), else the whole network ("")."""
        if split and self.network_per_source and len(sources) > 1:
            return [(s, (s,)) for s in sources]
        return [("", tuple(sources))]

    def check_options(self, options: Any) -> None:
        """UserError naming the option this family cannot train with (`TrainOptions`)."""
        if options.selection == "per-source" and not self.network_per_source:
            raise UserError(f"--selection per-source: {self.label} has no network per source; use "
                            f"--model {' or '.join(f.name for f in FAMILIES.values() if f.network_per_source)}")
        weighting = WEIGHTINGS.get(options.weighting)
        if weighting and weighting.needs_shared_backbone and not self.shares_backbone(2):
            shared = " or ".join(f.name for f in FAMILIES.values() if f.shares_backbone(2))
            raise UserError(f"--weighting {options.weighting} needs one shared backbone: use --model {shared}")


@dataclass(frozen=True)
class Weighting:
    """A task weighting of the multi-task loss.

    Attributes:
        name: the name on the command line and in config.json.
        factory: (sources, energies, temperature) -> `tf_munet.weighting.TaskWeighting`, as
            "module:function" or a callable. The object it returns carries the training hooks
            (per-batch weights, learned weights; see `TaskWeighting`).
        needs_energies: needs the mean chunk energy of every source of the training data.
        needs_batch_energies: the pipeline adds each batch's per-source energy on the linear
            STFT as a third element (per-batch weights).
        needs_shared_backbone: only for families with one backbone for all sources.
    """

    name: str
    factory: "str | Callable"
    needs_energies: bool = False
    needs_batch_energies: bool = False
    needs_shared_backbone: bool = False

    def make(self, sources, energies=None, temperature: float = 2.0):
        """The weighting object for a run's sources (UserError when energies are missing)."""
        if self.needs_energies and not energies:
            raise UserError(f"Weighting {self.name!r} needs per-source energies of the training data.")
        return resolve(self.factory)(list(sources), energies, temperature)


FAMILIES: dict[str, Family] = {}
"""Model families by name, in registration order."""

WEIGHTINGS: dict[str, Weighting] = {}
"""Task weightings by name, in registration order (iterating gives the names)."""


def register_family(family: Family) -> Family:
    """Add a family (or replace one of the same name) and return it."""
    FAMILIES[family.name] = family
    return family


def register_weighting(weighting: Weighting) -> Weighting:
    """Add a weighting (or replace one of the same name) and return it."""
    WEIGHTINGS[weighting.name] = weighting
    return weighting


def get_family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise UserError(f"Unknown model family {name!r}; choose one of {', '.join(FAMILIES)}.") from None


def get_weighting(name: str) -> Weighting:
    try:
        return WEIGHTINGS[name]
    except KeyError:
        raise UserError(f"Unknown weighting {name!r}; choose one of {', '.join(WEIGHTINGS)}.") from None


_MODELS = "tf_munet.models.families"
register_family(Family("munet", "M-U-Net", f"{_MODELS}:build_munet", help="one U-Net, K masks"))
register_family(Family(
    "dedicated", "dedicated U-Nets", f"{_MODELS}:build_dedicated",
    help="one U-Net per source, trained together and saved as one separator",
    network_per_source=True, backbone_masks=_one_each,
))
register_family(Family("cunet", "C-U-Net", f"{_MODELS}:build_cunet", help="conditioned U-Net",
                       conditioned=True, backbone_masks=_single))

_W = "tf_munet.weighting"
for _weighting in (
    Weighting("uw", f"{_W}:make_uw"),
    Weighting("dwa", f"{_W}:make_dwa"),
    Weighting("ebw-p1", f"{_W}:make_ebw_p1", needs_energies=True),
    Weighting("ebw-p2", f"{_W}:make_ebw_p2", needs_energies=True),
    Weighting("ebw-inst", f"{_W}:make_ebw_inst", needs_batch_energies=True),
    Weighting("oh", f"{_W}:make_oh", needs_energies=True),
    Weighting("uncertainty", f"{_W}:make_uncertainty"),
    Weighting("gradnorm", f"{_W}:make_gradnorm", needs_shared_backbone=True),
):
    register_weighting(_weighting)


LOSSES: tuple[str, ...] = ("masked_l1", "mask_l1")
"""Training losses (`tf_munet.training.trainer`): L1 on masked magnitudes (Jansson, the paper) or L1
between masks and ideal-ratio targets (the authors' EBW code)."""
