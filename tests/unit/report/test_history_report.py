"""report.history_html and report.sarif.history_sarif: the ``history`` result as one
self-contained HTML page (timeline chart) and as SARIF, from the
``promptwitness/history/v1`` document built over a hand-made history (deterministic).

Golden files: tests/golden/history_report.html and .sarif
(PROMPTWITNESS_UPDATE_GOLDEN=1 rewrites them; review the diff)."""

from __future__ import annotations

import base64
import hashlib
import html as std_html
import json
import re
from pathlib import Path
from types import TracebackType
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.report.test_html import _Page, golden
from tests.unit.report.test_sarif import SCHEMA_FILE, SCHEMA_SHA256

from promptwitness.agents.registry import Release
from promptwitness.history import document as document_mod
from promptwitness.history.bisect import Search, parse_signature
from promptwitness.history.document import to_json
from promptwitness.history.run import Bisect, History
from promptwitness.history.timeline import (
    Audit,
    AuditFinding,
    RunCapture,
    VersionCapture,
    build_timeline,
    readable_ops,
)
from promptwitness.model import Segment
from promptwitness.report import history_html as hh
from promptwitness.report import sarif as sarif_mod
from promptwitness.report.history_html import render_history_html
from promptwitness.report.sarif import dumps, history_sarif
from promptwitness.report.unicode import mark

KEY = "POST /v1/messages [m] #0"
ZWSP = "\u200b"
APOS = "\u02bc"
CONFUSABLE = AuditFinding(
    {"endpoint-host": "api.deepseek.com"},
    KEY,
    "messages[0].content[0].text",
    "confusable",
    "covert",
    "'",
    APOS,
    ("U+0027 APOSTROPHE", "U+02BC MODIFIER LETTER APOSTROPHE"),
    "U+0027 \u2192 U+02BC (look-alike)",
)
DATE = AuditFinding(
    {"tz": "Asia/Shanghai"},
    KEY,
    "system[0].text",
    "date-format",
    "covert",
    "2026-11-28",
    "2026/11/28",
    (),
    "dddd-dd-dd \u2192 dddd/dd/dd",
)
PARAM = AuditFinding(
    {"tz": "Asia/Shanghai"}, KEY, "params.max_tokens", "param", "overt", "1024", "2048", (), ""
)


def _segs(
    version: str, system: str, reminder: str, tools: str, session: str
) -> tuple[Segment, ...]:
    return (
        Segment("model", "m", "param"),
        Segment("system[0].text", system),
        Segment("tools.order", tools, "order"),
        *(Segment(f"tools[{t}].description", f"The {t} tool. " * 20) for t in tools.split("\n")),
        Segment("messages[0].role", "user"),
        Segment("messages[0].content[0].text", reminder),
        Segment("headers.user-agent", f"cli/{version}", "header"),
        Segment("headers.x-session", session, "header"),
    )


def _cap(
    version: str, day: int, system: str, reminder: str, tools: str, audit: Audit | None, size: int
) -> VersionCapture:
    runs = tuple(
        RunCapture({KEY: _segs(version, system, reminder, tools, s)}, {KEY: size + i})
        for i, s in enumerate(("s-1111", "s-2222"))
    )
    return VersionCapture(version, f"2026-03-{day:02d}T00:00:00Z", runs, audit=audit, seconds=12.5)


SYSTEM = "You are an agent <b>&amp;</b>. Be brief."


