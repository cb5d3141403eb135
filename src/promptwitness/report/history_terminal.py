"""The history's terminal presenters (rich): the version table, each step's changes as
compact code-point-exact diffs, audit verdicts and findings, noise, and the bisect
result with its evidence. Pure: returns renderables.

As in ``report.terminal``: every value goes through ``report.unicode`` marking, so a
hidden or look-alike code point is always shown as ``⟦U+… NAME⟧``; a deletion is
``[-…-]`` and an insertion ``{+…+}`` with or without colour; an elision of unchanged
or clipped text is a dim ``…`` (a literal U+2026 in the text is marked); a line break
inside a shown span is a dim ``\\n``.
"""

from __future__ import annotations

from collections import Counter

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from promptwitness.analysis.diff import SegmentDiff
from promptwitness.history.run import Bisect, History
from promptwitness.history.timeline import NOISE, AuditFinding, SegmentChange, Step
from promptwitness.report.terminal import chunk_line, chunks, edit_note, mark_lines

__all__ = ["render_bisect", "render_change", "render_history", "render_step"]

CONTEXT = 30  # unchanged code points shown on each side of an edit
SIDE_MAX = 200  # code points of a deleted or inserted span shown
CHUNKS_MAX = 2  # edit groups shown per segment
CHANGES_MAX = 12  # segments shown per step (the JSON report has all)
LIST_ALL = 8  # an edit this short lists every code point
LIST_MAX = 8  # else at most this many distinct suspicious code points
DELETE_STYLE = "bold red"
INSERT_STYLE = "bold green"
VERDICT_STYLE = {"clean": "bold green", "conditioned": "bold red", "inconclusive": "bold yellow"}
SEVERITY_STYLE = {"covert": "bold red", "overt": "yellow", "expected": "dim"}
ELLIPSIS = "\u2026"
CATEGORY_ORDER = ("params", "headers", "system", "messages", "tools", "serialisation", "other")


def _clip(text: str, style: str, limit: int = SIDE_MAX) -> Text:
    if len(text) <= limit:
        return mark_lines(text, style)
    out = mark_lines(text[: limit - 40], style)
    out.append(ELLIPSIS, style="dim")
    out.append_text(mark_lines(text[-30:], style))
    out.append(f" ({len(text)} code points)", style="dim italic")
    return out


def _note(old: str, new: str) -> str | None:
    """The code points of an edit (``terminal.edit_note``), unless it touches masked
    noise."""
    return None if NOISE in old + new else edit_note(old, new, LIST_ALL, LIST_MAX)


def _edit_stats(d: SegmentDiff) -> str:
    deleted = sum(o.a_end - o.a_start for o in d.ops if o.tag in ("delete", "replace"))
    inserted = sum(o.b_end - o.b_start for o in d.ops if o.tag in ("insert", "replace"))
    return f"-{deleted} +{inserted} code points"


def render_change(change: SegmentChange, indent: str = "    ") -> Text:
    """One changed segment: path, status, size of the edit, then at most CHUNKS_MAX
    edit groups in context, each followed by the code points it removed and added."""
    d = change.diff
    out = Text()
    sign = {"added": "+", "removed": "-", "changed": "~"}[d.status]
    out.append(f"{indent}{sign} ")
    out.append(d.path, style="bold")
    if d.status == "added":
        out.append(f"  (added, {len(d.b or '')} code points)", style="dim")
        out.append("\n" + indent + "    {+", style=INSERT_STYLE)
        out.append_text(_clip(d.b or "", INSERT_STYLE))
        out.append("+}", style=INSERT_STYLE)
        return out
    if d.status == "removed":
        out.append(f"  (removed, {len(d.a or '')} code points)", style="dim")
        out.append("\n" + indent + "    [-", style=DELETE_STYLE)
        out.append_text(_clip(d.a or "", DELETE_STYLE))
        out.append("-]", style=DELETE_STYLE)
        return out
    a, b = d.a or "", d.b or ""
    if change.category == "serialisation":
        out.append(
            "  (covert serialisation: the same values, written differently)", style="bold red"
        )
    out.append(f"  ({_edit_stats(d)})", style="dim")
    groups = chunks(d.ops, CONTEXT)
    for group in groups[:CHUNKS_MAX]:
        line, notes = chunk_line(
            a, b, group, context=CONTEXT, mark=mark_lines, span=_clip, note=_note
        )
        out.append("\n" + indent + "    ")
        out.append_text(line)
        for note in notes:
            out.append("\n" + indent + "      " + note, style="dim")
    if len(groups) > CHUNKS_MAX:
        out.append(
            f"\n{indent}    {ELLIPSIS} {len(groups) - CHUNKS_MAX} more edit group(s) "
            "in this segment (--json has them all)",
            style="dim",
        )
    return out


