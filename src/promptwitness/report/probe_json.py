"""The probe report as JSON: ``promptwitness/probe-report/v1`` (a public contract).

Change the shape only with a new schema string. Every key below is always present.

    schema, tool {name, version}, probe (store run id), store, command [argv],
    started, finished (ISO 8601 UTC), verdict ("clean" | "conditioned" | "inconclusive"),
    exit_code (0 | 1 | 3),
    factors [{name, description, control, levels}],
    design {replicates, control_replicates, covering_replicates, sequential, screen, pairwise,
            cells [{id, purpose, reason, levels {factor: level}, runs}]},
    runs [{run, cell, replicate, exit_code, timed_out, duration, overhead, requests, error}],
    findings [{id, factors {factor: level}, request, channel, path, kind, severity,
               control, observed, a_span, b_span, code_points, detail, context,
               support {replicates, of}, control_support {replicates, of}, cells}],
    suspects [...], unresolved [...]   (differences seen only in combined cells)
    noise [{request, path, channel, spans, examples, runs}],
    summary {runs, failed_runs, findings {covert, overt, expected}, noise}
    egress {cell: {runs, hosts {host: {schemes, requests, bytes_sent, bytes_received,
            paths {"METHOD path": {count, bytes_sent, bytes_received}}}}}}
            (hermetic mode: every host every run of the cell contacted, summed over its
            runs; empty otherwise)
    hermetic null | {ca_trust ("system-bundle" | "variable NAME"), dns_names [...],
            default_hosts [...], undeclared_hosts [...], preflight {...}, tls_failures [...]}
"""

from __future__ import annotations

import shlex
from collections import Counter
from typing import Any

from promptwitness import __version__
from promptwitness.analysis.attribute import EXIT_CODES
from promptwitness.analysis.changes import Change
from promptwitness.model import iso_time
from promptwitness.probe.clock import describe
from promptwitness.probe.model import ProbeResult, RunRecord

__all__ = ["SCHEMA", "exit_code", "to_json"]

SCHEMA = "promptwitness/probe-report/v1"


def exit_code(verdict: str) -> int:
    return EXIT_CODES.get(verdict, 2)


def _span(span: tuple[int, int] | None) -> list[int] | None:
    return None if span is None else [span[0], span[1]]


def change_json(change: Change) -> dict[str, Any]:
    return dict(change.to_json())


def _support(pair: tuple[int, int]) -> dict[str, int]:
    return {"replicates": pair[0], "of": pair[1]}


def egress_by_cell(result: ProbeResult) -> dict[str, dict[str, Any]]:
    """Hermetic egress per cell: hosts, paths, counts and bytes summed over its runs."""
    out: dict[str, dict[str, Any]] = {}
    for rec in result.runs:
        per_run = result.egress.get(rec.run)
        if per_run is None:
            continue
        cell = out.setdefault(rec.cell, {"runs": 0, "hosts": {}})
        cell["runs"] += 1
        for host, h in per_run.items():
            c = cell["hosts"].setdefault(
                host,
                {"schemes": [], "requests": 0, "bytes_sent": 0, "bytes_received": 0, "paths": {}},
            )
            c["schemes"] = sorted(set(c["schemes"]) | set(h["schemes"]))
            for k in ("requests", "bytes_sent", "bytes_received"):
                c[k] += h[k]
            for path, p in h["paths"].items():
                cp = c["paths"].setdefault(path, {"count": 0, "bytes_sent": 0, "bytes_received": 0})
                for k in ("count", "bytes_sent", "bytes_received"):
                    cp[k] += p[k]
    for cell in out.values():
        cell["hosts"] = {
            h: {**v, "paths": dict(sorted(v["paths"].items()))}
            for h, v in sorted(cell["hosts"].items())
        }
    return out


def evidence(result: ProbeResult) -> list[dict[str, Any]]:
    """Per finding (in order): the stored exchanges that show it, the reference run's
    request and the same request in the first successful run of the finding's cell, and
    the command that shows their difference (pasteable: it names the store). The runs
    are indexed once, not per finding."""
    ref = result.analysis.reference
    ref_run = next((r for r in result.runs if (r.cell, r.replicate) == ref), None)
    by_cell: dict[str, list[RunRecord]] = {}
    for r in sorted(result.runs, key=lambda r: r.replicate):
        if r.error is None:
            by_cell.setdefault(r.cell, []).append(r)
    store = shlex.quote(result.store_root)
    out = []
    for f in result.analysis.findings:
        control = ref_run.exchanges.get(f.request) if ref_run is not None else None
        observed = next(
            (
                r.exchanges[f.request]
                for r in by_cell.get(f.cells[0], ())
                if f.request in r.exchanges
            ),
            None,
        )
        doc: dict[str, Any] = {"control": control, "observed": observed}
        if control is not None and observed is not None:
            doc["command"] = f"promptwitness diff --store {store} {control} {observed}"
        elif control is not None or observed is not None:
            doc["command"] = f"promptwitness show --store {store} {control or observed}"
        out.append(doc)
    return out


