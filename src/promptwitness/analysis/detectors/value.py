"""``value``: the same form, another value (sans-IO); the one *expected* kind.

The op widened to its date/time, or else to its word/number, has the same form on both
sides (``analysis.forms.same_form``) but another value: ``2026-11-23`` → ``2026-11-24``,
``10:05`` → ``19:05``, ``Tuesday`` → ``Wednesday``, an id or number of the same shape.
Words without digits that are not dates (``cat`` → ``dog``) are ``content``.

In the ``param`` and ``header`` channels a changed value is the overt ``param`` /
``header`` kind instead: a request parameter or header that differs is what it is.
"""

from __future__ import annotations

from promptwitness.analysis.changes import Change
from promptwitness.analysis.detectors._base import Context, short
from promptwitness.analysis.forms import form, has_digit, is_date, same_form

__all__ = ["detect"]


def detect(ctx: Context) -> Change | None:
    if ctx.channel in ("param", "header"):
        return None
    if ctx.date is not None:
        ta, tb = ctx.texts(ctx.date)
        if ta != tb and is_date(ta) and is_date(tb) and same_form(ta, tb):
            detail = f"{short(ta, 40)} → {short(tb, 40)} (same form {form(ta)})"
            return ctx.change("value", ctx.date, detail)
    ta, tb = ctx.texts(ctx.word)
    if ta != tb and has_digit(ta) and has_digit(tb) and same_form(ta, tb):
        detail = f"{short(ta, 40)} → {short(tb, 40)} (same form {form(ta)})"
        return ctx.change("value", ctx.word, detail)
    return None
