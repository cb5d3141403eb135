"""Make hidden and look-alike code points visible (pure functions, no IO).

Rules:
- Never normalise: the input is shown code point by code point, nothing folded or
  dropped.
- Suspicious = anything but printable ASCII, ``\\n`` and ``\\t`` (so CR, DEL and every
  non-ASCII code point, letters of any script included: a marked CJK text is noisy,
  an unmarked look-alike is a miss).
- ``mark`` writes each suspicious code point's marker ``⟦U+2019 RIGHT SINGLE QUOTATION
  MARK⟧`` *after* its glyph when it has one, and *instead of* it when it is invisible
  (format and control characters, default-ignorables, bidi controls, tag characters,
  variation selectors, line/paragraph separators, surrogates, unassigned code points),
  so nothing can hide, reorder the line or move the cursor on screen. A control
  character has no name and shows only its code (``⟦U+000D⟧``), other nameless code
  points their kind (``⟦U+FFFE <noncharacter>⟧``). A combining mark stays
  with its base: the glyphs of the cluster come first, then their markers.
- The markers' own brackets (U+27E6, U+27E7) are non-ASCII, so a text cannot forge a
  marker: a literal ``⟦`` is itself marked.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from rich.text import Text

__all__ = [
    "FLAGS",
    "CodePointInfo",
    "code",
    "confusable_with",
    "describe",
    "edit_labels",
    "is_default_ignorable",
    "is_suspicious",
    "label",
    "mark",
    "mark_summary",
    "marker",
    "rich_mark",
    "side_labels",
]

MARK_OPEN = "\u27e6"  # ⟦
MARK_CLOSE = "\u27e7"  # ⟧

# Default_Ignorable_Code_Point (Unicode DerivedCoreProperties.txt; stable since 6.x,
# checked against the ``regex`` package's \p{Default_Ignorable_Code_Point} in the tests).
_DEFAULT_IGNORABLE: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)

_BIDI = frozenset([0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])

# What each look-alike imitates. A small built-in set: quotes and apostrophes,
# dashes, slashes, Cyrillic and Greek letters drawn like Latin ones; full-width ASCII
# is added below.
_CONFUSABLE: dict[str, str] = {
    # apostrophes and quotes
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u02bc": "'",
    "\u02b9": "'",
    "\u02bb": "'",
    "\u2032": "'",
    "\u00b4": "'",
    "\u0060": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',
    "\u02ba": '"',
    # dashes and minus
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2015": "-",
    "\u2212": "-",
    "\ufe63": "-",
    "\u00ad": "-",
    # slashes
    "\u2044": "/",
    "\u2215": "/",
    "\u29f8": "/",
    # Cyrillic
    "\u0430": "a",
    "\u0435": "e",
    "\u043e": "o",
    "\u0440": "p",
    "\u0441": "c",
    "\u0443": "y",
    "\u0445": "x",
    "\u0455": "s",
    "\u0456": "i",
    "\u0458": "j",
    "\u04bb": "h",
    "\u0501": "d",
    "\u051b": "q",
    "\u051d": "w",
    "\u04cf": "l",
    "\u0410": "A",
    "\u0412": "B",
    "\u0415": "E",
    "\u041a": "K",
    "\u041c": "M",
    "\u041d": "H",
    "\u041e": "O",
    "\u0420": "P",
    "\u0421": "C",
    "\u0422": "T",
    "\u0425": "X",
    "\u0405": "S",
    "\u0406": "I",
    "\u0408": "J",
    "\u04c0": "I",
    "\u04ae": "Y",
    # Greek
    "\u0391": "A",
    "\u0392": "B",
    "\u0395": "E",
    "\u0396": "Z",
    "\u0397": "H",
    "\u0399": "I",
    "\u039a": "K",
    "\u039c": "M",
    "\u039d": "N",
    "\u039f": "O",
    "\u03a1": "P",
    "\u03a4": "T",
    "\u03a5": "Y",
    "\u03a7": "X",
    "\u03bf": "o",
    "\u03bd": "v",
    "\u03b9": "i",
    "\u03c1": "p",
    "\u03c5": "u",
    "\u03f2": "c",
    "\u03f3": "j",
    "\u03b1": "a",
}
# U+0060 GRAVE ACCENT is ASCII and never marked; keep the table to non-ASCII.
del _CONFUSABLE["\u0060"]
for _cp in range(0xFF01, 0xFF5F):  # full-width ASCII ！ … ～
    _CONFUSABLE[chr(_cp)] = chr(_cp - 0xFEE0)

FLAGS = ("invisible", "space", "confusable", "bidi", "tag", "variation-selector")


@dataclass(frozen=True)
class CodePointInfo:
    """One code point, described: ``code`` like ``U+2019``; ``flags`` a subset of ``FLAGS``
    in that order."""

    char: str
    code: str
    name: str
    category: str
    flags: tuple[str, ...]

    @property
    def invisible(self) -> bool:
        return "invisible" in self.flags

    @property
    def has_name(self) -> bool:
        """False for the ``<...>`` placeholders of nameless code points."""
        return not self.name.startswith("<")


def code(ch: str) -> str:
    """``U+0027``, ``U+E0041``: at least four upper-case hex digits."""
    return f"U+{ord(ch):04X}"


def is_default_ignorable(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _DEFAULT_IGNORABLE)


def _is_noncharacter(cp: int) -> bool:
    return 0xFDD0 <= cp <= 0xFDEF or (cp & 0xFFFE) == 0xFFFE


def _is_variation_selector(cp: int) -> bool:
    return (
        0xFE00 <= cp <= 0xFE0F
        or 0xE0100 <= cp <= 0xE01EF
        or 0x180B <= cp <= 0x180D  # Mongolian free variation selectors
        or cp == 0x180F
    )


def _name(ch: str, category: str) -> str:
    cp = ord(ch)
    name = unicodedata.name(ch, "")
    if name:
        return name
    hexcode = f"{cp:04X}"
    if category == "Cc":
        return f"<control-{hexcode}>"
    if _is_noncharacter(cp):
        return f"<noncharacter-{hexcode}>"
    if 0xFE00 <= cp <= 0xFE0F:
        return f"VARIATION SELECTOR-{cp - 0xFE00 + 1}"
    if 0xE0100 <= cp <= 0xE01EF:
        return f"VARIATION SELECTOR-{cp - 0xE0100 + 17}"
    if 0xE0020 <= cp <= 0xE007E:
        # Older Unicode data may lack them; the tag letters mirror ASCII.
        base = unicodedata.name(chr(cp - 0xE0000), "")
        if base:
            return f"TAG {base}"
    if cp == 0xE0001:
        return "LANGUAGE TAG"
    if cp == 0xE007F:
        return "CANCEL TAG"
    if 0xE0000 <= cp <= 0xE007F:
        return f"<unassigned-tag-{hexcode}>"
    if category == "Cs":
        return f"<surrogate-{hexcode}>"
    if category == "Co":
        return f"<private-use-{hexcode}>"
    return f"<unassigned-{hexcode}>"


@lru_cache(maxsize=8192)
def describe(ch: str) -> CodePointInfo:
    """Code, name, general category and flags of one code point."""
    if len(ch) != 1:
        raise ValueError(f"describe() takes one code point, got {len(ch)}")
    cp = ord(ch)
    category = unicodedata.category(ch)
    flags: list[str] = []
    if _is_invisible(ch, category):
        flags.append("invisible")
    if category == "Zs" and ch != " ":
        flags.append("space")
    if ch in _CONFUSABLE:
        flags.append("confusable")
    if cp in _BIDI:
        flags.append("bidi")
    if 0xE0000 <= cp <= 0xE007F:
        flags.append("tag")
    if _is_variation_selector(cp):
        flags.append("variation-selector")
    return CodePointInfo(ch, code(ch), _name(ch, category), category, tuple(flags))


def _is_invisible(ch: str, category: str) -> bool:
    if ch in "\n\t":
        return False
    return (
        category in ("Cc", "Cf", "Zl", "Zp", "Cs", "Cn")
        or is_default_ignorable(ch)
        or _is_noncharacter(ord(ch))
    )


def is_suspicious(ch: str) -> bool:
    """Everything but printable ASCII, LF and TAB."""
    return not ("\x20" <= ch <= "\x7e" or ch == "\n" or ch == "\t")


def confusable_with(ch: str) -> str | None:
    """The ASCII character ``ch`` is drawn like, when it is in the built-in set."""
    return _CONFUSABLE.get(ch)


@lru_cache(maxsize=8192)
def marker(ch: str) -> str:
    """``⟦U+2019 RIGHT SINGLE QUOTATION MARK⟧``; ``⟦U+000D⟧`` for a control (see ``label``)."""
    return f"{MARK_OPEN}{label(ch)}{MARK_CLOSE}"


def label(ch: str) -> str:
    """``U+2019 RIGHT SINGLE QUOTATION MARK``; ``U+FFFE <noncharacter>`` for a code point
    with a placeholder name; ``U+000D`` alone for a control character."""
    info = describe(ch)
    if info.has_name:
        return f"{info.code} {info.name}"
    kind = info.name[1:].rsplit("-", 1)[0]
    return info.code if kind == "control" else f"{info.code} <{kind}>"


_COMBINING = frozenset({"Mn", "Mc", "Me"})


# Kinds of rendered pieces: text as given, a marker after a glyph, a marker instead of one.
TEXT, MARKER, INVISIBLE = 0, 1, 2


def _pieces(text: str) -> list[tuple[str, int]]:
    """The marked rendering as (piece, kind) pairs; see the module rules."""
    out: list[tuple[str, int]] = []
    pending: list[str] = []  # markers of the current cluster, written after its glyphs
    base = False  # the last thing written is a visible glyph a combining mark can sit on

    def flush() -> None:
        out.extend((m, MARKER) for m in pending)
        pending.clear()

    for ch in text:
        if not is_suspicious(ch):
            flush()
            out.append((ch, TEXT))
            base = ch not in "\n\t"
            continue
        info = describe(ch)
        if info.invisible:
            flush()
            out.append((marker(ch), INVISIBLE))
            base = False
        elif info.category in _COMBINING:
            if base:
                out.append((ch, TEXT))
                pending.append(marker(ch))
            else:
                flush()
                out.append((marker(ch), MARKER))
        else:
            flush()
            out.append((ch, TEXT))
            pending.append(marker(ch))
            base = True
    flush()
    return out


_PLAIN = frozenset("\n\t" + "".join(chr(c) for c in range(0x20, 0x7F)))


def mark(text: str) -> str:
    """Plain text with every suspicious code point marked (module rules)."""
    if text.isascii() and _PLAIN.issuperset(text):
        return text  # nothing to mark (the common case, without the per-character walk)
    return "".join(piece for piece, _ in _pieces(text))


MARKER_STYLE = "reverse"
INVISIBLE_MARKER_STYLE = "bold reverse"


def rich_mark(text: str, style: str = "") -> Text:
    """``mark`` as a rich ``Text`` (same characters): markers in reverse video, bold
    as well when they stand for an invisible code point. Colour is never the signal."""
    out = Text(style=style, end="")
    run: list[str] = []
    for piece, kind in _pieces(text):
        if kind == TEXT:
            run.append(piece)
            continue
        if run:
            out.append("".join(run))
            run.clear()
        out.append(piece, style=INVISIBLE_MARKER_STYLE if kind == INVISIBLE else MARKER_STYLE)
    if run:
        out.append("".join(run))
    return out


def mark_summary(text: str) -> Counter[str]:
    """How often each suspicious code point occurs, in order of first occurrence."""
    return Counter(ch for ch in text if is_suspicious(ch))


def side_labels(text: str, list_max: int = 12) -> list[str]:
    """The hidden and non-ASCII code points of one side of an edit, each once with a
    count, at most ``list_max`` (then how many more); line breaks and tabs aside (every
    view shows them), and ASCII left to the marked text, which shows it as it is."""
    counts = Counter(ch for ch in text if is_suspicious(ch) and ch not in "\n\t")
    items = [label(ch) + (f" \u00d7{n}" if n > 1 else "") for ch, n in counts.items()]
    if len(items) > list_max:
        items = items[:list_max] + [f"\u2026 {len(items) - list_max} more"]
    return items


def edit_labels(
    old: str, new: str, list_all: int = 8, list_max: int = 12
) -> tuple[list[str], list[str]]:
    """The code points an edit removed and added, as labels, when they matter to a
    reader (the one rule of every view: terminal, HTML, history).

    An edit with a hidden or non-ASCII code point: its ``side_labels``, or every code
    point of it when it is short (``list_all`` code points or fewer, both sides
    together). A plain-ASCII edit only when it is punctuation or white space alone
    (``-`` for ``/``, a tab for a space: hard to see), every code point of it; nothing
    for ids, digits and words (the marked text shows them)."""
    removed, added = side_labels(old, list_max), side_labels(new, list_max)
    both = old + new
    if not removed and not added and (any(ch.isalnum() for ch in both) or not both):
        return [], []
    if len(both) <= list_all:
        return [label(ch) for ch in old], [label(ch) for ch in new]
    return removed, added


def binary_summary(data: bytes, head: int = 32) -> str:
    """A short description of bytes that are not UTF-8 text, instead of one
    replacement marker per byte: ``2,048 bytes, not UTF-8 text (invalid at byte 1);
    sha256 1f2e…; first 32 bytes: 1f 8b 08 …``."""
    try:
        data.decode("utf-8")
        why = "valid UTF-8"
    except UnicodeDecodeError as exc:
        why = f"not UTF-8 text: invalid at byte {exc.start}"
    first = " ".join(f"{b:02x}" for b in data[:head])
    more = " …" if len(data) > head else ""
    return (
        f"{len(data):,} bytes ({why}); "
        f"sha256 {hashlib.sha256(data).hexdigest()[:16]}…; "
        f"first {min(head, len(data))} bytes: {first}{more}"
    )
