"""Dynamic discovery: run a command once in the probe's sandbox, traced, and record
every input it reads (``discover.trace``).

The run is a normal sandboxed run (``probe.sandbox``: loopback-only network, private
mounts, no capability, the seccomp filter that refuses ``ptrace``) with ``strace -f``
around bubblewrap, outside the run (``Sandbox.run(..., trace=Tracing(...))``). Three
hooks, set for the command only, report environment reads by a system call strace
sees (a test of a path under :data:`TRACE_DIR` that does not exist, :data:`MARK`):

- native programs: ``getenv.so`` (``LD_PRELOAD``; ``getenv``/``secure_getenv``),
  compiled from ``native/getenv.c`` with the C compiler on first use (or by
  ``scripts/setup.sh``) into the cache directory;
- Node.js: ``preload.cjs`` (``NODE_OPTIONS=--require ...``; ``process.env`` becomes a
  Proxy reporting ``get``/``has``/key listing);
- Python: ``sitecustomize`` (``PYTHONPATH``; ``os.environ``, ``os.environb``,
  ``os.getenv``), which then runs the interpreter's own ``sitecustomize``.

What is recorded (:func:`parse_trace`, pure), as :class:`~promptwitness.discover.model.Observed`:

- ``file``: a path opened (``openat``; ``present`` False when absent, ``None`` when
  created or refused); a program executed (``execve``);
- ``path``: a path probed: ``stat`` (every stat call), ``access``, ``readlink``,
  ``getdents`` (a directory listed), a directory opened, ``chdir``, a failed ``execve``
  (a ``PATH`` search). Relative paths are resolved against the working directory
  (strace's ``AT_FDCWD<dir>``, else the one followed through ``chdir``);
- ``env``: a variable read through a hook (``getenv``, ``secure_getenv``,
  ``process.env``, ``process.env.has``, ``os.environ``, ``os.getenv``...); ``name``
  ``*`` with ``how`` ``...keys`` is a listing of the whole environment. A Node
  ``process.env`` read is seen by two hooks (the Proxy, then the runtime's ``getenv``):
  it is recorded once;
- ``dns``: the question name of a datagram sent to port 53 (``sendto``, ``sendmsg``,
  ``sendmmsg``; decoded from the buffer strace prints);
- ``hostname`` (``uname``, ``/etc/hostname``, ``/proc/sys/kernel/hostname``), ``user``
  (``getuid``/``geteuid``/``getresuid``, ``/etc/passwd``, ``/etc/group``), ``zone``
  (``/etc/localtime``, ``/etc/timezone``, ``/usr/share/zoneinfo/...``), ``locale``
  (``/etc/default/locale``, ``/etc/locale.conf``), ``netif`` (netlink ``RTM_GET*``
  requests, ``SIOCGIF*`` ioctls, ``/proc/net/...``, ``/sys/class/net/...``): the
  meaning of a call or a read, beside the read itself;
- ``socket``: a connection (``connect``: ``host:port``, ``[v6]:port``, ``unix:/path``,
  ``unix:@abstract``; ``present`` False when refused or unreachable).

Rules: the sandbox's own setup is not the command's: only what follows the command's
``execve`` (the first successful one after bubblewrap's), by the command's processes,
is kept; the hooks' files and reports (under :data:`TRACE_DIR`) never appear as reads.
Each input is counted (``count``) and listed once, in the order first seen. A parse
never raises: a line it does not understand is skipped.

Untraceable environment reads are said, not guessed (``TraceResult.runtimes``): Bun
and Go programs read their environment without ``getenv`` (recognised by markers in
the executable), statically linked programs cannot preload the shim, a Python started
with ``-S``/``-I``/``-E`` skips the ``sitecustomize`` hook, and a process whose parent
dropped the hooks' variables reports nothing. Names resolved through ``/etc/hosts``
(the run's ``hosts``) send no DNS question: they show as the read of ``/etc/hosts``.
"""

from __future__ import annotations

import mmap
import os
import posixpath
import re
import struct
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptwitness import native
from promptwitness.discover.model import Observed
from promptwitness.probe.jail import SYSTEM_TREES, TRACE_DIR
from promptwitness.probe.sandbox import (
    RunResult,
    RunSpec,
    Sandbox,
    ServeHook,
    Tracing,
)

__all__ = [
    "HOOK_ENV",
    "MARK",
    "TRACE_DIR",
    "ExecutableInfo",
    "ParsedTrace",
    "RuntimeSeen",
    "TraceResult",
    "build_shim",
    "classify_runtime",
    "dns_question",
    "files_loaded_by",
    "inspect_executable",
    "parse_strace",
    "parse_trace",
    "read_trace",
    "trace_run",
    "tracing",
]

MARK = TRACE_DIR + "/m/"
"""Where the hooks report (paths that never exist): ``hello/<runtime>`` when a hook
loads, ``env/<how>/<0|1|->/<name in hex>`` for a read."""

HOOK_ENV = ("LD_PRELOAD", "NODE_OPTIONS", "PYTHONPATH")
"""The variables a traced run sets for its hooks. A read of one is recorded with
``present`` as in the spec's own environment (what an untraced run would see)."""

SHIM_DIR = Path(__file__).resolve().parent / "shim"
_PRELOAD = "preload.cjs"
_PY_HOOK = "py/sitecustomize.py"
_SHIM = "getenv.so"

