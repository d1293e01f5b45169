"""Where stem files go: an output folder and a file-name template, as Demucs names them.

Without `-o` stems go to `separated/<model>/` (<model>: the run or export folder's name); in it,
`--filename` (default "{track}/{stem}.{ext}") names each file from
{track} (the input's name without its extension), {trackext} (that extension), {stem} (the
source, or no_<source> for --two-stems' complement) and {ext} (the format).

Output files never mix runs: before any work, the files an earlier run left under an input's
names (every stem name and format the template gives for that track) are refused, or removed
with --overwrite (`tf_munet_core.outputs`); two inputs whose stems would share a file are
refused.
"""

from __future__ import annotations

import glob
import os
import re
import string
from dataclasses import dataclass
from pathlib import Path

from tf_munet_core.encoding import FORMATS
from tf_munet_core.errors import UserError
from tf_munet_core.files import check_input_file

DEFAULT_TEMPLATE = "{track}/{stem}.{ext}"
FIELDS = ("track", "trackext", "stem", "ext")
DEFAULT_ROOT = "separated"


def default_out(model: str | os.PathLike) -> Path:
    """`separated/<name of the run or export folder>`."""
    return Path(DEFAULT_ROOT) / (Path(model).resolve().name or "model")


def track_name(path: str | os.PathLike) -> str:
    """{track} of an input: its file name without the last extension ("song.stem" for
    "song.stem.mp4", as Demucs); "unnamed" for names such as "...wav" whose rest is a dot path."""
    name = Path(path).stem
    return "unnamed" if name in ("", ".", "..") else name


@dataclass(frozen=True)
class Layout:
    """Output folder `out` and file-name `template` (see the module doc)."""

    out: Path
    template: str = DEFAULT_TEMPLATE

    def __post_init__(self):
        object.__setattr__(self, "out", Path(self.out))
        try:
            parts = list(string.Formatter().parse(self.template))
        except ValueError as exc:
            raise UserError(f"--filename {self.template!r}: {exc}") from None
        names = [f for _, f, spec, conv in parts if f is not None]
        bad = [f for f in names if f not in FIELDS]
        if bad:
            raise UserError(f"--filename {self.template!r}: unknown field {{{bad[0]}}}; use "
                            + ", ".join(f"{{{f}}}" for f in FIELDS))
        if any(spec or conv for _, f, spec, conv in parts if f is not None):
            raise UserError(f"--filename {self.template!r}: fields take no format spec or "
                            "conversion (write {stem}, not {stem:>8})")
        if "stem" not in names:
            raise UserError(f"--filename {self.template!r}: needs {{stem}} (else every stem "
                            "would go to one file)")
        if self.out.exists() and not self.out.is_dir():
            raise UserError(f"{self.out}: exists and is not a folder; -o takes a folder")

    def _render(self, track: Path, stem: str, ext: str, escape=lambda s: s) -> str:
        values = {"track": escape(track_name(track)), "trackext": escape(track.suffix.lstrip(".")),
                  "stem": stem, "ext": ext}
        return "".join(escape(text) + (values[field] if field is not None else "")
                       for text, field, _, _ in string.Formatter().parse(self.template))

    def path(self, track: str | os.PathLike, stem: str, ext: str) -> Path:
        """The file of one stem of input `track`; refuses names that would leave `out`."""
        relative = self._render(Path(track), stem, ext)
        parts = relative.replace("\\", "/").split("/")
        if relative.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise UserError(f"{track}: output name {relative!r} (--filename {self.template!r}) "
                            f"would leave {self.out} or has an empty part")
        return self.out.joinpath(*parts)

    def plan(self, inputs: list[str], stems: tuple[str, ...], ext: str) -> list[tuple[Path, dict[str, Path]]]:
        """[(input, {stem: file})]: refuses missing inputs and two inputs that would write
        the same file."""
        planned, seen = [], {}
        for name in inputs:
            path = check_input_file(name)
            files = {s: self.path(path, s, ext) for s in stems}
            for file in files.values():
                if file in seen:
                    raise UserError(f"{path}: its stems would overwrite those of {seen[file]} "
                                    f"({file}); rename one, or put {{track}} in --filename")
                seen[file] = path
            for folder in {f.parent for f in files.values()}:
                if folder.exists() and not folder.is_dir():
                    raise UserError(f"{folder}: exists and is not a folder")
            planned.append((path, files))
        return planned

    def earlier(self, track: str | os.PathLike) -> list[Path]:
        """Stem files an earlier run left under `track`'s names: any stem name, any format."""
        track = Path(track)
        pattern = self._render(track, "*", "*", escape=glob.escape)
        exts = "|".join(map(re.escape, FORMATS))
        regex = re.compile(self._render(track, "[^/]+", f"(?:{exts})", escape=re.escape))
        if not self.out.is_dir():
            return []
        return sorted(p for p in self.out.glob(pattern)
                      if p.is_file() and regex.fullmatch(p.relative_to(self.out).as_posix()))

    def clear_earlier(self, inputs: list[Path], overwrite: bool) -> None:
        """Refuse (or, with `overwrite`, remove) every earlier stem file of `inputs`, so no
        folder ends up with stems of two runs or two --stems choices (nothing else is
        touched)."""
        from tf_munet_core.outputs import replace_earlier

        for track in inputs:
            earlier = self.earlier(track)
            if earlier:
                where = os.path.commonpath([str(p.parent) for p in earlier])
                replace_earlier(Path(where), earlier, overwrite=overwrite,
                                what=f"stems of an earlier run of {Path(track).name}", flag="-o")