def history_doc() -> dict[str, Any]:
    """A history of five releases: tools added and removed, a zero-width space inserted,
    a look-alike apostrophe, a rewritten system text, a version-only header change,
    noise, one release that failed, audits with findings, and a bisect."""
    caps = [
        _cap(
            "2.1.1",
            1,
            SYSTEM,
            "Today's date is 2026-11-28.",
            "Bash\nRead",
            Audit("clean", (), 7, 0, 30.0),
            41_000,
        ),
        _cap(
            "2.1.2",
            5,
            SYSTEM,
            f"Today's date is 2026-11-28.{ZWSP}",
            "Bash\nRead\nWeb",
            Audit("conditioned", (CONFUSABLE,), 7, 0, 31.0),
            52_500,
        ),
        VersionCapture("2.1.3", "2026-03-09T00:00:00Z", (), "install: npm failed", seconds=3.0),
        _cap(
            "2.1.4",
            14,
            SYSTEM.replace("Be brief.", "Be brief and exact. Never guess."),
            f"Today{APOS}s date is 2026-11-28.{ZWSP}",
            "Bash\nWeb\nTodo\nGrep",
            Audit("conditioned", (CONFUSABLE, DATE, PARAM), 7, 1, 33.0),
            60_100,
        ),
        _cap(
            "2.1.5",
            20,
            SYSTEM,
            "Today's date is 2026-11-28.",
            "Bash\nWeb\nTodo\nGrep",
            Audit("inconclusive", (), 7, 2, 35.0),
            58_000,
        ),
    ]
    history = History(
        "agent",
        "Agent",
        build_timeline("agent", caps),
        tuple(caps),
        1_764_000_000.0,
        1_764_000_420.0,
    )
    rels = tuple(Release(c.version, c.published) for c in caps)
    bisect = Bisect(
        parse_signature("endpoint-host:confusable"),
        rels,
        Search(
            1,
            3,
            ((0, False), (4, False), (1, True), (3, True), (2, None)),
            True,
            "2.1.3 failed; counted with its neighbours",
        ),
        {c.version: c for c in caps},
        1_764_000_000.0,
        1_764_000_500.0,
    )
    rng = {
        "spec": "2.1.1..2.1.5",
        "order": "version",
        "every": None,
        "max": None,
        "in_range": 5,
        "selected": [c.version for c in caps],
    }
    return to_json("agent", "Agent", rng, "/var/pw/store", history, bisect)


@pytest.fixture
def fixed_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(document_mod, "__version__", "X")
    monkeypatch.setattr(sarif_mod, "__version__", "X")


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    data = SCHEMA_FILE.read_bytes()
    assert hashlib.sha256(data).hexdigest() == SCHEMA_SHA256
    schema = json.loads(data)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


# ------------------------------------------------------------------ golden


def test_history_html_golden(fixed_version: None) -> None:
    golden("history_report.html", render_history_html(history_doc()))


def test_history_sarif_golden(fixed_version: None) -> None:
    doc = history_sarif(
        history_doc(), command_line=["promptwitness", "history", "agent", "2.1.1..2.1.5", "--audit"]
    )
    golden("history_report.sarif", dumps(doc))


# ------------------------------------------------------------------ HTML


def _svg(page: str) -> str:
    m = re.search(r'<svg class="chart".*?</svg>', page, re.S)
    assert m is not None
    return m.group(0)