# hows of the runtime hooks (a getenv just before one of these, for the same name in
# the same thread, is the runtime answering it: one read)
_RUNTIME_HOWS = frozenset(
    {
        "process.env",
        "process.env.has",
        "os.environ",
        "os.environb",
        "os.getenv",
        "os.getenvb",
        "process.env.internal",
    }
)
# a runtime hook's report of a read that is not the program's own (child_process
# copying the environment, the lookups of a listing): absorbs getenvs, not recorded
_SILENT_HOWS = frozenset({"process.env.internal"})
_ANY = "\0any"
_GETENV_HOWS = frozenset({"getenv", "secure_getenv"})

_HOW = {
    "open": "open",
    "creat": "open",
    "openat": "openat",
    "openat2": "openat",
    "stat": "stat",
    "lstat": "stat",
    "newfstatat": "stat",
    "fstatat64": "stat",
    "statx": "stat",
    "access": "access",
    "faccessat": "access",
    "faccessat2": "access",
    "readlink": "readlink",
    "readlinkat": "readlink",
    "execve": "execve",
    "execveat": "execve",
    "chdir": "chdir",
}
# system call -> (index of the path argument, index of the directory descriptor or None)
_PATH_ARGS: dict[str, tuple[int, int | None]] = {
    "open": (0, None),
    "creat": (0, None),
    "openat": (1, 0),
    "openat2": (1, 0),
    "stat": (0, None),
    "lstat": (0, None),
    "newfstatat": (1, 0),
    "fstatat64": (1, 0),
    "statx": (1, 0),
    "access": (0, None),
    "faccessat": (1, 0),
    "faccessat2": (1, 0),
    "readlink": (0, None),
    "readlinkat": (1, 0),
    "execve": (0, None),
    "execveat": (1, 0),
    "chdir": (0, None),
}
_OPENS = frozenset({"open", "creat", "openat", "openat2"})
_CLONES = frozenset({"clone", "clone3", "fork", "vfork"})
_ABSENT = frozenset({"ENOENT", "ENOTDIR"})
_CODE_RE = re.compile(r"\.(?:[cm]?js|jsx|[cm]?ts|tsx|py[cw]?|node|wasm|so(?:\.\d+)*)$")
_PYTHON_RE = re.compile(r"^python[0-9.]*$")

_LINE_RE = re.compile(r"^\s*(\d+)\s+(.*)$")
_RESUMED_RE = re.compile(r"^<\.\.\. ([A-Za-z0-9_]+) resumed>\s?(.*)$")
_CALL_RE = re.compile(r"^([a-z_][a-z0-9_]*)\(")
_RET_RE = re.compile(r"^\s*=\s*(-?\d+|\?|0x[0-9a-fA-F]+)(.*)$")
_ERRNO_RE = re.compile(r"^\s+(E[A-Z0-9_]+)\b")
_FD_RE = re.compile(r"^(-?\d+|AT_FDCWD)(?:<(.*)>)?$", re.S)
_HEXPATH_RE = re.compile(r"^((?:\\x[0-9a-fA-F]{2})+)")
_STR_RE = re.compile(r'^(@?)"((?:[^"\\]|\\.)*)"(?:\.\.\.)?$', re.S)
_STRS_RE = re.compile(r'"((?:[^"\\]|\\.)*)"')
_IOV_RE = re.compile(r'iov_base="((?:[^"\\]|\\.)*)"')
_PORT_RE = re.compile(r"sin6?_port=htons\((\d+)\)")
_PEER_RE = re.compile(r"^(UDP|TCP|UDPv6|TCPv6):\[.*->(.*)\]$")
_NLTYPE_RE = re.compile(r"nlmsg_type=(RTM_GET[A-Z]+)")
_SIOC_RE = re.compile(r"^SIOCGIF[A-Z]+$")
_O_RE = re.compile(r"\bO_[A-Z]+\b")
_ESCAPES = {
    "n": 10,
    "t": 9,
    "r": 13,
    "v": 11,
    "f": 12,
    "a": 7,
    "b": 8,
    "\\": 92,
    '"': 34,
    "'": 39,
    "?": 63,
}

# The meaning of a read, beside the read: (kind, prefix or exact path)
_SEMANTIC: tuple[tuple[str, str, bool], ...] = (  # kind, path, True: a tree
    ("hostname", "/etc/hostname", False),
    ("hostname", "/etc/HOSTNAME", False),
    ("hostname", "/proc/sys/kernel/hostname", False),
    ("user", "/etc/passwd", False),
    ("user", "/etc/group", False),
    ("zone", "/etc/localtime", False),
    ("zone", "/etc/timezone", False),
    ("zone", "/usr/share/zoneinfo", True),
    ("zone", "/etc/sysconfig/clock", False),
    ("locale", "/etc/default/locale", False),
    ("locale", "/etc/locale.conf", False),
    ("netif", "/proc/net", True),
    ("netif", "/sys/class/net", True),
    ("netif", "/proc/self/net", True),
)


# --- strace's text ----------------------------------------------------------------


