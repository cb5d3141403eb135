"""Terminal presenters for ``show`` and ``diff``: rich renderables, never printed here.

Rules:
- Functions return rich renderables (``Text``, ``Table``); the caller prints them on
  its own ``Console``. ``render_to_string`` renders one into a string at a fixed
  width (tests, golden files, plain output).
- Every value goes through ``report.unicode`` marking, so no hidden or look-alike
  code point can pass unseen.
- Colour is never the only signal: a deletion is ``[-…-]`` and an insertion ``{+…+}``
  in every mode (red and green on top when the console has colour), and an elision
  of unchanged text is ``…`` (a literal U+2026 in the text is marked, so the two
  cannot be confused).
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

from rich import box
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from promptwitness.analysis.changes import Change
from promptwitness.analysis.diff import Op, SegmentDiff
from promptwitness.model import Segment
from promptwitness.report.unicode import (
    describe,
    edit_labels,
    mark_summary,
    rich_mark,
    side_labels,
)

__all__ = [
    "CONTEXT",
    "chunk_line",
    "chunks",
    "edit_note",
    "mark_lines",
    "render_code_point_counts",
    "render_code_point_table",
    "render_diff",
    "render_form_changes",
    "render_segments",
    "render_to_string",
]

CONTEXT = 40  # unchanged code points shown on each side of a change
ADDED_PREVIEW = 200  # code points of an added or removed segment shown
LIST_ALL = 8  # a change this short (both sides together) lists every code point
LIST_MAX = 12  # at most this many distinct code points listed per side otherwise

DELETE_STYLE = "bold red"
INSERT_STYLE = "bold green"
ELLIPSIS = "\u2026"
INDENT = "  "


def render_to_string(
    renderable: RenderableType, width: int = 80, color: bool = False, soft_wrap: bool = True
) -> str:
    """Render at a fixed width (tables fit it); ANSI styles only if ``color``. Long text
    lines are left for the terminal to wrap (``soft_wrap``), as the CLI's consoles do."""
    buf = io.StringIO()
    console = Console(
        file=buf,
        width=width,
        color_system="standard" if color else None,
        force_terminal=color,
        highlight=False,
        emoji=False,
        legacy_windows=False,
        soft_wrap=soft_wrap,
    )
    console.print(renderable)
    return buf.getvalue()


def _append_indented(out: Text, text: Text, indent: str) -> None:
    """Append ``text``, indenting every non-empty line after a newline."""
    for i, line in enumerate(text.split("\n", allow_blank=True)):
        if i:
            out.append("\n" + (indent if line.plain else ""))
        out.append_text(line)


def render_segments(segments: Iterable[Segment]) -> Text:
    """Each segment: its path and channel, then its value, marked, indented."""
    out = Text(end="")
    for n, seg in enumerate(segments):
        if n:
            out.append("\n")
        out.append(seg.path, style="bold")
        out.append(f"  ({seg.channel}, {len(seg.value)} code points)\n" + INDENT)
        _append_indented(out, rich_mark(seg.value), INDENT)
    out.end = "\n"
    return out


def mark_lines(text: str, style: str = "") -> Text:
    """``rich_mark`` on one line: each line break in ``text`` shown as a dim ``\\n``
    added outside the marked text (so it can never be mistaken for the text's own)."""
    out = Text()
    for i, line in enumerate(text.split("\n")):
        if i:
            out.append("\\n", style="dim reverse")
        out.append_text(rich_mark(line, style))
    return out


def _changed_span(text: str, style: str) -> Text:
    """A deleted or inserted span: marked, with LF and TAB made visible as well."""
    out = Text()
    for i, piece in enumerate(text.split("\n")):
        if i:
            out.append("\u27e6U+000A\u27e7", style="reverse")
            out.append("\n")
        for j, sub in enumerate(piece.split("\t")):
            if j:
                out.append("\u27e6U+0009\u27e7", style="reverse")
            out.append_text(rich_mark(sub))
    out.stylize(style)
    return out


def edit_note(old: str, new: str, list_all: int = LIST_ALL, list_max: int = LIST_MAX) -> str | None:
    """``- U+0027 APOSTROPHE  + U+2019 RIGHT SINGLE QUOTATION MARK``: the code points of
    one edit that a reader needs named (``unicode.edit_labels``), or None."""
    removed, added = edit_labels(old, new, list_all, list_max)
    sides = [
        f"{sign} " + ", ".join(items) for sign, items in (("-", removed), ("+", added)) if items
    ]
    return "  ".join(sides) if sides else None


def chunks(ops: Sequence[Op], context: int = CONTEXT) -> list[list[Op]]:
    """Group changes whose unchanged gap is short enough to show whole.

    A long unchanged stretch between two changes ends one chunk (its head is that
    chunk's trailing context) and starts the next (its tail is the leading context).
    """
    chunks: list[list[Op]] = []
    current: list[Op] = []
    for op in ops:
        current.append(op)
        long_gap = op.tag == "equal" and op.a_end - op.a_start > 2 * context
        if long_gap and len(current) > 1:
            chunks.append(current)
            current = [op]
    if any(op.tag != "equal" for op in current):
        chunks.append(current)
    return chunks


