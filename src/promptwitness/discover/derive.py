"""From what was found to what to vary (sans-IO): factors and levels derived from a
scan's tables and reads and a traced run's observed inputs, and the coverage of every
input observed.

Rules:

- A lead is never a finding: this module only proposes factors and levels; the probe's
  runs and analysis decide (``discover.engine``).
- Every input observed (a variable read, a file read, a path probed, the zone, the host
  name, ...) gets one :class:`Input` in the coverage: the factor that varies it, or why
  nothing does (``why_not``). Inputs the probe sets itself map to their catalog factor
  (``TZ`` -> ``tz``, ``LANG`` -> ``locale``, a base-URL variable -> ``endpoint-host``).
- Value factors (hosts, zones, locales, host names, file contents) run one cell per
  derived level; binary inputs (a variable set or not, a path present or not) are
  screened by group testing (``Derived.binary``).
- Derived levels are bounded (``MAX_LEVELS`` per factor, ``MAX_BINARY`` binary inputs):
  what is cut is said in ``Derivation.notes``.
- Decoded tables rank before plain ones; levels keep the order they were found in.
"""

from __future__ import annotations

import posixpath
import re
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from promptwitness.discover.model import DecodedTable, Observed, Read, ScanReport
from promptwitness.errors import UsageError
from promptwitness.probe.factors import FACTORS, Selection, env_factor
from promptwitness.probe.factors import os_release as os_release_factor
from promptwitness.probe.factors.base import Factor, check_host
from promptwitness.probe.factors.env import UNSET
from promptwitness.probe.factors.inputs import (
    ABSENT,
    file_factor,
    normalise,
    path_factor,
)
from promptwitness.probe.spec import WORKDIR, RunSpec

__all__ = ["Derivation", "Derived", "Input", "derive", "env_value", "spread"]

MAX_LEVELS = 12
"""Derived levels per value factor, at most (besides the control)."""
MAX_BINARY = 1024
"""Binary inputs (variables, paths) screened, at most. Group tests make each one that
changes nothing cost a fraction of a run: Claude Code 2.1.91 reads or names 486."""

_RUNTIME_VARS = frozenset(
    {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "TERM",
        "TMPDIR",
        "PWD",
        "OLDPWD",
        "SHLVL",
        "NODE_OPTIONS",
        "NODE_PATH",
        "NODE_ENV",
        "NODE_EXTRA_CA_CERTS",
        "NODE_DEBUG",
        "NODE_V8_COVERAGE",
        "NODE_UNIQUE_ID",
        "NODE_CHANNEL_FD",
        "NODE_CHANNEL_SERIALIZATION_MODE",
        "NODE_PENDING_DEPRECATION",
        "NODE_NO_WARNINGS",
        "NODE_TLS_REJECT_UNAUTHORIZED",
        "NODE_ICU_DATA",
        "NODE_REPL_HISTORY",
        "UV_THREADPOOL_SIZE",
        "UV_USE_IO_URING",
        "LD_PRELOAD",
        "LD_LIBRARY_PATH",
        "LD_BIND_NOW",
        "MALLOC_ARENA_MAX",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONUNBUFFERED",
        "PYTHONIOENCODING",
        "PYTHONWARNINGS",
        "PYTHONSAFEPATH",
        "PYTHONNOUSERSITE",
        "PYTHONUTF8",
        "PYTHONHASHSEED",
        "PYTHONPYCACHEPREFIX",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "BUN_INSTALL",
        "DENO_DIR",
        "GODEBUG",
        "GOMAXPROCS",
        "RUST_BACKTRACE",
        "RUST_LOG",
    }
)
"""Variables that steer the runtime itself: set to anything they break the run or the
sandbox's trust setup; read, never varied (the coverage says so)."""

_RUNTIME_PREFIXES = (
    "LC_",
    "npm_",
    "PW_",
    "PYTHON",
    "__PYVENV",
    "NODE_",
    "UV_",
    "OPENSSL_",
    "LD_",
    "MALLOC_",
    "GLIBC_",
    "GCONV",
    "BUN_",
    "DENO_",
    "V8_",
    "GODEBUG",
)

