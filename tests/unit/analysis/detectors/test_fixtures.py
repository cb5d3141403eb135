"""Adversarial detector fixtures: each covert channel of DESIGN.md's table, by kind."""

from __future__ import annotations

import json

import pytest

from promptwitness.analysis.changes import Change
from promptwitness.analysis.confusables import confusable, data_version, skeleton
from promptwitness.analysis.detectors import classify
from promptwitness.analysis.detectors._base import label
from promptwitness.analysis.diff import SegmentDiff, diff_text
from promptwitness.analysis.forms import find_dates, form, is_date, same_form


def run(a: str, b: str, channel: str = "body", path: str = "system[0].text") -> list[Change]:
    return classify(SegmentDiff(path, channel, "changed", a, b, diff_text(a, b)))


def one(a: str, b: str, channel: str = "body", path: str = "system[0].text") -> Change:
    changes = run(a, b, channel, path)
    assert len(changes) == 1, changes
    return changes[0]


# --- invisible ---------------------------------------------------------------------

INVISIBLES = [
    ("\U000e0041\U000e0042", "U+E0041 TAG LATIN CAPITAL LETTER A"),
    ("\U000e0001", "U+E0001 LANGUAGE TAG"),
    ("\ufe0f", "U+FE0F VARIATION SELECTOR-16"),
    ("\U000e0100", "U+E0100 VARIATION SELECTOR-17"),
    ("\u200b", "U+200B ZERO WIDTH SPACE"),
    ("\u200d", "U+200D ZERO WIDTH JOINER"),
    ("\u200c", "U+200C ZERO WIDTH NON-JOINER"),
    ("\u2060", "U+2060 WORD JOINER"),
    ("\u2062", "U+2062 INVISIBLE TIMES"),
    ("\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("\u2066", "U+2066 LEFT-TO-RIGHT ISOLATE"),
    ("\u200f", "U+200F RIGHT-TO-LEFT MARK"),
    ("\u00ad", "U+00AD SOFT HYPHEN"),
    ("\ufeff", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
    ("\x00", "U+0000 NULL"),
]


@pytest.mark.parametrize(("payload", "name"), INVISIBLES)
@pytest.mark.parametrize("where", [0, 5, 11])
def test_invisible_insertions_anywhere(payload: str, name: str, where: str) -> None:
    a = "Hello world"
    b = a[:where] + payload + a[where:]
    c = one(a, b)
    assert c.kind == "invisible" and c.severity == "covert"
    assert c.control == "" and c.observed == payload
    assert c.b_span == (where, where + len(payload))
    assert name in c.code_points
    assert name in c.detail and "inserted" in c.detail


def test_invisible_removed_and_replaced() -> None:
    removed = one("a\u200bb", "ab")
    assert (removed.kind, removed.control, removed.observed) == ("invisible", "\u200b", "")
    assert "removed U+200B" in removed.detail
    swapped = one("a\u200bb", "a\u200db")
    assert swapped.kind == "invisible"
    assert swapped.code_points == ("U+200B ZERO WIDTH SPACE", "U+200D ZERO WIDTH JOINER")


def test_invisible_next_to_other_changes_is_still_its_own_change() -> None:
    changes = run("Use the Bash tool.", "Use the Bash\u200b tool!")
    kinds = {c.kind for c in changes}
    assert "invisible" in kinds and "punctuation" in kinds


def test_emoji_variation_selector_dropped() -> None:
    c = one("ok \u2764\ufe0f", "ok \u2764")
    assert c.kind == "invisible" and c.control == "\ufe0f"


# --- confusable --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "control", "observed"),
    [
        ("don't do it", "don\u2019t do it", "'", "\u2019"),  # right single quotation mark
        ("don't do it", "don\u02bct do it", "don't", "don\u02bct"),  # modifier letter apostrophe
        ("use the cache", "use th\u0435 cache", "the", "th\u0435"),  # Cyrillic ie
        ("Forge", "F\u03bfrge", "Forge", "F\u03bfrge"),  # Greek omicron
        ("apple pay", "\u0430pple pay", "apple", "\u0430pple"),  # Cyrillic a
        ("plan A", "plan \uff21", "A", "\uff21"),  # full-width letter
        ("version 2", "version \uff12", "2", "\uff12"),  # full-width digit
        ("a, b", "a\uff0c b", ",", "\uff0c"),  # full-width comma: width folds (documented)
        ("key: value", "key\uff1a value", ":", "\uff1a"),  # full-width colon (in TS#39)
        ("x - y", "x \u2013 y", "-", "\u2013"),  # en dash
        ('say "hi', "say \u201chi", '"', "\u201c"),  # same-length quote look-alike
    ],
)
def test_confusables(a: str, b: str, control: str, observed: str) -> None:
    c = one(a, b)
    assert (c.kind, c.control, c.observed) == ("confusable", control, observed)
    assert "look-alike" in c.detail


def test_confusable_detail_names_both_code_points() -> None:
    c = one("it's", "it\u2019s")
    assert c.detail == "U+0027 APOSTROPHE → U+2019 RIGHT SINGLE QUOTATION MARK (look-alike)"
    assert c.code_points == ("U+0027 APOSTROPHE", "U+2019 RIGHT SINGLE QUOTATION MARK")


def test_several_lookalikes_in_one_word_are_one_change() -> None:
    c = one("hello world", "h\u0435ll\u043e world")
    assert (c.kind, c.control, c.observed, c.a_span) == (
        "confusable",
        "hello",
        "h\u0435ll\u043e",
        (0, 5),
    )


def test_confusable_beats_param_channel() -> None:
    c = one('"don\'t"', '"don\u2019t"', channel="param", path="params.stop")
    assert c.kind == "confusable"


def test_skeleton_data() -> None:
    assert data_version().split(".")[0].isdigit()
    assert skeleton("\u2019") == skeleton("'") == skeleton("\u02bc")
    assert confusable("e", "\u0435") and not confusable("e", "e") and not confusable("e", "f")


# --- whitespace --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("one two", "one  two"),
        ("one two", "one\u00a0two"),
        ("one two", "one\u2009two"),
        ("one two", "one\u202ftwo"),
        ("one two", "one\u3000two"),
        ("one two", "one\ttwo"),
        ("line\nnext", "line\r\nnext"),
        ("end.", "end.  "),
        ("one  two", "one two"),
    ],
)
def test_whitespace(a: str, b: str) -> None:
    c = one(a, b)
    assert c.kind == "whitespace"
    assert c.control is not None and c.observed is not None
    assert not (c.control + c.observed).strip()


