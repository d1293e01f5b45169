"""The separator's command-line flags, defined once for `separate`, `evaluate` and the edge runner.

`add_separator_flags` adds what changes the stems, `add_output_flags` what changes the files,
`add_variant_flag` which of an export's TF-Lite files runs;
`separator_options` turns parsed flags into separator keyword arguments (only those off their
defaults, so evaluation cache keys stay those of the defaults); `output_encoding` and
`output_layout` turn the output flags into a stem file format and file names.
"""

from __future__ import annotations

import argparse
import os

from tf_munet_core.cli import choices
from tf_munet_core.encoding import BIT_DEPTHS, FORMATS, Encoding
from tf_munet_core.errors import UserError
from tf_munet_core.layout import DEFAULT_TEMPLATE, FIELDS, Layout, default_out
from tf_munet_core.masks import DEFAULT_OVERLAP

PRECISIONS = ("auto", "float32", "bfloat16")
"""Network arithmetic of the Keras runtimes (see `tf_munet.models.precision`)."""
DEFAULT_PRECISION = "float32"
"""The separators' and `evaluate`'s (results that do not depend on the CPU)."""
SEPARATE_PRECISION = "auto"
"""`separate`'s: bfloat16 where it is native and measured without loss."""


def add_separator_flags(p: argparse.ArgumentParser, *, precision: str | None = None) -> None:
    """Flags of the separation itself; `precision` adds --precision with that default (Keras
    runtimes only)."""
    g = p.add_argument_group("separation")
    g.add_argument("--overlap", type=float, default=DEFAULT_OVERLAP,
                   help="fraction of a network patch shared with the next (0 is the fastest, 0.5 "
                   f"sees every frame twice; default {DEFAULT_OVERLAP})")
    g.add_argument("--batch-size", type=int, default=8, help="patches per network call (default 8)")
    g.add_argument("--no-normalize", action="store_true",
                   help="keep raw network masks (by default masks of a 4stems/2stems run are "
                   "normalised to sum to 1, so stems sum to the mixture, and masks of other source "
                   "sets are scaled down where they sum above 1)")
    g.add_argument("--wiener", action="store_true",
                   help="refine with norbert's multichannel Wiener filter")
    g.add_argument("--wiener-iterations", type=int, default=1, help="Wiener EM iterations (default 1)")
    g.add_argument("--block-seconds", type=float, default=30.0,
                   help="process long files in blocks of this length, bounding memory (default 30)")
    g.add_argument("--fast-fft", action="store_true",
                   help="input-rate STFTs of an FFT-friendly length within 0.1%% of the model's "
                   "window: faster, a few hundredths of a dB lower")
    g.add_argument("--dsp-threads", type=int, default=None,
                   help="threads for the input-rate STFTs and mask mapping (default: every core)")
    if precision:
        g.add_argument("--precision", **choices(PRECISIONS, "precision"), default=precision,
                       help="network arithmetic: bfloat16 is 2.4-3.6x faster on CPUs with AMX or "
                       "AVX512-BF16 (masks within ~1e-3 of float32), slower on others; auto takes it "
                       "on such CPUs for the runs the quality benchmark measured without loss "
                       f"(the cunet preset's M-U-Net), float32 elsewhere (default {precision})")


