"""The probe's terminal summary (rich): verdict, what ran, every finding with its
code points made visible, noise, failed runs. Pure: returns renderables."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from promptwitness.analysis.changes import Change
from promptwitness.probe.model import ProbeResult
from promptwitness.report.probe_json import evidence, headline
from promptwitness.report.terminal import mark_lines
from promptwitness.report.unicode import rich_mark

__all__ = ["render_probe"]

VERDICT_STYLE = {"clean": "bold green", "conditioned": "bold red", "inconclusive": "bold yellow"}
SEVERITY_STYLE = {"covert": "bold red", "overt": "yellow", "expected": "dim"}
MAX_SHOWN = 60  # characters of control/observed text shown per side


def _side(text: str | None, style: str) -> Text:
    if text is None:
        return Text("(absent)", style="dim italic")
    if text == "":
        return Text("(empty)", style="dim italic")
    out = rich_mark(text[:MAX_SHOWN], style)
    if len(text) > MAX_SHOWN:  # no "…" here: it would read as U+2026 in the text
        out.append(f" [+{len(text) - MAX_SHOWN} more]", style="dim italic")
    return out


def _change_text(change: Change) -> Text:
    out = Text()
    out.append_text(_side(change.control, "red"))
    out.append(" → ")
    out.append_text(_side(change.observed, "green"))
    return out


def _levels(levels: dict[str, str]) -> str:
    return " + ".join(f"{k}={v}" for k, v in levels.items())


def _group_findings(result: ProbeResult) -> list[tuple[str, list[int]]]:
    """Findings that show the same change under several levels of the same factor(s)
    are one entry: (factor names, indices into findings)."""
    groups: dict[tuple[object, ...], list[int]] = {}
    names: dict[tuple[object, ...], str] = {}
    for i, f in enumerate(result.analysis.findings):
        c = f.change
        key = (tuple(f.factors), f.request, c.path, c.kind, c.control, c.observed, c.a_span)
        groups.setdefault(key, []).append(i)
        names[key] = " + ".join(f.factors)
    # covert first, then overt, then expected: the question the tool exists for leads
    rank = {"covert": 0, "overt": 1}
    order = sorted(
        groups.items(),
        key=lambda kv: rank.get(result.analysis.findings[kv[1][0]].change.severity, 2),
    )
    return [(names[k], v) for k, v in order]


def _finding_block(
    result: ProbeResult, names: str, idx: list[int], shown: list[dict[str, Any]]
) -> Text:
    fs = [result.analysis.findings[i] for i in idx]
    f = fs[0]
    c = f.change
    out = Text()
    ids = ", ".join(f"F{i + 1}" for i in idx)
    out.append(f"{ids}  ", style="bold")
    out.append(f"{c.severity} {c.kind}", style=SEVERITY_STYLE.get(c.severity, ""))
    if len(fs) == 1:
        out.append(f"  {_levels(dict(f.factors))}", style="bold")
    else:
        levels = ", ".join(" + ".join(x.factors.values()) for x in fs)
        out.append(f"  {names} = {len(fs)} levels: {levels}", style="bold")
    out.append(
        f"  ({f.support[0]}/{f.support[1]} runs, control "
        f"{f.control_support[0]}/{f.control_support[1]})",
        style="dim",
    )
    where = f.request + (f" · {c.path}" if c.path else "")
    out.append(f"\n    {where}\n    ")
    out.append_text(_change_text(c))
    if c.detail:
        out.append(f"\n    {c.detail}", style="dim")
    if c.context:
        out.append("\n    in: ", style="dim")
        out.append_text(mark_lines(c.context, "dim"))
    command = shown[idx[0]].get("command")
    if command:
        out.append(f"\n    evidence: {command}", style="dim")
    return out


def _egress_table(result: ProbeResult) -> RenderableType:
    """Hermetic mode: every host each cell contacted, its paths, counts and bytes."""
    from promptwitness.report.probe_json import egress_by_cell

    h = result.hermetic or {}
    t = Table(
        title=f"egress (hermetic; CA trust: {h.get('ca_trust')}; DNS names: "
        f"{', '.join(h.get('dns_names', [])) or 'none'})",
        title_justify="left",
    )
    for col in ("cell", "host", "path", "count", "sent"):
        t.add_column(col, overflow="fold")
    for cell, doc in egress_by_cell(result).items():
        for host, hd in doc["hosts"].items():
            for path, p in hd["paths"].items():
                t.add_row(
                    Text(cell),
                    Text(host),
                    Text(path),
                    f"{p['count']} in {doc['runs']} runs",
                    f"{p['bytes_sent']} B",
                )
    canned = h.get("canned_answers") or []
    if canned:
        t.caption = "canned vendor answers (the profile's): " + "; ".join(
            f"{c['method']} {c['path']} → {c['status']} (asked in {c['runs']} runs)" for c in canned
        )
    return t


def render_probe(result: ProbeResult) -> RenderableType:
    a = result.analysis
    parts: list[RenderableType] = []
    purposes = Counter(c.purpose for c in result.cells)
    failed = [r for r in result.runs if r.error is not None]
    head = Text()
    head.append("verdict: ")
    head.append(result.verdict, style=VERDICT_STYLE.get(result.verdict, "bold"))
    head.append(
        f"   {len(result.runs)} runs in {len(result.cells)} cells ("
        + ", ".join(f"{n} {p}" for p, n in purposes.items())
        + f"), {result.finished - result.started:.1f} s"
    )
    parts.append(head)
    covert = any(f.change.severity == "covert" for f in a.findings)
    parts.append(Text(headline(result), style="bold red" if covert else "bold green"))
    if a.findings:
        shown = evidence(result)
        parts.append(Text(f"{len(a.findings)} findings", style="bold underline"))
        for names, idx in _group_findings(result):
            parts.append(_finding_block(result, names, idx, shown))
    else:
        parts.append(Text("no difference is attributed to any factor level", style="green"))
    unresolved = list(getattr(a, "unresolved", ())) + list(a.suspects)
    if unresolved:
        t = Table(title="seen only in combined cells, not narrowed down", title_justify="left")
        for col in ("cell", "kind", "where", "control → observed"):
            t.add_column(col, overflow="fold")
        for s in unresolved:
            t.add_row(Text(s.cell), s.change.kind, Text(s.change.path), _change_text(s.change))
        parts.append(t)
    if a.noise:
        t = Table(
            title="noise (varies between identical runs; never attributed)", title_justify="left"
        )
        for col in ("request", "path", "runs", "example"):
            t.add_column(col, overflow="fold")
        for n in a.noise[:20]:
            example = n.examples[0] if n.examples else ""
            t.add_row(Text(n.request), Text(n.path), str(n.runs), _side(example, ""))
        if len(a.noise) > 20:
            t.caption = f"{len(a.noise) - 20} more in the JSON report"
        parts.append(t)
    if failed:
        t = Table(title="runs that failed", title_justify="left")
        for col in ("cell", "replicate", "exit", "error"):
            t.add_column(col, overflow="fold")
        for r in failed[:20]:
            t.add_row(Text(r.cell), str(r.replicate), str(r.exit_code), Text(r.error or ""))
        parts.append(t)
    if result.hermetic is not None:
        parts.append(_egress_table(result))
    parts.append(Text(f"probe {result.probe} in {result.store_root}", style="dim"))
    return Group(*parts)