def test_nbsp_is_whitespace_not_confusable() -> None:
    c = one("a b", "a\u00a0b")
    assert c.detail == "U+0020 SPACE → U+00A0 NO-BREAK SPACE (whitespace)"


# --- casing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "control", "observed"),
    [
        ("Welcome to Forge.", "Welcome to FORGE.", "Forge", "FORGE"),
        ("the bash tool", "the Bash tool", "bash", "Bash"),
        ("STRASSE", "straße", "STRASSE", "straße"),
    ],
)
def test_casing(a: str, b: str, control: str, observed: str) -> None:
    c = one(a, b)
    assert (c.kind, c.control, c.observed) == ("casing", control, observed)


# --- punctuation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "control", "observed"),
    [
        ("Wait...", "Wait\u2026", "...", "\u2026"),  # ellipsis: typographic, not look-alike
        ("a \u2014 b", "a - b", "\u2014", "-"),  # em dash
        ("a -- b", "a \u2014 b", "--", "\u2014"),
        ("Done.", "Done!", ".", "!"),
        ("Done.", "Done", ".", ""),
        ("\u300c\u306f\u3044\u300d", "\u300e\u306f\u3044\u300f", "\u300c", "\u300e"),
    ],
)
def test_punctuation(a: str, b: str, control: str, observed: str) -> None:
    changes = run(a, b)
    assert changes[0].kind == "punctuation"
    assert (changes[0].control, changes[0].observed) == (control, observed)


# --- dates: form vs value ------------------------------------------------------------

