"""report.html: the probe and diff reports as one self-contained HTML page.

Golden files (PROMPTWITNESS_UPDATE_GOLDEN=1 rewrites them; review the diff), plus checks
that hold for any page: markers equal ``report.unicode.mark``, nothing external, a text
severity on every finding, the CSP hashes match the inline style and script, run text
is escaped. ``probe_result()`` and ``probe_evidence_for()`` are reused by the SARIF and
browser tests."""

from __future__ import annotations

import base64
import hashlib
import html as std_html
import json
import re
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.report.test_terminal import golden

from promptwitness.analysis.attribute import Observation, analyse, verdict
from promptwitness.analysis.detectors import classify
from promptwitness.analysis.diff import diff_segments
from promptwitness.model import Segment
from promptwitness.probe.design import plan
from promptwitness.probe.factors import Selection, get
from promptwitness.probe.runner import ProbeConfig, ProbeResult, RunRecord
from promptwitness.report import html as html_mod
from promptwitness.report.evidence import DiffReport, RequestEvidence, evidence_runs
from promptwitness.report.html import html_mark, render_diff_html, render_probe_html
from promptwitness.report.unicode import mark

REQ = "POST /v1/messages [claude-sonnet-4-5] #0"
SYSTEM = "You are Forge <b>&amp;</b>. Today's date is 2026-11-24. Be brief..."
ZWSP = "\u200b"


def _segments(system: str, session: str, temperature: str = "1") -> tuple[Segment, ...]:
    return (
        Segment("params.temperature", temperature, "param"),
        Segment("system[0].text", system),
        Segment("metadata.user_id", f'{{"session":"{session}"}}'),
    )


def _system(cell: str) -> str:
    text = SYSTEM
    if "Asia/Shanghai" in cell:
        text = text.replace("2026-11-24", "2026/11/24")
    if "deepseek" in cell:
        text = text.replace("Today's", "Today\u02bcs")
    if "moonshot" in cell:
        text = text.replace("Be brief", f"Be{ZWSP} brief")
    return text


def probe_result() -> tuple[ProbeResult, dict[tuple[str, str], bytes]]:
    """A probe built by hand: a date-format, a look-alike apostrophe, a zero-width space
    plus a parameter, noise in metadata, and one failed run. Returns the result and the
    request body each (run, request) sent."""
    sels = (
        Selection(get("tz"), ("UTC", "Asia/Shanghai")),
        Selection(get("endpoint-host"), ("127.0.0.1", "api.deepseek.com", "api.moonshot.cn")),
    )
    cells = plan(list(sels))
    obs, runs = [], []
    bodies: dict[tuple[str, str], bytes] = {}
    n = 0
    for cell in cells:
        reps = 3 if cell.id == "control" else 2
        for rep in range(reps + (1 if cell.id == "tz=Asia/Shanghai" else 0)):
            n += 1
            run = f"run{n:03d}"
            if rep == 2 and cell.id == "tz=Asia/Shanghai":  # a run that failed
                obs.append(
                    Observation(cell.id, dict(cell.levels), rep, None, "timed out after 300 s")
                )
                runs.append(
                    RunRecord(
                        run=run,
                        cell=cell.id,
                        replicate=rep,
                        exit_code=None,
                        timed_out=True,
                        duration=300.0,
                        overhead=None,
                        requests=0,
                        error="timed out after 300 s",
                    )
                )
                continue
            text = _system(cell.id)
            temp = "0.7" if "moonshot" in cell.id else "1"
            segs = _segments(text, f"s{n:04d}", temp)
            obs.append(Observation(cell.id, dict(cell.levels), rep, {REQ: segs}))
            runs.append(
                RunRecord(
                    run=run,
                    cell=cell.id,
                    replicate=rep,
                    exit_code=0,
                    timed_out=False,
                    duration=1.5,
                    overhead=0.08,
                    requests=1,
                    error=None,
                    wall=1.6,
                )
            )
            body = {
                "model": "claude-sonnet-4-5",
                "temperature": float(temp),
                "system": [{"type": "text", "text": text}],
                "metadata": {"user_id": json.dumps({"session": f"s{n:04d}"})},
            }
            bodies[(run, REQ)] = json.dumps(body, ensure_ascii=False).encode()
    analysis = analyse(obs, {s.name: s.control for s in sels})
    config = ProbeConfig(argv=("agent", "-p", "Say hi"), selections=sels)
    result = ProbeResult(
        probe="probe0001",
        config=config,
        cells=cells,
        runs=runs,
        analysis=analysis,
        verdict=verdict(analysis, all_cells_ran=True),
        started=1_764_000_000.0,
        finished=1_764_000_042.5,
        store_root="/var/pw/store",
    )
    return result, bodies


