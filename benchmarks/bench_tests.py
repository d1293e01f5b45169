"""Tests: how long the README's fast test tier takes, and how much of the suite it holds.

The fast tier (`python -m pytest -q`, the README's test command) is what every change waits for,
so its wall time is a target of its own (issue 31: at most 300 s on 2 cores, holding at least
60 % of the tests). Measured as a user runs it, in a subprocess from the checkout's root, with
pytest's cache off so that no earlier run's `--lf` state changes what runs; the counts come from
pytest's own JUnit report, the total from collecting both tiers.

    python -m benchmarks.run --only tests
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMAND = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
"""The README's fast-tier command (`python -m pytest -q`), with the cache off."""
TARGET_SECONDS = 300.0
TARGET_FRACTION = 0.6


def _junit_counts(path: Path) -> dict[str, int]:
    """{tests, failures, errors, skipped} summed over the report's test suites."""
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    return {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors", "skipped")}


def collected(*extra: str, cwd: Path = ROOT) -> int:
    """How many tests pytest collects with `extra` options (without running them)."""
    out = subprocess.run([*COMMAND, "--collect-only", "-n", "0", *extra], cwd=cwd, capture_output=True,
                         text=True, check=True).stdout
    return sum(1 for line in out.splitlines() if "::" in line)


def timed_tier(*extra: str, cwd: Path = ROOT) -> tuple[float, dict[str, int]]:
    """(wall seconds, JUnit counts) of one pytest run with `extra` options; a failing run raises."""
    with tempfile.TemporaryDirectory(prefix="tf_munet_tests_") as tmp:
        report = Path(tmp) / "junit.xml"
        t0 = time.perf_counter()
        proc = subprocess.run([*COMMAND, f"--junitxml={report}", *extra], cwd=cwd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        counts = _junit_counts(report) if report.exists() else {}
    if proc.returncode != 0:
        raise RuntimeError(f"pytest failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}")
    return wall, counts


def run(quick: bool = False) -> dict:
    """Time the fast tier once (`quick`: one small test file instead) and count what it ran."""
    target = ["tests/test_stft.py"] if quick else []
    wall, counts = timed_tier(*target)
    ran = counts["tests"] - counts["skipped"]
    total = collected("--run-integration", *target)
    data = {
        "command": "python -m pytest -q" + (" " + " ".join(target) if target else ""),
        "fast_tier_s": round(wall, 1),
        "passed": ran - counts["failures"] - counts["errors"],
        "skipped": counts["skipped"],
        "all_tests": total,
        "fast_fraction": round(ran / total, 3),
        "workers": "pytest-xdist -n auto (one process per core)",
        "targets": {"fast_tier_s": TARGET_SECONDS, "fast_fraction": TARGET_FRACTION},
    }
    data["markdown"] = render(data)
    return data


def render(data: dict) -> str:
    """The section's markdown, every figure from `data`."""
    return (f"`{data['command']}` (the fast tier, {data['workers']}): {data['passed']} tests passed in "
            f"{data['fast_tier_s']:.0f} s, {100 * data['fast_fraction']:.0f} % of the {data['all_tests']} tests "
            f"collected with `--run-integration` (the other {data['all_tests'] - data['passed']} run only "
            f"with it). Targets: at most {data['targets']['fast_tier_s']:.0f} s, at least "
            f"{100 * data['targets']['fast_fraction']:.0f} % of the tests.")
