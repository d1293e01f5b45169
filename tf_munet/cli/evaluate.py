"""python -m tf_munet.evaluate: score a run (or a reference separator) on a MUSDB-layout set.

    python -m tf_munet.evaluate RUN_DIR --root MUSDB_DIR --out DIR [--subset test]
        [--protocol museval,paper,usdr|both|all] [--jobs N] [--no-references] [--wiener]
    python -m tf_munet.evaluate oracle --root MUSDB_DIR --out DIR --preset cunet
    python -m tf_munet.evaluate --compare DIR... [--out DIR]

RUN_DIR may be "oracle" or "mixture" (the built-in references) when no folder of that name holds
a run. Results: DIR/tracks/<track>.json (cache, reused and resumed), DIR/summary.json and
DIR/summary.md. See `tf_munet.evaluation` for the protocols.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tf_munet.errors import CommandParser, UserError, add_debug_flag, cli_main
from tf_munet_core.cli import choices
from tf_munet_core.options import DEFAULT_PRECISION, add_separator_flags, separator_options  # noqa: F401 (API)


def build_parser() -> argparse.ArgumentParser:
    p = CommandParser(
        prog="python -m tf_munet.evaluate", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument("run_dir", metavar="RUN_DIR", nargs="?",
                   help="trained run folder, or 'oracle' / 'mixture'")
    p.add_argument("--root", help="MUSDB18 root (HQ folders or .stem.mp4; musdb-sample: the MUSDB18 "
                   "7-second sample, downloaded by musdb on first use; default $MUSDB_PATH)")
    p.add_argument("--subset", default="test", **choices(("train", "test"), "subset"),
                   help="which MUSDB subset to score (default: test)")
    p.add_argument("--protocol", default=None,
                   help="comma list of museval (BSS Eval v4), paper (mir_eval v3, the paper's) "
                   "and usdr (the MDX challenges' SDR, instant); both = museval,paper; all = the "
                   "three (default: museval,usdr); with --compare: which protocol's box plot "
                   "(default: the first in common)")
    p.add_argument("--jobs", type=int, default=1,
                   help="tracks evaluated in parallel processes (default 1)")
    p.add_argument("--out", help="output folder (evaluation: required; --compare: default '.')")
    p.add_argument("--track", action="append", default=None, metavar="NAME",
                   help="evaluate only this track (repeatable)")
    p.add_argument("--no-references", action="store_true",
                   help="leave the oracle and mixture/K rows out of the tables")
    p.add_argument("--preset", default="paper",
                   help="grid of a reference-only evaluation (oracle/mixture as RUN_DIR)")
    p.add_argument("--sources", default="4stems",
                   help="sources of a reference-only evaluation (4stems, 2stems, vocals,drums...)")
    p.add_argument("--compare", nargs="+", metavar="DIR",
                   help="compare finished evaluation folders: one table and one box plot")
    p.add_argument("--overwrite", action="store_true",
                   help="replace another evaluation held in --out (by default it is refused; the "
                   "same evaluation resumes from its cache)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_separator_flags(p, precision=DEFAULT_PRECISION)  # results that do not depend on the CPU
    add_debug_flag(p)
    return p


def _protocols(text: str) -> tuple[str, ...]:
    from tf_munet.evaluation import PROTOCOLS

    named = {"both": ("museval", "paper"), "all": PROTOCOLS}
    if text in named:
        return named[text]
    out = tuple(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
    bad = [t for t in out if t not in PROTOCOLS]
    if bad or not out:
        raise UserError(f"--protocol {text!r}: use a comma list of {', '.join(PROTOCOLS)}, or both "
                        "(museval,paper) or all")
    return out


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tf_munet import evaluation as ev

    if args.compare:
        if args.run_dir:
            raise UserError("--compare takes evaluation folders only, not RUN_DIR")
        print(ev.compare(args.compare, args.out or ".", args.protocol), end="")
        print(f"wrote {Path(args.out or '.') / 'compare.md'} and compare.png")
        return 0
    if not args.run_dir:
        raise UserError("give RUN_DIR (or oracle / mixture), or --compare DIR...")
    if not args.out:
        raise UserError("--out DIR is required")
    if args.jobs < 1:
        raise UserError(f"--jobs {args.jobs}: must be >= 1")
    protocols = _protocols(args.protocol or "museval,usdr")
    options = separator_options(args)
    run = Path(args.run_dir)
    if run.is_dir() or args.run_dir not in ev.REFERENCES:
        main_spec = ev.run_spec(run, options)
        preset, sources = main_spec.preset, main_spec.sources
        specs = [main_spec]
    else:
        from tf_munet.presets import resolve_sources

        try:
            preset, sources = ev.default_preset(args.preset), resolve_sources(args.sources)
        except UserError as exc:
            raise UserError(str(exc)) from None
        network_only = ("overlap", "batch_size", "precision")  # references have no network
        specs = [ev.reference_spec(args.run_dir, preset, sources,
                                   {k: v for k, v in options.items() if k not in network_only}
                                   or None)]
    if not args.no_references:
        for kind in ev.REFERENCES:
            if all(s.kind != kind for s in specs):
                specs.append(ev.reference_spec(kind, preset, sources))
    summary = ev.evaluate(specs, args.root, args.out, subset=args.subset, protocols=protocols,
                          jobs=args.jobs, tracks=args.track, progress=not args.no_progress,
                          overwrite=args.overwrite)
    print(ev.markdown(summary), end="")
    print(f"{summary['computed']} of {len(summary['tracks'])} tracks computed "
          f"(rest cached); wrote {Path(args.out) / 'summary.json'} and summary.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
