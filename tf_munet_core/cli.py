"""What every command shares: one-line errors, `--debug`, and names typed in any case.

- `CommandParser`: an argparse parser whose usage mistakes are one line ("error: ...; see
  PROG --help") and exit status 2, instead of argparse's usage block and the error.
- `cli_main`: decorates a command's `main(argv)`. A `UserError` or `OSError` prints one line
  and exits 2; Ctrl-C exits 130; any other exception is a bug and keeps its traceback.
  Libraries' warnings (deprecations and the like) are hidden; the project's own (`Notice`) print
  as one line. `--debug` anywhere in argv (or TF_MUNET_DEBUG=1) shows tracebacks and every
  warning as Python prints them.
- `name_choice`: an argparse `type` that takes a name in any case and suggests the closest
  one for a typo ("did you mean cunet?").

tf_munet's commands and the edge runner (`tf-munet-edge`) both use these.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import sys
import warnings
from collections.abc import Callable, Iterable

from tf_munet_core.errors import Notice, UserError, one_line
from tf_munet_core.names import resolve_name

DEBUG_ENV = "TF_MUNET_DEBUG"


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr and exit status 2."""

    def error(self, message: str):
        self.exit(2, f"error: {one_line(message)}; see {self.prog} --help\n")


def debug_requested(argv: list[str] | None = None) -> bool:
    """`--debug` in argv, or TF_MUNET_DEBUG=1."""
    return "--debug" in (argv or ()) or os.environ.get(DEBUG_ENV) == "1"


def cli_main(fn: Callable[[list[str]], int] | None = None, *,
             quiet: Callable[[], None] | None = None):
    """Decorate a `main(argv)` (see the module doc); `quiet`, called before `fn` unless
    debugging, silences a library's own start-up logging (tf_munet passes TensorFlow's)."""
    if fn is None:
        return functools.partial(cli_main, quiet=quiet)

    @functools.wraps(fn)
    def wrapper(argv: list[str] | None = None) -> int:
        argv = list(sys.argv[1:] if argv is None else argv)
        debug = debug_requested(argv)
        argv = [a for a in argv if a != "--debug"]
        formatwarning = warnings.formatwarning
        with warnings.catch_warnings(), _debug_environment(debug):
            if not debug and quiet is not None:
                quiet()
            if not debug:
                quiet_warnings()
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
            finally:
                warnings.formatwarning = formatwarning  # catch_warnings keeps only the filters

    return wrapper


@contextlib.contextmanager
def _debug_environment(debug: bool):
    """With `debug`, TF_MUNET_DEBUG=1 and TensorFlow's C++ logs on while the command runs (its
    worker processes inherit them); the caller's environment comes back afterwards."""
    names = (DEBUG_ENV, "TF_CPP_MIN_LOG_LEVEL")
    saved = {name: os.environ.get(name) for name in names}
    if debug:
        os.environ.update({DEBUG_ENV: "1", "TF_CPP_MIN_LOG_LEVEL": "0"})
    try:
        yield
    finally:
        if debug:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def quiet_warnings() -> None:
    """Hide every warning but the project's own `Notice`s, which print as one line (commands
    and their worker processes call this; `--debug` skips it)."""
    if os.environ.get(DEBUG_ENV) == "1":
        return
    warnings.simplefilter("ignore")
    warnings.simplefilter("default", Notice)
    warnings.formatwarning = _one_line_warning


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    return f"warning: {one_line(str(message))}\n"


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    """List `--debug` in a command's help (`cli_main` takes it out of argv before parsing)."""
    parser.add_argument("--debug", action="store_true",
                        help="full tracebacks, every library warning and TensorFlow's own logs "
                        "(also TF_MUNET_DEBUG=1)")


def name_choice(names: Iterable[str], what: str) -> Callable[[str], str]:
    """An argparse `type`: the name of `names` that a value spells in any case, or an error
    that suggests the closest ("did you mean ...?")."""
    names = tuple(names)

    def convert(value: str) -> str:
        try:
            return resolve_name(value, names, what)
        except UserError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = what
    return convert


def choices(names: Iterable[str], what: str) -> dict:
    """`add_argument` keywords for a choice of names: listed in --help, typed in any case, a
    typo answered with the closest ("did you mean ...?")."""
    names = tuple(names)
    return {"type": name_choice(names, what), "choices": names}
