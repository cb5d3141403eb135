"""String literals that hold look-alike or invisible code points (sans-IO).

The literal parser (``literals``) finds string literals in JavaScript/TypeScript and
JSON (``"..."``, ``'...'``, ```...``` with escapes; comments and regular-expression
literals are skipped so that their quotes do not start strings) and in Python
(``'...'``, ``"..."``, triple-quoted, with ``r b u f`` prefixes). ``unescape_js`` and
``unescape_py`` decode a literal's body: ``\\n``-style escapes, ``\\xHH``, ``\\uHHHH``
(a surrogate pair written as two escapes is one code point), ``\\u{H...}`` (JS),
``\\UHHHHHHHH`` and ``\\N{NAME}`` (Python), octal, line continuations; a raw string
keeps its backslashes. Every position of the value remembers whether it was written
as an escape. The parser never raises: a literal that does not close is not a literal.

What is reported (``find_lookalikes``), per literal, code point by code point:

- **Invisible**: format characters (``Cf``: zero-width space/joiners, bidi controls,
  soft hyphen, word joiner, invisible operators, BOM, tag characters), white space
  other than U+0020 (NBSP, the U+2000 spaces, narrow NBSP, ideographic space, line
  and paragraph separators), variation selectors, Hangul fillers, U+034F. C0/C1
  controls (ESC, NUL) are ordinary in terminal programs and are not reported. Not
  reported either when they are part of ordinary text: a ZWJ between two non-ASCII
  symbols or letters (emoji sequences, Indic and Arabic shaping), a ZWNJ between two
  non-ASCII letters, a variation selector after a non-ASCII character (emoji and math
  presentation, ideographic variants) or after a keycap base (``#*0-9`` followed by
  U+20E3), tag characters after U+1F3F4 (subdivision flags).
- **Look-alike**: a code point whose TS#39 prototype (``analysis.confusables``) is a
  single printable ASCII character (``а`` → ``a``, ``’`` → ``'``, ``–`` → ``-``,
  ``：`` → ``:``); ``…`` → ``...`` and ``“`` → ``''`` are typographic, not look-alikes
  (as the ``confusable`` detector of the analysis has it). Reported only where it
  stands for ASCII, not in ordinary non-ASCII text:

  - a letter or digit: when its word (letters, digits and marks around it) also has
    an ASCII letter or digit (``pаypal``, mixed), or when the literal has no
    non-ASCII letter or digit that is not itself a look-alike (the whole literal reads
    as ASCII: ``"сорос"``); Russian or Greek text has other letters of its script
    and is not reported;
  - punctuation or a symbol: when the literal has no non-ASCII letter that is not a
    look-alike (so not in Chinese or Russian text) and either also has the ASCII
    character it imitates (``'`` and ``’`` in one literal) or stands between two ASCII
    letters or digits (``api․example․com``, ``a∕b``), apostrophe-like marks in words
    (``don’t``) excepted.

Binary strings (format ``binary-strings``) have no quotes: each line is a literal
whose code points are all raw, considered only when it reads as text (words with
spaces, at least 60 % letters and spaces, two ASCII words) or as one name (letters,
digits, ``_ . : / @ -``), and only code points inside it (an invisible one between
two characters; a look-alike between two ASCII letters, a letter only in a line with
spaces): machine code and strings glued together (Rust, Go) often form a stray UTF-8
sequence at their edges. ``Lookalike.literal`` is the literal as written
(quotes and escapes included, shortened to ``MAX_LITERAL`` code points around the
first reported code point), ``code_points`` the distinct reported ones in order of
appearance, ``escaped`` whether any of them was written as an escape.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache

from promptwitness.analysis.confusables import prototype
from promptwitness.discover.model import Location, Lookalike

__all__ = [
    "Literal",
    "MAX_LITERAL",
    "find_lookalikes",
    "invisible",
    "lookalike_of",
    "literals",
    "reported",
    "unescape_js",
    "unescape_py",
]

MAX_LITERAL = 160
CONTEXT = 60
MAX_FINDINGS = 10_000  # per text

_JS_TOKEN = re.compile(
    r"//[^\n\r\u2028\u2029]*"
    r"|/\*[\s\S]*?(?:\*/|\Z)"
    r"|\"[^\"\\\n\r]*(?:\\[\s\S][^\"\\\n\r]*)*\""
    r"|'[^'\\\n\r]*(?:\\[\s\S][^'\\\n\r]*)*'"
    r"|`[^`\\]*(?:\\[\s\S][^`\\]*)*`"
    r"|(?:(?<=[(,=:\[!&|?{};+\-*%<>~^])|(?<=[^\w$]return)|(?<=[^\w$]typeof))[ \t]*"
    r"/(?![*/])[^/\\\n\[]*(?:(?:\\.|\[[^\]\\\n]*(?:\\.[^\]\\\n]*)*\])[^/\\\n\[]*)*/"
)
_PY_TOKEN = re.compile(
    r"\#[^\n]*"
    r"|(?<![\w])(?:[rRbBuUfF]{1,2})?(?:"
    r"'''[^'\\]*(?:(?:\\[\s\S]|'(?!''))[^'\\]*)*'''"
    r"|\"\"\"[^\"\\]*(?:(?:\\[\s\S]|\"(?!\"\"))[^\"\\]*)*\"\"\""
    r"|'[^'\\\n]*(?:\\[\s\S][^'\\\n]*)*'"
    r"|\"[^\"\\\n]*(?:\\[\s\S][^\"\\\n]*)*\")"
)
_ESCAPE = r"\\(?:u\{?[0-9a-fA-F]|x[0-9a-fA-F]{2}|U[0-9a-fA-F]{8}|N\{)"
_HEX = frozenset("0123456789abcdefABCDEF")
_JS_SIMPLE = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "v": "\v"}
_PY_SIMPLE = {
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "a": "\a",
    "\\": "\\",
    "'": "'",
    '"': '"',
}
_RANGE_DASHES = frozenset("\u2013\u2014\u2015\ufe58\ufe63\uff0d")
_APOSTROPHES = frozenset(
    "\u2019\u2018\u02bc\u02b9\u02bb\u02bd\u02be\u2032\u00b4\u0060\uff07\u055a\u05f3"
)


# ------------------------------------------------------------------ code points


def _is_variation_selector(cp: int) -> bool:
    return (
        0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF or 0x180B <= cp <= 0x180D or cp == 0x180F
    )


@cache
def invisible(ch: str) -> bool:
    """Format characters, white space other than U+0020, variation selectors, Hangul
    fillers, U+034F (not C0/C1 controls)."""
    cp = ord(ch)
    if cp < 0x80:
        return False
    cat = unicodedata.category(ch)
    return (
        cat in ("Cf", "Zs", "Zl", "Zp")
        or _is_variation_selector(cp)
        or cp in (0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180E, 0x3164, 0xFFA0)
    )


@cache
def lookalike_of(ch: str) -> str | None:
    """The printable ASCII character ``ch`` is a look-alike of (TS#39 prototype of one
    ASCII character), else None."""
    cp = ord(ch)
    if cp < 0x80 or 0x2500 <= cp <= 0x27BF:  # box drawing, blocks, shapes, dingbats
        return None
    p = prototype(ch)
    if len(p) == 1 and "\x20" < p <= "\x7e" and p != ch:
        return p
    return None


@cache
def _candidate_class() -> str:
    """A regex of every invisible or look-alike code point: a BMP class (a bitmap for
    ``re``) or, behind a one-range guard, a class of the supplementary planes."""
    cps = [
        cp for cp in range(0x80, 0x30000) if invisible(chr(cp)) or lookalike_of(chr(cp)) is not None
    ]
    cps += list(range(0xE0000, 0xE0080)) + list(range(0xE0100, 0xE01F0))
    ranges: list[tuple[int, int]] = []
    for cp in sorted(set(cps)):
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))

    def cls(rs: list[tuple[int, int]]) -> str:
        def esc(cp: int) -> str:
            return f"\\U{cp:08x}"

        return "[" + "".join(esc(a) if a == b else f"{esc(a)}-{esc(b)}" for a, b in rs) + "]"

    bmp = [r for r in ranges if r[1] < 0x10000]
    astral = [r for r in ranges if r[0] >= 0x10000]
    return f"{cls(bmp)}|(?=[\\U00010000-\\U0010ffff]){cls(astral)}"


@cache
def _candidates_raw() -> re.Pattern[str]:
    return re.compile(_candidate_class())


@cache
def _candidates() -> re.Pattern[str]:
    return re.compile(_candidate_class() + "|" + _ESCAPE)


def _letter(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LNM"


def _ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


# ------------------------------------------------------------------ literals


@dataclass(frozen=True)
class Literal:
    """A string literal: ``start``/``end`` in the text (quotes and prefix included),
    its decoded ``value`` and, per code point of the value, whether it was written as
    an escape (``escaped``, a tuple of booleans)."""

    start: int
    end: int
    value: str
    escaped: tuple[bool, ...]


def _hex(s: str) -> bool:
    return bool(s) and all(c in _HEX for c in s)


def unescape_js(body: str) -> tuple[str, tuple[bool, ...]]:
    """The value of a JS string or template body (module docstring); never raises."""
    out: list[str] = []
    esc: list[bool] = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            esc.append(False)
            i += 1
            continue
        d = body[i + 1]
        value: str | None = None
        step = 2
        if d in _JS_SIMPLE:
            value = _JS_SIMPLE[d]
        elif d == "x" and _hex(body[i + 2 : i + 4]) and len(body[i + 2 : i + 4]) == 2:
            value, step = chr(int(body[i + 2 : i + 4], 16)), 4
        elif d == "u" and body[i + 2 : i + 3] == "{":
            close = body.find("}", i + 3, i + 12)
            digits = body[i + 3 : close] if close > 0 else ""
            if _hex(digits) and int(digits, 16) <= 0x10FFFF:
                value, step = chr(int(digits, 16)), close + 1 - i
        elif d == "u" and _hex(body[i + 2 : i + 6]) and len(body[i + 2 : i + 6]) == 4:
            cp = int(body[i + 2 : i + 6], 16)
            step = 6
            if (
                0xD800 <= cp <= 0xDBFF
                and body[i + 6 : i + 8] == "\\u"
                and _hex(body[i + 8 : i + 12])
                and len(body[i + 8 : i + 12]) == 4
            ):
                lo = int(body[i + 8 : i + 12], 16)
                if 0xDC00 <= lo <= 0xDFFF:
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                    step = 12
            value = chr(cp)
        elif d in "\r\n\u2028\u2029":  # line continuation
            step = 3 if d == "\r" and body[i + 2 : i + 3] == "\n" else 2
            i += step
            continue
        elif d in "01234567":
            j = i + 1
            while j < n and j < i + 4 and body[j] in "01234567":
                j += 1
            digits = body[i + 1 : j]
            if int(digits, 8) > 0o377:
                j -= 1
                digits = digits[:-1]
            value, step = chr(int(digits, 8)), j - i
        else:
            value = d
        out.append(value if value is not None else d)
        esc.append(True)
        i += step
    return "".join(out), tuple(esc)


def unescape_py(
    body: str, raw: bool = False, is_bytes: bool = False
) -> tuple[str, tuple[bool, ...]]:
    """The value of a Python string body (module docstring); never raises. Unknown
    escapes keep their backslash, as Python does."""
    if raw:
        return body, (False,) * len(body)
    out: list[str] = []
    esc: list[bool] = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            esc.append(False)
            i += 1
            continue
        d = body[i + 1]
        value: str | None = None
        step = 2
        if d in _PY_SIMPLE:
            value = _PY_SIMPLE[d]
        elif d == "\n":
            i += 2
            continue
        elif d == "x" and _hex(body[i + 2 : i + 4]) and len(body[i + 2 : i + 4]) == 2:
            value, step = chr(int(body[i + 2 : i + 4], 16)), 4
        elif (
            d == "u"
            and not is_bytes
            and _hex(body[i + 2 : i + 6])
            and len(body[i + 2 : i + 6]) == 4
        ):
            value, step = chr(int(body[i + 2 : i + 6], 16)), 6
        elif (
            d == "U"
            and not is_bytes
            and _hex(body[i + 2 : i + 10])
            and len(body[i + 2 : i + 10]) == 8
            and int(body[i + 2 : i + 10], 16) <= 0x10FFFF
        ):
            value, step = chr(int(body[i + 2 : i + 10], 16)), 10
        elif d == "N" and not is_bytes and body[i + 2 : i + 3] == "{":
            close = body.find("}", i + 3, i + 100)
            if close > 0:
                try:
                    value, step = unicodedata.lookup(body[i + 3 : close]), close + 1 - i
                except KeyError:
                    value = None
        elif d in "01234567":
            j = i + 1
            while j < n and j < i + 4 and body[j] in "01234567":
                j += 1
            value, step = chr(int(body[i + 1 : j], 8)), j - i
        if value is None:
            out.append("\\")
            esc.append(False)
            i += 1
            continue
        out.append(value)
        esc.append(True)
        i += step
    return "".join(out), tuple(esc)


def _js_literal(token: str, start: int) -> Literal | None:
    q = token[0]
    if q not in "\"'`" or len(token) < 2 or token[-1] != q:
        return None
    value, esc = unescape_js(token[1:-1])
    return Literal(start, start + len(token), value, esc)


def _py_literal(token: str, start: int) -> Literal | None:
    i = 0
    while i < len(token) and token[i] not in "\"'":
        i += 1
    prefix = token[:i].lower()
    body = token[i:]
    if len(body) >= 6 and body[:3] in ('"""', "'''"):
        inner = body[3:-3]
    elif len(body) >= 2:
        inner = body[1:-1]
    else:
        return None
    value, esc = unescape_py(inner, raw="r" in prefix, is_bytes="b" in prefix)
    return Literal(start, start + len(token), value, esc)


