"""The probe (and diff) report as one self-contained HTML file (pure: returns text).

Rules:
- One file, nothing fetched: styles and the one small script are inline, no fonts,
  images or links to anything outside the file; a Content-Security-Policy with the
  hashes of that style and script (``default-src 'none'``) makes a browser refuse
  anything else.
- Every text that came from a run is autoescaped (jinja2) and *marked*: each code
  point that is not printable ASCII is followed by (or, when invisible, replaced by) a
  marker ``⟦U+2019 RIGHT SINGLE QUOTATION MARK⟧`` — the same text as
  ``report.unicode.mark`` — in a ``<span class="cp">`` whose ``title`` adds the
  category, the flags and what it looks like (TS#39 prototype).
- Colour is never the only signal: severities and the verdict are written as words
  with an icon; markers are text.
- Walks the one result tree (``ProbeResult`` / ``DiffReport``); nothing is analysed
  again. Raw request bytes come from the optional ``evidence`` mapping, built at the
  IO edge (``report.evidence``).

Reuse (e.g. ``history``): ``render_probe_html(result, evidence)`` for any
``ProbeResult``; ``page(title, body_html)`` wraps other HTML in the same shell.
"""

from __future__ import annotations

import base64
import hashlib
import shlex
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import jinja2
from markupsafe import Markup, escape

from promptwitness import __version__
from promptwitness.analysis.attribute import Finding
from promptwitness.analysis.changes import KINDS, SEVERITY, Change
from promptwitness.capture.env import CAPTURE_PORT as PORT
from promptwitness.model import iso_time
from promptwitness.probe.clock import describe as describe_clock
from promptwitness.probe.model import ProbeResult
from promptwitness.report.evidence import DiffReport, Evidence, RequestEvidence
from promptwitness.report.probe_json import exit_code as verdict_exit_code
from promptwitness.report.probe_json import headline
from promptwitness.report.unicode import (
    describe,
    is_suspicious,
    label,
    marker,
)

__all__ = [
    "KIND_HELP",
    "SEVERITY_ICON",
    "VERDICT_ICON",
    "html_mark",
    "page",
    "render_diff_html",
    "render_probe_html",
]

SEVERITY_ORDER = {"covert": 3, "overt": 2, "expected": 1}
SEVERITY_ICON = {"covert": "\u25c6", "overt": "\u25b2", "expected": "\u25cb"}  # ◆ ▲ ○
VERDICT_ICON = {
    "conditioned": "\u2716",
    "clean": "\u2714",
    "inconclusive": "?",  # ✖ ✔
    "differ": "\u2260",
    "identical": "=",  # ≠
}

# One line per change kind (the SARIF rules use the same text).
KIND_HELP: dict[str, str] = {
    "value": "A value changed but kept its form (a date one day later, another number of "
    "the same shape). Expected when the factor really changes that value.",
    "date-format": "The form of a date changed (separator, order, month name): the same "
    "day written differently can carry information.",
    "confusable": "A character was replaced by a look-alike from another block or script "
    "(an apostrophe by U+2019 or U+02BC, Latin e by Cyrillic e).",
    "invisible": "An invisible code point was added, removed or replaced (zero-width "
    "characters, tag characters, variation selectors, bidi controls).",
    "whitespace": "Whitespace changed (one space to two, a space to a no-break or thin "
    "space, trailing spaces).",
    "punctuation": "Punctuation changed its form (three dots to an ellipsis, a dash to a hyphen).",
    "casing": "Letter case changed and nothing else.",
    "ordering": "The same members in a different order (tools, keys).",
    "serialisation": "The same values, serialised differently in the JSON body: a code "
    "point written literally or as a \\u escape (or with other hex "
    "case), keys in another order, other whitespace, another number "
    "format, a byte order mark.",
    "param": "A request parameter changed (temperature, max_tokens, ...).",
    "header": "An HTTP header the agent sends changed.",
    "content": "Words or sentences were added, removed or changed.",
    "proxied": "A CONNECT tunnel through the proxy the run was given, under every proxy "
    "level alike: the agent follows the proxy variable (without a proxy the same "
    "connection has no route out of the sandbox and is not seen). It shows where the "
    "agent connects, and does not depend on which proxy.",
}
assert set(KIND_HELP) == set(KINDS)

