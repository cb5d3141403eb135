"""Properties of classify: never raises, covers every op, deterministic, fast."""

from __future__ import annotations

import random
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from promptwitness.analysis.changes import KINDS, Change
from promptwitness.analysis.detectors import classify
from promptwitness.analysis.diff import Op, SegmentDiff, diff_text

# Pieces that exercise every detector: look-alikes, invisibles, spaces, dates, digits.
ALPHABET = [
    "a",
    "e",
    "o",
    "E",
    "F",
    " ",
    "  ",
    "\n",
    "\t",
    "-",
    "/",
    ".",
    ":",
    ",",
    "'",
    '"',
    "0",
    "1",
    "2",
    "9",
    "\u2019",
    "\u02bc",
    "\u0435",
    "\u03bf",
    "\u00a0",
    "\u2009",
    "\u202f",
    "\u3000",
    "\u200b",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u00ad",
    "\u202e",
    "\ufe0f",
    "\U000e0041",
    "\U000e0100",
    "\u2026",
    "\u2014",
    "\u201c",
    "\uff0c",
    "\uff41",
    "\u0301",
    "年",
    "月",
    "日",
    "{",
    "}",
    "[",
    "]",
    "Nov",
    "November",
    "Tue",
    "2026-11-24",
    "24.11.2026",
    "10:05",
    "PM",
    "\U0001f600",
    "\r",
]
texts = st.lists(st.sampled_from(ALPHABET), max_size=25).map("".join)
channels = st.sampled_from(["body", "param", "header", "order"])


def _covers(change: Change, op: Op) -> bool:
    ok_a = change.a_span is None or change.a_span[0] <= op.a_start and op.a_end <= change.a_span[1]
    ok_b = change.b_span is None or change.b_span[0] <= op.b_start and op.b_end <= change.b_span[1]
    return ok_a and ok_b


def _diff(a: str, b: str, channel: str = "body") -> SegmentDiff:
    return SegmentDiff("system[0].text", channel, "changed", a, b, diff_text(a, b))


@settings(max_examples=400, deadline=None)
@given(texts, texts, channels)
def test_every_op_is_covered_and_spans_are_exact(a: str, b: str, channel: str) -> None:
    d = _diff(a, b, channel)
    changes = classify(d)
    for op in d.ops:
        if op.tag != "equal":
            assert any(_covers(c, op) for c in changes), (op, changes)
    for c in changes:
        assert c.kind in KINDS
        assert c.a_span is not None and c.b_span is not None
        assert c.control == a[c.a_span[0] : c.a_span[1]]
        assert c.observed == b[c.b_span[0] : c.b_span[1]]
        assert c.detail and "\n" not in c.detail
        assert all(p.startswith("U+") or p.startswith("...") for p in c.code_points)


@settings(max_examples=200, deadline=None)
@given(texts, texts, channels)
def test_same_input_same_output(a: str, b: str, channel: str) -> None:
    first = classify(_diff(a, b, channel))
    second = classify(_diff(a, b, channel))
    assert first == second
    assert [c.context for c in first] == [c.context for c in second]


@settings(max_examples=200, deadline=None)
@given(texts, channels)
def test_equal_texts_give_no_change(a: str, channel: str) -> None:
    assert classify(_diff(a, a, channel)) == []


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40), st.text(max_size=40))
def test_arbitrary_unicode_never_raises(a: str, b: str) -> None:
    d = _diff(a, b)
    changes = classify(d)
    assert bool(changes) == (a != b)


@given(texts, st.sampled_from(["added", "removed"]), channels)
def test_added_or_removed_segment_is_one_change(text: str, status: str, channel: str) -> None:
    a, b = (None, text) if status == "added" else (text, None)
    d = SegmentDiff("x", channel, status, a, b, diff_text(a or "", b or ""))  # type: ignore[arg-type]
    (change,) = classify(d)
    assert change.control == a and change.observed == b
    expected = {"param": "param", "header": "header", "order": "ordering"}.get(channel, "content")
    assert change.kind == expected


def _big_text(n: int, seed: int) -> str:
    rng = random.Random(seed)
    words = ["the", "agent", "Forge", "tool", "file", "2026-11-23", "don't", "10:05", "run"]
    out: list[str] = []
    size = 0
    while size < n:
        w = rng.choice(words)
        out.append(w)
        size += len(w) + 1
    return " ".join(out)


def test_100kb_segment_with_a_few_changes_is_fast() -> None:
    a = _big_text(100_000, 1)
    b = a
    edits = [("2026-11-23", "2026/11/24"), ("don't", "don\u2019t"), ("Forge", "FORGE")]
    for old, new in edits:
        i = b.index(old, len(b) // 2)
        b = b[:i] + new + b[i + len(old) :]
    b = b[:5000] + "\u200b" + b[5000:]
    d = _diff(a, b)
    start = time.perf_counter()
    for _ in range(20):
        changes = classify(d)
    per_call = (time.perf_counter() - start) / 20
    kinds = sorted(c.kind for c in changes)
    assert kinds == ["casing", "confusable", "date-format", "invisible"]
    assert per_call < 0.05, per_call
