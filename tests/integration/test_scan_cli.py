"""``promptwitness scan`` as a user runs it (a subprocess) on synthetic targets: a
minified bundle with hidden tables, a directory, single-file executables built with
the real container layouts, a Python package with a .pyc, garbage, a truncated
archive, a decode bomb, an empty directory, a missing path, bad arguments."""

from __future__ import annotations

import base64
import io
import json
import os
import py_compile
import subprocess
import sys
import tarfile
import zlib
from pathlib import Path
from typing import Any

from tests.unit.discover.test_sources import (
    bun_elf,
    bun_graph,
    pkg_executable,
    sea_blob,
    sea_elf,
)

HIDDEN = base64.b64encode(b"api.deepseek.com,api.moonshot.cn,open.bigmodel.cn").decode()
XORED = base64.b64encode(
    bytes(b ^ 0x5A for b in b"Asia/Shanghai,Asia/Urumqi,Asia/Hong_Kong")
).decode()
MINIFIED = (
    "(()=>{"
    + "var a=1,b=2;function c(d){return d+a*b}" * 300
    + f'var T="{HIDDEN}",k=90,Z="{XORED}";Z.split("").map(c=>c.charCodeAt(0)^k);'
    'const H=["api.example.cn",".corp.example.cn","gw.example.com.cn"];'
    'if(Intl.DateTimeFormat().resolvedOptions().timeZone==="Asia/Shanghai")p="p\u0430ypal\\u200b";'
    "let{AGENT_REGION:r}=process.env;})();"
)


