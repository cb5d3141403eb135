"""diff_text / apply / diff_segments: code-point exactness, tiling, speed, alignment."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from promptwitness.analysis import diff as diffmod
from promptwitness.analysis.diff import (
    Op,
    SegmentDiff,
    apply,
    diff_prompts,
    diff_segments,
    diff_text,
)
from promptwitness.model import Part, Prompt, Segment, Tool

# Adversarial code points: look-alikes, invisibles, astral, ZWJ, combining, CR/LF.
TRICKY = [
    "'",
    "\u2019",
    "\u02bc",
    "\u200b",
    "\u2060",
    "\U000e0041",
    "\ufe0f",
    "\U000e0100",
    "\u00a0",
    "\u2009",
    "\u0430",
    "\u0435",
    "\u043e",
    "\u03bf",
    "\uff01",
    "\u202e",
    "\u200d",
    "\u0301",
    "\U0001f468",
    "\r",
    "\n",
    "\r\n",
    "-",
    "/",
    "a",
    "e",
    "o",
    " ",
]
tricky_text = st.lists(st.sampled_from(TRICKY), max_size=40).map("".join)
any_text = st.one_of(st.text(max_size=60), tricky_text)


def check(a: str, b: str, ops: tuple[Op, ...]) -> None:
    assert apply(a, ops, b) == b
    ai = bi = 0
    for i, op in enumerate(ops):
        assert (op.a_start, op.b_start) == (ai, bi)
        ai, bi = op.a_end, op.b_end
        if op.tag == "equal":
            assert a[op.a_start : op.a_end] == b[op.b_start : op.b_end]
            assert op.a_end > op.a_start
        else:
            assert (
                op.tag
                == {
                    (True, True): "replace",
                    (True, False): "delete",
                    (False, True): "insert",
                }[(op.a_end > op.a_start, op.b_end > op.b_start)]
            )
        if i:  # normalised: equal and change alternate
            assert (op.tag == "equal") != (ops[i - 1].tag == "equal")
    assert (ai, bi) == (len(a), len(b))


@st.composite
def edited(draw: st.DrawFn) -> tuple[str, str]:
    """A text and a copy with a few insertions, deletions and substitutions."""
    a = draw(st.one_of(any_text, st.lists(tricky_text, max_size=5).map("\n".join)))
    b = list(a)
    for _ in range(draw(st.integers(0, 6))):
        pos = draw(st.integers(0, len(b)))
        kind = draw(st.sampled_from(["ins", "del", "sub"]))
        piece = draw(st.sampled_from(TRICKY))
        if kind == "ins" or pos == len(b):
            b.insert(pos, piece)
        elif kind == "del":
            del b[pos]
        else:
            b[pos] = piece
    return a, "".join(b)


@settings(max_examples=200)
@given(any_text, any_text)
def test_apply_rebuilds_b_for_arbitrary_texts(a: str, b: str) -> None:
    check(a, b, diff_text(a, b))


@settings(max_examples=200)
@given(edited())
def test_apply_rebuilds_b_for_small_edits(pair: tuple[str, str]) -> None:
    a, b = pair
    check(a, b, diff_text(a, b))


def lcs(a: str, b: str) -> int:
    prev = [0] * (len(b) + 1)
    for ca in a:
        cur = [0]
        for j, cb in enumerate(b):
            cur.append(prev[j] + 1 if ca == cb else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


@settings(max_examples=200)
@given(
    st.text(alphabet="ab\u2019\u200b", max_size=25), st.text(alphabet="ab\u2019\u200b", max_size=25)
)
def test_small_diffs_are_minimal(a: str, b: str) -> None:
    ops = diff_text(a, b)
    changed = sum((o.a_end - o.a_start) + (o.b_end - o.b_start) for o in ops if o.tag != "equal")
    assert changed == len(a) + len(b) - 2 * lcs(a, b)


@contextmanager
def coarse() -> Iterator[None]:
    """Force the fallback paths: no exact Myers, tiny budgets for difflib."""
    with (
        mock.patch.object(diffmod, "_CHAR_MAX_D", 1),
        mock.patch.object(diffmod, "_TOKEN_MAX_D", 1),
        mock.patch.object(diffmod, "_CHAR_LIMIT", 30),
        mock.patch.object(diffmod, "_TOKEN_LIMITS", (60, 20)),
    ):
        yield


@settings(max_examples=200)
@given(edited())
def test_fallback_paths_still_rebuild_b(pair: tuple[str, str]) -> None:
    a, b = pair
    with coarse():
        check(a, b, diff_text(a, b))


def test_identical_and_empty() -> None:
    assert diff_text("", "") == ()
    s = "it\u2019s \U000e0041\r\n"
    assert diff_text(s, s) == (Op("equal", 0, len(s), 0, len(s)),)
    assert diff_text("", "ab") == (Op("insert", 0, 0, 0, 2),)
    assert diff_text("ab", "") == (Op("delete", 0, 2, 0, 0),)


def test_apostrophe_is_one_code_point_replace() -> None:
    assert diff_text("it's", "it\u2019s") == (
        Op("equal", 0, 2, 0, 2),
        Op("replace", 2, 3, 2, 3),
        Op("equal", 3, 4, 3, 4),
    )


def test_date_separators() -> None:
    assert diff_text("on 2026-11-24.", "on 2026/11/24.") == (
        Op("equal", 0, 7, 0, 7),
        Op("replace", 7, 8, 7, 8),
        Op("equal", 8, 10, 8, 10),
        Op("replace", 10, 11, 10, 11),
        Op("equal", 11, 14, 11, 14),
    )


def test_offsets_are_code_points() -> None:
    # Astral characters count as one (not two UTF-16 units, not four bytes).
    assert diff_text("\U0001f468a\U000e0041", "\U0001f468b\U000e0041") == (
        Op("equal", 0, 1, 0, 1),
        Op("replace", 1, 2, 1, 2),
        Op("equal", 2, 3, 2, 3),
    )
    # A zero-width space is a change, not noise.
    assert diff_text("ab", "a\u200bb") == (
        Op("equal", 0, 1, 0, 1),
        Op("insert", 1, 1, 1, 2),
        Op("equal", 1, 2, 2, 3),
    )
    # NFC vs NFD differ.
    assert diff_text("\u00e9", "e\u0301")[0].tag == "replace"


def test_apply_rejects_ops_that_do_not_tile() -> None:
    for ops in (
        (Op("equal", 0, 1, 0, 1),),
        (Op("equal", 1, 2, 1, 2),),
        (Op("equal", 0, 2, 0, 1), Op("insert", 2, 2, 1, 2)),
    ):
        try:
            apply("ab", ops, "ab")
        except ValueError:
            continue
        raise AssertionError(f"accepted {ops}")


def big_text(size: int, rng: random.Random) -> str:
    words = "the agent reads a file and calls a tool it's model system prompt date".split()
    lines = []
    total = 0
    while total < size:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(3, 14))) + "\n"
        lines.append(line)
        total += len(line)
    return "".join(lines)


def test_100kb_with_a_handful_of_changes_is_fast() -> None:
    rng = random.Random(7)
    a = big_text(100_000, rng)
    for text in (a, a.replace("\n", " ")):  # many lines, and one 100 KB line
        b = list(text)
        for pos in sorted(rng.sample(range(len(b)), 6)):
            b[pos] = rng.choice(["\u2019", "\u200b", "/", "\u00a0"])
        new = "".join(b)
        start = time.perf_counter()
        ops = diff_text(text, new)
        elapsed = time.perf_counter() - start
        check(text, new, ops)
        assert sum(o.a_end - o.a_start for o in ops if o.tag != "equal") <= 6
        assert elapsed < 0.5, elapsed


def test_unrelated_large_texts_are_still_exact() -> None:
    rng = random.Random(8)
    a, b = big_text(30_000, rng), big_text(30_000, rng)
    start = time.perf_counter()
    ops = diff_text(a, b)
    assert time.perf_counter() - start < 3.0
    check(a, b, ops)


def seg(path: str, value: str, channel: str = "body") -> Segment:
    return Segment(path, value, channel)


def test_diff_segments_alignment_and_statuses() -> None:
    a = [
        seg("model", "m", "param"),
        seg("system[0].text", "it's"),
        seg("tools[X].description", "x"),
        seg("headers.h", "1", "header"),
    ]
    b = [
        seg("tools[Y].description", "y"),
        seg("system[0].text", "it\u2019s"),
        seg("model", "m", "param"),
        seg("headers.h", "2", "header"),
    ]
    got = diff_segments(a, b)
    assert [(d.path, d.channel, d.status, d.a, d.b) for d in got] == [
        ("system[0].text", "body", "changed", "it's", "it\u2019s"),
        ("tools[X].description", "body", "removed", "x", None),
        ("headers.h", "header", "changed", "1", "2"),
        ("tools[Y].description", "body", "added", None, "y"),
    ]
    assert got[0].ops == diff_text("it's", "it\u2019s")
    assert got[1].ops == (Op("delete", 0, 1, 0, 0),)
    assert got[3].ops == (Op("insert", 0, 0, 0, 1),)
    assert diff_segments(a, a) == []


def test_diff_segments_with_repeated_paths_aligns_occurrences() -> None:
    got = diff_segments([seg("p", "1"), seg("p", "2")], [seg("p", "1")])
    assert got == [SegmentDiff("p", "body", "removed", "2", None, (Op("delete", 0, 1, 0, 0),))]


def test_diff_prompts() -> None:
    a = Prompt(protocol="anthropic", model="m", tools=(Tool("A", "d"), Tool("B", "e")))
    b = Prompt(
        protocol="anthropic",
        model="m",
        tools=(Tool("B", "e"), Tool("A", "d")),
        system=(Part("text", "\u200b"),),
    )
    got = diff_prompts(a, b)
    assert [(d.path, d.channel, d.status) for d in got] == [
        ("tools.order", "order", "changed"),
        ("system[0].text", "body", "added"),
    ]
    assert diff_prompts(a, a) == []