_SCRATCH = frozenset(
    {"/tmp", "/var/tmp", "/run", "/var", "/home", "/root", WORKDIR, posixpath.dirname(WORKDIR)}
)
_PROBE_SPEC = RunSpec(argv=("true",))  # where a derived path factor is tried out

# Credentials and provider switches: set to a dummy, the agent signs in, or talks to
# another provider, or waits for one (an overt change of whom it talks to, and runs that
# hang until the timeout). Read, not varied by default; --vary-env varies one.
_CREDENTIAL = re.compile(
    r"(API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|_AUTH$|FILE_DESCRIPTOR"
    r"|_USE_(BEDROCK|VERTEX|FOUNDRY|AZURE|OPENAI|GEMINI|ANTHROPIC)$|^CLAUDE_CODE_USE_)",
    re.IGNORECASE,
)

# Variables the probe's catalog factors set: reading one is covered by that factor.
_CATALOG_VARS: dict[str, str] = {
    "TZ": "tz",
    "LANG": "locale",
    "LC_ALL": "locale",
    "LANGUAGE": "locale",
    "LC_MESSAGES": "locale",
    "LC_CTYPE": "locale",
    "LC_TIME": "locale",
    "HTTPS_PROXY": "proxy",
    "HTTP_PROXY": "proxy",
    "ALL_PROXY": "proxy",
    "NO_PROXY": "proxy",
    "https_proxy": "proxy",
    "http_proxy": "proxy",
    "all_proxy": "proxy",
    "no_proxy": "proxy",
    "USER": "user",
    "LOGNAME": "user",
    "HOME": "user",
    "HOSTNAME": "hostname",
    "npm_config_registry": "registry-mirror",
    "NPM_CONFIG_REGISTRY": "registry-mirror",
    "PIP_INDEX_URL": "registry-mirror",
}

# Files whose content a catalog factor writes: reading one is covered by that factor.
_CATALOG_FILES: dict[str, str] = {
    "/etc/timezone": "system-tz",
    "/etc/localtime": "system-tz",
    "/etc/hostname": "hostname",
    "/proc/sys/kernel/hostname": "hostname",
    "/etc/passwd": "user",
    "/etc/resolv.conf": "resolver",
    "/etc/os-release": "os-release",
    "/usr/lib/os-release": "os-release",
    "/etc/hosts": "endpoint-host",
    "~/.gitconfig": "git-email",
    "~/.config/git/config": "git-email",
    WORKDIR + "/.git/config": "git-remote",
    "~/.npmrc": "registry-mirror",
    "~/.pip/pip.conf": "registry-mirror",
    "~/.config/pip/pip.conf": "registry-mirror",
    "/etc/pip.conf": "registry-mirror",
}

# Paths read by every runtime for itself (shared libraries, locale data, certificates):
# not inputs an agent chooses to read.
_SYSTEM_PREFIXES = (
    "/usr/",
    "/lib",
    "/bin/",
    "/sbin/",
    "/proc/",
    "/sys/",
    "/dev/",
    "/etc/ld.so",
    "/etc/ssl/",
    "/etc/ca-certificates",
    "/etc/pki/",
    "/etc/alternatives/",
    "/etc/nsswitch.conf",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/etc/localtime",
    "/etc/mime.types",
    "/etc/group",
    "/etc/inputrc",
    "/etc/terminfo",
    "/etc/locale.alias",
    "/etc/python",
    "/etc/node",
    "/etc/npmrc",
    "/etc/gitconfig",
    "/etc/crypto-policies",
    "/etc/services",
    "/etc/protocols",
    "/etc/shells",
    "/etc/login.defs",
)
# a runtime's own places in the home (Python's user site, npm's and node's caches)
_HOME_RUNTIME = ("~/.local/lib/", "~/.npm/", "~/.node-gyp/", "~/.cache/node/", "~/.bun/")
_CODE_SUFFIXES = (
    ".js",
    ".mjs",
    ".cjs",
    ".json",
    ".node",
    ".py",
    ".pyc",
    ".so",
    ".wasm",
    ".ts",
    ".map",
)