_CATEGORY = {
    "Lu": "uppercase letter",
    "Ll": "lowercase letter",
    "Lt": "titlecase letter",
    "Lm": "modifier letter",
    "Lo": "other letter",
    "Mn": "non-spacing mark",
    "Mc": "spacing mark",
    "Me": "enclosing mark",
    "Nd": "decimal number",
    "Nl": "letter number",
    "No": "other number",
    "Pc": "connector punctuation",
    "Pd": "dash punctuation",
    "Ps": "open punctuation",
    "Pe": "close punctuation",
    "Pi": "initial quote",
    "Pf": "final quote",
    "Po": "other punctuation",
    "Sm": "math symbol",
    "Sc": "currency symbol",
    "Sk": "modifier symbol",
    "So": "other symbol",
    "Zs": "space separator",
    "Zl": "line separator",
    "Zp": "paragraph separator",
    "Cc": "control",
    "Cf": "format",
    "Cs": "surrogate",
    "Co": "private use",
    "Cn": "unassigned",
}
_COMBINING = frozenset({"Mn", "Mc", "Me"})
MAX_SIDE = 2000  # code points of control/observed text shown per side


# ------------------------------------------------------------------ code point markers


def looks_like(ch: str) -> str | None:
    """What ``ch`` is drawn like: its Unicode TS#39 prototype when that differs, else
    the built-in look-alike table of ``report.unicode``."""
    from promptwitness.analysis.confusables import prototype
    from promptwitness.report.unicode import confusable_with

    try:
        proto = prototype(ch)
    except Exception:  # noqa: BLE001 - the data file is optional for a report
        proto = ch
    if proto != ch and proto:
        return proto
    return confusable_with(ch)


@lru_cache(maxsize=8192)
def code_point_title(ch: str) -> str:
    """The hover text of a marker: name, category, flags and look-alike."""
    info = describe(ch)
    parts = [label(ch), f"category {info.category} ({_CATEGORY.get(info.category, '?')})"]
    if info.flags:
        parts.append("flags: " + ", ".join(info.flags))
    if info.invisible:
        parts.append("invisible: shown only by this marker")
    like = looks_like(ch)
    if like is not None:
        names = " + ".join(f"{code_of(c)} {unicodedata.name(c, '?')}" for c in like)
        parts.append(f"looks like {like!r} ({names})")
    return "; ".join(parts)


def code_of(ch: str) -> str:
    return f"U+{ord(ch):04X}"


@lru_cache(maxsize=8192)
def _marker_html(ch: str, invisible: bool) -> str:
    cls = "cp inv" if invisible else "cp"
    return f'<span class="{cls}" title="{escape(code_point_title(ch))}">{escape(marker(ch))}</span>'


def html_mark(text: str) -> Markup:
    """``text`` escaped for HTML with every suspicious code point marked as
    ``report.unicode.mark`` does (the text content equals ``mark(text)``), each marker
    in a ``<span class="cp">`` (``cp inv`` when it stands for an invisible code point)
    with a ``title``."""
    out: list[str] = []
    plain: list[str] = []
    pending: list[str] = []
    base = False

    def flush_plain() -> None:
        if plain:
            out.append(str(escape("".join(plain))))
            plain.clear()

    def flush() -> None:
        if pending:
            flush_plain()
            out.extend(pending)
            pending.clear()

    for ch in text:
        if not is_suspicious(ch):
            flush()
            plain.append(ch)
            base = ch not in "\n\t"
            continue
        info = describe(ch)
        if info.invisible:
            flush()
            flush_plain()
            out.append(_marker_html(ch, True))
            base = False
        elif info.category in _COMBINING:
            if base:
                plain.append(ch)
                pending.append(_marker_html(ch, False))
            else:
                flush()
                flush_plain()
                out.append(_marker_html(ch, False))
        else:
            flush()
            plain.append(ch)
            pending.append(_marker_html(ch, False))
            base = True
    flush()
    flush_plain()
    return Markup("".join(out))  # noqa: S704 - every piece escaped above


# ------------------------------------------------------------------ view model


