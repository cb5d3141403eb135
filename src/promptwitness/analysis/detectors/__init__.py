"""Change detectors: classify every difference of a segment into one kind (sans-IO).

``classify(diff)`` turns one :class:`~promptwitness.analysis.diff.SegmentDiff` into
:class:`~promptwitness.analysis.changes.Change` objects:

1. Added / removed segment: one Change with ``control`` or ``observed`` None, kind
   ``param`` / ``header`` / ``ordering`` by channel (``param``, ``header``, ``order``),
   else ``content``.
2. Segment-level ``ordering`` (``detectors.ordering``): the ``order`` channel's lines or
   a JSON text's keys/array members, same members in another order: one Change.
3. Otherwise per op. Each non-equal op that touches an invisible code point is its own
   group; the other ops are grouped by the token (date, else word / number) they fall
   in, so ``2026-11-23`` → ``2026/11/24`` (three code-point ops) is one group. Each
   group goes through ``DETECTORS`` in priority order; the first answer wins and
   ``content`` always answers, so no op is dropped.

Form segments (channel ``serialisation``, ``analysis.serialisation.form_segments``) are
not text: they are compared by ``analysis.serialisation.compare_segment``, which gives
``serialisation`` changes only for a form that differs (not for values that differ,
nor for a form segment present on one side only), so such a diff may give none.

Kinds: see DESIGN.md. Priority (covert before overt): invisible, confusable,
whitespace, casing, punctuation, date-format, value, param/header by channel, content.
Cost is proportional to the number and size of the changes: widening looks at most
``_CAP`` code points either side and searches dates in a small window; only a JSON or
``order`` segment is parsed whole.
"""

from __future__ import annotations

from collections.abc import Callable

import regex

from promptwitness.analysis.changes import Change, Kind
from promptwitness.analysis.detectors import (
    casing,
    channel,
    confusable,
    content,
    date_format,
    invisible,
    ordering,
    punctuation,
    value,
    whitespace,
)
from promptwitness.analysis.detectors._base import Context, Span, code_points, short
from promptwitness.analysis.diff import Op, SegmentDiff
from promptwitness.analysis.forms import find_dates

__all__ = ["DETECTORS", "Context", "classify"]

Detector = Callable[[Context], Change | None]

DETECTORS: tuple[tuple[str, Detector], ...] = (
    ("invisible", invisible.detect),
    ("confusable", confusable.detect),
    ("whitespace", whitespace.detect),
    ("casing", casing.detect),
    ("punctuation", punctuation.detect),
    ("date-format", date_format.detect),
    ("value", value.detect),
    ("channel", channel.detect),
    ("content", content.detect),
)

_CAP = 64  # at most this many code points of widening on either side
_DATE_WINDOW = 40  # dates are searched this far around a group
_DATE_MAX_OP = 64  # longer ops are not dates
_TOKEN = regex.compile(r"[\p{L}\p{N}\p{M}_]")
_NUMSEP = ".,:/-"
_DIGIT = regex.compile(r"\d")


def _token_at(text: str, i: int) -> bool:
    c = text[i]
    if _TOKEN.match(c):
        return True
    return (
        c in _NUMSEP
        and 0 < i < len(text) - 1
        and _DIGIT.match(text[i - 1]) is not None
        and _DIGIT.match(text[i + 1]) is not None
    )


def _word_extent(a: str, b: str, span: Span, left: int, right: int) -> tuple[int, int]:
    """How far the enclosing word/number reaches left and right (equal text only)."""
    a0, a1, b0, b1 = span
    starts = (a0 < a1 and _token_at(a, a0)) or (b0 < b1 and _token_at(b, b0))
    ends = (a0 < a1 and _token_at(a, a1 - 1)) or (b0 < b1 and _token_at(b, b1 - 1))
    if a0 == a1 and b0 == b1:
        return 0, 0
    lw = 0
    if starts:
        while lw < min(left, _CAP) and _token_at(a, a0 - lw - 1):
            lw += 1
    rw = 0
    if ends:
        while rw < min(right, _CAP) and _token_at(a, a1 + rw):
            rw += 1
    return lw, rw


def _dates_around(text: str, x0: int, x1: int) -> tuple[int, int] | None:
    lo = max(0, x0 - _DATE_WINDOW)
    hi = min(len(text), x1 + _DATE_WINDOW)
    found = [(s, e) for s, e in find_dates(text, lo, hi) if s <= x1 and e >= x0]
    if not found:
        return None
    return min(s for s, _ in found), max(e for _, e in found)


