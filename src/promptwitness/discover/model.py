"""Value types of discovery (sans-IO): what ``scan`` finds in code, what a traced run
observes, and what ``discover`` derives from both.

Static discovery (``discover.scan``) reads code and yields :class:`Finding` values of
three sorts: decoded string tables (:class:`DecodedTable`), look-alike or invisible code
points in string literals (:class:`Lookalike`) and environment reads in the code
(:class:`Read`). Dynamic discovery (``discover.trace``) runs the command once in the
sandbox and yields :class:`Observed` inputs. ``discover.derive`` turns both into
factors and levels; the probe confirms them.

Rules: frozen, hashable values; no IO; ``to_json`` gives the public form (the scan
report's ``promptwitness/scan-report/v1`` and the discover section of the probe report).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "KINDS",
    "READ_KINDS",
    "OBSERVED_KINDS",
    "DecodedTable",
    "Location",
    "Lookalike",
    "Observed",
    "Read",
    "ScanReport",
    "ScannedFile",
]

KINDS = (
    "host",  # a full host name: api.example.cn
    "host-suffix",  # a suffix or domain part that matches hosts: .example.cn, example.cn
    "url",  # http(s)://...
    "ip",  # IPv4 / IPv6 address or network
    "zone",  # an IANA zone name: Asia/Shanghai
    "locale",  # a locale tag: zh_CN.UTF-8, zh-CN
    "env-var",  # an environment variable name: ANTHROPIC_BASE_URL
    "path",  # a file path: /etc/os-release, ~/.npmrc
    "distro",  # a distribution id: ubuntu, uos, kylin, openEuler
    "keyword",  # a short word of a keyword list (no other kind)
)
"""What a string found (decoded or plain) is classified as (``discover.classify``)."""

READ_KINDS = (
    "env",  # an environment variable read by name
    "zone",  # the time zone is looked up (Intl, TZ, /etc/localtime)
    "locale",  # the locale is looked up
    "hostname",  # the host name is queried
    "user",  # the user name / uid / home is queried
    "netif",  # network interfaces are listed
    "file",  # a file is read
    "path",  # a path is probed (exists, stat, readdir)
    "dns",  # a name is resolved
    "socket",  # a socket is opened / connected
)
"""What a read in the code (static) or an observed input (traced) is about."""

OBSERVED_KINDS = READ_KINDS


@dataclass(frozen=True)
class Location:
    """Where something was found: a file (inside the target; for a member of an
    archive or an executable's embedded source ``outer!inner``), a byte or character
    offset in the text that was scanned, and a 1-based line when known."""

    file: str
    offset: int = 0
    line: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"file": self.file, "offset": self.offset}
        if self.line is not None:
            out["line"] = self.line
        return out

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else f"{self.file}@{self.offset}"


@dataclass(frozen=True)
class DecodedTable:
    """Strings hidden behind one or more encodings.

    ``encoding`` is the chain, outermost first, e.g. ``("base64", "xor:5a", "zlib")``
    (``"plain"`` alone for a plain string table that classified as interesting);
    ``strings`` the decoded strings in order; ``kinds`` the kinds of ``KINDS`` any of
    them classified as; ``context`` a short printable excerpt around the source."""

    encoding: tuple[str, ...]
    strings: tuple[str, ...]
    location: Location
    context: str = ""
    kinds: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "encoding": list(self.encoding),
            "strings": list(self.strings),
            "kinds": list(self.kinds),
            "location": self.location.to_json(),
            "context": self.context,
        }


@dataclass(frozen=True)
class Lookalike:
    """A string literal holding a look-alike or invisible code point (raw or escaped).

    ``code_points`` are ``U+XXXX`` strings in order of appearance; ``escaped`` says the
    literal wrote them as escapes (``\\u2019``); ``literal`` is the literal's text
    (shortened), ``context`` the code around it."""

    literal: str
    code_points: tuple[str, ...]
    location: Location
    escaped: bool = False
    context: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "literal": self.literal,
            "code_points": list(self.code_points),
            "escaped": self.escaped,
            "location": self.location.to_json(),
            "context": self.context,
        }


@dataclass(frozen=True)
class Read:
    """An environment read found in the code: ``kind`` of ``READ_KINDS``, ``name`` (the
    variable's name, the file's path, ``""`` when the kind says it all)."""

    kind: str
    name: str
    location: Location
    context: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "location": self.location.to_json(),
            "context": self.context,
        }


@dataclass(frozen=True)
class Observed:
    """An input one traced run observed: ``kind`` of ``OBSERVED_KINDS``; ``name`` the
    path, variable, DNS name or address; ``present`` whether the path existed / the
    variable was set (``None`` when it does not apply); ``how`` the syscall or runtime
    hook that saw it (``openat``, ``stat``, ``getdents``, ``process.env``, ``getenv``,
    ``os.environ``, ``uname``, ``sendto``...)."""

    kind: str
    name: str
    present: bool | None = None
    how: str = ""
    count: int = 1

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "present": self.present,
            "how": self.how,
            "count": self.count,
        }


@dataclass(frozen=True)
class ScannedFile:
    """One file (or embedded source) the scan read: its ``format`` (``js``,
    ``js-bundle``, ``bun-executable``, ``node-sea``, ``pkg-executable``, ``python``,
    ``binary-strings``, ...), bytes read, and a note when it was cut short."""

    path: str
    format: str
    size: int
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "format": self.format, "size": self.size}
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class ScanReport:
    """Everything ``scan`` found in one target."""

    target: str
    files: tuple[ScannedFile, ...] = ()
    tables: tuple[DecodedTable, ...] = ()
    lookalikes: tuple[Lookalike, ...] = ()
    reads: tuple[Read, ...] = ()
    notes: tuple[str, ...] = ()  # limits hit, files skipped and why
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    SCHEMA = "promptwitness/scan-report/v1"

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": self.SCHEMA,
            "target": self.target,
            "files": [f.to_json() for f in self.files],
            "tables": [t.to_json() for t in self.tables],
            "lookalikes": [x.to_json() for x in self.lookalikes],
            "reads": [r.to_json() for r in self.reads],
            "notes": list(self.notes),
            "seconds": round(self.seconds, 3),
            **({"counts": self.extra["counts"]} if "counts" in self.extra else {}),
        }
