"""``content``: anything else, words or sentences added, removed or changed (sans-IO).

The fallback: it always answers, so no op is ever dropped.
"""

from __future__ import annotations

from promptwitness.analysis.changes import Change
from promptwitness.analysis.detectors._base import Context, short

__all__ = ["detect"]


def detect(ctx: Context) -> Change:
    ta, tb = ctx.texts(ctx.word)
    if not ta:
        detail = f"inserted {short(tb)}"
    elif not tb:
        detail = f"removed {short(ta)}"
    else:
        detail = f"{short(ta)} → {short(tb)}"
    return ctx.change("content", ctx.word, detail)
