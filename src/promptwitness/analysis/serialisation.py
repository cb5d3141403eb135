"""The serialisation form of a JSON request body (sans-IO): how it is written, not what
it says.

Two bodies can carry the same values and still differ byte for byte: ``’`` written as
itself or as ``\\u2019``, ``\\u200b`` or ``\\u200B``, ``/`` or ``\\/``, keys in another
order, ``", "`` or ``","`` between members, ``1.0`` or ``1``, a byte order mark. Every
one of those choices can carry information, and none of them reaches the prompt's
values (``analysis.segments``). This module reads the form from the raw bytes.

Rules:
- ``scan`` never raises and is linear in the body: one pass of anchored regular
  expressions, an explicit stack (no recursion), bounded records. A body that is not
  one JSON value (after an optional UTF-8 BOM and whitespace) has no form (``None``):
  there is nothing to align it with. Paths are bounded too: a member name longer than
  ``MAX_NAME`` code points is cut and suffixed with a digest of the whole name, and
  nodes nested deeper than ``MAX_DEPTH`` or past the first ``MAX_NODES`` form segments
  get no segment of their own (the document's whitespace and escapes still count them).
- The form is cut into **form segments** (channel ``serialisation``), one per aspect
  and JSON path, so that they align by path like the prompt's segments::

      body.json:document      BOM, valid UTF-8, the hex-digit case of ``\\u`` escapes
      body.json:whitespace    the whitespace between tokens, by context (after ':',
                              after ',', before '}', ...; indentation per nesting level)
      P:keys                  an object's key order and its repeated keys
      P:escapes               how each code point of a string is written (literally, a
                              short escape, ``\\uXXXX`` in lower/upper case, a surrogate
                              pair); for an object, how its keys are written
      P:number                a number token as written

  ``P`` is ``body.json`` then the member names (``.NAME``, escaped as segment names are:
  ``analysis.segments.escape_name``) and array indices (``[i]``), e.g.
  ``body.json.messages[0].content[0].text``; a repeated key's second member is
  ``NAME#2``. Values never enter a form segment except a number's token.
- ``compare_segment`` compares two form segments of the same path and gives
  ``serialisation`` changes (covert); only the form is compared, so that values that
  differ run to run (ids, dates) make no change by themselves: an escape choice only
  for code points both strings contain, a key order only over the keys both objects
  have, whitespace only in contexts both bodies have, a number's spelling when both
  tokens are the same number (else only what does not depend on the value: exponent
  letter and sign, padding zeros). A form segment present on one side only is no
  change (the value segments already say what was added or removed).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from promptwitness.analysis.changes import Change
from promptwitness.analysis.detectors._base import label
from promptwitness.analysis.diff import SegmentDiff, diff_segments
from promptwitness.analysis.segments import escape_name
from promptwitness.model import Segment

__all__ = [
    "CHANNEL",
    "MAX_DEPTH",
    "MAX_NAME",
    "MAX_NODES",
    "ROOT",
    "EscapedCodePoint",
    "Scan",
    "compare",
    "compare_forms",
    "compare_segment",
    "escaped_code_points",
    "escaped_text",
    "form_segments",
    "scan",
]

CHANNEL = "serialisation"
ROOT = "body.json"
MAX_DEPTH = 32  # nesting levels that get form segments
MAX_NODES = 20_000  # form segments of one body, at most (a real prompt has a few thousand)
MAX_NAME = 64  # code points of a member name kept in a path
_UNADDRESSED = "(not addressed: nested too deep or too many nodes)"
_BOM = b"\xef\xbb\xbf"
_MAX_WS_FORMS = 8  # distinct whitespace forms kept per context
_MAX_LISTED = 4  # code points named in one change's detail

_WS = re.compile(r"[ \t\n\r]*")
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_LITERAL = re.compile(r"true|false|null")
_ESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|(.))", re.DOTALL)
_SHORT = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_SHORT_OF = {v: "\\" + k for k, v in _SHORT.items()}

# Escape styles (a code point's spelling class).
LITERAL = "literal"
SHORT = "short"  # \" \\ \/ \b \f \n \r \t
INVALID = "invalid"  # a backslash before anything else: \x -> x
_STYLE_TEXT = {
    LITERAL: "literal",
    SHORT: "short escape",
    INVALID: "invalid escape",
    "u": "\\u escape",
    "u-lower": "\\u escape, lowercase hex",
    "u-upper": "\\u escape, uppercase hex",
    "u-mixed": "\\u escape, mixed-case hex",
    "pair-lower": "surrogate-pair escape, lowercase hex",
    "pair-upper": "surrogate-pair escape, uppercase hex",
    "pair-mixed": "surrogate-pair escape, mixed-case hex",
}


def _case(hexdigits: str) -> str:
    letters = [c for c in hexdigits if c.isalpha()]
    if not letters:
        return ""
    if all(c.islower() for c in letters):
        return "lower"
    if all(c.isupper() for c in letters):
        return "upper"
    return "mixed"


def _spell(ch: str, style: str) -> str:
    """How ``ch`` is written in ``style`` (mixed case shown in lower case)."""
    cp = ord(ch)
    if style == LITERAL:
        return ch
    if style == SHORT:
        return _SHORT_OF.get(ch, "\\" + ch)
    if style == INVALID:
        return "\\" + ch
    if style.startswith("pair") and cp > 0xFFFF:
        v = cp - 0x10000
        hi, lo = 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF)
        text = f"\\u{hi:04x}\\u{lo:04x}"
        return text.upper().replace("\\U", "\\u") if style == "pair-upper" else text
    text = f"\\u{cp:04x}"
    return f"\\u{cp:04X}" if style == "u-upper" else text


# ------------------------------------------------------------------------------ scan


@dataclass
class Scan:
    """What ``scan`` read: the form of one body (module docstring)."""

    bom: bool = False
    utf8: bool = True
    hex_cases: set[str] = field(default_factory=set)
    whitespace: dict[str, dict[str, None]] = field(default_factory=dict)
    escapes: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    keys: dict[str, list[str]] = field(default_factory=dict)
    repeated: dict[str, list[str]] = field(default_factory=dict)
    numbers: dict[str, str] = field(default_factory=dict)
    order: dict[tuple[str, str], None] = field(default_factory=dict)  # (path, aspect)
    escaped: Counter[str] = field(default_factory=Counter)  # \u-escaped code points
    escaped_at: dict[str, tuple[str, str]] = field(default_factory=dict)  # first (path, spelling)

    def _ws(self, context: str, ws: str, depth: int) -> None:
        forms = self.whitespace.setdefault(context, {})
        if len(forms) >= _MAX_WS_FORMS:
            return
        forms.setdefault(_ws_form(ws, depth), None)

    def _string(self, path: str, raw: str, want_text: bool) -> str:
        """Record how the string token's content ``raw`` is written; its decoded text
        when ``want_text`` (else "")."""
        styles: dict[str, set[str]] = {}  # for an unaddressed node: counted, not kept
        if self._addressed(path, "escapes"):
            styles = self.escapes.setdefault(path, {})
        if "\\" not in raw:
            for ch in set(raw):
                styles.setdefault(ch, set()).add(LITERAL)
            return raw if want_text else ""
        out: list[str] = []
        literal: list[str] = []
        at = 0
        pending_hi: tuple[int, str, int] | None = None  # (code unit, hex, end) of a high surrogate
        for m in _ESCAPE.finditer(raw):
            if m.start() > at:
                literal.append(raw[at : m.start()])
                if want_text:
                    out.append(raw[at : m.start()])
                if pending_hi is not None:
                    self._lone(path, styles, pending_hi, out, want_text)
                    pending_hi = None
            at = m.end()
            hexdigits, other = m.group(1), m.group(2)
            if hexdigits is None:
                if pending_hi is not None:
                    self._lone(path, styles, pending_hi, out, want_text)
                    pending_hi = None
                short = _SHORT.get(other)
                style = SHORT if short is not None else INVALID
                ch = other if short is None else short
                styles.setdefault(ch, set()).add(style)
                if want_text:
                    out.append(ch)
                continue
            unit = int(hexdigits, 16)
            if pending_hi is not None:
                if 0xDC00 <= unit <= 0xDFFF:
                    hi, hi_hex, _ = pending_hi
                    pending_hi = None
                    ch = chr(0x10000 + ((hi - 0xD800) << 10) + (unit - 0xDC00))
                    case = _case(hi_hex + hexdigits)
                    self.hex_cases.add(case)
                    spelled = "\\u" + hi_hex + "\\u" + hexdigits
                    self._escaped(path, styles, ch, f"pair-{case}", spelled)
                    if want_text:
                        out.append(ch)
                    continue
                self._lone(path, styles, pending_hi, out, want_text)
                pending_hi = None
            if 0xD800 <= unit <= 0xDBFF:
                pending_hi = (unit, hexdigits, m.end())
                continue
            ch = chr(unit)
            case = _case(hexdigits)
            if case:
                self.hex_cases.add(case)
            self._escaped(path, styles, ch, "u-" + case if case else "u", "\\u" + hexdigits)
            if want_text:
                out.append(ch)
        if pending_hi is not None:
            self._lone(path, styles, pending_hi, out, want_text)
        if at < len(raw):
            literal.append(raw[at:])
            if want_text:
                out.append(raw[at:])
        for ch in set("".join(literal)):
            styles.setdefault(ch, set()).add(LITERAL)
        return "".join(out)

    def _addressed(self, path: str, aspect: str) -> bool:
        """Whether the node gets a form segment (and is recorded as one)."""
        if not path:
            return False
        if (path, aspect) in self.order:
            return True
        if len(self.order) >= MAX_NODES:
            return False
        self.order[(path, aspect)] = None
        return True

    def _escaped(
        self, path: str, styles: dict[str, set[str]], ch: str, style: str, spelled: str
    ) -> None:
        styles.setdefault(ch, set()).add(style)
        self.escaped[ch] += 1
        self.escaped_at.setdefault(ch, (path or _UNADDRESSED, spelled))

    def _lone(
        self,
        path: str,
        styles: dict[str, set[str]],
        hi: tuple[int, str, int],
        out: list[str],
        want_text: bool,
    ) -> None:
        unit, hexdigits, _ = hi
        case = _case(hexdigits)
        self.hex_cases.add(case)
        ch = chr(unit)
        self._escaped(path, styles, ch, "u-" + case, "\\u" + hexdigits)
        if want_text:
            out.append(ch)


def _ws_form(ws: str, depth: int) -> str:
    """Whitespace as compared: itself, or a line break and indentation per level."""
    if "\n" not in ws:
        return repr(ws)
    head, _, indent = ws.rpartition("\n")
    head += "\n"
    if not indent:
        return repr(ws)
    if depth > 0 and len(indent) % depth == 0:
        unit = indent[: len(indent) // depth]
        if unit * depth == indent:
            return f"{head!r} + {unit!r} per level"
    return f"{ws!r} at depth {depth}"


def _context(prev: str, cur: str) -> str:
    if prev == "start":
        return "before the value"
    if prev in ("{", "[") and cur in ("}", "]"):
        return f"inside empty '{prev}{cur}'"
    if prev in (",", ":", "{", "["):
        return f"after '{prev}'"
    if cur in (",", ":", "}", "]"):
        return f"before '{cur}'"
    return f"between {prev} and {cur}"  # only before a token that makes the body invalid


@dataclass
class _Frame:
    kind: str  # "{" or "["
    path: str
    count: int = 0  # array: index of the next element
    seen: dict[str, int] = field(default_factory=dict)
    member: str = ""  # object: the path of the value after the pending key


def _member(parent: str, key: str, k: int, depth: int) -> str:
    """The path of an object's member (``""``: unaddressed)."""
    if not parent or depth > MAX_DEPTH:
        return ""
    name = key
    if len(key) > MAX_NAME:
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        name = f"{key[:MAX_NAME]}\u2026{digest}"
    return f"{parent}.{escape_name(name)}" + (f"#{k}" if k > 1 else "")


