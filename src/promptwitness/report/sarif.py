"""The probe (and diff) report as SARIF 2.1.0, for CI (pure: returns a JSON-able dict).

Shape (valid against the OASIS schema, see tests/fixtures/sarif/):

- one ``run``: ``tool.driver`` (name, version, informationUri) with one **rule per
  change kind** (id ``promptwitness/KIND``, help text, default level by severity:
  covert → ``error``, overt → ``warning``, expected → ``note``; GitHub's
  ``security-severity`` in its properties);
- one **result per finding** (``F1``, ``F2``, ... as in the JSON report), its level by
  the finding's severity, a message with the control and observed text *marked*
  (``report.unicode.mark``: hidden code points visible in any viewer), the factors,
  the replicate support and a stable ``partialFingerprints`` entry (factors, request,
  and the change's key) so that CI can tell a new finding from a known one;
- **locations**: ``logicalLocations[0].fullyQualifiedName`` is ``REQUEST::PATH``
  (e.g. ``POST /v1/messages [model] #0::system[0].text``); the ``physicalLocation``
  names a virtual artifact, *the segment's value as one run sent it*, under the
  ``PROMPTWITNESS_STORE`` base (``runs/RUN/REQUEST/PATH``, each part percent-encoded;
  ``originalUriBaseIds`` maps the base to the store directory), with a region in
  Unicode code points (``run.columnKind`` = ``unicodeCodePoints``): the change's span
  in that run's segment value, its text as the snippet. ``relatedLocations`` points at
  the control side in the reference run;
- ``invocations[0]``: the exit code (0 clean, 1 conditioned, 3 inconclusive, or the
  one ``--fail-on`` made), start and end time, and a notification for every run that
  failed and every difference that could not be narrowed down to a factor.

Suspects and noise are not results (they are not findings); they are counted in
``run.properties``.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections import Counter
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from promptwitness import __version__
from promptwitness.analysis.changes import KINDS, SEVERITY, Change
from promptwitness.model import iso_time
from promptwitness.probe.model import ProbeResult
from promptwitness.report.evidence import DiffReport
from promptwitness.report.html import KIND_HELP
from promptwitness.report.probe_json import exit_code as verdict_exit_code
from promptwitness.report.probe_json import headline
from promptwitness.report.unicode import mark

__all__ = [
    "INFORMATION_URI",
    "LEVEL",
    "SARIF_SCHEMA",
    "STORE_BASE",
    "diff_sarif",
    "history_sarif",
    "dumps",
    "probe_sarif",
    "rules",
]

SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
INFORMATION_URI = "https://pypi.org/project/promptwitness/"
STORE_BASE = "PROMPTWITNESS_STORE"
LEVEL = {"covert": "error", "overt": "warning", "expected": "note"}
SECURITY_SEVERITY = {"covert": "8.0", "overt": "5.0", "expected": "1.0"}
FINGERPRINT = "promptwitnessChange/v1"
MAX_TEXT = 200  # code points of each side in a message


def _title(kind: str) -> str:
    return "".join(p.capitalize() for p in kind.split("-")) + "Change"


def rules() -> list[dict[str, Any]]:
    """One reporting descriptor per change kind, in ``KINDS`` order."""
    out = []
    for kind in KINDS:
        sev = SEVERITY[kind]
        help_text = KIND_HELP[kind]
        more = {
            "covert": "Covert: a person reading the request would not notice it, so it can "
            "carry information about the environment unseen.",
            "overt": "Overt: visible in the request, but it still depends on the environment.",
            "expected": "Expected: a value that really depends on the environment (e.g. the "
            "date in another time zone); reported, never a reason to fail.",
        }[sev]
        out.append(
            {
                "id": f"promptwitness/{kind}",
                "name": _title(kind),
                "shortDescription": {"text": f"{kind} change ({sev})"},
                "fullDescription": {"text": help_text},
                "help": {
                    "text": f"{help_text} {more} Rerun the probe and open its HTML report "
                    f"(--html) to see control and observed text side by side with every "
                    f"hidden code point marked.",
                    "markdown": f"**{kind}** ({sev}): {help_text}\n\n{more}",
                },
                "defaultConfiguration": {"level": LEVEL[sev]},
                "properties": {
                    "tags": ["promptwitness", sev, kind],
                    "security-severity": SECURITY_SEVERITY[sev],
                },
            }
        )
    return out


_RULE_INDEX = {kind: i for i, kind in enumerate(KINDS)}


def _store_uri(root: str) -> str:
    path = PurePosixPath(root)
    if path.is_absolute():
        return path.as_uri().rstrip("/") + "/"
    return quote(root.rstrip("/"), safe="/") + "/"


def _detail(text: str) -> str:
    """The detectors' line, marked, except for the arrows they put between the sides."""
    return " \u2192 ".join(mark(part) for part in text.split(" \u2192 "))


