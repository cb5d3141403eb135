"""The ``history`` result as one self-contained HTML page (pure: returns text).

Input: the ``promptwitness/history/v1`` document (``history.document.to_json``), the
one result tree ``cli/history.py`` already builds for ``--json``. Walking that dict,
not the ``History``/``Bisect`` objects, means the page and the JSON can never
disagree, a saved JSON file can be rendered again later, and nothing is recomputed:
sizes, steps, edits (code-point offsets), audit findings and the bisect evidence are
shown exactly as the document states them.

The page (same shell, styles and Content-Security-Policy as the probe report,
``report.html``; nothing is fetched):

- a one-paragraph summary;
- a timeline chart as inline SVG (no script): per release, bars of the main request's
  body, the system text and the tool definitions (in bytes; each bar with its own fill
  pattern and its value written above it), a line of the number of tools (right axis,
  each point labelled), and above the plot two rows of text markers per release: the
  number of changed segments (and tools added/removed) since the previous release, and
  the audit verdict as icon + word. Colour is never the only signal. The SVG has a
  ``<title>`` and ``<desc>``, and a table with the same numbers follows it;
- the version table; each step's changes as compact diffs (``[-deleted-]``,
  ``{+inserted+}``, unchanged context clipped), every hidden or look-alike code point
  marked as in the probe report (``html_mark``); audit verdicts and findings per
  release; the bisect result with its evidence; the noise; the run's facts.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

from promptwitness.history.timeline import NOISE
from promptwitness.report.html import (
    KIND_HELP,
    SEVERITY_ICON,
    VERDICT_ICON,
    _asset,
    _csp_hash,
    _detail,
    _env,
    html_mark,
)
from promptwitness.report.unicode import edit_labels

__all__ = ["render_history_html"]

CONTEXT = 40  # unchanged code points shown on each side of an edit
SIDE_MAX = 600  # code points of a deleted or inserted span shown
GROUPS_MAX = 4  # edit groups shown per segment (the JSON has them all)
FINDING_SIDE = 300  # code points of a finding's control/observed text shown
LIST_ALL = 8  # an edit this short lists every code point
LIST_MAX = 8  # else at most this many distinct suspicious code points
CATEGORY_ORDER = ("params", "headers", "system", "messages", "tools", "serialisation", "other")
ELLIPSIS = "\u2026"

# chart geometry (SVG user units = CSS px)
GROUP_W = 128
LEFT, RIGHT = 72, 64
TOP = 78  # plot top: the marker rows are above it
PLOT_H = 230
BAR_W = 24
SERIES = (  # key in sizes, label, fill (a pattern id or a colour), text colour
    ("request_bytes", "request body", "url(#hc-solid)", "#1f3f6e"),
    ("system_bytes", "system text", "url(#hc-hatch)", "#8a4500"),
    ("tools_bytes", "tool definitions", "url(#hc-dots)", "#1d5e2a"),
)
VERDICT_FILL = {"clean": "#1b6b2a", "conditioned": "#b00020", "inconclusive": "#7a4b00"}


# ------------------------------------------------------------------ text helpers


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def _kb(n: int) -> str:
    return f"{n / 1000:.1f} KB"


def _short_kb(n: int) -> str:
    kb = n / 1000
    return f"{kb:.0f}" if kb >= 100 else f"{kb:.1f}"


def _date(published: str | None) -> str:
    return (published or "-")[:10]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def marked(text: str) -> Markup:
    """``html_mark`` with the noise mask shown as a labelled token, not as text."""
    parts = text.split(NOISE)
    token = Markup(
        '<span class="noise" title="differs between identical runs of one '
        'release; masked, never compared">&lt;pw:noise&gt;</span>'
    )
    return token.join(html_mark(p) for p in parts)


def _clip(text: str, limit: int = SIDE_MAX) -> Markup:
    if len(text) <= limit:
        return marked(text)
    return Markup('{}{}{}<span class="muted"> ({} code points)</span>').format(
        marked(text[: limit - 60]),
        Markup('<span class="elide">\u2026</span>'),
        marked(text[-40:]),
        len(text),
    )


def _code_points(old: str, new: str) -> str | None:
    """``removed: U+0027 APOSTROPHE; added: U+02BC …`` (``edit_labels``), none for noise."""
    if NOISE in old + new:
        return None
    removed, added = edit_labels(old, new, LIST_ALL, LIST_MAX)
    sides = [
        f"{word}: " + ", ".join(items)
        for word, items in (("removed", removed), ("added", added))
        if items
    ]
    return "; ".join(sides) if sides else None


# ------------------------------------------------------------------ compact diffs


def _ops(a: str, b: str, edits: Sequence[Sequence[Any]]) -> list[tuple[str, int, int, int, int]]:
    """The document's non-equal edits with the equal ranges between them put back (the
    edits tile both texts, so a gap in ``a`` is the same text as the gap in ``b``)."""
    out: list[tuple[str, int, int, int, int]] = []
    ai = bi = 0
    for tag, a0, a1, b0, b1 in sorted(edits, key=lambda e: (e[1], e[3])):
        if a0 > ai or b0 > bi:
            out.append(("equal", ai, a0, bi, b0))
        out.append((str(tag), a0, a1, b0, b1))
        ai, bi = a1, b1
    if ai < len(a) or bi < len(b):
        out.append(("equal", ai, len(a), bi, len(b)))
    return out


def _groups(
    ops: Sequence[tuple[str, int, int, int, int]],
) -> list[list[tuple[str, int, int, int, int]]]:
    groups: list[list[tuple[str, int, int, int, int]]] = []
    current: list[tuple[str, int, int, int, int]] = []
    for op in ops:
        if op[0] == "equal" and op[2] - op[1] > 2 * CONTEXT:
            if any(o[0] != "equal" for o in current):
                current.append(op)
                groups.append(current)
            current = [op]
        else:
            current.append(op)
    if any(o[0] != "equal" for o in current):
        groups.append(current)
    return groups


def _del(text: str) -> Markup:
    return Markup('<del><span class="sign">[-</span>{}<span class="sign">-]</span></del>').format(
        _clip(text)
    )


def _ins(text: str) -> Markup:
    return Markup('<ins><span class="sign">{{+</span>{}<span class="sign">+}}</span></ins>').format(
        _clip(text)
    )


@dataclass
class DiffGroup:
    html: Markup
    notes: list[str]


@dataclass
class ChangeView:
    path: str
    category: str
    status: str
    sign: str
    stats: str
    groups: list[DiffGroup]
    more_groups: int


def _change(c: Mapping[str, Any]) -> ChangeView:
    a, b = c["before"], c["after"]
    status = c["status"]
    sign = {"added": "+", "removed": "\u2212", "changed": "~"}.get(status, "~")
    if status == "added" or a is None:
        return ChangeView(
            c["path"],
            c["category"],
            status,
            sign,
            f"added, {_plural(len(b or ''), 'code point')}",
            [DiffGroup(_ins(b or ""), [])],
            0,
        )
    if status == "removed" or b is None:
        return ChangeView(
            c["path"],
            c["category"],
            status,
            sign,
            f"removed, {_plural(len(a), 'code point')}",
            [DiffGroup(_del(a), [])],
            0,
        )
    ops = _ops(a, b, c["edits"])
    deleted = sum(o[2] - o[1] for o in ops if o[0] in ("delete", "replace"))
    inserted = sum(o[4] - o[3] for o in ops if o[0] in ("insert", "replace"))
    groups = _groups(ops)
    views = []
    for group in groups[:GROUPS_MAX]:
        pieces: list[Markup] = []
        notes: list[str] = []
        for k, (tag, a0, a1, b0, b1) in enumerate(group):
            if tag == "equal":
                piece = a[a0:a1]
                if k == 0 and len(piece) > CONTEXT:
                    pieces.append(
                        Markup('<span class="elide">\u2026</span>') + marked(piece[-CONTEXT:])
                    )
                elif k == len(group) - 1 and len(piece) > CONTEXT:
                    pieces.append(
                        marked(piece[:CONTEXT]) + Markup('<span class="elide">\u2026</span>')
                    )
                else:
                    pieces.append(marked(piece))
                continue
            old, new = a[a0:a1], b[b0:b1]
            if old:
                pieces.append(_del(old))
            if new:
                pieces.append(_ins(new))
            note = _code_points(old, new)
            if note:
                notes.append(note)
        views.append(DiffGroup(Markup("").join(pieces), notes))
    category = c["category"]
    if category == "serialisation":
        category = "covert serialisation: the same values, written differently"
    return ChangeView(
        c["path"],
        category,
        status,
        sign,
        f"\u2212{deleted} +{inserted} code points",
        views,
        max(0, len(groups) - GROUPS_MAX),
    )


# ------------------------------------------------------------------ the chart


@dataclass
class Bar:
    x: float
    y: float
    w: float
    h: float
    fill: str
    label: str  # the value written above the bar
    title: str  # the hover text
    text_fill: str


@dataclass
class Column:
    version: str
    date: str
    cx: float
    x0: float
    captured: bool
    bars: list[Bar] = field(default_factory=list)
    tools: int | None = None
    tools_x: float = 0.0
    tools_y: float = 0.0
    change_text: str = ""
    change_title: str = ""
    tools_text: str = ""
    verdict: str = ""
    verdict_text: str = ""
    verdict_fill: str = "#555555"


def _nice(top: float) -> float:
    """A round axis maximum at or above ``top`` (1, 2, 2.5 or 5 times a power of ten)."""
    if top <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(top))
    for step in (1, 1.2, 1.6, 2, 2.4, 3, 4, 5, 6, 8, 10):  # a quarter of each is round
        if step * power >= top:
            return float(step * power)
    raise AssertionError("unreachable")  # pragma: no cover


def _chart(
    versions: Sequence[Mapping[str, Any]], steps: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    n = len(versions)
    width = max(LEFT + RIGHT + GROUP_W * max(n, 1), 720)  # the legend needs 720
    bottom = TOP + PLOT_H
    sized = [v["sizes"] for v in versions if v["sizes"] is not None]
    top_bytes = _nice(max((s["request_bytes"] for s in sized), default=0) / 1000) * 1000
    most = max((s["tool_count"] for s in sized), default=0)
    top_tools = 4 * math.ceil((most + 1) / 4)  # headroom for the top label

    def y_bytes(value: float) -> float:
        return bottom - PLOT_H * value / top_bytes

    def y_tools(value: float) -> float:
        return bottom - PLOT_H * value / top_tools

    columns: list[Column] = []
    for i, v in enumerate(versions):
        x0 = LEFT + i * GROUP_W
        col = Column(
            v["version"], _date(v["published"]), x0 + GROUP_W / 2, x0, v["sizes"] is not None
        )
        s = v["sizes"]
        if s is not None:
            start = col.cx - BAR_W * len(SERIES) / 2 - 8  # room for the tool count
            for k, (key, name, fill, text_fill) in enumerate(SERIES):
                value = s[key]
                y = y_bytes(value)
                col.bars.append(
                    Bar(
                        start + k * BAR_W,
                        round(y, 1),
                        BAR_W - 2,
                        round(bottom - y, 1),
                        fill,
                        _short_kb(value),
                        f"{v['version']}: {name} {value:,} bytes",
                        text_fill,
                    )
                )
            col.tools = s["tool_count"]
            col.tools_y = round(y_tools(s["tool_count"]), 1)
            col.tools_x = start + BAR_W * len(SERIES) + 10
        step = steps.get(v["version"])
        if v["error"] is not None:
            col.change_text = "not captured"
            col.change_title = f"{v['version']}: {v['error']}"
        elif step is None:
            col.change_text = "(first)"
            col.change_title = f"{v['version']}: the first captured release"
        else:
            notable = sum(1 for c in step["changes"] if not c["version_only"])
            col.change_text = f"\u0394 {_plural(notable, 'segment')}"
            col.change_title = (
                f"{step['from']} \u2192 {step['to']}: {notable} changed "
                f"segment(s), {len(step['tools_added'])} tool(s) added, "
                f"{len(step['tools_removed'])} removed"
            )
            if step["tools_added"] or step["tools_removed"]:
                col.tools_text = (
                    f"+{len(step['tools_added'])} \u2212{len(step['tools_removed'])} tools"
                )
        audit = v["audit"]
        if audit is None:
            col.verdict_text = "not audited"
        else:
            col.verdict = audit["verdict"]
            n_f = len(audit["findings"])
            col.verdict_text = f"{VERDICT_ICON.get(audit['verdict'], '?')} {audit['verdict']}" + (
                f" ({n_f})" if n_f else ""
            )
            col.verdict_fill = VERDICT_FILL.get(audit["verdict"], "#555555")
        columns.append(col)
    ticks = [
        (round(y_bytes(top_bytes * k / 4), 1), f"{top_bytes * k / 4 / 1000:g}") for k in range(5)
    ]
    tool_ticks = [
        (round(y_tools(top_tools * k / 4), 1), f"{top_tools * k / 4:g}") for k in range(5)
    ]
    line = " ".join(f"{c.tools_x:g},{c.tools_y:g}" for c in columns if c.tools is not None)
    audited = any(v["audit"] is not None for v in versions)
    ok = [v for v in versions if v["sizes"] is not None]
    if ok:
        first, last = ok[0], ok[-1]
        fs, ls = first["sizes"], last["sizes"]
        trend = (
            f" From {first['version']} to {last['version']} the request body went from "
            f"{_kb(fs['request_bytes'])} to {_kb(ls['request_bytes'])}, the system text "
            f"from {_kb(fs['system_bytes'])} to {_kb(ls['system_bytes'])}, the tool "
            f"definitions from {_kb(fs['tools_bytes'])} to {_kb(ls['tools_bytes'])}, and "
            f"the number of tools from {fs['tool_count']} to {ls['tool_count']}."
        )
    else:
        trend = " No release was captured."
    desc = (
        f"Grouped bars per release ({n} releases, oldest first): the main request's "
        f"body, its system text and its tool definitions in kilobytes (left axis), and a "
        f"line of the number of tools (right axis). Above the plot, per release, the "
        f"number of changed segments since the previous release"
        + (" and the audit verdict" if audited else "")
        + "."
        + trend
        + " The table after the chart has the same numbers."
    )
    return {
        "width": width,
        "height": bottom + 96,
        "top": TOP,
        "bottom": bottom,
        "left": LEFT,
        "right": width - RIGHT,
        "columns": columns,
        "ticks": ticks,
        "tool_ticks": tool_ticks,
        "line": line,
        "series": SERIES,
        "desc": desc,
        "audited": audited,
        "group_w": GROUP_W,
    }


# ------------------------------------------------------------------ the page


def _finding(f: Mapping[str, Any]) -> dict[str, Any]:
    def side(text: str | None) -> Markup | None:
        return None if text is None else _clip(text, FINDING_SIDE)

    sev = f["severity"]
    return {
        "severity": sev,
        "icon": SEVERITY_ICON.get(sev, ""),
        "kind": f["kind"],
        "kind_help": KIND_HELP.get(f["kind"], ""),
        "factors": " + ".join(f"{k}={v}" for k, v in f["factors"].items()),
        "request": f["request"],
        "path": f["path"],
        "control": side(f["control"]),
        "observed": side(f["observed"]),
        "detail": _detail(f["detail"]) if f["detail"] else None,
        "code_points": list(f["code_points"]),
    }


def _summary(doc: Mapping[str, Any]) -> str:
    title = doc["agent"]["title"]
    versions = doc["versions"]
    steps = doc["steps"]
    bisect = doc["bisect"]
    parts: list[str] = []
    if versions:
        ok = [v for v in versions if v["error"] is None]
        runs = max((v["runs"] for v in ok), default=0)
        parts.append(
            f"promptwitness installed {_plural(len(versions), 'release')} of {title} "
            f"({versions[0]['version']} \u2026 {versions[-1]['version']}) and ran each one "
            f"headless in a sandbox with no network, {_plural(runs, 'time')} with identical "
            f"settings, capturing every request byte for byte; what differed between those "
            f"runs is noise and is not counted as a change. "
            f"{len(ok)} of {len(versions)} captured"
            + (
                ""
                if len(ok) == len(versions)
                else " (failed: "
                + ", ".join(v["version"] for v in versions if v["error"] is not None)
                + ")"
            )
            + "."
        )
        if ok:
            fs, ls = ok[0]["sizes"], ok[-1]["sizes"]
            parts.append(
                f"From {ok[0]['version']} to {ok[-1]['version']} the main model request "
                f"went from {_kb(fs['request_bytes'])} to {_kb(ls['request_bytes'])} (system "
                f"text {_kb(fs['system_bytes'])} \u2192 {_kb(ls['system_bytes'])}, tool "
                f"definitions {_kb(fs['tools_bytes'])} \u2192 {_kb(ls['tools_bytes'])}, "
                f"{fs['tool_count']} \u2192 {ls['tool_count']} tools)."
            )
        changed = [
            s
            for s in steps
            if s["changes"]
            or s["tools_added"]
            or s["tools_removed"]
            or s["requests_added"]
            or s["requests_removed"]
        ]
        notable = sum(1 for s in steps for c in s["changes"] if not c["version_only"])
        versioned = sum(1 for s in steps for c in s["changes"] if c["version_only"])
        added = sum(len(s["tools_added"]) for s in steps)
        removed = sum(len(s["tools_removed"]) for s in steps)
        if steps:
            parts.append(
                f"{len(changed)} of {_plural(len(steps), 'step')} between successive "
                f"releases changed something: {_plural(notable, 'segment')} in all, "
                f"{_plural(added, 'tool')} added and {removed} removed"
                + (
                    f" (plus {versioned} version-number-only change(s), expected)"
                    if versioned
                    else ""
                )
                + "."
            )
        audits = [v for v in versions if v["audit"] is not None]
        if audits:
            verdicts = Counter(v["audit"]["verdict"] for v in audits)
            cond = [v["version"] for v in audits if v["audit"]["verdict"] == "conditioned"]
            parts.append(
                "The audit (each release probed with screening factors, one at a time) "
                "found: "
                + ", ".join(
                    f"{verdicts[k]} {k}"
                    for k in ("clean", "conditioned", "inconclusive")
                    if verdicts[k]
                )
                + (f" (conditioned: {', '.join(cond)})" if cond else "")
                + "."
            )
    if bisect is not None:
        if bisect["first"] is None:
            parts.append(
                f"Bisect {bisect['signature']}: not found in "
                f"{_plural(bisect['versions'], 'release')} "
                f"({_plural(bisect['audits'], 'audit')})."
            )
        else:
            parts.append(
                f"Bisect {bisect['signature']}: holds from {bisect['first']} "
                f"({_date(bisect['first_published'])}) to {bisect['last']} "
                f"({_date(bisect['last_published'])}), found with "
                f"{_plural(bisect['audits'], 'audit')} over "
                f"{_plural(bisect['versions'], 'release')}"
                + ("" if bisect["contiguous"] else " (not one contiguous run)")
                + "."
            )
    return " ".join(parts)


def _context(doc: Mapping[str, Any]) -> dict[str, Any]:
    versions = doc["versions"]
    steps_by_to = {s["to"]: s for s in doc["steps"]}
    steps = []
    for s in doc["steps"]:
        notable = [c for c in s["changes"] if not c["version_only"]]
        notable.sort(
            key=lambda c: (
                CATEGORY_ORDER.index(c["category"])
                if c["category"] in CATEGORY_ORDER
                else len(CATEGORY_ORDER)
            )
        )
        steps.append(
            {
                "from": s["from"],
                "to": s["to"],
                "anchor": "step-" + _slug(s["to"]),
                "tools_added": s["tools_added"],
                "tools_removed": s["tools_removed"],
                "requests_added": s["requests_added"],
                "requests_removed": s["requests_removed"],
                "changes": [_change(c) for c in notable],
                "by_category": Counter(c["category"] for c in notable),
                "version_only": [c["path"] for c in s["changes"] if c["version_only"]],
                "empty": not (
                    s["changes"]
                    or s["tools_added"]
                    or s["tools_removed"]
                    or s["requests_added"]
                    or s["requests_removed"]
                ),
            }
        )
    rows = []
    for v in versions:
        step = steps_by_to.get(v["version"])
        audit = v["audit"]
        rows.append(
            {
                "version": v["version"],
                "published": _date(v["published"]),
                "error": v["error"],
                "main_request": v["main_request"],
                "requests": len(v["requests"]),
                "runs": v["runs"],
                "seconds": f"{v['seconds']:.1f}",
                "sizes": v["sizes"],
                "noise": len(v["noise"]),
                "changed": None
                if step is None
                else sum(1 for c in step["changes"] if not c["version_only"]),
                "tools_added": None if step is None else len(step["tools_added"]),
                "tools_removed": None if step is None else len(step["tools_removed"]),
                "step_anchor": None if step is None else "step-" + _slug(step["to"]),
                "verdict": None if audit is None else audit["verdict"],
                "verdict_icon": "" if audit is None else VERDICT_ICON.get(audit["verdict"], "?"),
                "findings": None if audit is None else len(audit["findings"]),
            }
        )
    audits = [
        {
            "version": v["version"],
            "anchor": "audit-" + _slug(v["version"]),
            "published": _date(v["published"]),
            "verdict": v["audit"]["verdict"],
            "verdict_icon": VERDICT_ICON.get(v["audit"]["verdict"], "?"),
            "runs": v["audit"]["runs"],
            "failed_runs": v["audit"]["failed_runs"],
            "seconds": f"{v['audit']['seconds']:.0f}",
            "findings": [_finding(f) for f in v["audit"]["findings"]],
        }
        for v in versions
        if v["audit"] is not None
    ]
    bisect = doc["bisect"]
    bisect_view = None
    if bisect is not None:
        bisect_view = {
            **bisect,
            "first_date": _date(bisect["first_published"]),
            "last_date": _date(bisect["last_published"]),
            "tested": [
                {
                    **t,
                    "published": _date(t["published"]),
                    "verdict_icon": VERDICT_ICON.get(t["verdict"] or "", ""),
                    "holds_text": {True: "yes", False: "no", None: "failed"}[t["holds"]],
                    "evidence": [_finding(f) for f in t["evidence"]],
                }
                for t in bisect["tested"]
            ],
        }
    noise: dict[tuple[str, str], dict[str, Any]] = {}
    ok = [v for v in versions if v["error"] is None]
    for v in ok:
        for item in v["noise"]:
            entry = noise.setdefault(
                (item["request"], item["path"]),
                {"request": item["request"], "path": item["path"], "versions": [], "example": None},
            )
            entry["versions"].append(v["version"])
            if item["examples"] and entry["example"] is None:
                entry["example"] = _clip(item["examples"][0], 120)
    rng = doc["range"]
    meta = [
        ("agent", f"{doc['agent']['title']} ({doc['agent']['name']})"),
        (
            "range",
            rng["spec"]
            + f" (order: {rng['order']}"
            + (f", every {rng['every']}" if rng["every"] else "")
            + (f", at most {rng['max']}" if rng["max"] else "")
            + f"; {rng['in_range']} release(s) in range)",
        ),
        ("selected", ", ".join(rng["selected"])),
        ("started", doc["started"]),
        ("finished", doc["finished"]),
        ("store", doc["store"]),
        ("schema", doc["schema"]),
        ("tool", f"{doc['tool']['name']} {doc['tool']['version']}"),
    ]
    toc = [("summary", "Summary"), ("timeline", "Timeline"), ("versions", "Releases")]
    if steps:
        toc.append(("changes", f"Changes ({len(steps)} steps)"))
    if audits:
        toc.append(("audits", "Audits"))
    if bisect_view is not None:
        toc.append(("bisect", "Bisect"))
    toc += [("noise", "Noise"), ("about", "About this report")]
    return {
        "title": f"promptwitness history: {doc['agent']['title']} {rng['spec']}",
        "summary": _summary(doc),
        "chart": _chart(versions, steps_by_to) if versions else None,
        "rows": rows,
        "steps": steps,
        "audits": audits,
        "audited": bool(audits),
        "bisect": bisect_view,
        "noise": list(noise.values()),
        "captured": len(ok),
        "meta": meta,
        "toc": toc,
        "category_order": CATEGORY_ORDER,
    }


def render_history_html(doc: Mapping[str, Any]) -> str:
    """The ``promptwitness/history/v1`` document as one HTML page (module docstring)."""
    css = _asset("report.css") + _asset("history.css")
    js = _asset("report.js")
    csp = (
        f"default-src 'none'; style-src {_csp_hash(css)}; script-src {_csp_hash(js)}; "
        f"img-src data:; base-uri 'none'; form-action 'none'"
    )
    env = _env()
    return env.get_template("history.html.j2").render(
        **_context(doc),
        css=Markup(css),  # noqa: S704 - our own asset
        js=Markup(js),  # noqa: S704 - our own asset
        csp=csp,
        kb=_kb,
        esc=escape,
    )
