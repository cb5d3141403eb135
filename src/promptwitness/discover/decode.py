"""Cheap encodings decoded, alone and in chains, bounded (sans-IO): ``decode_text``.

Vendors hide string tables (host suffixes, zones, locales...) behind encodings that
cost nothing to undo. ``decode_text`` finds the candidates in a text (a JS bundle, a
Python module, the strings of an executable) and undoes them; ``decode_literal`` does
the same for one literal's value or one blob. Each result is a :class:`Decoded`: the
chain of encodings, outermost first, and the strings of the decoded table.

Candidates (one pass over the text of one compiled regex each, anchored on a quote,
a backslash or a literal such as ``fromCharCode``; never every substring):

- quoted literals of the base64/hex alphabet, ``MIN_BLOB`` characters or more,
  ``"..."+"..."`` concatenations joined (``base64``, ``base64url`` padded or not;
  ``hex`` of even length); bodies of one case of letters only, digits only or fewer
  than ``MIN_DISTINCT`` distinct characters are words, numbers and rulers, not blobs;
- runs of ``\\xNN``, ``\\uNNNN``, ``\\u{...}`` and octal escapes (``escape``) with at
  least ``MIN_ESCAPES`` escapes of ``[A-Za-z0-9.]``, characters that need no escaping
  (legitimate escapes spell non-ASCII, control characters and regex ranges); a run
  spelled mostly (3/4) in such escapes, 8 or more, is hidden on purpose, a shorter one
  must be notable; escapes of bytes that are no text go on to the binary steps;
- character codes (``charcodes``): ``String.fromCharCode(104,...)``,
  ``chr(104)+chr(101)+...`` and arrays of 4+ integers (``[104,101,...]``); an array is
  a string only next to ``fromCharCode``/``fromCodePoint``/``chr`` before it or
  ``.decode(``/``.toString(``/``map(chr`` after it, otherwise (byte constants such as
  ``[0x74,0x72,0x75,0x65]``) its table must be notable;
- reversed strings (``reverse``): ``"...".split("").reverse().join("")``,
  ``[..."..."]``, ``Array.from("...")`` and ``["c","b"]`` reversed and joined, Python
  ``"..."[::-1]`` and ``"".join(reversed("..."))``;
- split/join (``split-join``): ``["ap","i.exa","mple.cn"].join(sep)`` (a separator of
  up to 4 characters) when the joined text is not just the pieces again, reported when
  notable; ``"a|b|c".split("|")``, a list in plain sight, only with a string of a
  dictionary-backed kind (host, host-suffix, url, ip, zone, locale/distro of 5+);
- integers that are IPv4 addresses (``int-ipv4``): ``0x7f000001``, ``3232235777``
  within ``CONTEXT`` characters of int-to-dotted-quad code (``>>> 24``, ``>> 8 & 255``)
  that also has a ``"."`` literal; netmask-like values are left out;
- ROT-N (``rot:N``, N the forward shift that decodes): N from a nearby ``rot13`` or
  ``(x + N) % 26`` (N and 26-N tried; accepted when the result is interesting and the
  literal was not, or reads ``ROT_MARGIN`` better), or searched over all 25 for quoted
  literals shaped like host names, zones, URLs or absolute paths (below);
- a quoted path written backwards (``"dellorne./emca/tpo/"``: ``reverse``) when it
  then starts with a well-known top directory (``/opt``, ``/etc``, ``/Users``...).

Chain steps, recursively up to ``Budget.max_depth`` encodings: printable text that is
itself a base64/hex blob is decoded again; binary bytes are inflated when they start
with a zlib or gzip header (``zlib``, ``gzip``), XORed with keys found near the literal
(``xor:5a``, ``xor:6b6579``: a ``^ 0x5a``/``^90`` constant, or a short string or byte
array next to a ``charCodeAt``/``codePointAt``/``ord(`` ... ``^`` loop), XORed with
searched keys, or inflated as raw deflate (``deflate``: only a complete stream with
nothing after it). Printable bytes that classify as nothing and read as garbage (fewer
letters than half, or ``_score < TEXTY``) are tried with the keys given nearby and
with searched one-byte keys too (a key such as 0x5b maps ``.com,`` to ``u846w``:
printable to printable).

Key search: single-byte keys that keep every byte printable (found with bit masks, not
by trying 255 keys), keys that turn the first bytes into a zlib or gzip header (the
stream's checksum then proves the key), and, when no key of one byte works, keys of
2-4 bytes built from the best bytes per key position (``_KEY_RANKS``: each position is
a single-byte XOR of its own), ranked again with letter bigrams. At most one searched
step and one XOR step per chain.

Acceptance, the false-positive rules. The final text must be mostly printable (at most
1 character in 20 not; ``\\0 \\t \\n \\r`` are separators, not garbage), at least
``MIN_TEXT`` characters in its strings, one a letter or digit. Then, by how the chain
was found:

- no key needed (base64, hex, escapes, charcodes, inflation, reverse, split/join): a
  notable table (a string of a kind other than keyword; a path only a plausible one),
  or text that reads like text (``_texty``: English letter frequencies, words of 3+
  letters, letter pairs of words; 1 in 500 random printable strings passes);
  ``decode_literal``, for a
  literal the caller chose, keeps every printable interpretation instead (and decodes
  blobs from 4 characters);
- a key seen nearby: weak evidence, so also a believable table (below) or 16+
  characters of text;
- a searched key: a believable table, a verified one first, then the best-scoring
  key wins (one-byte keys before longer ones): *verified* (at least
  2/3 of the strings host, host-suffix, url, ip or zone, or locale/distro of 5+), or a
  list of 3+ words (keywords of 3+ characters, 4 in 5 strings) that reads like words
  (``KEYWORD_FLOOR``, ``KEYWORD_BIGRAMS``);
- a searched rotation: a verified table (for a path: a well-known top directory) that
  reads better than the literal by ``ROT_MARGIN`` (mean letter-bigram log-probability
  of name-like words) and at least ``ROT_FLOOR``; never for a literal that is a
  verified table already or a path under such a directory (ROT13 turns
  ``.cn`` into ``.pa``, a TLD too, but real host names such as ``npmjs.cn`` read
  worse than some rotation of them: only a ROT named in the code rotates those), nor
  for literals of fewer than ``ROT_MIN_LETTERS`` letters, with a file extension
  (``cli.js``) or in backticks.

Random base64-looking tokens of minified code (identifiers, hashes, data: URIs,
sourcemaps) decode to binary or to printable garbage and are dropped.

Bounds (:class:`Budget`, per text): candidates examined, total bytes produced, chain
depth, bytes one step may produce (``max_piece``: a base64/hex/escape literal larger
than that is skipped and counted in ``oversized``; inflation stops there and counts
one of ``bombs``), and a ``time.monotonic()`` deadline. When a bound is reached
decoding stops with ``exhausted`` set and ``reason`` (``candidates``, ``output``,
``deadline``); what was found until then is returned. Never raises on any input:
invalid UTF-8, truncated streams, bombs and nonsense are dropped.
"""

from __future__ import annotations

import binascii
import bisect
import itertools
import json
import math
import re
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache

from promptwitness.discover.classify import classify, interesting, tlds, zones

__all__ = [
    "CONTEXT",
    "KEY_TRIES",
    "MIN_BLOB",
    "MIN_ESCAPES",
    "MIN_TEXT",
    "Budget",
    "Decoded",
    "decode_literal",
    "decode_text",
]

MIN_BLOB = 12
"""Shortest base64/hex literal that is a candidate (characters)."""

MIN_DISTINCT = 6
"""Distinct characters a base64/hex literal needs (``"-----..."`` and ``"AAAA..."`` are
rulers and padding, not data)."""

MIN_TEXT = 4
"""Shortest decoded text that is reported (characters)."""

MIN_ESCAPES = 4
"""Escapes of plain ASCII that make a literal with escapes a candidate."""

CONTEXT = 512
"""Characters either side of a candidate where keys, ROT shifts and IP code are looked for."""

KEY_TRIES = 8
"""Searched XOR keys tried for one blob, at most, of each size class (the best-scoring
ones of one byte; then of 2-4 bytes)."""

SEARCH_FLOOR = -2.2
"""``_score`` below which a searched key is not tried (random printable bytes)."""

XOR_GAIN = 0.1
"""``decode_text``: how much better a key must make printable text read to be tried
on it (text that reads well already is not searched; a key below 0x20 that keeps
letters letters can hide a table from ``decode_text`` this way, not from
``decode_literal``)."""