def render_step(step: Step) -> Text:
    out = Text()
    out.append(f"{step.before} → {step.after}", style="bold underline")
    if step.empty:
        out.append("\n    no change", style="dim")
        return out
    if step.tools_added:
        out.append(f"\n    tools added ({len(step.tools_added)}): ", style="green")
        out.append(", ".join(step.tools_added))
    if step.tools_removed:
        out.append(f"\n    tools removed ({len(step.tools_removed)}): ", style="red")
        out.append(", ".join(step.tools_removed))
    for word, keys in (
        ("requests added", step.requests_added),
        ("requests no longer sent", step.requests_removed),
    ):
        if keys:
            out.append(f"\n    {word}: ", style="yellow")
            out.append(", ".join(keys))
    notable = sorted(step.notable(), key=lambda c: CATEGORY_ORDER.index(c.category))
    for change in notable[:CHANGES_MAX]:
        out.append("\n")
        out.append_text(render_change(change))
    if len(notable) > CHANGES_MAX:
        rest = Counter(c.category for c in notable[CHANGES_MAX:])
        out.append(
            f"\n    {ELLIPSIS} {len(notable) - CHANGES_MAX} more changed segment(s) ("
            + ", ".join(f"{n} {k}" for k, n in rest.items())
            + "; --json has them all)",
            style="dim",
        )
    versioned = [c.path for c in step.changes if c.version_only]
    if versioned:
        out.append("\n    version number only (expected): ", style="dim")
        out.append(", ".join(versioned), style="dim")
    return out


def _finding_line(f: AuditFinding, indent: str = "    ") -> Text:
    out = Text(indent)
    out.append(f"{f.severity} {f.kind}", style=SEVERITY_STYLE.get(f.severity, ""))
    out.append("  " + " + ".join(f"{k}={v}" for k, v in f.factors.items()), style="bold")
    out.append(f"  {f.path or f.request}\n{indent}  ")
    out.append_text(
        _clip(f.control, "red", 60)
        if f.control is not None
        else Text("(absent)", style="dim italic")
    )
    out.append(" → ")
    out.append_text(
        _clip(f.observed, "green", 60)
        if f.observed is not None
        else Text("(absent)", style="dim italic")
    )
    if f.detail:
        out.append(f"\n{indent}  {f.detail}", style="dim")
    return out


def _date(published: str | None) -> str:
    return (published or "-")[:10]


def _kb(n: int) -> str:
    return f"{n / 1000:.1f} KB"


