"""python -m tf_munet.hub spleeter:4stems --run-dir DIR [--archive PATH]: a released model as a run.

Without --archive the model's archive is downloaded from Spleeter's GitHub release (and checked
against the release's checksum.json); --archive takes a local `<name>.tar.gz` or an extracted
folder, for machines without internet. The run folder is written whole or not at all, and an
existing non-empty folder is never overwritten. `separate`, `evaluate` and `export` then take
it like any trained run.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from tf_munet.errors import CommandParser, UserError, add_debug_flag, cli_main
from tf_munet.hub import spleeter


def build_parser() -> argparse.ArgumentParser:
    p = CommandParser(
        prog="python -m tf_munet.hub", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("model", metavar="MODEL",
                   help="spleeter:2stems, spleeter:4stems or spleeter:5stems, each optionally "
                   "with -16kHz (e.g. spleeter:4stems-16kHz)")
    p.add_argument("--run-dir", required=True, help="run folder to create (must not hold files)")
    p.add_argument("--archive", default=None,
                   help="local release archive (.tar.gz) or extracted model folder; default: "
                   "download it")
    p.add_argument("--release-url", default=spleeter.RELEASE_URL,
                   help="where <name>.tar.gz and checksum.json are downloaded from")
    p.add_argument("--timeout", type=float, default=60.0, help="network timeout in seconds")
    add_debug_flag(p)
    return p


def _checkpoint_folder(args, model: spleeter.SpleeterModel, work: Path) -> tuple[Path, str]:
    """(folder holding the checkpoint, where it came from)."""
    from tf_munet.hub.archive import Unreachable, extract, fetch_release

    if args.archive is None:
        origin = f"{args.release_url.rstrip('/')}/{model.name}.tar.gz"
        try:
            archive = fetch_release(args.release_url, model.name, work, timeout=args.timeout)
        except Unreachable as exc:  # say what to fetch by hand, and how to pass it
            raise UserError(f"{exc}; without internet here, download {origin} elsewhere and run "
                            f"python -m tf_munet.hub {args.model} --run-dir {args.run_dir} "
                            f"--archive PATH/{model.name}.tar.gz") from None
    else:
        archive = Path(args.archive)
        origin = str(archive.resolve())
        if archive.is_dir():
            return archive, origin
    return extract(archive, work / "checkpoint"), origin


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    model = spleeter.spleeter_model(args.model)
    run_dir = Path(args.run_dir)
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise UserError(f"{run_dir}: already exists and is not an empty folder; choose a new one")
    run_dir.parent.mkdir(parents=True, exist_ok=True)

    from tf_munet.run_dir import MODEL, RunConfig, save_network, save_run_config

    with tempfile.TemporaryDirectory(prefix=f".{run_dir.name}.", dir=run_dir.parent) as tmp:
        work = Path(tmp)
        folder, origin = _checkpoint_folder(args, model, work)
        network = spleeter.convert(spleeter.find_checkpoint(folder), model)
        stage = work / "run"
        stage.mkdir()
        save_run_config(stage, RunConfig(model.preset, "dedicated", model.instruments,
                                         extra=spleeter.run_extra(model, origin)))
        save_network(stage / MODEL, network)
        if run_dir.exists():
            run_dir.rmdir()  # empty (checked above)
        os.replace(stage, run_dir)
    print(f"{run_dir}: Spleeter {model.name} ({', '.join(model.instruments)}), "
          f"{network.count_params() / 1e6:.1f} M parameters")
    return 0