def scan(body: bytes) -> Scan | None:
    """The form of a JSON body, or None when the body is not one JSON value."""
    s = Scan()
    if body.startswith(_BOM):
        s.bom = True
        body = body[len(_BOM) :]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        s.utf8 = False
        text = body.decode("utf-8", "surrogateescape")
    n = len(text)
    i = 0
    stack: list[_Frame] = []
    prev = "start"
    state = "value"  # value | value-or-close | key | key-or-close | colon | comma-or-close | end
    while True:
        m = _WS.match(text, i)
        if m is None:  # never: the pattern matches the empty string
            return None
        ws, i = m.group(), m.end()
        if i >= n:
            if state != "end":
                return None
            s._ws("after the value", ws, 0)
            return s
        c = text[i]
        if state == "end":
            return None
        depth = len(stack) - 1 if c in "}]" else len(stack)
        s._ws(_context(prev, c if c in "{}[],:" else "value"), ws, depth)
        if state in ("key", "key-or-close", "colon", "comma-or-close"):
            frame = stack[-1]
            if state == "colon":
                if c != ":":
                    return None
                state, prev, i = "value", ":", i + 1
                continue
            if state == "comma-or-close":
                if c == ",":
                    if frame.kind == "[":
                        frame.count += 1
                        state = "value"
                    else:
                        state = "key"
                    prev, i = ",", i + 1
                    continue
                if c != ("}" if frame.kind == "{" else "]"):
                    return None
                stack.pop()
                prev, i = "value", i + 1
                state = "comma-or-close" if stack else "end"
                continue
            # key or key-or-close
            if c == "}" and state == "key-or-close":
                stack.pop()
                prev, i = "value", i + 1
                state = "comma-or-close" if stack else "end"
                continue
            if c != '"':
                return None
            sm = _STRING.match(text, i)
            if sm is None:
                return None
            key = s._string(frame.path, sm.group()[1:-1], True)
            k = frame.seen[key] = frame.seen.get(key, 0) + 1
            if frame.path and frame.path in s.keys:
                s.keys[frame.path].append(key)
                if k == 2:
                    s.repeated.setdefault(frame.path, []).append(key)
            frame.member = _member(frame.path, key, k, len(stack))
            state, prev, i = "colon", "key", sm.end()
            continue
        # a value (or, after '[', the end of an empty array)
        if c == "]" and state == "value-or-close":
            stack.pop()
            prev, i = "value", i + 1
            state = "comma-or-close" if stack else "end"
            continue
        if not stack:
            path = ROOT
        elif stack[-1].kind == "[":
            top = stack[-1]
            path = f"{top.path}[{top.count}]" if top.path and len(stack) <= MAX_DEPTH else ""
        else:
            path = stack[-1].member
        if c == "{":
            stack.append(_Frame("{", path))
            if s._addressed(path, "keys"):
                s.keys.setdefault(path, [])
            state, prev, i = "key-or-close", "{", i + 1
            continue
        if c == "[":
            stack.append(_Frame("[", path))
            state, prev, i = "value-or-close", "[", i + 1
            continue
        if c == '"':
            sm = _STRING.match(text, i)
            if sm is None:
                return None
            s._string(path, sm.group()[1:-1], False)
            i = sm.end()
        elif c == "-" or c.isdigit():
            nm = _NUMBER.match(text, i)
            if nm is None:
                return None
            if s._addressed(path, "number"):
                s.numbers.setdefault(path, nm.group())
            i = nm.end()
        else:
            lm = _LITERAL.match(text, i)
            if lm is None:
                return None
            i = lm.end()
        prev = "value"
        state = "comma-or-close" if stack else "end"


