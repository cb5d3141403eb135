"""``analysis.serialisation``: the JSON body's form, compared without its values."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptwitness.analysis.changes import KINDS, SEVERITY
from promptwitness.analysis.detectors import classify
from promptwitness.analysis.diff import diff_segments
from promptwitness.analysis.serialisation import (
    CHANNEL,
    MAX_DEPTH,
    MAX_NODES,
    compare,
    compare_forms,
    escaped_code_points,
    escaped_text,
    form_segments,
    scan,
)

ZWSP = "\u200b"
PROMPT = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 1000,
    "messages": [{"role": "user", "content": [{"type": "text", "text": f"it\u2019s{ZWSP} ok"}]}],
    "metadata": {"user_id": "u1", "session": "s1"},
}
TEXT = "body.json.messages[0].content[0].text:escapes"


def dumps(value: Any, **kw: Any) -> bytes:
    kw.setdefault("ensure_ascii", False)
    kw.setdefault("separators", (",", ":"))
    return json.dumps(value, **kw).encode("utf-8")


def where(changes: list[Any]) -> list[tuple[str, str | None, str | None]]:
    return [(c.path, c.control, c.observed) for c in changes]


# --------------------------------------------------------------------- the kind


def test_the_kind_is_covert_and_known_everywhere() -> None:
    from promptwitness.report.html import KIND_HELP
    from promptwitness.report.sarif import rules

    assert "serialisation" in KINDS and SEVERITY["serialisation"] == "covert"
    assert KIND_HELP["serialisation"]
    assert "promptwitness/serialisation" in [r["id"] for r in rules()]


# ------------------------------------------------------------------- escapes


def test_literal_vs_escaped_invisible_and_look_alike() -> None:
    a = dumps(PROMPT)
    b = dumps(PROMPT, ensure_ascii=True)
    assert json.loads(a) == json.loads(b) and a != b
    changes = [c for c in compare(a, b) if c.path == TEXT]
    assert set(where(changes)) == {(TEXT, "\u2019", "\\u2019"), (TEXT, ZWSP, "\\u200b")}
    assert all(c.kind == "serialisation" and c.severity == "covert" for c in changes)
    assert all(c.channel == CHANNEL and c.a_span is None for c in changes)
    details = " | ".join(c.detail for c in changes)
    assert "U+2019 RIGHT SINGLE QUOTATION MARK: literal \u2192 \\u escape" in details
    assert "U+200B ZERO WIDTH SPACE: literal \u2192 \\u escape, lowercase hex" in details
    assert {cp for c in changes for cp in c.code_points} == {
        "U+2019 RIGHT SINGLE QUOTATION MARK",
        "U+200B ZERO WIDTH SPACE",
    }


def test_hex_case_and_short_escapes() -> None:
    a = b'{"t":"a\\u200bb\\/c\\n"}'
    b = b'{"t":"a\\u200Bb/c\\u000a"}'
    got = {(c.control, c.observed) for c in compare(a, b)}
    assert ("\\u200b", "\\u200B") in got  # hex case, per code point
    assert ("\\/", "/") in got  # solidus escaped in a only
    assert ("\\n", "\\u000a") in got  # short escape vs \u escape
    # the document-level hex case is reported once too
    assert any(c.path == "body.json:document" and "hex digits" in c.detail for c in compare(a, b))


def test_quote_escapes_and_surrogate_pairs() -> None:
    a = b'{"t":"\\"\\ud83d\\ude00"}'
    b = '{"t":"\\u0022\U0001f600"}'.encode()
    got = {(c.control, c.observed) for c in compare(a, b)}
    assert got >= {('\\"', "\\u0022"), ("\\ud83d\\ude00", "\U0001f600")}


def test_keys_are_strings_too() -> None:
    a = b'{"caf\\u00e9":1}'
    b = '{"café":1}'.encode()
    assert where(compare(a, b)) == [("body.json:escapes", "\\u00e9", "\u00e9")]


# ---------------------------------------------------------- order, whitespace, numbers


def test_key_order_by_path() -> None:
    a = dumps(PROMPT)
    reordered = dict(PROMPT, metadata={"session": "s1", "user_id": "u1"})
    changes = compare(a, dumps(reordered))
    assert where(changes) == [("body.json.metadata:keys", "user_id, session", "session, user_id")]
    assert changes[0].detail == "keys of metadata in another order"


def test_key_order_of_the_body_and_repeated_keys() -> None:
    a = b'{"a":1,"b":2,"c":3}'
    assert where(compare(a, b'{"b":2,"a":1,"c":3}')) == [("body.json:keys", "a, b, c", "b, a, c")]
    dup = compare(a, b'{"a":1,"b":2,"c":3,"a":1}')
    assert [c.path for c in dup] == ["body.json:keys"] and "repeated" in dup[0].detail


def test_whitespace_compact_spaced_pretty_and_trailing_newline() -> None:
    compact = dumps(PROMPT)
    spaced = json.dumps(PROMPT, ensure_ascii=False).encode()
    pretty = json.dumps(PROMPT, ensure_ascii=False, indent=2).encode()
    one = compare(compact, spaced)
    assert [c.path for c in one] == ["body.json:whitespace"]
    assert "after ','" in one[0].detail and "after ':'" in one[0].detail
    assert "''" in (one[0].control or "") and "' '" in (one[0].observed or "")
    two = compare(compact, pretty)
    assert [c.path for c in two] == ["body.json:whitespace"]
    assert "'  ' per level" in (two[0].observed or "")
    newline = compare(compact, compact + b"\n")
    assert where(newline) == [
        ("body.json:whitespace", "after the value: ''", "after the value: '\\n'")
    ]
    # pretty-printed with 2 or 4 spaces: another indentation unit
    four = json.dumps(PROMPT, ensure_ascii=False, indent=4).encode()
    assert [c.path for c in compare(pretty, four)] == ["body.json:whitespace"]


def test_number_formats() -> None:
    def numbers(a: str, b: str) -> list[tuple[str | None, str | None]]:
        return [
            (c.control, c.observed)
            for c in compare(f'{{"n":{a}}}'.encode(), f'{{"n":{b}}}'.encode())
        ]

    assert numbers("1.0", "1") == [("1.0", "1")]
    assert numbers("1e3", "1000") == [("1e3", "1000")]
    assert numbers("0", "-0") == [("0", "-0")]
    assert numbers("1E5", "2e5") == [("1E5", "2e5")]  # exponent letter, whatever the value
    assert numbers("1.50", "0.75") != []  # padding zeros
    assert numbers("1", "2") == []  # another value, the same form
    assert numbers("0.7", "1") == []  # another value: a fraction or not is the value's


def test_bom_and_invalid_utf8() -> None:
    a = dumps(PROMPT)
    assert [c.detail for c in compare(a, b"\xef\xbb\xbf" + a)] == [
        "a UTF-8 byte order mark before the body in one only"
    ]
    bad = b'{"t":"a\xffb"}'
    assert scan(bad) is not None and scan(bad).utf8 is False  # type: ignore[union-attr]
    assert any("UTF-8" in c.detail for c in compare(b'{"t":"ab"}', bad))


# --------------------------------------------------------------------------- noise


def test_values_that_differ_make_no_form_change() -> None:
    a = dict(
        PROMPT, metadata={"user_id": "u-123", "session": "2026-11-24T10:00:00Z"}, max_tokens=31999
    )
    b = dict(
        PROMPT, metadata={"user_id": "u-987", "session": "2026-11-25T23:59:59Z"}, max_tokens=32000
    )
    b["messages"] = [{"role": "user", "content": [{"type": "text", "text": "other words \u00e9"}]}]
    assert compare(dumps(a), dumps(b)) == []
    # a code point only one side has is no form change, however it is written
    c = dict(PROMPT)
    c["messages"] = [{"role": "user", "content": [{"type": "text", "text": "no quote here"}]}]
    assert [x for x in compare(dumps(PROMPT), dumps(c, ensure_ascii=True)) if x.path == TEXT] == []
    # an extra key, a missing path, an extra array element: nothing to compare
    d = dict(PROMPT, extra={"x": "\u2019"}, messages=PROMPT["messages"] * 2)
    assert compare(dumps(PROMPT), dumps(d)) == []


def test_form_segments_align_by_path_and_classify() -> None:
    a = form_segments(dumps(PROMPT))
    assert a[0].path == "body.json:document" and a[1].path == "body.json:whitespace"
    assert all(s.channel == CHANNEL for s in a)
    assert TEXT in [s.path for s in a]
    b = form_segments(dumps(PROMPT, ensure_ascii=True))
    diffs = diff_segments(a, b)
    changes = [c for d in diffs for c in classify(d)]
    assert {c.kind for c in changes} == {"serialisation"}
    assert [c for _, cs in compare_forms(a, b) for c in cs] == changes
    # a form segment on one side only is no change
    only = [d for d in diff_segments(a, a[:3]) if d.status == "removed"]
    assert only and all(classify(d) == [] for d in only)


def test_repeated_key_gets_its_own_path() -> None:
    paths = [s.path for s in form_segments(b'{"a":"x","a":"y"}')]
    assert "body.json.a:escapes" in paths and "body.json.a#2:escapes" in paths


def test_names_are_escaped_like_segment_names() -> None:
    paths = [s.path for s in form_segments(b'{"a.b":{"c[0]":1}}')]
    assert "body.json.a\\.b.c\\[0\\]:number" in paths


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"[1,]",
        b'{"a":1}x',
        b'{"a" 1}',
        b"nul",
        b'"unterminated',
        b"{}}",
        b"[1 2]",
        b'{"a":01}',
        b"\xff",
    ],
)
def test_not_json_has_no_form(body: bytes) -> None:
    assert scan(body) is None and form_segments(body) == () and compare(body, body) == []


# ----------------------------------------------------------------------- for show


def test_escaped_code_points_for_show() -> None:
    body = dumps(PROMPT, ensure_ascii=True)
    got = escaped_code_points(body)
    assert [(e.char, e.count, e.spelling) for e in got] == [
        ("\u2019", 1, "\\u2019"),
        (ZWSP, 1, "\\u200b"),
    ]
    assert got[0].label == "U+2019 RIGHT SINGLE QUOTATION MARK"
    assert got[0].path == "body.json.messages[0].content[0].text"
    assert escaped_text(body) == "\u2019" + ZWSP
    assert escaped_code_points(dumps(PROMPT)) == []  # written literally: nothing escaped
    assert escaped_code_points(b'{"t":"\\n\\"\\/"}') == []  # short escapes are not listed
    assert escaped_text(b"not json \\u200b") == ""


# ---------------------------------------------------------------------- properties

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_never_raises_on_arbitrary_bytes(body: bytes) -> None:
    s = scan(body)
    form_segments(body)
    escaped_code_points(body)
    compare(body, body[::-1])
    if s is not None:
        json.loads(body.decode("utf-8", "surrogateescape").lstrip("\ufeff"), strict=False)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_never_raises_on_json_like_text(body: bytes) -> None:
    scan(b'{"a":[' + body + b"]}")
    scan(b'"' + body + b'"')


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES)
def test_every_json_dumps_is_scanned_and_equal_to_itself(value: Any) -> None:
    for kw in (
        {},
        {"ensure_ascii": False},
        {"indent": 2},
        {"sort_keys": True},
        {"separators": (",", ":")},
    ):
        body = json.dumps(value, **kw).encode("utf-8", "surrogatepass")
        assert scan(body) is not None
        assert compare(body, body) == []


def _chars(value: Any) -> set[str]:
    if isinstance(value, str):
        return set(value)
    if isinstance(value, list):
        return set().union(*map(_chars, value)) if value else set()
    if isinstance(value, dict):
        return set().union(*(_chars(k) | _chars(v) for k, v in value.items())) if value else set()
    return set()


def _has_nested_whitespace(value: Any) -> bool:
    return isinstance(value, (list, dict)) and len(value) > 0


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES)
def test_ensure_ascii_changes_exactly_the_non_ascii_escapes(value: Any) -> None:
    a = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    b = json.dumps(value, ensure_ascii=True).encode()
    changes = compare(a, b)
    non_ascii = {c for c in _chars(value) if ord(c) > 0x7E}
    assert {c.kind for c in changes} <= {"serialisation"}
    assert all(c.path.endswith(":escapes") or c.path == "body.json:document" for c in changes)
    escaped = {cp for c in changes if c.path.endswith(":escapes") for cp in c.code_points}
    # exactly the code points past "~" (DEL and non-ASCII) change, and only they
    assert {int(cp.split()[0][2:], 16) for cp in escaped} == {ord(c) for c in non_ascii}
    assert bool(changes) == bool(non_ascii)


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES)
def test_indent_changes_only_whitespace(value: Any) -> None:
    a = json.dumps(value).encode("utf-8", "surrogatepass")
    b = json.dumps(value, indent=2).encode("utf-8", "surrogatepass")
    changes = compare(a, b)
    assert [c.path for c in changes] == (
        ["body.json:whitespace"] if _has_nested_whitespace(value) else []
    )


def _unordered(value: Any) -> bool:
    if isinstance(value, dict):
        keys = list(value)
        return keys != sorted(keys) or any(_unordered(v) for v in value.values())
    if isinstance(value, list):
        return any(_unordered(v) for v in value)
    return False


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES)
def test_sort_keys_changes_only_key_order(value: Any) -> None:
    a = json.dumps(value).encode("utf-8", "surrogatepass")
    b = json.dumps(value, sort_keys=True).encode("utf-8", "surrogatepass")
    changes = compare(a, b)
    assert all(c.path.endswith(":keys") for c in changes)
    assert bool(changes) == _unordered(value)


def test_bounded_and_linear_on_deep_or_long_bodies() -> None:
    deep = b"[" * 200_000 + b"]" * 200_000
    assert scan(deep) is not None  # an explicit stack: no recursion limit
    long = b'{"t":"' + "\u2019\\u2019".encode() * 200_000 + b'"}'
    s = scan(long)
    assert s is not None and s.escaped["\u2019"] == 200_000
    assert len(form_segments(long)) < 10
    odd = b"{" + b'"k": 1 ,\n   ' * 5_000 + b'"z":1}'
    assert scan(odd) is not None
    # bounded paths: a long name is cut (with a digest), deep nodes and nodes past
    # MAX_NODES get no segment of their own
    wide = b'{"' + b"k" * 100_000 + b'":[' + b",".join([b"1"] * (MAX_NODES + 10)) + b"]}"
    segs = form_segments(wide)
    assert len(segs) <= MAX_NODES + 2 and max(len(x.path) for x in segs) < 200
    nested = b'{"a":' * (MAX_DEPTH + 5) + b'"\\u200b"' + b"}" * (MAX_DEPTH + 5)
    assert all(x.path.count(".a") <= MAX_DEPTH for x in form_segments(nested))
    assert [e.path for e in escaped_code_points(nested)] == [
        "(not addressed: nested too deep or too many nodes)"
    ]
