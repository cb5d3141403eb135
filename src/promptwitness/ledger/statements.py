"""in-toto Statement v1 payloads with promptwitness predicates (sans-IO).

Predicate types (versioned; docs/provenance.md is the normative schema):

- ``https://promptwitness.dev/prompt-manifest/v1``: an agent (name, version) sends exactly
  these segments; per-run segments declare the form their value must keep.
- ``https://promptwitness.dev/probe-result/v1``: a probe report's findings with the
  exchanges behind them.
- ``https://promptwitness.dev/prompt-diff/v1``: the classified differences between two
  captures.

``check_manifest`` compares a capture's segments with a manifest: fixed segments must be
byte-identical, per-run segments may change only their value, never their form.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import regex

from promptwitness.analysis.changes import Change
from promptwitness.analysis.forms import find_dates, form
from promptwitness.errors import (  # re-exported
    StatementError as StatementError,
)
from promptwitness.model import Segment

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PROMPT_MANIFEST = "https://promptwitness.dev/prompt-manifest/v1"
PROBE_RESULT = "https://promptwitness.dev/probe-result/v1"
PROMPT_DIFF = "https://promptwitness.dev/prompt-diff/v1"
PREDICATE_TYPES = (PROMPT_MANIFEST, PROBE_RESULT, PROMPT_DIFF)

SCOPE_SPANS = "spans"  # only the per-run spans are masked; the rest must be identical
SCOPE_WHOLE = "whole"  # the whole value is per-run; only its form is pinned

# Per-run values besides dates: UUIDs, long hex ids, redaction fingerprints.
_PER_RUN = regex.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|pw-redacted:[0-9A-Za-z_-]+"
    r"|(?<![0-9A-Za-z])[0-9a-fA-F]{16,}(?![0-9A-Za-z])"
)

__all__ = [
    "PREDICATE_TYPES",
    "PROBE_RESULT",
    "PROMPT_DIFF",
    "PROMPT_MANIFEST",
    "STATEMENT_TYPE",
    "StatementError",
    "check_manifest",
    "diff_predicate",
    "manifest_predicate",
    "parse_statement",
    "per_run_spans",
    "run_form",
    "statement",
    "statement_bytes",
]


def sha256_text(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


_YEAR_OR_NAME = regex.compile(r"\d{4}|\p{L}{3}|:")


def _datelike(text: str) -> bool:
    """A recognised date worth treating as per-run: it has a 4-digit year, a month or
    weekday name, or a time; ``2.0.1`` (a version number) does not count."""
    return _YEAR_OR_NAME.search(text) is not None


def per_run_spans(value: str) -> list[tuple[int, int]]:
    """Spans holding per-run values: dates (with a 4-digit year, a month or weekday name,
    or a time of day), UUIDs, hex ids of 16+ digits, redaction fingerprints."""
    dates = [(s, e) for s, e in find_dates(value) if _datelike(value[s:e])]
    spans = sorted({*dates, *((m.start(), m.end()) for m in _PER_RUN.finditer(value))})
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


_HEX_RUN = regex.compile(r"[0-9a-fA-F]+")


def _id_form(text: str) -> str | None:
    """The form of an id (a UUID, a hex id, a redaction fingerprint): its length and
    separators, and the case of its hex letters — not which hex digit sits where, which
    is the id's value (a random id has letters and digits anywhere)."""
    if text.startswith("pw-redacted:"):
        return "⟨pw-redacted⟩"
    if not _PER_RUN.fullmatch(text) or _HEX_RUN.fullmatch(text.replace("-", "")) is None:
        return None
    lower, upper = any("a" <= c <= "f" for c in text), any("A" <= c <= "F" for c in text)
    case = "mixed" if lower and upper else "upper" if upper else "lower"
    return "-".join(f"⟨hex{len(part)}⟩" for part in text.split("-")) + f"⟨{case}⟩"


def run_form(value: str, scope: str) -> str:
    """The form a per-run segment must keep: the value with its per-run spans masked
    (``spans``), or the mask of the whole value (``whole``). Dates keep their mask
    (``analysis.forms.form``: separators, order, names); ids their shape and case."""
    if scope == SCOPE_WHOLE:
        return form(value)
    out: list[str] = []
    pos = 0
    for s, e in per_run_spans(value):
        out.append(value[pos:s])
        piece = value[s:e]
        out.append(_id_form(piece) or form(piece))
        pos = e
    out.append(value[pos:])
    return "".join(out)


