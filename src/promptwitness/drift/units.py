"""Units of a prompt and their two fingerprints: what a unit says, and how it is written.

``drift`` compares the same piece of template text as many clients sent it. The piece is
a *unit*: one line of a text segment (``system[1].text``, ``tools[Bash].description``,
``messages[0].content[0].text``, ...) with the line breaks that end it, so a line written
with ``\\n\\n`` instead of ``\\n`` is the same unit in another form. A unit has

- a **key**: what it says, blind to form. Values are replaced by placeholders (dates and
  times, URLs, paths, e-mail addresses, long ids, numbers), the rest goes through the
  Unicode TS#39 skeleton (a look-alike becomes what it looks like), is case-folded, and
  only letters and the placeholders are kept (punctuation, whitespace and invisible
  code points are dropped). ``Today's date is 2026-12-06.`` and
  ``Today’s date is 2026/12/07.`` share a key.
- a **form**: how it is written, blind to values. Dates keep their layout
  (``analysis.forms.form``, with day and month fields of one or two digits alike:
  ``2026-12-06`` and ``2026-12-16`` share a form, ``2026/12/06`` does not); other values
  become one placeholder, a run of digits becomes one nine of its own script; every
  other code point is kept as it is: letters (so a look-alike and a change of case
  show), punctuation, whitespace, invisible code points.

So two units with one key and two forms differ only in form: a look-alike, an invisible
code point, whitespace, punctuation, casing, or a date written differently. Values
(another day, another path, another id) never change the form. What the differences
are exactly is left to the probe's detectors (``analysis.detectors.classify``) on two
example texts, which also set apart anything the masks missed as a value.

Sans-IO and pure; ``units_of`` is linear in the text.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

import regex

from promptwitness.analysis.confusables import skeleton
from promptwitness.analysis.forms import find_dates, form

__all__ = [
    "LINE_MEMO",
    "MAX_UNITS",
    "MIN_KEY",
    "LineMemo",
    "Unit",
    "digest",
    "form_of",
    "key_of",
    "units_of",
    "value_spans",
]

MIN_KEY = 8
"""A unit whose key has fewer letters than this says too little to be template text."""
MAX_UNITS = 4000
"""Units taken from one segment (a longer text is cut: its first lines count)."""
LINE_MEMO = 65536
"""Lines whose key and form are remembered."""

_DATE = "\ue001"  # placeholders (private use: never in a skeleton table, never dropped)
_VALUE = "\ue002"
_NUMBER = "\ue003"

_LINES = regex.compile(r"[^\n]*\n+|[^\n]+")
_VALUES = regex.compile(
    r"""
      [A-Za-z][A-Za-z0-9+.\-]*://[^\s"'<>`]+                      # URL
    | [\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+                            # e-mail address
    | (?<![\w/.~])(?:~|\.{1,2})?(?:/[^\s/"'<>`:,;()\[\]]+)+/?    # POSIX path
    | (?<![\w])[A-Za-z]:\\[^\s"'<>`]*                            # Windows path
    | (?<![\w\-])pw-redacted:[0-9a-f]+                           # a credential fingerprint
    """,
    regex.VERBOSE,
)
# ids: tokens of 12+ word characters or hyphens with a digit and an ASCII letter, and
# hex of 8+ digits with a letter and a digit (checked in code: a look-ahead at every
# position would make the search quadratic)
_TOKEN = regex.compile(r"(?<![\w\-])[\w\-]{8,}(?![\w\-])")
_HAS_DIGIT = regex.compile(r"\d")
_HAS_LETTER = regex.compile(r"[A-Za-z]")
_HEX = regex.compile(r"[0-9a-fA-F]+")
_DIGITS = regex.compile(r"\d+")
_KEEP = regex.compile(r"[^\p{L}\ue001-\ue003]+")


def digest(text: str) -> bytes:
    """A short, stable digest of a text (8 bytes of BLAKE2b)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()


def _is_id(token: str) -> bool:
    if _HAS_DIGIT.search(token) is None or _HAS_LETTER.search(token) is None:
        return False
    return len(token) >= 12 or _HEX.fullmatch(token) is not None


def value_spans(text: str) -> list[tuple[int, int, bool]]:
    """``(start, end, is_date)`` of the values of ``text``, in order, not overlapping:
    URLs, paths, e-mail addresses and ids, then the dates and times outside them (a
    path such as ``/0/1/2`` is a path, not a date)."""
    out = [(m.start(), m.end(), False) for m in _VALUES.finditer(text)]
    for m in _TOKEN.finditer(text):
        s, e = m.span()
        if _is_id(m.group()) and not any(s < ve and vs < e for vs, ve, _ in out):
            out.append((s, e, False))
    for s, e in find_dates(text):
        if not any(s < ve and vs < e for vs, ve, _ in out):
            out.append((s, e, True))
    out.sort()
    return out


def _date_form(text: str) -> str:
    """The form of a date with day/month/hour fields of one or two digits alike."""
    masked = form(text)
    return _DIGITS.sub(lambda m: m.group() if len(m.group()) > 2 else m.group()[0], masked)


def _nine(run: str) -> str:
    return form(run[0])


def _parts(text: str) -> Iterator[tuple[str, str]]:
    """``(key piece, form piece)`` pieces of ``text``: values as placeholders."""
    last = 0
    for s, e, is_date in value_spans(text):
        if s < last:
            continue
        yield from _plain(text[last:s])
        if is_date:
            yield _DATE, _DATE + _date_form(text[s:e]) + _DATE
        else:
            yield _VALUE, _VALUE
        last = e
    yield from _plain(text[last:])


def _plain(text: str) -> Iterator[tuple[str, str]]:
    last = 0
    for m in _DIGITS.finditer(text):
        if m.start() > last:
            piece = text[last : m.start()]
            yield piece, piece
        yield _NUMBER, _nine(m.group())
        last = m.end()
    if last < len(text):
        piece = text[last:]
        yield piece, piece


_ASCII_SKELETON = {i: skeleton(chr(i)) for i in range(128)}
_NO_PLACEHOLDERS = {ord(_DATE): None, ord(_VALUE): None, ord(_NUMBER): None}


def _skeleton(text: str) -> str:
    """``analysis.confusables.skeleton``; ASCII text with placeholders by a table (the
    same result: the placeholders are private-use code points the skeleton keeps, and
    every line with a value or a number has one, so this is the common case)."""
    if text.isascii() or text.translate(_NO_PLACEHOLDERS).isascii():
        return text.translate(_ASCII_SKELETON)
    return skeleton(text)


def key_of(text: str) -> str:
    """What ``text`` says, blind to form (module docstring)."""
    return _KEEP.sub("", _skeleton("".join(k for k, _ in _parts(text))).casefold())


def form_of(text: str) -> str:
    """How ``text`` is written, blind to values (module docstring)."""
    return "".join(f for _, f in _parts(text))


@dataclass(frozen=True)
class Unit:
    """One unit of a segment: ``text[start:end]`` of the segment's value."""

    key: bytes  # digest of key_of
    form: bytes  # digest of form_of
    start: int
    end: int


def _line(piece: str) -> tuple[bytes, bytes] | None:
    parts = list(_parts(piece))
    key = _KEEP.sub("", _skeleton("".join(k for k, _ in parts)).casefold())
    if sum(1 for c in key if c not in (_DATE, _VALUE, _NUMBER)) < MIN_KEY:
        return None
    return digest(key), digest("".join(f for _, f in parts))


_MISSING = object()


class LineMemo:
    """The key and form digests of lines, least recently used dropped past ``size``.

    ``fill=False`` reads it without adding to it: drift's pass 2 walks the store again
    from its start, and filling the memo then would push out the lines of the latest
    exchanges, the ones pass 1 left in it, just before pass 2 reaches them (a scan
    longer than an LRU cache hits nothing); reading only, it finds them."""

    def __init__(self, size: int = LINE_MEMO) -> None:
        self.size = size
        self.memo: OrderedDict[str, tuple[bytes, bytes] | None] = OrderedDict()

    def get(self, piece: str, fill: bool = True) -> tuple[bytes, bytes] | None:
        got = self.memo.get(piece, _MISSING)
        if got is not _MISSING:
            self.memo.move_to_end(piece)
            return got  # type: ignore[return-value]
        out = _line(piece)
        if fill:
            self.memo[piece] = out
            if len(self.memo) > self.size:
                self.memo.popitem(last=False)
        return out


_LINES_MEMO = LineMemo()


def units_of(text: str, memo: LineMemo | None = None, fill: bool = True) -> tuple[Unit, ...]:
    """The units of one segment's text (lines with their line breaks) whose key is long
    enough to be template text (``MIN_KEY``); at most ``MAX_UNITS``. Lines are
    remembered (``LineMemo``, by default one of ``LINE_MEMO`` lines for the process):
    template lines recur in every request."""
    lines = _LINES_MEMO if memo is None else memo
    out: list[Unit] = []
    for m in _LINES.finditer(text):
        got = lines.get(m.group(), fill)
        if got is None:
            continue
        out.append(Unit(got[0], got[1], m.start(), m.end()))
        if len(out) >= MAX_UNITS:
            break
    return tuple(out)