def add_output_flags(p: argparse.ArgumentParser) -> None:
    """Flags of the stem files written by `separate` and the edge runner."""
    g = p.add_argument_group("output")
    g.add_argument("-o", "--out", default=None, metavar="OUTDIR",
                   help="output folder (default separated/<model>, the run or export folder's "
                   "name): stems go to OUTDIR/<--filename>")
    g.add_argument("--filename", default=DEFAULT_TEMPLATE, metavar="TEMPLATE",
                   help="stem file names in OUTDIR, from " + ", ".join(f"{{{f}}}" for f in FIELDS)
                   + f" (default {DEFAULT_TEMPLATE.replace('%', '%%')})")
    g.add_argument("--stems", default=None,
                   help="comma-separated subset of the sources to write (default: all)")
    g.add_argument("--two-stems", metavar="SOURCE", default=None,
                   help="write SOURCE and no_SOURCE (the input minus SOURCE: the two sum to it "
                   "exactly), e.g. vocals and no_vocals")
    g.add_argument("--format", default="wav", **choices(FORMATS, "format"),
                   help="output format (default wav)")
    g.add_argument("--bit-depth", default=None, **choices(BIT_DEPTHS, "bit depth"),
                   help="WAV and FLAC samples: 16-bit, 24-bit or 32-bit float (WAV only) "
                   "(default 16, clipped to +-1)")
    g.add_argument("--mp3-bitrate", type=int, default=320, metavar="KBPS",
                   help="constant MP3 bitrate in kbit/s (default 320)")
    g.add_argument("--float32", action="store_true",
                   help="32-bit float WAV (--bit-depth 32f; other formats ignore it)")
    g.add_argument("--overwrite", action="store_true",
                   help="replace stems an earlier run left under the same names (by default "
                   "they are refused)")
    g.add_argument("--no-progress", action="store_true", help="no progress display")


def output_encoding(args: argparse.Namespace) -> Encoding:
    """The stem file format of parsed output flags; a UserError names a bad combination."""
    depth = args.bit_depth
    if args.float32 and args.format == "wav":  # as before --bit-depth: other formats ignore it
        if depth not in (None, "32f"):
            raise UserError(f"--float32 and --bit-depth {depth}: give one of them")
        depth = "32f"
    if depth is not None and args.format == "mp3":
        raise UserError("--bit-depth: MP3 has a bitrate, not a bit depth (--mp3-bitrate)")
    return Encoding(args.format, depth or "16", args.mp3_bitrate)


def output_layout(args: argparse.Namespace, model: str | os.PathLike) -> Layout:
    """Where parsed output flags put stems: -o (default `separated/<model folder name>`)
    and --filename."""
    return Layout(args.out if args.out else default_out(model), args.filename)


def add_variant_flag(p: argparse.ArgumentParser | argparse._ArgumentGroup, *,
                     scope: str = "") -> None:
    """--variant: which of an export's TF-Lite files runs (`scope` starts the help, e.g. "export
    folders: ")."""
    p.add_argument("--variant", default="float32",
                   help=f"{scope}the TF-Lite variant: none (float32), fp16 (float16), dynamic or "
                   "int8, as export's --quantize names them, or the variant's own name (default "
                   "none, i.e. float32)")


def parse_stems(text: str | None) -> tuple[str, ...] | None:
    """--stems "a,b" -> ("a", "b"); None or empty -> None (all sources)."""
    stems = tuple(s.strip() for s in (text or "").split(",") if s.strip())
    return stems or None


def separator_options(args: argparse.Namespace) -> dict:
    """Separator keyword arguments from parsed flags (those off their defaults); a UserError
    names a bad value."""
    if args.overlap is not None and not 0 <= args.overlap < 1:
        raise UserError(f"--overlap {args.overlap}: must be in [0, 1)")
    if args.batch_size < 1:
        raise UserError(f"--batch-size {args.batch_size}: must be at least 1")
    if args.block_seconds < 2.0:
        raise UserError(f"--block-seconds {args.block_seconds}: must be at least 2")
    if args.wiener_iterations < 1:
        raise UserError(f"--wiener-iterations {args.wiener_iterations}: must be at least 1")
    if args.dsp_threads is not None and args.dsp_threads < 1:
        raise UserError(f"--dsp-threads {args.dsp_threads}: must be at least 1")
    options: dict = {}
    if args.overlap not in (None, DEFAULT_OVERLAP):  # None: the runtime's own default
        options["overlap"] = args.overlap
    if args.batch_size != 8:
        options["batch_size"] = args.batch_size
    if args.no_normalize:
        options["normalize"] = "raw"
    if args.wiener:
        options["wiener"] = True
        options["wiener_iterations"] = args.wiener_iterations
    if args.block_seconds != 30.0:
        options["block_seconds"] = args.block_seconds
    if args.fast_fft:
        options["fast_fft"] = True
    if args.dsp_threads is not None:
        options["threads"] = args.dsp_threads
    if getattr(args, "precision", DEFAULT_PRECISION) != DEFAULT_PRECISION:
        options["precision"] = args.precision
    return options