def _unescape(text: str) -> bytes:
    """A C string as strace prints it (``-xx``: every byte ``\\xHH``; other escapes
    accepted too) -> bytes."""
    if "\\" not in text:
        return text.encode("utf-8", "surrogateescape")
    out = bytearray()
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c != "\\" or i + 1 >= n:
            out += c.encode("utf-8", "surrogateescape")
            i += 1
            continue
        d = text[i + 1]
        if d == "x" and i + 3 < n + 1 and re.match(r"[0-9a-fA-F]{2}", text[i + 2 : i + 4]):
            out.append(int(text[i + 2 : i + 4], 16))
            i += 4
        elif d in "01234567":
            j = i + 1
            while j < n and j < i + 4 and text[j] in "01234567":
                j += 1
            out.append(int(text[i + 1 : j], 8) & 0xFF)
            i = j
        else:
            out.append(_ESCAPES.get(d, ord(d) & 0xFF))
            i += 2
    return bytes(out)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _split_args(s: str) -> tuple[list[str], str] | None:
    """The top-level arguments of a call's text after ``name(``, and the text after
    its closing parenthesis; None when it does not close."""
    args: list[str] = []
    depth = 0
    start = 0
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c == '"':
            i += 1
            while i < n and s[i] != '"':
                i += 2 if s[i] == "\\" else 1
        elif c in "([{":
            depth += 1
        elif c in "}]" and depth:
            depth -= 1
        elif c == ")":
            if depth == 0:
                last = s[start:i].strip()
                if last or args:
                    args.append(last)
                return args, s[i + 1 :]
            depth -= 1
        elif c == "," and depth == 0:
            args.append(s[start:i].strip())
            start = i + 1
        i += 1
    return None


@dataclass
class _Call:
    name: str
    args: list[str]
    ret: str  # the number, "?" or hex
    deco: str  # the descriptor's decoration of the return value, "" if none
    errno: str  # "" on success

    @property
    def ok(self) -> bool:
        return not self.errno and self.ret not in ("?",) and not self.ret.startswith("-")

    @property
    def retval(self) -> int | None:
        try:
            return int(self.ret, 0)
        except ValueError:
            return None


def _parse_call(text: str) -> _Call | None:
    m = _CALL_RE.match(text)
    if m is None:
        return None
    split = _split_args(text[m.end() :])
    if split is None:
        return None
    args, after = split
    r = _RET_RE.match(after)
    if r is None:
        return None
    tail = r.group(2)
    deco = ""
    if tail.startswith("<"):
        end = tail.rfind(">")
        deco, tail = tail[1:end], tail[end + 1 :]
    e = _ERRNO_RE.match(tail)
    return _Call(m.group(1), args, r.group(1), deco, e.group(1) if e else "")


def _deco_path(deco: str) -> str | None:
    """The path in a descriptor's decoration (``3<\\x2f...>``, maybe followed by a
    device ``<char 1:3>`` or `` (deleted)``); None for a socket or anything else."""
    m = _HEXPATH_RE.match(deco)
    if m is None:
        return deco if deco.startswith("/") and "<" not in deco else None
    return _text(_unescape(m.group(1)))


def _fd_arg(arg: str) -> tuple[str, str]:
    """(descriptor, decoration) of a descriptor argument."""
    m = _FD_RE.match(arg)
    return (m.group(1), m.group(2) or "") if m else ("", "")


def _str_arg(arg: str) -> str | None:
    m = _STR_RE.match(arg)
    return None if m is None else _text(_unescape(m.group(2)))


def _norm(path: str) -> str:
    p = posixpath.normpath(path)
    return "/" + p.lstrip("/") if p.startswith("//") else p


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root + "/")


# --- DNS -----------------------------------------------------------------------------


def dns_question(data: bytes) -> list[tuple[str, int]]:
    """The (name, type) questions of a DNS query message; [] when it is not one."""
    if len(data) < 12 or data[2] & 0x80:  # a response
        return []
    qd = int.from_bytes(data[4:6], "big")
    if not 0 < qd <= 16:
        return []
    out: list[tuple[str, int]] = []
    pos = 12
    for _ in range(qd):
        labels: list[str] = []
        while True:
            if pos >= len(data):
                return out
            n = data[pos]
            if n == 0:
                pos += 1
                break
            if n & 0xC0:  # a pointer: not in a question we decode
                return out
            label = data[pos + 1 : pos + 1 + n]
            if len(label) < n:
                return out
            labels.append(label.decode("ascii", "backslashreplace"))
            pos += 1 + n
        if pos + 4 > len(data):
            return out
        qtype = int.from_bytes(data[pos : pos + 2], "big")
        pos += 4
        out.append((".".join(labels), qtype))
    return out


# --- the parse -------------------------------------------------------------------------


@dataclass
class _Exec:
    path: str
    argv: tuple[str, ...]
    hooks: set[str] = field(default_factory=set)


@dataclass
class _Thread:
    cwd: str | None = None
    exec: _Exec | None = None


@dataclass(frozen=True)
class ParsedTrace:
    """What :func:`parse_trace` read: ``observed`` inputs; ``execs`` (path, argv,
    hooks that reported from it) of every program the command executed, in order;
    ``files_loaded`` (code the run opened or executed, as the files it reached,
    symlinks resolved); ``started``: the command's ``execve`` was found; ``lines``."""

    observed: tuple[Observed, ...]
    execs: tuple[tuple[str, tuple[str, ...], frozenset[str]], ...]
    files_loaded: tuple[str, ...]
    started: bool
    lines: int