# ------------------------------------------------------------------- form segments


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=True, sort_keys=True, separators=(",", ":"))


def _segments(s: Scan) -> tuple[Segment, ...]:
    out = [
        Segment(
            f"{ROOT}:document",
            _dumps({"bom": s.bom, "utf8": s.utf8, "hex": sorted(s.hex_cases - {""})}),
            CHANNEL,
        ),
        Segment(
            f"{ROOT}:whitespace", _dumps({k: sorted(v) for k, v in s.whitespace.items()}), CHANNEL
        ),
    ]
    for path, aspect in s.order:
        if aspect == "escapes":
            by_style: dict[str, list[str]] = {}
            for ch, styles in s.escapes.get(path, {}).items():
                for style in styles:
                    by_style.setdefault(style, []).append(ch)
            value = _dumps({k: "".join(sorted(v)) for k, v in by_style.items()})
        elif aspect == "keys":
            value = _dumps({"keys": s.keys.get(path, []), "repeated": s.repeated.get(path, [])})
        else:
            value = s.numbers[path]
        out.append(Segment(f"{path}:{aspect}", value, CHANNEL))
    return tuple(out)


def form_segments(body: bytes) -> tuple[Segment, ...]:
    """The body's form segments (module docstring); ``()`` when it is not JSON."""
    s = scan(body)
    return () if s is None else _segments(s)


