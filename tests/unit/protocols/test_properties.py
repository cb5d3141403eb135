"""Properties of the whole protocol layer, over generated inputs (hypothesis)."""

from __future__ import annotations

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from promptwitness.model import RawRequest
from promptwitness.protocols import ADAPTERS, parse_request, rebuild_answer, sink_reply

# Text with the characters a covert channel would use, mixed with anything else.
SPECIAL = [
    "\u2019",  # right single quotation mark
    "\u02bc",  # modifier letter apostrophe
    "'",
    "\u200b",  # zero width space
    "\u2060",  # word joiner
    "\u00a0",  # no-break space
    "\u2009",  # thin space
    "\ufeff",  # BOM as a character
    "\U000e0041",  # tag latin capital letter A
    "\U000e007f",  # cancel tag
    "\ufe0f",  # variation selector 16
    "\u202e",  # right-to-left override
    "\u0435",  # cyrillic e
    "e\u0301",  # decomposed é (must not be composed)
    "\u00e9",
    "\r\n",
    "\r",
    "\n",
    "\t",
    "\x00",
    "\u2028",
    "\u2026",
    '"',
    "\\",
    "data: x\n\n",
    "[DONE]",
]
no_surrogates = st.lists(
    st.one_of(st.characters(exclude_categories=("Cs",)), st.sampled_from(SPECIAL)), max_size=30
).map("".join)
with_surrogates = st.lists(
    st.one_of(
        st.characters(exclude_categories=("Cs",)),
        st.sampled_from(SPECIAL),
        st.integers(0xD800, 0xDFFF).map(chr),
    ),
    max_size=30,
).map("".join)
# In JSON, an escaped high surrogate followed by an escaped low one *is* the pair's
# character, so such Python strings cannot travel through JSON as themselves: cut them.
with_surrogates = with_surrogates.map(
    lambda s: re.sub("([\ud800-\udbff])(?=[\udc00-\udfff])", "\\1_", s)
)


def _body(obj: object, ensure_ascii: bool) -> bytes:
    # lone surrogates can only travel as \u escapes
    return json.dumps(obj, ensure_ascii=ensure_ascii).encode("utf-8")


@st.composite
def texts_and_ascii(draw: st.DrawFn) -> tuple[str, bool]:
    ensure_ascii = draw(st.booleans())
    text = draw(with_surrogates if ensure_ascii else no_surrogates)
    return text, ensure_ascii


@settings(max_examples=200, deadline=None)
@given(texts_and_ascii())
def test_text_survives_parsing_exactly(case: tuple[str, bool]) -> None:
    t, ascii_ = case
    bodies = {
        "anthropic": (
            "/v1/messages",
            {
                "model": t,
                "system": [{"type": "text", "text": t}],
                "tools": [{"name": t, "description": t, "input_schema": {t: t}}],
                "messages": [{"role": "user", "content": [{"type": "text", "text": t}]}],
                "metadata": {t: t},
                "temperature": t,
            },
        ),
        "openai-chat": (
            "/v1/chat/completions",
            {
                "model": t,
                "messages": [{"role": "system", "content": t}, {"role": "user", "content": t}],
                "tools": [{"type": "function", "function": {"name": t, "description": t}}],
                "metadata": {t: t},
                "temperature": t,
            },
        ),
        "openai-responses": (
            "/v1/responses",
            {
                "model": t,
                "instructions": t,
                "input": [{"role": "user", "content": [{"type": "input_text", "text": t}]}],
                "tools": [{"type": "function", "name": t, "description": t}],
                "metadata": {t: t},
                "temperature": t,
            },
        ),
        "gemini": (
            "/v1beta/models/gemini-x:generateContent",
            {
                "systemInstruction": {"parts": [{"text": t}]},
                "contents": [{"role": "user", "parts": [{"text": t}]}],
                "tools": [{"functionDeclarations": [{"name": t, "description": t}]}],
                "temperature": t,
            },
        ),
    }
    for protocol, (target, obj) in bodies.items():
        out = parse_request(RawRequest("POST", target, (("x-t", "v"),), _body(obj, ascii_)))
        assert out.protocol == protocol and out.error is None, out.error
        p = out.prompt
        assert p is not None
        if protocol != "gemini":
            assert p.model == t
            assert p.metadata == {t: t}
        if protocol != "openai-chat":
            assert [s.text for s in p.system] == [t]
        assert p.messages[-1].parts[0].text == t
        assert (p.tools[0].name, p.tools[0].description) == (t, t)
        assert p.params["temperature"] == t


