"""report.unicode: names, flags, markers; nothing invisible survives mark()."""

from __future__ import annotations

import re
import unicodedata

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from promptwitness.report.unicode import (
    INVISIBLE_MARKER_STYLE,
    MARKER_STYLE,
    confusable_with,
    describe,
    is_default_ignorable,
    is_suspicious,
    label,
    mark,
    mark_summary,
    rich_mark,
)


@pytest.mark.parametrize(
    ("ch", "code", "name", "category", "flags"),
    [
        ("'", "U+0027", "APOSTROPHE", "Po", ()),
        ("\u2019", "U+2019", "RIGHT SINGLE QUOTATION MARK", "Pf", ("confusable",)),
        ("\u02bc", "U+02BC", "MODIFIER LETTER APOSTROPHE", "Lm", ("confusable",)),
        ("\u200b", "U+200B", "ZERO WIDTH SPACE", "Cf", ("invisible",)),
        ("\u2060", "U+2060", "WORD JOINER", "Cf", ("invisible",)),
        ("\U000e0041", "U+E0041", "TAG LATIN CAPITAL LETTER A", "Cf", ("invisible", "tag")),
        ("\U000e0001", "U+E0001", "LANGUAGE TAG", "Cf", ("invisible", "tag")),
        ("\U000e007f", "U+E007F", "CANCEL TAG", "Cf", ("invisible", "tag")),
        ("\U000e0000", "U+E0000", "<unassigned-tag-E0000>", "Cn", ("invisible", "tag")),
        ("\ufe0f", "U+FE0F", "VARIATION SELECTOR-16", "Mn", ("invisible", "variation-selector")),
        (
            "\U000e0100",
            "U+E0100",
            "VARIATION SELECTOR-17",
            "Mn",
            ("invisible", "variation-selector"),
        ),
        ("\u00a0", "U+00A0", "NO-BREAK SPACE", "Zs", ("space",)),
        ("\u2009", "U+2009", "THIN SPACE", "Zs", ("space",)),
        ("\u0430", "U+0430", "CYRILLIC SMALL LETTER A", "Ll", ("confusable",)),
        ("\u0435", "U+0435", "CYRILLIC SMALL LETTER IE", "Ll", ("confusable",)),
        ("\u043e", "U+043E", "CYRILLIC SMALL LETTER O", "Ll", ("confusable",)),
        ("\u03bf", "U+03BF", "GREEK SMALL LETTER OMICRON", "Ll", ("confusable",)),
        ("\uff01", "U+FF01", "FULLWIDTH EXCLAMATION MARK", "Po", ("confusable",)),
        ("\u202e", "U+202E", "RIGHT-TO-LEFT OVERRIDE", "Cf", ("invisible", "bidi")),
        ("\u200e", "U+200E", "LEFT-TO-RIGHT MARK", "Cf", ("invisible", "bidi")),
        ("\u2212", "U+2212", "MINUS SIGN", "Sm", ("confusable",)),
        ("\u2215", "U+2215", "DIVISION SLASH", "Sm", ("confusable",)),
        ("\r", "U+000D", "<control-000D>", "Cc", ("invisible",)),
        ("\x7f", "U+007F", "<control-007F>", "Cc", ("invisible",)),
        ("\ufdd0", "U+FDD0", "<noncharacter-FDD0>", "Cn", ("invisible",)),
        ("\U0010ffff", "U+10FFFF", "<noncharacter-10FFFF>", "Cn", ("invisible",)),
        ("\u0378", "U+0378", "<unassigned-0378>", "Cn", ("invisible",)),
        ("\ue000", "U+E000", "<private-use-E000>", "Co", ()),
        ("\ud800", "U+D800", "<surrogate-D800>", "Cs", ("invisible",)),
        ("\u00e9", "U+00E9", "LATIN SMALL LETTER E WITH ACUTE", "Ll", ()),
    ],
)
def test_describe(ch: str, code: str, name: str, category: str, flags: tuple[str, ...]) -> None:
    info = describe(ch)
    assert (info.char, info.code, info.name, info.category, info.flags) == (
        ch,
        code,
        name,
        category,
        flags,
    )


def test_describe_takes_one_code_point() -> None:
    with pytest.raises(ValueError):
        describe("ab")


def test_confusable_with() -> None:
    assert confusable_with("\u2019") == "'"
    assert confusable_with("\u0430") == "a"
    assert confusable_with("\uff01") == "!"
    assert confusable_with("\uff5e") == "~"
    assert confusable_with("a") is None


def test_default_ignorable_matches_the_unicode_property() -> None:
    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    expected = set(regex.findall(r"\p{Default_Ignorable_Code_Point}", every))
    ours = {ch for ch in every if is_default_ignorable(ch)}
    assert ours == expected


def test_is_suspicious() -> None:
    assert [c for c in "a Z~\n\t" if is_suspicious(c)] == []
    assert all(is_suspicious(c) for c in "\r\x00\x1b\x7f\x85\u00a0\u00e9\u2019\u4e2d")