def pw(
    *args: str, cwd: Path | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "promptwitness", "scan", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


def scan_json(
    target: Path | str, *extra: str
) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    tmp = Path(os.environ.get("TMPDIR", "/tmp"))
    out = tmp / f"scan-{os.getpid()}-{abs(hash(str(target)))}.json"
    run = pw(str(target), "--json", str(out), *extra)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    doc = json.loads(out.read_text())
    out.unlink()
    return doc, run


def test_minified_bundle(tmp_path: Path) -> None:
    f = tmp_path / "cli.js"
    f.write_text(MINIFIED)
    html = tmp_path / "report.html"
    doc, run = scan_json(f, "--html", str(html))
    assert doc["schema"] == "promptwitness/scan-report/v1"
    assert doc["files"] == [{"path": "cli.js", "format": "js-bundle", "size": f.stat().st_size}]
    tables = {tuple(t["encoding"]): t for t in doc["tables"]}
    assert tables[("base64",)]["strings"][0] == "api.deepseek.com"
    assert tables[("base64", "xor:5a")]["kinds"] == ["zone"]
    assert ("plain",) in tables
    assert [x["code_points"] for x in doc["lookalikes"]] == [["U+0430", "U+200B"]]
    reads = {(r["kind"], r["name"]) for r in doc["reads"]}
    assert ("env", "AGENT_REGION") in reads
    assert ("zone", "Intl.DateTimeFormat().resolvedOptions().timeZone") in reads
    # the terminal summary
    assert "string tables" in run.stdout and "base64 → xor:5a" in run.stdout
    assert "⟦U+0430 CYRILLIC SMALL LETTER A⟧" in run.stdout
    assert html.read_text().startswith("<!DOCTYPE html>")


def test_json_to_stdout(tmp_path: Path) -> None:
    f = tmp_path / "a.js"
    f.write_text("process.env.ONE_VAR")
    run = pw(str(f), "--json", "-")
    assert run.returncode == 0
    doc = json.loads(run.stdout)
    assert doc["reads"][0]["name"] == "ONE_VAR"
    assert "environment reads" in run.stderr  # the summary moved to standard error


def test_directory_and_python_package(tmp_path: Path) -> None:
    pkg = tmp_path / "agent" / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("import os\nREGION = os.getenv('PY_REGION')\n")
    hidden = tmp_path / "hidden.py"
    hidden.write_text(
        "import os, socket\n"
        "def f():\n    return os.environ.get('PYC_ONLY_VAR'), socket.gethostname()\n"
        f"T = '{HIDDEN}'\n"
    )
    py_compile.compile(str(hidden), cfile=str(pkg / "hidden.pyc"))
    (tmp_path / "agent" / "config.json").write_text(
        '{"hosts": ["api.example.cn", "api.example.com.cn", "open.example.cn"]}'
    )
    (tmp_path / "agent" / "icon.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    doc, run = scan_json(tmp_path / "agent")
    formats = {f["path"]: f["format"] for f in doc["files"]}
    assert formats == {
        "pkg/__init__.py": "python",
        "pkg/hidden.pyc": "python-bytecode",
        "config.json": "json",
    }
    reads = {(r["kind"], r["name"]) for r in doc["reads"]}
    assert {
        ("env", "PY_REGION"),
        ("env", "PYC_ONLY_VAR"),
        ("hostname", "socket.gethostname()"),
    } <= reads
    assert any(t["encoding"] == ["base64"] for t in doc["tables"])
    assert any("1 image" in n for n in doc["notes"])


def test_bun_executable(tmp_path: Path) -> None:
    modules = [
        ("/$bunfs/root/src/index.js", MINIFIED.encode()),
        ("/$bunfs/root/font.woff2", b"wOF2" + b"\0" * 40),
    ]
    exe = tmp_path / "opencode"
    exe.write_bytes(bun_elf(bun_graph(modules, argv=b"--use-system-ca")))
    doc, run = scan_json(exe)
    assert doc["files"][0]["format"] == "bun-executable"
    assert doc["files"][1]["path"] == "opencode!/$bunfs/root/src/index.js"
    table = next(t for t in doc["tables"] if t["encoding"] == ["base64"])
    assert table["location"]["file"] == "opencode!/$bunfs/root/src/index.js"
    assert any(r["name"] == "AGENT_REGION" for r in doc["reads"])


def test_sea_and_pkg_executables(tmp_path: Path) -> None:
    sea = tmp_path / "sea-agent"
    sea.write_bytes(sea_elf(sea_blob(MINIFIED.encode(), tmp=tmp_path / "build")))
    doc, _run = scan_json(sea)
    assert doc["files"][0]["format"] == "node-sea"
    assert any(t["encoding"] == ["base64", "xor:5a"] for t in doc["tables"])
    pkg = tmp_path / "pkg-agent"
    pkg.write_bytes(pkg_executable({"/snapshot/app/index.js": MINIFIED.encode()}, compress=1))
    doc, _run = scan_json(pkg)
    assert doc["files"][0]["format"] == "pkg-executable"
    assert any(r["name"] == "AGENT_REGION" for r in doc["reads"])


def test_garbage_truncated_archive_and_decode_bomb(tmp_path: Path) -> None:
    (tmp_path / "garbage").write_bytes(b"\x7fELF" + os.urandom(3 << 20))
    (tmp_path / "garbage.js").write_bytes(os.urandom(200_000))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for i in range(20):
            data = os.urandom(4000)
            info = tarfile.TarInfo(f"package/f{i}.js")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    (tmp_path / "cut.tgz").write_bytes(buf.getvalue()[:3000])
    bomb = base64.b64encode(zlib.compress(b"\0" * (64 << 20), 9)).decode()
    (tmp_path / "bomb.js").write_text(f'var x="{bomb}";')
    doc, run = scan_json(tmp_path, "--max-seconds", "120")
    assert any("cut.tgz" in n and "truncated" in n for n in doc["notes"])
    assert any("bomb" in n for n in doc["notes"])
    assert "Traceback" not in run.stderr


def test_empty_directory(tmp_path: Path) -> None:
    doc, run = scan_json(tmp_path)
    assert doc["files"] == [] and doc["tables"] == [] and doc["reads"] == []
    assert "0 files" in run.stdout


def test_errors_exit_2(tmp_path: Path) -> None:
    run = pw(str(tmp_path / "does-not-exist"))
    assert run.returncode == 2
    assert "error: no such file or directory" in run.stderr and "Traceback" not in run.stderr
    run = pw()
    assert run.returncode == 2 and "error:" in run.stderr
    run = pw("--")
    assert run.returncode == 2 and "no command" in run.stderr
    run = pw(str(tmp_path), "--max-seconds", "0")
    assert run.returncode == 2 and "--max-seconds" in run.stderr
    run = pw("nosuchagent@1.0")
    assert run.returncode == 2 and "unknown agent" in run.stderr
    (tmp_path / "a.js").write_text("1")
    run = pw(str(tmp_path / "a.js"), "--json", str(tmp_path / "no" / "dir" / "x.json"))
    assert run.returncode == 2 and "cannot write" in run.stderr


def test_progress_lines_when_not_a_terminal(tmp_path: Path) -> None:
    """Long work says where it is on standard error even without a terminal."""
    big = tmp_path / "big.bin"
    with big.open("wb") as f:
        f.write(b"\x7fELF")
        for i in range(120):
            f.write(os.urandom(1 << 20) + b"\0some readable string %d\0" % i)
    run = pw(str(big), "--quiet")
    assert run.returncode == 0 and run.stdout == ""
    run = pw(str(big), "--json", str(tmp_path / "o.json"))
    assert run.returncode == 0
    if "scan:" not in run.stderr:  # the scan was faster than one progress interval
        assert json.loads((tmp_path / "o.json").read_text())["seconds"] < 3.5
