"""The ``drift`` report for the terminal (rich; pure: returns renderables).

Verdict and what was read first; then each finding: its group, what differs (the
probe's detectors' lines, every hidden or look-alike code point marked), the template
and the variant as sent, how many exchanges and senders sent each, who gets it (the
separators and notes) and the exchange ids to ``promptwitness show``; then what was set
apart and the groups compared.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from promptwitness.drift.model import DriftReport, Variant
from promptwitness.report.unicode import mark, rich_mark

__all__ = ["render_drift", "window_text"]

MAX_SHOWN = 120
MAX_IDS = 12
VERDICT_STYLE = {"drift": "bold red", "uniform": "bold green"}


def window_text(report: DriftReport) -> str:
    from promptwitness.model import iso_time

    parts = []
    if report.since is not None:
        parts.append(f"since {iso_time(report.since)}")
    if report.until is not None:
        parts.append(f"until {iso_time(report.until)}")
    if report.agent:
        parts.append(f"user agents containing {report.agent!r}")
    return ", ".join(parts) or "every exchange"


def _ids(ids: tuple[int, ...], total: int) -> str:
    shown = ", ".join(str(i) for i in ids[:MAX_IDS])
    more = total - min(len(ids), MAX_IDS)
    return shown + (f" (+{more} more)" if more > 0 else "")


def _text(text: str) -> Text:
    body = text.rstrip("\n")
    breaks = len(text) - len(body)
    out = rich_mark(body[:MAX_SHOWN])
    if len(body) > MAX_SHOWN:
        out.append(f" [+{len(body) - MAX_SHOWN} more]", style="dim italic")
    if breaks:
        out.append(" " + "\\n" * breaks, style="dim")
    return out


def _variant(v: Variant, *, brief: bool = False) -> RenderableType:
    lines: list[RenderableType] = []
    head = Text()
    head.append(f"{v.id} ", style="bold")
    head.append("covert " if v.status != "expected" else "expected ", style="bold red")
    head.append(", ".join(v.kinds) or "form")
    head.append(f" in {v.variant.path}")
    head.append(f"  [{v.group.agent} {v.group.version} · {v.group.kind}]", style="dim")
    lines.append(head)
    for c in v.changes:
        detail = c.detail or f"{c.control!r} \u2192 {c.observed!r}"
        lines.append(Text("    " + " \u2192 ".join(mark(p) for p in detail.split(" \u2192 "))))
    t = Text("    template: ")
    t.append_text(_text(v.template.text))
    t.append(f"   {v.template.count} exchanges, {v.template.senders} senders", style="dim")
    lines.append(t)
    t = Text("    variant:  ")
    t.append_text(_text(v.variant.text))
    t.append(f"   {v.variant.count} exchanges, {v.variant.senders} senders", style="dim")
    lines.append(t)
    if not brief:
        explained = v.explained_by
        if explained:
            for s in explained:
                lines.append(Text("    who: " + s.sentence(), style="bold"))
        for s in v.separators:
            if s.verdict == "partial":
                lines.append(Text("    partly: " + s.sentence()))
    for note in v.notes:
        lines.append(Text("    note: " + note, style="dim"))
    lines.append(
        Text(
            f"    evidence: exchanges {_ids(v.variant.exchanges, v.variant.count)} "
            f"(template: {_ids(v.template.exchanges[:3], v.template.count)})",
            style="dim",
        )
    )
    if v.variant.exchanges and v.template.exchanges:
        lines.append(
            Text(
                f"    promptwitness diff {v.template.exchanges[0]} {v.variant.exchanges[0]}",
                style="dim",
            )
        )
    return Group(*lines)


def render_drift(report: DriftReport) -> RenderableType:
    """The whole report (module docstring)."""
    out: list[RenderableType] = []
    head = Text()
    head.append(report.verdict.upper(), style=VERDICT_STYLE[report.verdict])
    n = len(report.findings)
    head.append(
        f": {n} covert form variant{'s' if n != 1 else ''} of shared template text"
        if n
        else ": no covert form variant of shared template text"
    )
    out.append(head)
    out.append(
        Text(
            f"{report.read} exchanges read ({window_text(report)}): {report.model_calls} model "
            f"calls in {len(report.groups)} group{'s' if len(report.groups) != 1 else ''}, "
            f"{report.not_model_calls} not model calls, {report.unparsable} unparsable"
            + (f", {report.other_agents} of other agents" if report.agent else "")
            + f"; {report.passes} pass{'es' if report.passes != 1 else ''}",
            style="dim",
        )
    )
    for v in report.findings:
        out.append(Text(""))
        out.append(_variant(v))
    if report.set_apart:
        out.append(Text(""))
        out.append(Text("Set apart (not findings):", style="bold"))
        for v in report.set_apart:
            out.append(_variant(v, brief=True))
    if report.groups:
        out.append(Text(""))
        out.append(Text("Groups compared:", style="bold"))
        for g in report.groups:
            out.append(
                Text(
                    f"  {g.key.agent} {g.key.version} · {g.key.kind}: {g.exchanges} exchanges, "
                    f"{'≥' if g.senders_capped else ''}{g.senders} senders, "
                    f"{g.template_units} template lines"
                )
            )
    for note in report.notes:
        out.append(Text("note: " + note, style="dim"))
    return Group(*out)