@pytest.mark.parametrize(
    ("text", "marked"),
    [
        ("plain ASCII, with\ttab\n", "plain ASCII, with\ttab\n"),
        ("it\u2019s", "it\u2019\u27e6U+2019 RIGHT SINGLE QUOTATION MARK\u27e7s"),
        ("a\u200bb", "a\u27e6U+200B ZERO WIDTH SPACE\u27e7b"),
        ("x\r\n", "x\u27e6U+000D\u27e7\n"),
        ("\U000e0041", "\u27e6U+E0041 TAG LATIN CAPITAL LETTER A\u27e7"),
        (
            "\u2764\ufe0f",
            "\u2764\u27e6U+2764 HEAVY BLACK HEART\u27e7\u27e6U+FE0F VARIATION SELECTOR-16\u27e7",
        ),
        ("1\u00a02", "1\u00a0\u27e6U+00A0 NO-BREAK SPACE\u27e72"),
        ("e\u0301!", "e\u0301\u27e6U+0301 COMBINING ACUTE ACCENT\u27e7!"),
        (
            "\u0430\u0301",
            "\u0430\u0301\u27e6U+0430 CYRILLIC SMALL LETTER A\u27e7"
            "\u27e6U+0301 COMBINING ACUTE ACCENT\u27e7",
        ),
        ("\n\u0301", "\n\u27e6U+0301 COMBINING ACUTE ACCENT\u27e7"),
        ("ab\u202ecd", "ab\u27e6U+202E RIGHT-TO-LEFT OVERRIDE\u27e7cd"),
        ("\ufffe", "\u27e6U+FFFE <noncharacter>\u27e7"),
        ("\u27e6", "\u27e6\u27e6U+27E6 MATHEMATICAL LEFT WHITE SQUARE BRACKET\u27e7"),
    ],
)
def test_mark(text: str, marked: str) -> None:
    assert mark(text) == marked


_MARKER = re.compile("\u27e6U\\+([0-9A-F]{4,6})(?: [^\u27e6\u27e7]*)?\u27e7")


def unmark(marked: str) -> str:
    """Rebuild the original: markers give their code point, non-ASCII glyphs are dropped
    (each has its marker), plain ASCII stays."""
    out = []
    i = 0
    while i < len(marked):
        m = _MARKER.match(marked, i)
        if m:
            out.append(chr(int(m.group(1), 16)))
            i = m.end()
            continue
        if not is_suspicious(marked[i]):
            out.append(marked[i])
        i += 1
    return "".join(out)


TRICKY = (
    "'\u2019\u02bc\u200b\u2060\U000e0041\ufe0f\U000e0100\u00a0\u2009\u0430\u0435\u043e"
    "\u03bf\uff01\u202e\u200d\u0301\U0001f468\r\n\t\u27e6\u27e7Ua+1 "
)
texts = st.one_of(st.text(max_size=50), st.text(alphabet=TRICKY, max_size=50))


def hides(ch: str) -> bool:
    return ch not in "\n\t" and (
        unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Cn") or is_default_ignorable(ch)
    )


@settings(max_examples=200)
@given(texts)
def test_mark_hides_nothing_and_loses_nothing(text: str) -> None:
    marked = mark(text)
    assert not any(hides(ch) for ch in marked)
    assert unmark(marked) == text
    assert sum(1 for _ in _MARKER.finditer(marked)) >= sum(mark_summary(text).values())


@settings(max_examples=200)
@given(texts)
def test_rich_mark_has_the_same_characters(text: str) -> None:
    assert rich_mark(text).plain == mark(text)


def test_rich_mark_styles_markers() -> None:
    t = rich_mark("it\u2019s\u200b")
    styled = [(t.plain[s.start : s.end], str(s.style)) for s in t.spans]
    assert styled == [
        ("\u27e6U+2019 RIGHT SINGLE QUOTATION MARK\u27e7", MARKER_STYLE),
        ("\u27e6U+200B ZERO WIDTH SPACE\u27e7", INVISIBLE_MARKER_STYLE),
    ]


def test_mark_summary_counts_in_first_seen_order() -> None:
    counts = mark_summary("it\u2019s \u2019\u200b ok\r\n\u200b\u200b")
    assert list(counts.items()) == [("\u2019", 2), ("\u200b", 3), ("\r", 1)]
    assert not mark_summary("plain\n")


def test_label() -> None:
    assert label("'") == "U+0027 APOSTROPHE"
    assert label("\r") == "U+000D"
    assert label("\U000e0000") == "U+E0000 <unassigned-tag>"


@settings(max_examples=300)
@given(st.one_of(st.text(), st.text(alphabet=st.characters(max_codepoint=0x7F))))
def test_mark_fast_path_equals_the_full_walk(text: str) -> None:
    from promptwitness.report.unicode import _pieces

    assert mark(text) == "".join(piece for piece, _ in _pieces(text))


def test_edit_labels_is_the_one_rule_of_every_view() -> None:
    """The terminal's, the HTML's and the history's note under an edit."""
    from promptwitness.report.terminal import edit_note
    from promptwitness.report.unicode import edit_labels, side_labels

    # a look-alike, short: every code point of it, by name
    assert edit_labels("'", "\u02bc") == (
        ["U+0027 APOSTROPHE"],
        ["U+02BC MODIFIER LETTER APOSTROPHE"],
    )
    # plain-ASCII punctuation or white space: named (hard to see)
    assert edit_labels("-", "/") == (["U+002D HYPHEN-MINUS"], ["U+002F SOLIDUS"])
    assert edit_labels("\t", " ")[0] and edit_labels("\t", " ")[1]
    # ids, digits, words: nothing (the marked text shows them)
    assert edit_labels("a1b2", "c3d4") == ([], []) == edit_labels("a-", "b/")
    assert edit_labels("", "") == ([], [])
    # long: only the hidden and non-ASCII code points, once each, with a count
    long_old, long_new = "Today is a fine day", "Today\u200b is a fine\u200b day"
    assert edit_labels(long_old, long_new) == ([], ["U+200B ZERO WIDTH SPACE \u00d72"])
    assert side_labels("\n\t\u200b", 12) == ["U+200B ZERO WIDTH SPACE"]
    many = "".join(chr(0x3041 + i) for i in range(14))
    assert side_labels(many, 12)[-1] == "\u2026 2 more"
    assert edit_note("-", "/") == "- U+002D HYPHEN-MINUS  + U+002F SOLIDUS"
    assert edit_note("word", "other") is None
