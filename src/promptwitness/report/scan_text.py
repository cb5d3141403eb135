"""The ``scan`` report for the terminal (rich): what was read, decoded tables,
look-alike literals, reads by kind, notes. Pure: returns renderables.

Every text that came from the scanned code is shown through ``rich_mark`` (a
non-ASCII code point is followed, or replaced when invisible, by its marker
``⟦U+2019 RIGHT SINGLE QUOTATION MARK⟧``), so nothing hidden reaches the terminal
unmarked. Long lists are cut at ``MAX_ROWS`` rows; the JSON report has them all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from promptwitness.discover.model import READ_KINDS, Read, ScanReport
from promptwitness.report.unicode import label, rich_mark

__all__ = ["MAX_ROWS", "counts", "human_bytes", "render_scan", "summary_line"]

MAX_ROWS = 40
MAX_STRINGS = 6
MAX_NAMES = 120  # env names listed in one row
STRING_CHARS = 60


def human_bytes(n: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def counts(report: ScanReport, what: str) -> list[int]:
    """How many times each table / lookalike / read was seen (1 when not recorded)."""
    got: Any = report.extra.get("counts", {}).get(what)
    items = {"tables": report.tables, "lookalikes": report.lookalikes, "reads": report.reads}[what]
    if isinstance(got, list) and len(got) == len(items):
        return [int(x) for x in got]
    return [1] * len(items)


def summary_line(report: ScanReport) -> str:
    formats = Counter(f.format for f in report.files)
    shown = ", ".join(f"{n} {fmt}" for fmt, n in formats.most_common(6))
    more = f", {len(formats) - 6} more formats" if len(formats) > 6 else ""
    size = report.extra.get("bytes")
    read = f", {human_bytes(int(size))} read" if isinstance(size, int) else ""
    return (
        f"{len(report.files)} files ({shown or 'none'}{more}){read} in "
        f"{report.seconds:.1f} s: {len(report.tables)} tables, "
        f"{len(report.lookalikes)} look-alike literals, {len(report.reads)} reads"
    )


def _strings(strings: Sequence[str]) -> Text:
    out = Text()
    for i, s in enumerate(strings[:MAX_STRINGS]):
        if i:
            out.append(", ")
        out.append_text(rich_mark(s[:STRING_CHARS]))
        if len(s) > STRING_CHARS:
            out.append(f" [+{len(s) - STRING_CHARS}]", style="dim")
    if len(strings) > MAX_STRINGS:
        out.append(f"  (+{len(strings) - MAX_STRINGS} more)", style="dim")
    return out


def _tables(report: ScanReport) -> list[RenderableType]:
    if not report.tables:
        return [Text("no hidden or plain fingerprint tables found", style="green")]
    n = counts(report, "tables")
    t = Table(title=f"string tables ({len(report.tables)})", title_justify="left", show_lines=False)
    for col in ("encoding", "seen", "strings", "kinds", "where"):
        t.add_column(col, overflow="fold")
    for table, seen in list(zip(report.tables, n, strict=True))[:MAX_ROWS]:
        enc = " → ".join(table.encoding)
        style = "bold red" if table.encoding != ("plain",) else ""
        t.add_row(
            Text(enc, style=style),
            f"×{seen}",
            _strings(table.strings),
            ", ".join(table.kinds),
            Text(str(table.location)),
        )
    if len(report.tables) > MAX_ROWS:
        t.caption = f"{len(report.tables) - MAX_ROWS} more in the JSON report"
    return [t]


def _lookalikes(report: ScanReport) -> list[RenderableType]:
    if not report.lookalikes:
        return [Text("no literal holds a look-alike or invisible code point", style="green")]
    n = counts(report, "lookalikes")
    t = Table(
        title=f"look-alike and invisible code points in literals ({len(report.lookalikes)})",
        title_justify="left",
    )
    for col in ("code points", "literal", "seen", "where"):
        t.add_column(col, overflow="fold")
    for x, seen in list(zip(report.lookalikes, n, strict=True))[:MAX_ROWS]:
        cps = ", ".join(_cp_label(c) for c in x.code_points[:4])
        if len(x.code_points) > 4:
            cps += f" (+{len(x.code_points) - 4})"
        lit = rich_mark(x.literal[:120])
        if x.escaped:
            lit.append("  (escaped)", style="dim")
        t.add_row(Text(cps), lit, f"×{seen}", Text(str(x.location)))
    if len(report.lookalikes) > MAX_ROWS:
        t.caption = f"{len(report.lookalikes) - MAX_ROWS} more in the JSON report"
    return [t]


def _cp_label(code: str) -> str:
    try:
        return label(chr(int(code[2:], 16)))
    except (ValueError, OverflowError):
        return code


def _reads(report: ScanReport) -> list[RenderableType]:
    if not report.reads:
        return [Text("no environment read found in the code", style="green")]
    n = counts(report, "reads")
    by_kind: dict[str, list[tuple[Read, int]]] = {}
    for r, seen in zip(report.reads, n, strict=True):
        by_kind.setdefault(r.kind, []).append((r, seen))
    t = Table(title=f"environment reads in the code ({len(report.reads)})", title_justify="left")
    for col in ("kind", "count", "what (first place)"):
        t.add_column(col, overflow="fold")
    order = [k for k in READ_KINDS if k in by_kind] + sorted(set(by_kind) - set(READ_KINDS))
    for kind in order:
        items = by_kind[kind]
        body = Text()
        if kind == "env":
            names = sorted(items, key=lambda p: p[0].name)
            for i, (r, seen) in enumerate(names[:MAX_NAMES]):
                if i:
                    body.append(", ")
                body.append_text(rich_mark(r.name))
                if seen > 1:
                    body.append(f" ×{seen}", style="dim")
                if r.context.startswith("binary strings"):
                    body.append(" (strings)", style="dim")
            if len(names) > MAX_NAMES:
                body.append(f"  (+{len(names) - MAX_NAMES} more in the JSON report)", style="dim")
        else:
            for i, (r, seen) in enumerate(items[:MAX_ROWS]):
                if i:
                    body.append("\n")
                body.append_text(rich_mark(r.name or kind))
                body.append(f"  ×{seen}  {r.location}", style="dim")
            if len(items) > MAX_ROWS:
                body.append(f"\n(+{len(items) - MAX_ROWS} more)", style="dim")
        t.add_row(kind, str(len(items)), body)
    return [t]


def render_scan(report: ScanReport) -> RenderableType:
    """The whole report: summary, notes, tables, look-alikes, reads."""
    parts: list[RenderableType] = []
    head = Text()
    head.append("scan ", style="bold")
    head.append_text(rich_mark(report.target))
    head.append(f"\n{summary_line(report)}")
    parts.append(head)
    for note in report.notes[:20]:
        parts.append(Text(f"note: {note}", style="yellow"))
    if len(report.notes) > 20:
        parts.append(
            Text(f"({len(report.notes) - 20} more notes in the JSON report)", style="yellow")
        )
    parts.extend(_tables(report))
    parts.extend(_lookalikes(report))
    parts.extend(_reads(report))
    return Group(*parts)