def _language(fmt: str) -> str:
    if fmt in ("python", "python-bytecode"):
        return "python"
    if fmt == "binary-strings":
        return "strings"
    return "js"


def _tokens(text: str, lang: str, start: int, stop: int) -> Iterator[tuple[int, int]]:
    """(start, end) of every string literal token (not yet decoded)."""
    if lang == "strings":
        pos = start
        while pos < stop:
            nl = text.find("\n", pos, stop)
            line_end = stop if nl < 0 else nl
            yield pos, line_end
            pos = line_end + 1
        return
    if lang == "python":
        for m in _PY_TOKEN.finditer(text, start, stop):
            if text[m.start()] != "#":
                yield m.start(), m.end()
        return
    for m in _JS_TOKEN.finditer(text, start, stop):
        if text[m.start()] in "\"'`":
            yield m.start(), m.end()


def _decode_token(text: str, lang: str, a: int, b: int) -> Literal | None:
    tok = text[a:b]
    if lang == "strings":
        return Literal(a, b, tok, (False,) * len(tok))
    return _py_literal(tok, a) if lang == "python" else _js_literal(tok, a)


def literals(
    text: str, fmt: str = "js", start: int = 0, end: int | None = None
) -> Iterator[Literal]:
    """Every string literal of ``text`` (JS rules unless ``fmt`` is a Python format;
    for ``binary-strings`` every line), between ``start`` and ``end``."""
    lang = _language(fmt)
    stop = len(text) if end is None else end
    for a, b in _tokens(text, lang, start, stop):
        lit = _decode_token(text, lang, a, b)
        if lit is not None:
            yield lit


