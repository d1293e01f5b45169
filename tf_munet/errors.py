"""User-facing errors and the command wrapper (defined in `tf_munet_core`, shared with the edge
runner); here `cli_main` also keeps TensorFlow quiet (`tf_munet.quiet`)."""

from __future__ import annotations

from collections.abc import Callable

from tf_munet_core import cli
from tf_munet_core.cli import CommandParser, add_debug_flag, name_choice
from tf_munet_core.errors import Notice, UserError, atomic_path, one_line, safe_child

__all__ = ["CommandParser", "Notice", "UserError", "add_debug_flag", "atomic_path", "cli_main",
           "name_choice", "one_line", "safe_child"]


def _quiet_tensorflow() -> None:
    from tf_munet.quiet import quiet_tensorflow

    quiet_tensorflow()


def cli_main(fn: Callable[[list[str] | None], int]) -> Callable[[list[str] | None], int]:
    """`tf_munet_core.cli.cli_main` (one-line errors, exit status 2, `--debug`), with
    TensorFlow's start-up banner and C++ logs quietened unless --debug."""
    return cli.cli_main(fn, quiet=_quiet_tensorflow)