@dataclass(frozen=True)
class Derived:
    """A factor to vary, with its levels (``levels[0]`` the control), whether it is a
    binary input (group-tested), and where it comes from (``sources``: short, human)."""

    selection: Selection
    binary: bool
    sources: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.selection.name


@dataclass
class Input:
    """One input observed: ``kind`` (``READ_KINDS``), ``name``; ``factor`` that varies
    it (``None``: nothing does, ``why_not`` says why); where it was seen."""

    kind: str
    name: str
    sources: list[str] = field(default_factory=list)
    factor: str | None = None
    why_not: str | None = None
    program: bool = False  # the program's own code or the runtime's files: not counted

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "sources": self.sources,
            "factor": self.factor,
            "why_not": self.why_not,
            "program": self.program,
        }


@dataclass
class Derivation:
    derived: list[Derived] = field(default_factory=list)
    inputs: list[Input] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def selection(self, name: str) -> Derived | None:
        return next((d for d in self.derived if d.name == name), None)

    def coverage_line(self) -> str:
        """``41 inputs read, 39 varied, 2 not variable`` (and how many of the program's
        own files and the runtime's were read besides: not inputs of the environment)."""
        env = [i for i in self.inputs if not i.program]
        varied = sum(1 for i in env if i.factor is not None)
        own = len(self.inputs) - len(env)
        return f"{len(env)} inputs read, {varied} varied, {len(env) - varied} not variable" + (
            f" (besides {own} files of the program and its runtime)" if own else ""
        )


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    try:
        return frozenset(zoneinfo.available_timezones())
    except Exception:  # noqa: BLE001 - no tzdata: no zone levels
        return frozenset()


_LOCALE = re.compile(r"^([a-z]{2,3})[_-]([A-Z]{2}|[A-Z][a-z]{3})(?:\.[A-Za-z0-9-]+)?(?:@\w+)?$")


def _locale_level(tag: str) -> str | None:
    m = _LOCALE.match(tag)
    if not m:
        return None
    return f"{m.group(1)}_{m.group(2)}.UTF-8"


def _host_levels(table: DecodedTable) -> list[str]:
    out: list[str] = []
    for s in table.strings:
        s = s.strip().lower()
        if not s or " " in s:
            continue
        if "://" in s:
            from urllib.parse import urlsplit

            try:
                s = urlsplit(s).hostname or ""
            except ValueError:
                continue
        suffix = s.startswith((".", "*."))
        s = s.lstrip("*").strip(".")
        if not s or "." not in s:
            continue
        if suffix or s.count(".") == 1:
            s = "api." + s  # a suffix or a registered domain: a host under it
        try:
            check_host(s)
        except ValueError:
            continue
        out.append(s)
    return out


_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(URL|ENDPOINT|BASE|HOST|DOMAIN|SERVER)$"), "url"),
    (re.compile(r"REGION"), "region"),
    (re.compile(r"(TZ|ZONE)$"), "zone"),
    (re.compile(r"(LANG|LOCALE|LANGUAGE)$"), "locale"),
    (re.compile(r"PROXY$"), "proxy"),
    (re.compile(r"(USER|USERNAME|ACCOUNT|LOGIN|EMAIL)$"), "user"),
    (re.compile(r"(PATH|FILE|DIR|HOME)$"), "path"),
    # a duration or a count: a generous one (``1`` ms of timeout fails every request)
    (
        re.compile(r"(TIMEOUT|_MS|_MILLIS|_SECONDS|_SECS|_TTL|_INTERVAL|_DELAY)$|TIMEOUT_"),
        "duration",
    ),
    (re.compile(r"(RETRIES|_RETRY|_ATTEMPTS|_MAX_TOKENS|_TOKENS|_LIMIT|_COUNT|_SIZE)$"), "count"),
)


def spread(items: Sequence[str], n: int) -> list[str]:
    """``n`` of ``items`` evenly spread over them, first and last included, in order (a
    decoded table is often grouped: the first ``n`` would all be of one kind)."""
    if len(items) <= n:
        return list(items)
    if n == 1:
        return [items[0]]
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)]


