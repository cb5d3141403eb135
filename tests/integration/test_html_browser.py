"""The HTML report in a real browser: headless Chromium (Debian's ``chromium``, installed
by scripts/setup.sh; skipped when absent).

- The page's Content-Security-Policy lets its own inline style and script through (the
  markers get the report's colours; the script opens a linked ``<details>``).
- In the rendered DOM every marker of a hidden or look-alike code point is displayed,
  visible and has a non-zero box, and its text is the marker (``⟦U+... NAME⟧``).
  (A copy of the page gets a measuring script and its hash in the CSP; nothing else
  of the page changes.)
- Opening the page at a raw-request anchor opens that ``<details>`` (keyboard and link
  users land on the bytes, not on a closed box).
- A screenshot is written (non-empty PNG).
"""

from __future__ import annotations

import base64
import hashlib
import html as std_html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.unit.report.test_html import probe_evidence_for, probe_result

from promptwitness.report.html import render_probe_html

CHROMIUM = next(
    (p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p),
    None,
)

MEASURE = """
<script>
(function () {
  var out = [];
  // what a reader sees after opening every box (markers in a closed one have no box)
  document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  document.querySelectorAll("span.cp").forEach(function (el) {
    var r = el.getBoundingClientRect();
    var s = getComputedStyle(el);
    out.push({text: el.textContent, w: r.width, h: r.height, display: s.display,
              visibility: s.visibility, opacity: s.opacity, color: s.color,
              background: s.backgroundColor, inv: el.classList.contains("inv"),
              title: el.title});
  });
  var pre = document.createElement("pre");
  pre.id = "pw-measure";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}());
</script>
"""


def measure(html: str, script: str, tmp_path: Path, window: str) -> Any:
    """Render ``html`` in headless Chromium with ``script`` (a ``<script>`` block that
    writes JSON into ``<pre id="pw-measure">``) added, keeping the page's CSP (so its
    style must pass it) and allowing that script by its hash; returns the JSON."""
    code = script.split("<script>", 1)[1].split("</script>", 1)[0]
    digest = base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
    probe = html.replace("script-src ", f"script-src &#39;sha256-{digest}&#39; ", 1)
    assert probe != html
    probe = probe.replace("</body>", script + "</body>")
    path = tmp_path / "measure.html"
    path.write_text(probe, encoding="utf-8")
    proc = _chromium(
        f"--window-size={window}",
        "--virtual-time-budget=2000",
        "--dump-dom",
        path.as_uri(),
        home=tmp_path,
    )
    m = re.search(r'<pre id="pw-measure">(.*?)</pre>', proc.stdout, re.S)
    assert m is not None, proc.stderr[-2000:]
    return json.loads(std_html.unescape(m.group(1)))


def _chromium(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None, (
        "chromium is not installed: scripts/setup.sh installs Debian's chromium (as root)"
    )
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8"}
    return subprocess.run(
        [
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-sync",
            "--no-default-browser-check",
            f"--user-data-dir={home / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    result, bodies = probe_result()
    html = render_probe_html(result, probe_evidence_for(result, bodies))
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(html, encoding="utf-8")
    return path, html


def test_screenshot(page: tuple[Path, str], tmp_path: Path) -> None:
    path, _ = page
    shot = tmp_path / "report.png"
    proc = _chromium(
        "--window-size=1000,2000",
        "--hide-scrollbars",
        f"--screenshot={shot}",
        "--virtual-time-budget=2000",
        path.as_uri(),
        home=tmp_path,
    )
    assert shot.exists() and shot.stat().st_size > 10_000, proc.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_markers_visible_in_rendered_dom(page: tuple[Path, str], tmp_path: Path) -> None:
    _, html = page
    spans = measure(html, MEASURE, tmp_path, "1000,2000")
    expected = html.count('<span class="cp')
    assert len(spans) == expected >= 8
    texts = {s["text"] for s in spans}
    assert "\u27e6U+200B ZERO WIDTH SPACE\u27e7" in texts
    assert "\u27e6U+02BC MODIFIER LETTER APOSTROPHE\u27e7" in texts
    for s in spans:
        assert re.fullmatch(r"\u27e6U\+[0-9A-F]{4,6}( [^\u27e7]+)?\u27e7", s["text"]), s
        assert s["display"] != "none" and s["visibility"] == "visible", s
        assert float(s["opacity"]) == 1.0, s
        assert s["w"] > 0 and s["h"] > 0, s
        # the report's style applied (the CSP let it through): light text on a dark box
        assert s["color"] == "rgb(255, 255, 255)", s
        assert s["background"] == ("rgb(176, 0, 32)" if s["inv"] else "rgb(74, 42, 122)"), s
        assert s["title"].startswith(s["text"][1:-1]), s  # hover: code and name first


def test_anchor_opens_raw_request(page: tuple[Path, str], tmp_path: Path) -> None:
    path, html = page
    anchor = re.search(r'<details class="raw" id="(raw-[0-9a-f]+)">', html)
    assert anchor is not None
    proc = _chromium(
        "--virtual-time-budget=2000",
        "--dump-dom",
        f"{path.as_uri()}#{anchor.group(1)}",
        home=tmp_path,
    )
    opened = re.search(rf'<details class="raw" id="{anchor.group(1)}"( open="")?>', proc.stdout)
    assert opened is not None, proc.stderr[-2000:]
    assert opened.group(1) == ' open=""'
    others = re.findall(r'<details class="raw" id="raw-[0-9a-f]+"( open="")?>', proc.stdout)
    assert others.count(' open=""') == 1
