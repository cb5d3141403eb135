"""The history as JSON: ``promptwitness/history/v1`` (sans-IO; a public contract).

Change the shape only with a new schema string. Every key below is always present
(``null`` where there is nothing):

    schema, tool {name, version}, agent {name, title}, range {spec, order, every, max,
    in_range, selected}, started, finished (ISO 8601 UTC), store,
    versions [{version, published, error, seconds, runs, main_request, requests,
               sizes {request_bytes, system_bytes, tools_bytes, messages_bytes,
                      tool_count} | null,
               tools [names], noise [{request, path, examples}],
               audit {verdict, runs, failed_runs, seconds,
                      findings [{factors, request, path, kind, severity, control,
                                 observed, code_points, detail}]} | null}],
    steps [{from, to, tools_added, tools_removed, requests_added, requests_removed,
            changes [{category, path, channel, status, version_only, before, after,
                      edits [[tag, a_start, a_end, b_start, b_end]]}]}],
    bisect {signature, versions, first, last, first_published, last_published,
            audits, contiguous, note, tested [{version, published, holds, verdict,
            evidence [finding]}]} | null

``before``/``after`` are the main request's segment values with noise regions
replaced by ``<pw:noise>``; ``edits`` are the code-point ops that differ (offsets in
``before`` and ``after``).
"""

from __future__ import annotations

from typing import Any

from promptwitness import __version__
from promptwitness.history.run import Bisect, History
from promptwitness.history.timeline import Audit, AuditFinding, Step, VersionEntry
from promptwitness.model import iso_time

__all__ = ["SCHEMA", "to_json"]

SCHEMA = "promptwitness/history/v1"


def finding_json(f: AuditFinding) -> dict[str, Any]:
    return {
        "factors": dict(f.factors),
        "request": f.request,
        "path": f.path,
        "kind": f.kind,
        "severity": f.severity,
        "control": f.control,
        "observed": f.observed,
        "code_points": list(f.code_points),
        "detail": f.detail,
    }


def audit_json(a: Audit | None) -> dict[str, Any] | None:
    if a is None:
        return None
    return {
        "verdict": a.verdict,
        "runs": a.runs,
        "failed_runs": a.failed_runs,
        "seconds": round(a.seconds, 2),
        "findings": [finding_json(f) for f in a.findings],
    }


def _entry(e: VersionEntry) -> dict[str, Any]:
    s = e.sizes
    return {
        "version": e.version,
        "published": e.published,
        "error": e.error,
        "seconds": round(e.seconds, 2),
        "runs": e.runs,
        "main_request": e.main_request,
        "requests": list(e.requests),
        "sizes": None
        if s is None
        else {
            "request_bytes": s.request_bytes,
            "system_bytes": s.system_bytes,
            "tools_bytes": s.tools_bytes,
            "messages_bytes": s.messages_bytes,
            "tool_count": s.tool_count,
        },
        "tools": list(e.tools),
        "noise": [
            {"request": n.request, "path": n.path, "examples": list(n.examples)} for n in e.noise
        ],
        "audit": audit_json(e.audit),
    }


def _step(s: Step) -> dict[str, Any]:
    return {
        "from": s.before,
        "to": s.after,
        "tools_added": list(s.tools_added),
        "tools_removed": list(s.tools_removed),
        "requests_added": list(s.requests_added),
        "requests_removed": list(s.requests_removed),
        "changes": [
            {
                "category": c.category,
                "path": c.diff.path,
                "channel": c.diff.channel,
                "status": c.diff.status,
                "version_only": c.version_only,
                "before": c.diff.a,
                "after": c.diff.b,
                "edits": [
                    [o.tag, o.a_start, o.a_end, o.b_start, o.b_end]
                    for o in c.diff.ops
                    if o.tag != "equal"
                ],
            }
            for c in s.changes
        ],
    }


def bisect_json(b: Bisect) -> dict[str, Any]:
    published = {r.version: r.published for r in b.versions}
    tested = []
    for i, held in b.search.tested:
        rel = b.versions[i]
        cap = b.captures.get(rel.version)
        audit = cap.audit if cap is not None else None
        tested.append(
            {
                "version": rel.version,
                "published": rel.published,
                "holds": held,
                "verdict": None if audit is None else audit.verdict,
                "error": None if cap is None else cap.error,
                "evidence": []
                if audit is None
                else [finding_json(f) for f in b.signature.evidence(audit)],
            }
        )
    return {
        "signature": b.signature.text,
        "versions": len(b.versions),
        "first": b.first,
        "last": b.last,
        "first_published": None if b.first is None else published[b.first],
        "last_published": None if b.last is None else published[b.last],
        "audits": b.search.tests,
        "contiguous": b.search.contiguous,
        "note": b.search.note,
        "tested": tested,
        "seconds": round(b.finished - b.started, 1),
    }


def to_json(
    agent: str,
    title: str,
    range_info: dict[str, Any],
    store: str,
    history: History | None = None,
    bisect: Bisect | None = None,
) -> dict[str, Any]:
    started = min(x.started for x in (history, bisect) if x is not None)
    finished = max(x.finished for x in (history, bisect) if x is not None)
    return {
        "schema": SCHEMA,
        "tool": {"name": "promptwitness", "version": __version__},
        "agent": {"name": agent, "title": title},
        "range": range_info,
        "started": iso_time(started, timespec="seconds"),
        "finished": iso_time(finished, timespec="seconds"),
        "store": store,
        "versions": [] if history is None else [_entry(e) for e in history.timeline.entries],
        "steps": [] if history is None else [_step(s) for s in history.timeline.steps],
        "bisect": None if bisect is None else bisect_json(bisect),
    }
