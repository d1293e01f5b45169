"""The repository's `benchmarks` folder for tests (not an installed package: found from the repo root)."""

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def bench_module(name: str):
    """`benchmarks.<name>`, imported from the repository root."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module(f"benchmarks.{name}")