def env_value(name: str, hosts: Sequence[str] = (), strings: Sequence[str] = ()) -> str:
    """A value of the right shape for the variable ``name`` (upper-cased for the
    match): a URL on a decoded host for ``*_URL``/``*_HOST``, a region, a zone, ..., a
    generous duration or count (a timeout of 1 ms breaks every run), and ``1`` for flags
    and anything else."""
    up = name.upper()
    for pattern, shape in _SHAPES:
        if pattern.search(up):
            if shape == "url":
                host = hosts[0] if hosts else "gateway.example.cn"
                return host if up.endswith(("HOST", "DOMAIN")) else f"https://{host}"
            if shape == "region":
                return next(
                    (s for s in strings if re.fullmatch(r"[a-z]{2}-[a-z]+-\d", s)), "cn-north-1"
                )
            if shape == "zone":
                return "Asia/Shanghai"
            if shape == "locale":
                return "zh_CN.UTF-8"
            if shape == "proxy":
                return "http://proxy.corp.internal:3128"
            if shape == "user":
                return "zhangwei@corp.example.cn" if up.endswith("EMAIL") else "zhangwei"
            if shape == "path":
                return "/tmp/pw-discover"
            if shape == "duration":
                return "600000" if up.endswith(("MS", "MILLIS")) or "TIMEOUT" in up else "600"
            if shape == "count":
                return "8" if "RETR" in up or "ATTEMPT" in up else "4096"
    return "1"