class _Parser:
    def __init__(self, skip_setup: bool) -> None:
        self.pending: dict[int, str] = {}
        self.first: int | None = None
        self.started = not skip_setup
        self.setup: set[int] = set()
        self.threads: dict[int, _Thread] = {}
        self.cloning: list[int] = []  # threads inside an unfinished clone, latest last
        self.last_clone: int | None = None
        self.events: list[list[Any]] = []  # [kind, name, present, how, dropped]
        self.env_seq: dict[int, list[int]] = {}  # thread -> indices of its env events
        self.absorb: dict[int, str] = {}  # thread -> name its runtime hook just read
        self.near_trace: dict[int, bool] = {}  # thread -> its last path was a hook's
        self.ancestor: dict[int, int] = {}  # thread -> its pending stat of /run
        self.scope: dict[int, list[int]] = {}  # thread -> package.json lookups just made
        self.execs: list[_Exec] = []
        self.loaded: dict[str, None] = {}
        self.listing: set[tuple[int, str]] = set()
        self.lines = 0

    # -- lines --

    def feed(self, line: str) -> None:
        self.lines += 1
        m = _LINE_RE.match(line)
        if m is None:
            tid, rest = 0, line.strip()
        else:
            tid, rest = int(m.group(1)), m.group(2)
        if not rest or rest.startswith(("+++", "---")):
            if rest.startswith("+++"):  # exited, killed: nothing of it is pending
                self.pending.pop(tid, None)
                self.cloning = [t for t in self.cloning if t != tid]
            return
        if rest.endswith("<unfinished ...>"):
            head = rest[: -len("<unfinished ...>")].rstrip()
            self.pending[tid] = head
            name = _CALL_RE.match(head)
            if name and name.group(1) in _CLONES:
                self.cloning.append(tid)
            return
        r = _RESUMED_RE.match(rest)
        if r is not None:
            started = self.pending.pop(tid, None)
            if started is None or not started.startswith(r.group(1) + "("):
                return
            if r.group(1) in _CLONES and tid in self.cloning:
                self.cloning.remove(tid)
            rest = started + r.group(2)
        call = _parse_call(rest)
        if call is None:
            return
        if self.first is None:
            self.first = tid
        if not self.started:
            if call.name in ("execve", "execveat") and call.ok and tid != self.first:
                self.started = True
                self.setup.discard(tid)
                self.threads[tid] = _Thread()
            else:
                self.setup.add(tid)
                return
        if tid in self.setup:
            return
        th = self.threads.get(tid)
        if th is None:
            th = self._new_thread(tid)
        self._event(tid, th, call)
        if call.name in _CLONES and call.ok:
            self.last_clone = tid

    def _new_thread(self, tid: int) -> _Thread:
        parent_tid = self.cloning[-1] if self.cloning else self.last_clone
        parent = self.threads.get(parent_tid) if parent_tid is not None else None
        th = _Thread(parent.cwd if parent else None, parent.exec if parent else None)
        self.threads[tid] = th
        return th

    # -- events --

    def _add(self, kind: str, name: str, present: bool | None, how: str) -> int:
        self.events.append([kind, name, present, how, False])
        return len(self.events) - 1

    def _resolve(self, th: _Thread, call: _Call, pidx: int, didx: int | None) -> str | None:
        if pidx >= len(call.args):
            return None
        path = _str_arg(call.args[pidx])
        if path is None:
            return None
        base: str | None = None
        if didx is not None and didx < len(call.args):
            fd, deco = _fd_arg(call.args[didx])
            base = _deco_path(deco) if deco else None
            if fd == "AT_FDCWD" and base is not None:
                th.cwd = base
            elif fd == "AT_FDCWD":
                base = th.cwd
        if path == "":
            return None  # fstat of a descriptor (AT_EMPTY_PATH): no path looked up
        if not path.startswith("/"):
            base = base if base is not None else th.cwd
            if base is None:
                return path
            path = posixpath.join(base, path)
        return _norm(path)

    def _present(self, call: _Call, creating: bool = False) -> bool | None:
        if call.ok:
            return None if creating else True
        if call.errno in _ABSENT:
            return False
        if call.errno == "EEXIST":
            return True
        return None

    def _event(self, tid: int, th: _Thread, call: _Call) -> None:
        name = call.name
        if name in _PATH_ARGS:
            pidx, didx = _PATH_ARGS[name]
            path = self._resolve(th, call, pidx, didx)
            if path is None:
                return
            if _under(path, TRACE_DIR):
                if path.startswith(MARK):
                    self._mark(tid, th, path[len(MARK) :])
                    return
                # a runtime resolving a hook's path stats the directories above it; Node
                # first walks up from the working directory for a package.json (the
                # package scope of the --require): the hook's doing, not the program's
                if tid in self.ancestor:
                    self.events[self.ancestor.pop(tid)][4] = True
                for i in self.scope.pop(tid, ()):
                    self.events[i][4] = True
                self.near_trace[tid] = True
                return
            index = self._path_event(tid, th, call, path)
            self.ancestor.pop(tid, None)
            if posixpath.basename(path) == "package.json" and call.name in _OPENS:
                self.scope.setdefault(tid, []).append(index)
            else:
                self.scope.pop(tid, None)
            if _under(TRACE_DIR, path) and _HOW[call.name] == "stat":
                if self.near_trace.get(tid):
                    self.events[index][4] = True
                else:
                    self.ancestor[tid] = index
            self.near_trace[tid] = False
            return
        if name in ("getdents", "getdents64", "fchdir"):
            fd, deco = _fd_arg(call.args[0]) if call.args else ("", "")
            path = _deco_path(deco) if deco else None
            if path is None or _under(path, TRACE_DIR):
                return
            if name == "fchdir":
                if call.ok:
                    th.cwd = path
                return
            key = (tid, fd + path)
            if call.retval == 0 or not call.ok:
                self.listing.discard(key)
                if call.ok:
                    return
            if key in self.listing:
                return
            self.listing.add(key)
            self._add("path", path, True if call.ok else None, "getdents")
            return
        if name in ("sendto", "sendmsg", "sendmmsg"):
            self._send(call)
        elif name == "connect":
            self._connect(call)
        elif name == "ioctl":
            if len(call.args) > 1 and _SIOC_RE.match(call.args[1]):
                self._add("netif", "", True if call.ok else None, "ioctl:" + call.args[1])
        elif name == "uname":
            self._add("hostname", "", True if call.ok else None, "uname")
        elif name in ("getuid", "geteuid", "getresuid"):
            self._add("user", "", True, name)

    def _path_event(self, tid: int, th: _Thread, call: _Call, path: str) -> int:
        name = call.name
        how = _HOW[name]
        kind = "path"
        flags: set[str] = set()
        if name in _OPENS:
            flags = set(_O_RE.findall(" ".join(call.args[1:])))
            if name == "creat":
                flags |= {"O_CREAT", "O_WRONLY"}
            kind = "path" if "O_DIRECTORY" in flags else "file"
        creating = "O_CREAT" in flags and "O_EXCL" not in flags
        present = self._present(call, creating)
        if name in ("execve", "execveat"):
            kind = "file" if call.ok else "path"
            if call.ok:
                ai = 1 if name == "execve" else 2
                argv = tuple(
                    _text(_unescape(s))
                    for s in _STRS_RE.findall(call.args[ai] if len(call.args) > ai else "")
                )
                th.exec = _Exec(path, argv)
                self.execs.append(th.exec)
                self.loaded.setdefault(path, None)
        if name == "chdir" and call.ok:
            th.cwd = path
        index = self._add(kind, path, present, how)
        for skind, spath, tree in _SEMANTIC:
            if path == spath or (tree and path.startswith(spath + "/")):
                self._add(skind, path, present, how)
        if name in _OPENS and call.ok and not flags & {"O_WRONLY", "O_RDWR", "O_DIRECTORY"}:
            real = _deco_path(call.deco) if call.deco else None
            target = real or path
            if _CODE_RE.search(target) and not _under(target, TRACE_DIR):
                self.loaded.setdefault(target, None)
        return index

    def _mark(self, tid: int, th: _Thread, what: str) -> None:
        parts = what.split("/")
        if parts[0] == "hello" and len(parts) == 2:
            if th.exec is not None:
                th.exec.hooks.add(parts[1])
            return
        if parts[0] != "env" or len(parts) != 4:
            return
        _, how, flag, hexname = parts
        try:
            name = "" if hexname == "-" else _text(bytes.fromhex(hexname))
        except ValueError:
            return
        if not name and how not in _SILENT_HOWS:
            return  # getenv(""): no variable
        present = {"1": True, "0": False}.get(flag)
        seq = self.env_seq.setdefault(tid, [])
        # A runtime hook's read reaches the runtime's own getenv (before the hook
        # reports, and again after: V8 checks the Proxy's answer against its target):
        # the getenvs of that name right around it in the same thread are the same read.
        if how in _RUNTIME_HOWS:
            k = len(seq) - 1
            while k >= 0:
                ev = self.events[seq[k]]
                if ev[3] in _GETENV_HOWS and ev[1] == name:
                    ev[4] = True
                    k -= 1
                    continue
                break
            self.absorb[tid] = name
            if how in _SILENT_HOWS:
                if name == "*":  # a listing not the program's own: as a listing
                    self.absorb[tid] = _ANY
                elif not name:  # the end of a listing
                    self.absorb.pop(tid, None)
                return
        elif how == "process.env.keys":  # until its end, getenvs are the listing's
            self.absorb[tid] = _ANY
        elif how in _GETENV_HOWS and self.absorb.get(tid) in (name, _ANY):
            return
        else:
            self.absorb.pop(tid, None)
        seq.append(self._add("env", name, present, how))

    def _send(self, call: _Call) -> None:
        if not call.args:
            return
        _, deco = _fd_arg(call.args[0])
        whole = ", ".join(call.args)
        if deco.startswith("NETLINK"):
            for t in dict.fromkeys(_NLTYPE_RE.findall(whole)):
                self._add("netif", "", None, "netlink:" + t)
            return
        peer = _PEER_RE.match(deco)
        ports = _PORT_RE.findall(whole)
        to53 = "53" in ports or (peer is not None and peer.group(2).endswith(":53"))
        if not to53:
            return
        tcp = peer is not None and peer.group(1).startswith("TCP")
        if call.name == "sendto":
            s = _STR_RE.match(call.args[1]) if len(call.args) > 1 else None
            bufs = [_unescape(s.group(2))] if s else []
        else:
            bufs = [_unescape(b) for b in _IOV_RE.findall(whole)]
            if call.name == "sendmsg" or tcp:
                bufs = [b"".join(bufs)]
        for buf in bufs:
            if tcp and len(buf) >= 2:
                buf = buf[2:]
            for qname, _qtype in dns_question(buf):
                if qname:
                    self._add("dns", qname.rstrip(".").lower(), None, call.name)

    def _connect(self, call: _Call) -> None:
        if len(call.args) < 2:
            return
        addr = call.args[1]
        name: str | None = None
        if "AF_INET6" in addr:
            ip = re.search(r'inet_pton\(AF_INET6, "((?:[^"\\]|\\.)*)"', addr)
            port = _PORT_RE.search(addr)
            if ip and port:
                name = f"[{_text(_unescape(ip.group(1)))}]:{port.group(1)}"
        elif "AF_INET" in addr:
            ip = re.search(r'inet_addr\("((?:[^"\\]|\\.)*)"\)', addr)
            port = _PORT_RE.search(addr)
            if ip and port:
                name = f"{_text(_unescape(ip.group(1)))}:{port.group(1)}"
        elif "AF_UNIX" in addr:
            p = re.search(r'sun_path=(@?)"((?:[^"\\]|\\.)*)"', addr)
            if p:
                name = f"unix:{p.group(1)}{_text(_unescape(p.group(2)))}"
        if name is None:
            return
        if call.ok or call.errno == "EINPROGRESS":
            present: bool | None = True
        elif call.errno in ("ECONNREFUSED", "ENOENT", "ENETUNREACH", "EHOSTUNREACH"):
            present = False
        else:
            present = None
        self._add("socket", name, present, "connect")

    def result(self) -> ParsedTrace:
        counts: dict[tuple[str, str, bool | None, str], int] = {}
        for kind, name, present, how, dropped in self.events:
            if not dropped:
                key = (kind, name, present, how)
                counts[key] = counts.get(key, 0) + 1
        observed = tuple(
            Observed(kind=k, name=n, present=p, how=h, count=c)
            for (k, n, p, h), c in counts.items()
        )
        execs = tuple((e.path, e.argv, frozenset(e.hooks)) for e in self.execs)
        return ParsedTrace(
            observed=observed,
            execs=execs,
            files_loaded=tuple(self.loaded),
            started=self.started,
            lines=self.lines,
        )