def probe_evidence_for(
    result: ProbeResult, bodies: dict[tuple[str, str], bytes]
) -> dict[tuple[str, str], RequestEvidence]:
    """What ``report.evidence.probe_evidence`` would read from a store, built by hand."""
    out = {}
    ids = {r.run: i for i, r in enumerate(result.runs, 1)}
    for run, requests in evidence_runs(result).items():
        for request in requests:
            body = bodies[(run, request)]
            out[(run, request)] = RequestEvidence(
                run=run,
                request=request,
                exchange=ids[run],
                method="POST",
                target="/v1/messages?beta=true",
                http_version="1.1",
                headers=(
                    ("host", "127.0.0.1:8080"),
                    ("x-api-key", "pw-redacted:ab12cd34"),
                    ("content-type", "application/json"),
                ),
                body=body,
                body_size=len(body),
            )
    return out


@pytest.fixture
def fixed_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(html_mod, "__version__", "X")


def probe_page() -> str:
    result, bodies = probe_result()
    return render_probe_html(result, probe_evidence_for(result, bodies))


def diff_page() -> str:
    a = [
        Segment("system[0].text", "It's 2026-11-24."),
        Segment("params.max_tokens", "1024", "param"),
    ]
    b = [
        Segment("system[0].text", f"It\u2019s 2026/11/24.{ZWSP}"),
        Segment("params.max_tokens", "2048", "param"),
    ]
    diffs = diff_segments(a, b)
    ev = [
        RequestEvidence(
            run=None,
            request=f"#{i} POST /v1/messages",
            exchange=i,
            method="POST",
            target="/v1/messages",
            http_version="1.1",
            headers=(("content-type", "application/json"),),
            body=body,
            body_size=len(body) + (5 if i == 8 else 0),
        )
        for i, body in ((7, b'{"system":"It\'s"}'), (8, '{"system":"It\u2019s\u200b"}'.encode()))
    ]
    report = DiffReport(
        ev[0], ev[1], tuple((d, tuple(classify(d))) for d in diffs), "/var/pw/store"
    )
    return render_diff_html(report)


# ------------------------------------------------------------------ golden


def test_probe_html_golden(fixed_version: None) -> None:
    golden("probe_report.html", probe_page())


def test_diff_html_golden(fixed_version: None) -> None:
    golden("diff_report.html", diff_page())


# ------------------------------------------------------------------ markers


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec=None, exclude_categories=())))
def test_html_mark_text_equals_mark(text: str) -> None:
    got = str(html_mark(text))
    # only our spans are tags: everything else is escaped
    assert re.sub(r'<span class="cp( inv)?" title="[^"<>]*">|</span>', "", got).count("<") == 0
    plain = std_html.unescape(re.sub(r"<[^>]*>", "", got))
    assert plain == mark(text)


def test_markers_carry_code_name_and_title() -> None:
    got = str(html_mark(f"a{ZWSP}b\u2019c\u0435"))
    spans = re.findall(r'<span class="(cp(?: inv)?)" title="([^"]*)">([^<]*)</span>', got)
    assert [(cls, text) for cls, _, text in spans] == [
        ("cp inv", "\u27e6U+200B ZERO WIDTH SPACE\u27e7"),
        ("cp", "\u27e6U+2019 RIGHT SINGLE QUOTATION MARK\u27e7"),
        ("cp", "\u27e6U+0435 CYRILLIC SMALL LETTER IE\u27e7"),
    ]
    titles = [std_html.unescape(t) for _, t, _ in spans]
    assert "category Cf (format)" in titles[0] and "invisible" in titles[0]
    assert "category Pf (final quote)" in titles[1] and "looks like" in titles[1]
    assert "U+0065 LATIN SMALL LETTER E" in titles[2]  # the TS#39 prototype of Cyrillic e
    assert ZWSP not in got  # replaced by its marker, never written


def test_run_text_is_escaped() -> None:
    page = probe_page()
    assert "<b>&amp;</b>" not in page.split("<body>", 1)[1]
    assert "&lt;b&gt;&amp;amp;&lt;/b&gt;" in page


