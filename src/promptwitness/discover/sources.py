"""Turn a scan TARGET into texts to scan, streaming, in bounded memory (IO edge).

A TARGET is a file, a directory (walked), or ``AGENT@VERSION`` / ``AGENT`` (an
installation in the agent cache, ``agents.cache.version_dir``). :class:`Sources`
yields :class:`Piece` values: ``(name, format, text)`` with the :class:`ScannedFile`
it came from and what maps an index in ``text`` back to a :class:`Location`.

What is read, by file (extension first, then the first bytes):

- JavaScript and TypeScript (``.js .mjs .cjs .jsx .ts .mts .cts .tsx``; ``.d.ts``
  declarations are skipped) as ``js`` or, when minified or large, ``js-bundle``;
  JSON as ``json``; Python source as ``python``; a script without an extension by its
  ``#!`` line. Text that is not UTF-8 (more than 1 % replacement characters, or NUL
  bytes) is read as a binary instead.
- ``.pyc``: the string constants of its code objects, through ``marshal`` (which
  builds objects and never runs code), only when its magic number is the running
  Python's (another version's layout is not parsed: read as a binary instead). The
  text is one line per code object (``# code QUALNAME names: ...``) and one Python
  literal (``repr``) per constant: format ``python-bytecode``. ``marshal`` is not safe
  against hostile data (it can crash the interpreter), so it runs in a child process
  with limited memory and CPU (``discover.pycworker``); a crash is a note and the file
  is read as printable strings. A ``.pyc`` whose source
  ``.py`` is present (``__pycache__``) is skipped.
- Single-file executables whose embedded source can be found:
  ``bun-executable`` (``bun build --compile``: the module graph ends with the
  ``\\n---- Bun! ----\\n`` trailer, after a 32-byte ``Offsets`` record: ``byte_count``
  u64, module table pointer (offset u32, length u32), entry point id u32, exec-argv
  pointer; the graph starts ``byte_count`` bytes before ``Offsets``; each table entry
  starts with the name and contents pointers and ends with four bytes ``encoding,
  loader, module_format, side``; the entry size differs between Bun releases and is
  found by validating every entry. Found in the ELF ``.bun`` section, at the end of
  the file (older layout: graph, then a u64 length) or by a search for the trailer);
  ``node-sea`` (the ``NODE_SEA_BLOB`` ELF note postject adds: magic ``0x0143DA20``,
  flags, then length-prefixed code path, main script (or V8 snapshot), code cache and
  assets); ``pkg-executable`` (vercel/pkg: a prelude ``(function(process, require,
  console, EXECPATH_FD, PAYLOAD_POSITION, PAYLOAD_SIZE) {`` at the end of the file
  with the virtual file system as JSON; the payload, the stripes back to back, ends
  where the prelude starts; sources are ``STORE_CONTENT`` stripes, bytecode is
  ``STORE_BLOB`` and yields its printable strings; gzip/brotli stripes are inflated
  within bounds). Embedded modules are named ``outer!inner``; identical module texts
  (the same source in two builds) are scanned once.
- Any other executable or binary (ELF, PE, Mach-O, wasm, ``.node``, ``.so``...):
  printable strings, ASCII runs of at least 6 (with UTF-8 sequences inside a run
  kept) and UTF-16LE runs of at least 6, read in 16 MiB chunks: format
  ``binary-strings``, one string per line; a location's offset is the string's
  offset in the file.
- Archives (``.zip .whl .jar .tar .tgz .tar.gz .tar.bz2 .tar.xz``): their members by
  the same rules (``archive!member``), one level deep, each member bounded.
- Images, fonts, source maps, audio and video, and other files are skipped (counted
  in a note) unless ``all_strings`` asks for their printable strings; with
  ``all_strings`` the runtime part of a single-file executable is read as strings
  too.

Bounds: ``Limits.max_bytes`` over the whole target (a note says what was left out);
``max_member`` for anything held whole in memory (a larger text is read in windows
of ``text_window`` that overlap by 64 KiB); a ``deadline`` (``time.monotonic``) after
which nothing more is read. Non-regular files (FIFOs, devices) are never opened,
symbolic links that lead outside the target are not followed, and a file reached
twice (hard or symbolic link) is read once. Every problem becomes a note, never an
exception, except a TARGET that does not exist (``UsageError``).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import re
import stat
import struct
import sys
import tarfile
import time
import zipfile
import zlib
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from promptwitness.discover.model import Location, ScannedFile
from promptwitness.errors import UsageError

__all__ = [
    "BUN_TRAILER",
    "Limits",
    "Piece",
    "Sources",
    "StringsExtractor",
    "Target",
    "category_of",
    "parse_bun_graph",
    "parse_pkg_prelude",
    "parse_sea_blob",
    "pyc_text",
    "pyc_text_isolated",
    "resolve_target",
]

Progress = Callable[[str, Mapping[str, Any]], None]

BUN_TRAILER = b"\n---- Bun! ----\n"
BUN_OFFSETS_SIZE = 32
SEA_MAGIC = 0x0143DA20
SEA_NOTE_NAME = b"NODE_SEA_BLOB"
PKG_PRELUDE = (
    b"(function(process, require, console, EXECPATH_FD, PAYLOAD_POSITION, PAYLOAD_SIZE) { "
)
MiB = 1 << 20
_NEWLINE = re.compile("\n")

JS_EXT = frozenset({".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx"})
JSON_EXT = frozenset({".json", ".jsonc", ".json5", ".webmanifest"})
PY_EXT = frozenset({".py", ".pyw"})
BINARY_EXT = frozenset({".node", ".so", ".dylib", ".dll", ".exe", ".wasm", ".bin", ".o", ".a"})
ASSET_EXT = {
    **dict.fromkeys(
        (
            ".png",
            ".jpg",
            ".jpeg",
            ".gif",
            ".webp",
            ".ico",
            ".icns",
            ".bmp",
            ".tif",
            ".tiff",
            ".avif",
            ".svg",
            ".heic",
        ),
        "image",
    ),
    **dict.fromkeys((".ttf", ".otf", ".woff", ".woff2", ".eot"), "font"),
    ".map": "source map",
    **dict.fromkeys(
        (
            ".mp3",
            ".mp4",
            ".m4a",
            ".aac",
            ".wav",
            ".ogg",
            ".oga",
            ".flac",
            ".webm",
            ".mov",
            ".avi",
            ".mkv",
        ),
        "media",
    ),
}
ARCHIVE_SUFFIXES = (
    ".zip",
    ".whl",
    ".jar",
    ".tar",
    ".tgz",
    ".tar.gz",
    ".tar.bz2",
    ".tar.xz",
    ".tbz2",
    ".txz",
)
SKIP_DIRS = frozenset({".git", ".hg", ".svn"})
EXEC_MAGIC = (
    b"\x7fELF",
    b"MZ",
    b"\xcf\xfa\xed\xfe",
    b"\xce\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
    b"\xfe\xed\xfa\xcf",
    b"\xfe\xed\xfa\xce",
    b"\0asm",
)


@dataclass(frozen=True)
class Limits:
    """Bounds of one scan's reading (see the module docstring)."""

    max_bytes: int = 4 << 30
    max_member: int = 64 * MiB
    text_window: int = 32 * MiB
    chunk: int = 16 * MiB
    piece_chars: int = 4 * MiB  # binary strings: characters per piece
    min_string: int = 6
    all_strings: bool = False


