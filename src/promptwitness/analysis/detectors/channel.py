"""``param`` / ``header``: an overt change in a request parameter or header (sans-IO).

Tried after every covert kind: a look-alike inside a string parameter is still
``confusable``, a header date in another form is still ``date-format``.
"""

from __future__ import annotations

from promptwitness.analysis.changes import Change
from promptwitness.analysis.detectors._base import Context, short

__all__ = ["detect"]


def detect(ctx: Context) -> Change | None:
    if ctx.channel == "param":
        kind: str = "param"
    elif ctx.channel == "header":
        kind = "header"
    else:
        return None
    ta, tb = ctx.texts(ctx.word)
    return ctx.change(
        "param" if kind == "param" else "header",
        ctx.word,
        f"{short(ta)} → {short(tb)} ({kind} {ctx.diff.path})",
    )