_KEY_RANKS = ((2, 8), (3, 5), (4, 4))
"""Multi-byte XOR search: (key length, candidates kept per key position). The bytes at
positions ``i mod n`` are a single-byte XOR of their own: their printable-making keys
are ranked by English letter frequencies, the best few combined (at most 64, 125,
256 keys), the combinations ranked again with letter bigrams across positions on the
first ``_KEY_SAMPLE`` bytes, and the ``KEY_TRIES`` best tried."""

_KEY_SAMPLE = 256

MULTI_KEY_MAX = 1 << 14
"""Bytes above which no multi-byte key is searched."""

TEXTY = -2.0
"""``_score`` an unclassified decoded text needs (English text scores about -1.3,
random printable ASCII about -2.2, random letters about -1.7)."""

KEYWORD_FLOOR = -1.6
"""``_score`` a keyword list found by a searched key needs."""

KEYWORD_BIGRAMS = -3.2
"""``_bigram_score`` a keyword list found by a searched key needs (lists of names
score about -2.9, random letters about -4)."""

ROT_MARGIN = 0.5
"""How much better (mean bigram log-probability) a searched rotation must read than
the literal: ROT13 of host names loses 0.5-1.7, file names gain less than 0.5."""

ROT_FLOOR = -3.4
"""Mean bigram log-probability a searched rotation must reach."""

ROT_MIN_LETTERS = 12
"""Letters a literal needs for a rotation to be searched (shorter ones read as names
in some rotation by chance: ``ctx.api`` -> ``nei.lat``, ``numpy.any`` -> ``pwora.cpa``)."""

SEARCH_MAX = 1 << 16
"""Bytes above which no XOR key and no rotation is searched."""

_MAX_BACK = 1 << 16
"""How far back from an anchor (``.reverse()``, ``.join(``) a literal is looked for."""

_MAX_ITEMS = 4096
"""Items of one array literal, at most."""

_MEMO = 4096
"""Literals whose decoding is remembered within one text (a literal repeated in a
bundle, or spam, is decoded once)."""


@dataclass
class Budget:
    """Limits for one text (defaults sane for a 10 MB bundle) and what was spent.

    Limits: ``max_candidates`` candidate literals examined, ``max_output_bytes`` decoded
    bytes produced in total, ``max_depth`` encodings in one chain, ``max_piece`` bytes
    one decode step may produce (a decompression that would produce more is a bomb:
    counted in ``bombs``, dropped; a base64/hex/escape literal that would is counted in
    ``oversized``, skipped), ``deadline`` a ``time.monotonic()`` value after which
    decoding stops. Counters: ``candidates``, ``produced``, ``bombs``, ``oversized``;
    ``exhausted`` and ``reason`` (``candidates``, ``output``, ``deadline``) once a limit
    stopped the run. A budget passed to several calls is shared by them."""

    max_candidates: int = 200_000
    max_output_bytes: int = 64 << 20
    max_depth: int = 4
    max_piece: int = 1 << 20
    deadline: float | None = None
    candidates: int = 0
    produced: int = 0
    bombs: int = 0
    oversized: int = 0
    exhausted: bool = False
    reason: str = ""

    def _stop(self, reason: str) -> None:
        if not self.exhausted:
            self.exhausted = True
            self.reason = reason

    def _late(self) -> bool:
        if self.deadline is not None and time.monotonic() > self.deadline:
            self._stop("deadline")
        return self.exhausted

    def _candidate(self) -> bool:
        """Count one candidate; False when it must not be examined (limit reached)."""
        if self.exhausted:
            return False
        if self.candidates >= self.max_candidates:
            self._stop("candidates")
            return False
        self.candidates += 1
        return not self._late()

    def _produce(self, n: int) -> bool:
        """Account ``n`` decoded bytes; False when they exceed a limit (then dropped)."""
        if self.exhausted:
            return False
        if n > self.max_piece:
            self.oversized += 1
            return False
        if self.produced + n > self.max_output_bytes:
            self._stop("output")
            return False
        self.produced += n
        return True


@dataclass(frozen=True)
class Decoded:
    """One decoded candidate: ``encoding`` the chain, outermost first (``("base64",
    "xor:5a", "zlib")``); ``strings`` the decoded table (split on ``, ; | \\n \\r
    \\0``, or the items of a JSON array, each stripped, empty ones left out);
    ``start``/``end`` the source's span in the scanned text (the whole expression:
    quotes, ``String.fromCharCode(...)``, ``"...".split("").reverse().join("")``)."""

    encoding: tuple[str, ...]
    strings: tuple[str, ...]
    start: int
    end: int


@dataclass(frozen=True)
class _Keys:
    """What the code near a candidate says about its decoding."""

    xor: tuple[bytes, ...] = ()
    rot: tuple[int, ...] = ()


_NO_KEYS = _Keys()
_Hit = tuple[tuple[str, ...], str]

# -- text helpers ----------------------------------------------------------------------

_PRINTABLE_ASCII = bytes(range(0x20, 0x7F)) + b"\t\n\r\0"
_NONPRINT = re.compile(
    r"[^\t\n\r\0 -~\u00a0-\u200a\u2010-\u2027\u202f-\ud7ff\ue000-\ufffd"
    r"\U00010000-\U0010ffff]"
)
_ALNUM = re.compile(r"[^\W_]")
_SEPARATORS = re.compile(r"[,;|\n\r\0]+")
_WORD_RUN = re.compile(r"[A-Za-z]{3,}")


def _printable(data: bytes, latin1: bool = False) -> str | None:
    """``data`` as text when it is mostly printable (else None)."""
    if len(data) < MIN_TEXT:
        return None
    if data.isascii():
        bad = len(data.translate(None, _PRINTABLE_ASCII))
        text = data.decode("ascii")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            if not latin1:
                return None
            text = data.decode("latin-1")
        bad = sum(1 for _ in _NONPRINT.finditer(text))
    if bad * 20 > len(text) or _ALNUM.search(text) is None:
        return None
    return text


def _table(text: str) -> tuple[str, ...]:
    """The strings of a decoded text: a JSON array's items, or split on separators."""
    t = text.strip()
    if len(t) >= 2 and t[0] == "[" and t[-1] == "]":
        try:
            value = json.loads(t)
        except (ValueError, RecursionError):
            value = None
        if (
            isinstance(value, list)
            and value
            and all(isinstance(x, str | int | float) and not isinstance(x, bool) for x in value)
        ):
            items = tuple(str(x).strip() for x in value)
            return tuple(x for x in items if x)
    return tuple(p.strip() for p in _SEPARATORS.split(t) if p.strip())


_STRONG_KINDS = frozenset({"host", "host-suffix", "url", "ip", "zone"})
_DICT_KINDS = frozenset({"locale", "distro"})


def _verified(strings: tuple[str, ...]) -> bool:
    """Two thirds of the strings (of the first 64) at least are of a dictionary-backed
    kind: what a searched key or rotation must produce to be believed."""
    sample = strings[:64]
    good = 0
    for s in sample:
        kinds = classify(s)
        if kinds & _STRONG_KINDS or (kinds & _DICT_KINDS and len(s) >= 5):
            good += 1
    return good > 0 and 3 * good >= 2 * len(sample)


def _believable(strings: tuple[str, ...], text: str) -> bool:
    """What a searched key must produce: a verified table, or a list of at least three
    words (keywords of 3+ characters or dictionary kinds, 4 in 5 of the strings at
    least) that reads like words (``_score >= KEYWORD_FLOOR`` and
    ``_bigram_score >= KEYWORD_BIGRAMS``)."""
    if _verified(strings):
        return True
    sample = strings[:64]
    if len(sample) < 3 or _score(text) < KEYWORD_FLOOR or _bigram_score(text) < KEYWORD_BIGRAMS:
        return False
    words = sum(1 for s in sample if len(s) >= 3 and classify(s) & ({"keyword"} | _DICT_KINDS))
    return words >= 3 and 5 * words >= 4 * len(sample)


def _strong(strings: tuple[str, ...]) -> bool:
    """A string of a dictionary-backed kind (host, host-suffix, url, ip, zone; locale or
    distro of 5+ characters)."""
    for s in strings[:256]:
        kinds = classify(s)
        if kinds & _STRONG_KINDS or (kinds & _DICT_KINDS and len(s) >= 5):
            return True
    return False


def _texty(text: str) -> bool:
    """Reads like text: English letter frequencies (``_score >= TEXTY``), half of the
    characters (white space aside) in runs of 3+ letters, and letter pairs of words
    (``_bigram_score >= KEYWORD_BIGRAMS`` and more pairs that go together than not:
    ``_pair_gain > 0``). Of random printable ASCII strings of 9-40 characters about 1
    in 500 passes; ``hello world!``, ``username:password`` and code pass, UUIDs and
    ids do not."""
    if _score(text) < TEXTY:
        return False
    words = sum(len(w) for w in _WORD_RUN.findall(text))
    if 2 * words < sum(1 for c in text if not c.isspace()):
        return False
    return _bigram_score(text) >= KEYWORD_BIGRAMS and _pair_gain(text) > 0