def parse_trace(lines: Iterable[str], *, skip_setup: bool = True) -> ParsedTrace:
    """Read ``strace -f -xx -yy`` output (the options of ``probe.sandbox``) into what the
    command read. ``skip_setup``: the trace starts with bubblewrap's own ``execve`` (as
    a traced run's does); everything before the command's ``execve``, and everything
    later from bubblewrap's processes, is the sandbox's and is dropped. Never raises on
    any line (a line not understood is skipped)."""
    parser = _Parser(skip_setup)
    for line in lines:
        try:
            parser.feed(line)
        except Exception:  # noqa: BLE001, S112 - one odd line must not cost the whole trace
            continue
    return parser.result()


def parse_strace(lines: Iterable[str], *, skip_setup: bool = True) -> list[Observed]:
    """The inputs of :func:`parse_trace` (pure; never raises)."""
    return list(parse_trace(lines, skip_setup=skip_setup).observed)


# --- runtimes --------------------------------------------------------------------------


@dataclass(frozen=True)
class ExecutableInfo:
    """What the first bytes and markers of an executable say: ``elf`` (and ``static``:
    no program interpreter), ``go`` (a Go build-info marker), ``bun`` (a Bun runtime or
    a ``bun build --compile`` executable), ``interpreter`` (a script's ``#!``)."""

    elf: bool = False
    static: bool = False
    go: bool = False
    bun: bool = False
    interpreter: str | None = None