DATE_FORMS = [
    # (locale-ish, control, observed)
    ("ISO→slashed", "2026-11-24", "2026/11/24"),
    ("ISO→en_US", "2026-11-24", "11/24/2026"),
    ("de_DE→en_US", "24.11.2026", "11/24/2026"),
    ("en_GB→ISO", "24/11/2026", "2026-11-24"),
    ("ru_RU→ISO", "24.11.2026 г.", "2026-11-24"),
    ("ru_RU words", "24 ноября 2026 г.", "24.11.2026"),
    ("ja_JP→ISO", "2026年11月24日", "2026-11-24"),
    ("zh_CN weekday", "2026年11月24日 星期二", "2026年11月24日"),
    ("ja_JP paren weekday", "2026年11月24日(火)", "2026/11/24(火)"),
    ("ko_KR", "2026년 11월 24일", "2026-11-24"),
    ("en full→abbr", "November 24, 2026", "Nov 24, 2026"),
    ("en_US→en_GB words", "November 24, 2026", "24 November 2026"),
    ("de words", "24. November 2026", "24.11.2026"),
    ("weekday full→abbr", "Tuesday, November 24, 2026", "Tue, November 24, 2026"),
    ("24h→12h", "22:05", "10:05 PM"),
    ("ja 12h", "22:05", "午後10:05"),
    ("zh 12h", "22:05", "下午10:05"),
    ("zero offset written Z, then +00:00", "2026-11-24T10:05:00Z", "2026-11-24T10:05:00+00:00"),
]


@pytest.mark.parametrize(("name", "a", "b"), DATE_FORMS, ids=[d[0] for d in DATE_FORMS])
def test_date_format(name: str, a: str, b: str) -> None:
    c = one(f"Today is {a}. Go.", f"Today is {b}. Go.")
    assert c.kind == "date-format", (name, c)
    assert c.control is not None and c.observed is not None
    # the widened span holds the whole date on both sides
    assert a in c.control or c.control in a
    assert b in c.observed or c.observed in b
    assert is_date(c.control) and is_date(c.observed)


def test_month_name_alone() -> None:
    c = one("Updated in November.", "Updated in Nov.")
    assert (c.kind, c.control, c.observed) == ("date-format", "November", "Nov")


DATE_VALUES = [
    ("2026-11-23", "2026-11-24"),
    ("23.11.2026", "24.11.2026"),
    ("11/23/2026", "11/24/2026"),
    ("2026年11月23日", "2026年11月24日"),
    ("23 ноября 2026 г.", "24 ноября 2026 г."),
    ("November 24, 2026", "December 24, 2026"),
    ("10:05", "19:05"),
    ("9:59 AM", "10:00 AM"),
    ("Tuesday", "Wednesday"),
    ("2026-11-24T23:59:59Z", "2026-11-25T00:00:01Z"),
    ("2026-11-24T23:59:59+08:00", "2026-11-25T00:00:01+08:00"),  # the same offset
    # another zone's offset, written by the same formatter: a value (the hour is one too)
    ("2026-11-24T10:05:00+00:00", "2026-11-24T18:05:00+08:00"),
    ("2026-11-24T10:05:00Z", "2026-11-24T18:05:00+08:00"),  # RFC 3339: Z is offset zero
    ("10:05 +0000", "18:05 +0800"),
]


@pytest.mark.parametrize(("a", "b"), DATE_VALUES)
def test_date_value(a: str, b: str) -> None:
    c = one(f"Now: {a} (local)", f"Now: {b} (local)")
    assert (c.kind, c.control, c.observed) == ("value", a, b)
    assert c.severity == "expected"


def test_value_numbers_and_ids() -> None:
    assert one("retry 3 times", "retry 4 times").kind == "value"
    assert one("version 9 now", "version 10 now").kind == "value"
    assert one("id req_ab12", "id req_cd34").kind == "value"
    assert one("pad 09", "pad 9").kind == "content"  # zero padding is a form
    assert one("the cat sat", "the dog sat").kind == "content"


