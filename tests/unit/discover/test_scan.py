"""discover.scan: sources -> decode, classify, plain tables, look-alikes, reads; dedupe,
bounds, hostile input; the terminal and HTML presenters of its report."""

from __future__ import annotations

import base64
import io
import json
import os
import time
import zlib
from pathlib import Path
from typing import Any

from rich.console import Console

from promptwitness.discover.decode import Budget
from promptwitness.discover.model import ScanReport
from promptwitness.discover.scan import plain_tables, scan
from promptwitness.report.scan_html import render_scan_html, scan_section
from promptwitness.report.scan_text import render_scan


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


HIDDEN = b64(b"api.deepseek.com,api.moonshot.cn,open.bigmodel.cn")
XORED = b64(bytes(b ^ 0x5A for b in b"Asia/Shanghai,Asia/Urumqi,Asia/Hong_Kong"))
BUNDLE = (
    f'var T="{HIDDEN}";var k=0x5a,Z="{XORED}";Z.split("").map(c=>c.charCodeAt(0)^k);'
    'const S=["api.example.cn",".corp.example.cn","gw.example.com.cn"];'
    'const u="p\u0430ypal",w="\\u200b";'
    "const b=process.env.ANTHROPIC_BASE_URL,z=Intl.DateTimeFormat().resolvedOptions().timeZone;"
)


def test_bundle_findings(tmp_path: Path) -> None:
    (tmp_path / "cli.js").write_text(BUNDLE)
    r = scan(str(tmp_path / "cli.js"))
    enc = {t.encoding: t for t in r.tables}
    assert enc[("base64",)].strings == ("api.deepseek.com", "api.moonshot.cn", "open.bigmodel.cn")
    assert "host" in enc[("base64",)].kinds
    assert enc[("base64", "xor:5a")].kinds == ("zone",)
    assert enc[("plain",)].strings[0] == "api.example.cn"
    assert enc[("base64",)].location.file == "cli.js"
    assert {x.code_points for x in r.lookalikes} == {("U+0430",), ("U+200B",)}
    names = {(x.kind, x.name) for x in r.reads}
    assert ("env", "ANTHROPIC_BASE_URL") in names
    assert ("zone", "Intl.DateTimeFormat().resolvedOptions().timeZone") in names
    assert r.files[0].format == "js"
    doc = r.to_json()
    assert doc["schema"] == "promptwitness/scan-report/v1"
    json.dumps(doc)


def test_dedupe_with_counts(tmp_path: Path) -> None:
    for i in range(3):  # different files, the same findings
        (tmp_path / f"m{i}.js").write_text(f"// {i}\n" + BUNDLE)
    r = scan(str(tmp_path))
    assert len(r.files) == 3
    counts: Any = r.extra["counts"]
    hidden = [i for i, t in enumerate(r.tables) if t.encoding == ("base64",)]
    assert len(hidden) == 1 and counts["tables"][hidden[0]] == 3
    assert r.tables[hidden[0]].location.file == "m0.js"
    env = [i for i, x in enumerate(r.reads) if x.name == "ANTHROPIC_BASE_URL"]
    assert len(env) == 1 and counts["reads"][env[0]] == 3
    assert len(r.extra["read_locations"][env[0]]) == 3
    assert all(n == 3 for n in counts["lookalikes"])


def test_plain_tables_rules() -> None:
    text = (
        'a=["github.com","gitlab.com","bitbucket.org"];'
        'b=["red","green","blue","cyan"];'
        "c=('Asia/Shanghai', 'Asia/Tokyo', 'Europe/Berlin', 'not a zone');"
        'd=["zh-CN","ja-JP"];'
    )
    got = [s for _a, _b, s in plain_tables(text, "js")]
    assert got == [
        ("github.com", "gitlab.com", "bitbucket.org"),
        ("Asia/Shanghai", "Asia/Tokyo", "Europe/Berlin", "not a zone"),
    ]
    lines = "x\nubuntu\nkylin\nuos\nfoo bar\n"
    assert [s for _a, _b, s in plain_tables(lines, "binary-strings")] == []
    lines = "x\napi.a.cn\napi.b.cn\napi.c.cn\nfoo bar\n"
    assert [s for _a, _b, s in plain_tables(lines, "binary-strings")] == [
        ("api.a.cn", "api.b.cn", "api.c.cn")
    ]