def chunk_line(
    a: str,
    b: str,
    chunk: Sequence[Op],
    *,
    context: int = CONTEXT,
    mark: Callable[[str], Text] = rich_mark,
    span: Callable[[str, str], Text] = _changed_span,
    note: Callable[[str, str], str | None] = edit_note,
) -> tuple[Text, list[str]]:
    """One chunk of changes on one line (``context`` unchanged code points kept at its
    ends, ``[-old-]{+new+}`` between them, the spans drawn by ``span``), and the notes
    (code points removed and added) for its changes."""
    line = Text()
    notes: list[str] = []
    for k, op in enumerate(chunk):
        if op.tag == "equal":
            piece = a[op.a_start : op.a_end]
            if k == 0 and len(piece) > context:
                line.append(ELLIPSIS, style="dim")
                line.append_text(mark(piece[-context:]))
            elif k == len(chunk) - 1 and len(piece) > context:
                line.append_text(mark(piece[:context]))
                line.append(ELLIPSIS, style="dim")
            else:
                line.append_text(mark(piece))
            continue
        old, new = a[op.a_start : op.a_end], b[op.b_start : op.b_end]
        if old:
            line.append("[-", style=DELETE_STYLE)
            line.append_text(span(old, DELETE_STYLE))
            line.append("-]", style=DELETE_STYLE)
        if new:
            line.append("{+", style=INSERT_STYLE)
            line.append_text(span(new, INSERT_STYLE))
            line.append("+}", style=INSERT_STYLE)
        text = note(old, new)
        if text:
            notes.append(text)
    return line, notes


def _render_chunk(a: str, b: str, chunk: Sequence[Op], out: Text) -> None:
    line, notes = chunk_line(a, b, chunk)
    out.append("\n" + INDENT)
    _append_indented(out, line, INDENT)
    for note in notes:
        out.append("\n" + INDENT * 2 + note)


def _render_whole(value: str, sign: str, style: str, out: Text) -> None:
    opener, closer = ("{+", "+}") if sign == "+" else ("[-", "-]")
    line = Text()
    line.append(opener, style=style)
    line.append_text(_changed_span(value[:ADDED_PREVIEW], style))
    line.append(closer, style=style)
    if len(value) > ADDED_PREVIEW:
        line.append(f"{ELLIPSIS} ({len(value) - ADDED_PREVIEW} more code points)", style="dim")
    out.append("\n" + INDENT)
    _append_indented(out, line, INDENT)
    items = side_labels(value, LIST_MAX)
    if items:
        out.append("\n" + INDENT * 2 + f"{sign} " + ", ".join(items))


def render_diff(diffs: Iterable[SegmentDiff]) -> Text:
    """Each differing segment: status, path and channel, then its changes in context,
    each followed by the code points it removed and added."""
    out = Text(end="")
    for n, d in enumerate(diffs):
        if n:
            out.append("\n")
        out.append(d.status, style="bold")
        out.append(" ")
        out.append(d.path, style="bold")
        out.append(f"  ({d.channel})")
        if d.status == "added":
            _render_whole(d.b or "", "+", INSERT_STYLE, out)
        elif d.status == "removed":
            _render_whole(d.a or "", "-", DELETE_STYLE, out)
        else:
            for chunk in chunks(d.ops):
                _render_chunk(d.a or "", d.b or "", chunk, out)
    out.end = "\n"
    return out


def render_form_changes(changes: Iterable[Change]) -> Text:
    """Serialisation differences (``analysis.serialisation``): severity and kind, where
    (the form segment's path), the two spellings marked, and the detector's line."""
    out = Text(end="")
    for n, c in enumerate(changes):
        if n:
            out.append("\n")
        out.append(f"{c.severity} {c.kind}", style="bold red" if c.severity == "covert" else "")
        out.append(" ")
        out.append(c.path, style="bold")
        out.append("\n" + INDENT + "[-", style=DELETE_STYLE)
        out.append_text(rich_mark(c.control or "", DELETE_STYLE))
        out.append("-]", style=DELETE_STYLE)
        out.append(" ")
        out.append("{+", style=INSERT_STYLE)
        out.append_text(rich_mark(c.observed or "", INSERT_STYLE))
        out.append("+}", style=INSERT_STYLE)
        if c.detail:  # marked, except for the arrows the detectors put between sides
            out.append("\n" + INDENT)
            for k, part in enumerate(c.detail.split(" \u2192 ")):
                if k:
                    out.append(" \u2192 ")
                out.append_text(rich_mark(part))
    out.end = "\n"
    return out


def render_code_point_counts(counts: Counter[str]) -> Table:
    """A table of code points (in the counter's order): code, glyph, name, category,
    flags, count. Invisible ones have an empty glyph cell; a combining mark sits on ◌."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for col in ("code", "char", "name", "cat", "flags", "count"):
        table.add_column(col, justify="right" if col == "count" else "left", no_wrap=col != "name")
    for ch, n in counts.items():
        info = describe(ch)
        if info.invisible:
            glyph = ""
        elif info.category in ("Mn", "Mc", "Me"):
            glyph = "\u25cc" + ch
        else:
            glyph = ch
        table.add_row(
            info.code,
            Text(glyph),
            Text(info.name),
            info.category,
            ", ".join(info.flags),
            str(n),
        )
    return table


def render_code_point_table(text: str) -> Table:
    """``render_code_point_counts`` over the suspicious code points of ``text``."""
    return render_code_point_counts(mark_summary(text))
