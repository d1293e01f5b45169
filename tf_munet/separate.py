"""python -m tf_munet.separate RUN_DIR INPUT... -o OUTDIR: audio files -> stems.

Any file soundfile or ffmpeg reads (wav, flac, mp3, ogg, ...), any rate, any channel count, any
length: stems come back at the input's rate and channel count as OUTDIR/<input stem>/<source>.<ext>
(written atomically). See `tf_munet.separation` for how the model's masks are mapped.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tf_munet.errors import UserError, add_debug_flag, cli_main
from tf_munet_core.files import clear_earlier_stems, output_folders
from tf_munet_core.options import parse_stems


def build_parser() -> argparse.ArgumentParser:
    from tf_munet_core.options import add_output_flags, add_separator_flags, add_variant_flag

    p = argparse.ArgumentParser(
        prog="python -m tf_munet.separate", description=__doc__.split("\n\n")[0],
    )
    p.add_argument("run_dir", metavar="RUN_DIR",
                   help="trained run folder (config.json, model.keras), or an export folder "
                   "(manifest.json, python -m tf_munet.export): its TF-Lite model then runs in "
                   "LiteRT without TensorFlow, with the same stems")
    p.add_argument("inputs", metavar="INPUT", nargs="+", help="audio files to separate")
    add_output_flags(p)
    add_variant_flag(p, scope="export folders: ")
    add_separator_flags(p, precision=True)
    add_debug_flag(p)
    return p


def load_separator(run_dir: str, args: argparse.Namespace):
    """The separator of a run folder (Keras) or an export folder (LiteRT, no TensorFlow)."""
    from tf_munet_core.options import separator_options

    options = separator_options(args)
    if (Path(run_dir) / "manifest.json").is_file():
        from tf_munet_core.litert import load_separator as load_export

        if options.pop("precision", None):
            raise UserError("--precision: an export folder runs its TF-Lite --variant instead")
        return load_export(run_dir, variant=args.variant, **options)
    from tf_munet.separation import Separator

    return Separator.load(run_dir, **options)


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Path(args.out)
    pairs = output_folders(args.inputs, out)
    stems = parse_stems(args.stems)
    separator = load_separator(args.run_dir, args)

    import soundfile as sf
    from tqdm import tqdm

    separator.stem_indices(stems)  # fail on a bad --stems before any work
    clear_earlier_stems(pairs, args.overwrite)
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