CANNED_TARGETS = [
    ("anthropic", "/v1/messages?beta=true", {"model": "claude-x", "stream": False}),
    ("anthropic", "/v1/messages?beta=true", {"model": "claude-x", "stream": True}),
    ("openai-chat", "/v1/chat/completions", {"model": "gpt-x"}),
    ("openai-chat", "/chat/completions", {"model": "gpt-x", "stream": True}),
    (
        "openai-chat",
        "/v1/chat/completions",
        {"stream": True, "stream_options": {"include_usage": True}},
    ),
    ("openai-responses", "/v1/responses", {"model": "gpt-x"}),
    ("openai-responses", "/v1/responses", {"model": "gpt-x", "stream": True}),
    ("gemini", "/v1beta/models/g:generateContent", {}),
    ("gemini", "/v1beta/models/g:streamGenerateContent?alt=sse", {}),
    ("gemini", "/v1beta/models/g:streamGenerateContent", {}),
]


@settings(max_examples=200, deadline=None)
@given(with_surrogates, st.sampled_from(CANNED_TARGETS))
def test_canned_then_rebuild_gives_the_text_back(
    text: str, case: tuple[str, str, dict[str, object]]
) -> None:
    protocol, target, obj = case
    req = RawRequest("POST", target, (), json.dumps(obj).encode())
    adapter = ADAPTERS[protocol]
    reply = adapter.canned(req, text)
    assert reply.status == 200
    answer = rebuild_answer(protocol, reply.status, reply.headers, reply.body)
    assert answer.text == text
    assert answer.complete and answer.error is None
    assert answer.protocol == protocol
    assert answer.stop_reason in ("end_turn", "stop", "completed", "STOP")


@settings(max_examples=200, deadline=None)
@given(with_surrogates, st.sampled_from(CANNED_TARGETS), st.data())
def test_truncated_reply_rebuilds_without_raising(
    text: str, case: tuple[str, str, dict[str, object]], data: st.DataObject
) -> None:
    protocol, target, obj = case
    req = RawRequest("POST", target, (), json.dumps(obj).encode())
    reply = ADAPTERS[protocol].canned(req, text)
    body = reply.body
    cut = data.draw(st.integers(0, len(body)))
    answer = rebuild_answer(protocol, reply.status, reply.headers, body[:cut])
    # With CRLF line ends the CR of the final CRLF already ends the blank line (WHATWG:
    # a lone CR is a line end), so the terminal event is whole one byte early.
    whole = cut == len(body) or (body.endswith(b"\r\n\r\n") and cut == len(body) - 1)
    assert answer.complete == whole
    if not answer.complete:
        assert answer.error is not None
    if reply.stream:
        assert text.startswith(answer.text)
        if not answer.complete:
            assert answer.error is not None and answer.error.startswith("truncated ")


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["GET", "POST", "HEAD", "PUT", "post", ""]),
    st.one_of(
        st.sampled_from(
            [
                "/v1/messages",
                "/v1/messages?beta=true",
                "/v1/chat/completions",
                "/v1/responses",
                "/v1beta/models/g:generateContent",
                "/v1beta/models/g:streamGenerateContent?alt=sse",
                "/v1/models",
                "/v1/messages/count_tokens",
                "/",
            ]
        ),
        st.text(max_size=30),
    ),
    st.one_of(
        st.binary(max_size=64),
        st.sampled_from(
            [
                b"{}",
                b'{"messages": [{"role": "user", "content": [{}]}]}',
                b'{"stream": true}',
                b'{"contents": [{"parts": [{"text": 1}]}]}',
                b'{"input": [{"type": 3}]}',
                b'{"tools": [{"type": "function", "function": []}]}',
            ]
        ),
    ),
    st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=3),
)
def test_nothing_raises_on_arbitrary_requests(
    method: str, target: str, body: bytes, headers: list[tuple[str, str]]
) -> None:
    req = RawRequest(method, target, tuple(headers), body)
    out = parse_request(req)
    assert out.protocol is None or out.protocol in ADAPTERS
    assert (out.prompt is None) or (out.error is None)
    reply = sink_reply(req)
    assert 200 <= reply.status < 600
    assert reply.status != 500  # the catch-all is for bugs; none should be reachable
    for protocol in ADAPTERS:
        rebuild_answer(protocol, 200, (), body)
        rebuild_answer(protocol, 200, (("content-type", "text/event-stream"),), body)
        rebuild_answer(protocol, 500, (), body)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200), st.sampled_from(sorted(ADAPTERS)))
def test_rebuild_never_raises_on_sse_like_bytes(noise: bytes, protocol: str) -> None:
    body = b'event: x\ndata: {"type":"message_start","message":' + noise + b"\n\ndata: [DONE]"
    answer = rebuild_answer(protocol, 200, (), body)
    assert answer.protocol == protocol


def test_unknown_protocol_rebuild() -> None:
    answer = rebuild_answer("nope", 200, (), b"{}")
    assert answer.error == "unknown protocol 'nope'" and not answer.complete