class _Builder:
    def __init__(
        self,
        home: str,
        base_url_vars: Iterable[str],
        expose: Iterable[str],
        set_vars: Iterable[str],
    ) -> None:
        self.home = home.rstrip("/")
        self.base_url_vars = set(base_url_vars)
        self.expose = tuple(p.rstrip("/") + "/" for p in expose)
        self.set_vars = set(set_vars)
        self.inputs: dict[tuple[str, str], Input] = {}
        self.values: dict[str, list[str]] = {}  # catalog factor -> derived levels
        self.value_src: dict[str, list[str]] = {}
        self.env: dict[str, list[str]] = {}  # variable -> sources
        self.paths: dict[str, tuple[str, list[str]]] = {}  # path -> (level, sources)
        self.files: dict[str, list[str]] = {}  # file path -> sources
        self.hosts: list[str] = []
        self.strings: list[str] = []
        self.keywords: list[str] = []  # strings of keyword-only tables: values
        self.notes: list[str] = []

    # -- inputs ----------------------------------------------------------------------

    def input(self, kind: str, name: str, source: str) -> Input:
        key = (kind, name)
        item = self.inputs.get(key)
        if item is None:
            item = self.inputs[key] = Input(kind, name)
        if source not in item.sources and len(item.sources) < 5:
            item.sources.append(source)
        return item

    def level(self, factor: str, level: str, source: str) -> None:
        levels = self.values.setdefault(factor, [])
        if level not in levels and level != FACTORS[factor].control:
            levels.append(level)
        src = self.value_src.setdefault(factor, [])
        if source not in src and len(src) < 5:
            src.append(source)

    def local(self, path: str) -> str | None:
        """A path as a factor names it (``~/`` for the run's home), or None."""
        if path.startswith(self.home + "/"):
            path = "~/" + path[len(self.home) + 1 :]
        elif path.startswith("~/"):
            pass
        elif path.startswith("$HOME/"):
            path = "~/" + path[6:]
        elif not path.startswith("/"):
            return None
        elif path.startswith(WORKDIR + "/"):  # the project: shown, named as it is
            return posixpath.normpath(path)
        try:
            return normalise(path)
        except Exception:  # noqa: BLE001 - a path a run cannot hold
            return None

    # -- tables ----------------------------------------------------------------------

    def table(self, t: DecodedTable) -> None:
        where = f"{'+'.join(t.encoding)} table at {t.location}"
        kinds = set(t.kinds)
        if kinds & {"host", "host-suffix", "url"}:
            for h in _host_levels(t):
                if h not in self.hosts:
                    self.hosts.append(h)
                self.level("endpoint-host", h, where)
                self.level("proxy", "proxy." + h.removeprefix("api."), where)
        for s in t.strings:
            s = s.strip()
            self.strings.append(s)
            if "zone" in kinds and s in _zones():
                self.level("tz", s, where)
                self.level("system-tz", s, where)
            if "locale" in kinds and (loc := _locale_level(s)):
                self.level("locale", loc, where)
            if "distro" in kinds:
                ident = s.lower()
                for lv in os_release_factor.LEVELS:
                    if lv.split("-")[0] == ident or lv == ident:
                        self.level("os-release", lv, where)
            if "env-var" in kinds and re.fullmatch(r"[A-Z_][A-Z0-9_]{2,}", s):
                self.var(s, where)
            if "path" in kinds and (p := self.local(s)):
                self.path(p, ABSENT, where)
        if kinds == {"keyword"}:
            self.keywords += [s.strip() for s in t.strings]
            for s in t.strings[:MAX_LEVELS]:
                kw = re.sub(r"[^a-z0-9-]", "", s.lower())[:40].strip("-")
                if kw:
                    self.level("hostname", f"{kw}-devbox", where)
                    self.level("endpoint-host", f"api.{kw}.com", where)

    # -- reads -----------------------------------------------------------------------

    def var(self, name: str, source: str) -> None:
        item = self.input("env", name, source)
        if name in _CATALOG_VARS:
            item.factor = _CATALOG_VARS[name]
        elif name in self.base_url_vars:
            item.factor = "endpoint-host"
        elif name in _RUNTIME_VARS or name.startswith(_RUNTIME_PREFIXES):
            item.why_not = "steers the runtime or the sandbox: not varied"
        elif name in self.set_vars:
            item.why_not = "set by the probe itself (a dummy key or the profile)"
        elif _CREDENTIAL.search(name):
            item.why_not = (
                "a credential or a provider switch (set, the agent signs in or "
                "talks to another provider): not varied; --vary-env varies it"
            )
        else:
            item.factor = "env:" + name
            srcs = self.env.setdefault(name, [])
            if source not in srcs and len(srcs) < 5:
                srcs.append(source)

    def path(self, path: str, level: str, source: str, kind: str = "path") -> None:
        item = self.input(kind, path, source)
        catalog = _CATALOG_FILES.get(path)
        if catalog is not None:
            item.factor = catalog
            return
        if path.startswith(WORKDIR + "/") or path == WORKDIR:
            item.why_not = "the project (the working directory, --workdir): not varied"
            return
        if (
            path.startswith(self.expose)
            or path.endswith(_CODE_SUFFIXES)
            or "/node_modules/" in path
            or "/__pycache__/" in path
            or path.startswith(_HOME_RUNTIME)
        ):
            item.why_not = "the program's own code or data: not an input of the environment"
            item.program = True
            return
        if any(e.startswith(path.rstrip("/") + "/") for e in self.expose):
            item.why_not = "a directory above the program's own files: not varied"
            item.program = True
            return
        if path.startswith(_SYSTEM_PREFIXES):
            item.why_not = "a system file every runtime reads: not varied"
            item.program = True
            return
        if path.startswith(("/tmp/", "/var/tmp/", "/run/")) or path in _SCRATCH:
            item.why_not = "scratch space of the run: not varied"
            return
        item.factor = "path:" + path
        prev = self.paths.get(path)
        srcs = prev[1] if prev else []
        if source not in srcs and len(srcs) < 5:
            srcs.append(source)
        self.paths[path] = (level if prev is None else prev[0], srcs)

    def file(self, path: str, source: str) -> None:
        item = self.input("file", path, source)
        catalog = _CATALOG_FILES.get(path)
        if catalog is not None:
            item.factor = catalog
            return
        if path.startswith(WORKDIR + "/"):
            item.why_not = "the project (the working directory, --workdir): not varied"
            return
        if (
            path.startswith(self.expose)
            or path.endswith(_CODE_SUFFIXES)
            or "/node_modules/" in path
            or path.startswith(_SYSTEM_PREFIXES)
        ):
            item.why_not = "the program's own code, or a system file every runtime reads"
            item.program = True
            return
        if path.startswith(("/tmp/", "/var/tmp/", "/run/")) or path in _SCRATCH:
            item.why_not = "scratch space of the run: not varied"
            return
        if not (path.startswith(("/etc/", "~/"))):
            item.why_not = "outside /etc and the home: read, not varied (no content catalog)"
            return
        item.factor = "file:" + path
        srcs = self.files.setdefault(path, [])
        if source not in srcs and len(srcs) < 5:
            srcs.append(source)

    def read(self, kind: str, name: str, source: str, present: bool | None = None) -> None:
        if kind == "env":
            if name and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                self.var(name, source)
        elif kind in ("file", "path"):
            p = self.local(name)
            if p is None:
                return
            if kind == "file" and present is None and source.startswith("traced:"):
                # created by the run (or refused): an output, not an input
                self.input(
                    "file", p, source
                ).why_not = "created by the run itself (an output, not an input): not varied"
            elif kind == "file":  # read, or opened and absent: its content is varied
                self.file(p, source)
            else:
                self.path(p, "dir" if "getdents" in source else ABSENT, source, kind="path")
        elif kind == "zone":
            self.input("zone", name or "zone", source).factor = "tz, system-tz"
        elif kind == "locale":
            self.input("locale", name or "locale", source).factor = "locale"
        elif kind == "hostname":
            self.input("hostname", name or "hostname", source).factor = "hostname"
        elif kind == "user":
            self.input("user", name or "user", source).factor = "user"
        elif kind == "netif":
            self.input(
                "netif", name or "interfaces", source
            ).why_not = "the run's network has loopback only: its interfaces are not varied"
        elif kind == "dns":
            item = self.input("dns", name, source)
            item.factor = "endpoint-host" if name in self.hosts else None
            if item.factor is None:
                item.why_not = (
                    "a name resolved: answered by hermetic mode's DNS, or refused; not varied"
                )
        elif kind == "socket":
            self.input("socket", name, source).why_not = "a connection: captured, not varied"


