"""``scan``: static discovery of what an agent's code reads and hides (no printing).

``scan(target)`` reads the target's texts (``discover.sources``: files, embedded
modules of single-file executables, archive members, printable strings of binaries)
and, per text:

1. **decoded tables**: ``decode.decode_text`` with a :class:`~decode.Budget` per text
   whose deadline is the scan's; a result is kept when ``classify.interesting`` says
   its strings are (``kinds`` from ``classify_strings``);
2. **plain tables**: a list literal (``[...]``, ``(...)``, ``{...}``) of at least
   three quoted strings written in clear, of which at least three and at least two
   thirds classify as ``host``, ``host-suffix``, ``zone``, ``locale``, ``ip`` or
   ``distro`` (a string whose last label is a common file extension, ``.so``, does
   not count); in binary strings, three or more strings on consecutive lines that are
   hosts, host suffixes, IP networks or distributions (the locale and zone lists of
   ICU and tz data are in every runtime). Encoding ``("plain",)``;
3. **look-alikes** (``discover.lookalikes``) and **reads** (``discover.reads``).

Deduplication, over the whole target: identical tables (same encoding chain and
strings) are one, at their first location; look-alikes by literal and code points;
reads by ``(kind, name)``. How many times each was seen, and the first
``MAX_LOCATIONS`` locations of a read, are in ``ScanReport.extra`` (``counts``,
``read_locations``), beside ``bytes`` read, ``formats`` (files per format) and
``decode`` (the budgets' counters).

Bounds: ``max_seconds`` (one deadline for reading and decoding: what is left when it
passes is named in a note), ``max_bytes`` (sources), a decode budget per text. Any
failure inside one text (hostile input) is a note naming the text; nothing raises
except a TARGET that does not exist (``UsageError``).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from promptwitness.discover.classify import classify, classify_strings, interesting
from promptwitness.discover.decode import Budget, decode_text
from promptwitness.discover.lookalikes import find_lookalikes
from promptwitness.discover.model import (
    DecodedTable,
    Location,
    Lookalike,
    Read,
    ScanReport,
)
from promptwitness.discover.reads import find_reads
from promptwitness.discover.sources import Limits, Piece, Sources, Target

__all__ = ["MAX_LOCATIONS", "PLAIN_KINDS", "plain_tables", "scan"]

Progress = Callable[[str, Mapping[str, Any]], None]

MAX_LOCATIONS = 5
PLAIN_KINDS = frozenset({"host", "host-suffix", "zone", "locale", "ip", "distro"})
BINARY_PLAIN_KINDS = frozenset({"host", "host-suffix", "ip", "distro"})
"""In binary strings: locale and zone lists are the ICU and tz data every runtime
carries, and tell nothing about the agent."""
FILE_SUFFIXES = frozenset(
    {
        "so",
        "in",
        "sh",
        "pl",
        "rs",
        "md",
        "py",
        "zip",
        "mov",
        "pm",
        "cc",
        "am",
        "ac",
        "ps",
        "gz",
        "xz",
        "bz2",
    }
)
"""Last labels that are far more often file extensions (``libglib-2.0.so``,
``pyx.in``): such a string does not count towards a plain table of hosts."""
CONTEXT = 80
MAX_TABLES = 5_000

_ITEM = r"(?:\"[^\"\\\n]{1,253}\"|'[^'\\\n]{1,253}')"
_LIST = re.compile(r"[\[({]\s*(" + _ITEM + r"(?:\s*,\s*" + _ITEM + r"){2,})\s*,?\s*[\])}]")
_ITEM_RE = re.compile(_ITEM)


def _excerpt(text: str, start: int, end: int) -> str:
    a = max(0, start - CONTEXT // 2)
    b = min(len(text), max(end, start) + CONTEXT // 2, a + 2 * CONTEXT)
    return "".join(c if c.isprintable() else " " for c in text[a:b])


def _plain_kinds(s: str, kinds: frozenset[str] = PLAIN_KINDS) -> frozenset[str]:
    if s.rsplit(".", 1)[-1] in FILE_SUFFIXES:
        return frozenset()
    return classify(s) & kinds


def _table_like(strings: list[str]) -> bool:
    good = sum(1 for s in strings if _plain_kinds(s))
    return good >= 3 and 3 * good >= 2 * len(strings)


def plain_tables(text: str, fmt: str) -> Iterator[tuple[int, int, tuple[str, ...]]]:
    """(start, end, strings) of the plain string tables of ``text`` (module docstring)."""
    if fmt == "binary-strings":
        yield from _plain_lines(text)
        return
    for m in _LIST.finditer(text):
        body = m.group(1)
        items = [x[1:-1] for x in _ITEM_RE.findall(body)]
        # cheap first: a table of hosts, zones or locales has dots, slashes, dashes
        if sum(1 for s in items if any(c in s for c in "./-_:") or s.isalpha()) < 3:
            continue
        if _table_like(items):
            yield m.start(), m.end(), tuple(items)


def _plain_lines(text: str) -> Iterator[tuple[int, int, tuple[str, ...]]]:
    run: list[str] = []
    run_start = 0
    pos = 0
    n = len(text)
    while pos <= n:
        nl = text.find("\n", pos)
        end = n if nl < 0 else nl
        line = text[pos:end]
        ok = (
            0 < len(line) <= 253
            and (any(c in line for c in "./-_:"))
            and bool(_plain_kinds(line, BINARY_PLAIN_KINDS))
        )
        if ok:
            if not run:
                run_start = pos
            run.append(line)
        else:
            if len(run) >= 3:
                yield run_start, pos - 1, tuple(run)
            run = []
        if nl < 0:
            break
        pos = end + 1
    if len(run) >= 3:
        yield run_start, n, tuple(run)


class _Collector:
    """Deduplicated findings of the whole target, in the order first found."""

    def __init__(self) -> None:
        self.tables: dict[tuple[tuple[str, ...], tuple[str, ...]], DecodedTable] = {}
        self.table_counts: Counter[tuple[tuple[str, ...], tuple[str, ...]]] = Counter()
        self.lookalikes: dict[tuple[str, tuple[str, ...]], Lookalike] = {}
        self.lookalike_counts: Counter[tuple[str, tuple[str, ...]]] = Counter()
        self.reads: dict[tuple[str, str], Read] = {}
        self.read_counts: Counter[tuple[str, str]] = Counter()
        self.read_locations: dict[tuple[str, str], list[Location]] = {}

    def table(self, t: DecodedTable) -> None:
        key = (t.encoding, t.strings)
        self.table_counts[key] += 1
        if key not in self.tables and len(self.tables) < MAX_TABLES:
            self.tables[key] = t

    def lookalike(self, x: Lookalike) -> None:
        key = (x.literal, x.code_points)
        self.lookalike_counts[key] += 1
        self.lookalikes.setdefault(key, x)

    def read(self, r: Read) -> None:
        key = (r.kind, r.name)
        self.read_counts[key] += 1
        self.reads.setdefault(key, r)
        locs = self.read_locations.setdefault(key, [])
        if len(locs) < MAX_LOCATIONS and r.location not in locs:
            locs.append(r.location)


def scan(
    target: str | Target,
    *,
    max_seconds: float | None = 300.0,
    max_bytes: int | None = None,
    all_strings: bool = False,
    budget: Callable[[], Budget] | None = None,
    progress: Progress | None = None,
) -> ScanReport:
    """Scan ``target`` (a path, ``AGENT@VERSION``, or a resolved
    :class:`~sources.Target`) and report what it found (module docstring).

    ``budget``: a factory of the decode budget of each text (its deadline is set to the
    scan's); ``progress(event, info)``: ``file`` (a file or embedded module begins:
    ``path``, ``format``, ``size``, ``bytes``), ``progress`` (a chunk of a large
    binary: ``path``, ``done``, ``size``), ``piece`` (a text analysed: ``name``,
    ``format``, ``chars``), ``done``."""
    started = time.monotonic()
    deadline = started + max_seconds if max_seconds is not None else None
    defaults = Limits()
    limits = Limits(
        max_bytes=max_bytes if max_bytes is not None else defaults.max_bytes,
        all_strings=all_strings,
    )
    sources = Sources(target, limits=limits, deadline=deadline, progress=progress)
    found = _Collector()
    notes: list[str] = []
    spent: Counter[str] = Counter()
    formats: Counter[str] = Counter()
    failed = 0
    for piece in sources:
        try:
            _analyse(piece, found, deadline, budget, spent, notes)
        except (Exception, RecursionError) as exc:  # noqa: BLE001 - hostile input: a note
            failed += 1
            if failed <= 20:
                notes.append(
                    f"{piece.name}: analysis stopped ({type(exc).__name__}: {str(exc)[:120]})"
                )
        if progress is not None:
            progress(
                "piece", {"name": piece.name, "format": piece.format, "chars": len(piece.text)}
            )
    if failed > 20:
        notes.append(f"{failed - 20} more texts whose analysis stopped")
    for f in sources.files:
        formats[f.format] += 1
    seconds = time.monotonic() - started
    report = ScanReport(
        target=sources.target.spec,
        files=tuple(sources.files),
        tables=tuple(found.tables.values()),
        lookalikes=tuple(found.lookalikes.values()),
        reads=tuple(found.reads.values()),
        notes=tuple(sources.notes + notes),
        seconds=seconds,
        extra={
            "counts": {
                "tables": [found.table_counts[k] for k in found.tables],
                "lookalikes": [found.lookalike_counts[k] for k in found.lookalikes],
                "reads": [found.read_counts[k] for k in found.reads],
            },
            "read_locations": [
                [loc.to_json() for loc in found.read_locations[k]] for k in found.reads
            ],
            "bytes": sources.bytes_read,
            "formats": dict(formats.most_common()),
            "decode": dict(spent),
        },
    )
    if progress is not None:
        progress("done", {"seconds": seconds, "bytes": sources.bytes_read})
    return report


def _analyse(
    piece: Piece,
    found: _Collector,
    deadline: float | None,
    budget: Callable[[], Budget] | None,
    spent: Counter[str],
    notes: list[str],
) -> None:
    text = piece.text
    if not text:
        return
    b = budget() if budget is not None else Budget()
    if deadline is not None:
        b.deadline = deadline if b.deadline is None else min(b.deadline, deadline)
    for d in decode_text(text, b):
        if interesting(d.strings):
            found.table(
                DecodedTable(
                    encoding=d.encoding,
                    strings=d.strings,
                    location=piece.location(d.start),
                    context=_excerpt(text, d.start, d.end),
                    kinds=classify_strings(d.strings),
                )
            )
    spent["candidates"] += b.candidates
    spent["produced"] += b.produced
    spent["bombs"] += b.bombs
    spent["oversized"] += b.oversized
    if b.exhausted and b.reason != "deadline":
        notes.append(f"{piece.name}: decoding stopped early ({b.reason} limit)")
    elif b.exhausted and not spent["deadline"]:
        spent["deadline"] += 1
        notes.append(
            f"{piece.name}: the time limit passed while decoding it; what follows was not scanned"
        )
    if b.bombs:
        notes.append(f"{piece.name}: {b.bombs} decompression bomb(s) dropped")
    for start, end, strings in plain_tables(text, piece.format):
        found.table(
            DecodedTable(
                encoding=("plain",),
                strings=strings,
                location=piece.location(start),
                context=_excerpt(text, start, end),
                kinds=classify_strings(strings),
            )
        )
    for x in find_lookalikes(text, piece.format, piece.location):
        found.lookalike(x)
    for r in find_reads(text, piece.format, piece.location):
        found.read(r)
