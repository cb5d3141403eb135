"""Code-point-exact, segment-aligned differences (sans-IO).

Rules:
- Offsets are Python string indices, i.e. Unicode code points: an astral character,
  a ZWJ, a combining mark or a CR each count as one. Nothing is normalised, folded or
  skipped: two texts are equal only when every code point is.
- ``diff_text`` returns ops that tile both texts from start to end, alternating
  ``equal`` with one of ``insert`` / ``delete`` / ``replace``; ``apply(a, ops, b)``
  rebuilds ``b`` from them (the property the tests check for arbitrary text).
- Large texts are diffed coarse to fine: common prefix and suffix are cut off first,
  then what remains is matched by lines, the changed lines by words, the changed words
  by code points (``difflib.SequenceMatcher``, ``autojunk=False``, so no character is
  ever ignored as "junk"). A region too large for a code-point match at the last level
  is reported as one ``replace``: coarser, never wrong.
- Segments are aligned by path: the paths of ``a`` in order, then those only in ``b``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal

from promptwitness.analysis.segments import segments
from promptwitness.model import Prompt, Segment

__all__ = ["Op", "SegmentDiff", "apply", "diff_prompts", "diff_segments", "diff_text"]

Tag = Literal["equal", "insert", "delete", "replace"]
Status = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class Op:
    """``a[a_start:a_end]`` becomes ``b[b_start:b_end]`` (equal: the two are the same)."""

    tag: Tag
    a_start: int
    a_end: int
    b_start: int
    b_end: int


@dataclass(frozen=True)
class SegmentDiff:
    """One segment that differs between two prompts.

    ``a`` is None when the segment was added, ``b`` when it was removed.
    """

    path: str
    channel: str
    status: Status
    a: str | None
    b: str | None
    ops: tuple[Op, ...]


# Myers' O(ND) diff is exact and fast while the number of edits D is small: a handful
# of changed code points in a 100 KB prompt costs a few thousand steps. Past these
# bounds a region is matched coarse to fine instead (lines, then words, then code
# points), with difflib at each level.
_CHAR_MAX_D = 64
_TOKEN_MAX_D = 400
# difflib's cost grows with len(a) * len(b) (worse with many repeated elements): past
# this product a region is reported as one replace.
# Lines are mostly distinct (cheap); words repeat a lot (dear).
_CHAR_LIMIT = 1_000_000
_TOKEN_LIMITS = (25_000_000, 1_000_000)

_LINES = re.compile(r"[^\n]*\n|[^\n]+")
_WORDS = re.compile(r"\s+|\w+|[^\w\s]")
_LEVELS = (_LINES, _WORDS)

Seq = str | list[str]
Raw = list[tuple[bool, int, int, int, int]]  # (equal, a0, a1, b0, b1)


def _common_prefix(a: Seq, b: Seq, i: int = 0, j: int = 0) -> int:
    """Length of the common prefix of a[i:] and b[j:]; slice comparisons run in C."""
    hi = min(len(a) - i, len(b) - j)
    if hi <= 0 or a[i] != b[j]:
        return 0
    # Gallop, then bisect: cheap both for short and for long equal runs.
    lo, step = 1, 1
    while lo < hi:
        step = min(step * 2, hi - lo)
        if a[i + lo : i + lo + step] == b[j + lo : j + lo + step]:
            lo += step
        else:
            hi = lo + step - 1
            break
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[i + lo : i + mid] == b[j + lo : j + mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: Seq, b: Seq, limit: int) -> int:
    """Length of the common suffix of a and b, not reaching into the first ``limit``."""
    hi = min(len(a), len(b)) - limit
    lo = 0
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid : len(a) - lo] == b[len(b) - mid : len(b) - lo]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _myers(a: Seq, b: Seq, max_d: int) -> Raw | None:
    """Shortest edit script of a -> b (Myers 1986), or None when it needs more than max_d edits."""
    n, m = len(a), len(b)
    off = max_d + 1
    v = [0] * (2 * max_d + 3)
    trace: list[list[int]] = []
    for d in range(max_d + 1):
        trace.append(v[off - d - 1 : off + d + 2])
        for k in range(-d, d + 1, 2):
            if k == -d or (k != d and v[off + k - 1] < v[off + k + 1]):
                x = v[off + k + 1]
            else:
                x = v[off + k - 1] + 1
            y = x - k
            x += _common_prefix(a, b, x, y) if x < n and y < m else 0
            v[off + k] = x
            if x >= n and x - k >= m:
                return _backtrack(trace, n, m, d)
    return None


def _backtrack(trace: list[list[int]], n: int, m: int, d_end: int) -> Raw:
    rev: Raw = []
    x, y = n, m
    for d in range(d_end, 0, -1):
        vp = trace[d]  # v as it was when step d began; index k maps to k + d + 1
        k = x - y
        down = k == -d or (k != d and vp[k - 1 + d + 1] < vp[k + 1 + d + 1])
        pk = k + 1 if down else k - 1
        px = vp[pk + d + 1]
        py = px - pk
        mx = px if down else px + 1
        my = mx - k
        if x > mx:
            rev.append((True, mx, x, my, y))
        if down:
            rev.append((False, px, px, py, py + 1))
        else:
            rev.append((False, px, px + 1, py, py))
        x, y = px, py
    if x > 0:
        rev.append((True, 0, x, 0, y))
    rev.reverse()
    return rev


def _shift(raw: Raw, ao: int, bo: int, out: Raw) -> None:
    for eq, a0, a1, b0, b1 in raw:
        out.append((eq, ao + a0, ao + a1, bo + b0, bo + b1))


def _diff(a: str, b: str, ao: int, bo: int, level: int, out: Raw) -> None:
    p = _common_prefix(a, b)
    s = _common_suffix(a, b, p)
    if p:
        out.append((True, ao, ao + p, bo, bo + p))
    ma, mb = a[p : len(a) - s], b[p : len(b) - s]
    mao, mbo = ao + p, bo + p
    if ma or mb:
        raw = _myers(ma, mb, _CHAR_MAX_D) if ma and mb else None
        if not ma or not mb:
            out.append((False, mao, mao + len(ma), mbo, mbo + len(mb)))
        elif raw is not None:
            _shift(raw, mao, mbo, out)
        elif level < len(_LEVELS):
            _diff_tokens(ma, mb, mao, mbo, level, out)
        elif len(ma) * len(mb) <= _CHAR_LIMIT:
            sm = SequenceMatcher(None, ma, mb, autojunk=False)
            for tag, i1, i2, j1, j2 in sm.get_opcodes():
                out.append((tag == "equal", mao + i1, mao + i2, mbo + j1, mbo + j2))
        else:
            out.append((False, mao, mao + len(ma), mbo, mbo + len(mb)))
    if s:
        out.append((True, ao + len(a) - s, ao + len(a), bo + len(b) - s, bo + len(b)))


def _diff_tokens(a: str, b: str, ao: int, bo: int, level: int, out: Raw) -> None:
    pattern = _LEVELS[level]
    ta: list[str] = pattern.findall(a)
    tb: list[str] = pattern.findall(b)
    if len(ta) <= 1 and len(tb) <= 1:
        _diff(a, b, ao, bo, level + 1, out)
        return
    blocks = _myers(ta, tb, _TOKEN_MAX_D)
    if blocks is None:
        if len(ta) * len(tb) > _TOKEN_LIMITS[level]:
            out.append((False, ao, ao + len(a), bo, bo + len(b)))
            return
        sm = SequenceMatcher(None, ta, tb, autojunk=False)
        blocks = [(t == "equal", i1, i2, j1, j2) for t, i1, i2, j1, j2 in sm.get_opcodes()]
    # Token offsets (in code points) so token ranges map back to text ranges.
    pa = [0]
    for t in ta:
        pa.append(pa[-1] + len(t))
    pb = [0]
    for t in tb:
        pb.append(pb[-1] + len(t))
    pending: tuple[int, int, int, int] | None = None  # consecutive token edits, merged
    for eq, i1, i2, j1, j2 in blocks + [(True, len(ta), len(ta), len(tb), len(tb))]:
        if not eq:
            pending = (pending[0], i2, pending[2], j2) if pending else (i1, i2, j1, j2)
            continue
        if pending is not None:
            i0, i3, j0, j3 = pending
            a0, a1, b0, b1 = pa[i0], pa[i3], pb[j0], pb[j3]
            _diff(a[a0:a1], b[b0:b1], ao + a0, bo + b0, level + 1, out)
            pending = None
        if i2 > i1:
            out.append((True, ao + pa[i1], ao + pa[i2], bo + pb[j1], bo + pb[j2]))


def _normalise(raw: Raw) -> tuple[Op, ...]:
    """Merge neighbours: one equal op between two changes, one change between equals."""
    merged: list[tuple[bool, int, int, int, int]] = []
    for eq, a0, a1, b0, b1 in raw:
        if a0 == a1 and b0 == b1:
            continue
        if merged and merged[-1][0] == eq:
            last = merged[-1]
            merged[-1] = (eq, last[1], a1, last[3], b1)
        else:
            merged.append((eq, a0, a1, b0, b1))
    ops: list[Op] = []
    for eq, a0, a1, b0, b1 in merged:
        tag: Tag
        if eq:
            tag = "equal"
        elif a0 == a1:
            tag = "insert"
        elif b0 == b1:
            tag = "delete"
        else:
            tag = "replace"
        ops.append(Op(tag, a0, a1, b0, b1))
    return tuple(ops)


def diff_text(a: str, b: str) -> tuple[Op, ...]:
    """Code-point ops turning ``a`` into ``b``; ``()`` when both are empty."""
    raw: Raw = []
    _diff(a, b, 0, 0, 0, raw)
    return _normalise(raw)


def apply(a: str, ops: Sequence[Op], b: str) -> str:
    """Rebuild the new text: equal ranges taken from ``a``, the others from ``b``.

    Raises ``ValueError`` when the ops do not tile ``a`` and ``b`` from start to end.
    """
    pieces: list[str] = []
    ai = bi = 0
    for op in ops:
        if op.a_start != ai or op.b_start != bi or op.a_end < ai or op.b_end < bi:
            raise ValueError(f"ops do not tile the texts at {op}")
        if op.tag == "equal":
            if op.a_end - op.a_start != op.b_end - op.b_start:
                raise ValueError(f"equal op of unequal lengths: {op}")
            pieces.append(a[op.a_start : op.a_end])
        else:
            pieces.append(b[op.b_start : op.b_end])
        ai, bi = op.a_end, op.b_end
    if ai != len(a) or bi != len(b):
        raise ValueError("ops stop before the end of the texts")
    return "".join(pieces)


def _keyed(segs: Sequence[Segment]) -> dict[tuple[str, int], Segment]:
    # A path should occur once; if it does not, the n-th occurrences are aligned.
    seen: dict[str, int] = {}
    out: dict[tuple[str, int], Segment] = {}
    for s in segs:
        n = seen[s.path] = seen.get(s.path, 0) + 1
        out[(s.path, n)] = s
    return out


def diff_segments(a: Sequence[Segment], b: Sequence[Segment]) -> list[SegmentDiff]:
    """The segments that differ, aligned by path: ``a``'s order, then paths only in ``b``."""
    ka, kb = _keyed(a), _keyed(b)
    out: list[SegmentDiff] = []
    for key, sa in ka.items():
        sb = kb.get(key)
        if sb is None:
            out.append(
                SegmentDiff(sa.path, sa.channel, "removed", sa.value, None, diff_text(sa.value, ""))
            )
        elif sa.value != sb.value:
            out.append(
                SegmentDiff(
                    sa.path,
                    sa.channel,
                    "changed",
                    sa.value,
                    sb.value,
                    diff_text(sa.value, sb.value),
                )
            )
    for key, sb in kb.items():
        if key not in ka:
            out.append(
                SegmentDiff(sb.path, sb.channel, "added", None, sb.value, diff_text("", sb.value))
            )
    return out


def diff_prompts(a: Prompt, b: Prompt) -> list[SegmentDiff]:
    """``diff_segments`` over the segments of two prompts."""
    return diff_segments(segments(a), segments(b))