def test_page_is_self_contained_with_matching_csp() -> None:
    page = render_history_html(history_doc())
    p = _Page()
    p.feed(page)
    for tag, name, url in p.urls:
        assert url.startswith("#") or url.startswith("data:"), (tag, name, url)
    assert not re.search(r"https?://", page.split("<body>", 1)[1])  # no URL in the body
    assert not re.search(r"@import|url\((?!#)", p.text["style"])
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page)
    assert csp is not None
    policy = std_html.unescape(csp.group(1))
    assert "default-src 'none'" in policy
    for tag in ("style", "script"):
        digest = base64.b64encode(hashlib.sha256(p.text[tag].encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    for _, name, url in p.urls:
        if name == "href" and url.startswith("#") and len(url) > 1:
            assert url[1:] in p.ids, url
    # the SVG's fills refer to its own patterns only
    for ref in re.findall(r"url\(#([^)]+)\)", page):
        assert f'id="{ref}"' in page
    assert "style=" not in page  # inline style attributes would be refused by the CSP


def test_chart_has_title_desc_and_table_with_the_same_numbers() -> None:
    doc = history_doc()
    page = render_history_html(doc)
    svg = _svg(page)
    assert 'role="img"' in svg and 'aria-labelledby="chart-title chart-desc"' in svg
    assert '<title id="chart-title">' in svg and '<desc id="chart-desc">' in svg
    # the accessible table follows the chart directly
    after = page.split("</svg>", 1)[1]
    assert re.match(r'\s*</div>\s*<div class="scroll"[^>]*>\s*<table id="timeline-table">', after)
    table = after.split("</table>", 1)[0]
    rows = re.findall(r'<tr( class="failed")?><th scope="row">([^<]+)</th>(.*?)</tr>', table, re.S)
    assert [r[1] for r in rows] == [v["version"] for v in doc["versions"]]
    for (failed, _, cells), v in zip(rows, doc["versions"], strict=True):
        text = re.sub(r"<[^>]*>", " ", cells)
        if v["sizes"] is None:
            assert failed and "not captured: install: npm failed" in text
            continue
        nums = [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", text)[3:7]]
        s = v["sizes"]
        assert nums == [s["request_bytes"], s["system_bytes"], s["tools_bytes"], s["tool_count"]]
        assert (v["audit"]["verdict"]) in text
    # one bar per series per captured release, each with its value written and a title
    captured = [v for v in doc["versions"] if v["sizes"] is not None]
    bars = re.findall(
        r'<rect x="[\d.]+" y="[\d.]+" width="22" height="([\d.]+)" '
        r'fill="url\(#hc-(\w+)\)"[^>]*><title>([^<]*)</title>',
        svg,
    )
    assert len(bars) == 3 * len(captured)
    req = [float(h) for h, pattern, _ in bars if pattern == "solid"]
    sizes = [v["sizes"]["request_bytes"] for v in captured]
    assert req.index(max(req)) == sizes.index(max(sizes))  # heights follow the sizes
    assert all(
        req[i] / req[j] == pytest.approx(sizes[i] / sizes[j], rel=0.01)
        for i in range(len(req))
        for j in range(len(req))
    )
    for v in captured:
        assert f"{v['version']}: request body {v['sizes']['request_bytes']:,} bytes" in svg


def test_chart_markers_are_text_not_colour_only() -> None:
    doc = history_doc()
    svg = _svg(render_history_html(doc))
    texts = [std_html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)", svg)]
    # verdict per release, as icon and word (and the number of findings)
    assert "\u2714 clean" in texts and "\u2716 conditioned (1)" in texts
    assert "\u2716 conditioned (3)" in texts and "? inconclusive" in texts
    assert "not audited" in texts  # the failed release
    # changed segments per step, and tools added/removed
    for s in doc["steps"]:
        n = sum(1 for c in s["changes"] if not c["version_only"])
        assert f"\u0394 {n} segment{'s' if n != 1 else ''}" in texts
    assert "+1 \u22120 tools" in texts and "+2 \u22121 tools" in texts
    assert "(first)" in texts and "not captured" in texts and "no capture" in texts
    # the tool counts, written next to their points
    for v in doc["versions"]:
        if v["sizes"] is not None:
            assert str(v["sizes"]["tool_count"]) in texts


def test_hidden_code_points_are_marked_everywhere() -> None:
    page = render_history_html(history_doc())
    body = page.split("<body>", 1)[1]
    assert ZWSP not in body  # never written raw: the marker stands for it
    assert '<span class="cp inv" title="U+200B ZERO WIDTH SPACE' in body
    # the look-alike apostrophe: the glyph, then its marker (in the step diff and findings)
    assert body.count(f'{APOS}<span class="cp" title="U+02BC MODIFIER LETTER APOSTROPHE') >= 3
    # the inserted zero-width space is inside an insertion of the step's compact diff
    step = body.split('id="step-2.1.2"', 1)[1].split("</article>", 1)[0]
    assert re.search(r'<ins><span class="sign">\{\+</span><span class="cp inv"', step)
    assert "added: U+200B ZERO WIDTH SPACE" in step
    # run text is escaped, not interpreted
    assert "<b>&amp;</b>" not in body and "&lt;b&gt;&amp;amp;&lt;/b&gt;" in body


def test_steps_audits_bisect_and_noise_are_shown() -> None:
    doc = history_doc()
    page = render_history_html(doc)
    text = std_html.unescape(re.sub(r"<[^>]*>", "", page))
    for s in doc["steps"]:
        assert f"{s['from']} \u2192 {s['to']}" in text
    assert "Tools added (1): Web" in text and "Tools removed (1): Read" in text
    assert "Tools added (2): Todo, Grep" in text
    assert "Version number only (expected): headers.user-agent" in text
    assert "[-Be brief-]" not in text  # a word edit is small: only what changed
    assert "Be brief{+ and exact+}.{+ Never guess.+}" in text
    # audits: every audited release, its verdict and its findings with severity words
    for v in doc["versions"]:
        if v["audit"] is not None:
            sect = page.split(f'id="audit-{v["version"]}"', 1)[1].split("</article>", 1)[0]
            assert f"verdict-{v['audit']['verdict']}" in sect
            assert sect.count('class="hfinding') == len(v["audit"]["findings"])
            for f in v["audit"]["findings"]:
                assert f'<span class="sev sev-{f["severity"]}">' in sect
    # bisect: the boundary, the tested releases in order, the evidence
    b = doc["bisect"]
    assert "holds from 2.1.2 (2026-03-05) to 2.1.4 (2026-03-14)" in text
    bis = page.split('id="bisect"', 1)[1].split("</section>", 1)[0]
    assert re.findall(r'<th scope="row">([^<]+)</th>', bis) == [t["version"] for t in b["tested"]]
    assert "Evidence in 2.1.2 (first)" in text and "Evidence in 2.1.4 (last)" in text
    assert b["note"] in text
    # noise: the session header, with its examples, never a change
    assert "headers.x-session" in text and "s-1111" in text
    assert "~ headers.x-session" not in text


def test_noise_mask_is_a_labelled_token() -> None:
    got = str(hh.marked("id <pw:noise> and <b>"))
    assert got.count('class="noise"') == 1 and "&lt;b&gt;" in got


def test_bisect_only_and_empty_history_render() -> None:
    doc = history_doc()
    doc["versions"], doc["steps"] = [], []
    page = render_history_html(doc)
    assert "a bisect only" in page and 'id="bisect"' in page and "<svg" not in page
    doc["bisect"] = None
    assert "<svg" not in render_history_html(doc)


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet="ab '\u2019\u200b\n.", max_size=40),
    st.text(alphabet="ab '\u2019\u200b\n.", max_size=40),
)
def test_ops_rebuilt_from_the_document_tile_both_texts(a: str, b: str) -> None:
    edits = [
        [o.tag, o.a_start, o.a_end, o.b_start, o.b_end]
        for o in readable_ops(a, b)
        if o.tag != "equal"
    ]
    ops = hh._ops(a, b, edits)
    assert "".join(a[o[1] : o[2]] for o in ops) == a
    assert "".join(b[o[3] : o[4]] for o in ops) == b
    for tag, a0, a1, b0, b1 in ops:
        if tag == "equal":
            assert a[a0:a1] == b[b0:b1]
    if a != b:
        change = {
            "path": "p",
            "category": "system",
            "status": "changed",
            "before": a,
            "after": b,
            "edits": edits,
            "version_only": False,
        }
        view = hh._change(change)
        shown = "".join(str(g.html) for g in view.groups)
        assert ZWSP not in shown  # always a marker, never the raw code point


# ------------------------------------------------------------------ SARIF


def _errors(validator: jsonschema.protocols.Validator, doc: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]


def test_history_sarif_valid(validator: jsonschema.protocols.Validator) -> None:
    doc = history_sarif(history_doc(), command_line=["promptwitness", "history", "x", "y"])
    assert _errors(validator, doc) == []
    broken = json.loads(json.dumps(doc))
    broken["runs"][0]["results"][0]["level"] = "fatal"
    broken["runs"][0]["results"][-1]["locations"][0]["logicalLocations"] = {}
    assert len(_errors(validator, broken)) >= 2


def test_history_sarif_one_result_per_finding_per_release() -> None:
    hdoc = history_doc()
    run = history_sarif(hdoc)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    expected = [
        (v, f) for v in hdoc["versions"] if v["audit"] is not None for f in v["audit"]["findings"]
    ]
    findings = [r for r in run["results"] if r["ruleId"] != "promptwitness/bisect-boundary"]
    assert len(findings) == len(expected) == 4
    for res, (v, f) in zip(findings, expected, strict=True):
        assert res["ruleId"] == f"promptwitness/{f['kind']}"
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        assert (
            res["level"]
            == {"covert": "error", "overt": "warning", "expected": "note"}[f["severity"]]
        )
        loc = res["locations"][0]["logicalLocations"][0]
        assert loc["fullyQualifiedName"] == f"agent@{v['version']}::{KEY}::{f['path']}"
        props = res["properties"]
        assert (props["version"], props["published"]) == (v["version"], v["published"])
        assert props["factors"] == f["factors"]
        if f["observed"] and APOS in f["observed"]:
            assert mark(APOS) in res["message"]["text"]
    fps = [r["partialFingerprints"]["promptwitnessChange/v1"] for r in run["results"]]
    assert len(set(fps)) == len(fps)  # the same finding in two releases: two results
    (boundary,) = [r for r in run["results"] if r["ruleId"] == "promptwitness/bisect-boundary"]
    assert boundary["level"] == "note" and rules[boundary["ruleIndex"]]["id"] == boundary["ruleId"]
    assert boundary["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "agent@2.1.2"
    assert (
        boundary["relatedLocations"][0]["logicalLocations"][0]["fullyQualifiedName"]
        == "agent@2.1.4"
    )
    assert "holds from 2.1.2 (2026-03-05) to 2.1.4 (2026-03-14)" in boundary["message"]["text"]
    inv = run["invocations"][0]
    assert inv["exitCode"] == 3  # one release failed, as the command says
    notes = inv["toolExecutionNotifications"]
    assert [n["descriptor"]["id"] for n in notes] == ["release-not-captured"]


def test_history_sarif_without_bisect_boundary() -> None:
    doc = history_doc()
    doc["bisect"]["first"] = doc["bisect"]["last"] = None
    run = history_sarif(doc, exit_code=3)["runs"][0]
    assert all(r["ruleId"] != "promptwitness/bisect-boundary" for r in run["results"])
    ids = [n["descriptor"]["id"] for n in run["invocations"][0]["toolExecutionNotifications"]]
    assert "bisect-not-found" in ids
    doc["bisect"] = None
    doc["versions"] = [v for v in doc["versions"] if v["error"] is None]
    run = history_sarif(doc)["runs"][0]
    assert run["invocations"][0]["exitCode"] == 0
    assert "toolExecutionNotifications" not in run["invocations"][0]


# ------------------------------------------------------------------ CLI


class _NoSandbox:
    def __enter__(self) -> _NoSandbox:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None


def test_cli_writes_html_and_sarif(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``history --html --sarif`` writes both from the same result as ``--json`` (the
    runs themselves are replaced: the integration tests run them for real)."""
    from promptwitness.cli import history as cli_history
    from promptwitness.cli import main
    from promptwitness.history import run as run_mod
    from promptwitness.probe import sandbox as sandbox_mod

    doc = history_doc()
    caps = [VersionCapture(v["version"], v["published"], ()) for v in doc["versions"]]

    class Source:
        name, title = "agent", "Agent"

        def releases(self) -> list[Release]:
            return [Release(c.version, c.published) for c in caps]

    built: list[History] = []

    def fake_run_history(source: object, chosen: list[Release], *a: object, **k: object) -> History:
        h = History("agent", "Agent", build_timeline("agent", caps), tuple(caps), 1.0, 2.0)
        built.append(h)
        return h

    monkeypatch.setattr(cli_history, "make_source", lambda name, args: Source())
    monkeypatch.setattr(run_mod, "run_history", fake_run_history)
    monkeypatch.setattr(sandbox_mod, "Sandbox", _NoSandbox)
    out = tmp_path / "h"
    code = main(
        [
            "history",
            "agent",
            "2.1.1..2.1.5",
            "--store",
            str(tmp_path / "store"),
            "--quiet",
            "--json",
            f"{out}.json",
            "--html",
            f"{out}.html",
            "--sarif",
            f"{out}.sarif",
        ]
    )
    assert code == 2 and built  # nothing captured: every fake release "failed"
    written = json.loads(Path(f"{out}.json").read_text(encoding="utf-8"))
    page = Path(f"{out}.html").read_text(encoding="utf-8")
    assert page == render_history_html(written)
    sarif = json.loads(Path(f"{out}.sarif").read_text(encoding="utf-8"))
    assert sarif["runs"][0]["invocations"][0]["exitCode"] == 2
    assert len(sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]) == len(caps)
