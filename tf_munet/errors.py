"""User-facing errors and the CLI wrapper that turns them into one line and a non-zero exit."""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path


class UserError(Exception):
    """An error caused by the user's input (file, option, data): printed as one line.

    The message should name the file or option and what is wrong with it.
    """


def cli_main(fn: Callable[[list[str] | None], int]) -> Callable[[list[str] | None], int]:
    """Decorate a `main(argv)` so UserError/OSError/ValueError print one line and exit 2.

    `--debug` anywhere in argv (or TF_MUNET_DEBUG=1) re-raises with the full traceback.
    """

    @functools.wraps(fn)
    def wrapper(argv: list[str] | None = None) -> int:
        argv = list(sys.argv[1:] if argv is None else argv)
        debug = "--debug" in argv or os.environ.get("TF_MUNET_DEBUG") == "1"
        argv = [a for a in argv if a != "--debug"]
        try:
            return fn(argv)
        except KeyboardInterrupt:
            print("error: interrupted", file=sys.stderr)
            return 130
        except (UserError, OSError, ValueError) as exc:
            if debug:
                raise
            print(f"error: {one_line(exc)}", file=sys.stderr)
            return 2

    return wrapper


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