@dataclass
class CodePointRow:
    code: str
    name: str
    category: str
    flags: str
    looks_like: str
    control: int
    observed: int
    marked: Markup


@dataclass
class Side:
    label: str
    text: Markup | None  # None: absent
    more: int = 0  # code points not shown


@dataclass
class ChangeView:
    id: str
    anchor: str
    severity: str
    icon: str
    kind: str
    kind_help: str
    where: str
    request: str
    path: str
    channel: str
    control: Side
    observed: Side
    detail: Markup
    context: Markup | None
    code_points: list[str]
    table: list[CodePointRow]
    hidden: dict[str, int]  # "control"/"observed" -> suspicious code points in the change
    invisible: dict[str, int]
    factors: str = ""
    support: str = ""
    supporting_runs: list[str] = field(default_factory=list)
    also_cells: list[str] = field(default_factory=list)
    raw: list[RawView] = field(default_factory=list)


@dataclass
class RawView:
    title: str
    anchor: str
    first: bool  # rendered here in full; later references link to it
    head: Markup
    body: Markup
    note: str


def _side(name: str, text: str | None) -> Side:
    if text is None:
        return Side(name, None)
    shown = text[:MAX_SIDE]
    return Side(name, html_mark(shown), max(0, len(text) - MAX_SIDE))


def _code_point_table(control: str | None, observed: str | None) -> list[CodePointRow]:
    a = Counter(ch for ch in control or "" if is_suspicious(ch))
    b = Counter(ch for ch in observed or "" if is_suspicious(ch))
    rows = []
    for ch in dict.fromkeys([*a, *b]):
        info = describe(ch)
        like = looks_like(ch)
        rows.append(
            CodePointRow(
                code=info.code,
                name=info.name,
                category=f"{info.category} ({_CATEGORY.get(info.category, '?')})",
                flags=", ".join(info.flags),
                looks_like=""
                if like is None
                else f"{like} (" + " + ".join(code_of(c) for c in like) + ")",
                control=a.get(ch, 0),
                observed=b.get(ch, 0),
                marked=html_mark(ch),
            )
        )
    return rows


def _detail(text: str) -> Markup:
    """The detectors' one line, marked, except for the arrows they put between sides."""
    return Markup(" \u2192 ").join(html_mark(part) for part in text.split(" \u2192 "))


def _count(text: str | None, invisible: bool) -> int:
    return sum(
        1 for ch in text or "" if is_suspicious(ch) and (not invisible or describe(ch).invisible)
    )


def _change_view(
    id: str, request: str, c: Change, control_label: str, observed_label: str
) -> ChangeView:
    return ChangeView(
        id=id,
        anchor=id,
        severity=c.severity,
        icon=SEVERITY_ICON[c.severity],
        kind=c.kind,
        kind_help=KIND_HELP.get(c.kind, ""),
        where=request + (f" \u00b7 {c.path}" if c.path else ""),
        request=request,
        path=c.path,
        channel=c.channel,
        control=_side(control_label, c.control),
        observed=_side(observed_label, c.observed),
        detail=_detail(c.detail),
        context=html_mark(c.context) if c.context else None,
        code_points=list(c.code_points),
        table=_code_point_table(c.control, c.observed),
        hidden={"control": _count(c.control, False), "observed": _count(c.observed, False)},
        invisible={"control": _count(c.control, True), "observed": _count(c.observed, True)},
    )


def _levels(levels: Mapping[str, str]) -> str:
    return " + ".join(f"{k}={v}" for k, v in levels.items())


def _anchor(*parts: str) -> str:
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return "raw-" + digest[:12]