def _fqn(request: str, path: str) -> str:
    return f"{request}::{path}" if path else request


def _side(text: str | None) -> str:
    if text is None:
        return "(absent)"
    if text == "":
        return "(empty)"
    shown = mark(text[:MAX_TEXT])
    more = len(text) - MAX_TEXT
    return f"\u00ab{shown}\u00bb" + (f" [+{more} more]" if more > 0 else "")


def _physical(
    parts: Sequence[str] | None, span: tuple[int, int] | None, text: str | None
) -> dict[str, Any] | None:
    if parts is None:
        return None
    out: dict[str, Any] = {
        "artifactLocation": {
            "uri": "/".join(quote(p, safe="") for p in parts),
            "uriBaseId": STORE_BASE,
        }
    }
    if span is not None:
        region: dict[str, Any] = {"charOffset": span[0], "charLength": span[1] - span[0]}
        if text:
            region["snippet"] = {"text": text}
        out["region"] = region
    return out


def _location(
    artifact: Sequence[str] | None,
    request: str,
    c: Change,
    side: str,
    message: str | None = None,
    id: int | None = None,
) -> dict[str, Any]:
    """``artifact``: the parts of the artifact's path under the store (None: no physical
    location); ``side`` "a" (control) or "b" (observed)."""
    loc: dict[str, Any] = {}
    if id is not None:
        loc["id"] = id
    span, text = (c.b_span, c.observed) if side == "b" else (c.a_span, c.control)
    parts = None if artifact is None else [*artifact, *([c.path] if c.path else [])]
    phys = _physical(parts, span, text)
    if phys is not None:
        loc["physicalLocation"] = phys
    loc["logicalLocations"] = [
        {
            "name": c.path or request,
            "fullyQualifiedName": _fqn(request, c.path),
            "kind": "member" if c.path else "object",
        }
    ]
    if message:
        loc["message"] = {"text": message}
    return loc


def _fingerprint(*parts: object) -> str:
    text = json.dumps(parts, ensure_ascii=False, sort_keys=True, default=list)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _change_props(c: Change) -> dict[str, Any]:
    return {
        "kind": c.kind,
        "severity": c.severity,
        "channel": c.channel,
        "path": c.path,
        "control": c.control,
        "observed": c.observed,
        "aSpan": None if c.a_span is None else list(c.a_span),
        "bSpan": None if c.b_span is None else list(c.b_span),
        "codePoints": list(c.code_points),
        "detail": c.detail,
    }


def _result(
    c: Change,
    message: str,
    location: dict[str, Any],
    related: list[dict[str, Any]],
    fingerprint: str,
    props: dict[str, Any],
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ruleId": f"promptwitness/{c.kind}",
        "ruleIndex": _RULE_INDEX[c.kind],
        "level": LEVEL[c.severity],
        "message": {"text": message},
        "locations": [location],
    }
    if related:
        out["relatedLocations"] = related
    out["partialFingerprints"] = {FINGERPRINT: fingerprint}
    out["properties"] = props
    return out


def _driver() -> dict[str, Any]:
    return {
        "name": "promptwitness",
        "version": __version__,
        "semanticVersion": __version__,
        "informationUri": INFORMATION_URI,
        "rules": rules(),
    }


