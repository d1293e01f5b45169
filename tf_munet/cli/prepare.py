"""`python -m tf_munet.prepare`: prepare a MUSDB root into a cache of TFRecord shards for a preset.

Example:
    python -m tf_munet.prepare --root ~/musdb18hq --preset cunet --out cache/cunet
"""

from __future__ import annotations

import argparse
import json

from tf_munet.errors import CommandParser, UserError, add_debug_flag, cli_main
from tf_munet_core.cli import choices


def build_parser() -> argparse.ArgumentParser:
    p = CommandParser(
        prog="python -m tf_munet.prepare",
        description="Decode, check, downmix, resample and chunk MUSDB18 (STEMS or HQ) tracks into "
        "TFRecord shards with per-track metadata and per-source chunk energies (for EBW). "
        "Parallel, resumable: finished tracks are skipped.",
    )
    p.add_argument("--root", default=None, help="MUSDB root, or musdb-sample (the MUSDB18 7-second "
                   "sample, downloaded by musdb on first use; default: $MUSDB_PATH)")
    p.add_argument("--preset", required=True, help="preset name (paper, cunet, fullband, tiny)")
    p.add_argument("--out", required=True, help="cache folder")
    p.add_argument("--subsets", default="train", help="comma-separated subsets (default: train)")
    p.add_argument("--format", default="auto", **choices(("auto", "hq", "stems"), "input format"), help="input format")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: CPU count)")
    p.add_argument("--skip-bad", action="store_true", help="skip bad tracks with a warning instead of stopping")
    p.add_argument("--backend", default="soundfile", **choices(("soundfile", "tfio"), "backend"),
                   help="decoder/resampler: soundfile+ffmpeg+soxr (default) or tensorflow-io (optional env)")
    p.add_argument("--validation-fraction", type=float, default=0.2,
                   help="share of train tracks for validation when names are not MUSDB18's (default 0.2)")
    p.add_argument("--split-seed", type=int, default=0, help="seed of that split (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_debug_flag(p)
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tf_munet.data.prepare import prepare
    from tf_munet.presets import get_preset

    try:
        preset = get_preset(args.preset)
    except UserError as exc:
        raise UserError(f"--preset: {exc}") from None
    subsets = tuple(s.strip() for s in args.subsets.split(",") if s.strip())
    # warnings (skipped tracks) print as "warning: <message>" (`cli_main`)
    cache = prepare(args.root, preset, args.out, subsets=subsets, format=args.format, workers=args.workers,
                    skip_bad=args.skip_bad, backend=args.backend, validation_fraction=args.validation_fraction,
                    split_seed=args.split_seed, progress=not args.no_progress)
    with open(cache / "cache.json", encoding="utf-8") as f:
        info = json.load(f)
    counts = ", ".join(f"{len(v)} {k}" for k, v in info["tracks"].items())
    print(f"cache ready: {cache} ({counts} tracks; {len(info['validation']['tracks'])} for validation, "
          f"{info['validation']['split']} split; {len(info['skipped'])} skipped)")
    print("energies per chunk: " + ", ".join(f"{k} {v:.4g}" for k, v in info["energies"].items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