# ----------------------------------------------------------------------- comparing


def _change(
    path: str, control: str, observed: str, detail: str, code_points: Iterable[str] = ()
) -> Change:
    return Change(
        path=path,
        channel=CHANNEL,
        kind="serialisation",
        control=control,
        observed=observed,
        code_points=tuple(code_points),
        detail=detail,
    )


def _where(path: str) -> str:
    node = path.rsplit(":", 1)[0]
    return "the body" if node == ROOT else node[len(ROOT) + 1 :]


def _load(text: str | None) -> Any:
    try:
        return json.loads(text) if text is not None else None
    except ValueError:
        return None


def _styles_of(doc: Any) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    if isinstance(doc, dict):
        for style, chars in doc.items():
            for ch in str(chars):
                out.setdefault(ch, set()).add(str(style))
    return out


def _style_words(styles: frozenset[str]) -> str:
    return " and ".join(_STYLE_TEXT.get(s, s) for s in sorted(styles))


def _compare_escapes(path: str, a: Any, b: Any) -> list[Change]:
    sa, sb = _styles_of(a), _styles_of(b)
    groups: dict[tuple[frozenset[str], frozenset[str]], list[str]] = {}
    for ch in sorted(set(sa) & set(sb)):
        if sa[ch] != sb[ch]:
            groups.setdefault((frozenset(sa[ch]), frozenset(sb[ch])), []).append(ch)
    out = []
    for (fa, fb), chars in groups.items():
        control = " ".join("|".join(_spell(ch, st) for st in sorted(fa)) for ch in chars)
        observed = " ".join("|".join(_spell(ch, st) for st in sorted(fb)) for ch in chars)
        named = ", ".join(label(ch) for ch in chars[:_MAX_LISTED])
        if len(chars) > _MAX_LISTED:
            named += f" and {len(chars) - _MAX_LISTED} more"
        detail = f"{named}: {_style_words(fa)} \u2192 {_style_words(fb)} in {_where(path)}"
        out.append(_change(path, control, observed, detail, (label(ch) for ch in chars)))
    return out


