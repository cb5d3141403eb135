"""Unicode TS#39 confusable skeletons (sans-IO apart from reading packaged data).

The mapping is Unicode's ``confusables.txt`` (``analysis/data/``, version in its
header, Unicode License v3 in ``analysis/data/LICENSE``). It is read once, lazily,
from the installed package (``importlib.resources``): static data, not IO on the
caller's behalf.

``skeleton(text)`` follows UTS #39 section 4 (Unicode 15.1+): NFD, drop
default-ignorable code points, replace each code point by its prototype, NFD again.
One addition, documented here because TS#39 leaves it out: full-width and half-width
forms (decomposition tag ``<wide>`` / ``<narrow>``, from ``unicodedata``) are folded
to their ordinary form first, because ``ａ``/``１``/``，`` are look-alikes of
``a``/``1``/``,`` for a reader even where the table omits them. Nothing is derived by
hand.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from importlib import resources

import regex

__all__ = ["confusable", "data_version", "prototype", "skeleton"]

_DATA = "confusables.txt"
_IGNORABLE = regex.compile(r"\p{Default_Ignorable_Code_Point}+")


def _read() -> str:
    return (resources.files("promptwitness.analysis") / "data" / _DATA).read_text("utf-8")


@cache
def _table() -> dict[str, str]:
    table: dict[str, str] = {}
    for line in _read().splitlines():
        body = line.split("#", 1)[0].strip()
        if not body:
            continue
        fields = [f.strip() for f in body.split(";")]
        if len(fields) < 2:
            continue
        src = "".join(chr(int(h, 16)) for h in fields[0].split())
        dst = "".join(chr(int(h, 16)) for h in fields[1].split())
        if len(src) == 1:
            table[src] = dst
    return table


@cache
def data_version() -> str:
    """The ``Version:`` line of the packaged confusables.txt, e.g. ``17.0.0``."""
    for line in _read().splitlines()[:20]:
        if line.startswith("# Version:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def _fold_width(ch: str) -> str:
    dec = unicodedata.decomposition(ch)
    if dec.startswith(("<wide>", "<narrow>")):
        return "".join(chr(int(h, 16)) for h in dec.split()[1:])
    return ch


def prototype(ch: str) -> str:
    """The TS#39 prototype of one code point (itself when it has none)."""
    table = _table()
    got = table.get(ch)
    if got is not None:
        return got
    folded = _fold_width(ch)
    if folded != ch:
        return "".join(table.get(c, c) for c in folded)
    return ch


def skeleton(text: str) -> str:
    """The TS#39 skeleton of ``text`` (with width folding, see the module doc)."""
    nfd = _IGNORABLE.sub("", unicodedata.normalize("NFD", text))
    return unicodedata.normalize("NFD", "".join(prototype(c) for c in nfd))


def confusable(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ but share a skeleton: a reader can't tell them apart."""
    return a != b and skeleton(a) == skeleton(b)
