"""User-facing errors, atomic writes and safe output names (shared by every command)."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


class UserError(ValueError):
    """A bad value given by the user (file, option, data): a command prints it as one line.

    The message should name the file or option and what is wrong with it. It is a ValueError,
    so library callers catch it as one; other ValueErrors (numpy's, Keras', ours) are bugs.
    """


class Notice(UserWarning):
    """A warning meant for the person running a command (a skipped track, a slower fallback):
    commands print it as one line ("warning: ..."), while they hide libraries' warnings unless
    --debug (`tf_munet_core.cli`)."""


def one_line(exc: BaseException | str) -> str:
    """An error message on one line (libraries' messages may span several)."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return " ".join(lines) or type(exc).__name__


@contextmanager
def atomic_path(final: str | os.PathLike, suffix: str | None = None):
    """Yield a temporary path beside `final`; rename it to `final` only if the block succeeds.

    Nothing half-written is ever left at `final`; the temporary is removed on failure.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{final.name}.", suffix=suffix if suffix is not None else final.suffix + ".tmp",
        dir=final.parent,
    )
    os.close(fd)
    tmp = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; final files get the usual mode
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            if tmp.is_dir():
                import shutil

                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink()


def safe_child(root: str | os.PathLike, name: str) -> Path:
    """`root / name` for a name taken from a file or track, refusing to escape `root`.

    Absolute names and `..` components are reduced to their last safe component.
    """
    root = Path(root)
    parts = [p for p in Path(name).parts if p not in ("", ".", "..", "/", "\\")]
    parts = [p for p in parts if not Path(p).is_absolute()]
    leaf = parts[-1] if parts else "unnamed"
    path = (root / leaf).resolve()
    if root.resolve() not in path.parents:
        raise UserError(f"{name!r}: output name would leave {root}")
    return root / leaf
