"""Output folders: a new result never lands silently beside an earlier one.

Every command that writes into a folder the user names (`separate -o`, `evaluate --out`,
`export --out`, `tf-munet-edge -o`) lists what an earlier command left there and refuses to mix with it unless the
user passes `--overwrite`, which removes exactly those earlier outputs (nothing else in the
folder is touched). Spleeter, Demucs and Open-Unmix users expect the same of a folder name.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from tf_munet_core.errors import UserError


def output_folder(path: str | os.PathLike, flag: str = "--out") -> Path:
    """`path` as a folder to write into; refuses a path that names an existing file."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{path}: exists and is not a folder; {flag} takes a folder")
    return path


def describe(paths: list[Path], limit: int = 3) -> str:
    """A short list of names for a message: 'a.json, savedmodel/, b.tflite and 4 more'."""
    names = [p.name + ("/" if p.is_dir() else "") for p in sorted(paths)]
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def replace_earlier(
    folder: Path, earlier: Iterable[Path], *, overwrite: bool, what: str, flag: str = "--out"
) -> None:
    """Refuse to write into `folder` while it holds `earlier` outputs, unless `overwrite`: then
    remove them first.

    Args:
        folder: the output folder (for the message).
        earlier: the files and folders an earlier run of the command left there.
        overwrite: the user's --overwrite.
        what: what they are, for the message ("an earlier export").
        flag: the option that named the folder, for the message.
    """
    earlier = [p for p in earlier if p.exists() or p.is_symlink()]
    if not earlier:
        return
    if not overwrite:
        raise UserError(f"{folder}: holds {what} ({describe(earlier)}); pass --overwrite to "
                        f"replace it, or choose another {flag}")
    for path in earlier:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