# ------------------------------------------------------------------ rules


def reported(value: str) -> list[int]:
    """Indices of the code points of ``value`` that are reported (module docstring)."""
    hits = [i for i, ch in enumerate(value) if invisible(ch) or lookalike_of(ch) is not None]
    if not hits:
        return []
    foreign: bool | None = None  # a non-ASCII letter that is no look-alike: ordinary text
    tokens: tuple[list[int], list[bool]] | None = None
    scripts: set[str] | None = None  # scripts of the foreign letters
    table: bool | None = None
    out: list[int] = []
    for i in hits:
        ch = value[i]
        if invisible(ch):
            if table is None:
                table = _char_table(value)
            if not table and not _ordinary_invisible(value, i):
                out.append(i)
            continue
        if _letter(ch) and ch not in _APOSTROPHES:
            if _orthographic(ch):
                continue
            if tokens is None:
                tokens = _ascii_tokens(value)
            k = bisect.bisect_right(tokens[0], i) - 1
            if k >= 0 and tokens[1][k]:
                if scripts is None:
                    scripts = {_script(c) for c in value if _foreign(c)}
                if _script(ch) not in scripts:
                    out.append(i)
            continue
        if foreign is None:
            foreign = any(_foreign(c) for c in value)
        if foreign:
            continue
        if table is None:
            table = _char_table(value)
        if table:
            continue
        proto = lookalike_of(ch) or ""
        prev = value[i - 1] if i > 0 else ""
        nxt = value[i + 1] if i + 1 < len(value) else ""
        if proto.isalnum():  # a symbol drawn like a letter (× for x): inside a word
            if prev.isascii() and prev.isalpha() and nxt.isascii() and nxt.isalpha():
                out.append(i)
            continue
        if ch in _RANGE_DASHES:  # typographic dashes: ranges, parentheses
            continue
        between = _ascii_alnum(prev) and _ascii_alnum(nxt) and ch not in _APOSTROPHES
        if proto in value or between:
            out.append(i)
    return out