class _RawRegistry:
    """Each (run, request) is rendered once, where it is first referred to."""

    def __init__(self, evidence: Evidence | None) -> None:
        self.evidence = evidence or {}
        self.seen: set[str] = set()

    def get(self, title: str, run: str, request: str) -> RawView | None:
        ev = self.evidence.get((run, request))
        if ev is None:
            return None
        return self.view(title, ev, run)

    def view(self, title: str, ev: RequestEvidence, key: str) -> RawView:
        anchor = _anchor(key, ev.request)
        first = anchor not in self.seen
        self.seen.add(anchor)
        note = (
            f"exchange #{ev.exchange}, {ev.body_size} body bytes; the request line "
            f"and headers are rebuilt from the stored fields (credentials were "
            f"replaced at capture); the body is exact, every non-ASCII or hidden "
            f"code point marked. promptwitness show --raw {ev.exchange} prints it."
        )
        if ev.coding is not None:
            note += (
                f" It was sent with a Content-Encoding ({ev.coding}): shown decoded; "
                f"promptwitness show {ev.exchange} gives the coding's sizes and hashes."
            )
        if ev.truncated:
            note += f" The last {ev.truncated} bytes are left out here."
        if not first:
            return RawView(title, anchor, False, Markup(""), Markup(""), note)
        return RawView(
            title, anchor, True, html_mark(ev.head_text()), html_mark(ev.body_text()), note
        )


@dataclass
class HeatCell:
    findings: list[str]
    severity: str
    text: str


def _heat(findings: Sequence[tuple[str, Finding]], noisy: set[tuple[str, str]]) -> dict[str, Any]:
    cols: list[str] = []
    rows: list[tuple[str, str]] = []
    cells: dict[tuple[tuple[str, str], str], list[tuple[str, Finding]]] = {}
    for fid, f in findings:
        col = _levels(f.factors)
        row = (f.request, f.change.path)
        if col not in cols:
            cols.append(col)
        if row not in rows:
            rows.append(row)
        cells.setdefault((row, col), []).append((fid, f))
    table = []
    for row in rows:
        line = []
        for col in cols:
            got = cells.get((row, col), [])
            if not got:
                line.append(HeatCell([], "none", ""))
                continue
            sev = max((f.severity for _, f in got), key=lambda s: SEVERITY_ORDER[s])
            counts = Counter(f.severity for _, f in got)
            text = ", ".join(
                f"{counts[s]} {s}" for s in ("covert", "overt", "expected") if counts[s]
            )
            line.append(HeatCell([fid for fid, _ in got], sev, text))
        table.append(
            {
                "request": row[0],
                "path": row[1] or "(the request)",
                "cells": line,
                "noise": row in noisy,
            }
        )
    return {"cols": cols, "rows": table}


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def _summary(result: ProbeResult) -> str:
    a = result.analysis
    what = shlex.join(result.config.argv)
    failed = sum(1 for r in result.runs if r.error is not None)
    factors = "; ".join(f"{s.name} ({', '.join(s.levels)})" for s in result.config.selections)
    head = (
        f"promptwitness ran {what} {_plural(len(result.runs), 'time')} in "
        f"{_plural(len(result.cells), 'controlled environment')}, changing only "
        f"{factors} and holding everything else fixed (the first level of each factor "
        f"is the control)."
    )
    sev = Counter(f.severity for f in a.findings)
    kinds: dict[str, Counter[str]] = {s: Counter() for s in SEVERITY_ORDER}
    for f in a.findings:
        kinds[f.severity][f.change.kind] += 1
    causes = Counter(_levels(f.factors) for f in a.findings if f.severity != "expected")

    def kinds_of(s: str) -> str:
        return ", ".join(f"{k} \u00d7{n}" if n > 1 else k for k, n in kinds[s].items())

    noise = (
        f" {_plural(len(a.noise), 'part')} of the requests vary even between identical "
        f"runs (ids, timestamps) and are never counted."
        if a.noise
        else ""
    )
    fail = f" {_plural(failed, 'run')} failed." if failed else ""
    if result.verdict == "conditioned":
        parts = [f"{sev[s]} {s} ({kinds_of(s)})" for s in ("covert", "overt", "expected") if sev[s]]
        body = (
            f" What it sends to its model depends on the environment: "
            f"{_plural(len(a.findings), 'difference')} appeared in every repeat of an "
            f"environment and never in the control: {'; '.join(parts)}. Covert changes "
            f"are ones a person reading the request would not notice. Caused by: "
            + ", ".join(f"{k} ({n})" for k, n in causes.items())
            + "."
        )
    elif result.verdict == "clean":
        extra = _plural(sev["expected"], "expected value change")
        body = (
            " Nothing it sends changed with any of these factors beyond ordinary "
            "run-to-run noise" + (f" (apart from {extra})" if sev["expected"] else "") + "."
        )
    else:
        why = []
        if failed:
            why.append(f"{_plural(failed, 'run')} failed")
        open_ = len(a.suspects) + len(a.unresolved)
        if open_:
            why.append(
                f"{_plural(open_, 'difference')} seen only in combined environments "
                f"could not be narrowed down to a factor"
            )
        if a.reference is None:
            why.append("no control run succeeded")
        body = (
            " The probe could not reach a verdict: "
            + ("; ".join(why) or "not every environment ran")
            + ". Nothing covert or overt was attributed."
        )
        fail = ""
    return f"{head}{body}{noise}{fail} Verdict: {result.verdict}."


