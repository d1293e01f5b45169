"""python -m tf_munet.separate RUN_DIR INPUT... [-o OUTDIR]: audio files -> stems.

Any file soundfile or ffmpeg reads (wav, flac, mp3, ogg, m4a, mp4, .stem.mp4 ...), any rate, any
channel count, any length: stems come back at the input's rate and channel count as
OUTDIR/<track>/<stem>.<ext> (OUTDIR: separated/<run folder name> by default; --filename changes
the names; written atomically). See `tf_munet.separation` for how the model's masks are mapped.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tf_munet.errors import CommandParser, UserError, add_debug_flag, cli_main


def build_parser() -> argparse.ArgumentParser:
    from tf_munet_core.options import (
        SEPARATE_PRECISION,
        add_output_flags,
        add_separator_flags,
        add_variant_flag,
    )

    p = CommandParser(
        prog="python -m tf_munet.separate", description=__doc__.split("\n\n")[0],
    )
    p.add_argument("run_dir", metavar="RUN_DIR",
                   help="trained run folder (config.json, model.keras), or an export folder "
                   "(manifest.json, python -m tf_munet.export): its TF-Lite model then runs in "
                   "LiteRT without TensorFlow, with the same stems")
    p.add_argument("inputs", metavar="INPUT", nargs="+", help="audio files to separate")
    add_output_flags(p)
    add_variant_flag(p, scope="export folders: ")
    add_separator_flags(p, precision=SEPARATE_PRECISION)
    add_debug_flag(p)
    return p


def load_separator(run_dir: str, args: argparse.Namespace):
    """The separator of a run folder (Keras) or an export folder (LiteRT, no TensorFlow)."""
    from tf_munet_core.options import SEPARATE_PRECISION, separator_options

    options = separator_options(args)
    if (Path(run_dir) / "manifest.json").is_file():
        from tf_munet_core.litert import load_separator as load_export

        if options.pop("precision", SEPARATE_PRECISION) != SEPARATE_PRECISION:
            raise UserError("--precision: an export folder runs its TF-Lite --variant instead")
        return load_export(run_dir, variant=args.variant, **options)
    from tf_munet.separation import Separator

    return Separator.load(run_dir, **options)


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tf_munet_core.runner import plan_outputs, separate_files

    plan = plan_outputs(args, args.run_dir)
    separator = load_separator(args.run_dir, args)
    if getattr(args, "precision", None) == "auto" and hasattr(separator, "precision_line"):
        print(separator.precision_line(), flush=True)
    separate_files(separator, plan)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