def test_hostile_inputs_are_notes_not_tracebacks(tmp_path: Path) -> None:
    (tmp_path / "garbage.bin").write_bytes(b"\x7fELF" + os.urandom(300_000))
    (tmp_path / "garbage.js").write_bytes(os.urandom(100_000))
    bomb = b64(zlib.compress(b"\0" * (40 << 20), 9))
    (tmp_path / "bomb.js").write_text(f'var x="{bomb}";')
    nested = b"api.deep.cn,api.deeper.cn,api.deepest.cn"
    for _ in range(12):
        nested = base64.b64encode(nested)
    (tmp_path / "deep.js").write_text(f'var y="{nested.decode()}";')
    (tmp_path / "cut.tar.gz").write_bytes(b"\x1f\x8b\x08\x00" + os.urandom(500))
    (tmp_path / "empty.js").write_text("")
    r = scan(str(tmp_path))
    assert any("bomb" in n for n in r.notes)
    assert any("cut.tar.gz" in n for n in r.notes)
    assert {f.path for f in r.files} >= {"garbage.bin", "garbage.js", "bomb.js", "deep.js"}


def test_time_limit(tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"f{i}.js").write_text(BUNDLE + f"//{i}")
    r = scan(str(tmp_path), max_seconds=0.0001)
    assert any("time limit" in n for n in r.notes)


def test_budget_factory_and_progress(tmp_path: Path) -> None:
    (tmp_path / "a.js").write_text(BUNDLE)
    events: list[str] = []
    made: list[Budget] = []

    def budget() -> Budget:
        made.append(Budget(max_candidates=1))
        return made[-1]

    r = scan(str(tmp_path), budget=budget, progress=lambda e, info: events.append(e))
    assert made and made[0].candidates <= 1
    assert events[0] == "file" and "piece" in events and events[-1] == "done"
    assert any("decoding stopped early" in n for n in r.notes)


def test_empty_directory(tmp_path: Path) -> None:
    r = scan(str(tmp_path))
    assert r.files == () and r.tables == () and r.reads == ()


def _render(report: ScanReport) -> str:
    buf = io.StringIO()
    Console(file=buf, width=160, color_system=None).print(render_scan(report))
    return buf.getvalue()


def test_presenters(tmp_path: Path) -> None:
    (tmp_path / "cli.js").write_text(BUNDLE)
    r = scan(str(tmp_path / "cli.js"))
    out = _render(r)
    assert "base64 → xor:5a" in out and "Asia/Shanghai" in out
    assert "⟦U+0430 CYRILLIC SMALL LETTER A⟧" in out
    assert "U+200B ZERO WIDTH SPACE" in out
    assert "ANTHROPIC_BASE_URL" in out
    assert "\u200b" not in out  # nothing hidden reaches the terminal unmarked
    html = render_scan_html(r)
    assert html.startswith("<!DOCTYPE html>") and "Content-Security-Policy" in html
    assert "api.deepseek.com" in html and "U+0430" in html
    assert "<script>" in html and "http://" not in html.split("<main", 1)[0]
    section = str(scan_section(r, anchor="s2"))
    assert 'id="s2-tables"' in section


def test_presenter_of_an_empty_report() -> None:
    r = ScanReport(target="nothing", seconds=0.1)
    out = _render(r)
    assert "0 files" in out and "no environment read" in out
    assert "None found." in render_scan_html(r)


def test_speed_of_a_large_text(tmp_path: Path) -> None:
    """A 4 MB minified bundle: well inside the 5 s per 10 MB target."""
    chunk = BUNDLE + 'function f(a){return a.map(x=>x*2).filter(Boolean).join(",")}' * 50
    (tmp_path / "big.js").write_text(chunk * (4_000_000 // len(chunk)))
    started = time.monotonic()
    r = scan(str(tmp_path / "big.js"))
    assert time.monotonic() - started < 15
    assert r.tables