_FORMATS: dict[str, str] = {  # a value written as a file of that format can parse
    ".json": '{{"value": "{v}"}}\n',
    ".toml": 'value = "{v}"\n',
    ".yaml": "value: {v}\n",
    ".yml": "value: {v}\n",
    ".ini": "[default]\nvalue = {v}\n",
    ".env": "VALUE={v}\n",
}


def _file_contents(
    values: Sequence[str], strings: Sequence[str], path: str = ""
) -> dict[str, bytes]:
    """Contents for a file read (or opened and absent) under /etc or the home: decoded
    values of keyword tables first, then other decoded strings that look like values
    (short, no spaces), at most 4; else one generic marker. A file whose name says its
    format (``.json``, ``.toml``, ``.yaml``, ``.ini``, ``.env``) holds the value in that
    format, so that a parser reads it instead of failing on it."""
    form = next((f for suffix, f in _FORMATS.items() if path.endswith(suffix)), "{v}\n")
    out: dict[str, bytes] = {}
    for s in (*values, *strings):
        if len(out) >= 4:
            break
        if 2 <= len(s) <= 64 and re.fullmatch(r"[\w.:@+-]+", s):
            out.setdefault(f"text:{s}", form.format(v=s).encode())
    if not out:
        out["text:corp"] = form.format(v="corp").encode()
    return out


