"""The SSE parser: WHATWG rules, chunking invariance, encode/parse round trip."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptwitness.protocols.sse import SSEEvent, SSEParser, encode_event


def parse_all(*chunks: bytes) -> list[SSEEvent]:
    p = SSEParser()
    out: list[SSEEvent] = []
    for ch in chunks:
        out += p.feed(ch)
    return out + p.close()


def test_basic_event_with_type_id_and_retry() -> None:
    evs = parse_all(b"event: ping\nid: 7\nretry: 1500\ndata: {}\n\n")
    assert evs == [SSEEvent("ping", "{}", "7", 1500)]


def test_line_ends_crlf_lf_cr_all_work() -> None:
    for eol in (b"\r\n", b"\n", b"\r"):
        assert parse_all(b"data: a" + eol + b"data: b" + eol + eol) == [SSEEvent(None, "a\nb")]


def test_cr_at_chunk_end_and_lf_in_next_chunk_is_one_line_end() -> None:
    # If the CR and LF were two line ends, the empty line would dispatch "a" alone.
    assert parse_all(b"data: a\r", b"\ndata: b\r\n\r\n") == [SSEEvent(None, "a\nb")]
    assert parse_all(b"data: a\r", b"\n\r", b"\n") == [SSEEvent(None, "a")]


def test_lone_cr_then_data_in_next_chunk() -> None:
    assert parse_all(b"data: a\r", b"data: b\r\r") == [SSEEvent(None, "a\nb")]


def test_comments_and_unknown_fields_are_ignored() -> None:
    evs = parse_all(b": keep-alive\nfoo: bar\ndata: x\n\n:\n\n")
    assert evs == [SSEEvent(None, "x")]


def test_only_one_space_after_the_colon_is_stripped() -> None:
    assert parse_all(b"data:  two\n\ndata:none\n\n") == [
        SSEEvent(None, " two"),
        SSEEvent(None, "none"),
    ]


def test_field_without_colon_has_empty_value() -> None:
    assert parse_all(b"data\n\n") == [SSEEvent(None, "")]


def test_event_without_data_is_not_dispatched_and_type_resets() -> None:
    assert parse_all(b"event: a\n\ndata: x\n\n") == [SSEEvent(None, "x")]


def test_leading_bom_is_skipped_once_even_split() -> None:
    bom = b"\xef\xbb\xbf"
    assert parse_all(bom + b"data: x\n\n") == [SSEEvent(None, "x")]
    assert parse_all(b"\xef", b"\xbb", b"\xbfdata: x\n\n") == [SSEEvent(None, "x")]
    # a second BOM is content: the field name is then "\ufeffdata", not "data"
    assert parse_all(bom + bom + b"data: x\n\n") == []


def test_id_persists_and_nul_id_is_ignored() -> None:
    evs = parse_all(b"id: 1\ndata: a\n\ndata: b\n\nid: x\x00y\ndata: c\n\n")
    assert [e.id for e in evs] == ["1", "1", "1"]


def test_retry_must_be_digits() -> None:
    assert parse_all(b"retry: 12a\ndata: a\n\n")[0].retry is None


def test_close_reports_unterminated_trailing_event() -> None:
    p = SSEParser()
    assert p.feed(b'event: message_stop\ndata: {"type"') == []
    assert p.close() == [SSEEvent("message_stop", '{"type"', None, None, complete=False)]
    assert p.close() == []


def test_close_with_nothing_pending_is_empty() -> None:
    p = SSEParser()
    p.feed(b"data: a\n\n")
    assert p.close() == []


def test_feed_after_close_is_an_error() -> None:
    p = SSEParser()
    p.close()
    with pytest.raises(ValueError):
        p.feed(b"data: x\n\n")


def test_invalid_utf8_is_replaced_and_recorded() -> None:
    p = SSEParser()
    evs = p.feed(b"data: a\xffb\n\n")
    assert evs == [SSEEvent(None, "a\ufffdb")]
    assert p.invalid_utf8
    q = SSEParser()
    q.feed("data: \u2019\n\n".encode())
    assert not q.invalid_utf8


def test_multibyte_character_split_across_chunks() -> None:
    raw = "data: it\u2019s \U000e0041\n\n".encode()
    for cut in range(len(raw) + 1):
        assert parse_all(raw[:cut], raw[cut:]) == [SSEEvent(None, "it\u2019s \U000e0041")]


def test_encode_event() -> None:
    assert encode_event("ping", '{"a":1}') == b'event: ping\ndata: {"a":1}\n\n'
    assert encode_event(None, "a\nb") == b"data: a\ndata: b\n\n"
    assert encode_event(None, "x", eol="\r\n") == b"data: x\r\n\r\n"
    with pytest.raises(ValueError):
        encode_event("a\nb", "x")
    with pytest.raises(ValueError):
        encode_event(None, "x", eol="\n\n")


# -- properties ------------------------------------------------------------------------

_line_text = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)))
_field = st.one_of(
    st.builds(lambda v: b"data:" + v.encode(), _line_text),
    st.builds(lambda v: b"data: " + v.encode(), _line_text),
    st.builds(lambda v: b"event: " + v.encode(), _line_text),
    st.builds(lambda v: b"id: " + v.encode(), _line_text),
    st.builds(lambda v: b"retry: " + v.encode(), st.sampled_from(["1", "20", "x"])),
    st.builds(lambda v: b": " + v.encode(), _line_text),
    st.just(b""),
    st.binary(max_size=6),
)
_eol = st.sampled_from([b"\n", b"\r\n", b"\r"])


@st.composite
def streams_and_cuts(draw: st.DrawFn) -> tuple[bytes, list[int]]:
    lines = draw(st.lists(st.tuples(_field, _eol), max_size=12))
    raw = b"".join(f + e for f, e in lines)
    if draw(st.booleans()):
        raw = b"\xef\xbb\xbf" + raw
    raw += draw(st.sampled_from([b"", b"data: tail", b"\r"]))
    cuts = sorted(draw(st.lists(st.integers(0, len(raw)), max_size=8)))
    return raw, cuts


@settings(max_examples=200, deadline=None)
@given(streams_and_cuts())
def test_events_do_not_depend_on_chunking(case: tuple[bytes, list[int]]) -> None:
    raw, cuts = case
    whole = SSEParser()
    expected = whole.feed(raw) + whole.close()
    chunks = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    split = SSEParser()
    got: list[SSEEvent] = []
    for ch in chunks:
        got += split.feed(ch)
    got += split.close()
    assert got == expected
    assert split.invalid_utf8 == whole.invalid_utf8


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(st.none(), _line_text),
    st.text(st.characters(blacklist_characters="\r", blacklist_categories=("Cs",))),
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.integers(1, 7),
)
def test_encode_then_parse_round_trips(event: str | None, data: str, eol: str, step: int) -> None:
    raw = encode_event(event, data, eol=eol)
    p = SSEParser()
    got: list[SSEEvent] = []
    for i in range(0, len(raw), step):
        got += p.feed(raw[i : i + step])
    got += p.close()
    assert got == [SSEEvent(event or None, data)]