def _clock_row(result: ProbeResult) -> str:
    if result.clock is None:
        return "the real time" + (f" ({result.clock_note})" if result.clock_note else "")
    return (
        f"every run's wall clock starts at {describe_clock(result.clock)} and ticks from "
        "there (monotonic clocks real)"
    )


def _sandbox(result: ProbeResult) -> list[tuple[str, str]]:
    c = result.config
    base_urls = ", ".join(
        f"{name}=http://127.0.0.1:{PORT}{suffix}" for name, suffix in c.base_url_vars
    )
    rows = [
        (
            "isolation",
            "each run in its own Linux namespaces: a network namespace with "
            "loopback only (nothing leaves), a private mount namespace (fresh /etc "
            "overlay, empty /tmp, /home and /root, fixed HOME and working "
            "directory), UTS, IPC and PID namespaces",
        ),
        (
            "capture",
            f"sink mode: promptwitness's capture server listens on 127.0.0.1:{PORT} "
            f"inside each run's namespace, answers with a canned reply, and stores "
            f"every request byte for byte (credentials replaced by fingerprints)",
        ),
        ("base-URL variables", base_urls),
        ("working directory", c.workdir or "a fresh git repository with fixed dates"),
        ("timeout", f"{c.timeout:g} s per run"),
        ("clock", _clock_row(result)),
        (
            "replicates",
            f"{c.replicates} per cell"
            + (" whose first run shows a change (else 1)" if c.sequential else "")
            + f", {c.control_replicates} for the control",
        ),
        ("pairwise covering cells", "yes" if c.pairwise else "no"),
        (
            "one-at-a-time cells",
            "a level that a covering row holds runs alone only once a row holding it shows a change"
            if c.pairwise and c.sequential and c.screen
            else "every level, up front",
        ),
    ]
    if c.env:
        rows.append(("environment added", ", ".join(f"{k}={v}" for k, v in c.env.items())))
    if c.expose:
        rows.append(("host paths exposed read-only", ", ".join(c.expose)))
    return rows


