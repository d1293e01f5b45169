"""tf-munet-edge EXPORT_DIR INPUT... [-o OUTDIR]: separate audio files with a TF-Lite export.

Needs only numpy, ducc0, soundfile, soxr and ai-edge-litert (no TensorFlow), plus the ffmpeg
program for files libsndfile cannot read (m4a, mp4, .stem.mp4): the stems are those of
`python -m tf_munet.separate` (same inference core, same output flags), at the input's rate and
channels.
"""

from __future__ import annotations

import argparse

from tf_munet_core.cli import CommandParser, add_debug_flag, cli_main
from tf_munet_core.options import (
    add_output_flags,
    add_separator_flags,
    add_variant_flag,
    separator_options,
)


def build_parser() -> argparse.ArgumentParser:
    p = CommandParser(
        prog="tf-munet-edge",
        description="Separate audio files with a tf_munet TF-Lite export (numpy + LiteRT; no "
        "TensorFlow). Writes OUTDIR/<track>/<source>.<format> (OUTDIR: separated/<export folder "
        "name> by default).",
    )
    p.add_argument("export_dir", metavar="EXPORT_DIR", help="folder written by python -m tf_munet.export")
    p.add_argument("inputs", metavar="INPUT", nargs="+",
                   help="audio files (anything soundfile reads; others, such as mp4 and .stem.mp4, "
                   "through ffmpeg)")
    add_output_flags(p)
    g = p.add_argument_group("model")
    add_variant_flag(g)
    g.add_argument("--input", choices=("spectrogram", "waveform"), default="spectrogram",
                   help="spectrogram-in model with full-rate masks (default), or waveform-in "
                   "(stems up to the model's bandwidth only)")
    g.add_argument("--threads", type=int, default=None, help="LiteRT threads (default: every core)")
    add_separator_flags(p)
    p.set_defaults(overlap=None)  # the export's: the separator's default when it was made
    add_debug_flag(p)
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tf_munet_core.litert import load_separator
    from tf_munet_core.runner import plan_outputs, separate_files

    plan = plan_outputs(args, args.export_dir)
    options = separator_options(args)
    if args.overlap is not None:  # else the export's (the separator's default when exported)
        options["overlap"] = args.overlap
    separator = load_separator(args.export_dir, variant=args.variant, kind=args.input,
                               litert_threads=args.threads, **options)
    separate_files(separator, plan)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