def derive(
    scan: ScanReport | None,
    observed: Sequence[Observed] = (),
    *,
    home: str = "/home/dev",
    base_url_vars: Iterable[str] = (),
    expose: Iterable[str] = (),
    set_vars: Iterable[str] = (),
    catalog: Mapping[str, Sequence[str]] | None = None,
) -> Derivation:
    """Factors and levels from a scan and a traced run, and the coverage of every input.

    ``catalog``: factor -> levels of catalog factors to add in any case (e.g. the zone
    is read: ``tz`` gets its derived levels, or else a few default ones)."""
    b = _Builder(home, base_url_vars, expose, set_vars)
    tables: list[DecodedTable] = []
    reads: list[Read] = []
    if scan is not None:
        tables = sorted(scan.tables, key=lambda t: t.encoding == ("plain",))
        reads = list(scan.reads)
    for t in tables:
        b.table(t)
    for r in reads:
        b.read(r.kind, r.name, f"code: {r.location}")
    for o in observed:
        b.read(o.kind, o.name, f"traced: {o.how or o.kind}", o.present)

    out = Derivation(notes=b.notes)
    # value factors of the catalog, with derived levels (the catalog's control first)
    for name, levels in b.values.items():
        f = FACTORS[name]
        if len(levels) > MAX_LEVELS:
            out.notes.append(
                f"{name}: {len(levels)} levels derived, {MAX_LEVELS} spread "
                "over them varied (the first, the last, evenly between)"
            )
            levels = spread(levels, MAX_LEVELS)
        chosen = (f.control, *levels)
        ok = []
        for lv in chosen:
            try:
                f.check(lv)
            except Exception:  # noqa: BLE001, S112 - a derived level the factor refuses
                continue
            ok.append(lv)
        if len(ok) >= 2:
            out.derived.append(
                Derived(Selection(f, tuple(ok)), False, tuple(b.value_src.get(name, ())))
            )
    for name, extra in (catalog or {}).items():
        if out.selection(name) is None and name in FACTORS and len(extra) >= 2:
            out.derived.append(
                Derived(
                    Selection(FACTORS[name], tuple(extra)),
                    False,
                    ("an input this factor covers was read",),
                )
            )
    # catalog factors whose inputs were read (the zone, the host name, /etc/os-release,
    # ...) and got no derived level: their default levels, so every input read is varied
    read_by: dict[str, list[str]] = {}
    for item in b.inputs.values():
        for name in (item.factor or "").split(", "):
            if name in FACTORS:
                srcs = read_by.setdefault(name, [])
                if len(srcs) < 5:
                    srcs.append(f"read: {item.kind} {item.name}")
    for name, srcs in read_by.items():
        if out.selection(name) is None and len(FACTORS[name].levels) >= 2:
            out.derived.append(
                Derived(Selection(FACTORS[name], FACTORS[name].levels), False, tuple(srcs))
            )

    def makeable(f: Factor) -> bool:
        """Every level of ``f`` can be made in a run; else the input says why not."""
        try:
            for level in f.levels:
                f.apply(_PROBE_SPEC, level)
        except UsageError as exc:
            for item in b.inputs.values():
                if item.factor == f.name:
                    item.factor, item.why_not = None, f"cannot be made in a run: {exc}"
            return False
        return True

    # files under /etc and the home: contents
    seen = [name for (kind, name) in b.inputs if kind in ("file", "path")]
    for path, srcs in b.files.items():
        if any(q.startswith(path + "/") for q in seen):  # opened, but a directory
            for item in b.inputs.values():
                if item.factor == "file:" + path:
                    item.factor, item.why_not = (
                        None,
                        ("a directory (paths under it were read: they are the inputs)"),
                    )
            continue
        contents = _file_contents(b.keywords, b.strings, path)
        f = file_factor(path, contents)
        if makeable(f):
            out.derived.append(Derived(Selection(f, f.levels), False, tuple(srcs)))
    # binary inputs: variables and paths
    binary: list[Derived] = []
    for var, srcs in b.env.items():
        value = env_value(var, b.hosts, b.strings)
        binary.append(
            Derived(Selection(env_factor(var, (UNSET, value)), (UNSET, value)), True, tuple(srcs))
        )
    made = [*b.paths, *b.files]
    for path, (level, srcs) in b.paths.items():
        # listed, or above another path made in a run: a directory
        above = any(q.startswith(path.rstrip("/") + "/") for q in made)
        present = "dir" if level == "dir" or above else "file"
        f = path_factor(path, (ABSENT, present))
        if makeable(f):
            binary.append(Derived(Selection(f, f.levels), True, tuple(srcs)))
    if len(binary) > MAX_BINARY:
        out.notes.append(f"{len(binary)} binary inputs derived, the first {MAX_BINARY} screened")
        for d in binary[MAX_BINARY:]:
            for item in b.inputs.values():
                if item.factor == d.name:
                    item.factor, item.why_not = None, f"beyond the first {MAX_BINARY} screened"
        binary = binary[:MAX_BINARY]
    out.derived += binary
    out.inputs = sorted(b.inputs.values(), key=lambda i: (i.kind, i.name))
    return out
