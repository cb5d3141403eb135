"""``punctuation``: only punctuation or symbols changed (sans-IO).

``...`` → ``…``, `` — `` → `` - ``, ``,`` added or removed. Both sides consist of
punctuation, symbols and whitespace only, and at least one side has punctuation or a
symbol. Look-alikes of the same length (``'`` → ``’``, ``"`` → ``“``, ``:`` → ``：``)
are ``confusable``, tried first.
"""

from __future__ import annotations

import regex

from promptwitness.analysis.changes import Change
from promptwitness.analysis.detectors._base import Context, describe

__all__ = ["detect"]

_PUNCT = regex.compile(r"[\p{P}\p{S}\p{White_Space}]*")
_MARK = regex.compile(r"[\p{P}\p{S}]")


def detect(ctx: Context) -> Change | None:
    ta, tb = ctx.texts(ctx.raw)
    if not (_PUNCT.fullmatch(ta) and _PUNCT.fullmatch(tb)):
        return None
    if not (_MARK.search(ta) or _MARK.search(tb)):
        return None
    return ctx.change("punctuation", ctx.raw, f"{describe(ta)} → {describe(tb)} (punctuation)")
