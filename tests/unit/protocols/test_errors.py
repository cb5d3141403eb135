"""Every ParseError message, exactly: the protocol, the place, the byte offset."""

from __future__ import annotations

import pytest
from tests.unit.protocols.helpers import request

from promptwitness.protocols import parse_request

TARGETS = {
    "anthropic": "/v1/messages",
    "openai-chat": "/v1/chat/completions",
    "openai-responses": "/v1/responses",
    "gemini": "/v1beta/models/g:generateContent",
}


def error(protocol: str, body: bytes) -> str | None:
    out = parse_request(request(TARGETS[protocol], body))
    assert out.protocol == protocol
    assert (out.prompt is None) == (out.error is not None)
    return out.error


@pytest.mark.parametrize("protocol", sorted(TARGETS))
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "body is empty"),
        (b'\xef\xbb\xbf{"a":1}', "body starts with a UTF-8 byte order mark (not valid JSON)"),
        (b'{"a": "\xe2\x80\x99\xff"}', "body is not valid UTF-8 at byte 10 (invalid start byte)"),
        (b'{"a": "\xe2\x80', "body is not valid UTF-8 at byte 7 (unexpected end of data)"),
        # the offset counts bytes, not characters: the U+2019 before the error is 3 bytes
        (
            b'{"a": "\xe2\x80\x99" "b": 1}',
            "body is not valid JSON: Expecting ',' delimiter at byte 12",
        ),
        (b'{"a": NaN}', "body is not valid JSON: non-standard constant NaN"),
        (b'{"a": -Infinity}', "body is not valid JSON: non-standard constant -Infinity"),
        (b"[" * 100000 + b"]" * 100000, "body is not usable JSON: nested too deeply"),
        (b"[]", "body is an array, not a JSON object"),
        (b'"x"', "body is a string, not a JSON object"),
        (b"null", "body is null, not a JSON object"),
        (b"1.5", "body is a number, not a JSON object"),
        (b"true", "body is a boolean, not a JSON object"),
        (b'{"model": 5}', None),  # gemini ignores a body model; others reject it (below)
    ],
)
def test_body_level_errors(protocol: str, body: bytes, message: str | None) -> None:
    if message is None:
        expected = None if protocol == "gemini" else f"{protocol}: model is a number, not a string"
        assert error(protocol, body) == expected
    else:
        assert error(protocol, body) == f"{protocol}: {message}"


@pytest.mark.parametrize(
    ("protocol", "body", "message"),
    [
        ("anthropic", b'{"messages": {}}', "messages is an object, not an array"),
        ("anthropic", b'{"messages": [1]}', "messages[0] is a number, not an object"),
        ("anthropic", b'{"messages": [{"content": "x"}]}', "messages[0] has no role"),
        ("anthropic", b'{"messages": [{"role": 1}]}', "messages[0].role is a number, not a string"),
        (
            "anthropic",
            b'{"messages": [{"role": "user", "content": 7}]}',
            "messages[0].content is a number, not a string or an array",
        ),
        (
            "anthropic",
            b'{"messages": [{"role": "user", "content": [{"text": "x"}]}]}',
            "messages[0].content[0] has no type",
        ),
        (
            "anthropic",
            b'{"messages": [{"role": "user", "content": [{"type": null}]}]}',
            "messages[0].content[0].type is null, not a string",
        ),
        ("anthropic", b'{"system": 3}', "system is a number, not a string or an array"),
        ("anthropic", b'{"system": ["x"]}', "system[0] is a string, not an object"),
        ("anthropic", b'{"tools": [{"description": "d"}]}', "tools[0] has no name"),
        ("anthropic", b'{"tools": [{"name": 1}]}', "tools[0].name is a number, not a string"),
        ("anthropic", b'{"tools": "Bash"}', "tools is a string, not an array"),
        ("anthropic", b'{"stream": "yes"}', "stream is a string, not a boolean"),
        ("anthropic", b'{"metadata": []}', "metadata is an array, not an object"),
        ("openai-chat", b'{"messages": "hi"}', "messages is a string, not an array"),
        ("openai-chat", b'{"functions": [{"x": 1}]}', "functions[0] has no name"),
        (
            "openai-chat",
            b'{"tools": [{"type": "function", "function": {"name": 2}}]}',
            "tools[0].function.name is a number, not a string",
        ),
        ("openai-responses", b'{"input": 5}', "input is a number, not a string or an array"),
        (
            "openai-responses",
            b'{"input": [{"call_id": "c"}]}',
            "input[0] has neither a role nor a type",
        ),
        (
            "openai-responses",
            b'{"instructions": 1}',
            "instructions is a number, not a string or an array",
        ),
        ("gemini", b'{"contents": {}}', "contents is an object, not an array"),
        (
            "gemini",
            b'{"contents": [{"parts": "x"}]}',
            "contents[0].parts is a string, not an array",
        ),
        ("gemini", b'{"contents": [{"role": 1}]}', "contents[0].role is a number, not a string"),
        (
            "gemini",
            b'{"contents": [{"parts": [3]}]}',
            "contents[0].parts[0] is a number, not an object",
        ),
        ("gemini", b'{"systemInstruction": 1}', "systemInstruction is a number, not an object"),
        ("gemini", b'{"generationConfig": []}', "generationConfig is an array, not an object"),
        (
            "gemini",
            b'{"tools": [{"functionDeclarations": [{"description": "d"}]}]}',
            "tools[0].functionDeclarations[0] has no name",
        ),
        ("gemini", b'{"tools": [[]]}', "tools[0] is an array, not an object"),
    ],
)
def test_structure_errors(protocol: str, body: bytes, message: str) -> None:
    assert error(protocol, body) == f"{protocol}: {message}"


def test_unknown_fields_are_kept_not_rejected() -> None:
    out = parse_request(
        request(TARGETS["anthropic"], b'{"future_field": {"x": [1]}, "messages": [], "z": null}')
    )
    assert out.error is None and out.prompt is not None
    assert dict(out.prompt.params) == {"future_field": {"x": [1]}, "z": None}


def test_not_a_model_call() -> None:
    out = parse_request(request("/v1/models", b"", method="GET"))
    assert (out.protocol, out.prompt, out.error) == (None, None, None)
