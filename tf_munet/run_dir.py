"""A run folder: what a trained model is on disk.

    RUN_DIR/
      config.json        every setting, resolved (preset, model family, sources, weighting, ...)
      history.json       per-epoch losses, task weights, learning rate, best epoch (training)
      model.keras        the best network (inputs -> masks), loads with safe_mode=True
      checkpoint.keras   the last epoch's trainer with optimizer state (for --resume)
      logs/              TensorBoard

`load_run` is the one loader every consumer (separation, evaluation, export) uses.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tf_munet.errors import UserError, atomic_path
from tf_munet.presets import Preset
from tf_munet.registry import FAMILIES

CONFIG = "config.json"
HISTORY = "history.json"
MODEL = "model.keras"
CHECKPOINT = "checkpoint.keras"


@dataclass
class RunConfig:
    """The resolved settings of a run (the content of config.json)."""

    preset: Preset
    model: str
    sources: tuple[str, ...]
    weighting: str = "uw"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "preset": self.preset.to_dict(),
            "model": self.model,
            "sources": list(self.sources),
            "weighting": self.weighting,
            **self.extra,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        d = dict(d)
        return cls(
            preset=Preset.from_dict(d.pop("preset")),
            model=d.pop("model"),
            sources=tuple(d.pop("sources")),
            weighting=d.pop("weighting", "uw"),
            extra=d,
        )


def write_json(path: str | os.PathLike, data: Any, *, indent: int = 2, sort_keys: bool = False) -> None:
    """Write JSON atomically (temp file, then rename); numpy values become plain numbers."""
    with atomic_path(path) as tmp:
        text = json.dumps(data, indent=indent, sort_keys=sort_keys, default=json_default)
        tmp.write_text(text, encoding="utf-8")


def json_default(obj):
    """`json.dumps(default=...)` for numpy scalars and arrays."""
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serializable: {type(obj)}")


def save_run_config(run_dir: str | os.PathLike, config: RunConfig) -> None:
    write_json(Path(run_dir) / CONFIG, config.to_dict())


def load_run_config(run_dir: str | os.PathLike) -> RunConfig:
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise UserError(f"{path}: not a tf_munet run folder (no {CONFIG})")
    try:
        config = RunConfig.from_dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{path}: unreadable run config ({exc})") from None
    # Source names become file names (stems, exported files): only the known names pass.
    from tf_munet.presets import resolve_sources

    try:
        resolve_sources(list(config.sources))
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None
    if config.model not in FAMILIES:
        raise UserError(f"{path}: unknown model family {config.model!r}; use one of {', '.join(FAMILIES)}")
    return config


def save_network(path: str | os.PathLike, network) -> None:
    """Save a network as .keras atomically."""
    with atomic_path(path, suffix=".tmp.keras") as tmp:
        network.save(tmp)


def load_network(path: str | os.PathLike):
    """Load a .keras network with safe_mode=True (no arbitrary code is run)."""
    import keras

    import tf_munet.layers  # noqa: F401  (registers custom layers)

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: model file not found")
    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:  # corrupt zip, foreign model, ...
        raise UserError(f"{path}: cannot load model ({type(exc).__name__}: {exc})") from None


def load_run(run_dir: str | os.PathLike):
    """(RunConfig, network) of a trained run folder."""
    config = load_run_config(run_dir)
    return config, load_network(Path(run_dir) / MODEL)
