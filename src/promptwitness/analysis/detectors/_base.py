"""What every detector sees: one group of diff ops in one segment, with its spans.

A *group* is one or more consecutive non-equal ops of a ``SegmentDiff`` that belong to
the same token (a word, a number, a date): ``2026-11-23`` → ``2026/11/24`` is three
code-point ops but one group. Each group carries three views:

- ``raw``: from the first op's start to the last op's end (exactly what changed, plus
  the equal text between the group's ops);
- ``word``: ``raw`` widened to the enclosing word / number on both sides;
- ``date``: ``raw`` widened to the dates / times around it, when both texts have one
  there (else None).

All spans are ``(a0, a1, b0, b1)`` code-point offsets; the widening only ever adds text
that is equal in both texts, so the same amount is added on both sides.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from promptwitness.analysis.changes import Change, Kind
from promptwitness.analysis.diff import Op, SegmentDiff

__all__ = ["Context", "Span", "code_points", "describe", "label", "short"]

Span = tuple[int, int, int, int]

_CONTEXT = 20
_MAX_POINTS = 24  # distinct code points listed per side

# Code points unicodedata has no name for: the formal aliases of the common controls.
_ALIASES = {
    0x00: "NULL",
    0x07: "BELL",
    0x08: "BACKSPACE",
    0x09: "CHARACTER TABULATION",
    0x0A: "LINE FEED",
    0x0B: "LINE TABULATION",
    0x0C: "FORM FEED",
    0x0D: "CARRIAGE RETURN",
    0x1B: "ESCAPE",
    0x7F: "DELETE",
    0x85: "NEXT LINE",
}
_GC_LABELS = {
    "Cc": "<control>",
    "Co": "<private use>",
    "Cs": "<surrogate>",
    "Cn": "<unassigned>",
}


def label(ch: str) -> str:
    """``U+XXXX NAME`` for one code point (a formal alias or ``<category>`` when unnamed)."""
    cp = ord(ch)
    name = unicodedata.name(ch, None) or _ALIASES.get(cp)
    if name is None:
        if 0xE0000 <= cp <= 0xE007F:
            inner = unicodedata.name(chr(cp - 0xE0000), None)
            name = f"TAG {inner}" if inner else "<tag>"
        elif 0xE0100 <= cp <= 0xE01EF:
            name = f"VARIATION SELECTOR-{cp - 0xE0100 + 17}"
        else:
            name = _GC_LABELS.get(unicodedata.category(ch), "<unnamed>")
    return f"U+{cp:04X} {name}"


def _distinct(text: str) -> list[str]:
    seen: dict[str, None] = {}
    for c in text:
        seen.setdefault(c, None)
    return list(seen)


def code_points(control: str, observed: str) -> tuple[str, ...]:
    """Labels of the distinct code points of each side, control first (capped per side)."""
    out: list[str] = []
    for side in (control, observed):
        chars = _distinct(side)
        out.extend(label(c) for c in chars[:_MAX_POINTS])
        if len(chars) > _MAX_POINTS:
            out.append(f"... {len(chars) - _MAX_POINTS} more")
    return tuple(out)


def short(text: str, limit: int = 60) -> str:
    """A one-line, quoted rendering: repr-escaped, cut in the middle when long."""
    shown = repr(text)
    if len(shown) > limit:
        half = (limit - 3) // 2
        shown = shown[:half] + "..." + shown[-half:]
    return shown


def describe(text: str) -> str:
    """Up to four code points as labels, else a short quoted rendering."""
    if not text:
        return "nothing"
    if len(text) <= 4:
        return " ".join(label(c) for c in text)
    return short(text)


@dataclass(frozen=True)
class Context:
    """One group of ops of one segment diff, as seen by the detectors."""

    diff: SegmentDiff
    a: str
    b: str
    ops: tuple[Op, ...]  # the group's non-equal ops
    raw: Span
    word: Span
    date: Span | None

    @property
    def channel(self) -> str:
        return self.diff.channel

    def texts(self, span: Span) -> tuple[str, str]:
        a0, a1, b0, b1 = span
        return self.a[a0:a1], self.b[b0:b1]

    def changed(self) -> tuple[str, str]:
        """Only the code points the ops touch (equal text between ops left out)."""
        return (
            "".join(self.a[o.a_start : o.a_end] for o in self.ops),
            "".join(self.b[o.b_start : o.b_end] for o in self.ops),
        )

    def change(self, kind: Kind, span: Span, detail: str) -> Change:
        a0, a1, b0, b1 = span
        control, observed = self.a[a0:a1], self.b[b0:b1]
        changed_a, changed_b = self.changed()
        middle = self.b[b0:b1]
        if len(middle) > 2 * _CONTEXT:
            middle = middle[:_CONTEXT] + " ... " + middle[-_CONTEXT:]
        context = self.b[max(0, b0 - _CONTEXT) : b0] + middle + self.b[b1 : b1 + _CONTEXT]
        return Change(
            path=self.diff.path,
            channel=self.diff.channel,
            kind=kind,
            control=control,
            observed=observed,
            a_span=(a0, a1),
            b_span=(b0, b1),
            code_points=code_points(changed_a, changed_b),
            detail=detail,
            context=context,
        )
