"""The ``scan`` report as HTML (pure: returns text).

``scan_section(report)`` renders the ``scan_section.html.j2`` section (summary,
notes, string tables, look-alike literals, reads by kind, files read) for any page
that holds a :class:`~promptwitness.discover.model.ScanReport`;
``render_scan_html(report)`` wraps it in the reports' self-contained shell
(``report.html.page``: inline styles, Content-Security-Policy, nothing fetched).
Every text from the scanned code is autoescaped and marked (``html_mark``): hidden
and look-alike code points are shown as ``⟦U+200B ZERO WIDTH SPACE⟧`` markers.
Lists are cut at ``MAX_ROWS`` (the JSON report has them all).
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from promptwitness.discover.model import READ_KINDS, ScanReport
from promptwitness.report.html import _env, page
from promptwitness.report.scan_text import counts, summary_line

__all__ = ["MAX_ROWS", "render_scan_html", "scan_section"]

MAX_ROWS = 500
MAX_STRINGS = 30


def _context(report: ScanReport, anchor: str) -> dict[str, Any]:
    tables = [
        {
            "encoding": " → ".join(t.encoding),
            "hidden": t.encoding != ("plain",),
            "count": n,
            "strings": t.strings[:MAX_STRINGS],
            "more": max(0, len(t.strings) - MAX_STRINGS),
            "kinds": ", ".join(t.kinds),
            "where": str(t.location),
            "context": t.context,
        }
        for t, n in zip(report.tables, counts(report, "tables"), strict=True)
    ]
    looks = [
        {
            "code_points": x.code_points,
            "literal": x.literal,
            "escaped": x.escaped,
            "count": n,
            "where": str(x.location),
        }
        for x, n in zip(report.lookalikes, counts(report, "lookalikes"), strict=True)
    ]
    groups: dict[str, list[dict[str, Any]]] = {}
    for r, n in zip(report.reads, counts(report, "reads"), strict=True):
        groups.setdefault(r.kind, []).append(
            {"name": r.name or r.kind, "count": n, "where": str(r.location), "context": r.context}
        )
    order = [k for k in READ_KINDS if k in groups] + sorted(set(groups) - set(READ_KINDS))
    reads = [
        {"kind": k, "rows": sorted(groups[k], key=lambda i: i["name"])[:MAX_ROWS]} for k in order
    ]
    files = [
        {"path": f.path, "format": f.format, "size": f"{f.size:,}", "note": f.note}
        for f in report.files[:MAX_ROWS]
    ]
    return {
        "s": {
            "anchor": anchor,
            "target": report.target,
            "summary": summary_line(report),
            "notes": list(report.notes),
            "tables": tables[:MAX_ROWS],
            "tables_more": max(0, len(tables) - MAX_ROWS),
            "lookalikes": looks[:MAX_ROWS],
            "lookalikes_more": max(0, len(looks) - MAX_ROWS),
            "reads": reads,
            "read_total": len(report.reads),
            "files": files,
            "file_total": len(report.files),
            "files_more": max(0, len(report.files) - MAX_ROWS),
        }
    }


def scan_section(report: ScanReport, anchor: str = "scan") -> Markup:
    """The scan section (trusted HTML) with ids prefixed by ``anchor``."""
    return Markup(_env().get_template("scan_section.html.j2").render(**_context(report, anchor)))  # noqa: S704 - an autoescaped template


def render_scan_html(report: ScanReport) -> str:
    """The scan report as one self-contained HTML page."""
    sections = [
        ("scan", "Summary"),
        ("scan-tables", f"Tables ({len(report.tables)})"),
        ("scan-lookalikes", f"Look-alikes ({len(report.lookalikes)})"),
        ("scan-reads", f"Reads ({len(report.reads)})"),
        ("scan-files", f"Files ({len(report.files)})"),
    ]
    return page(f"promptwitness scan: {report.target}", scan_section(report), sections=sections)
