"""discover.sources: targets into texts, every container format, bounds, hostile files.

The builders at the top make single-file executables with the real layouts (Bun's
standalone module graph in an ELF ``.bun`` section or appended with its length;
a Node SEA blob in an ELF note named ``NODE_SEA_BLOB``, from ``node
--experimental-sea-config`` when a node is installed; a vercel/pkg payload with its
prelude). The integration tests import them.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import py_compile
import shutil
import struct
import subprocess
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from promptwitness.discover.sources import (
    BUN_TRAILER,
    PKG_PRELUDE,
    Limits,
    Sources,
    StringsExtractor,
    Target,
    category_of,
    parse_bun_graph,
    parse_pkg_prelude,
    parse_sea_blob,
    pyc_text,
    pyc_text_isolated,
    resolve_target,
)
from promptwitness.errors import UsageError

# ------------------------------------------------------------------ builders


def bun_graph(
    modules: list[tuple[str, bytes]], *, entry: int = 0, argv: bytes = b"", entry_size: int = 52
) -> bytes:
    """A Bun standalone module graph as ``StandaloneModuleGraph.toBytes`` lays it out:
    NUL-terminated names and contents, the module table (``entry_size`` bytes per
    module: name, contents, sourcemap, bytecode pointers, more pointers in newer
    releases, then encoding, loader, module format, side), the exec argv, the 32-byte
    ``Offsets`` and the trailer."""
    out = bytearray()
    table = bytearray()
    for name, contents in modules:
        name_off = len(out)
        out += name.encode() + b"\0"
        c_off = len(out)
        out += contents + b"\0"
        loader = 1 if name.endswith(".js") else 5
        entry_bytes = struct.pack("<IIII", name_off, len(name.encode()), c_off, len(contents))
        entry_bytes += b"\0" * (entry_size - 16 - 4) + bytes([1, loader, 1, 0])
        table += entry_bytes
    mod_off = len(out)
    out += table
    argv_off = len(out)
    out += argv + b"\0"
    offsets = struct.pack("<QIIIIII", len(out), mod_off, len(table), entry, argv_off, len(argv), 0)
    return bytes(out + offsets + BUN_TRAILER)


def elf(
    sections: list[tuple[str, int, bytes]] = (), notes: bytes = b"", body: bytes = b"\x90" * 256
) -> bytes:
    """A minimal 64-bit little-endian ELF: ``body`` (fake code), each section
    ``(name, sh_type, data)`` and, when ``notes`` is given, one PT_NOTE segment
    holding them; section headers at the end."""
    head_size, ph_size = 64, 56
    phnum = 1 if notes else 0
    data = bytearray(b"\0" * (head_size + ph_size * phnum))
    data += body
    placed: list[tuple[str, int, int, int]] = []
    note_at = 0
    if notes:
        note_at = len(data)
        data += notes
    for name, sh_type, payload in sections:
        while len(data) % 16:
            data += b"\0"
        placed.append((name, sh_type, len(data), len(payload)))
        data += payload
    names = b"\0" + b"".join(n.encode() + b"\0" for n, _t, _o, _s in placed) + b".shstrtab\0"
    shstr_at = len(data)
    data += names
    while len(data) % 8:
        data += b"\0"
    shoff = len(data)
    shdrs = bytearray(b"\0" * 64)
    name_pos = 1
    for name, sh_type, off, size in placed:
        shdrs += struct.pack("<IIQQQQIIQQ", name_pos, sh_type, 3, 0, off, size, 0, 0, 16, 0)
        name_pos += len(name) + 1
    shdrs += struct.pack("<IIQQQQIIQQ", name_pos, 3, 0, 0, shstr_at, len(names), 0, 0, 1, 0)
    data += shdrs
    shnum = len(placed) + 2
    header = (
        b"\x7fELF"
        + bytes([2, 1, 1, 0])
        + b"\0" * 8
        + struct.pack(
            "<HHIQQQIHHHHHH",
            2,
            62,
            1,
            0,
            head_size if phnum else 0,
            shoff,
            0,
            head_size,
            ph_size,
            phnum,
            64,
            shnum,
            shnum - 1,
        )
    )
    data[:64] = header
    if notes:
        data[64 : 64 + ph_size] = struct.pack(
            "<IIQQQQQQ", 4, 4, note_at, 0, 0, len(notes), len(notes), 4
        )
    return bytes(data)


def bun_elf(graph: bytes, body: bytes = b"\x90" * 256) -> bytes:
    """An ELF with the graph in a ``.bun`` section: a u64 length, then the graph."""
    return elf([(".bun", 1, struct.pack("<Q", len(graph)) + graph)], body=body)


def bun_appended(graph: bytes, runtime: bytes = b"\x7fELF" + b"\0" * 4092) -> bytes:
    """The older layout: runtime, graph, then the u64 total byte count."""
    data = runtime + graph
    return data + struct.pack("<Q", len(data) + 8)


def sea_blob(code: bytes, path: str = "main.js", tmp: Path | None = None) -> bytes:
    """A Node SEA preparation blob: the real one when a node that can build it is
    installed, else the same layout by hand (magic, flags, code path, code)."""
    node = shutil.which("node")
    if node and tmp is not None:
        tmp.mkdir(parents=True, exist_ok=True)
        (tmp / path).write_bytes(code)
        (tmp / "sea.json").write_text(
            json.dumps({"main": path, "output": "sea.blob", "disableExperimentalSEAWarning": True})
        )
        run = subprocess.run(
            [node, "--experimental-sea-config", "sea.json"],
            cwd=tmp,
            capture_output=True,
            timeout=60,
        )
        if run.returncode == 0 and (tmp / "sea.blob").exists():
            return (tmp / "sea.blob").read_bytes()
    p = path.encode()
    return (
        struct.pack("<II", 0x0143DA20, 1)
        + struct.pack("<Q", len(p))
        + p
        + struct.pack("<Q", len(code))
        + code
    )


def sea_elf(blob: bytes) -> bytes:
    """An ELF with the blob as the descriptor of a note named NODE_SEA_BLOB (what
    postject adds to a node binary on Linux)."""
    name = b"NODE_SEA_BLOB\0"
    note = struct.pack("<III", len(name), len(blob), 0x1EA1E2AD) + name
    note += b"\0" * (-len(name) % 4) + blob + b"\0" * (-len(blob) % 4)
    return elf(notes=note)


def pkg_executable(
    files: dict[str, bytes], *, compress: int = 0, runtime: bytes = b"\x7fELF" + b"\0" * 8188
) -> bytes:
    """A vercel/pkg executable: runtime, payload stripes (STORE_CONTENT and
    STORE_STAT for each file), prelude with the virtual file system as JSON."""
    payload = bytearray()
    vfs: dict[str, dict[str, list[int]]] = {}
    for path, content in files.items():
        body = gzip.compress(content) if compress == 1 else content
        vfs[path] = {"1": [len(payload), len(body)]}
        payload += body
        stat = json.dumps({"mode": 33188, "size": len(content)}).encode()
        vfs[path]["3"] = [len(payload), len(stat)]
        payload += stat
    prelude = (
        PKG_PRELUDE.decode() + "return (function (REQUIRE_COMMON, VIRTUAL_FILESYSTEM, "
        "DEFAULT_ENTRYPOINT, SYMLINKS, DICT, DOCOMPRESS) {\n  var x = 1;\n"
        "})(function (exports) {\nvar common = 2;\n},\n"
        + json.dumps(vfs)
        + "\n,\n"
        + json.dumps(next(iter(files), ""))
        + "\n,\n{}\n,\n{}\n,\n"
        + str(compress)
        + "\n);\n})"
    )
    return runtime + bytes(payload) + prelude.encode()


def texts(target: str | Path | Target, **kw: object) -> tuple[Sources, list[tuple[str, str, str]]]:
    src = Sources(target if isinstance(target, Target) else str(target), **kw)  # type: ignore[arg-type]
    return src, [(p.name, p.format, p.text) for p in src]


# ------------------------------------------------------------------ categories


@pytest.mark.parametrize(
    ("name", "head", "cat"),
    [
        ("cli.js", b"", "js"),
        ("x.mjs", b"", "js"),
        ("a.cjs", b"", "js"),
        ("b.tsx", b"", "js"),
        ("types.d.ts", b"", "other"),
        ("p.json", b"", "json"),
        ("m.py", b"", "python"),
        ("m.cpython-311.pyc", b"", "pyc"),
        ("a.whl", b"", "archive"),
        ("a.tar.gz", b"", "archive"),
        ("logo.png", b"\x89PNG", "image"),
        ("f.woff2", b"", "font"),
        ("x.js.map", b"", "source map"),
        ("lib.so", b"", "binary"),
        ("agent", b"\x7fELF\x02", "binary"),
        ("run", b"#!/usr/bin/env node\n", "js"),
        ("tool", b"#!/usr/bin/python3\n", "python"),
        ("README", b"hello", "other"),
        ("weird.js", b"\x7fELF", "binary"),
    ],
)
def test_category(name: str, head: bytes, cat: str) -> None:
    assert category_of(name, head) == cat


# ------------------------------------------------------------------ strings


def test_strings_ascii_utf16_and_utf8_inside_runs() -> None:
    data = (
        b"\0\x01abc\0"
        + b"long enough string\0\0"
        + "wide text".encode("utf-16-le")
        + b"\0\0\xff"
        + "Don\u2019t stop\u200b here".encode()
        + b"\x02"
    )
    got = StringsExtractor(6).feed(data, final=True)
    strings = [s for _o, s in got]
    assert "abc" not in strings
    assert "long enough string" in strings
    assert "wide text" in strings
    assert "Don\u2019t stop\u200b here" in strings
    offsets = dict((s, o) for o, s in got)
    assert data[offsets["long enough string"] :].startswith(b"long enough string")


def test_strings_across_chunk_boundaries() -> None:
    data = b"\0" * 100 + b"A" * 50 + b"needle-in-the-middle" + b"\0" * 100
    for cut in range(90, 190, 7):
        ex = StringsExtractor(6)
        got = ex.feed(data[:cut]) + ex.feed(data[cut:], final=True)
        assert [s for _o, s in got] == ["A" * 50 + "needle-in-the-middle"], cut
        assert got[0][0] == 100


def test_binary_strings_locations_are_file_offsets(tmp_path: Path) -> None:
    f = tmp_path / "blob.bin"
    f.write_bytes(b"\x7fELF" + b"\0" * 5000 + b"SECRET_HOST_NAME\0" + b"\0" * 10)
    src = Sources(str(f))
    pieces = list(src)
    assert pieces and pieces[0].format == "binary-strings"
    p = pieces[0]
    i = p.text.index("SECRET_HOST_NAME")
    assert p.location(i).offset == 5004
    assert p.location(i + 3).offset == 5007


def test_strings_pieces_bounded(tmp_path: Path) -> None:
    f = tmp_path / "big.bin"
    f.write_bytes(b"\x7fELF" + b"".join(b"string number %06d\0" % i for i in range(20000)))
    src = Sources(str(f), limits=Limits(piece_chars=64 * 1024, chunk=128 * 1024))
    pieces = list(src)
    assert len(pieces) > 3
    assert all(len(p.text) < 70 * 1024 for p in pieces)
    assert sum(p.text.count("string number") for p in pieces) == 20000
    assert len(src.files) == 1


# ------------------------------------------------------------------ .pyc


def test_pyc_constants_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    src = tmp_path / "m.py"
    src.write_text(
        "import os\n"
        f"open({str(marker)!r}, 'w').write('x')\n"
        "HOSTS = ('api.deepseek.com', 'api.moonshot.cn')\n"
        "def f():\n    return os.environ.get('SECRET_REGION', 'b\\u200bc')\n"
    )
    pyc = tmp_path / "m.pyc"
    py_compile.compile(str(src), cfile=str(pyc))
    text = pyc_text(pyc.read_bytes())
    assert text is not None
    assert not marker.exists()
    assert "'api.deepseek.com'" in text and "'SECRET_REGION'" in text
    assert "'b\\u200bc'" in text
    assert "names: os environ get" in text


def test_pyc_other_version_or_garbage_is_none() -> None:
    assert pyc_text(b"") is None
    assert pyc_text(b"\x00\x01\x02\x03" + b"\0" * 40) is None
    import importlib.util

    magic = importlib.util.MAGIC_NUMBER
    assert pyc_text(magic + b"\0" * 12 + b"\xff\xfe garbage") is None
    assert pyc_text(magic + b"\0" * 12 + b"N") is None  # marshal of None: not code


def test_pyc_is_unmarshalled_in_a_child_that_may_die(tmp_path: Path) -> None:
    """``marshal`` is not safe against hostile data: the scan unmarshals in a child
    process with limited memory and CPU, and a child that dies, hangs or finds no code
    gives a reason, never a crash of the scan."""
    src = tmp_path / "m.py"
    src.write_text("HOSTS = ('api.deepseek.com',)\n")
    pyc = tmp_path / "m.pyc"
    py_compile.compile(str(src), cfile=str(pyc))
    text, why = pyc_text_isolated(pyc.read_bytes())
    assert why == "" and text is not None and "'api.deepseek.com'" in text
    assert pyc_text_isolated(b"garbage") == (None, "not a .pyc of this Python")
    text, why = pyc_text_isolated(pyc.read_bytes(), timeout=0.001)
    assert text is None and "too long" in why
    import importlib.util

    # a list of 2**31 - 1 items: the child runs out of its address space, not the scan
    bomb = importlib.util.MAGIC_NUMBER + b"\0" * 12 + b"[" + b"\xff\xff\xff\x7f"
    text, why = pyc_text_isolated(bomb)
    assert text is None and why


def test_pyc_with_source_is_skipped_in_a_directory(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "a.py").write_text("X = 'one'\n")
    py_compile.compile(str(pkg / "a.py"), cfile=str(pkg / "__pycache__" / "a.cpython-311.pyc"))
    (pkg / "b.py").write_text("Y = 'two'\n")
    py_compile.compile(str(pkg / "b.py"), cfile=str(pkg / "__pycache__" / "b.cpython-311.pyc"))
    (pkg / "b.py").unlink()
    src, got = texts(tmp_path)
    names = {n: f for n, f, _t in got}
    assert names == {"pkg/a.py": "python", "pkg/__pycache__/b.cpython-311.pyc": "python-bytecode"}


# ------------------------------------------------------------------ Bun


MODULES = [
    ("/$bunfs/root/index.js", b'console.log(process.env.HIDDEN_REGION, "api.example.cn")'),
    ("/$bunfs/root/chunk-a1.js", b"export const a = 1;"),
    ("/$bunfs/root/logo.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 50),
    ("/$bunfs/root/tree.so", b"\x7fELF" + b"\0" * 100 + b"NATIVE_STRING_HERE\0"),
]


@pytest.mark.parametrize("entry_size", [36, 52, 60])
def test_parse_bun_graph_entry_sizes(entry_size: int) -> None:
    graph = bun_graph(MODULES, entry_size=entry_size, argv=b"--smol")
    at = len(graph) - len(BUN_TRAILER)
    got = parse_bun_graph(lambda o, n: graph[o : o + n] if o >= 0 else b"", at)
    assert got is not None
    modules, entry, argv = got
    assert [m.name for m in modules] == [n for n, _ in MODULES]
    assert entry == "/$bunfs/root/index.js" and argv == "--smol"
    m = modules[0]
    assert graph[m.offset : m.offset + m.size] == MODULES[0][1]


def test_parse_bun_graph_rejects_nonsense() -> None:
    junk = b"\xff" * 64 + BUN_TRAILER
    assert (
        parse_bun_graph(
            lambda o, n: junk[o : o + n] if o >= 0 else b"", len(junk) - len(BUN_TRAILER)
        )
        is None
    )
    short = BUN_TRAILER
    assert parse_bun_graph(lambda o, n: short[o : o + n] if o >= 0 else b"", 0) is None


@pytest.mark.parametrize("layout", ["section", "appended"])
def test_bun_executable(tmp_path: Path, layout: str) -> None:
    graph = bun_graph(MODULES, argv=b"--user-agent=x/1")
    exe = tmp_path / "agent"
    exe.write_bytes(bun_elf(graph) if layout == "section" else bun_appended(graph))
    src, got = texts(exe)
    outer = src.files[0]
    assert outer.format == "bun-executable"
    assert "4 embedded" in outer.note and "--user-agent=x/1" in outer.note
    by_name = {n: (f, t) for n, f, t in got}
    assert by_name["agent!/$bunfs/root/index.js"][0] == "js"
    assert "HIDDEN_REGION" in by_name["agent!/$bunfs/root/index.js"][1]
    assert "agent!/$bunfs/root/logo.png" not in by_name  # an asset
    assert "NATIVE_STRING_HERE" in by_name["agent!/$bunfs/root/tree.so"][1]


def test_bun_trailer_found_by_search(tmp_path: Path) -> None:
    """A layout neither in a ``.bun`` section nor at the end: the trailer is searched."""
    graph = bun_graph(MODULES[:2])
    exe = tmp_path / "agent"
    exe.write_bytes(b"\x7fELF" + b"\0" * 70_000 + graph + b"\0" * 4096 + b"signature")
    src, got = texts(exe)
    assert src.files[0].format == "bun-executable"
    assert any("HIDDEN_REGION" in t for _n, _f, t in got)


def test_identical_modules_scanned_once(tmp_path: Path) -> None:
    graph = bun_graph(MODULES[:2])
    (tmp_path / "a").write_bytes(bun_elf(graph))
    (tmp_path / "b").write_bytes(bun_elf(graph, body=b"\xcc" * 300))  # another build
    src, got = texts(tmp_path)
    assert sum(1 for _n, _f, t in got if "HIDDEN_REGION" in t) == 1
    assert any("duplicate" in n for n in src.notes)


# ------------------------------------------------------------------ Node SEA


def test_sea_blob_layout(tmp_path: Path) -> None:
    code = b'const h = process.env.SEA_ONLY_VAR; fetch("https://api.example.cn")'
    blob = sea_blob(code, tmp=tmp_path / "build")
    got = parse_sea_blob(lambda o, n: blob[o : o + n] if o >= 0 else b"", 0, len(blob))
    assert got is not None
    entries, flags = got
    assert entries[0].name == "main.js"
    assert blob[entries[0].offset : entries[0].offset + entries[0].size] == code
    assert not flags & 2


def test_sea_executable(tmp_path: Path) -> None:
    code = b"const h = process.env.SEA_ONLY_VAR;"
    exe = tmp_path / "sea-agent"
    exe.write_bytes(sea_elf(sea_blob(code, tmp=tmp_path / "build")))
    src, got = texts(exe)
    assert src.files[0].format == "node-sea"
    assert got[0][0] == "sea-agent!main.js" and "SEA_ONLY_VAR" in got[0][2]


def test_sea_old_layout_without_code_path() -> None:
    code = b"console.log(1)"
    blob = struct.pack("<II", 0x0143DA20, 0) + struct.pack("<Q", len(code)) + code
    got = parse_sea_blob(lambda o, n: blob[o : o + n] if o >= 0 else b"", 0, len(blob))
    assert got is not None and got[0][0].name == "main.js"
    assert blob[got[0][0].offset :][: got[0][0].size] == code


# ------------------------------------------------------------------ pkg


@pytest.mark.parametrize("compress", [0, 1])
def test_pkg_executable(tmp_path: Path, compress: int) -> None:
    files = {
        "/snapshot/app/index.js": b"module.exports = process.env.PKG_HIDDEN;",
        "/snapshot/app/package.json": b'{"name": "app"}',
    }
    exe = tmp_path / "app"
    exe.write_bytes(pkg_executable(files, compress=compress))
    src, got = texts(exe)
    assert src.files[0].format == "pkg-executable"
    by = {n: t for n, _f, t in got}
    assert "PKG_HIDDEN" in by["app!/snapshot/app/index.js"]
    assert '"app"' in by["app!/snapshot/app/package.json"]


def test_pkg_prelude_parse() -> None:
    exe = pkg_executable({"/snapshot/a.js": b"x"})
    prelude = exe[exe.index(PKG_PRELUDE) :].decode()
    got = parse_pkg_prelude(prelude)
    assert got is not None
    vfs, words, compress = got
    assert vfs["/snapshot/a.js"]["1"] == [0, 1] and compress == 0 and words == {}
    assert parse_pkg_prelude("nothing here") is None


# ------------------------------------------------------------------ archives


def test_zip_and_tar_members(tmp_path: Path) -> None:
    z = tmp_path / "pkg.whl"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("pkg/mod.py", "import os\nos.getenv('ZIP_VAR')\n")
        zf.writestr("pkg/logo.png", b"\x89PNG")
    t = tmp_path / "pkg.tgz"
    with tarfile.open(t, "w:gz") as tf:
        data = b"process.env.TAR_VAR"
        info = tarfile.TarInfo("package/index.js")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    src, got = texts(tmp_path)
    by = {n: t for n, _f, t in got}
    assert "ZIP_VAR" in by["pkg.whl!pkg/mod.py"]
    assert "TAR_VAR" in by["pkg.tgz!package/index.js"]


def test_truncated_archive_is_a_note(tmp_path: Path) -> None:
    t = tmp_path / "cut.tar.gz"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for i in range(30):
            data = os.urandom(2000)
            info = tarfile.TarInfo(f"f{i}.js")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    t.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    src, _got = texts(t)
    assert any("truncated" in n for n in src.notes)


# ------------------------------------------------------------------ walking and bounds


def test_fifo_devices_and_outside_links_are_not_read(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    os.mkfifo(root / "pipe.js")
    outside = tmp_path / "secret.js"
    outside.write_text("process.env.OUTSIDE")
    (root / "link.js").symlink_to(outside)
    (root / "ok.js").write_text("process.env.INSIDE")
    (root / "hard.js").hardlink_to(root / "ok.js")
    start = time.monotonic()
    src, got = texts(root)
    assert time.monotonic() - start < 10  # the FIFO never blocked
    assert [n for n, _f, _t in got] in (["hard.js"], ["ok.js"])
    assert src.skipped["not a regular file"] == 1
    assert src.skipped["link leading outside the target"] == 1


def test_assets_skipped_unless_all_strings(tmp_path: Path) -> None:
    (tmp_path / "img.png").write_bytes(b"\x89PNG\r\n" + b"hidden-in-png-text\0")
    (tmp_path / "a.js").write_text("1")
    src, got = texts(tmp_path)
    assert [n for n, _f, _t in got] == ["a.js"]
    assert any("1 image" in n for n in src.notes)
    src, got = texts(tmp_path, limits=Limits(all_strings=True))
    assert any("hidden-in-png-text" in t for _n, _f, t in got)


def test_size_bound_note(tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"f{i}.js").write_text(str(i) * 1000)
    src, got = texts(tmp_path, limits=Limits(max_bytes=2500))
    assert len(got) == 3
    assert any("size bound" in n for n in src.notes)
    assert any("not scanned (2 files)" in n for n in src.notes)


def test_deadline_note(tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"f{i}.js").write_text("x")
    src, got = texts(tmp_path, deadline=time.monotonic() - 1)
    assert got == []
    assert any("time limit" in n for n in src.notes)


def test_large_text_read_in_windows(tmp_path: Path) -> None:
    f = tmp_path / "big.js"
    f.write_text("a" * 300_000 + "process.env.FAR_AWAY" + "b" * 10)
    src, got = texts(f, limits=Limits(text_window=128 * 1024))
    assert len(got) >= 3
    assert any("FAR_AWAY" in t for _n, _f, t in got)
    assert "windows" in src.files[0].note


def test_garbage_with_a_code_extension(tmp_path: Path) -> None:
    f = tmp_path / "evil.js"
    f.write_bytes(os.urandom(50_000) + b"\0readable string inside\0")
    src, got = texts(f)
    assert src.files[0].format == "binary-strings"
    assert any("readable string inside" in t for _n, _f, t in got)


def test_bom_dropped_and_format(tmp_path: Path) -> None:
    (tmp_path / "a.js").write_bytes(b"\xef\xbb\xbfconst a = 1;\n")
    (tmp_path / "min.js").write_text("x" * 5000)
    _src, got = texts(tmp_path)
    by = {n: (f, t) for n, f, t in got}
    assert by["a.js"] == ("js", "const a = 1;\n")
    assert by["min.js"][0] == "js-bundle"


# ------------------------------------------------------------------ targets


def test_missing_target() -> None:
    with pytest.raises(UsageError, match="no such file"):
        resolve_target("/no/such/path/at/all")
    with pytest.raises(UsageError):
        resolve_target("")


def test_agent_at_version_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTWITNESS_AGENT_CACHE", str(tmp_path))
    root = tmp_path / "claude-code" / "9.9.9"
    pkg = root / "node_modules" / "@anthropic-ai" / "claude-code"
    pkg.mkdir(parents=True)
    (pkg / "cli.js").write_text("process.env.FROM_CACHE")
    (root / "node_modules" / "dep.js").write_text("process.env.DEP")
    (root / ".complete").write_text("{}")
    t = resolve_target("claude-code@9.9.9")
    assert t.agent == ("claude-code", "9.9.9") and t.path == root
    src, got = texts(t)
    assert got[0][0] == "node_modules/@anthropic-ai/claude-code/cli.js"  # its package first
    assert resolve_target("claude-code").path == root  # the newest cached version
    with pytest.raises(UsageError, match="not in the agent cache"):
        resolve_target("claude-code@1.0.0")
    with pytest.raises(UsageError, match="unknown agent"):
        resolve_target("nosuchagent@1.0")


def test_target_of_files(tmp_path: Path) -> None:
    a = tmp_path / "a.py"
    a.write_text("import os; os.getenv('A')")
    src, got = texts(Target.of_files("-- python a.py", [a, tmp_path / "gone.js"]))
    assert [n for n, _f, _t in got] == [str(a)]
    assert any("no longer exists" in n for n in src.notes)
