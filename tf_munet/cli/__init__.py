"""`tf-munet COMMAND ...`: one command for every tool, beside the `python -m tf_munet.<tool>` forms.

Every command's options and `main(argv)` live here, one module each (`tf_munet.cli.train`,
`.separate`, `.evaluate`, `.prepare`, `.synthetic`, `.export`, `.hub`, `.models`, `.web`); the
`python -m tf_munet.<tool>` modules are entry points into them. The exception is `edge`, which
stays `tf_munet_core.edge`: the TensorFlow-free core never imports tf_munet. All of them share
`tf_munet_core.cli` (one-line errors, `--debug`, names in any case).

Each subcommand is imported only when it is asked for, so `tf-munet --help` and a mistyped
command answer without importing TensorFlow.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("tf_munet.cli.train", "train a separation U-Net into a run folder"),
    "separate": ("tf_munet.cli.separate", "separate songs with a run or export folder"),
    "evaluate": ("tf_munet.cli.evaluate", "score runs with museval and the paper's protocol"),
    "export": ("tf_munet.cli.export", "SavedModel, TF-Lite files and the browser page of a run"),
    "hub": ("tf_munet.cli.hub", "convert a released model (Spleeter) into a run folder"),
    "models": ("tf_munet.cli.models", "parameters and FLOPs of each family"),
    "prepare": ("tf_munet.cli.prepare", "decode and cache a MUSDB-layout set for training"),
    "synthetic": ("tf_munet.cli.synthetic", "write a generated or rendered MUSDB-layout set"),
    "edge": ("tf_munet_core.edge", "separate with an export folder, without TensorFlow"),
    "web": ("tf_munet.cli.web", "serve the browser page or drive it in headless Chromium"),
}
"""Subcommand -> (module with `main(argv)`, one-line description)."""


def _usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {about}" for name, (_, about) in COMMANDS.items()]
    return "usage: tf-munet COMMAND [options]   (tf-munet COMMAND --help)\n\ncommands:\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run `tf-munet COMMAND ...`; a missing or unknown command is one line and exit status 2."""
    from tf_munet_core.names import suggestion

    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    key = name.casefold()
    if key not in COMMANDS:
        print(f"error: tf-munet: unknown command {name!r}{suggestion(key, list(COMMANDS))} "
              "(see tf-munet --help)", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[key][0])
    return module.main(rest)
