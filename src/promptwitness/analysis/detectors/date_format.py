"""``date-format``: a date or time written in another form (sans-IO).

The op, widened to the dates/times around it, is a date on both sides and the forms
differ (``analysis.forms.same_form``): ``2026-11-24`` → ``2026/11/24``, ``November``
→ ``Nov``, ``24.11.2026`` → ``11/24/2026``, ``10:05`` → ``10:05 AM``, a time's UTC
offset written another way (``+08:00`` → ``+0800``; another offset is a value:
``analysis.forms``).
"""

from __future__ import annotations

from promptwitness.analysis.changes import Change
from promptwitness.analysis.detectors._base import Context, short
from promptwitness.analysis.forms import form, is_date, same_form

__all__ = ["detect"]


def detect(ctx: Context) -> Change | None:
    if ctx.date is None:
        return None
    ta, tb = ctx.texts(ctx.date)
    if not (is_date(ta) and is_date(tb)) or same_form(ta, tb):
        return None
    detail = f"{short(ta, 40)} → {short(tb, 40)} (date form {form(ta)} → {form(tb)})"
    return ctx.change("date-format", ctx.date, detail)