@dataclass(frozen=True, eq=False)
class Piece:
    """One text to scan. ``offset`` is where ``text[0]`` is in its file (characters for
    text, bytes for binary strings); ``whole`` says the text is the file from its start
    (line numbers are meaningful); ``positions`` maps string starts in ``text`` to file
    offsets (binary strings)."""

    name: str
    format: str
    text: str
    file: ScannedFile
    offset: int = 0
    whole: bool = True
    positions: tuple[array[int], array[int]] | None = field(default=None, repr=False)
    _newlines: list[array[int]] = field(default_factory=list, repr=False, compare=False)

    def location(self, index: int) -> Location:
        """Where ``text[index]`` is (the string's file offset for binary strings)."""
        index = max(0, min(index, len(self.text)))
        if self.positions is not None:
            starts, offsets = self.positions
            i = bisect.bisect_right(starts, index) - 1
            if i < 0:
                return Location(self.name, self.offset)
            return Location(self.name, offsets[i] + max(0, index - starts[i]))
        if not self.whole:
            return Location(self.name, self.offset + index)
        if not self._newlines:
            self._newlines.append(array("q", (m.start() for m in _NEWLINE.finditer(self.text))))
        line = bisect.bisect_left(self._newlines[0], index) + 1
        return Location(self.name, self.offset + index, line)


@dataclass(frozen=True)
class Target:
    """A resolved TARGET: ``path`` (a file or directory), ``label`` (the name a single
    file's locations use), ``agent`` (name, version) for ``AGENT@VERSION``, ``first``
    (directories walked before the rest: the agent's own package), ``files`` (a list of
    files instead of ``path``: what a traced run loaded, ``Target.of_files``)."""

    spec: str
    path: Path
    label: str
    agent: tuple[str, str] | None = None
    first: tuple[Path, ...] = ()
    files: tuple[Path, ...] = ()

    @classmethod
    def of_files(cls, spec: str, files: Iterable[str | Path]) -> Target:
        """The given files (each named by its path); a missing one is a note."""
        return cls(spec, Path("."), "", files=tuple(Path(f) for f in files))


def resolve_target(spec: str, *, install: bool = False) -> Target:
    """A path that exists wins; else ``AGENT@VERSION`` (installed into the agent cache
    first when ``install``), else ``AGENT`` (its newest cached version). Anything else:
    ``UsageError``."""
    if not spec:
        raise UsageError("empty scan target")
    path = Path(spec).expanduser()
    if os.path.lexists(path):
        if not path.exists():
            raise UsageError(f"{spec}: a symbolic link to nothing")
        return Target(spec, path, path.name if path.is_file() else "")
    from promptwitness.agents.cache import cached_versions, is_cached, version_dir
    from promptwitness.agents.profiles import PROFILES, get_profile

    name, sep, version = spec.rpartition("@") if "@" in spec[1:] else (spec, "", "")
    if not sep:
        if spec not in PROFILES:
            raise UsageError(
                f"no such file or directory: {spec} (nor a known agent; "
                "scan AGENT@VERSION for an agent's installation)"
            )
        cached = cached_versions(spec)
        if not cached:
            raise UsageError(
                f"{spec} is not in the agent cache; name a version: "
                f"promptwitness scan {spec}@VERSION"
            )
        name, version = spec, cached[-1]
    if not version or "/" in version or version in (".", ".."):
        raise UsageError(f"no such file or directory, nor AGENT@VERSION: {spec}")
    profile = get_profile(name)
    if not is_cached(name, version):
        if not install:
            raise UsageError(
                f"{name}@{version} is not in the agent cache "
                f"(promptwitness scan {name}@{version} installs it)"
            )
        from promptwitness.agents.registry import install as install_agent

        install_agent(profile, version)
    root = version_dir(name, version)
    first: list[Path] = []
    if profile.registry == "npm":
        first.append(root / "node_modules" / profile.package)
    else:
        module = profile.package.split("-")[0].replace("-", "_")
        first.extend(sorted((root / "venv").glob(f"lib/python*/site-packages/{module}")))
    return Target(spec, root, "", (name, version), tuple(p for p in first if p.exists()))


# ------------------------------------------------------------------ categories


def _suffix(name: str) -> str:
    base = name.rsplit("/", 1)[-1].lower()
    dot = base.rfind(".")
    return base[dot:] if dot > 0 else ""


def category_of(name: str, head: bytes = b"") -> str:
    """``js``, ``json``, ``python``, ``pyc``, ``archive``, ``binary``, an asset kind
    (``image``, ``font``, ``source map``, ``media``) or ``other``: by the name's
    extension, then by the first bytes (executable magic, ``#!`` line, zip/gzip)."""
    lower = name.lower()
    suffix = _suffix(name)
    if head.startswith(EXEC_MAGIC) and suffix not in ASSET_EXT:
        return "binary"
    if lower.endswith((".d.ts", ".d.mts", ".d.cts")):
        return "other"
    if suffix in JS_EXT:
        return "js"
    if suffix in JSON_EXT:
        return "json"
    if suffix in PY_EXT:
        return "python"
    if suffix == ".pyc":
        return "pyc"
    if lower.endswith(ARCHIVE_SUFFIXES):
        return "archive"
    if suffix in ASSET_EXT:
        return ASSET_EXT[suffix]
    if suffix in BINARY_EXT:
        return "binary"
    if head.startswith(b"#!"):
        line = head.split(b"\n", 1)[0]
        if re.search(rb"\b(?:node|nodejs|bun|deno|tsx|ts-node)\b", line):
            return "js"
        if re.search(rb"\bpython[0-9.]*\b", line):
            return "python"
    if head.startswith(b"PK\x03\x04"):
        return "archive"
    return "other"


