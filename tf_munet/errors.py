"""User-facing errors and the CLI wrapper that turns them into one line and a non-zero exit."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable

from tf_munet_core.errors import UserError, atomic_path, one_line, safe_child

__all__ = ["UserError", "add_debug_flag", "atomic_path", "cli_main", "one_line", "safe_child"]


def cli_main(fn: Callable[[list[str] | None], int]) -> Callable[[list[str] | None], int]:
    """Decorate a `main(argv)` so UserError and OSError print one line and exit 2.

    Any other exception is a bug and keeps its traceback. `--debug` anywhere in argv (or
    TF_MUNET_DEBUG=1) re-raises user errors with the full traceback too and keeps
    TensorFlow's logs; otherwise they are quietened (`tf_munet.quiet`).
    """

    @functools.wraps(fn)
    def wrapper(argv: list[str] | None = None) -> int:
        argv = list(sys.argv[1:] if argv is None else argv)
        debug = "--debug" in argv or os.environ.get("TF_MUNET_DEBUG") == "1"
        argv = [a for a in argv if a != "--debug"]
        if debug:
            os.environ["TF_MUNET_DEBUG"] = "1"  # worker processes too
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
        else:
            from tf_munet.quiet import quiet_tensorflow

            quiet_tensorflow()
        try:
            return fn(argv)
        except KeyboardInterrupt:
            print("error: interrupted", file=sys.stderr)
            return 130
        except (UserError, OSError) as exc:
            if debug:
                raise
            print(f"error: {one_line(exc)}", file=sys.stderr)
            return 2

    return wrapper


def add_debug_flag(parser) -> None:
    """List `--debug` in a command's help (`cli_main` takes it out of argv before parsing)."""
    parser.add_argument("--debug", action="store_true",
                        help="full tracebacks and TensorFlow's own logs (also TF_MUNET_DEBUG=1)")