_GO_MARK = b"\xff Go buildinf:"
_BUN_MARKS = (b"---- Bun! ----", b"oven-sh/bun")


def _elf_static(head: bytes) -> bool | None:
    """True: an ELF file without PT_INTERP; None: not parseable from ``head``."""
    if len(head) < 64 or head[:4] != b"\x7fELF":
        return None
    is64, little = head[4] == 2, head[5] == 1
    e = "<" if little else ">"
    try:
        if is64:
            (phoff,) = struct.unpack_from(e + "Q", head, 32)
            phentsize, phnum = struct.unpack_from(e + "HH", head, 54)
        else:
            (phoff,) = struct.unpack_from(e + "I", head, 28)
            phentsize, phnum = struct.unpack_from(e + "HH", head, 42)
        for i in range(phnum):
            off = phoff + i * phentsize
            if off + 4 > len(head):
                return None
            (p_type,) = struct.unpack_from(e + "I", head, off)
            if p_type == 3:  # PT_INTERP
                return False
    except struct.error:
        return None
    return True


def inspect_executable(data: bytes | mmap.mmap) -> ExecutableInfo:
    """Classify an executable's bytes (see :class:`ExecutableInfo`). Pure."""
    head = bytes(data[:65536])
    if head.startswith(b"#!"):
        line = head[2:].split(b"\n", 1)[0].decode("utf-8", "replace").strip().split()
        interp = line[0] if line else ""
        if posixpath.basename(interp) == "env" and len(line) > 1:
            rest = [w for w in line[1:] if not w.startswith("-")]
            interp = rest[0] if rest else interp
        return ExecutableInfo(interpreter=interp)
    static = _elf_static(head)
    if static is None and head[:4] != b"\x7fELF":
        return ExecutableInfo()
    return ExecutableInfo(
        elf=True,
        static=bool(static),
        go=data.find(_GO_MARK) != -1,
        bun=any(data.find(m) != -1 for m in _BUN_MARKS),
    )


def _inspect_file(path: str) -> ExecutableInfo | None:
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                return ExecutableInfo()
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                return inspect_executable(mm)
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class RuntimeSeen:
    """A program the run executed and whether its environment reads were traced:
    ``runtime`` (``node``, ``python``, ``native``, ``bun``, ``go``, ``static``,
    ``script``, ``unknown``), ``env_traced``, ``reason`` (why not, or what is not seen),
    ``processes`` (how many times it was executed)."""

    path: str
    runtime: str
    env_traced: bool
    reason: str = ""
    processes: int = 1

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "runtime": self.runtime,
            "env_traced": self.env_traced,
            "reason": self.reason,
            "processes": self.processes,
        }