# ------------------------------------------------------------------ binary strings

_UTF8_SEQ = rb"(?:[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3})"


class StringsExtractor:
    """Printable strings of a byte stream fed in chunks (like ``strings -n N`` plus
    UTF-16LE): ``feed(data, final)`` returns ``(file offset, string)`` pairs in file
    order. A run cut by a chunk boundary is kept whole (up to 64 KiB of carry)."""

    KEEP = 64 * 1024

    def __init__(self, min_len: int = 6, start: int = 0) -> None:
        n = max(2, min_len)
        self.ascii = re.compile(rb"[\t\x20-\x7e]{%d,}(?:%s+[\t\x20-\x7e]*)*" % (n, _UTF8_SEQ))
        self.wide = re.compile(rb"[\x20-\x7e]\x00(?:[\t\x20-\x7e]\x00){%d,}" % (n - 1))
        self.carry = b""
        self.at = start

    def feed(self, data: bytes, final: bool = False) -> list[tuple[int, str]]:
        buf = self.carry + data if self.carry else data
        base = self.at
        limit = len(buf) if final else max(0, len(buf) - self.KEEP)
        out: list[tuple[int, str]] = []
        end = 0
        for m in self.ascii.finditer(buf):
            if m.start() >= limit:
                break
            start = m.start()
            if start and buf[start - 1] >= 0x80:  # UTF-8 text before the ASCII run
                start = _back(buf, start, end)
            out.append((base + start, buf[start : m.end()].decode("utf-8", "replace")))
            end = max(end, m.end())
        wide = []
        for m in self.wide.finditer(buf):
            if m.start() >= limit:
                break
            wide.append((base + m.start(), m.group().decode("utf-16-le", "replace")))
            end = max(end, m.end())
        if wide:
            out = sorted(out + wide)
        cut = len(buf) if final else max(limit, end)
        self.carry = b"" if final else buf[cut:]
        self.at = base + cut
        return out


def _back(buf: bytes, start: int, floor: int) -> int:
    """Extend a run backwards over printable ASCII and whole UTF-8 sequences (at most
    256 bytes, never before ``floor``)."""
    j = start
    stop = max(floor, start - 256)
    while j > stop:
        b = buf[j - 1]
        if 0x20 <= b <= 0x7E or b == 0x09:
            j -= 1
            continue
        if 0x80 <= b <= 0xBF:
            k = j - 1
            while k > stop and 0x80 <= buf[k - 1] <= 0xBF and j - k < 3:
                k -= 1
            lead = buf[k - 1] if k > stop else 0
            need = (
                2
                if 0xC2 <= lead <= 0xDF
                else 3
                if 0xE0 <= lead <= 0xEF
                else 4
                if 0xF0 <= lead <= 0xF4
                else 0
            )
            if need and j - (k - 1) == need:
                j = k - 1
                continue
        break
    return j


# ------------------------------------------------------------------ .pyc