def _probe_context(
    result: ProbeResult, evidence: Evidence | None, exit_code: int | None
) -> dict[str, Any]:
    a = result.analysis
    raws = _RawRegistry(evidence)
    ref = a.reference
    ref_rec = next((r for r in result.runs if ref and (r.cell, r.replicate) == ref), None)
    ok_runs = [r for r in result.runs if r.error is None]
    findings = []
    numbered = [(f"F{i}", f) for i, f in enumerate(a.findings, 1)]
    for fid, f in numbered:
        v = _change_view(fid, f.request, f.change, "control", _levels(f.factors))
        v.factors = _levels(f.factors)
        v.support = (
            f"{f.support[0]} of {f.support[1]} runs of {f.cell}; "
            f"{f.control_support[0]} of {f.control_support[1]} control runs"
        )
        v.supporting_runs = [r.run for r in ok_runs if r.cell == f.cell]
        v.also_cells = list(f.cells[1:])
        if ref_rec is not None:
            got = raws.get(f"control run {ref_rec.run} (the reference)", ref_rec.run, f.request)
            if got is not None:
                v.raw.append(got)
        if v.supporting_runs:
            got = raws.get(f"{f.cell} run {v.supporting_runs[0]}", v.supporting_runs[0], f.request)
            if got is not None:
                v.raw.append(got)
        findings.append(v)
    open_: list[ChangeView] = []
    for kind, group in (("waiting for confirmation", a.suspects), ("unresolved", a.unresolved)):
        for s in group:
            v = _change_view(f"S{len(open_) + 1}", s.request, s.change, "control", s.cell)
            v.factors = s.cell
            v.support = f"{kind}; {s.support[0]} of {s.support[1]} runs; candidates: " + ", ".join(
                _levels(c) for c in s.candidates
            )
            open_.append(v)
    noisy = {(n.request, n.path) for n in a.noise}
    sev = Counter(f.severity for f in a.findings)
    code = verdict_exit_code(result.verdict) if exit_code is None else exit_code
    runs_per_cell = Counter(r.cell for r in result.runs)
    return {
        "kind": "probe",
        "title": f"promptwitness probe: {shlex.join(result.config.argv)}",
        "verdict": result.verdict,
        "verdict_icon": VERDICT_ICON.get(result.verdict, "?"),
        "summary": _summary(result),
        "headline": headline(result),
        "headline_covert": any(f.change.severity == "covert" for f in result.analysis.findings),
        "counts": [(s, SEVERITY_ICON[s], sev.get(s, 0)) for s in ("covert", "overt", "expected")],
        "exit_code": code,
        "heat": _heat(numbered, noisy),
        "findings": findings,
        "open": open_,
        "noise": [
            {
                "request": n.request,
                "path": n.path,
                "channel": n.channel,
                "runs": n.runs,
                "spans": ", ".join(
                    "whole segment" if s is None else f"{s[0]}\u2013{s[1]}" for s in n.spans
                ),
                "examples": [html_mark(e[:300]) for e in n.examples],
            }
            for n in a.noise
        ],
        "runs": [
            {
                "run": r.run,
                "cell": r.cell,
                "replicate": r.replicate,
                "exit_code": "" if r.exit_code is None else r.exit_code,
                "timed_out": "yes" if r.timed_out else "no",
                "duration": f"{r.duration:.2f}",
                "overhead": "" if r.overhead is None else f"{r.overhead:.3f}",
                "requests": r.requests,
                "error": r.error or "",
                "reference": ref is not None and (r.cell, r.replicate) == ref,
            }
            for r in result.runs
        ],
        "factors": [
            {
                "name": s.name,
                "description": s.factor.description,
                "control": s.control,
                "levels": list(s.levels[1:]),
            }
            for s in result.config.selections
        ],
        "cells": [
            {
                "id": c.id,
                "purpose": c.purpose,
                "reason": c.reason,
                "runs": runs_per_cell.get(c.id, 0),
            }
            for c in result.cells
        ],
        "sandbox": _sandbox(result),
        "kinds": [(k, SEVERITY[k], SEVERITY_ICON[SEVERITY[k]], KIND_HELP[k]) for k in KINDS],
        "meta": [
            ("command", shlex.join(result.config.argv)),
            ("probe", result.probe),
            ("store", result.store_root),
            ("started", iso_time(result.started, timespec="seconds")),
            ("finished", iso_time(result.finished, timespec="seconds")),
            ("duration", f"{result.finished - result.started:.1f} s"),
            ("exit code", str(code)),
            ("tool", f"promptwitness {__version__}"),
        ],
        "evidence_given": evidence is not None,
    }


