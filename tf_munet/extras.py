"""Optional parts of tf_munet and what they need: `pip install "tf_munet[render]"`.

`pip install .` installs what training, separation, evaluation and export need (wheels only, no
compiler). Rendered data sets (`python -m tf_munet.synthetic --style rendered`: FluidSynth
instruments, a sung vocal line) need the `render` extra, whose pyworld is built with a C++
compiler, plus the Debian packages fluidsynth, fluid-soundfont-gm and espeak-ng. setup.py reads
`EXTRAS` from this file, so each extra is listed once; this module imports nothing else.
"""

from __future__ import annotations

import importlib.util

EXTRAS: dict[str, dict[str, str]] = {
    "render": {"pretty_midi": "pretty_midi", "pyworld": "pyworld", "pyfluidsynth": "fluidsynth"},
    "web": {"playwright": "playwright"},  # python -m tf_munet.web separate drives the system Chromium
}
"""extra -> {pip package: the module it installs}."""

TEST_TOOLS = ("pytest", "pytest-xdist", "nbclient", "nbformat", "ipykernel", "ruff", "playwright")
"""What the tests and the linter need besides every extra (the `dev` extra)."""


def require(extra: str, purpose: str) -> None:
    """A one-line UserError naming the missing packages and the pip command when `extra` is
    not installed; `purpose` says what needs it ("rendered data sets")."""
    missing = [pip for pip, module in EXTRAS[extra].items() if importlib.util.find_spec(module) is None]
    if missing:
        from tf_munet.errors import UserError

        raise UserError(f"{purpose} need {', '.join(missing)}, not installed: pip install "
                        f"\"tf_munet[{extra}]\" (from the checkout: pip install \".[{extra}]\")")
