"""python -m tf_munet.separate RUN_DIR INPUT... -o OUTDIR: audio files -> stems.

Any file soundfile or ffmpeg reads (wav, flac, mp3, ogg, ...), any rate, any channel count, any
length: stems come back at the input's rate and channel count as OUTDIR/<input stem>/<source>.<ext>
(written atomically). See `tf_munet.separation` for how the model's masks are mapped.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tf_munet.errors import UserError, cli_main, safe_child
from tf_munet.outputs import output_folder, replace_earlier
from tf_munet.separation import DEFAULT_OVERLAP, FORMATS


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tf_munet.separate", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="trained run folder (config.json, model.keras)")
    p.add_argument("inputs", metavar="INPUT", nargs="+", help="audio files to separate")
    p.add_argument("-o", "--out", required=True, metavar="OUTDIR", help="output folder")
    p.add_argument("--stems", default=None,
                   help="comma-separated subset of the run's sources to write (default: all)")
    p.add_argument("--format", default="wav", choices=("wav", "flac"), help="output format")
    p.add_argument("--float32", action="store_true",
                   help="write 32-bit float WAV (default 16-bit PCM, clipped to +-1)")
    p.add_argument("--wiener", action="store_true",
                   help="refine with norbert's multichannel Wiener filter")
    p.add_argument("--wiener-iterations", type=int, default=1, help="Wiener EM iterations")
    p.add_argument("--no-normalize", action="store_true",
                   help="keep raw network masks (by default masks of a 4stems/2stems run are "
                   "normalised to sum to 1, so stems sum to the mixture)")
    p.add_argument("--block-seconds", type=float, default=30.0,
                   help="process long files in blocks of this length (bounds memory)")
    p.add_argument("--batch-size", type=int, default=8, help="patches per network call")
    p.add_argument("--overlap", type=float, default=DEFAULT_OVERLAP,
                   help="fraction of a network patch shared with the next (default 0.25; 0 is "
                   "the fastest, 0.5 sees every frame twice)")
    p.add_argument("--precision", choices=("float32", "bfloat16"), default="float32",
                   help="network arithmetic: bfloat16 is ~1.8x faster on CPUs with AMX or "
                   "AVX512-BF16 (masks within ~1e-3 of float32), slower on others")
    p.add_argument("--fast-fft", action="store_true",
                   help="input-rate STFTs of an FFT-friendly length within 0.1%% of the model's "
                   "window: faster, a few hundredths of a dB lower")
    p.add_argument("--overwrite", action="store_true",
                   help="replace stems an earlier run left in OUTDIR/<input name>/ (by default "
                   "they are refused)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _input_list(inputs: list[str], out: Path) -> list[tuple[Path, Path]]:
    """(input, its output folder) pairs; refuses missing inputs and colliding names."""
    from tf_munet.data.audio_io import check_input_file

    output_folder(out, "-o")
    pairs, seen = [], {}
    for name in inputs:
        path = check_input_file(name)
        target = safe_child(out, path.stem)
        if target in seen:
            raise UserError(f"{path}: same output folder {target} as {seen[target]}; rename one")
        seen[target] = path
        pairs.append((path, target))
    return pairs


def _clear_earlier_stems(pairs: list[tuple[Path, Path]], overwrite: bool) -> None:
    """Refuse (or, with --overwrite, remove) stems an earlier run left in an input's folder, so
    no folder ends up with stems of two runs or two --stems choices."""
    for _, target in pairs:
        output_folder(target, "-o")
        if target.is_dir():
            earlier = [p for p in target.iterdir() if p.suffix.lstrip(".") in FORMATS]
            replace_earlier(target, earlier, overwrite=overwrite, what="stems of an earlier run",
                            flag="-o")


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Path(args.out)
    pairs = _input_list(args.inputs, out)
    stems = tuple(s.strip() for s in args.stems.split(",") if s.strip()) if args.stems else None
    if args.batch_size < 1 or args.block_seconds < 2.0:
        raise UserError("--batch-size must be >= 1 and --block-seconds >= 2")
    if not 0 <= args.overlap < 1:
        raise UserError(f"--overlap {args.overlap}: must be in [0, 1)")

    import soundfile as sf
    from tqdm import tqdm

    from tf_munet.separation import Separator

    separator = Separator.load(
        args.run_dir, batch_size=args.batch_size, overlap=args.overlap, precision=args.precision,
        fast_fft=args.fast_fft, wiener=args.wiener,
        wiener_iterations=args.wiener_iterations, block_seconds=args.block_seconds,
        normalize=False if args.no_normalize else None,
    )
    separator.stem_indices(stems)  # fail on a bad --stems before any work
    _clear_earlier_stems(pairs, args.overwrite)
    total = 0.0
    for path, _ in pairs:
        try:
            info = sf.info(path)
            total += info.frames / info.samplerate
        except Exception:  # noqa: BLE001 - ffmpeg-only formats: length unknown until decoded
            pass
    with tqdm(total=round(total, 1), unit="s", disable=args.no_progress, dynamic_ncols=True,
              bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s audio [{elapsed}<{remaining}]") as bar:
        for i, (path, target) in enumerate(pairs):
            bar.set_description(f"[{i + 1}/{len(pairs)}] {path.name}")
            written = separator.separate_file(
                path, target, stems=stems, fmt=args.format, float32=args.float32, progress=bar,
            )
            bar.write(f"{path} -> {target}/ ({', '.join(written)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