def classify_runtime(
    path: str, hooks: Iterable[str], info: ExecutableInfo | None, *, shim: bool = True
) -> tuple[str, bool, str]:
    """(runtime, env_traced, reason) of one executed program from the hooks that
    reported from it and what its file says (``None``: not inspected). ``shim``: the
    getenv shim was part of the run. Pure. Rules, first match:

    Bun or Go markers -> not traced (they read the environment themselves); the Node
    hook -> node; the Python hook -> python; a Python executable without it -> not
    traced (``os.environ`` is a copy taken at start); the shim -> native (a Node
    without its hook: ``process.env`` reads still reach ``getenv``, listings do not);
    nothing: static ELF -> not traced (nothing can be preloaded), else not traced with
    the likeliest reason."""
    hooks = set(hooks)
    base = posixpath.basename(path)
    if info is not None and info.bun:
        return "bun", False, "Bun reads the environment itself (no getenv, no Node hook)"
    if info is not None and info.go:
        return "go", False, "Go reads the environment itself (os.Getenv never calls getenv)"
    if "node" in hooks:
        return "node", True, ""
    if "python" in hooks:
        return "python", True, ""
    if _PYTHON_RE.match(base):
        return (
            "python",
            False,
            (
                "the sitecustomize hook did not load (python -S, -I or -E,"
                " or PYTHONPATH replaced): os.environ reads are not seen"
            ),
        )
    if "native" in hooks:
        if base in ("node", "nodejs"):
            return (
                "node",
                True,
                (
                    "the --require hook did not load: process.env reads are "
                    "seen through getenv, listings are not"
                ),
            )
        return "native", True, "reads of environ itself (not through getenv) are not seen"
    if info is not None and info.elf and info.static:
        return "static", False, "statically linked: the getenv shim cannot be preloaded"
    if not shim:
        return "native", False, "the getenv shim was not built (no C compiler)"
    if info is not None and info.interpreter:
        return "script", False, f"its interpreter ({info.interpreter}) reported no hook"
    if info is not None and info.elf:
        return (
            "native",
            False,
            (
                "no hook loaded: its environment lacked the hooks' "
                "variables (removed by its parent?)"
            ),
        )
    return "unknown", False, "no hook reported from this process"


# --- the hooks -------------------------------------------------------------------------


def build_shim(cache: Path | None = None) -> tuple[Path | None, str]:
    """Compile the getenv shim (``native/getenv.c``, once per source and machine) into
    the cache with the C compiler. Returns (path, "") or (None, why not)."""
    return native.build("getenv", native.defines("getenv"), cache)


def tracing(*, shim: Path | None = None, hooks: bool = True) -> Tracing:
    """The :class:`~promptwitness.probe.sandbox.Tracing` of a traced run: the hooks'
    files and variables (``Sandbox.run`` puts each in front of the spec's own value:
    ``LD_PRELOAD`` and ``PYTHONPATH`` first in their lists, ``NODE_OPTIONS`` first in
    its options). ``shim``: the built getenv shim (``None``: :func:`build_shim`; when it
    cannot be built, native programs' reads go untraced and ``read_trace`` says so).
    ``hooks=False``: system calls only."""
    if not hooks:
        return Tracing()
    if shim is None:
        shim, _ = build_shim()
    files: dict[str, bytes] = {
        _PRELOAD: (SHIM_DIR / "preload.cjs").read_bytes(),
        _PY_HOOK: (SHIM_DIR / "envhook.py").read_bytes(),
    }
    env = {
        "NODE_OPTIONS": f"--require {TRACE_DIR}/{_PRELOAD}",
        "PYTHONPATH": f"{TRACE_DIR}/{posixpath.dirname(_PY_HOOK)}",
    }
    if shim is not None:
        files[_SHIM] = shim.read_bytes()
        env["LD_PRELOAD"] = f"{TRACE_DIR}/{_SHIM}"
    return Tracing(files=tuple(sorted(files.items())), env=tuple(sorted(env.items())))


# --- the run ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TraceResult:
    """One traced run: its outcome (``result``, the sandbox's :class:`RunResult`, whose
    ``trace`` is strace's text), the inputs it read (``observed``), the programs it ran
    and whether their environment reads were traced (``runtimes``), the code files it
    loaded (``files_loaded``) and ``notes`` (what limited the trace)."""

    result: RunResult
    observed: tuple[Observed, ...]
    runtimes: tuple[RuntimeSeen, ...] = ()
    files_loaded: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def exit_code(self) -> int | None:
        return self.result.exit_code

    @property
    def duration(self) -> float:
        return self.result.duration

    @property
    def untraceable_env(self) -> tuple[tuple[str, str], ...]:
        """(program, reason) for every program whose environment reads were not seen."""
        return tuple(dict.fromkeys((r.path, r.reason) for r in self.runtimes if not r.env_traced))

    def of_kind(self, kind: str) -> list[Observed]:
        return [o for o in self.observed if o.kind == kind]

    def to_json(self) -> dict[str, Any]:
        return {
            "exit_code": self.result.exit_code,
            "timed_out": self.result.timed_out,
            "duration": round(self.result.duration, 3),
            "observed": [o.to_json() for o in self.observed],
            "runtimes": [r.to_json() for r in self.runtimes],
            "untraceable_env": [{"path": p, "reason": r} for p, r in self.untraceable_env],
            "files_loaded": list(self.files_loaded),
            "notes": list(self.notes),
        }


def _host_view(path: str, spec: RunSpec | None) -> ExecutableInfo | None:
    """Inspect the file a run executed, where the host has it: the system trees and the
    exposed paths are the host's own; the working directory is the spec's ``workdir``;
    HOME and root files are the spec's bytes. None: not found."""
    if spec is None:
        return _inspect_file(path) if any(_under(path, t) for t in SYSTEM_TREES) else None
    files = {
        **{f"{spec.home}/{p}": d for p, d in spec.home_files},
        **{p: d for p, d in spec.root_files if d is not None},
    }
    if path in files:
        return inspect_executable(files[path])
    if any(_under(path, t) for t in SYSTEM_TREES) or any(
        _under(path, os.path.normpath(e)) for e in spec.expose
    ):
        return _inspect_file(path)
    if spec.workdir is not None and _under(path, spec.cwd):
        return _inspect_file(os.path.join(spec.workdir, os.path.relpath(path, spec.cwd)))
    return None


