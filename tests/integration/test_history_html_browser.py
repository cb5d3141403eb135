"""The history HTML report in a real browser (headless Chromium; skipped when absent).

- The timeline chart (inline SVG) is displayed with a non-zero box, its bars and text
  markers too, under the page's own Content-Security-Policy (a copy of the page gets a
  measuring script and its hash in the CSP; nothing else changes).
- Every marker of a hidden or look-alike code point is displayed, visible, non-empty
  and styled by the report's style (the CSP let the combined style through).
- A screenshot is written (non-empty PNG).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.integration.test_html_browser import _chromium, measure
from tests.unit.report.test_history_report import history_doc

from promptwitness.report.history_html import render_history_html

MEASURE = """
<script>
(function () {
  function box(el) {
    var r = el.getBoundingClientRect();
    var s = getComputedStyle(el);
    return {w: r.width, h: r.height, display: s.display, visibility: s.visibility,
            opacity: s.opacity};
  }
  var svg = document.getElementById("timeline-chart");
  var out = {svg: box(svg), bars: [], texts: [], markers: [],
             table: !!document.getElementById("timeline-table")};
  svg.querySelectorAll("g.release rect[fill^='url(#hc-']").forEach(function (el) {
    var b = box(el); b.title = el.querySelector("title").textContent; out.bars.push(b);
  });
  svg.querySelectorAll("text").forEach(function (el) {
    var b = box(el); b.text = el.firstChild ? el.firstChild.nodeValue : ""; out.texts.push(b);
  });
  document.querySelectorAll("span.cp").forEach(function (el) {
    var b = box(el);
    var s = getComputedStyle(el);
    b.text = el.textContent; b.color = s.color; b.background = s.backgroundColor;
    b.inv = el.classList.contains("inv");
    out.markers.push(b);
  });
  var pre = document.createElement("pre");
  pre.id = "pw-measure";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}());
</script>
"""


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    html = render_history_html(history_doc())
    path = tmp_path_factory.mktemp("history") / "history.html"
    path.write_text(html, encoding="utf-8")
    return path, html


def _measure(html: str, tmp_path: Path) -> dict[str, object]:
    got: dict[str, object] = measure(html, MEASURE, tmp_path, "1200,2000")
    return got


def _shown(b: dict[str, object]) -> bool:
    return (
        b["display"] != "none" and b["visibility"] == "visible" and float(str(b["opacity"])) == 1.0
    )


def test_chart_and_markers_are_displayed(page: tuple[Path, str], tmp_path: Path) -> None:
    _, html = page
    got = _measure(html, tmp_path)
    svg = got["svg"]
    assert isinstance(svg, dict)
    assert _shown(svg) and svg["w"] > 600 and svg["h"] > 300, svg
    assert got["table"] is True
    doc = history_doc()
    captured = [v for v in doc["versions"] if v["sizes"] is not None]
    bars = got["bars"]
    assert isinstance(bars, list) and len(bars) == 3 * len(captured)
    for b in bars:
        assert _shown(b) and b["w"] > 0 and b["h"] > 0, b
    texts = got["texts"]
    assert isinstance(texts, list)
    shown = {t["text"] for t in texts if _shown(t) and t["w"] > 0 and t["h"] > 0}
    assert {"\u2714 clean", "\u2716 conditioned (3)", "? inconclusive", "(first)"} <= shown
    assert {v["version"] for v in doc["versions"]} <= shown
    markers = got["markers"]
    assert isinstance(markers, list)
    assert len(markers) == html.count('<span class="cp') >= 5
    texts_m = {m["text"] for m in markers}
    assert "\u27e6U+200B ZERO WIDTH SPACE\u27e7" in texts_m
    assert "\u27e6U+02BC MODIFIER LETTER APOSTROPHE\u27e7" in texts_m
    for m in markers:
        assert _shown(m) and m["w"] > 0 and m["h"] > 0, m
        assert m["color"] == "rgb(255, 255, 255)", m  # the report's style applied
        assert m["background"] == ("rgb(176, 0, 32)" if m["inv"] else "rgb(74, 42, 122)"), m


def test_screenshot(page: tuple[Path, str], tmp_path: Path) -> None:
    path, _ = page
    shot = tmp_path / "history.png"
    proc = _chromium(
        "--window-size=1200,1600",
        "--hide-scrollbars",
        f"--screenshot={shot}",
        "--virtual-time-budget=2000",
        path.as_uri(),
        home=tmp_path,
    )
    assert shot.exists() and shot.stat().st_size > 10_000, proc.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