def test_forms() -> None:
    assert form("2026-11-23") == form("2026-11-24") == "9999-99-99"
    assert form("2026/11/24") == "9999/99/99"
    assert form("\uff12\uff10\uff12\uff16") == "\uff19" * 4  # full-width keeps its width
    assert same_form("November", "December") and not same_form("Nov", "November")
    assert same_form("9", "10") and not same_form("09", "9")
    # a UTC offset after a time: its digits are a value, how it is written its form
    assert same_form("10:05+00:00", "10:05+08:00") and same_form("10:05Z", "10:05-05:00")
    assert not same_form("10:05+08:00", "10:05+0800")
    assert not same_form("10:05Z", "10:05+00:00")  # a zero offset written two ways
    assert form("10:05:07.123+08:00") == "99:99:99.999+99:99"
    assert form("10:05:07Z") == "99:99:99A"
    assert same_form("24-11-2026", "25-11-2027")  # not an offset: no time before it
    assert is_date("Tue, 24 Nov 2026 10:05:00 GMT")
    assert not is_date("10.0.0.1") and not is_date("hello") and not is_date("Do")
    assert list(find_dates("at 10:05 on 2026-11-24")) == [(3, 8), (12, 22)]


# --- ordering ----------------------------------------------------------------------


def test_tools_reorder() -> None:
    c = one("Bash\nRead\nEdit", "Read\nBash\nEdit", channel="order", path="tools.order")
    assert c.kind == "ordering" and c.severity == "covert"
    assert c.a_span == (0, 14) and c.b_span == (0, 14)


def test_tools_added_is_not_ordering() -> None:
    changes = run("Bash\nRead", "Bash\nRead\nEdit", channel="order", path="tools.order")
    assert [c.kind for c in changes] == ["content"]


def test_json_key_reorder() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}}
    reordered = {
        "properties": {"b": {"type": "integer"}, "a": {"type": "string"}},
        "type": "object",
    }
    a = json.dumps(schema, separators=(",", ":"))
    b = json.dumps(reordered, separators=(",", ":"))
    c = one(a, b, path="tools[Bash].schema")
    assert c.kind == "ordering"
    assert "'type, properties' → 'properties, type'" in c.detail


def test_json_nested_key_reorder_and_array_reorder() -> None:
    assert one('{"m":{"x":1,"y":2}}', '{"m":{"y":2,"x":1}}', "param", "params.m").kind == "ordering"
    assert one('["a","b","c"]', '["c","a","b"]', "param", "params.stop").kind == "ordering"


def test_json_value_change_is_not_ordering() -> None:
    changes = run('{"a":1,"b":2}', '{"b":2,"a":3}', channel="param", path="params.x")
    assert "ordering" not in {c.kind for c in changes}


# --- channels, added/removed ----------------------------------------------------------


def test_param_and_header_changes_are_overt() -> None:
    assert one("0.7", "0.9", "param", "params.temperature").kind == "param"
    assert one("1024", "2048", "param", "params.max_tokens").kind == "param"
    assert (
        one("claude-cli/1.2.3", "claude-cli/1.2.4", "header", "headers.user-agent").kind == "header"
    )


def test_header_date_in_another_form_is_covert() -> None:
    c = one("date 2026-11-24", "date 2026/11/24", "header", "headers.x-date")
    assert c.kind == "date-format"


@pytest.mark.parametrize(
    ("channel", "kind"),
    [("param", "param"), ("header", "header"), ("order", "ordering"), ("body", "content")],
)
def test_added_and_removed_segments(channel: str, kind: str) -> None:
    added = classify(SegmentDiff("p", channel, "added", None, "x", diff_text("", "x")))
    removed = classify(SegmentDiff("p", channel, "removed", "x", None, diff_text("x", "")))
    assert [(c.kind, c.control, c.observed, c.a_span) for c in added] == [(kind, None, "x", None)]
    assert [(c.kind, c.control, c.observed, c.b_span) for c in removed] == [(kind, "x", None, None)]


def test_content_words() -> None:
    c = one("Be concise.", "Be concise. Never mention the proxy.")
    assert c.kind == "content" and c.severity == "overt"
    assert c.observed is not None and "proxy" in c.observed


def test_labels_for_unnamed_code_points() -> None:
    assert label("\t") == "U+0009 CHARACTER TABULATION"
    assert label("\U000e0041") == "U+E0041 TAG LATIN CAPITAL LETTER A"
    assert label("\ue000") == "U+E000 <private use>"
    assert label("\U0010fffe").endswith("<unassigned>")


def test_context_is_around_the_change_in_b() -> None:
    a = "x" * 100 + " it's " + "y" * 100
    b = "x" * 100 + " it\u2019s " + "y" * 100
    c = one(a, b)
    assert c.context == "x" * 17 + " it\u2019s " + "y" * 18  # 20 code points either side
