"""Names the user types (presets, families, weightings, sources): any case, and a suggestion
for a typo, as `git` and `pip` do ("did you mean ...?")."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from tf_munet_core.errors import UserError


def resolve_name(value: str, names: Iterable[str], what: str) -> str:
    """The name of `names` that `value` spells, ignoring case; else a UserError naming the value,
    the closest names and every known one.

    Args:
        value: what the user typed.
        names: the known names, as they are spelled in files and tables.
        what: what they are, for the message ("preset", "source").
    """
    names = tuple(names)
    text = str(value).strip()
    if text in names:
        return text
    folded = {n.casefold(): n for n in names}
    if text.casefold() in folded:
        return folded[text.casefold()]
    raise UserError(f"{value!r} is not a known {what}{suggestion(text, names)} "
                    f"(known: {', '.join(names)})")


def suggestion(value: str, names: Iterable[str]) -> str:
    """"; did you mean 'x'?" for the names closest to `value` ("" when none is close)."""
    folded = {n.casefold(): n for n in names}
    close = difflib.get_close_matches(str(value).casefold(), list(folded), n=2, cutoff=0.6)
    if not close:
        return ""
    return "; did you mean " + " or ".join(repr(folded[c]) for c in close) + "?"