def _compare_keys(path: str, a: Any, b: Any) -> list[Change]:
    if not isinstance(a, dict) or not isinstance(b, dict):
        return []
    ka = [str(k) for k in a.get("keys", [])]
    kb = [str(k) for k in b.get("keys", [])]
    common = set(ka) & set(kb)
    oa = [k for k in dict.fromkeys(ka) if k in common]
    ob = [k for k in dict.fromkeys(kb) if k in common]
    out = []
    if oa != ob:
        out.append(
            _change(path, ", ".join(oa), ", ".join(ob), f"keys of {_where(path)} in another order")
        )
    ra = {str(k) for k in a.get("repeated", [])} & common
    rb = {str(k) for k in b.get("repeated", [])} & common
    if ra != rb:
        out.append(
            _change(
                path,
                ", ".join(sorted(ra)) or "(none)",
                ", ".join(sorted(rb)) or "(none)",
                f"repeated keys of {_where(path)} differ: "
                f"{', '.join(sorted(ra)) or 'none'} \u2192 {', '.join(sorted(rb)) or 'none'}",
            )
        )
    return out


def _number_parts(token: str) -> dict[str, str]:
    m = re.fullmatch(r"-?(\d+)(?:\.(\d+))?(?:([eE])([+-]?)(\d+))?", token)
    if m is None:
        return {}
    parts: dict[str, str] = {}
    if m.group(2) is not None:
        parts["fraction padded with zeros"] = str(m.group(2).endswith("0"))
    if m.group(3) is not None:
        parts["exponent letter"] = m.group(3)
        parts["exponent sign"] = m.group(4) or "(none)"
        parts["exponent padded with zeros"] = str(len(m.group(5)) > 1 and m.group(5)[0] == "0")
    return parts


def _compare_number(path: str, a: str, b: str) -> list[Change]:
    if a == b:
        return []
    try:
        same = Decimal(a) == Decimal(b)
    except (InvalidOperation, ValueError):
        same = False
    if same:
        return [_change(path, a, b, f"the same number written another way in {_where(path)}")]
    pa, pb = _number_parts(a), _number_parts(b)
    differs = [k for k in pa if k in pb and pa[k] != pb[k]]
    if not differs:
        return []
    return [
        _change(
            path,
            a,
            b,
            f"number format of {_where(path)}: "
            + "; ".join(f"{k} {pa[k]} \u2192 {pb[k]}" for k in differs),
        )
    ]


