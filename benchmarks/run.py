"""Run the benchmarks in one process, write benchmarks/results.json, regenerate docs/benchmarks.md and
the README's generated blocks (`python -m benchmarks.report` regenerates them without a run).

    python -m benchmarks.run                 # everything (about 45 minutes on 2 cores)
    python -m benchmarks.run --only cost     # one section
    python -m benchmarks.run --quick         # tiny settings, a smoke run

Every figure that is compared is measured in this run, on this machine, and reported as a ratio.
"""

from __future__ import annotations

import argparse
import importlib
import time

SECTIONS = {
    "cost": "benchmarks.bench_cost",
    "pipeline": "benchmarks.bench_pipeline",
    "inference": "benchmarks.bench_inference",
    "deploy": "benchmarks.bench_deploy",
    "quality": "benchmarks.bench_quality",
    "paper_table": "benchmarks.bench_paper_table",
    "baselines": "benchmarks.bench_baselines",
    "paper_preset": "benchmarks.bench_paper_preset",
    "memory": "benchmarks.bench_memory",
    "distill": "benchmarks.bench_distill",
    "web": "benchmarks.bench_web",
    "tests": "benchmarks.bench_tests",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--only", action="append", choices=sorted(SECTIONS))
    parser.add_argument("--quick", action="store_true", help="tiny settings (smoke test)")
    parser.add_argument("--no-readme", action="store_true",
                        help="leave README.md and docs/benchmarks.md as they are")
    args = parser.parse_args(argv)
    from tf_munet.quiet import quiet_tensorflow

    quiet_tensorflow()  # logs carry results, not TensorFlow's start-up banner
    from benchmarks.common import machine, save_results
    from benchmarks.report import render, write_pages

    here = machine()
    if not args.only:  # the header's machine: the last full run's
        save_results("machine", here)
    for name in args.only or list(SECTIONS):
        module = importlib.import_module(SECTIONS[name])
        t0 = time.time()
        print(f"== {name} ...", flush=True)
        data = module.run(quick=args.quick)
        data["wall_s"] = round(time.time() - t0, 1)
        data["machine"] = here  # sections rerun alone may be measured elsewhere
        results = save_results(name, data)
        print(f"== {name} done in {data['wall_s']} s", flush=True)
    if not args.no_readme and not args.quick:
        write_pages(results)
    print(render(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
