"""The ``drift`` report as SARIF 2.1.0, for CI (pure: returns a JSON-able dict).

The same driver and rules as the probe's log (``report.sarif``: one rule per change
kind). One **result per finding** (``V1``, ``V2``, ... as in the JSON report), its rule
the kind of its first covert change (every kind in ``properties.kinds``), level
``error`` (covert), a message with the template and variant text *marked*
(``report.unicode.mark``), who gets it, and the evidence; a stable
``partialFingerprints`` entry (group, path, the two forms' texts). **Locations**: the
logical location ``AGENT VERSION · KIND::PATH``; the physical location is the segment
as the first exchange with the variant sent it (``exchanges/ID/PATH`` under the
``PROMPTWITNESS_STORE`` base), the template's exchange as a related location.
``invocations[0]`` has the exit code (0 uniform, 1 drift) and a notification per note.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from promptwitness.drift.model import DriftReport, Variant
from promptwitness.report.sarif import (
    _RULE_INDEX,
    LEVEL,
    STORE_BASE,
    _driver,
    _fingerprint,
    _invocation,
    _log,
    _physical,
    _store_uri,
)
from promptwitness.report.unicode import mark

__all__ = ["drift_sarif"]

FINGERPRINT = "promptwitnessDrift/v1"
MAX_TEXT = 200


def _fqn(v: Variant) -> str:
    return f"{v.group.agent} {v.group.version} · {v.group.kind}::{v.variant.path}"


def _location(v: Variant, exchange: int | None, path: str, message: str | None) -> dict[str, Any]:
    loc: dict[str, Any] = {}
    phys = _physical(None if exchange is None else ("exchanges", str(exchange), path), None, None)
    if phys is not None:
        loc["physicalLocation"] = phys
    loc["logicalLocations"] = [{"name": path, "fullyQualifiedName": _fqn(v), "kind": "member"}]
    if message:
        loc["message"] = {"text": message}
    return loc


def _result(v: Variant) -> dict[str, Any]:
    kind = v.changes[0].kind if v.changes else "content"
    who = v.explained_by
    message = (
        f"{v.id} covert {', '.join(v.kinds)}: {_fqn(v)} is sent as "
        f"\u00ab{mark(v.variant.text[:MAX_TEXT])}\u00bb by {v.variant.senders} senders "
        f"({v.variant.count} exchanges) instead of \u00ab{mark(v.template.text[:MAX_TEXT])}\u00bb "
        f"({v.template.count} exchanges, {v.template.senders} senders). "
        + (
            "Who gets it: " + "; ".join(s.sentence() for s in who) + "."
            if who
            else "Nothing the gateway knows separates the senders that get it."
        )
    )
    first = v.variant.exchanges[0] if v.variant.exchanges else None
    out: dict[str, Any] = {
        "ruleId": f"promptwitness/{kind}",
        "ruleIndex": _RULE_INDEX[kind],
        "level": LEVEL["covert"],
        "message": {"text": message},
        "locations": [_location(v, first, v.variant.path, None)],
    }
    if v.template.exchanges:
        related = _location(
            v,
            v.template.exchanges[0],
            v.template.path,
            f"the template form, exchange #{v.template.exchanges[0]}",
        )
        related["id"] = 1
        out["relatedLocations"] = [related]
    out["partialFingerprints"] = {
        FINGERPRINT: _fingerprint(
            v.group.agent,
            v.group.version,
            v.group.kind,
            v.variant.path,
            v.template.text,
            v.variant.text,
        )
    }
    out["properties"] = {
        "variant": v.id,
        "kinds": list(v.kinds),
        "changes": [c.to_json() for c in v.changes],
        "separators": [s.to_json() for s in v.separators],
        "notes": list(v.notes),
        "exchanges": list(v.variant.exchanges),
        "templateExchanges": list(v.template.exchanges),
    }
    return out


def drift_sarif(
    report: DriftReport, *, command_line: Sequence[str] | None = None
) -> dict[str, Any]:
    """The SARIF log of a drift report (module docstring)."""
    notes = [n for v in report.findings for n in v.notes] + list(report.notes)
    invocation = _invocation(
        report.exit_code,
        command_line,
        description=report.verdict,
        notes=[{"level": "note", "message": {"text": n}} for n in notes],
    )
    return _log(
        {
            "tool": {"driver": _driver()},
            "invocations": [invocation],
            "originalUriBaseIds": {STORE_BASE: {"uri": _store_uri(report.store)}},
            "columnKind": "unicodeCodePoints",
            "results": [_result(v) for v in report.findings],
            "properties": {
                "exchangesRead": report.read,
                "modelCalls": report.model_calls,
                "groups": len(report.groups),
                "setApart": len(report.set_apart),
            },
        }
    )
