"""Shared helpers for the benchmarks: timing, machine description, results file, generated pages."""

from __future__ import annotations

import json
import os
import platform
import re
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results.json"
README = ROOT.parent / "README.md"
DOCS = ROOT.parent / "docs" / "benchmarks.md"


def best_time(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> float:
    """Best wall time of `fn()` over `repeat` runs after `warmup` runs (seconds)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def machine() -> dict:
    """What the numbers were measured on."""
    import tensorflow as tf

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "gpus": gpus,
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
    }


def load_results() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {}


def save_results(section: str, data: dict) -> dict:
    """Merge one section into results.json (atomically) and return all results."""
    results = load_results()
    results[section] = data
    write_text_atomic(RESULTS, json.dumps(results, indent=2))
    return results


def replace_block(text: str, name: str, markdown: str) -> str:
    """`text` with the generated block between `<!-- NAME:begin -->` and `<!-- NAME:end -->`
    replaced by `markdown`; a text without those markers is a bug in the page, not a reason to
    append one."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    if begin not in text or end not in text:
        raise ValueError(f"no {begin} ... {end} block to replace")
    block = f"{begin}\n{markdown.rstrip()}\n{end}"
    return re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda m: block, text, count=1, flags=re.S)


def write_text_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file, so a page is never half written."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
