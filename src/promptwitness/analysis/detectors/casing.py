"""``casing``: the same word(s) in another case, ``Forge`` → ``FORGE`` (sans-IO)."""

from __future__ import annotations

from promptwitness.analysis.changes import Change
from promptwitness.analysis.detectors._base import Context, short

__all__ = ["detect"]


def detect(ctx: Context) -> Change | None:
    ta, tb = ctx.texts(ctx.word)
    if ta == tb or ta.casefold() != tb.casefold():
        return None
    return ctx.change("casing", ctx.word, f"{short(ta)} → {short(tb)} (casing)")
