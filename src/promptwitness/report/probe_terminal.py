"""The probe's terminal summary (rich): verdict, what ran, every finding with its
code points made visible, noise, failed runs. Pure: returns renderables."""

from __future__ import annotations

from collections import Counter

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from promptwitness.analysis.changes import Change
from promptwitness.probe.runner import ProbeResult
from promptwitness.report.unicode import rich_mark

__all__ = ["render_probe"]

VERDICT_STYLE = {"clean": "bold green", "conditioned": "bold red", "inconclusive": "bold yellow"}
SEVERITY_STYLE = {"covert": "bold red", "overt": "yellow", "expected": "dim"}
MAX_SHOWN = 60  # characters of control/observed text shown per side


def _clip(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_SHOWN:
        return text
    return text[:MAX_SHOWN] + "…"


def _side(text: str | None, style: str) -> Text:
    if text is None:
        return Text("(absent)", style="dim italic")
    if text == "":
        return Text("(empty)", style="dim italic")
    return rich_mark(_clip(text) or "", style)


def _change_text(change: Change) -> Text:
    out = Text()
    out.append_text(_side(change.control, "red"))
    out.append(" → ")
    out.append_text(_side(change.observed, "green"))
    if change.detail:
        out.append(f"\n{change.detail}", style="dim")
    return out


def _levels(levels: dict[str, str]) -> str:
    return " + ".join(f"{k}={v}" for k, v in levels.items())


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
    if a.findings:
        t = Table(title="findings", title_justify="left", show_lines=True, expand=False)
        for col in ("", "factors", "kind", "where", "control → observed", "support"):
            t.add_column(col, overflow="fold")
        for i, f in enumerate(a.findings, 1):
            sev = f.change.severity
            t.add_row(
                f"F{i}",
                _levels(dict(f.factors)),
                Text(f"{f.change.kind}\n{sev}", style=SEVERITY_STYLE.get(sev, "")),
                f"{f.request}\n{f.change.path}",
                _change_text(f.change),
                f"{f.support[0]}/{f.support[1]} runs\ncontrol {f.control_support[0]}/"
                f"{f.control_support[1]}",
            )
        parts.append(t)
    else:
        parts.append(Text("no difference is attributed to any factor level", style="green"))
    unresolved = list(getattr(a, "unresolved", ())) + list(a.suspects)
    if unresolved:
        t = Table(title="seen only in combined cells, not narrowed down", title_justify="left")
        for col in ("cell", "kind", "where", "control → observed"):
            t.add_column(col, overflow="fold")
        for s in unresolved:
            t.add_row(s.cell, s.change.kind, s.change.path, _change_text(s.change))
        parts.append(t)
    if a.noise:
        t = Table(title="noise (varies between identical runs; never attributed)",
                  title_justify="left")
        for col in ("request", "path", "runs", "example"):
            t.add_column(col, overflow="fold")
        for n in a.noise[:20]:
            example = n.examples[0] if n.examples else ""
            t.add_row(n.request, n.path, str(n.runs), rich_mark(_clip(example) or ""))
        if len(a.noise) > 20:
            t.caption = f"{len(a.noise) - 20} more in the JSON report"
        parts.append(t)
    if failed:
        t = Table(title="runs that failed", title_justify="left")
        for col in ("cell", "replicate", "exit", "error"):
            t.add_column(col, overflow="fold")
        for r in failed[:20]:
            t.add_row(r.cell, str(r.replicate), str(r.exit_code), r.error or "")
        parts.append(t)
    parts.append(Text(f"probe {result.probe} in {result.store_root}", style="dim"))
    return Group(*parts)
