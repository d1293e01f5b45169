"""The file loop of `separate` and the edge runner (`tf-munet-edge`): the command line's inputs
through one separator into stem files, one line per file.

`plan_outputs` checks everything the flags and inputs decide before the (slow) model loads;
`separate_files` then runs the separator over every input. Progress is one line redrawn on a
terminal and nothing elsewhere (no carriage returns in log files); each finished file prints one
line: its length, the time taken and the files written.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path

from tf_munet_core.encoding import Encoding
from tf_munet_core.files import audio_seconds, check_input_file, stem_names, write_stems
from tf_munet_core.layout import Layout
from tf_munet_core.options import output_encoding, output_layout, parse_stems
from tf_munet_core.progress import LineProgress


@dataclass(frozen=True)
class OutputPlan:
    """What the output flags ask for: the inputs, where and how their stems are written."""

    inputs: tuple[Path, ...]
    layout: Layout
    encoding: Encoding
    stems: tuple[str, ...] | None
    two_stems: str | None
    overwrite: bool
    progress: bool


def plan_outputs(args: argparse.Namespace, model: str | os.PathLike) -> OutputPlan:
    """The output flags of `args` (`options.add_output_flags`) and its `inputs`, checked;
    `model` is the run or export folder (the default output folder takes its name)."""
    return OutputPlan(
        inputs=tuple(check_input_file(p) for p in args.inputs),
        layout=output_layout(args, model),
        encoding=output_encoding(args),
        stems=parse_stems(args.stems),
        two_stems=args.two_stems,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )


def separate_files(separator, plan: OutputPlan, decode=None) -> list[dict[str, Path]]:
    """Separate every input of `plan`; returns the files written per input.

    Stem names, file names and earlier outputs are all checked before the first file is
    separated, so a bad --stems or a folder holding another run's stems fails at once.
    """
    names = stem_names(separator, plan.stems, plan.two_stems)
    jobs = plan.layout.plan([str(p) for p in plan.inputs], names, plan.encoding.ext)
    plan.layout.clear_earlier([path for path, _ in jobs], plan.overwrite)
    written = []
    for i, (path, files) in enumerate(jobs):
        seconds = audio_seconds(path)
        progress = LineProgress(f"[{i + 1}/{len(jobs)}] {path.name}", seconds) if plan.progress else None
        t0 = time.perf_counter()
        try:
            write_stems(separator, path, files, encoding=plan.encoding, progress=progress, decode=decode)
        finally:
            if progress is not None:
                progress.close()
        spent = time.perf_counter() - t0
        print(file_line(path, files, seconds, spent), flush=True)
        written.append(files)
    return written


def file_line(path: Path, files: dict[str, Path], seconds: float | None, spent: float) -> str:
    """"song.wav: 180.0 s in 12.1 s (14.9x real time) -> separated/run/song/ (vocals.wav, ...)"."""
    speed = f" ({seconds / spent:.1f}x real time)" if seconds and spent > 0 else ""
    length = f"{seconds:.1f} s" if seconds else "audio"
    folder = Path(os.path.commonpath([str(f.parent) for f in files.values()]))
    names = ", ".join(f.relative_to(folder).as_posix() for f in files.values())
    return f"{path}: {length} in {spent:.1f} s{speed} -> {folder}/ ({names})"