# ------------------------------------------------------------------ structure


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []
        self.ids: set[str] = set()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[str] = []
        self.sev_in_article: dict[str, list[str]] = {}
        self.article: str | None = None
        self.in_sev = 0
        self.text: dict[str, str] = {}
        self.capture: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if a.get("id"):
            self.ids.add(str(a["id"]))
        for name in ("src", "href", "action", "poster", "srcset", "data"):
            if a.get(name) is not None:
                self.urls.append((tag, name, str(a[name])))
        if tag == "article":
            self.article = a.get("id")
            assert self.article is not None
            self.sev_in_article[self.article] = []
        cls = (a.get("class") or "").split()
        if tag == "span" and "sev" in cls:
            self.in_sev += 1
        if tag in ("style", "script"):
            self.capture = tag
            self.text[tag] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "article":
            self.article = None
        if tag in ("style", "script"):
            self.capture = None

    def handle_data(self, data: str) -> None:
        if self.capture:
            self.text[self.capture] += data
        if self.in_sev and self.article:
            self.sev_in_article[self.article].append(data)
            if data.strip() in ("covert", "overt", "expected"):
                self.in_sev -= 1


@pytest.mark.parametrize("make", [probe_page, diff_page])
def test_nothing_external(make: object) -> None:
    assert callable(make)
    page = make()
    p = _Page()
    p.feed(page)
    for tag, name, url in p.urls:
        assert url.startswith("#") or url.startswith("data:"), (tag, name, url)
    assert not re.search(r"@import|url\(", p.text["style"])
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page)
    assert csp is not None and "default-src 'none'" in std_html.unescape(csp.group(1))
    # the CSP's hashes are those of the inline style and script, so a browser applies them
    for tag in ("style", "script"):
        digest = base64.b64encode(hashlib.sha256(p.text[tag].encode()).digest()).decode()
        assert f"'sha256-{digest}'" in std_html.unescape(csp.group(1))
    # every in-page link points at something that exists
    for _, name, url in p.urls:
        if name == "href" and url.startswith("#") and len(url) > 1:
            assert url[1:] in p.ids, url


def test_accessibility_basics() -> None:
    page = probe_page()
    p = _Page()
    p.feed(page)
    first_link = next(a for tag, a in p.tags if tag == "a")
    assert first_link.get("class") == "skip" and first_link.get("href") == "#main"
    assert "main" in p.ids
    result, _ = probe_result()
    # every finding has a written severity, the same as the analysis says
    for i, f in enumerate(result.analysis.findings, 1):
        words = "".join(p.sev_in_article[f"F{i}"])
        assert f.severity in words, (i, words)
    assert len(result.analysis.findings) >= 4
    # details are keyboard-focusable through their summary
    details = sum(1 for tag, _ in p.tags if tag == "details")
    summaries = sum(1 for tag, _ in p.tags if tag == "summary")
    assert details == summaries > 0
    # no fixed pixel widths in the styles (200 % zoom reflows); 1px: the screen-reader
    # only text
    widths = re.findall(r"(?<![-\w])(?:min-|max-)?width:\s*(\d+)px", p.text["style"])
    assert widths and all(w == "1" for w in widths)
    assert 'name="viewport"' in page


def test_probe_page_content() -> None:
    result, bodies = probe_result()
    page = render_probe_html(result, probe_evidence_for(result, bodies))
    a = result.analysis
    kinds = {f.change.kind for f in a.findings}
    assert {"date-format", "confusable", "invisible", "param"} <= kinds
    assert "\u27e6U+200B ZERO WIDTH SPACE\u27e7" in page
    assert "\u27e6U+02BC MODIFIER LETTER APOSTROPHE\u27e7" in page
    assert ZWSP not in page
    assert 'Today\u02bc<span class="cp" title="U+02BC' in page  # the glyph, then its marker
    assert result.verdict in re.sub(r"<[^>]*>", "", page.split("</h1>")[0])
    # each (run, request) body is written once; later findings link to it
    for run, request in probe_evidence_for(result, bodies):
        anchor = html_mod._anchor(run, request)
        assert page.count(f'id="{anchor}"') == 1
    for r in result.runs:
        assert f'id="run-{r.run}"' in page
    assert "timed out after 300 s" in page
    assert "metadata.user_id" in page  # noise listed
    # without evidence: no raw bytes, and the page says so
    bare = render_probe_html(result)
    assert "Exact request bytes" not in bare and "without the store" in bare


def test_exit_code_shown() -> None:
    result, _ = probe_result()
    page = render_probe_html(result, exit_code=0)
    assert "exit code: 0" in page
