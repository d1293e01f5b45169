"""tf-munet-edge EXPORT_DIR INPUT... -o OUTDIR: separate audio files with a TF-Lite export.

Needs only numpy, ducc0, soundfile, soxr and ai-edge-litert (no TensorFlow): the stems are
those of `python -m tf_munet.separate` (same inference core), at the input's rate and channels.
"""

from __future__ import annotations

import argparse
import sys
import time

from tf_munet_core.errors import UserError, one_line
from tf_munet_core.options import (
    add_output_flags,
    add_separator_flags,
    add_variant_flag,
    parse_stems,
    separator_options,
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tf-munet-edge",
        description="Separate audio files with a tf_munet TF-Lite export (numpy + LiteRT; no "
        "TensorFlow). Writes OUTDIR/<file>/<source>.<format>.",
    )
    p.add_argument("export_dir", metavar="EXPORT_DIR", help="folder written by python -m tf_munet.export")
    p.add_argument("inputs", metavar="INPUT", nargs="+", help="audio files (anything soundfile reads)")
    add_output_flags(p)
    g = p.add_argument_group("model")
    add_variant_flag(g)
    g.add_argument("--input", choices=("spectrogram", "waveform"), default="spectrogram",
                   help="spectrogram-in model with full-rate masks (default), or waveform-in "
                   "(stems up to the model's bandwidth only)")
    g.add_argument("--threads", type=int, default=None, help="LiteRT threads (default: every core)")
    add_separator_flags(p)
    p.set_defaults(overlap=None)  # the export's: the separator's default when it was made
    p.add_argument("--debug", action="store_true", help="full traceback instead of a one-line error")
    return p


def run(args: argparse.Namespace) -> int:
    from tf_munet_core.files import audio_seconds, clear_earlier_stems, output_folders
    from tf_munet_core.litert import load_separator
    from tf_munet_core.progress import LineProgress

    pairs = output_folders(args.inputs, args.out)
    stems = parse_stems(args.stems)
    options = separator_options(args)
    if args.overlap is not None:  # else the export's (the separator's default when exported)
        options["overlap"] = args.overlap
    separator = load_separator(args.export_dir, variant=args.variant, kind=args.input,
                               litert_threads=args.threads, **options)
    separator.stem_indices(stems)  # a bad --stems fails before any work
    clear_earlier_stems(pairs, args.overwrite)
    for i, (path, target) in enumerate(pairs):
        seconds = audio_seconds(path)
        label = f"[{i + 1}/{len(pairs)}] {path.name}"
        progress = LineProgress(label, seconds, force=False) if not args.no_progress else None
        t0 = time.perf_counter()
        try:
            written = separator.separate_file(path, target, stems=stems, fmt=args.format,
                                              float32=args.float32, progress=progress)
        finally:
            if progress is not None:
                progress.close()
        spent = time.perf_counter() - t0
        speed = f" ({seconds / spent:.1f}x real time)" if seconds and spent > 0 else ""
        length = f"{seconds:.1f} s" if seconds else "audio"
        print(f"{path}: {length} in {spent:.1f} s{speed} -> {target}/ ({', '.join(written)})",
              flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except (UserError, OSError) as exc:  # OSError: unwritable or full output folder, ...
        if args.debug:
            raise
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