def statement(
    subjects: Sequence[tuple[str, str]], predicate_type: str, predicate: Mapping[str, Any]
) -> dict[str, Any]:
    """An in-toto Statement v1; ``subjects`` are ``(name, sha256 hex)``."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": n, "digest": {"sha256": d}} for n, d in subjects],
        "predicateType": predicate_type,
        "predicate": dict(predicate),
    }


def statement_bytes(st: Mapping[str, Any]) -> bytes:
    """The payload bytes: JSON, sorted keys, compact, UTF-8."""
    return json.dumps(st, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8", "surrogatepass"
    )


def parse_statement(payload: bytes) -> dict[str, Any]:
    try:
        st = json.loads(payload.decode("utf-8", "surrogatepass"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise StatementError(f"the payload is not JSON: {exc}") from exc
    if not isinstance(st, dict) or st.get("_type") != STATEMENT_TYPE:
        raise StatementError(f"the payload is not an in-toto Statement v1 ({STATEMENT_TYPE})")
    if st.get("predicateType") not in PREDICATE_TYPES:
        raise StatementError(f"unknown predicate type {st.get('predicateType')!r}")
    if not isinstance(st.get("subject"), list) or not isinstance(st.get("predicate"), dict):
        raise StatementError("the statement has no subject list or no predicate object")
    return st


# -- prompt manifest --------------------------------------------------------------------


def _keyed(segs: Sequence[Segment]) -> list[tuple[tuple[str, int], Segment]]:
    seen: dict[str, int] = {}
    out = []
    for s in segs:
        n = seen.get(s.path, 0)
        seen[s.path] = n + 1
        out.append(((s.path, n), s))
    return out


def manifest_predicate(
    *,
    agent: Mapping[str, str | None],
    protocol: str | None,
    request: Mapping[str, Any],
    segments: Sequence[Segment],
    whole: Sequence[str] = (),
    capture: Mapping[str, Any] | None = None,
    include_values: bool = True,
) -> dict[str, Any]:
    """The ``prompt-manifest/v1`` predicate of one capture.

    A segment is per-run when its path matches a glob in ``whole`` (the whole value is
    per-run) or when its value holds per-run spans (dates, UUIDs, long hex ids,
    fingerprints); the others are fixed.
    """
    from fnmatch import fnmatchcase

    out: list[dict[str, Any]] = []
    for (path, _), s in _keyed(segments):
        entry: dict[str, Any] = {"path": path, "channel": s.channel, "sha256": sha256_text(s.value)}
        scope: str | None = None
        if any(fnmatchcase(path, g) for g in whole):
            scope = SCOPE_WHOLE
        elif per_run_spans(s.value):
            scope = SCOPE_SPANS
        entry["per_run"] = scope is not None
        if scope is not None:
            entry["scope"] = scope
            entry["form"] = run_form(s.value, scope)
        if include_values:
            entry["value"] = s.value
        out.append(entry)
    pred: dict[str, Any] = {
        "agent": {"name": agent.get("name"), "version": agent.get("version")},
        "protocol": protocol,
        "request": dict(request),
        "segments": out,
    }
    if capture is not None:
        pred["capture"] = dict(capture)
    return pred


@dataclass(frozen=True)
class Mismatch:
    path: str
    what: str  # "removed" | "added" | "changed" | "form" | "channel"
    detail: str

    def __str__(self) -> str:
        return f"{self.path}: {self.what}: {self.detail}"


def _short(text: str, limit: int = 60) -> str:
    r = repr(text)
    return r if len(r) <= limit else r[: limit - 1] + "…"


def check_manifest(predicate: Mapping[str, Any], segments: Sequence[Segment]) -> list[Mismatch]:
    """How ``segments`` (a capture) departs from a ``prompt-manifest/v1`` predicate."""
    entries = predicate.get("segments")
    if not isinstance(entries, list):
        raise StatementError("the manifest has no segment list")
    have = dict(_keyed(segments))
    expected: dict[tuple[str, int], Mapping[str, Any]] = {}
    counts: dict[str, int] = {}
    for e in entries:
        if not isinstance(e, dict) or not isinstance(e.get("path"), str):
            raise StatementError("a manifest segment has no path")
        n = counts.get(e["path"], 0)
        counts[e["path"]] = n + 1
        expected[(e["path"], n)] = e
    out: list[Mismatch] = []
    for key, e in expected.items():
        path = key[0]
        s = have.get(key)
        if s is None:
            out.append(Mismatch(path, "removed", "the manifest has it, the capture does not"))
            continue
        if e.get("channel") is not None and e.get("channel") != s.channel:
            out.append(Mismatch(path, "channel", f"{e.get('channel')} → {s.channel}"))
        if e.get("per_run"):
            scope = str(e.get("scope") or SCOPE_SPANS)
            got = run_form(s.value, scope)
            if got != e.get("form"):
                detail = (
                    f"a per-run value changed its form: expected {_short(str(e.get('form')))}"
                    f", got {_short(got)}"
                )
                if isinstance(e.get("value"), str):
                    detail += _describe(path, s.channel, e["value"], s.value)
                out.append(Mismatch(path, "form", detail))
        elif sha256_text(s.value) != e.get("sha256"):
            detail = "the value differs"
            if isinstance(e.get("value"), str):
                detail += _describe(path, s.channel, e["value"], s.value)
            out.append(Mismatch(path, "changed", detail))
    for key, s in have.items():
        if key not in expected:
            out.append(Mismatch(key[0], "added", f"not in the manifest: {_short(s.value)}"))
    return out


def _describe(path: str, channel: str, a: str, b: str) -> str:
    from promptwitness.analysis.detectors import classify
    from promptwitness.analysis.diff import diff_segments

    diffs = diff_segments([Segment(path, a, channel)], [Segment(path, b, channel)])
    changes = [c for d in diffs for c in classify(d)]
    if not changes:
        return ""
    parts = [f"{c.kind}: {c.detail or _short(str(c.observed))}" for c in changes[:3]]
    return " (" + "; ".join(parts) + ")"


# -- prompt diff ------------------------------------------------------------------------


def change_json(c: Change) -> dict[str, Any]:
    """A change in a prompt-diff predicate: ``Change.to_json`` without its display-only
    ``context``."""
    out = dict(c.to_json())
    del out["context"]
    return out


def diff_predicate(
    a: Mapping[str, Any], b: Mapping[str, Any], changes: Sequence[Change]
) -> dict[str, Any]:
    """The ``prompt-diff/v1`` predicate: ``a``/``b`` describe the two sides."""
    by_kind: dict[str, int] = {}
    by_severity: dict[str, int] = {}
    for c in changes:
        by_kind[c.kind] = by_kind.get(c.kind, 0) + 1
        by_severity[c.severity] = by_severity.get(c.severity, 0) + 1
    return {
        "a": dict(a),
        "b": dict(b),
        "identical": not changes,
        "changes": [change_json(c) for c in changes],
        "summary": {"by_kind": by_kind, "by_severity": by_severity},
    }