def _foreign(ch: str) -> bool:
    return ord(ch) >= 0x80 and _letter(ch) and lookalike_of(ch) is None and not invisible(ch)


@cache
def _orthographic(ch: str) -> bool:
    """A Latin letter of a language's spelling (Latin-1, Extended-A/B, Additional:
    Turkish ``ı``, ``ƒ``, ``þ``): a different letter, not a script mix."""
    cp = ord(ch)
    return 0xC0 <= cp <= 0x24F or 0x1E00 <= cp <= 0x1EFF


@cache
def _script(ch: str) -> str:
    """The script of a letter as its name says (``CYRILLIC``, ``GREEK``, ``LATIN``)."""
    return unicodedata.name(ch, "?").split(" ", 1)[0]


def _char_table(value: str) -> bool:
    """A table of characters (a code page, a list of separators), not text: 32 code
    points or more, at least half of them non-ASCII, no ASCII word of three letters."""
    if len(value) < 32:
        return False
    if 2 * sum(1 for c in value if ord(c) >= 0x80) < len(value):
        return False
    return _ASCII_WORD.search(value) is None


_ASCII_WORD = re.compile(r"[A-Za-z]{3}")
_TOKEN = re.compile(r"\S+")


def _ascii_tokens(value: str) -> tuple[list[int], list[bool]]:
    """Starts of the runs of non-space characters of ``value`` and, per run, whether it
    has an ASCII letter or digit and no non-ASCII letter that is not a look-alike (a
    look-alike in such a run stands for ASCII)."""
    starts: list[int] = []
    flags: list[bool] = []
    for m in _TOKEN.finditer(value):
        tok = m.group()
        starts.append(m.start())
        if tok.isascii():
            flags.append(False)
            continue
        flags.append(any(_ascii_alnum(c) for c in tok) and not any(_foreign(c) for c in tok))
    return starts, flags