def render_history(history: History) -> RenderableType:
    tl = history.timeline
    parts: list[RenderableType] = []
    ok = [e for e in tl.entries if e.error is None]
    head = Text()
    head.append(f"{history.title}: the prompt across {len(tl.entries)} release(s)", style="bold")
    if tl.entries:
        head.append(f" ({tl.entries[0].version} … {tl.entries[-1].version})")
    head.append(f", {len(ok)} captured, {history.finished - history.started:.0f} s", style="dim")
    parts.append(head)
    audited = any(e.audit is not None for e in tl.entries)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for col, just in (
        ("version", "left"),
        ("published", "left"),
        ("tools", "right"),
        ("system", "right"),
        ("tool defs", "right"),
        ("request", "right"),
        ("changed", "left"),
    ):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    if audited:
        table.add_column("audit", justify="left")
    steps = {s.after: s for s in tl.steps}
    for e in tl.entries:
        s = e.sizes
        step = steps.get(e.version)
        if e.error is not None:
            summary = Text(e.error[:60], style="yellow")
        elif step is None:
            summary = Text("(first)", style="dim")
        else:
            bits = []
            if step.tools_added or step.tools_removed:
                bits.append(f"+{len(step.tools_added)}/-{len(step.tools_removed)} tools")
            n = len(step.notable())
            if n:
                bits.append(f"{n} segs")
            summary = Text(", ".join(bits) or "none", style="" if bits else "dim")
        row: list[RenderableType] = [
            e.version,
            _date(e.published),
            "-" if s is None else str(s.tool_count),
            "-" if s is None else _kb(s.system_bytes),
            "-" if s is None else _kb(s.tools_bytes),
            "-" if s is None else _kb(s.request_bytes),
            summary,
        ]
        if audited:
            v = e.audit.verdict if e.audit is not None else "-"
            findings = len(e.audit.findings) if e.audit is not None else 0
            row.append(
                Text(v + (f" ({findings})" if findings else ""), style=VERDICT_STYLE.get(v, ""))
            )
        table.add_row(*row)
    parts.append(table)
    for step in tl.steps:
        parts.append(render_step(step))
    if audited:
        parts.append(Text("audit findings", style="bold underline"))
        for e in tl.entries:
            if e.audit is None:
                continue
            line = Text(f"{e.version}: ")
            line.append(e.audit.verdict, style=VERDICT_STYLE.get(e.audit.verdict, ""))
            line.append(f"  ({e.audit.runs} runs, {e.audit.seconds:.0f} s)", style="dim")
            parts.append(line)
            for f in e.audit.findings:
                parts.append(_finding_line(f))
    noise: dict[tuple[str, str], list[str]] = {}
    example: dict[tuple[str, str], str] = {}
    for e in ok:
        for item in e.noise:
            key = (item.request, item.path)
            noise.setdefault(key, []).append(e.version)
            if item.examples and key not in example:
                example[key] = item.examples[0]
    if noise:
        t = Table(
            title="noise (differs between identical runs of one version; excluded)",
            title_justify="left",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            show_edge=False,
        )
        for col in ("where", "versions", "example"):
            t.add_column(col, overflow="fold")
        for (req, path), vs in noise.items():
            where = path if not req else (f"{req} · {path}" if path else f"request {req}")
            t.add_row(
                Text(where), f"{len(vs)}/{len(ok)}", _clip(example.get((req, path), ""), "", 60)
            )
        parts.append(t)
    return Group(*parts)


def render_bisect(b: Bisect) -> RenderableType:
    parts: list[RenderableType] = []
    n = len(b.versions)
    head = Text()
    head.append(f"bisect {b.signature.text}", style="bold")
    head.append(f" over {n} release(s)")
    if b.versions:
        head.append(f" ({b.versions[0].version} … {b.versions[-1].version})")
    head.append(f": {b.search.tests} audit(s), {b.finished - b.started:.0f} s", style="dim")
    parts.append(head)
    published = {r.version: r.published for r in b.versions}
    res = Text()
    if b.first is None:
        res.append("not found", style="bold yellow")
    else:
        res.append("holds from ", style="")
        res.append(f"{b.first}", style="bold")
        res.append(f" ({_date(published[b.first])})")
        res.append(" to ")
        res.append(f"{b.last}", style="bold")
        res.append(f" ({_date(published[b.last or ''])})")
        assert b.search.first is not None and b.search.last is not None
        res.append(f": {b.search.last - b.search.first + 1} of {n} releases in the range")
    parts.append(res)
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for col in ("#", "version", "published", "verdict", "holds"):
        t.add_column(col)
    for k, (i, held) in enumerate(b.search.tested, 1):
        rel = b.versions[i]
        cap = b.captures.get(rel.version)
        verdict = "-" if cap is None or cap.audit is None else cap.audit.verdict
        err = "" if cap is None or cap.error is None else f" ({cap.error[:40]})"
        t.add_row(
            str(k),
            rel.version,
            _date(rel.published),
            Text(verdict + err, style=VERDICT_STYLE.get(verdict, "")),
            Text(
                {True: "yes", False: "no", None: "failed"}[held],
                style={True: "bold", False: "dim", None: "yellow"}[held],
            ),
        )
    parts.append(t)
    for which, version in (("first", b.first), ("last", b.last)):
        if version is None or (which == "last" and version == b.first):
            continue
        cap = b.captures.get(version)
        if cap is None or cap.audit is None:
            continue
        parts.append(Text(f"evidence in {version} ({which}):", style="bold"))
        for f in b.signature.evidence(cap.audit):
            parts.append(_finding_line(f))
    if b.search.note:
        parts.append(Text(b.search.note, style="yellow" if not b.search.contiguous else "dim"))
    return Group(*parts)