def _date_extent(a: str, b: str, span: Span, left: int) -> tuple[int, int] | None:
    a0, a1, b0, b1 = span
    if a1 - a0 > _DATE_MAX_OP or b1 - b0 > _DATE_MAX_OP:
        return None
    da = _dates_around(a, a0, a1)
    db = _dates_around(b, b0, b1)
    if da is None or db is None:
        return None
    ld = min(max(a0 - da[0], b0 - db[0], 0), left)
    rd = max(da[1] - a1, db[1] - b1, 0)
    return ld, rd


def _groups(diff: SegmentDiff, a: str, b: str) -> list[Context]:
    ops = diff.ops
    out: list[Context] = []
    floor_a = 0  # nothing left of this in a may be widened over again
    i = 0
    while i < len(ops):
        op = ops[i]
        if op.tag == "equal":
            i += 1
            continue
        a0, b0 = op.a_start, op.b_start
        left = a0 - max(floor_a, ops[i - 1].a_start if i > 0 else 0)
        left = max(left, 0)
        j = i
        if _is_invisible(a, b, op):
            span = (op.a_start, op.a_end, op.b_start, op.b_end)
            out.append(Context(diff, a, b, (op,), span, span, None))
            floor_a = op.a_end
            i += 1
            continue
        while True:
            last = ops[j]
            a1, b1 = last.a_end, last.b_end
            right = ops[j + 1].a_end - a1 if j + 1 < len(ops) else 0
            nxt = ops[j + 2] if j + 2 < len(ops) else None
            raw = (a0, a1, b0, b1)
            lw, rw = _word_extent(a, b, raw, left, right)
            dated = _date_extent(a, b, raw, left)
            reach = max(rw, dated[1] if dated else 0)
            if nxt is not None and right > 0 and reach >= right and not _is_invisible(a, b, nxt):
                j += 2
                continue
            break
        word = (a0 - lw, a1 + rw, b0 - lw, b1 + rw)
        date: Span | None = None
        if dated is not None:
            ld, rd = dated[0], min(dated[1], right)
            date = (a0 - ld, a1 + rd, b0 - ld, b1 + rd)
        group = tuple(o for o in ops[i : j + 1] if o.tag != "equal")
        out.append(Context(diff, a, b, group, raw, word, date))
        floor_a = max(word[1], date[1] if date else 0)
        i = j + 1
    return out


def _is_invisible(a: str, b: str, op: Op) -> bool:
    return invisible.has_invisible(a[op.a_start : op.a_end]) or invisible.has_invisible(
        b[op.b_start : op.b_end]
    )


def _whole_segment(diff: SegmentDiff) -> Change:
    """One Change for an added or removed segment."""
    kind: Kind
    if diff.channel == "param":
        kind = "param"
    elif diff.channel == "header":
        kind = "header"
    elif diff.channel == "order":
        kind = "ordering"
    else:
        kind = "content"
    a, b = diff.a, diff.b
    detail = f"segment added: {short(b or '')}" if a is None else f"segment removed: {short(a)}"
    return Change(
        path=diff.path,
        channel=diff.channel,
        kind=kind,
        control=a,
        observed=b,
        a_span=None if a is None else (0, len(a)),
        b_span=None if b is None else (0, len(b)),
        code_points=code_points(a or "", b or ""),
        detail=detail,
        context=(b if b is not None else a or "")[:40],
    )


def classify(diff: SegmentDiff) -> list[Change]:
    """Every difference of one segment, classified; at least one Change per non-equal op
    (a form segment: see the module docstring)."""
    if diff.channel == "serialisation":
        from promptwitness.analysis.serialisation import compare_segment

        return compare_segment(diff)
    if diff.a is None or diff.b is None or diff.status in ("added", "removed"):
        return [_whole_segment(diff)]
    if diff.a == diff.b:
        return []
    whole = ordering.detect_segment(diff)
    if whole is not None:
        return [whole]
    changes: list[Change] = []
    for ctx in _groups(diff, diff.a, diff.b):
        for _name, detect in DETECTORS:
            got = detect(ctx)
            if got is not None:
                changes.append(got)
                break
    return changes