def headline(result: ProbeResult) -> str:
    """The first line a reader needs: the covert changes, or that there are none (the
    question the tool exists for), then the overt ones."""
    a = result.analysis
    covert = [f for f in a.findings if f.change.severity == "covert"]
    overt = [f for f in a.findings if f.change.severity == "overt"]
    if covert:
        kinds = Counter(f.change.kind for f in covert)
        factors = sorted({k for f in covert for k in f.factors})
        text = (
            f"{len(covert)} covert change{'s' if len(covert) != 1 else ''} ("
            + ", ".join(f"{n} {k}" for k, n in kinds.most_common())
            + f") under {', '.join(factors)}"
        )
    elif result.verdict in ("clean", "conditioned"):
        text = "no covert change"
    else:
        text = "no covert change attributed (the probe was inconclusive)"
    if overt:
        text += f"; {len(overt)} overt"
    return text


def hermetic_json(result: ProbeResult) -> dict[str, Any] | None:
    if result.hermetic is None:
        return None
    doc = dict(result.hermetic)
    declared = {h.lower() for h in doc.get("default_hosts", [])}
    seen = sorted({h for e in result.egress.values() for h in e})
    doc["undeclared_hosts"] = [h for h in seen if h.split(":")[0] not in declared]
    return doc


def to_json(result: ProbeResult) -> dict[str, Any]:
    a = result.analysis
    runs_per_cell = Counter(r.cell for r in result.runs)
    findings = []
    shown = evidence(result)
    for i, f in enumerate(a.findings, 1):
        findings.append(
            {
                "id": f"F{i}",
                "factors": dict(f.factors),
                "request": f.request,
                **change_json(f.change),
                "support": _support(f.support),
                "control_support": _support(f.control_support),
                "cells": list(f.cells),
                "evidence": shown[i - 1],
            }
        )
    suspects = [
        {
            "cell": s.cell,
            "levels": dict(s.levels),
            "request": getattr(s, "request", None),
            **change_json(s.change),
            "candidates": [dict(c) for c in s.candidates],
        }
        for s in a.suspects
    ]
    unresolved = [
        {
            "cell": s.cell,
            "levels": dict(s.levels),
            "request": getattr(s, "request", None),
            **change_json(s.change),
            "candidates": [dict(c) for c in s.candidates],
        }
        for s in getattr(a, "unresolved", ())
    ]
    noise = [
        {
            "request": n.request,
            "path": n.path,
            "channel": n.channel,
            "spans": [_span(s) for s in n.spans],
            "examples": list(n.examples),
            "runs": n.runs,
        }
        for n in a.noise
    ]
    sev = Counter(f.change.severity for f in a.findings)
    return {
        "schema": SCHEMA,
        "tool": {"name": "promptwitness", "version": __version__},
        "probe": result.probe,
        "store": result.store_root,
        "command": list(result.config.argv),
        "started": iso_time(result.started, timespec="seconds"),
        "finished": iso_time(result.finished, timespec="seconds"),
        "verdict": result.verdict,
        "exit_code": exit_code(result.verdict),
        "factors": [
            {
                "name": s.name,
                "description": s.factor.description,
                "control": s.control,
                "levels": list(s.levels),
            }
            for s in result.config.selections
        ],
        "design": {
            "replicates": result.config.replicates,
            "control_replicates": result.config.control_replicates,
            "covering_replicates": result.config.covering_replicates,
            "sequential": result.config.sequential,
            "screen": result.config.screen,
            "pairwise": result.config.pairwise,
            "clock": describe(result.clock),
            **({"clock_note": result.clock_note} if result.clock_note else {}),
            "cells": [
                {
                    "id": c.id,
                    "purpose": c.purpose,
                    "reason": c.reason,
                    "levels": dict(c.levels),
                    "runs": runs_per_cell.get(c.id, 0),
                }
                for c in result.cells
            ],
        },
        "runs": [r.to_json() for r in result.runs],
        "findings": findings,
        "suspects": suspects,
        "unresolved": unresolved,
        "noise": noise,
        "summary": {
            "headline": headline(result),
            "runs": len(result.runs),
            "failed_runs": sum(1 for r in result.runs if r.error is not None),
            "findings": {k: sev.get(k, 0) for k in ("covert", "overt", "expected")},
            "noise": len(a.noise),
        },
        "egress": egress_by_cell(result),
        "hermetic": hermetic_json(result),
    }