def _invocation(
    code: int,
    command_line: Sequence[str] | None,
    *,
    description: str | None = None,
    start: str | None = None,
    end: str | None = None,
    notes: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """A run's one ``invocation``: exit code 2 is a failed execution; the command line,
    the start and end times and the notifications when there are any."""
    invocation: dict[str, Any] = {"executionSuccessful": code != 2, "exitCode": code}
    if description is not None:
        invocation["exitCodeDescription"] = description
    if start is not None:
        invocation["startTimeUtc"] = start
    if end is not None:
        invocation["endTimeUtc"] = end
    if command_line is not None:
        invocation["commandLine"] = shlex.join(command_line)
        invocation["arguments"] = list(command_line)
    if notes:
        invocation["toolExecutionNotifications"] = list(notes)
    return invocation


def _log(run: dict[str, Any]) -> dict[str, Any]:
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def probe_sarif(
    result: ProbeResult, *, exit_code: int | None = None, command_line: Sequence[str] | None = None
) -> dict[str, Any]:
    """The SARIF log of a probe (module docstring). ``exit_code``: the command's final
    one (default from the verdict); ``command_line``: promptwitness's own argv."""
    a = result.analysis
    ok = [r for r in result.runs if r.error is None]
    ref = a.reference
    ref_run = next((r.run for r in result.runs if ref and (r.cell, r.replicate) == ref), None)
    results = []
    for i, f in enumerate(a.findings, 1):
        c = f.change
        fid = f"F{i}"
        levels = " + ".join(f"{k}={v}" for k, v in f.factors.items())
        run = next((r.run for r in ok if r.cell == f.cell), None)
        message = (
            f"{fid} {c.severity} {c.kind} under {levels}: {_fqn(f.request, c.path)} changes "
            f"from {_side(c.control)} to {_side(c.observed)}"
            + (f" ({_detail(c.detail)})" if c.detail else "")
            + f"; in {f.support[0]} of {f.support[1]} runs of {f.cell}, "
            f"{f.control_support[0]} of {f.control_support[1]} control runs."
        )
        related = []
        if ref_run is not None:
            related.append(
                _location(
                    ("runs", ref_run, f.request),
                    f.request,
                    c,
                    "a",
                    "the control's text (reference run)",
                    id=1,
                )
            )
        results.append(
            _result(
                c,
                message,
                _location(None if run is None else ("runs", run, f.request), f.request, c, "b"),
                related,
                _fingerprint(sorted(f.factors.items()), f.request, c.key),
                {
                    "finding": fid,
                    "factors": dict(f.factors),
                    "request": f.request,
                    **_change_props(c),
                    "support": {"replicates": f.support[0], "of": f.support[1]},
                    "controlSupport": {
                        "replicates": f.control_support[0],
                        "of": f.control_support[1],
                    },
                    "cells": list(f.cells),
                    "runs": [r.run for r in ok if r.cell == f.cell],
                },
            )
        )
    notes: list[dict[str, Any]] = []
    for r in result.runs:
        if r.error is not None:
            notes.append(
                {
                    "level": "warning",
                    "message": {
                        "text": f"run {r.run} ({r.cell}, replicate {r.replicate}) "
                        f"failed: {mark(r.error)}"
                    },
                    "descriptor": {"id": "run-failed"},
                }
            )
    for s in (*a.suspects, *a.unresolved):
        notes.append(
            {
                "level": "warning",
                "message": {
                    "text": f"{s.change.severity} {s.change.kind} change in "
                    f"{_fqn(s.request, s.change.path)} seen only in the combined "
                    f"cell {s.cell}, not narrowed down to a factor: "
                    f"{_side(s.change.control)} to {_side(s.change.observed)}"
                },
                "descriptor": {"id": "not-narrowed-down"},
            }
        )
    code = verdict_exit_code(result.verdict) if exit_code is None else exit_code
    invocation = _invocation(
        code,
        command_line,
        description=result.verdict,
        start=iso_time(result.started, timespec="seconds"),
        end=iso_time(result.finished, timespec="seconds"),
        notes=notes,
    )
    sev = Counter(f.severity for f in a.findings)
    run_doc = {
        "tool": {"driver": _driver()},
        "invocations": [invocation],
        "originalUriBaseIds": {
            STORE_BASE: {
                "uri": _store_uri(result.store_root),
                "description": {
                    "text": "the promptwitness store that holds every captured "
                    "request of this probe"
                },
            }
        },
        "automationDetails": {"id": f"promptwitness-probe/{result.probe}"},
        "columnKind": "unicodeCodePoints",
        "results": results,
        "properties": {
            "verdict": result.verdict,
            "probe": result.probe,
            "command": list(result.config.argv),
            "factors": {s.name: list(s.levels) for s in result.config.selections},
            "headline": headline(result),
            "runs": len(result.runs),
            "failedRuns": sum(1 for r in result.runs if r.error is not None),
            "findings": {k: sev.get(k, 0) for k in ("covert", "overt", "expected")},
            "notNarrowedDown": len(a.suspects) + len(a.unresolved),
            "noise": len(a.noise),
        },
    }
    return _log(run_doc)


def diff_sarif(report: DiffReport, *, command_line: Sequence[str] | None = None) -> dict[str, Any]:
    """The SARIF log of ``promptwitness diff``: one result per classified change, located
    in exchange B's segment (``exchanges/ID/PATH``), the A side as related location."""
    results = []
    n = 0
    for _d, changes in report.changes:
        for c in changes:
            n += 1
            message = (
                f"D{n} {c.severity} {c.kind}: {_fqn(report.b.request, c.path)} changes "
                f"from {_side(c.control)} to {_side(c.observed)}"
                + (f" ({_detail(c.detail)})" if c.detail else "")
                + "."
            )
            loc = _location(("exchanges", str(report.b.exchange)), report.b.request, c, "b")
            related = [
                _location(
                    ("exchanges", str(report.a.exchange)),
                    report.a.request,
                    c,
                    "a",
                    f"exchange #{report.a.exchange}",
                    id=1,
                )
            ]
            results.append(
                _result(
                    c,
                    message,
                    loc,
                    related,
                    _fingerprint(report.a.request, report.b.request, c.key),
                    {
                        "change": f"D{n}",
                        **_change_props(c),
                        "exchanges": [report.a.exchange, report.b.exchange],
                    },
                )
            )
    code = 0 if report.identical else 1
    invocation = _invocation(code, command_line, description="identical" if code == 0 else "differ")
    return _log(
        {
            "tool": {"driver": _driver()},
            "invocations": [invocation],
            "originalUriBaseIds": {STORE_BASE: {"uri": _store_uri(report.store_root)}},
            "columnKind": "unicodeCodePoints",
            "results": results,
            "properties": {
                "exchanges": [report.a.exchange, report.b.exchange],
                "segments": len(report.changes),
            },
        }
    )


def dumps(doc: dict[str, Any]) -> str:
    """The SARIF file's text (UTF-8, indented, one trailing newline)."""
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


# ------------------------------------------------------------------ history

BISECT_RULE = "promptwitness/bisect-boundary"


def _history_rules() -> list[dict[str, Any]]:
    return [
        *rules(),
        {
            "id": BISECT_RULE,
            "name": "BisectBoundary",
            "shortDescription": {"text": "where a finding starts and stops across releases"},
            "fullDescription": {
                "text": "The first and the last release of the range for which "
                "the bisected signature holds (a finding of that factor "
                "and kind in the release's audit)."
            },
            "help": {
                "text": "promptwitness history --bisect SIGNATURE audits O(log n) releases to "
                "find the first and the last one that show the signature; the "
                "result's properties list every release tested."
            },
            "defaultConfiguration": {"level": "note"},
            "properties": {"tags": ["promptwitness", "history", "bisect"]},
        },
    ]


def _history_exit_code(doc: dict[str, Any]) -> int:
    """As ``cli/history.py`` decides it: 3 for a bisect not found or not contiguous, 2
    when no release was captured, 3 when some was not, else 0."""
    b = doc["bisect"]
    if b is not None and (b["first"] is None or not b["contiguous"]):
        return 3
    versions = doc["versions"]
    if versions:
        ok = sum(1 for v in versions if v["error"] is None)
        if ok == 0:
            return 2
        if ok < len(versions):
            return 3
    return 0


def _release_fqn(agent: str, version: str, request: str, path: str) -> str:
    return f"{agent}@{version}::" + _fqn(request, path)


def history_sarif(
    doc: dict[str, Any], *, exit_code: int | None = None, command_line: Sequence[str] | None = None
) -> dict[str, Any]:
    """The SARIF log of ``promptwitness history`` from its ``promptwitness/history/v1``
    document (``history.document.to_json``): one result per audit finding per release
    (rule = the change kind, level by severity, the release in the logical location's
    fully qualified name ``AGENT@VERSION::REQUEST::PATH``, version and published date in
    the properties), and a note for the bisect boundary when one was found. A release
    that could not be captured, and a bisect that found nothing, are notifications."""
    agent = doc["agent"]["name"]
    results: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    for v in doc["versions"]:
        version, published = v["version"], v["published"]
        if v["error"] is not None:
            notes.append(
                {
                    "level": "warning",
                    "descriptor": {"id": "release-not-captured"},
                    "message": {
                        "text": f"{agent} {version} could not be captured: {mark(v['error'])}"
                    },
                }
            )
        audit = v["audit"]
        if audit is None:
            continue
        for i, f in enumerate(audit["findings"], 1):
            kind, sev = f["kind"], f["severity"]
            levels = " + ".join(f"{k}={val}" for k, val in f["factors"].items())
            fqn = _release_fqn(agent, version, f["request"], f["path"])
            message = (
                f"{agent} {version}: {sev} {kind} under {levels}: "
                f"{_fqn(f['request'], f['path'])} changes from {_side(f['control'])} to "
                f"{_side(f['observed'])}"
                + (f" ({_detail(f['detail'])})" if f["detail"] else "")
                + "."
            )
            result: dict[str, Any] = {
                "ruleId": f"promptwitness/{kind}",
                "level": LEVEL.get(sev, "warning"),
                "message": {"text": message},
                "locations": [
                    {
                        "logicalLocations": [
                            {
                                "name": f["path"] or f["request"],
                                "fullyQualifiedName": fqn,
                                "kind": "member" if f["path"] else "object",
                            }
                        ]
                    }
                ],
                "partialFingerprints": {
                    FINGERPRINT: _fingerprint(
                        agent,
                        version,
                        sorted(f["factors"].items()),
                        f["request"],
                        f["path"],
                        kind,
                        f["control"],
                        f["observed"],
                    )
                },
                "properties": {
                    "version": version,
                    "published": published,
                    "finding": i,
                    "verdict": audit["verdict"],
                    "factors": dict(f["factors"]),
                    "request": f["request"],
                    "path": f["path"],
                    "kind": kind,
                    "severity": sev,
                    "control": f["control"],
                    "observed": f["observed"],
                    "codePoints": list(f["code_points"]),
                    "detail": f["detail"],
                },
            }
            if kind in _RULE_INDEX:
                result["ruleIndex"] = _RULE_INDEX[kind]
            results.append(result)
    b = doc["bisect"]
    if b is not None and b["first"] is not None:
        span = (
            f"{b['first']} ({(b['first_published'] or '-')[:10]}) to {b['last']} "
            f"({(b['last_published'] or '-')[:10]})"
        )
        results.append(
            {
                "ruleId": BISECT_RULE,
                "ruleIndex": len(KINDS),
                "level": "note",
                "message": {
                    "text": f"{agent}: {b['signature']} holds from {span}; "
                    f"{b['audits']} audit(s) over {b['versions']} release(s)"
                    + ("" if b["contiguous"] else "; not one contiguous run of releases")
                    + (f". {b['note']}" if b["note"] else ".")
                },
                "locations": [
                    {
                        "logicalLocations": [
                            {
                                "name": b["first"],
                                "fullyQualifiedName": f"{agent}@{b['first']}",
                                "kind": "module",
                            }
                        ]
                    }
                ],
                "relatedLocations": [
                    {
                        "id": 1,
                        "message": {"text": "the last release"},
                        "logicalLocations": [
                            {
                                "name": b["last"],
                                "fullyQualifiedName": f"{agent}@{b['last']}",
                                "kind": "module",
                            }
                        ],
                    }
                ],
                "partialFingerprints": {
                    FINGERPRINT: _fingerprint(
                        agent, "bisect", b["signature"], b["first"], b["last"]
                    )
                },
                "properties": {
                    "signature": b["signature"],
                    "first": b["first"],
                    "last": b["last"],
                    "firstPublished": b["first_published"],
                    "lastPublished": b["last_published"],
                    "contiguous": b["contiguous"],
                    "audits": b["audits"],
                    "tested": [
                        {
                            "version": t["version"],
                            "published": t["published"],
                            "holds": t["holds"],
                            "verdict": t["verdict"],
                        }
                        for t in b["tested"]
                    ],
                },
            }
        )
    elif b is not None:
        notes.append(
            {
                "level": "note",
                "descriptor": {"id": "bisect-not-found"},
                "message": {
                    "text": f"{agent}: {b['signature']} was not found in "
                    f"{b['versions']} release(s) ({b['audits']} "
                    f"audit(s))" + (f". {b['note']}" if b["note"] else ".")
                },
            }
        )
    code = _history_exit_code(doc) if exit_code is None else exit_code
    invocation = _invocation(
        code, command_line, start=doc["started"], end=doc["finished"], notes=notes
    )
    sev = Counter(
        f["severity"]
        for v in doc["versions"]
        if v["audit"] is not None
        for f in v["audit"]["findings"]
    )
    driver = _driver()
    driver["rules"] = _history_rules()
    return _log(
        {
            "tool": {"driver": driver},
            "invocations": [invocation],
            "automationDetails": {"id": f"promptwitness-history/{agent}/{doc['range']['spec']}"},
            "results": results,
            "properties": {
                "schema": doc["schema"],
                "agent": dict(doc["agent"]),
                "range": dict(doc["range"]),
                "store": doc["store"],
                "releases": [
                    {
                        "version": v["version"],
                        "published": v["published"],
                        "captured": v["error"] is None,
                        "verdict": None if v["audit"] is None else v["audit"]["verdict"],
                    }
                    for v in doc["versions"]
                ],
                "findings": {k: sev.get(k, 0) for k in ("covert", "overt", "expected")},
            },
        }
    )