def _runtimes(parsed: ParsedTrace, spec: RunSpec | None, shim: bool) -> tuple[RuntimeSeen, ...]:
    seen: dict[tuple[str, str, bool, str], int] = {}
    infos: dict[str, ExecutableInfo | None] = {}
    for path, _argv, hooks in parsed.execs:
        if path not in infos:
            infos[path] = _host_view(path, spec)
        key = (path, *classify_runtime(path, hooks, infos[path], shim=shim))
        seen[key] = seen.get(key, 0) + 1
    return tuple(RuntimeSeen(p, rt, ok, why, n) for (p, rt, ok, why), n in seen.items())


def _unhook(observed: Iterable[Observed], spec: RunSpec | None) -> tuple[Observed, ...]:
    """Reads of the hooks' own variables, with ``present`` as the spec has it (``None``
    without the spec: the traced run had them set whatever the spec said)."""
    env = spec.environ() if spec is not None else {}
    out: dict[tuple[str, str, bool | None, str], int] = {}
    for o in observed:
        present = o.present
        if o.kind == "env" and o.name in HOOK_ENV:
            present = (o.name in env) if spec is not None else None
        key = (o.kind, o.name, present, o.how)
        out[key] = out.get(key, 0) + o.count
    return tuple(
        Observed(kind=k, name=n, present=p, how=h, count=c) for (k, n, p, h), c in out.items()
    )


def read_trace(
    result: RunResult,
    spec: RunSpec | None = None,
    *,
    hooks: bool = True,
    shim: bool | None = None,
    notes: Iterable[str] = (),
) -> TraceResult:
    """Read a traced run's result (``Sandbox.run(spec, trace=tracing())``): parse
    ``result.trace``, classify the programs it ran. ``spec``: the run's spec (to
    inspect programs from its workdir and files, and to say whether the hooks' own
    variables were set); ``hooks``: the run had the environment hooks; ``shim``: it had
    the getenv shim (``None``: inferred: some process reported it)."""
    out = list(notes)
    parsed = parse_trace((result.trace or "").splitlines())
    if result.trace is None:
        out.append("the run was not traced")
    elif not parsed.started:
        out.append("the command's execve was not seen: nothing of it was traced")
    if result.timed_out or result.cancelled:
        out.append("the run was stopped early: the trace is what it did until then")
    runtimes: tuple[RuntimeSeen, ...] = ()
    if hooks:
        if shim is None:
            shim = any("native" in h for _, _, h in parsed.execs)
        runtimes = _runtimes(parsed, spec, shim)
    else:
        out.append("environment hooks off: environment reads were not traced")
    return TraceResult(
        result=result,
        observed=_unhook(parsed.observed, spec),
        runtimes=runtimes,
        files_loaded=parsed.files_loaded,
        notes=tuple(dict.fromkeys(out)),
    )


def trace_run(
    spec: RunSpec,
    *,
    sandbox: Sandbox | None = None,
    serve: ServeHook | None = None,
    cancel: threading.Event | None = None,
    hooks: bool = True,
    shim: Path | None = None,
) -> TraceResult:
    """Run ``spec`` once in the sandbox under strace with the environment hooks, and
    read what it read. ``sandbox``: the one to use (else a fresh one, closed after);
    ``serve``/``cancel``: as ``Sandbox.run``; ``hooks=False``: system calls only (no
    environment reads); ``shim``: a built getenv shim (else :func:`build_shim`).
    Raises SandboxError as ``Sandbox.run`` does (and when strace is missing)."""
    notes: list[str] = []
    if hooks and shim is None:
        shim, why = build_shim()
        if shim is None:
            notes.append(why)
    own = sandbox is None
    box = sandbox if sandbox is not None else Sandbox()
    try:
        result = box.run(spec, serve, cancel, trace=tracing(shim=shim, hooks=hooks))
    finally:
        if own:
            box.close()
    return read_trace(result, spec, hooks=hooks, shim=shim is not None, notes=notes)


def files_loaded_by(
    argv: Sequence[str],
    *,
    sandbox: Sandbox | None = None,
    expose: Sequence[str] = (),
    workdir: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300.0,
    spec: RunSpec | None = None,
) -> list[str]:
    """The code files (``.js``/``.mjs``/``.cjs``/``.ts``, ``.py``/``.pyc``, ``.so``,
    ``.node``, ``.wasm``, and every program executed) one sandboxed run of ``argv``
    opened, in order, as the files reached (symlinks resolved): what ``scan -- CMD``
    scans. ``spec``: run that instead (``argv`` and the rest ignored). System calls only:
    no hook runs in the command."""
    if spec is None:
        spec = RunSpec(
            argv=tuple(argv),
            expose=tuple(expose),
            workdir=workdir,
            env=tuple((env or {}).items()),
            timeout=timeout,
        )
    return list(trace_run(spec, sandbox=sandbox, hooks=False).files_loaded)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m promptwitness.discover.trace --build-shim``: build the getenv shim
    into the cache (``scripts/setup.sh`` does). Prints its path, or why not (exit 0:
    tracing works without it, native programs' environment reads are then untraced)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args != ["--build-shim"]:
        print("usage: python -m promptwitness.discover.trace --build-shim", file=sys.stderr)
        return 2
    path, why = build_shim()
    print(path if path is not None else f"not built: {why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
