"""``whitespace``: only whitespace changed (sans-IO).

Both sides whitespace (space, tab, newline, NBSP U+00A0, thin space U+2009, narrow
NBSP U+202F, ideographic space U+3000, ...), or one side empty and the other
whitespace: one space → two, space → NBSP, trailing spaces, CRLF → LF.
"""

from __future__ import annotations

import regex

from promptwitness.analysis.changes import Change
from promptwitness.analysis.detectors._base import Context, describe

__all__ = ["detect"]

_SPACE = regex.compile(r"[\p{White_Space}]*")


def detect(ctx: Context) -> Change | None:
    ta, tb = ctx.texts(ctx.raw)
    if not (_SPACE.fullmatch(ta) and _SPACE.fullmatch(tb)):
        return None
    if not ta:
        detail = f"inserted {describe(tb)} (whitespace)"
    elif not tb:
        detail = f"removed {describe(ta)} (whitespace)"
    else:
        detail = f"{describe(ta)} → {describe(tb)} (whitespace)"
    return ctx.change("whitespace", ctx.raw, detail)