def _diff_context(report: DiffReport) -> dict[str, Any]:
    raws = _RawRegistry(None)
    findings = []
    n = 0
    for d, changes in report.changes:
        for c in changes:
            n += 1
            v = _change_view(
                f"D{n}", report.b.request, c, f"#{report.a.exchange}", f"#{report.b.exchange}"
            )
            v.factors = f"#{report.a.exchange} \u2192 #{report.b.exchange}"
            v.support = f"segment {d.status}"
            findings.append(v)
    sev = Counter(v.severity for v in findings)
    verdict = "identical" if report.identical else "differ"
    paths = [d.path for d, _ in report.changes]
    summary = (
        f"Exchange #{report.a.exchange} ({report.a.method} {report.a.target}) and "
        f"exchange #{report.b.exchange} ({report.b.method} {report.b.target}) "
        + (
            "send identical prompts."
            if report.identical
            else "send prompts with identical values, but their JSON serialisation "
            f"differs ({_plural(len(paths), 'form segment')}): "
            + ", ".join(f"{sev[s]} {s}" for s in ("covert", "overt", "expected") if sev[s])
            + " change(s)."
            if report.same_values
            else f"differ in {_plural(len(paths), 'segment')}: "
            + ", ".join(f"{sev[s]} {s}" for s in ("covert", "overt", "expected") if sev[s])
            + " change(s)."
        )
    )
    heat_rows = []
    for d, changes in report.changes:
        counts = Counter(c.severity for c in changes)
        top = max(
            (c.severity for c in changes), key=lambda s: SEVERITY_ORDER[s], default="expected"
        )
        heat_rows.append(
            {
                "request": report.b.request,
                "path": d.path,
                "noise": False,
                "cells": [
                    HeatCell(
                        [v.id for v in findings if v.path == d.path],
                        top,
                        ", ".join(
                            f"{counts[s]} {s}" for s in ("covert", "overt", "expected") if counts[s]
                        ),
                    )
                ],
            }
        )
    return {
        "kind": "diff",
        "title": f"promptwitness diff #{report.a.exchange} #{report.b.exchange}",
        "verdict": verdict,
        "verdict_icon": VERDICT_ICON[verdict],
        "summary": summary,
        "counts": [(s, SEVERITY_ICON[s], sev.get(s, 0)) for s in ("covert", "overt", "expected")],
        "exit_code": 0 if report.identical else 1,
        "heat": {"cols": [v for v in ("changes",)], "rows": heat_rows},
        "findings": findings,
        "open": [],
        "raw": [
            raws.view(f"exchange #{report.a.exchange}", report.a, "a"),
            raws.view(f"exchange #{report.b.exchange}", report.b, "b"),
        ],
        "kinds": [(k, SEVERITY[k], SEVERITY_ICON[SEVERITY[k]], KIND_HELP[k]) for k in KINDS],
        "meta": [("store", report.store_root), ("tool", f"promptwitness {__version__}")],
    }


# ------------------------------------------------------------------ rendering


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("promptwitness.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["marked"] = html_mark
    env.globals["example_marker"] = html_mark("\u200b")
    return env


def _asset(name: str) -> str:
    env = _env()
    assert env.loader is not None
    source, _, _ = env.loader.get_source(env, name)
    return source


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _render(template: str, ctx: Mapping[str, Any]) -> str:
    css, js = _asset("report.css"), _asset("report.js")
    csp = (
        f"default-src 'none'; style-src {_csp_hash(css)}; script-src {_csp_hash(js)}; "
        f"img-src data:; base-uri 'none'; form-action 'none'"
    )
    return _env().get_template(template).render(**ctx, css=Markup(css), js=Markup(js), csp=csp)  # noqa: S704 - our own assets


def render_probe_html(
    result: ProbeResult,
    evidence: Evidence | None = None,
    *,
    exit_code: int | None = None,
    discover: Mapping[str, Any] | None = None,
) -> str:
    """The probe report as one HTML page. ``evidence`` (``report.evidence.probe_evidence``)
    adds the exact request bytes; ``exit_code`` the command's final one (``--fail-on``);
    ``discover`` (the JSON report's ``discover`` object) adds the leads, the string tables
    and the coverage of ``promptwitness discover``."""
    context = _probe_context(result, evidence, exit_code)
    context["discover"] = discover
    return _render("probe.html.j2", context)


def render_diff_html(report: DiffReport) -> str:
    """The ``diff`` of two captured requests as one HTML page."""
    return _render("diff.html.j2", _diff_context(report))


def page(
    title: str, body: Markup | str, *, verdict: str = "", sections: Iterable[tuple[str, str]] = ()
) -> str:
    """Wrap ``body`` (trusted HTML, e.g. parts rendered with ``html_mark``) in the
    report's shell: same styles, CSP, skip link. ``sections`` (anchor, label) go in the
    table of contents."""
    return _render(
        "page.html.j2",
        {
            "title": title,
            "body": Markup(body),  # noqa: S704 - the caller's trusted HTML
            "verdict": verdict,
            "verdict_icon": VERDICT_ICON.get(verdict, ""),
            "toc": list(sections),
        },
    )
