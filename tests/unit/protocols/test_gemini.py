"""Gemini: parse a Gemini-CLI-like request exactly; canned replies; rebuild."""

from __future__ import annotations

import json

from tests.unit.protocols.helpers import fixture_bytes, request

from promptwitness.model import Message, Part, Tool, ToolCall
from promptwitness.protocols import ADAPTERS, detect, parse_request
from promptwitness.protocols.sse import SSEParser

G = ADAPTERS["gemini"]


def test_detect_paths() -> None:
    for path in (
        "/v1beta/models/gemini-2.5-pro:generateContent",
        "/v1beta/models/gemini-2.5-pro:streamGenerateContent",
        "/v1/models/gemini-2.5-flash:generateContent",
        "/v1alpha/models/x:streamGenerateContent",
    ):
        assert detect("POST", path) is G, path
    assert detect("POST", "/v1beta/models/gemini-2.5-pro:countTokens") is None
    assert detect("GET", "/v1beta/models/gemini-2.5-pro:generateContent") is None


def test_parse_gemini_cli_request_exactly() -> None:
    req = request(
        "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
        fixture_bytes("gemini_cli.json"),
        (("x-goog-api-client", "google-genai-sdk/1.30.0 gl-node/v22.1.0"), ("Content-Length", "9")),
    )
    out = parse_request(req)
    assert out.protocol == "gemini" and out.error is None
    p = out.prompt
    assert p is not None
    assert p.model == "gemini-2.5-pro" and p.stream is True
    assert p.system == (
        Part(
            "text", "You are an interactive CLI agent specializing in software engineering tasks."
        ),
    )
    assert p.messages == (
        Message(
            "user",
            (
                Part(
                    "text",
                    "This is the Gemini CLI. We are setting up the context for our chat.\n"
                    "Today\u2019s date is Tuesday, November 24, 2026.",
                ),
            ),
        ),
        Message("model", (Part("text", "Got it. Thanks for the context!"),)),
        Message("user", (Part("text", "Say hi"),)),
        Message(
            "model",
            (
                Part(
                    "functionCall",
                    None,
                    {
                        "functionCall": {"name": "list_directory", "args": {"path": "/tmp/work"}},
                        "thoughtSignature": "c2ln",
                    },
                ),
            ),
        ),
        Message(
            "user",
            (
                Part(
                    "functionResponse",
                    None,
                    {
                        "functionResponse": {
                            "name": "list_directory",
                            "response": {"output": "README.md"},
                        }
                    },
                ),
            ),
        ),
    )
    assert p.tools == (
        Tool(
            "list_directory",
            "Lists files.",
            {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
        ),
        Tool(
            "read_file",
            "Reads a file.",
            {"type": "OBJECT", "properties": {"absolute_path": {"type": "STRING"}}},
        ),
        Tool("googleSearch", None, None, {"googleSearch": {}}),
    )
    assert list(p.params.items()) == [
        ("systemInstruction", {"role": "user"}),
        ("temperature", 0),
        ("topP", 1),
        ("thinkingConfig", {"includeThoughts": True, "thinkingBudget": -1}),
        ("safetySettings", []),
    ]
    assert p.metadata == {}
    assert p.headers == {"x-goog-api-client": "google-genai-sdk/1.30.0 gl-node/v22.1.0"}


def test_missing_role_is_empty_and_generation_config_clash_is_prefixed() -> None:
    p = G.parse(
        request(
            "/v1beta/models/m:generateContent",
            {
                "contents": [{"parts": [{"text": "hi"}]}],
                "temperature": 2,
                "generationConfig": {"temperature": 1},
            },
        )
    )
    assert p.messages == (Message("", (Part("text", "hi"),)),)
    assert p.stream is False
    assert p.params == {"temperature": 2, "generationConfig.temperature": 1}


def test_canned_json() -> None:
    reply = G.canned(request("/v1beta/models/gemini-x:generateContent", {"contents": []}), "hi")
    doc = json.loads(reply.body)
    assert doc["candidates"][0]["content"] == {"parts": [{"text": "hi"}], "role": "model"}
    assert doc["candidates"][0]["finishReason"] == "STOP"
    assert doc["modelVersion"] == "gemini-x"
    assert doc["usageMetadata"]["totalTokenCount"] >= 2
    assert not reply.stream


def test_canned_sse_stream() -> None:
    req = request("/v1beta/models/gemini-x:streamGenerateContent?alt=sse", {"contents": []})
    reply = G.canned(req, "Hello there.")
    assert dict(reply.headers)["content-type"].startswith("text/event-stream")
    p = SSEParser()
    docs = [json.loads(e.data) for e in p.feed(reply.body) + p.close()]
    assert len(docs) == 3
    assert (
        "".join(d["candidates"][0]["content"]["parts"][0]["text"] for d in docs) == "Hello there."
    )
    assert [d["candidates"][0].get("finishReason") for d in docs] == [None, None, "STOP"]
    assert reply.body.endswith(b"\r\n\r\n")


def test_canned_json_array_stream() -> None:
    reply = G.canned(request("/v1beta/models/g:streamGenerateContent", {"contents": []}), "Hello")
    assert dict(reply.headers)["content-type"] == "application/json"
    docs = json.loads(reply.body)
    assert isinstance(docs, list) and len(docs) == 3
    assert "".join(d["candidates"][0]["content"]["parts"][0]["text"] for d in docs) == "Hello"


def test_canned_empty_text_stream_still_finishes() -> None:
    req = request("/v1beta/models/g:streamGenerateContent?alt=sse", {"contents": []})
    reply = G.canned(req, "")
    a = G.rebuild(200, reply.headers, reply.body)
    assert a.text == "" and a.complete and a.stop_reason == "STOP"


def test_rebuild_function_call_and_thoughts() -> None:
    chunk = {
        "candidates": [
            {
                "content": {
                    "parts": [
                        {"text": "thinking...", "thought": True},
                        {"text": "ok"},
                        {"functionCall": {"name": "ls", "args": {"path": "/"}}},
                    ]
                },
                "finishReason": "STOP",
            }
        ],
        "modelVersion": "gemini-x",
    }
    a = G.rebuild(200, (("content-type", "application/json"),), json.dumps(chunk).encode())
    assert a.text == "ok"
    assert a.tool_calls == (ToolCall(None, "ls", '{"path":"/"}'),)
    assert a.complete and a.model == "gemini-x"


def test_rebuild_blocked_and_error() -> None:
    a = G.rebuild(200, (), b'{"promptFeedback":{"blockReason":"SAFETY"}}')
    assert a.error == "prompt blocked: SAFETY"
    b = G.rebuild(
        400,
        (("content-type", "application/json"),),
        b'{"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT"}}',
    )
    assert b.error == "HTTP 400: INVALID_ARGUMENT: bad"


def test_rebuild_truncated_array() -> None:
    reply = G.canned(request("/v1beta/models/g:streamGenerateContent", {"contents": []}), "Hello")
    a = G.rebuild(200, reply.headers, reply.body[:-1])
    assert a.text == "Hello" and not a.complete
    assert a.error == "truncated stream: the JSON array is not closed"