def _garbled(text: str) -> bool:
    """Printable text that does not read as text: fewer letters than half, or a low
    ``_score`` (what a key that maps letters to digits and punctuation leaves)."""
    letters = sum(1 for c in text if c.isalpha())
    return 2 * letters < len(text) or _score(text) < TEXTY


def _notable(strings: tuple[str, ...]) -> bool:
    """A string of a kind other than keyword (weak sources need it); a path only when
    it is a plausible one (``_PLAUSIBLE_PATH``: ``/-xJnpr`` is a path by shape, and
    printable garbage starts with ``/`` often enough)."""
    for s in strings[:256]:
        kinds = classify(s) - {"keyword"}
        if kinds and (kinds != {"path"} or _PLAUSIBLE_PATH.fullmatch(s.strip())):
            return True
    return False


_LETTER_FREQ = {
    "e": 12.7,
    "t": 9.1,
    "a": 8.2,
    "o": 7.5,
    "i": 7.0,
    "n": 6.7,
    "s": 6.3,
    "h": 6.1,
    "r": 6.0,
    "d": 4.3,
    "l": 4.0,
    "c": 2.8,
    "u": 2.8,
    "m": 2.4,
    "w": 2.4,
    "f": 2.2,
    "g": 2.0,
    "y": 2.0,
    "p": 1.9,
    "b": 1.5,
    "v": 1.0,
    "k": 0.8,
    "j": 0.15,
    "x": 0.15,
    "q": 0.1,
    "z": 0.07,
}


def _weights() -> list[float]:
    w = [-5.0] * 128
    for i in range(0x20, 0x7F):
        w[i] = -3.0
    for c in "0123456789":
        w[ord(c)] = -2.0
    for c in " .-_/:,":
        w[ord(c)] = -1.5
    for c, f in _LETTER_FREQ.items():
        w[ord(c)] = math.log10(f / 100)
        w[ord(c.upper())] = w[ord(c)] - 0.5  # names are lower case: of two keys that
    return w  # differ by 0x20, the lower-case one wins


_WEIGHT = _weights()
_WEIGHT256 = _WEIGHT + [-4.0] * 128


def _score(text: str) -> float:
    """Mean log-likelihood of the characters under English letter frequencies."""
    if not text:
        return -9.0
    return sum(_WEIGHT[o] if o < 128 else -4.0 for o in map(ord, text)) / len(text)


@cache
def _bigrams() -> list[list[float]]:
    """Letter bigram log-probabilities of name-like words: the IANA TLD list (words,
    brands, places), add-one smoothed. Tells ``example`` from ``rknzcyr``."""
    counts = [[1] * 26 for _ in range(26)]
    for name in tlds():
        if name.startswith("xn--"):
            continue
        letters = [ord(c) - 97 for c in name if "a" <= c <= "z"]
        for a, b in itertools.pairwise(letters):
            counts[a][b] += 1
    return [[math.log(c / sum(row)) for c in row] for row in counts]


@cache
def _pair_gains() -> list[list[float]]:
    """Pointwise mutual information of letter pairs in the same words as
    ``_bigrams``: log P(b | a) - log P(b); positive for pairs that go together."""
    table = _bigrams()
    totals = [0] * 26
    for name in tlds():
        if not name.startswith("xn--"):
            for c in name:
                if "a" <= c <= "z":
                    totals[ord(c) - 97] += 1
    n = sum(totals) + 26
    return [[table[a][b] - math.log((totals[b] + 1) / n) for b in range(26)] for a in range(26)]


def _pair_gain(text: str) -> float:
    """Letter-pair information per character: what the pairs add to ``_score``."""
    table = _pair_gains()
    total = 0.0
    prev = -1
    for c in text.lower():
        o = ord(c) - 97
        if 0 <= o < 26:
            if prev >= 0:
                total += table[prev][o]
            prev = o
        else:
            prev = -1
    return total / len(text) if text else 0.0


def _bigram_score(text: str) -> float:
    """Mean bigram log-probability of the letter pairs inside words (-9 without any)."""
    table = _bigrams()
    total = 0.0
    n = 0
    prev = -1
    for c in text.lower():
        o = ord(c) - 97
        if 0 <= o < 26:
            if prev >= 0:
                total += table[prev][o]
                n += 1
            prev = o
        else:
            prev = -1
    return total / n if n else -9.0


def _rot_table(n: int) -> dict[int, int]:
    lower = "abcdefghijklmnopqrstuvwxyz"
    upper = lower.upper()
    return str.maketrans(lower + upper, lower[n:] + lower[:n] + upper[n:] + upper[:n])


_ROT = [_rot_table(n) for n in range(26)]