def _compare_whitespace(path: str, a: Any, b: Any) -> list[Change]:
    if not isinstance(a, dict) or not isinstance(b, dict):
        return []
    differs = [k for k in a if k in b and sorted(a[k]) != sorted(b[k])]
    if not differs:
        return []

    def side(doc: dict[str, Any]) -> str:
        return "; ".join(f"{k}: {' or '.join(doc[k])}" for k in differs)

    return [_change(path, side(a), side(b), "whitespace " + ", ".join(differs) + " differs")]


def _compare_document(path: str, a: Any, b: Any) -> list[Change]:
    if not isinstance(a, dict) or not isinstance(b, dict):
        return []
    out = []
    if a.get("bom") != b.get("bom"):
        words = {True: "byte order mark", False: "no byte order mark"}
        out.append(
            _change(
                path,
                words[bool(a.get("bom"))],
                words[bool(b.get("bom"))],
                "a UTF-8 byte order mark before the body in one only",
            )
        )
    if a.get("utf8") != b.get("utf8"):
        words = {True: "valid UTF-8", False: "not valid UTF-8"}
        out.append(
            _change(
                path,
                words[bool(a.get("utf8"))],
                words[bool(b.get("utf8"))],
                "the body is valid UTF-8 in one only",
            )
        )
    ha, hb = a.get("hex") or [], b.get("hex") or []
    if ha and hb and ha != hb:
        out.append(
            _change(
                path,
                " and ".join(ha),
                " and ".join(hb),
                f"hex digits of \\u escapes: {' and '.join(ha)} \u2192 {' and '.join(hb)} case",
            )
        )
    return out


def compare_segment(diff: SegmentDiff) -> list[Change]:
    """``serialisation`` changes between two form segments of one path (see the module
    docstring); none for a form segment present on one side only."""
    if diff.status != "changed" or diff.a is None or diff.b is None or diff.a == diff.b:
        return []
    aspect = diff.path.rsplit(":", 1)[-1]
    if aspect == "number":
        return _compare_number(diff.path, diff.a, diff.b)
    a, b = _load(diff.a), _load(diff.b)
    if aspect == "escapes":
        return _compare_escapes(diff.path, a, b)
    if aspect == "keys":
        return _compare_keys(diff.path, a, b)
    if aspect == "whitespace":
        return _compare_whitespace(diff.path, a, b)
    if aspect == "document":
        return _compare_document(diff.path, a, b)
    return []


def compare_forms(
    a: Sequence[Segment], b: Sequence[Segment]
) -> list[tuple[SegmentDiff, tuple[Change, ...]]]:
    """Every form segment (aligned by path) whose comparison gives changes, with them."""
    out = []
    for d in diff_segments(a, b):
        changes = tuple(compare_segment(d))
        if changes:
            out.append((d, changes))
    return out


def compare(a: bytes, b: bytes) -> list[Change]:
    """The ``serialisation`` changes between two bodies (none when either is not JSON)."""
    return [c for _, cs in compare_forms(form_segments(a), form_segments(b)) for c in cs]


# ------------------------------------------------------------------- for ``show``


@dataclass(frozen=True)
class EscapedCodePoint:
    """A code point the body writes as a ``\\u`` escape (or surrogate pair)."""

    char: str
    label: str  # U+200B ZERO WIDTH SPACE
    count: int
    path: str  # where it is first written so
    spelling: str  # how it is first written (``\\u200b``)


def escaped_code_points(body: bytes) -> list[EscapedCodePoint]:
    """Every code point the JSON body writes as a ``\\u`` escape, in order of first
    occurrence, with its count; short escapes (``\\n``, ``\\"``, ``\\/`` ...) left out.
    Empty when the body is not JSON."""
    s = scan(body)
    if s is None:
        return []
    return [EscapedCodePoint(ch, label(ch), n, *s.escaped_at[ch]) for ch, n in s.escaped.items()]


def escaped_text(body: bytes) -> str:
    """The code points of ``escaped_code_points``, each as many times as it occurs (for a
    counter of suspicious code points such as ``report.unicode.mark_summary``)."""
    return "".join(e.char * e.count for e in escaped_code_points(body))