def pyc_text_isolated(data: bytes, timeout: float = 30.0) -> tuple[str | None, str]:
    """:func:`pyc_text` in a child process (``discover.pycworker``): a hostile
    ``.pyc`` can crash the interpreter that unmarshals it, never the scan. Returns
    (text, "") or (None, why)."""
    import subprocess

    try:
        proc = subprocess.run(
            [sys.executable, "-I", "-m", "promptwitness.discover.pycworker"],
            input=data,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, "its code objects took too long to read (a hostile .pyc?)"
    except OSError as exc:
        return None, f"the .pyc reader did not start ({exc})"
    if proc.returncode == 0:
        return proc.stdout.decode("utf-8", "surrogatepass"), ""
    if proc.returncode == 3:
        return None, "not a .pyc of this Python"
    return None, (
        f"unmarshalling it killed the reader (exit {proc.returncode}): malformed "
        "or hostile bytecode"
    )


def pyc_text(data: bytes, limit: int = 64 * MiB) -> str | None:
    """The string constants of a ``.pyc`` of the running Python as text (module
    docstring), or None when it is not one (other magic, malformed, not code).
    ``marshal`` only builds objects; nothing is executed."""
    import importlib.util
    import marshal
    import types

    if len(data) < 17 or data[:4] != importlib.util.MAGIC_NUMBER:
        return None
    try:
        code = marshal.loads(data[16:])  # noqa: S302 - only in discover.pycworker's child
    except (ValueError, EOFError, TypeError, RecursionError, MemoryError, OverflowError):
        return None
    if not isinstance(code, types.CodeType):
        return None
    lines: list[str] = []
    size = 0
    stack: list[types.CodeType] = [code]
    seen = 0
    while stack and size < limit and seen < 100_000:
        co = stack.pop()
        seen += 1
        head = f"# code {getattr(co, 'co_qualname', co.co_name)} names: {' '.join(co.co_names)}"
        lines.append(head)
        size += len(head)
        consts: list[object] = list(co.co_consts)
        nested: list[types.CodeType] = []
        while consts:
            c = consts.pop(0)
            if isinstance(c, types.CodeType):
                nested.append(c)
            elif isinstance(c, str | bytes):
                r = repr(c)
                lines.append(r)
                size += len(r)
            elif isinstance(c, tuple | frozenset) and len(consts) < 100_000:
                consts[:0] = list(c)
        stack.extend(reversed(nested))
    return "\n".join(lines)


# ------------------------------------------------------------------ ELF


@dataclass(frozen=True)
class _Elf:
    sections: dict[str, tuple[int, int]]  # name -> (offset, size)
    notes: list[tuple[int, int]]  # PT_NOTE / SHT_NOTE ranges


def _read_at(f: IO[bytes], offset: int, n: int) -> bytes:
    f.seek(offset)
    return f.read(n)


def _parse_elf(f: IO[bytes], size: int) -> _Elf | None:
    """Section names/ranges and note ranges of a 64-bit little-endian ELF (bounded)."""
    head = _read_at(f, 0, 64)
    if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
        return None
    phoff, shoff = struct.unpack_from("<QQ", head, 32)
    phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from("<HHHHH", head, 54)
    notes: list[tuple[int, int]] = []
    if phentsize >= 56 and 0 < phnum <= 4096 and phoff + phnum * phentsize <= size:
        table = _read_at(f, phoff, phnum * phentsize)
        for i in range(phnum):
            p_type, _flags, p_offset, _va, _pa, p_filesz = struct.unpack_from(
                "<IIQQQQ", table, i * phentsize
            )
            if p_type == 4 and p_offset + p_filesz <= size:
                notes.append((p_offset, p_filesz))
    sections: dict[str, tuple[int, int]] = {}
    if (
        shentsize >= 64
        and 0 < shnum <= 65535
        and shoff + shnum * shentsize <= size
        and shstrndx < shnum
    ):
        table = _read_at(f, shoff, shnum * shentsize)
        rows = [struct.unpack_from("<IIQQQQ", table, i * shentsize) for i in range(shnum)]
        _n, _t, _fl, _a, str_off, str_size = rows[shstrndx]
        names = _read_at(f, str_off, min(str_size, MiB)) if str_off + str_size <= size else b""
        for name_off, sh_type, _flags, _addr, off, sz in rows:
            end = names.find(b"\0", name_off)
            name = names[name_off : end if end >= 0 else None].decode("latin-1")
            if sh_type == 8:  # NOBITS
                continue
            if off + sz <= size and name:
                sections.setdefault(name, (off, sz))
            if sh_type == 7 and off + sz <= size and (off, sz) not in notes:
                notes.append((off, sz))
    return _Elf(sections, notes)


def _find_note(f: IO[bytes], notes: list[tuple[int, int]], want: bytes) -> tuple[int, int] | None:
    """(offset, size) of the descriptor of the first note named ``want``."""
    for start, length in notes:
        pos, end = start, start + length
        while pos + 12 <= end:
            namesz, descsz, _type = struct.unpack("<III", _read_at(f, pos, 12))
            name_at = pos + 12
            desc_at = name_at + ((namesz + 3) & ~3)
            nxt = desc_at + ((descsz + 3) & ~3)
            if nxt > end or namesz > 4096:
                break
            if _read_at(f, name_at, namesz).rstrip(b"\0") == want:
                return desc_at, descsz
            pos = nxt
    return None


def _search(
    f: IO[bytes], size: int, needles: Iterable[bytes], chunk: int, stop: Callable[[], bool]
) -> dict[bytes, list[int]]:
    """Every position of each needle, streaming (first 64 positions each)."""
    wanted = list(needles)
    found: dict[bytes, list[int]] = {n: [] for n in wanted}
    overlap = max(len(n) for n in wanted) - 1
    pos = 0
    prev = b""
    f.seek(0)
    while pos < size and not stop():
        data = f.read(chunk)
        if not data:
            break
        buf = prev + data
        base = pos - len(prev)
        for n in wanted:
            i = buf.find(n)
            while i >= 0 and len(found[n]) < 64:
                if base + i not in found[n]:
                    found[n].append(base + i)
                i = buf.find(n, i + 1)
        prev = buf[-overlap:] if overlap else b""
        pos += len(data)
    return found


# ------------------------------------------------------------------ Bun


@dataclass(frozen=True)
class _Embedded:
    """One module / asset inside an executable or archive: ``ranges`` of the file
    (``offset``, ``length``) or ``data`` already read; ``codec`` ``gzip``/``brotli``."""

    name: str
    size: int
    offset: int = -1
    data: bytes | None = None
    codec: str = ""
    hint: str = ""  # category override (e.g. "binary" for bytecode)


def parse_bun_graph(
    read: Callable[[int, int], bytes], trailer_at: int
) -> tuple[list[_Embedded], str, str] | None:
    """The modules of a Bun standalone module graph whose trailer starts at
    ``trailer_at`` (absolute offsets; ``read(offset, n)``): (modules, entry point name,
    compile exec argv), or None when the record does not validate."""
    offsets_at = trailer_at - BUN_OFFSETS_SIZE
    if offsets_at < 0:
        return None
    raw = read(offsets_at, BUN_OFFSETS_SIZE)
    if len(raw) < 28:
        return None
    fields: tuple[int, ...] = struct.unpack_from("<QIIIII", raw, 0)
    byte_count, mod_off, mod_len, entry_id, argv_off, argv_len = fields
    start = offsets_at - byte_count
    if start < 0 or mod_off + mod_len > byte_count or mod_len == 0 or mod_len > 64 * MiB:
        return None
    table = read(start + mod_off, mod_len)
    if len(table) != mod_len:
        return None

    def ptr(off: int, length: int) -> bool:
        return off + length <= byte_count

    entry_size = 0
    for size in range(28, 257, 4):
        if mod_len % size:
            continue
        ok = True
        for i in range(mod_len // size):
            name_off, name_len, c_off, c_len = struct.unpack_from("<IIII", table, i * size)
            if not (0 < name_len < 4096 and ptr(name_off, name_len + 1) and ptr(c_off, c_len)):
                ok = False
                break
        if ok:
            # the name pointers must point at NUL-terminated names
            name_off, name_len = struct.unpack_from("<II", table, 0)
            raw_name = read(start + name_off, name_len + 1)
            if raw_name.endswith(b"\0") and b"\0" not in raw_name[:-1]:
                entry_size = size
                break
    if not entry_size:
        return None
    modules: list[_Embedded] = []
    entry_name = ""
    for i in range(mod_len // entry_size):
        name_off, name_len, c_off, c_len = struct.unpack_from("<IIII", table, i * entry_size)
        loader = table[i * entry_size + entry_size - 3]
        name = read(start + name_off, name_len).decode("utf-8", "replace")
        hint = "js" if loader in (0, 1, 2, 3) and category_of(name) == "other" else ""
        modules.append(_Embedded(name, c_len, start + c_off, hint=hint))
        if i == entry_id:
            entry_name = name
    argv = ""
    if argv_len and ptr(argv_off, argv_len):
        argv = read(start + argv_off, min(argv_len, 4096)).decode("utf-8", "replace")
    return modules, entry_name, argv


# ------------------------------------------------------------------ Node SEA


def parse_sea_blob(
    read: Callable[[int, int], bytes], at: int, length: int
) -> tuple[list[_Embedded], int] | None:
    """The main script (or snapshot) and assets of a Node SEA blob at ``at``:
    (entries, flags), or None when the magic does not match."""
    head = read(at, 8)
    if len(head) < 8:
        return None
    magic, flags = struct.unpack("<II", head)
    if magic != SEA_MAGIC:
        return None
    end = at + length
    pos = at + 8

    def view() -> tuple[int, int] | None:
        nonlocal pos
        raw = read(pos, 8)
        if len(raw) < 8:
            return None
        (n,) = struct.unpack("<Q", raw)
        if pos + 8 + n > end:
            return None
        got = (pos + 8, n)
        pos += 8 + n
        return got

    # Node >= 20.?: a code path comes first; before that, the code itself.
    save = pos
    code_path = ""
    first = view()
    second = None
    if first is not None and first[1] < 4096:
        text = read(*first)
        if text and b"\0" not in text and (second := view()) is not None:
            code_path = text.decode("utf-8", "replace")
        else:
            second = None
    if second is None:
        pos = save
        second = view()
        if second is None:
            return None
    use_snapshot = bool(flags & 2)
    entries = [
        _Embedded(
            code_path or ("snapshot.blob" if use_snapshot else "main.js"),
            second[1],
            second[0],
            hint="binary" if use_snapshot else "js",
        )
    ]
    if flags & 4:  # code cache: V8 data, not source
        view()
    if flags & 8:
        raw = read(pos, 8)
        count = struct.unpack("<Q", raw)[0] if len(raw) == 8 else 0
        pos += 8
        for _ in range(min(count, 100_000)):
            key = view()
            content = view()
            if key is None or content is None:
                break
            name = read(key[0], min(key[1], 4096)).decode("utf-8", "replace")
            entries.append(_Embedded(name, content[1], content[0]))
    return entries, flags


# ------------------------------------------------------------------ pkg


def parse_pkg_prelude(
    prelude: str,
) -> tuple[dict[str, dict[str, list[int]]], dict[str, str], int] | None:
    """(virtual file system, key -> path segment dictionary, compression) of a pkg
    prelude's text, or None when it does not parse."""
    marker = "\n})(function (exports) {\n"
    i = prelude.rfind(marker)
    if i < 0:
        return None
    j = prelude.find("\n},\n", i + len(marker))
    if j < 0:
        return None
    dec = json.JSONDecoder()
    pos = j + len("\n},\n")
    values: list[Any] = []
    try:
        while len(values) < 5 and pos < len(prelude):
            while pos < len(prelude) and prelude[pos] in " \n\r\t,":
                pos += 1
            if pos >= len(prelude) or prelude[pos] == ")":
                break
            value, pos = dec.raw_decode(prelude, pos)
            values.append(value)
    except ValueError:
        return None
    if not values or not isinstance(values[0], dict):
        return None
    vfs = {str(k): v for k, v in values[0].items() if isinstance(v, dict)}
    words: dict[str, str] = {}
    if len(values) >= 4 and isinstance(values[3], dict):
        words = {str(v): str(k) for k, v in values[3].items()}
    compress = values[4] if len(values) >= 5 and isinstance(values[4], int) else 0
    return vfs, words, compress


def _pkg_path(key: str, words: Mapping[str, str]) -> str:
    if not words:
        return key
    return "/".join(words.get(part, part) for part in key.split("$"))


# ------------------------------------------------------------------ sources


class _Stop(Exception):
    """The deadline or the size bound was reached."""


class Sources:
    """The pieces of one TARGET (module docstring). Iterate once; then ``files`` lists
    what was read, ``notes`` what was skipped or cut and why, ``bytes_read`` the total."""

    def __init__(
        self,
        target: str | Target,
        *,
        limits: Limits | None = None,
        deadline: float | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.target = target if isinstance(target, Target) else resolve_target(target)
        self.limits = limits or Limits()
        self.deadline = deadline
        self.progress = progress
        self.files: list[ScannedFile] = []
        self.notes: list[str] = []
        self.bytes_read = 0
        self.skipped: Counter[str] = Counter()
        self.left_out: list[str] = []
        self.duplicates = 0
        self._seen_inodes: set[tuple[int, int]] = set()
        self._seen_texts: set[bytes] = set()
        self.stopped = ""

    # -------------------------------------------------------------- bookkeeping

    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline

    def _tick(self, n: int) -> None:
        self.bytes_read += n

    def _room(self) -> int:
        return self.limits.max_bytes - self.bytes_read

    def _report(self, event: str, **info: Any) -> None:
        if self.progress is not None:
            self.progress(event, {**info, "bytes": self.bytes_read})

    def _record(self, f: ScannedFile) -> None:
        self.files.append(f)
        self._report("file", path=f.path, format=f.format, size=f.size)

    def _fresh(self, data: bytes | str) -> bool:
        raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        digest = hashlib.blake2b(raw, digest_size=16).digest()
        if digest in self._seen_texts:
            self.duplicates += 1
            return False
        self._seen_texts.add(digest)
        return True

    # -------------------------------------------------------------- walking

    def __iter__(self) -> Iterator[Piece]:
        t = self.target
        try:
            if t.files:
                yield from self._list(t.files)
            elif t.path.is_dir():
                yield from self._walk(t.path)
            else:
                yield from self._path(t.path, t.label or t.path.name)
        except _Stop:
            pass
        self._finish_notes()

    def _finish_notes(self) -> None:
        if self.stopped:
            self.notes.append(self.stopped)
        if self.left_out:
            shown = ", ".join(self.left_out[:5])
            more = f" and {len(self.left_out) - 5} more" if len(self.left_out) > 5 else ""
            self.notes.append(f"not scanned ({len(self.left_out)} files): {shown}{more}")
        if self.skipped:
            kinds = ", ".join(f"{n} {k}" for k, n in self.skipped.most_common())
            self.notes.append(
                f"skipped files: {kinds}"
                + (
                    ""
                    if self.limits.all_strings
                    else " (--all-strings reads their printable strings)"
                )
            )
        if self.duplicates:
            self.notes.append(
                f"{self.duplicates} duplicate texts (same bytes as one already "
                "scanned) were scanned once"
            )

    def _list(self, files: tuple[Path, ...]) -> Iterator[Piece]:
        rank = {"js": 0, "python": 0, "json": 1, "pyc": 2, "archive": 3, "other": 4, "binary": 5}
        order = sorted(
            dict.fromkeys(files), key=lambda p: (rank.get(category_of(p.name), 6), str(p))
        )
        for p in order:
            if self.expired() or self._room() <= 0:
                self.stopped = self.stopped or (
                    "stopped at the time limit" if self.expired() else "stopped at the size bound"
                )
                self.left_out.append(str(p))
                continue
            if not p.exists():
                self.notes.append(f"{p}: no longer exists")
                continue
            yield from self._path(p, str(p))

    def _walk(self, root: Path) -> Iterator[Piece]:
        entries: list[tuple[tuple[int, int, str], Path]] = []
        firsts = list(self.target.first)
        real_root = root.resolve()
        rank = {"js": 0, "python": 0, "json": 1, "pyc": 2, "archive": 3, "other": 4, "binary": 5}
        count = 0
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            here = Path(dirpath)
            for fn in sorted(filenames):
                count += 1
                if count > 2_000_000:
                    self.notes.append("more than 2,000,000 files: the rest was not listed")
                    break
                p = here / fn
                rel = p.relative_to(root).as_posix()
                cat = category_of(fn)
                if cat == "other" and not _suffix(fn):
                    cat = "other"  # sniffed when read
                r = rank.get(cat, 6)
                in_first = 0 if any(_under(p, f) for f in firsts) else 1
                entries.append(((in_first, r, rel), p))
        entries.sort(key=lambda e: e[0])
        for (_f, _r, rel), p in entries:
            if self.expired():
                self.stopped = self.stopped or "stopped at the time limit"
                self.left_out.append(rel)
                continue
            if self._room() <= 0:
                self.stopped = self.stopped or (
                    f"stopped at the size bound ({self.limits.max_bytes:,} bytes read)"
                )
                self.left_out.append(rel)
                continue
            if p.is_symlink():
                try:
                    real = p.resolve(strict=True)
                except (OSError, RuntimeError):
                    continue
                if not _under(real, real_root):
                    self.skipped["link leading outside the target"] += 1
                    continue
            if p.suffix == ".pyc" and p.parent.name == "__pycache__":
                src = p.parent.parent / (p.name.split(".", 1)[0] + ".py")
                if src.exists():
                    continue
            yield from self._path(p, rel)

    def _path(self, path: Path, name: str) -> Iterator[Piece]:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            self.notes.append(f"{name}: cannot open: {exc.strerror or exc}")
            return
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                self.skipped["not a regular file"] += 1
                return
            key = (st.st_dev, st.st_ino)
            if key in self._seen_inodes:
                return
            self._seen_inodes.add(key)
            os.set_blocking(fd, True)
            with os.fdopen(fd, "rb", buffering=0) as f:
                fd = -1
                yield from self._file(f, name, st.st_size)
        except OSError as exc:
            self.notes.append(f"{name}: read error: {exc.strerror or exc}")
        finally:
            if fd >= 0:
                os.close(fd)

    def _file(self, f: IO[bytes], name: str, size: int) -> Iterator[Piece]:
        head = f.read(4096)
        f.seek(0)
        cat = category_of(name, head)
        if cat == "other" and head and b"\0" not in head[:1024] and not _suffix(name):
            cat = "other"
        if cat in ("js", "json", "python"):
            yield from self._text_file(f, name, size, cat)
        elif cat == "pyc":
            yield from self._pyc_file(f, name, size)
        elif cat == "archive":
            yield from self._archive(f, name, size)
        elif cat == "binary":
            yield from self._binary(f, name, size, head)
        elif self.limits.all_strings:
            yield from self._strings(f, name, size, "binary-strings", 0, size)
        else:
            self.skipped[cat] += 1

    # -------------------------------------------------------------- text

    def _text_format(self, cat: str, text: str) -> str:
        if cat != "js":
            return cat
        lines = text.count("\n") + 1
        return "js-bundle" if len(text) > MiB or len(text) / lines > 1000 else "js"

    def _text_file(self, f: IO[bytes], name: str, size: int, cat: str) -> Iterator[Piece]:
        allowance = min(size, self._room())
        if allowance <= 0:
            self.left_out.append(name)
            return
        if allowance <= self.limits.text_window:
            data = f.read(allowance)
            self._tick(len(data))
            note = "" if len(data) >= size else f"cut at {len(data):,} bytes (size bound)"
            yield from self._text_bytes(name, cat, data, size, note)
            return
        # large text: windows that overlap, so nothing straddling a boundary is lost
        window, overlap = self.limits.text_window, 64 * 1024
        record = ScannedFile(
            name,
            "js-bundle" if cat == "js" else cat,
            size,
            f"read in windows of {window // MiB} MiB"
            + ("" if allowance >= size else f"; cut at {allowance:,} bytes (size bound)"),
        )
        self._record(record)
        pos = 0
        while pos < allowance:
            if self.expired():
                self.stopped = self.stopped or "stopped at the time limit"
                raise _Stop
            f.seek(pos)
            data = f.read(min(window, allowance - pos))
            if not data:
                break
            self._tick(len(data) if pos == 0 else len(data) - overlap)
            text = data.decode("utf-8", "replace")
            yield Piece(name, record.format, text, record, pos, whole=pos == 0)
            if pos + len(data) >= allowance:
                break
            pos += len(data) - overlap

    def _text_bytes(
        self, name: str, cat: str, data: bytes, size: int, note: str = ""
    ) -> Iterator[Piece]:
        text = _decode(data)
        if text is None:
            record = ScannedFile(
                name, "binary-strings", size, "not UTF-8 text: read as printable strings"
            )
            self._record(record)
            yield from self._strings_of(record, data)
            return
        if not self._fresh(data):
            return
        record = ScannedFile(name, self._text_format(cat, text), size, note)
        self._record(record)
        yield Piece(name, record.format, text, record)

    def _pyc_file(self, f: IO[bytes], name: str, size: int) -> Iterator[Piece]:
        if size > self.limits.max_member or size > self._room():
            yield from self._strings(f, name, size, "binary-strings", 0, size)
            return
        data = f.read(size)
        self._tick(len(data))
        yield from self._pyc_bytes(name, data, size)

    def _pyc_bytes(self, name: str, data: bytes, size: int) -> Iterator[Piece]:
        text, why = pyc_text_isolated(data)
        if text is None:
            record = ScannedFile(name, "binary-strings", size, f"{why}: read as printable strings")
            self._record(record)
            yield from self._strings_of(record, data)
            return
        record = ScannedFile(name, "python-bytecode", size)
        self._record(record)
        yield Piece(name, "python-bytecode", text, record)

    # -------------------------------------------------------------- strings

    def _strings(
        self,
        f: IO[bytes],
        name: str,
        size: int,
        fmt: str,
        start: int,
        length: int,
        note: str = "",
        record: ScannedFile | None = None,
    ) -> Iterator[Piece]:
        allowance = min(length, self._room())
        if allowance <= 0:
            self.left_out.append(name)
            return
        if record is None:
            cut = "" if allowance >= length else f"cut at {allowance:,} bytes (size bound)"
            record = ScannedFile(name, fmt, size, "; ".join(x for x in (note, cut) if x))
            self._record(record)
        ex = StringsExtractor(self.limits.min_string, start)
        f.seek(start)
        done = 0
        builder = _StringsBuilder(record, self.limits.piece_chars)
        while done < allowance:
            if self.expired():
                self.stopped = self.stopped or "stopped at the time limit"
                yield from builder.flush()
                raise _Stop
            data = f.read(min(self.limits.chunk, allowance - done))
            if not data:
                break
            done += len(data)
            self._tick(len(data))
            self._report("progress", path=name, done=done, size=allowance)
            yield from builder.add(ex.feed(data, final=done >= allowance))
        yield from builder.add(ex.feed(b"", final=True))
        yield from builder.flush()

    def _strings_of(self, record: ScannedFile, data: bytes) -> Iterator[Piece]:
        ex = StringsExtractor(self.limits.min_string)
        builder = _StringsBuilder(record, self.limits.piece_chars)
        yield from builder.add(ex.feed(data, final=True))
        yield from builder.flush()

    # -------------------------------------------------------------- executables

    def _binary(self, f: IO[bytes], name: str, size: int, head: bytes) -> Iterator[Piece]:
        def read(offset: int, n: int) -> bytes:
            if offset < 0 or n < 0 or offset + n > size:
                return b""
            return _read_at(f, offset, n)

        def stop() -> bool:
            return self.expired()

        elf = _parse_elf(f, size) if head.startswith(b"\x7fELF") else None
        bun_at: list[int] = []
        sea: tuple[int, int] | None = None
        pkg_at = -1
        if elf is not None:
            sec = elf.sections.get(".bun")
            if sec is not None and sec[1] > 8 + BUN_OFFSETS_SIZE + len(BUN_TRAILER):
                (n,) = struct.unpack("<Q", read(sec[0], 8) or b"\0" * 8)
                end = sec[0] + 8 + n if 0 < n <= sec[1] - 8 else sec[0] + sec[1]
                found = read(end - len(BUN_TRAILER), len(BUN_TRAILER))
                if found == BUN_TRAILER:
                    bun_at.append(end - len(BUN_TRAILER))
            sea = _find_note(f, elf.notes, SEA_NOTE_NAME)
        if (
            not bun_at
            and size > 8 + len(BUN_TRAILER)
            and read(size - 8 - len(BUN_TRAILER), len(BUN_TRAILER)) == BUN_TRAILER
        ):
            bun_at.append(size - 8 - len(BUN_TRAILER))
        if not bun_at and sea is None and head.startswith(EXEC_MAGIC):
            note_needle = SEA_NOTE_NAME + b"\0\0\0" + struct.pack("<I", SEA_MAGIC)
            found_at = _search(
                f, size, (BUN_TRAILER, note_needle, PKG_PRELUDE), self.limits.chunk, stop
            )
            bun_at = list(reversed(found_at[BUN_TRAILER]))
            if found_at[note_needle]:
                at = found_at[note_needle][0] + len(SEA_NOTE_NAME) + 3
                sea = (at, size - at)
            if found_at[PKG_PRELUDE]:
                pkg_at = found_at[PKG_PRELUDE][-1]
        for at in bun_at:
            graph = parse_bun_graph(read, at)
            if graph is not None:
                yield from self._bun(f, name, size, graph)
                return
        if sea is not None:
            blob = parse_sea_blob(read, sea[0], sea[1])
            if blob is not None:
                entries, flags = blob
                note = "V8 startup snapshot: its printable strings" if flags & 2 else ""
                yield from self._embedded(f, name, size, "node-sea", entries, note)
                return
        if pkg_at >= 0 and (got := self._pkg(f, name, size, pkg_at)) is not None:
            yield from got
            return
        yield from self._strings(f, name, size, "binary-strings", 0, size)

    def _bun(
        self, f: IO[bytes], name: str, size: int, graph: tuple[list[_Embedded], str, str]
    ) -> Iterator[Piece]:
        modules, entry, argv = graph
        extra = [f"entry point {entry}"] if entry else []
        if argv:
            extra.append(f"compile exec argv: {argv!r}")
        yield from self._embedded(f, name, size, "bun-executable", modules, "; ".join(extra))

    def _pkg(self, f: IO[bytes], name: str, size: int, at: int) -> Iterator[Piece] | None:
        length = size - at
        if length > self.limits.max_member:
            self.notes.append(
                f"{name}: pkg prelude of {length:,} bytes is over the bound; "
                "read as printable strings"
            )
            return None
        prelude = _read_at(f, at, length).decode("utf-8", "replace")
        parsed = parse_pkg_prelude(prelude)
        if parsed is None:
            return None
        vfs, words, compress = parsed
        pointers = [
            p
            for entry in vfs.values()
            for p in entry.values()
            if isinstance(p, list) and len(p) == 2 and all(isinstance(x, int) and x >= 0 for x in p)
        ]
        payload_size = max((a + b for a, b in pointers), default=0)
        payload_at = at - payload_size
        if payload_at < 0:
            return None
        codec = {1: "gzip", 2: "brotli"}.get(compress, "")
        entries: list[_Embedded] = []
        for key, stores in vfs.items():
            path = _pkg_path(key, words)
            for store, ptr in stores.items():
                if not (isinstance(ptr, list) and len(ptr) == 2):
                    continue
                off, n = ptr
                if not (isinstance(off, int) and isinstance(n, int)) or off + n > payload_size:
                    continue
                if store == "1":  # STORE_CONTENT: the file as it was
                    entries.append(_Embedded(path, n, payload_at + off, codec=codec))
                elif store == "0":  # STORE_BLOB: V8 bytecode
                    entries.append(
                        _Embedded(
                            path + " (bytecode)", n, payload_at + off, codec=codec, hint="binary"
                        )
                    )
        return self._embedded(
            f,
            name,
            size,
            "pkg-executable",
            entries,
            f"{len(vfs)} virtual files; prelude not scanned",
        )

    def _embedded(
        self, f: IO[bytes], name: str, size: int, fmt: str, entries: list[_Embedded], note: str
    ) -> Iterator[Piece]:
        kinds: Counter[str] = Counter()
        chosen: list[tuple[_Embedded, str]] = []
        for e in entries:
            cat = e.hint or category_of(e.name)
            kinds[cat] += 1
            if cat in ("js", "json", "python", "binary") or self.limits.all_strings:
                chosen.append((e, cat))
        described = ", ".join(f"{n} {k}" for k, n in kinds.most_common())
        record = ScannedFile(
            name,
            fmt,
            size,
            "; ".join(x for x in (f"{len(entries)} embedded ({described})", note) if x),
        )
        self._record(record)
        self._tick(min(size, 4096))
        for e, cat in chosen:
            if self.expired():
                self.stopped = self.stopped or "stopped at the time limit"
                raise _Stop
            inner = f"{name}!{e.name}"
            if self._room() <= 0:
                self.left_out.append(inner)
                continue
            yield from self._member(f, inner, e, cat)
        if self.limits.all_strings and fmt != "pkg-executable":
            yield from self._strings(
                f,
                f"{name}!(runtime)",
                size,
                "binary-strings",
                0,
                size,
                "the executable's own strings (--all-strings)",
            )

    def _member(self, f: IO[bytes], inner: str, e: _Embedded, cat: str) -> Iterator[Piece]:
        if e.data is None and not e.codec and cat == "binary":
            yield from self._strings(f, inner, e.size, "binary-strings", e.offset, e.size)
            return
        limit = min(self.limits.max_member, self._room())
        data, cut = self._member_bytes(f, e, limit)
        if data is None:
            self.notes.append(f"{inner}: cannot inflate ({e.codec}); skipped")
            return
        self._tick(len(data))
        note = f"cut at {len(data):,} bytes (bound)" if cut else ""
        if cat in ("js", "json", "python"):
            yield from self._text_bytes(inner, cat, data, e.size, note)
        elif cat == "pyc":
            yield from self._pyc_bytes(inner, data, e.size)
        else:
            record = ScannedFile(inner, "binary-strings", e.size, note)
            self._record(record)
            yield from self._strings_of(record, data)

    def _member_bytes(self, f: IO[bytes], e: _Embedded, limit: int) -> tuple[bytes | None, bool]:
        raw = e.data if e.data is not None else _read_at(f, e.offset, min(e.size, 4 * limit))
        if not e.codec:
            return raw[:limit], len(raw) > limit
        try:
            if e.codec == "gzip":
                d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                out = d.decompress(raw, limit)
                return out, bool(d.unconsumed_tail)
            import brotli

            dec = brotli.Decompressor()
            out = dec.process(raw, output_buffer_limit=limit)
            return out[:limit], len(out) >= limit
        except Exception:  # noqa: BLE001 - any corrupt stream is a note
            return None, False

    # -------------------------------------------------------------- archives

    def _archive(self, f: IO[bytes], name: str, size: int) -> Iterator[Piece]:
        record = ScannedFile(name, "archive", size)
        members = 0
        try:
            if zipfile.is_zipfile(f):
                f.seek(0)
                with zipfile.ZipFile(f) as z:
                    infos = [i for i in z.infolist() if not i.is_dir()]
                    self._record(record)
                    for info in infos:
                        if self.expired():
                            self.stopped = self.stopped or "stopped at the time limit"
                            raise _Stop
                        cat = category_of(info.filename)
                        if (
                            cat not in ("js", "json", "python", "pyc", "binary")
                            and not self.limits.all_strings
                        ):
                            self.skipped[cat if cat != "archive" else "nested archive"] += 1
                            continue
                        members += 1
                        with z.open(info) as m:
                            yield from self._stream_member(
                                m, f"{name}!{info.filename}", info.file_size, cat
                            )
            else:
                f.seek(0)
                with tarfile.open(fileobj=f, mode="r|*") as tar:
                    self._record(record)
                    for ti in tar:
                        if self.expired():
                            self.stopped = self.stopped or "stopped at the time limit"
                            raise _Stop
                        if not ti.isreg():
                            continue
                        cat = category_of(ti.name)
                        if (
                            cat not in ("js", "json", "python", "pyc", "binary")
                            and not self.limits.all_strings
                        ):
                            self.skipped[cat if cat != "archive" else "nested archive"] += 1
                            continue
                        member = tar.extractfile(ti)
                        if member is None:
                            continue
                        members += 1
                        yield from self._stream_member(member, f"{name}!{ti.name}", ti.size, cat)
        except _Stop:
            raise
        except (
            tarfile.TarError,
            zipfile.BadZipFile,
            EOFError,
            OSError,
            zlib.error,
            ValueError,
            NotImplementedError,
            RuntimeError,
            KeyError,
        ) as exc:
            why = str(exc) or type(exc).__name__
            if record not in self.files:
                self._record(ScannedFile(name, "archive", size, f"unreadable: {why}"))
            self.notes.append(
                f"{name}: archive unreadable or truncated after {members} members ({why})"
            )

    def _stream_member(self, m: IO[bytes], inner: str, size: int, cat: str) -> Iterator[Piece]:
        limit = min(self.limits.max_member, self._room())
        if limit <= 0:
            self.left_out.append(inner)
            return
        if cat == "binary" or cat not in ("js", "json", "python", "pyc") or size > limit:
            record = ScannedFile(inner, "binary-strings", size)
            self._record(record)
            ex = StringsExtractor(self.limits.min_string)
            builder = _StringsBuilder(record, self.limits.piece_chars)
            done = 0
            while done < limit:
                data = m.read(min(self.limits.chunk, limit - done))
                if not data:
                    break
                done += len(data)
                self._tick(len(data))
                yield from builder.add(ex.feed(data))
            yield from builder.add(ex.feed(b"", final=True))
            yield from builder.flush()
            return
        data = m.read(limit + 1)
        cut = len(data) > limit
        data = data[:limit]
        self._tick(len(data))
        if cat == "pyc":
            yield from self._pyc_bytes(inner, data, size)
        else:
            yield from self._text_bytes(
                inner, cat, data, size, f"cut at {limit:,} bytes (bound)" if cut else ""
            )


class _StringsBuilder:
    """Collects ``(file offset, string)`` pairs into pieces of about ``limit`` chars."""

    def __init__(self, record: ScannedFile, limit: int) -> None:
        self.record = record
        self.limit = limit
        self.parts: list[str] = []
        self.starts: array[int] = array("q")
        self.offsets: array[int] = array("q")
        self.size = 0

    def add(self, strings: list[tuple[int, str]]) -> Iterator[Piece]:
        for offset, s in strings:
            self.starts.append(self.size)
            self.offsets.append(offset)
            self.parts.append(s)
            self.size += len(s) + 1
            if self.size >= self.limit:
                yield from self.flush()

    def flush(self) -> Iterator[Piece]:
        if not self.parts:
            return
        text = "\n".join(self.parts)
        first = self.offsets[0]
        piece = Piece(
            self.record.path,
            "binary-strings",
            text,
            self.record,
            first,
            whole=False,
            positions=(self.starts, self.offsets),
        )
        self.parts = []
        self.starts = array("q")
        self.offsets = array("q")
        self.size = 0
        yield piece


def _decode(data: bytes) -> str | None:
    """UTF-8 text (a leading BOM dropped), or None when it is not text."""
    if b"\0" in data[:8192]:
        return None
    text = data.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    if text and text.count("\ufffd") > max(8, len(text) // 100):
        return None
    return text


def _under(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False
