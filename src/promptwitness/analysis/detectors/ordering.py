"""``ordering``: the same members in another order (sans-IO), judged per segment.

- channel ``order`` (e.g. ``tools.order``, names joined by ``\\n``): the lines are the
  same multiset in another order;
- JSON text (``tools[X].schema``, ``params.*``, ``metadata.*``, any segment whose text
  is a JSON object or array): the parsed values are equal but the key order differs,
  or they are equal once array elements are sorted (an array reordered).

The Change spans the whole segment on both sides: the order *is* the signal. A JSON
text that parses to the same value with the same key order (only spacing or escapes
differ) is left to the per-op detectors.
"""

from __future__ import annotations

import json
from typing import Any

from promptwitness.analysis.changes import Change
from promptwitness.analysis.detectors._base import short
from promptwitness.analysis.diff import SegmentDiff

__all__ = ["detect_segment"]


def _whole(diff: SegmentDiff, a: str, b: str, detail: str) -> Change:
    return Change(
        path=diff.path,
        channel=diff.channel,
        kind="ordering",
        control=a,
        observed=b,
        a_span=(0, len(a)),
        b_span=(0, len(b)),
        code_points=(),
        detail=detail,
        context=b[:40],
    )


def _lines(diff: SegmentDiff, a: str, b: str) -> Change | None:
    la, lb = a.split("\n"), b.split("\n")
    if la == lb or sorted(la) != sorted(lb):
        return None
    moved = next(x for x, y in zip(la, lb, strict=True) if x != y)
    detail = f"same {len(la)} members, another order (first moved: {short(moved, 40)})"
    return _whole(diff, a, b, detail)


def _parse(text: str) -> Any:
    head = text.lstrip()[:1]
    if head not in ("{", "["):
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _canon(value: Any, sort_arrays: bool) -> str:
    def norm(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        if isinstance(v, list):
            items = [norm(x) for x in v]
            if sort_arrays:
                items.sort(key=lambda x: json.dumps(x, sort_keys=True, ensure_ascii=False))
            return items
        return v

    return json.dumps(norm(value), sort_keys=True, ensure_ascii=False)


def _first_key_order_change(va: Any, vb: Any) -> tuple[list[str], list[str]] | None:
    if isinstance(va, dict) and isinstance(vb, dict):
        ka, kb = list(va), list(vb)
        if ka != kb:
            return ka, kb
        for k in ka:
            got = _first_key_order_change(va[k], vb[k])
            if got is not None:
                return got
    elif isinstance(va, list) and isinstance(vb, list) and len(va) == len(vb):
        for x, y in zip(va, vb, strict=True):
            got = _first_key_order_change(x, y)
            if got is not None:
                return got
    return None


def _json(diff: SegmentDiff, a: str, b: str) -> Change | None:
    va, vb = _parse(a), _parse(b)
    if va is None or vb is None:
        return None
    if _canon(va, False) == _canon(vb, False):
        keys = _first_key_order_change(va, vb)
        if keys is None:
            return None  # same value, same key order: only the spelling differs
        ka, kb = keys
        before, after = short(", ".join(ka), 50), short(", ".join(kb), 50)
        detail = f"same keys, another order: {before} → {after}"
        return _whole(diff, a, b, detail)
    if _canon(va, True) == _canon(vb, True):
        return _whole(diff, a, b, "same array members, another order")
    return None


def detect_segment(diff: SegmentDiff) -> Change | None:
    """An ``ordering`` Change for the whole segment, or None."""
    if diff.status != "changed" or diff.a is None or diff.b is None or diff.a == diff.b:
        return None
    if diff.channel == "order":
        got = _lines(diff, diff.a, diff.b)
        if got is not None:
            return got
    return _json(diff, diff.a, diff.b)