def _xor(data: bytes, key: bytes) -> bytes:
    if len(key) == 1:
        return data.translate(_XOR_TABLES[key[0]])
    stream = (key * (len(data) // len(key) + 1))[: len(data)]
    n = int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")
    return n.to_bytes(len(data), "big")


_XOR_TABLES = [bytes(b ^ k for b in range(256)) for k in range(256)]
_ALLOWED = [sum(1 << k for k in range(256) if (b ^ k) in _PRINTABLE_ASCII) for b in range(256)]
"""Bit k of ``_ALLOWED[b]``: ``b ^ k`` is printable ASCII."""


def _key_mask(data: bytes) -> int:
    mask = (1 << 256) - 1
    for b in set(data):
        mask &= _ALLOWED[b]
        if not mask:
            break
    return mask & ~1  # key 0 is no encoding


def _hist_score(hist: Counter[int], key: int) -> float:
    """``_score`` (times the length) of the bytes counted in ``hist`` XORed with ``key``."""
    weight = _WEIGHT256
    return sum(n * weight[b ^ key] for b, n in hist.items())


def _bits(mask: int) -> list[int]:
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


# -- literal syntax --------------------------------------------------------------------

_BLOB = re.compile(r"[A-Za-z0-9+/_-]+={0,3}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")
_WORDY = re.compile(r"[a-z]+|[A-Z]+|[0-9]+")
_QUOTED_BLOB = re.compile(rf"""(["'`])([A-Za-z0-9+/_-]{{{MIN_BLOB},}}+={{0,3}})\1""")
_MORE_BLOB = re.compile(r"""\s*\+\s*(["'`])([A-Za-z0-9+/_-]++={0,3})\1""")
_ESC_PLAIN = "A-Za-z0-9._:/@,;|*~%#&!=<> -"
"""Characters that may stand between escapes in one run (not regex syntax, not quotes)."""
_ESC_RUN = re.compile(
    r"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|u\{[0-9a-fA-F]{1,6}\}|[0-3][0-7]{2})"
    rf"(?:\\(?:u\{{[0-9a-fA-F]{{1,6}}\}}|[^\r\n])|[{_ESC_PLAIN}])*+"
)
_ESC_PLAIN_SET = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:/@,;|*~%#&!=<> -"
)
_ESC = re.compile(
    r"\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|u\{([0-9a-fA-F]{1,6})\}"
    r"|([0-7]{1,3})|(\r\n|[\s\S]))"
)
_SIMPLE_ESC = {
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "0": "\0",
    "\n": "",
    "\r\n": "",
}
_INT = r"(?:0[xX][0-9a-fA-F]{1,6}|\d{1,7})"
# possessive repetitions (``{3,}+``): a group repeated a million times keeps no
# backtracking state (665 MB for a 2M-integer array without, 32 MB with)
_INT_LIST = re.compile(rf"\[\s*({_INT}(?:\s*,\s*{_INT}){{3,}}+)\s*,?\s*\]")
_FROM_CHAR_CODE = re.compile(rf"fromCharCode\s*\(\s*({_INT}(?:\s*,\s*{_INT}){{3,}}+)\s*\)")
_CHR_CONCAT = (
    re.compile(rf"chr\(\s*{_INT}\s*\)(?:\s*\+\s*chr\(\s*{_INT}\s*\)){{3,}}+"),
    re.compile(
        rf"String\.fromCharCode\(\s*{_INT}\s*\)"
        rf"(?:\s*\+\s*String\.fromCharCode\(\s*{_INT}\s*\)){{3,}}+"
    ),
)
"""``chr(104)+chr(101)+...`` and ``String.fromCharCode(104)+...`` (one literal prefix
each: a regex that starts with an alternation is scanned position by position)."""
_CHR_ONE = re.compile(rf"\(\s*({_INT})\s*\)")
_DECODER_BEFORE = re.compile(r"(?:fromCharCode|fromCodePoint|\bchr\b)[^;]{0,24}$")
_DECODER_AFTER = re.compile(
    r"^[^;]{0,24}(?:fromCharCode|fromCodePoint|\.decode\(|\.toString\(|map\(\s*chr\b)"
)
"""An integer array turned into a string right there (not a byte constant)."""
_SHAPED = re.compile(r"""(["'])([A-Za-z0-9*._/:+|,;-]{4,512}+)\1""")
"""Literals searched for rotations: in double or single quotes (backticks quote code
in Python docstrings and Markdown, ```numpy.any``` -> ``pwora.cpa``)."""
_DOTTED = re.compile(r"(?:\*?\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?P<tld>[a-z]{2,24})\.?")
_ZONEISH = re.compile(r"[A-Z][A-Za-z_-]+(?:/[A-Z][A-Za-z_+-]+){1,2}")
_URLISH = re.compile(r"[a-z]{2,6}://[^\s]+")
_REVERSE = re.compile(r"""\.reverse\(\s*\)\s*\.join\(\s*(?:""|''|``)\s*\)""")
_SPLIT_EMPTY_BEFORE = re.compile(r"""\.split\(\s*(?:""|''|``)\s*\)\s*$""")
_PY_REVERSE = re.compile(r"\[\s*::\s*-1\s*\]")
_PY_REVERSED = re.compile(r"""reversed\(\s*(?=["'])""")
_LITERAL_AT = re.compile(r""""((?:[^"\\\r\n]|\\.)*+)"\s*\)|'((?:[^'\\\r\n]|\\.)*+)'\s*\)""")
_JOIN = re.compile(
    r"""\]\s*\.join\(\s*(?:"([^"\\\r\n]{0,4})"|'([^'\\\r\n]{0,4})'"""
    r"""|`([^`\\\r\n]{0,4})`)\s*\)"""
)
_SPLIT = re.compile(
    r"""\.split\(\s*(?:"([^"\\\r\n]{1,4})"|'([^'\\\r\n]{1,4})'"""
    r"""|`([^`\\$\r\n]{1,4})`)\s*\)"""
)
_XOR_CONST = re.compile(r"\^=?\s*(?:0[xX]([0-9a-fA-F]{1,2})|(\d{1,3}))(?![0-9a-zA-Z_.])")
_MB_EVIDENCE = (re.compile(r"charCodeAt"), re.compile(r"codePointAt"), re.compile(r"ord\("))
_KEY_LITERAL = re.compile(r"""(["'])([ -!#-&(-\[\]-~]{2,16})\1""")
_KEY_ARRAY = re.compile(
    r"\[\s*((?:0[xX][0-9a-fA-F]{1,2}|\d{1,3})"
    r"(?:\s*,\s*(?:0[xX][0-9a-fA-F]{1,2}|\d{1,3})){1,15})\s*\]"
)
_ROT_NAMED = re.compile(r"(?:rot|ROT|Rot)[-_]?(\d{1,2})(?![0-9A-Za-z_])")
_ROT_MOD = re.compile(r"%\s*26(?!\d)")
_ROT_SHIFT_BEFORE = re.compile(r"\+\s*(\d{1,2})\s*\)\s*$")
_ROT_LITERAL = re.compile(r""""((?:[^"\\\r\n]|\\.){4,1024}+)"|'((?:[^'\\\r\n]|\\.){4,1024}+)'""")
_IP_SHIFT = re.compile(r">>>?\s*24\b|>>\s*(?:8|16)\s*&\s*(?:255|0xff|0xFF)\b")
_DOT_LITERAL = re.compile(r"""(["'`])\.\1""")
_BIG_INT = r"(?:0[xX][0-9a-fA-F]{7,8}|[1-9]\d{7,9})(?![0-9a-zA-Z_.])"
_IP_INTS = re.compile(rf"(?<![0-9a-zA-Z_.$]){_BIG_INT}(?:\s*,\s*{_BIG_INT})*+")
_PATHISH = re.compile(r"/?[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)+/?")
_PATH_ROOTS = frozenset(
    {
        "Applications",
        "Library",
        "System",
        "Users",
        "Volumes",
        "bin",
        "boot",
        "dev",
        "etc",
        "home",
        "lib",
        "mnt",
        "opt",
        "private",
        "proc",
        "root",
        "run",
        "sbin",
        "srv",
        "sys",
        "tmp",
        "usr",
        "var",
    }
)
"""Top directories that make a rotated path believable."""
_REVERSED_ROOTS = frozenset(
    {
        "Applications",
        "Library",
        "Users",
        "bin",
        "boot",
        "etc",
        "home",
        "lib",
        "mnt",
        "opt",
        "root",
        "sbin",
        "srv",
        "tmp",
        "usr",
        "var",
    }
)
"""Top directories that make a reversed path believable (not ``proc``: ``.../corp/``
is common; not ``sys``, the same backwards)."""
_URL_SCHEMES = frozenset({"http", "https", "ws", "wss", "ftp"})
_PLAUSIBLE_PATH = re.compile(
    r"(?:(?:~|\$HOME|\$\{HOME\}|%[A-Za-z_]+%|[A-Za-z]:)(?:[/\\][\w.@+-][\w .@+-]*)+"
    r"|(?:/[\w.@+-][\w .@+-]*){2,})[/\\]?"
)
"""Paths that count as notable: home/variable/drive-relative, or two components or
more of word characters (``/etc/os-release``, ``~/.npmrc``, ``C:\\Users\\me``)."""
_FILE_EXTENSIONS = frozenset(
    {
        "bin",
        "c",
        "cc",
        "cfg",
        "cjs",
        "conf",
        "cpp",
        "crt",
        "css",
        "csv",
        "db",
        "env",
        "gif",
        "go",
        "gz",
        "h",
        "hpp",
        "htm",
        "html",
        "ico",
        "ini",
        "java",
        "jpeg",
        "jpg",
        "js",
        "json",
        "jsx",
        "kt",
        "less",
        "lock",
        "log",
        "map",
        "md",
        "mjs",
        "node",
        "npy",
        "npz",
        "pdf",
        "pem",
        "php",
        "pkl",
        "png",
        "py",
        "rb",
        "rs",
        "sass",
        "scss",
        "sh",
        "sql",
        "sqlite",
        "svelte",
        "svg",
        "tgz",
        "toml",
        "ts",
        "tsx",
        "txt",
        "vue",
        "wasm",
        "xml",
        "yaml",
        "yml",
        "zip",
    }
)
"""Last labels of a dotted literal that make it a file name, not a rotated host."""
_NOT_IPS = frozenset(
    {0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 0xFF000000, 0xFFFF0000, 0xFFFFFF00, 0xFFFFFFFE}
)


def _int(s: str) -> int:
    return int(s, 16) if s[:2] in ("0x", "0X") else int(s)


_INT_TOKEN = re.compile(r"0[xX][0-9a-fA-F]+|\d+")


def _ints(s: str, limit: int) -> list[int] | None:
    """The integers of a comma-separated list, or None when there are more than
    ``limit`` (parsed one by one: a huge list costs no more than ``limit`` of them)."""
    out: list[int] = []
    for m in _INT_TOKEN.finditer(s):
        if len(out) >= limit:
            return None
        out.append(_int(m[0]))
    return out


def _b64(body: str) -> tuple[str, bytes] | None:
    """(``base64``/``base64url``, bytes) for a valid base64 body, else None."""
    core = body.rstrip("=")
    pad = len(body) - len(core)
    if len(core) % 4 == 1 or (pad and (len(core) + pad) % 4):
        return None
    url = "-" in core or "_" in core
    if url and ("+" in core or "/" in core):
        return None
    name = "base64url" if url else "base64"
    if url:
        core = core.replace("-", "+").replace("_", "/")
    try:
        data = binascii.a2b_base64(core + "=" * (-len(core) % 4), strict_mode=True)
    except (binascii.Error, ValueError):
        return None
    return name, data


def _unescape(body: str) -> tuple[str, int, int, bool]:
    """(value, hex/unicode/octal escapes, of them escapes of ``[A-Za-z0-9.]`` (which
    need no escaping), all code points < 256)."""
    count = 0
    ascii_count = 0

    def sub(m: re.Match[str]) -> str:
        nonlocal count, ascii_count
        h = m[1] or m[2] or m[3]
        if h is not None:
            cp = int(h, 16)
            count += 1
            if cp < 0x80 and (chr(cp).isalnum() or cp == 0x2E):
                ascii_count += 1
            return chr(cp) if cp <= 0x10FFFF else "\ufffd"
        if m[4] is not None:
            cp = int(m[4], 8) & 0xFF
            count += 1
            if cp < 0x80 and (chr(cp).isalnum() or cp == 0x2E):
                ascii_count += 1
            return chr(cp)
        c = m[5]
        return _SIMPLE_ESC.get(c, c)

    value = _ESC.sub(sub, body)
    if any("\ud800" <= c <= "\udfff" for c in value):
        value = value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return value, count, ascii_count, all(ord(c) < 256 for c in value)


def _codes_bytes(codes: list[int]) -> tuple[bytes, bool] | None:
    """Character codes as bytes (latin-1 when all < 256, else UTF-8) and whether latin-1."""
    if not codes or any(c > 0x10FFFF or 0xD800 <= c <= 0xDFFF for c in codes):
        return None
    if all(c < 256 for c in codes):
        return bytes(codes), True
    return "".join(map(chr, codes)).encode("utf-8"), False


def _literal_before(text: str, end: int) -> tuple[int, str] | None:
    """The string literal that ends right before ``end`` (white space skipped):
    (its start, its raw body), or None."""
    j = end - 1
    while j >= 0 and text[j] in " \t\r\n":
        j -= 1
    if j < 0 or text[j] not in "\"'`":
        return None
    q = text[j]
    lo = max(0, j - _MAX_BACK)
    k = j - 1
    for _ in range(64):  # escaped quotes inside the literal, at most
        if k < lo:
            return None
        k = text.rfind(q, lo, k + 1)
        if k < 0:
            return None
        n = 0
        m = k - 1
        while m >= lo and text[m] == "\\":
            n += 1
            m -= 1
        if n % 2 == 0:
            body = text[k + 1 : j]
            if q != "`" and "\n" in body:
                return None
            if q == "`" and "${" in body:
                return None
            return k, body
        k = m
    return None


def _skip_back(text: str, i: int) -> int:
    """Index of the last non-white-space character before ``i`` (or -1)."""
    i -= 1
    while i >= 0 and text[i] in " \t\r\n":
        i -= 1
    return i


def _array_before(text: str, close: int) -> tuple[int, list[str]] | None:
    """The array of string literals whose ``]`` is at ``close``: (start, values)."""
    items: list[str] = []
    i = close
    for _ in range(_MAX_ITEMS):
        j = _skip_back(text, i)
        if j >= 0 and text[j] == "," and not items:
            j = _skip_back(text, j)  # trailing comma
        lit = _literal_before(text, j + 1)
        if lit is None:
            return None
        items.append(_unescape(lit[1])[0])
        k = _skip_back(text, lit[0])
        if k < 0:
            return None
        if text[k] == ",":
            i = k
            continue
        if text[k] == "[":
            items.reverse()
            return k, items
        return None
    return None


# -- the decoder -----------------------------------------------------------------------

_PLAIN, _KEYED, _SEARCHED = 0, 1, 2
"""How a chain got its keys: none needed, one seen near the literal, one searched."""

_BYTE_STEPS = frozenset({"base64", "base64url", "hex", "escape", "charcodes"})
_INFLATE_STEPS = frozenset({"zlib", "gzip", "deflate"})


class _Decoder:
    """Explores the chains from one candidate within a budget."""

    def __init__(self, budget: Budget, strict: bool = True) -> None:
        self.b = budget
        self.strict = strict
        """``decode_text``: the first accepted interpretation wins, and text found
        without a key must be notable or read like text. ``decode_literal``
        (``strict=False``): every interpretation that is printable is kept; searched
        keys and rotations need a believable table either way."""

    # one step ---------------------------------------------------------------------

    def inflate(self, data: bytes, wbits: int) -> bytes | None:
        """Bounded zlib/gzip/raw-deflate; None when it is not one (or a bomb: counted)."""
        d = zlib.decompressobj(wbits)
        try:
            out = d.decompress(data, self.b.max_piece + 1)
        except zlib.error:
            return None
        if len(out) > self.b.max_piece:
            self.b.bombs += 1
            return None
        if not d.eof or not out:
            return None
        if wbits < 0 and d.unused_data:
            return None
        if not self.b._produce(len(out)):
            return None
        return out

    # values -------------------------------------------------------------------------

    def explore(
        self,
        data: bytes,
        chain: tuple[str, ...],
        depth: int,
        keys: _Keys,
        mode: int,
        latin1: bool = False,
    ) -> list[_Hit]:
        """Every accepted chain from ``data`` (already decoded by ``chain``)."""
        if self.b.exhausted:
            return []
        text = _printable(data, latin1)
        if text is not None:
            hits = self.on_text(text, chain, depth, keys, mode)
            if not self.strict and chain and depth < self.b.max_depth:
                hits += self.inflations(data, chain, depth, keys, mode)  # every chain
            return hits
        if depth >= self.b.max_depth or len(data) < MIN_TEXT:
            return []
        return self.on_binary(data, chain, depth, keys, mode)

    def inflations(
        self,
        data: bytes,
        chain: tuple[str, ...],
        depth: int,
        keys: _Keys,
        mode: int,
        headers: bool = True,
        raw: bool = True,
    ) -> list[_Hit]:
        """``data`` inflated as zlib or gzip (by their headers) or, after a step that
        gives bytes, as raw deflate."""
        hits: list[_Hit] = []
        if not headers:
            pass
        elif len(data) >= 3 and data[0] == 0x78 and (data[0] << 8 | data[1]) % 31 == 0:
            out = self.inflate(data, 15)
            if out is not None:
                hits = self.explore(out, (*chain, "zlib"), depth + 1, keys, mode)
        elif data[:3] == b"\x1f\x8b\x08":
            out = self.inflate(data, 31)
            if out is not None:
                hits = self.explore(out, (*chain, "gzip"), depth + 1, keys, mode)
        if hits or self.b.exhausted or not raw:
            return hits
        if (not chain or chain[-1] in _BYTE_STEPS or chain[-1].startswith("xor:")) and len(
            data
        ) >= 4:
            out = self.inflate(data, -15)
            if out is not None:
                hits = self.explore(out, (*chain, "deflate"), depth + 1, keys, mode)
        return hits

    def blob(
        self, body: str, chain: tuple[str, ...], depth: int, keys: _Keys, mode: int
    ) -> list[_Hit]:
        """A base64 or hex body decoded, then explored."""
        hits: list[_Hit] = []
        if len(body) % 2 == 0 and _HEX.fullmatch(body):
            if self.b._produce(len(body) // 2):
                hits = self.explore(bytes.fromhex(body), (*chain, "hex"), depth + 1, keys, mode)
            if hits and self.strict:
                return hits
        if len(body) * 3 // 4 > self.b.max_piece:
            self.b.oversized += 1
            return hits
        found = _b64(body)
        if found is not None and self.b._produce(len(found[1])):
            hits += self.explore(found[1], (*chain, found[0]), depth + 1, keys, mode)
        return hits

    def on_text(
        self, text: str, chain: tuple[str, ...], depth: int, keys: _Keys, mode: int
    ) -> list[_Hit]:
        """Printable text: decoded further when it is a blob, rotated or XORed when a
        search finds something better, else itself when accepted (module rules)."""
        found: list[_Hit] = []
        body = text.strip()
        if (
            depth < self.b.max_depth
            and _BLOB.fullmatch(body)
            and (
                len(body) >= MIN_BLOB
                and _WORDY.fullmatch(body) is None
                or not self.strict
                and len(body) >= 4
            )
        ):
            found += self.blob(body, chain, depth, keys, mode)
            if found and self.strict:
                return found
        strings = _table(text)
        if sum(map(len, strings)) < MIN_TEXT:
            return found
        if mode == _SEARCHED:
            return found + [(chain, text)] if _believable(strings, text) else found
        verified = _verified(strings)
        if mode == _PLAIN and depth < self.b.max_depth:
            hits = self.search_text(text, strings, chain, keys)
            if hits and self.strict:
                return hits
            found += hits
            if (
                not verified
                and chain
                and chain[-1] in _BYTE_STEPS | _INFLATE_STEPS
                and text.isascii()
                and len(text) <= SEARCH_MAX
                and not any(step.startswith("xor:") for step in chain)
                and (not self.strict or _garbled(text))
            ):
                # printable bytes may still be XORed printable bytes (a key < 0x20 or
                # one that maps letters to punctuation keeps them printable): the keys
                # given nearby, then searched ones
                data = text.encode("ascii")
                hits = []
                for key in keys.xor:
                    if self.b._produce(len(data)):
                        hits += self.explore(
                            _xor(data, key), (*chain, f"xor:{key.hex()}"), depth + 1, keys, _KEYED
                        )
                if not hits:
                    hits = self.search_xor(data, chain, depth, keys, printable=True)
                if hits and self.strict:
                    return hits
                found += hits
        if not chain:
            return found
        if verified or not self.strict:
            ok = True
        elif mode == _KEYED:
            # a key seen near the literal is weak evidence: short results must classify
            ok = (
                _believable(strings, text)
                or _notable(strings)
                or (len(text) >= 16 and _texty(text))
            )
        else:
            ok = _notable(strings) or _texty(text)
        return found + [(chain, text)] if ok else found

    def on_binary(
        self, data: bytes, chain: tuple[str, ...], depth: int, keys: _Keys, mode: int
    ) -> list[_Hit]:
        """Bytes that are no text: inflated by header, XORed with the keys given near
        the literal, with searched keys, or inflated as raw deflate, in that order."""
        hits = self.inflations(data, chain, depth, keys, mode, raw=False)
        if hits or self.b.exhausted:
            return hits
        if not any(step.startswith("xor:") for step in chain):
            for key in keys.xor:
                if self.b._produce(len(data)):
                    hits += self.explore(
                        _xor(data, key),
                        (*chain, f"xor:{key.hex()}"),
                        depth + 1,
                        keys,
                        max(mode, _KEYED),
                    )
            if hits:
                return hits
            if mode == _PLAIN and len(data) <= SEARCH_MAX:
                hits = self.search_xor(data, chain, depth, keys)
                if hits:
                    return hits
        if self.b.exhausted:
            return hits
        return self.inflations(data, chain, depth, keys, mode, headers=False)

    # searches -----------------------------------------------------------------------

    def search_xor(
        self, data: bytes, chain: tuple[str, ...], depth: int, keys: _Keys, printable: bool = False
    ) -> list[_Hit]:
        """XOR keys searched: a stream that inflates, or the best believable result of
        the ``KEY_TRIES`` best-scoring keys of one byte, else of 2-4 bytes
        (``printable``: ``data`` is text already; in ``decode_text`` a key must make it
        read ``XOR_GAIN`` better)."""
        if len(data) < MIN_TEXT:
            return []
        # a key that makes a zlib/gzip header: the stream's checksum proves it
        if depth + 2 <= self.b.max_depth and len(data) >= 8:
            for magic, wbits, name in ((0x78, 15, "zlib"), (0x1F, 31, "gzip")):
                k = data[0] ^ magic
                if not k:
                    continue
                head = _xor(data[:3], bytes([k]))
                if (wbits == 15 and (head[0] << 8 | head[1]) % 31 == 0) or (
                    wbits == 31 and head == b"\x1f\x8b\x08"
                ):
                    if not self.b._produce(len(data)):
                        return []
                    out = self.inflate(_xor(data, bytes([k])), wbits)
                    if out is not None:
                        hits = self.explore(
                            out, (*chain, f"xor:{k:02x}", name), depth + 2, keys, _PLAIN
                        )
                        if hits:
                            return hits
        # candidate keys, scored by the English letter frequencies of what they give
        # (from byte histograms, without XORing); only the best few are tried
        hist = Counter(data)
        floor = SEARCH_FLOOR
        if printable and self.strict:  # a cost guard for a whole text's worth of texts
            floor = max(floor, _hist_score(hist, 0) / len(data) + XOR_GAIN)
        singles: list[tuple[float, bytes]] = []
        for k in _bits(_key_mask(data)):
            score = _hist_score(hist, k) / len(data)
            if score >= floor:
                singles.append((score, bytes([k])))
        tries = KEY_TRIES // 2 if printable and self.strict else KEY_TRIES
        best = self._try_keys(sorted(singles, reverse=True)[:tries], data, chain, depth, keys)
        if best is not None:
            return best[1]  # the simplest key that works
        if printable and self.strict:
            return []  # keys of several bytes that keep text printable: too rare to pay
        sample = data[:_KEY_SAMPLE]
        for size, rank in _KEY_RANKS:  # shorter keys first: a longer one fits anything
            if len(data) < 6 * size or len(data) > MULTI_KEY_MAX or self.b.exhausted:
                break
            columns = [data[i::size] for i in range(size)]
            masks = [_key_mask(c) for c in columns]
            if not all(masks):
                continue
            options = []
            for column, mask in zip(columns, masks, strict=True):
                h = Counter(column)
                ranked = sorted(((_hist_score(h, k), k) for k in _bits(mask)), reverse=True)
                options.append([k for _, k in ranked[:rank]])
            multis: list[tuple[float, bytes]] = []
            for combo in itertools.product(*options):
                key = bytes(combo)
                if any(key == key[:p] * (size // p) for p in range(1, size) if size % p == 0):
                    continue  # periodic: a shorter key was tried
                # the columns were ranked alone; letter pairs across them tell
                # "example" from "aytlalm"
                text = _xor(sample, key).decode("latin-1")
                multis.append((_score(text) + _pair_gain(text) / math.log(10), key))
            best = self._try_keys(
                sorted(multis, reverse=True)[:KEY_TRIES], data, chain, depth, keys
            )
            if best is not None:
                return best[1]
        return []

    def _try_keys(
        self,
        candidates: list[tuple[float, bytes]],
        data: bytes,
        chain: tuple[str, ...],
        depth: int,
        keys: _Keys,
    ) -> tuple[tuple[bool, float], list[_Hit]] | None:
        """The best believable result of XORing ``data`` with the keys: a verified
        table before a word list, then the best ``_score``."""
        best: tuple[tuple[bool, float], list[_Hit]] | None = None
        for _, key in candidates:
            if self.b._late() or not self.b._produce(len(data)):
                break
            text = _printable(_xor(data, key))
            if text is None:
                continue
            hits = self.on_text(text, (*chain, f"xor:{key.hex()}"), depth + 1, keys, _SEARCHED)
            if hits:
                rank = max((_verified(_table(h[1])), _score(h[1])) for h in hits)
                if best is None or rank > best[0]:
                    best = (rank, hits)
        return best

    def search_text(
        self, text: str, strings: tuple[str, ...], chain: tuple[str, ...], keys: _Keys
    ) -> list[_Hit]:
        """Rotations: named nearby (accepted when the result is interesting), or
        searched for host/zone/URL/path shapes (accepted when the table is verified, or
        the path is under a well-known top directory, and reads more like names than
        the literal: ``ROT_MARGIN``, ``ROT_FLOOR``); a path written backwards
        (``dellorne./emca/tpo/``) reversed when it then starts with such a directory."""
        hits: list[_Hit] = []
        if len(text) > SEARCH_MAX:
            return hits
        if keys.rot:
            before = interesting(strings)
            base = _bigram_score(text)
            for n in keys.rot:
                rotated = text.translate(_ROT[n])
                if interesting(_table(rotated)) and (
                    not before or _bigram_score(rotated) >= base + ROT_MARGIN
                ):
                    hits.append(((*chain, f"rot:{n}"), rotated))
            if hits:
                return hits[:1]
        first = strings[0]
        shape = _shape(first)
        if shape is None or sum(c.isalpha() for c in text) < ROT_MIN_LETTERS:
            return hits
        if shape == "dotted" and (
            first.rsplit(".", 1)[-1] in _FILE_EXTENSIONS or _verified(strings)
        ):
            return hits
        if shape == "path" and _real_path(first):
            return hits
        if shape == "path-reversed":
            # letter pairs read about as well backwards: only the top directory tells
            flipped = text[::-1]
            root = flipped.split("/", 2)[1] if flipped.startswith("/") else ""
            ok = root in _REVERSED_ROOTS and _real_path(_table(flipped)[0])
            return [((*chain, "reverse"), flipped)] if ok else []
        base = _bigram_score(text) + ROT_MARGIN
        best: tuple[float, _Hit] | None = None
        candidates = [
            (f"rot:{n}", text.translate(_ROT[n]))
            for n in range(1, 26)
            if _quick(shape, first.translate(_ROT[n]))
        ]
        for step, decoded in candidates:
            table = _table(decoded)
            if not (_real_path(table[0]) if shape == "path" else _verified(table)):
                continue
            score = _bigram_score(decoded)
            if score >= base and score >= ROT_FLOOR and (best is None or score > best[0]):
                best = (score, ((*chain, step), decoded))
        if best is not None:
            return [best[1]]
        return hits


def _shape(s: str) -> str | None:
    """What a literal that may be rotated or reversed looks like: ``dotted`` (host
    names), ``zone``, ``url``, ``path`` (``/rgp/npzr``), ``path-reversed``
    (``dellorne./emca/tpo/``) or None."""
    if _DOTTED.fullmatch(s):
        return "dotted"
    if _ZONEISH.fullmatch(s):
        return "zone"
    if _URLISH.fullmatch(s):
        return "url"
    if _PATHISH.fullmatch(s):
        return "path" if s.startswith("/") else "path-reversed" if s.endswith("/") else None
    return None


def _quick(shape: str, rotated_first: str) -> bool:
    """Whether a rotation can be right, from the first string alone (cheap)."""
    if shape == "dotted":
        return rotated_first.rsplit(".", 1)[-1].rstrip(".") in tlds()
    if shape == "zone":
        return rotated_first in zones()[0]
    if shape == "path":
        return _real_path(rotated_first)
    return shape == "url" and rotated_first.split("://", 1)[0] in _URL_SCHEMES


def _real_path(s: str) -> bool:
    """An absolute path under a well-known top directory (``/etc/...``, ``/Users/...``)."""
    parts = s.split("/", 2)
    return len(parts) == 3 and parts[0] == "" and parts[1] in _PATH_ROOTS and bool(parts[2])


# -- finding candidates in a text ------------------------------------------------------


class _Scan:
    """One ``decode_text`` run: candidate finders over one text."""

    def __init__(self, text: str, budget: Budget) -> None:
        self.text = text
        self.b = budget
        self.d = _Decoder(budget)
        self.found: dict[tuple[int, int, tuple[str, ...]], Decoded] = {}
        self.memo: dict[tuple[str, _Keys], list[_Hit]] = {}
        self.xor_at: list[int] = []
        self.xor_keys: list[bytes] = []
        for m in _XOR_CONST.finditer(text):
            value = int(m[1], 16) if m[1] else int(m[2])
            if 0 < value < 256:
                self.xor_at.append(m.start())
                self.xor_keys.append(bytes([value]))
        self.mb_at = sorted(m.start() for r in _MB_EVIDENCE for m in r.finditer(text))
        self.rot_at: list[tuple[int, int]] = []
        for m in _ROT_NAMED.finditer(text):
            if m.start() == 0 or not text[m.start() - 1].isalpha():
                self.rot_at.append((m.start(), int(m[1])))
        for m in _ROT_MOD.finditer(text):
            shift = _ROT_SHIFT_BEFORE.search(text, max(0, m.start() - 40), m.start())
            if shift is not None:
                self.rot_at.append((m.start(), int(shift[1])))
        self.rot_at = sorted((p, n) for p, n in self.rot_at if 0 < n < 26)
        self.rot_pos = [p for p, _ in self.rot_at]

    # context ------------------------------------------------------------------------

    @staticmethod
    def _near(positions: list[int], start: int, end: int) -> tuple[int, int]:
        return (
            bisect.bisect_left(positions, start - CONTEXT),
            bisect.bisect_right(positions, end + CONTEXT),
        )

    def keys(self, start: int, end: int) -> _Keys:
        lo, hi = self._near(self.xor_at, start, end)
        xor: list[bytes] = []
        for key in self.xor_keys[lo:hi]:
            if key not in xor:
                xor.append(key)
        lo2, hi2 = self._near(self.mb_at, start, end)
        if hi2 > lo2:
            for key in self._key_literals(start, end):
                if key not in xor and len(xor) < 8:
                    xor.append(key)
        rot: list[int] = []
        lo3, hi3 = self._near(self.rot_pos, start, end)
        for _, n in self.rot_at[lo3:hi3]:
            for r in (n, 26 - n):
                if r not in rot:
                    rot.append(r)
        if not xor and not rot:
            return _NO_KEYS
        return _Keys(tuple(xor), tuple(rot))

    def _key_literals(self, start: int, end: int) -> list[bytes]:
        """Short string/byte-array literals either side of a candidate, when a ``^`` is
        there too (a ``charCodeAt``/``ord`` XOR loop with a key of several bytes)."""
        around = (self.text[max(0, start - CONTEXT) : start], self.text[end : end + CONTEXT])
        if not any("^" in w for w in around):
            return []
        keys: list[bytes] = []
        for window in around:
            for m in _KEY_LITERAL.finditer(window):
                keys.append(m[2].encode("latin-1", "replace"))
            for m in _KEY_ARRAY.finditer(window):
                values = _ints(m[1], 16)
                if values is not None and all(v < 256 for v in values):
                    keys.append(bytes(values))
        return keys

    # results ------------------------------------------------------------------------

    def add(
        self, hits: list[_Hit], start: int, end: int, weak: str | None = None, strict: bool = False
    ) -> None:
        """Record hits; a hit of a weak source alone (chain ``(weak,)``) must be
        notable, or with ``strict`` have a string of a dictionary-backed kind."""
        for chain, text in hits:
            strings = _table(text)
            if not strings:
                continue
            if (
                weak is not None
                and chain == (weak,)
                and not (_strong(strings) if strict else _notable(strings))
            ):
                continue
            key = (start, end, chain)
            if key not in self.found:
                self.found[key] = Decoded(chain, strings, start, end)

    # finders ------------------------------------------------------------------------

    def blobs(self) -> None:
        text = self.text
        resume = 0
        for m in _QUOTED_BLOB.finditer(text):
            if m.start() < resume:
                continue
            if not self.b._candidate():
                return
            body = m[2]
            end = m.end()
            for _ in range(_MAX_ITEMS):
                more = _MORE_BLOB.match(text, end)
                if more is None:
                    break
                body += more[2]
                end = more.end()
            resume = end
            if _WORDY.fullmatch(body) or len(set(body)) < MIN_DISTINCT:
                continue
            keys = self.keys(m.start(), end)
            memo = (body, keys)
            hits = self.memo.get(memo)
            if hits is None:
                hits = self.d.blob(body, (), 0, keys, _PLAIN)
                if len(self.memo) >= _MEMO:
                    self.memo.clear()
                self.memo[memo] = hits
            self.add(hits, m.start(), end)

    def escapes(self) -> None:
        text = self.text
        for m in _ESC_RUN.finditer(text):
            if not self.b._candidate():
                return
            start = m.start()
            lo = max(0, start - 256)
            while start > lo and text[start - 1] in _ESC_PLAIN_SET:
                start -= 1
            body = text[start : m.end()]
            if len(body) > 4 * self.b.max_piece:
                self.b.oversized += 1
                continue
            value, count, plain, small = _unescape(body)
            if count < MIN_ESCAPES:
                continue
            data = value.encode("latin-1") if small else value.encode("utf-8", "replace")
            if plain < MIN_ESCAPES and _printable(data, small) is not None:
                continue  # escapes of non-ASCII or control characters: what they are for
            if not self.b._produce(len(data)):
                continue
            # a text spelled mostly in escapes of plain characters is hidden on purpose;
            # a few (regex ranges such as \x41-\x5a) must classify to count
            strong = plain >= 2 * MIN_ESCAPES and 4 * plain >= 3 * len(value)
            keys = self.keys(start, m.end())
            self.add(
                self.d.explore(data, ("escape",), 1, keys, _PLAIN, latin1=small),
                max(0, start - 1),
                min(len(text), m.end() + 1),
                weak=None if strong else "escape",
            )

    def charcodes(self) -> None:
        text = self.text
        for m in _FROM_CHAR_CODE.finditer(text):
            if not self.b._candidate():
                return
            self._codes(_ints(m[1], self.b.max_piece), m.start(), m.end(), strong=True)
        for m in itertools.chain(*(r.finditer(text) for r in _CHR_CONCAT)):
            if not self.b._candidate():
                return
            codes = [
                _int(c[1]) for c in itertools.islice(_CHR_ONE.finditer(m[0]), self.b.max_piece + 1)
            ]
            self._codes(
                codes if len(codes) <= self.b.max_piece else None, m.start(), m.end(), strong=True
            )
        for m in _INT_LIST.finditer(text):
            if not self.b._candidate():
                return
            before = text[max(0, m.start() - 40) : m.start()]
            after = text[m.end() : m.end() + 40]
            keys = self.keys(m.start(), m.end())
            strong = (
                _DECODER_BEFORE.search(before) is not None
                or _DECODER_AFTER.search(after) is not None
            )
            self._codes(_ints(m[1], self.b.max_piece), m.start(), m.end(), strong=strong, keys=keys)

    def _codes(
        self, codes: list[int] | None, start: int, end: int, strong: bool, keys: _Keys | None = None
    ) -> None:
        if codes is None:
            self.b.oversized += 1
            return
        found = _codes_bytes(codes)
        if found is None or not self.b._produce(len(found[0])):
            return
        if keys is None:
            keys = self.keys(start, end)
        hits = self.d.explore(found[0], ("charcodes",), 1, keys, _PLAIN, latin1=found[1])
        self.add(hits, start, end, weak=None if strong else "charcodes")

    def reversals(self) -> None:
        text = self.text
        for m in _REVERSE.finditer(text):
            if not self.b._candidate():
                return
            start = m.start()
            before = text[max(0, start - 32) : start]
            value: str | None = None  # the reversed text
            split = _SPLIT_EMPTY_BEFORE.search(before)
            if split is not None:
                lit = _literal_before(text, start - (len(before) - split.start()))
                if lit is not None:
                    start, value = lit[0], _unescape(lit[1])[0][::-1]
            else:
                j = _skip_back(text, start)
                if j >= 0 and text[j] == "]":
                    arr = _array_before(text, j)
                    if arr is not None:  # the items in reverse order
                        start, value = arr[0], "".join(reversed(arr[1]))
                    else:
                        lit = _literal_before(text, j)
                        k = _skip_back(text, lit[0]) if lit is not None else -1
                        if lit is not None and text[max(0, k - 3) : k + 1] == "[...":
                            start, value = k - 3, _unescape(lit[1])[0][::-1]
                elif j >= 0 and text[j] == ")":
                    lit = _literal_before(text, j)
                    if lit is not None and text[max(0, lit[0] - 11) : lit[0]] == "Array.from(":
                        start, value = lit[0] - 11, _unescape(lit[1])[0][::-1]
            if value is not None:
                self._reversed(value, start, m.end())
        for m in _PY_REVERSE.finditer(text):
            if not self.b._candidate():
                return
            lit = _literal_before(text, m.start())
            if lit is not None:
                self._reversed(_unescape(lit[1])[0][::-1], lit[0], m.end())
        for m in _PY_REVERSED.finditer(text):
            if not self.b._candidate():
                return
            at = _LITERAL_AT.match(text, m.end())
            if at is not None:
                body = at[1] if at[1] is not None else at[2]
                self._reversed(_unescape(body)[0][::-1], m.start(), at.end())

    def _reversed(self, flipped: str, start: int, end: int) -> None:
        data = flipped.encode("utf-8", "replace")
        if not self.b._produce(len(data)):
            return
        self.add(self.d.explore(data, ("reverse",), 1, self.keys(start, end), _PLAIN), start, end)

    def joins(self) -> None:
        text = self.text
        for m in _JOIN.finditer(text):
            if not self.b._candidate():
                return
            sep = next((g for g in m.groups() if g is not None), "")
            arr = _array_before(text, m.start())
            if arr is None or len(arr[1]) < 2:
                continue
            joined = sep.join(arr[1])
            if _table(joined) == tuple(p.strip() for p in arr[1] if p.strip()):
                continue  # the pieces are the table: plain, not hidden
            self._joined(joined, arr[0], m.end())
        for m in _SPLIT.finditer(text):
            if not self.b._candidate():
                return
            sep = next((g for g in m.groups() if g is not None), "")
            lit = _literal_before(text, m.start())
            if lit is None:
                continue
            pieces = [p.strip() for p in _unescape(lit[1])[0].split(sep)]
            # a separated list in plain sight: only a dictionary-backed kind counts
            self._joined("\n".join(p for p in pieces if p), lit[0], m.end(), strict=True)

    def _joined(self, joined: str, start: int, end: int, strict: bool = False) -> None:
        data = joined.encode("utf-8", "replace")
        if not self.b._produce(len(data)):
            return
        hits = self.d.explore(data, ("split-join",), 1, self.keys(start, end), _PLAIN)
        self.add(hits, start, end, weak="split-join", strict=strict)

    def rotations(self) -> None:
        """Literals near a named ROT shift (weak), and host/zone-shaped literals (searched)."""
        text = self.text
        seen: set[int] = set()
        done = 0
        for pos, _ in self.rot_at:
            lo = max(done, pos - CONTEXT)
            done = max(done, pos + CONTEXT)
            for m in _ROT_LITERAL.finditer(text, lo, pos + CONTEXT):
                if m.start() in seen:
                    continue
                seen.add(m.start())
                if not self.b._candidate():
                    return
                body = _unescape(m[1] if m[1] is not None else m[2])[0]
                keys = self.keys(m.start(), m.end())
                strings = _table(body)
                if strings:
                    hits = self.d.search_text(body, strings, (), keys)
                    self.add(hits, m.start(), m.end(), weak="rot")
        for m in _SHAPED.finditer(text):
            body = m[2]
            if m.start() in seen or ("." not in body and "/" not in body):
                continue
            first = _table(body)
            if not first:
                continue
            if _shape(first[0]) is None:
                continue
            if not self.b._candidate():
                return
            self.add(self.d.search_text(body, first, (), _NO_KEYS), m.start(), m.end())

    def ints(self) -> None:
        """Integers that are IPv4 addresses, next to int-to-dotted-quad code."""
        text = self.text
        dots = [m.start() for m in _DOT_LITERAL.finditer(text)]
        done = -1
        for shift in _IP_SHIFT.finditer(text):
            lo, hi = self._near(dots, shift.start(), shift.end())
            if hi <= lo:
                continue
            w_lo = max(done, shift.start() - CONTEXT)
            w_hi = shift.end() + CONTEXT
            if w_lo >= w_hi:
                continue
            for m in _IP_INTS.finditer(text, w_lo, w_hi):
                if not self.b._candidate():
                    return
                values = _ints(m[0], _MAX_ITEMS) or []
                ips = tuple(
                    ".".join(str(v >> s & 255) for s in (24, 16, 8, 0))
                    for v in values
                    if 1 << 24 <= v < 1 << 32 and v not in _NOT_IPS
                )
                if ips:
                    key = (m.start(), m.end(), ("int-ipv4",))
                    self.found.setdefault(key, Decoded(("int-ipv4",), ips, m.start(), m.end()))
            done = w_hi

    def run(self) -> list[Decoded]:
        finders: list[Callable[[], None]] = [
            self.blobs,
            self.escapes,
            self.charcodes,
            self.reversals,
            self.joins,
            self.rotations,
            self.ints,
        ]
        for finder in finders:
            if self.b.exhausted:
                break
            finder()
        return sorted(self.found.values(), key=lambda d: (d.start, d.end, d.encoding))


def decode_text(text: str, budget: Budget | None = None) -> Iterator[Decoded]:
    """Every decoded candidate of ``text``, in order of position (see the module's rules).

    Stops early, with ``budget.exhausted`` set, when a limit of ``budget`` is reached;
    what was found until then is still yielded."""
    scan = _Scan(text, budget if budget is not None else Budget())
    yield from scan.run()


_CODE_LIST = re.compile(rf"\s*\[?\s*({_INT}(?:\s*,\s*{_INT}){{3,}}+)\s*,?\s*\]?\s*")


def decode_literal(value: str | bytes, budget: Budget | None = None) -> list[Decoded]:
    """Every chain of one literal's value or one blob that ends in printable text
    (``start`` 0, ``end`` its length; the caller chose the literal, so text found
    without a key needs no more than being printable). A ``str`` is tried as escapes,
    as a list of character codes, as a base64/hex body and, when shaped like host
    names, zones or URLs, for rotations; ``bytes`` that are no text go straight to the
    binary steps (inflation, searched XOR keys). There is no code around a literal, so
    no key is given: searched keys and rotations need a believable table as in
    ``decode_text``. A ``str`` longer than ``4 * max_piece`` is counted ``oversized``."""
    b = budget if budget is not None else Budget()
    if not b._candidate():
        return []
    d = _Decoder(b, strict=False)
    hits: list[_Hit] = []
    raw: bytes | None = None
    if isinstance(value, bytes):
        text = _printable(value)
        if text is None:
            hits = d.on_binary(value, (), 0, _NO_KEYS, _PLAIN)
            return _results(hits, len(value))
        raw, value = value, text
    if len(value) > 4 * b.max_piece:
        b.oversized += 1
        return []
    if "\\" in value:
        unescaped, count, _, small = _unescape(value)
        if count:
            data = unescaped.encode("latin-1") if small else unescaped.encode("utf-8", "replace")
            if b._produce(len(data)):
                hits += d.explore(data, ("escape",), 1, _NO_KEYS, _PLAIN, latin1=small)
    codes = _CODE_LIST.fullmatch(value)
    if codes is not None:
        values = _ints(codes[1], b.max_piece)
        found = _codes_bytes(values) if values is not None else None
        if values is None:
            b.oversized += 1
        if found is not None and b._produce(len(found[0])):
            hits += d.explore(found[0], ("charcodes",), 1, _NO_KEYS, _PLAIN, latin1=found[1])
    if not hits:
        hits = d.on_text(value, (), 0, _NO_KEYS, _PLAIN) if value.strip() else []
    if raw is not None and raw.isascii() and not _verified(_table(value)):
        hits += d.search_xor(raw, (), 0, _NO_KEYS, printable=True)
    return _results(hits, len(value))


def _results(hits: list[_Hit], length: int) -> list[Decoded]:
    out: list[Decoded] = []
    seen: set[tuple[str, ...]] = set()
    for chain, text in hits:
        strings = _table(text)
        if strings and chain not in seen:
            seen.add(chain)
            out.append(Decoded(chain, strings, 0, length))
    return out