def _ordinary_invisible(value: str, i: int) -> bool:
    ch = value[i]
    cp = ord(ch)
    prev = value[i - 1] if i > 0 else ""
    nxt = value[i + 1] if i + 1 < len(value) else ""
    if cp == 0x200D:  # ZWJ: emoji sequences and shaping
        if prev == "\ufe0f" and nxt and ord(nxt) >= 0x80:
            return True
        return (
            bool(prev and nxt)
            and ord(prev) >= 0x80
            and ord(nxt) >= 0x80
            and not invisible(prev)
            and not invisible(nxt)
        )
    if cp in (0x200B, 0x200C, 0x2060, 0x00AD):  # segmentation and shaping in text
        return (
            bool(prev and nxt)
            and ord(prev) >= 0x80
            and ord(nxt) >= 0x80
            and _letter(prev)
            and _letter(nxt)
        )
    if cp == 0x3000:  # the ideographic space next to non-ASCII text
        return (bool(prev) and ord(prev) >= 0x80 and not invisible(prev)) or (
            bool(nxt) and ord(nxt) >= 0x80 and not invisible(nxt)
        )
    if _is_variation_selector(cp):
        if prev and ord(prev) >= 0x80 and not invisible(prev):
            return True
        return prev in "#*0123456789" and prev != "" and nxt == "\u20e3"
    if 0xE0020 <= cp <= 0xE007F:  # tag sequences of subdivision flags
        j = i
        while j > 0 and 0xE0020 <= ord(value[j - 1]) <= 0xE007F:
            j -= 1
        return j > 0 and value[j - 1] == "\U0001f3f4"
    return False


