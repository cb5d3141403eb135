"""``confusable``: the two sides differ but look the same (TS#39 skeletons) (sans-IO).

``'`` U+0027 vs ``’`` U+2019 vs ``ʼ`` U+02BC, Latin ``e`` vs Cyrillic ``е``, Greek
``ο`` vs Latin ``o``, ``–`` vs ``-``, full-width letters, digits and punctuation
(``ａ``, ``１``, ``，``: width variants fold to their ordinary form, see
``analysis.confusables``). Skeleton equality wins over ``punctuation``, with two
exceptions that are not look-alikes for a reader:

- whitespace-only pieces (NBSP vs space) are ``whitespace``;
- punctuation-only pieces of different lengths (``...`` vs ``…``) are a typographic
  substitution: ``punctuation``.
"""

from __future__ import annotations

import regex

from promptwitness.analysis.changes import Change
from promptwitness.analysis.confusables import confusable
from promptwitness.analysis.detectors._base import Context, describe, label, short

__all__ = ["detect"]

_SPACE = regex.compile(r"[\p{White_Space}]*")
_PUNCT = regex.compile(r"[\p{P}\p{S}\p{White_Space}]*")


def _detail(ca: str, cb: str, ta: str, tb: str) -> str:
    if len(ca) == len(cb):
        pairs = [(x, y) for x, y in zip(ca, cb, strict=True) if x != y]
        if 0 < len(pairs) <= 3:
            text = "; ".join(f"{label(x)} → {label(y)}" for x, y in pairs)
            where = f" in {short(ta, 40)} → {short(tb, 40)}" if len(ta) > 1 else ""
            return f"{text}{where} (look-alike)"
    return f"{describe(ca)} → {describe(cb)} (look-alike)"


def detect(ctx: Context) -> Change | None:
    for span in (ctx.raw, ctx.word):
        ta, tb = ctx.texts(span)
        if _SPACE.fullmatch(ta) or _SPACE.fullmatch(tb):
            return None
        if _PUNCT.fullmatch(ta) and _PUNCT.fullmatch(tb) and len(ta) != len(tb):
            return None
        if confusable(ta, tb):
            wa, wb = ctx.texts(ctx.word)
            ca, cb = ctx.changed()
            return ctx.change("confusable", ctx.word, _detail(ca, cb, wa, wb))
    return None
