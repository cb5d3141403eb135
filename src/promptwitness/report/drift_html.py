"""The ``drift`` report as one self-contained HTML page (pure: returns text).

The reports' shell (``report.html.page``: inline styles, Content-Security-Policy,
nothing fetched) around ``drift_section.html.j2``. Every text from a request is
autoescaped and marked (``html_mark``): hidden and look-alike code points show as
``⟦U+2019 RIGHT SINGLE QUOTATION MARK⟧`` markers.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from promptwitness.drift.model import DriftReport, Variant
from promptwitness.model import iso_time
from promptwitness.report.drift_terminal import window_text
from promptwitness.report.html import SEVERITY_ICON, _detail, _env, page

__all__ = ["render_drift_html"]

MAX_IDS = 50


def _ids(ids: tuple[int, ...], total: int) -> str:
    shown = ", ".join(str(i) for i in ids[:MAX_IDS])
    more = total - min(len(ids), MAX_IDS)
    return shown + (f" and {more} more" if more > 0 else "")


def _variant(v: Variant) -> dict[str, Any]:
    severity = "covert" if v.status != "expected" else "expected"
    return {
        "id": v.id,
        "status": v.status,
        "severity": severity,
        "icon": SEVERITY_ICON[severity],
        "kinds": ", ".join(v.kinds),
        "path": v.variant.path,
        "group": f"{v.group.agent} {v.group.version} · {v.group.kind}",
        "changes": [{"kind": c.kind, "detail": _detail(c.detail)} for c in v.changes],
        "template_text": v.template.text,
        "variant_text": v.variant.text,
        "template_count": f"{v.template.count} exchanges, {v.template.senders} senders",
        "variant_count": f"{v.variant.count} exchanges, {v.variant.senders} senders",
        "separators": [{"verdict": s.verdict, "text": s.sentence()} for s in v.separators],
        "notes": list(v.notes),
        "variant_ids": _ids(v.variant.exchanges, v.variant.count),
        "template_ids": _ids(v.template.exchanges, v.template.count),
        "diff": (
            f"promptwitness diff {v.template.exchanges[0]} {v.variant.exchanges[0]}"
            if v.template.exchanges and v.variant.exchanges
            else ""
        ),
    }


def _headline(report: DriftReport) -> str:
    n = len(report.findings)
    if not n:
        return "Uniform: no covert form variant of shared template text."
    return f"Drift: {n} covert form variant{'s' if n != 1 else ''} of shared template text."


def render_drift_html(report: DriftReport) -> str:
    """The drift report as one HTML page."""
    o = report.options
    d = {
        "headline": _headline(report),
        "store": report.store,
        "window": window_text(report),
        "read": (
            f"{report.read} exchanges: {report.model_calls} model calls in "
            f"{len(report.groups)} groups, {report.not_model_calls} not model calls, "
            f"{report.unparsable} unparsable, {report.other_agents} of other agents"
        ),
        "thresholds": (
            f"template: a line in ≥{o.template_share:.0%} of its group's requests; a finding: "
            f"sent by ≥{o.min_senders} senders"
        ),
        "exit_code": report.exit_code,
        "findings": [_variant(v) for v in report.findings],
        "set_apart": [_variant(v) for v in report.set_apart],
        "groups": [
            {
                **g.key.to_json(),
                "exchanges": g.exchanges,
                "senders": f"{'≥' if g.senders_capped else ''}{g.senders}",
                "template_units": g.template_units,
                "first": iso_time(g.first),
                "last": iso_time(g.last),
            }
            for g in report.groups
        ],
    }
    body = Markup(_env().get_template("drift_section.html.j2").render(d=d))  # noqa: S704 - an autoescaped template
    sections = [
        ("summary", "Summary"),
        ("findings", f"Findings ({len(report.findings)})"),
        ("apart", f"Set apart ({len(report.set_apart)})"),
        ("groups", f"Groups ({len(report.groups)})"),
    ]
    verdict = "conditioned" if report.findings else "clean"
    return page("promptwitness drift", body, verdict=verdict, sections=sections)
