"""`python -m tf_munet.export RUN_DIR --out DIR`: SavedModel + TF-Lite files + report."""

from __future__ import annotations

import argparse
import sys

from tf_munet.errors import CommandParser, UserError, add_debug_flag, cli_main
from tf_munet_core.cli import choices

QUANTIZE_CHOICES = ("none", "fp16", "dynamic", "int8")


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def build_parser() -> argparse.ArgumentParser:
    p = CommandParser(
        prog="python -m tf_munet.export",
        description="Export a trained run as a SavedModel and TF-Lite files (builtin ops only), "
        "check them against Keras and write DIR/report.json, DIR/manifest.json.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="run folder (config.json + model.keras)")
    p.add_argument("--out", "-o", required=True, metavar="DIR", help="output folder")
    p.add_argument("--formats", type=_csv, default=("savedmodel", "tflite"),
                   help="comma list of savedmodel,tflite (default: both)")
    p.add_argument("--quantize", type=_csv, default=QUANTIZE_CHOICES,
                   help="TF-Lite variants: comma list of none,fp16,dynamic,int8 (default: all)")
    p.add_argument("--inputs", type=_csv, default=("spectrogram", "waveform"),
                   help="graphs: comma list of spectrogram,waveform (default: both)")
    p.add_argument("--data", metavar="DIR", default=None,
                   help="MUSDB18 root for int8 calibration (train tracks) and the validation "
                   "excerpt (first test track); default: synthetic audio")
    p.add_argument("--calibration", type=int, default=16, metavar="N",
                   help="chunks in the int8 representative dataset (default 16)")
    p.add_argument("--excerpt-chunks", type=int, default=4, metavar="N",
                   help="chunks in the validation excerpt (default 4)")
    p.add_argument("--stft", **choices(("auto", "fft", "dft"), "STFT"), default="auto",
                   help="in-graph STFT: RFFT (power-of-two n_fft) or DFT matmul (default auto)")
    p.add_argument("--normalize", **choices(("auto", "none", "exhaustive", "partial"), "normalisation"),
                   default="auto", help="mask normalisation in waveform graphs (default: the "
                   "separator's, i.e. exhaustive for 4stems/2stems)")
    p.add_argument("--threads", type=int, default=1, help="LiteRT threads for latency (default 1)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an earlier export in DIR (by default it is refused)")
    p.add_argument("--web", action="store_true",
                   help="also write DIR/index.html: a page that separates files in the browser with "
                   "the TF-Lite model (serve it with python -m tf_munet.web serve DIR; needs `npm ci "
                   "--prefix web` in the repository)")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    add_debug_flag(p)
    return p


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tf_munet.export.exporter import export_run
    from tf_munet.export.report import format_table

    if args.calibration < 1 or args.excerpt_chunks < 1:
        raise UserError("--calibration and --excerpt-chunks must be at least 1")
    log = None if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    report = export_run(
        args.run_dir, args.out, formats=args.formats, quantize=args.quantize, inputs=args.inputs,
        data=args.data, stft_mode=args.stft,
        normalize=None if args.normalize == "none" else args.normalize,
        calibration=args.calibration, excerpt_chunks=args.excerpt_chunks, threads=args.threads,
        log=log, overwrite=args.overwrite, web=args.web,
    )
    print(format_table(report))
    return 0