# ------------------------------------------------------------------ finding


def _shorten(raw: str, focus: int) -> str:
    if len(raw) <= MAX_LITERAL:
        return raw
    half = MAX_LITERAL // 2
    a = max(0, min(focus - half, len(raw) - MAX_LITERAL))
    return raw[a : a + MAX_LITERAL]


def _context(text: str, start: int, end: int) -> str:
    a = max(0, start - CONTEXT)
    b = min(len(text), end + CONTEXT) if end - start <= 2 * CONTEXT else start + 2 * CONTEXT
    return text[a:b].replace("\n", " ").replace("\r", " ")


def find_lookalikes(text: str, fmt: str, locate: Callable[[int], Location]) -> list[Lookalike]:
    """The literals of ``text`` with reported code points (module docstring), in text
    order; ``locate(index)`` gives a literal's location."""
    lang = _language(fmt)
    pattern = _candidates_raw() if lang == "strings" else _candidates()
    positions = [m.start() for m in pattern.finditer(text)]
    if not positions:
        return []
    found: list[Lookalike] = []
    if lang == "strings":
        seen_line = -1
        for pos in positions:
            a = text.rfind("\n", 0, pos) + 1
            if a == seen_line:
                continue
            seen_line = a
            b = text.find("\n", pos)
            b = len(text) if b < 0 else b
            line = text[a:b]
            if not _texty(line):
                continue
            hit = _check(text, Literal(a, b, line, (False,) * len(line)), locate, binary=True)
            if hit is not None:
                found.append(hit)
                if len(found) >= MAX_FINDINGS:
                    break
        return found
    j, n = 0, len(positions)
    for a, b in _tokens(text, lang, 0, len(text)):
        while j < n and positions[j] < a:
            j += 1
        if j >= n:
            break
        if positions[j] < b:
            lit = _decode_token(text, lang, a, b)
            hit = _check(text, lit, locate) if lit is not None else None
            if hit is not None:
                found.append(hit)
                if len(found) >= MAX_FINDINGS:
                    break
            while j < n and positions[j] < b:
                j += 1
    return found


_NAMEISH = re.compile(r"[\w.:/@-]+")


def _texty(line: str) -> bool:
    """A string of a binary that reads as text or as a name, not bytes of machine code
    that happen to form UTF-8: words with spaces (at least 60 % letters and spaces),
    or one name-like token (letters, digits, ``. : / @ - _``)."""
    if len(line) < 6:
        return False
    if " " in line.strip():
        good = sum(1 for c in line if c.isalpha() or c == " ")
        return 10 * good >= 6 * len(line) and len(_ASCII_WORD.findall(line)) >= 2
    return _NAMEISH.fullmatch(line) is not None


def _inside(value: str, i: int) -> bool:
    """A binary string's code point with ASCII letters on both sides, in a line with
    spaces for a letter (text, not glued names or machine code)."""
    prev = value[i - 1] if i > 0 else ""
    nxt = value[i + 1] if i + 1 < len(value) else ""
    if invisible(value[i]):
        return bool(prev) and bool(nxt)
    if _letter(value[i]) and " " not in value:
        return False
    return prev.isascii() and prev.isalpha() and nxt.isascii() and nxt.isalpha()


def _check(
    text: str, lit: Literal, locate: Callable[[int], Location], binary: bool = False
) -> Lookalike | None:
    idx = reported(lit.value)
    if binary:
        idx = [i for i in idx if _inside(lit.value, i)]
    if not idx:
        return None
    cps = list(dict.fromkeys(f"U+{ord(lit.value[i]):04X}" for i in idx))
    escaped = any(lit.escaped[i] for i in idx if i < len(lit.escaped))
    raw = text[lit.start : lit.end]
    focus = _raw_index(raw, lit.value, idx[0])
    return Lookalike(
        literal=_shorten(raw, focus),
        code_points=tuple(cps),
        location=locate(lit.start),
        escaped=escaped,
        context=_context(text, lit.start, lit.end),
    )


def _raw_index(raw: str, value: str, i: int) -> int:
    """Roughly where value[i] is in the raw literal (for shortening)."""
    if not value:
        return 0
    return min(len(raw) - 1, int(i * len(raw) / max(1, len(value))))
