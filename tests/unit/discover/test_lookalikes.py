"""discover.lookalikes: the literal parser and what counts as a look-alike/invisible."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from promptwitness.discover.lookalikes import (
    find_lookalikes,
    invisible,
    literals,
    lookalike_of,
    reported,
    unescape_js,
    unescape_py,
)
from promptwitness.discover.model import Location


def loc(i: int) -> Location:
    return Location("t.js", i)


def found(text: str, fmt: str = "js") -> list[tuple[str, tuple[str, ...], bool]]:
    return [(x.literal, x.code_points, x.escaped) for x in find_lookalikes(text, fmt, loc)]


# ------------------------------------------------------------------ code points


def test_code_point_sets() -> None:
    assert lookalike_of("\u0430") == "a"  # Cyrillic a
    assert lookalike_of("\u2019") == "'"
    assert lookalike_of("\u2026") is None  # ... is typographic, three characters
    assert lookalike_of("a") is None
    assert lookalike_of("\u2571") is None  # box drawing
    for ch in "\u200b\u200c\u200d\u2060\ufeff\u00ad\u00a0\u202f\u3000\u202e\ufe0f\U000e0041":
        assert invisible(ch), hex(ord(ch))
    for ch in "\x1b\x00\n a\u4e2d":
        assert not invisible(ch)


# ------------------------------------------------------------------ rules


def test_mixed_script_word_is_reported() -> None:
    assert found('const h = "p\u0430ypal.com";') == [('"p\u0430ypal.com"', ("U+0430",), False)]
    assert found("x = 'SYSREQ_STAT\u0415'")[0][1] == ("U+0415",)
    # a whole look-alike word glued to ASCII: an IDN homograph
    assert found('u = "\u0430\u0440\u0440\u04cf\u0435.com"')


def test_ordinary_text_is_not_reported() -> None:
    assert found('t = "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440";') == []  # Russian
    assert found('t = "OpenCode-\u0433 \u0445\u044d\u0440\u0445\u044d\u043d";') == []  # Mongolian
    assert found('t = "Yanl\u0131\u015f olmal\u0131d\u0131r";') == []  # Turkish dotless i
    assert found('t = "ko\u02bbrsatish";') == []  # Uzbek turned comma
    assert found('t = "\u4f60\u597d\uff0c\u4e16\u754c";') == []  # Chinese punctuation
    assert found('t = "\U0001f468\u200d\U0001f469\u200d\U0001f467";') == []  # ZWJ emoji
    assert found('t = "\u2764\ufe0f";') == []  # emoji presentation
    assert found('t = "1\ufe0f\u20e3";') == []  # keycap
    assert found('t = "\u0e9a\u0ecd\u200b\u0ea1\u0eb5";') == []  # Lao word break
    assert found('t = "Don\u2019t worry \u2026 it\u2019s fine";') == []  # typography
    assert found('t = "Rules 1\u20136 below - see";') == []  # a range dash
    assert found('t = "\u0431";') == []  # a character map entry


def test_invisibles_raw_and_escaped() -> None:
    assert found('a = "ab\u200bcd";') == [('"ab\u200bcd"', ("U+200B",), False)]
    assert found(r'a = "ab\u200Bcd";') == [(r'"ab\u200Bcd"', ("U+200B",), True)]
    assert found(r'a = "x\u{200B}y";')[0][1:] == (("U+200B",), True)
    assert found(r'a = "x\xa0y";')[0][1:] == (("U+00A0",), True)
    assert found(r"a = `tag ${x} \u202Eevil`;")[0][1] == ("U+202E",)
    assert found(r'a = "\uFEFF";')[0][1] == ("U+FEFF",)


def test_punctuation_look_alikes() -> None:
    assert found('a = "it\'s and it\u2019s";')[0][1] == ("U+2019",)  # both forms mixed
    assert found('a = "api\u2024example\u2024com";')[0][1] == ("U+2024",)
    assert found('a = "GLM\u2011Image";')[0][1] == ("U+2011",)
    assert found('a = "w\u00d7h";')[0][1] == ("U+00D7",)  # × inside a word


def test_comments_and_regexes_are_not_literals() -> None:
    assert found("// p\u0430ypal in a comment\nx = 1;") == []
    assert found("/* p\u0430ypal */ x = 1;") == []
    assert found('x = /[\u200b"]/g.test(s); y = "p\u0430y";') == [
        ('"p\u0430y"', ("U+0430",), False)
    ]


def test_python_literals() -> None:
    src = (
        "import os\n# p\u0430ypal in a comment\n"
        'A = "p\u0430ypal"\nB = r"\\u200b"\nC = "\\u200b"\nD = b"\\u200b"\n'
        "E = '''multi\nline \u200b'''\nF = f'{x}\\N{ZERO WIDTH SPACE}'\n"
    )
    got = found(src, "python")
    assert [g[1] for g in got] == [("U+0430",), ("U+200B",), ("U+200B",), ("U+200B",)]
    assert [g[2] for g in got] == [False, True, False, True]


def test_binary_strings_lines() -> None:
    text = "plain line\nsays p\u0430ypal here\nok"
    got = find_lookalikes(text, "binary-strings", lambda i: Location("bin", i))
    assert [(x.literal, x.location.offset) for x in got] == [("says p\u0430ypal here", 11)]


def test_reported_indices() -> None:
    assert reported("p\u0430y") == [1]
    assert reported("plain") == []


def test_character_tables_are_not_text() -> None:
    table = "".join(chr(c) for c in range(0xA0, 0xE0))  # a code page's upper half
    assert found(json.dumps(table)) == []


def test_long_literal_is_shortened_and_fast() -> None:
    body = "word " * 20000 + "p\u0430y" + " word" * 20000
    got = found(f'x = "{body}";')
    assert len(got) == 1 and len(got[0][0]) <= 160 and "p\u0430y" in got[0][0]
    many = "x\u0430" * 50000  # one token of 100,000 code points, all of them hits
    assert found(f'y = "{many}";')


def test_location_is_the_literal_start() -> None:
    text = 'let a = 1;\nlet b = "p\u0430y";'
    (x,) = find_lookalikes(text, "js", lambda i: Location("f.js", i))
    assert x.location.offset == text.index('"p')
    assert "let b" in x.context


# ------------------------------------------------------------------ escapes


def test_unescape_js() -> None:
    assert (
        unescape_js(r"a\nb\x41\u0042\u{1F600}\uD83D\uDE00\101\0\q")[0]
        == "a\nbAB\U0001f600\U0001f600A\0q"
    )
    value, esc = unescape_js(r"x\u200b")
    assert value == "x\u200b" and esc == (False, True)
    assert unescape_js("a\\\nb")[0] == "ab"  # line continuation
    assert unescape_js("\\")[0] == "\\"
    assert unescape_js(r"\u{110000}")[0] == "u{110000}"


def test_unescape_py() -> None:
    assert unescape_py(r"\N{ZERO WIDTH SPACE}\x41\101\q")[0] == "\u200bAA\\q"
    assert unescape_py(r"\u200b", raw=True)[0] == r"\u200b"
    assert unescape_py(r"\u200b", is_bytes=True)[0] == r"\u200b"
    assert unescape_py(r"\N{NO SUCH NAME}")[0] == r"\N{NO SUCH NAME}"


# ------------------------------------------------------------------ properties


def _js_literal(s: str, quote: str) -> str:
    out = []
    for ch in s:
        cp = ord(ch)
        if ch in (quote, "\\") or cp < 0x20 or cp > 0x7E:
            if cp > 0xFFFF:
                out.append(f"\\u{{{cp:X}}}")
            else:
                out.append(f"\\u{cp:04x}")
        else:
            out.append(ch)
    return quote + "".join(out) + quote


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_never_raises(text: str) -> None:
    for fmt in ("js", "python", "binary-strings", "json"):
        list(literals(text, fmt))
        find_lookalikes(text, fmt, lambda i: Location("x", i))


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",))), st.sampled_from(["'", '"', "`"])
)
def test_js_escapes_round_trip(value: str, quote: str) -> None:
    lit = _js_literal(value, quote)
    (got,) = list(literals(f"x = {lit};", "js"))
    assert got.value == value
    assert len(got.escaped) == len(value)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",))))
def test_python_repr_round_trip(value: str) -> None:
    (got,) = list(literals(f"x = {value!r}\n", "python"))
    assert got.value == value


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_raw_js_literal_round_trip(value: str) -> None:
    """Unescaped text (no quote, backslash or newline) is its own value."""
    body = value.replace('"', "").replace("\\", "").replace("\n", "").replace("\r", "")
    (got,) = list(literals(f'"{body}"', "js"))
    assert got.value == body and not any(got.escaped)
