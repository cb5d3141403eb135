"""OpenAI Chat Completions: parse exactly; canned replies; rebuild."""

from __future__ import annotations

import json

from tests.unit.protocols.helpers import fixture_bytes, request

from promptwitness.model import Message, Part, Tool, ToolCall
from promptwitness.protocols import ADAPTERS, detect, parse_request
from promptwitness.protocols.sse import SSEParser

C = ADAPTERS["openai-chat"]


def test_detect_paths() -> None:
    assert detect("POST", "/v1/chat/completions") is C
    assert detect("POST", "/chat/completions") is C
    assert detect("POST", "/api/openai/v1/chat/completions") is C
    assert detect("GET", "/v1/chat/completions") is None


def test_parse_chat_request_exactly() -> None:
    headers = (
        ("Host", "127.0.0.1:9"),
        ("Authorization", "Bearer pw-redacted:abcd"),
        ("User-Agent", "QwenCode/0.24.4 (linux; x64)"),
    )
    out = parse_request(
        request("/v1/chat/completions", fixture_bytes("openai_chat_tools.json"), headers)
    )
    assert out.protocol == "openai-chat" and out.error is None
    p = out.prompt
    assert p is not None
    assert p.model == "qwen3-coder-plus" and p.stream is True
    assert p.system == ()
    assert p.messages == (
        Message(
            "system",
            (
                Part(
                    "text",
                    "You are Qwen Code, an interactive CLI agent. "
                    "Today\u2019s date is Tuesday, November 24, 2026.",
                ),
            ),
        ),
        Message("developer", (Part("text", "Prefer\u00a0short answers.\u200b"),)),
        Message("user", (Part("text", "Say hi"),)),
        Message(
            "assistant",
            (),
            {
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_abc",
                        "type": "function",
                        "function": {
                            "name": "list_directory",
                            "arguments": '{"path":"/tmp/work"}',
                        },
                    }
                ],
            },
        ),
        Message("tool", (Part("text", "README.md"),), {"tool_call_id": "call_abc"}),
    )
    assert p.tools == (
        Tool(
            "list_directory",
            "Lists the names of files and subdirectories directly within a specified "
            "directory path.",
            {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
            {"type": "function", "strict": False},
        ),
        Tool(
            "read_file",
            None,
            {"type": "object", "properties": {"absolute_path": {"type": "string"}}},
            {"type": "function"},
        ),
        Tool("legacy_search", "Search the web.", {"type": "object", "properties": {}}),
    )
    assert list(p.params.items()) == [
        ("stream_options", {"include_usage": True}),
        ("temperature", 0),
        ("top_p", 1),
        ("user", "u-1"),
    ]
    assert p.metadata == {"session": "s-1"}
    assert list(p.headers.items()) == [
        ("authorization", "Bearer pw-redacted:abcd"),
        ("user-agent", "QwenCode/0.24.4 (linux; x64)"),
    ]


def test_builtin_and_custom_tools() -> None:
    p = C.parse(
        request(
            "/v1/chat/completions",
            {
                "tools": [
                    {"type": "custom", "custom": {"name": "patch", "format": {"type": "text"}}},
                    {"type": "web_search_preview", "search_context_size": "low"},
                ]
            },
        )
    )
    assert p.tools == (
        Tool("patch", None, None, {"type": "custom", "format": {"type": "text"}}),
        Tool(
            "web_search_preview",
            None,
            None,
            {"type": "web_search_preview", "search_context_size": "low"},
        ),
    )


def _events(body: bytes) -> list[str]:
    p = SSEParser()
    return [e.data for e in p.feed(body) + p.close()]


def test_canned_stream_with_usage() -> None:
    req = request(
        "/v1/chat/completions",
        {"model": "gpt-x", "stream": True, "stream_options": {"include_usage": True}},
    )
    reply = C.canned(req, "Hello there.")
    datas = _events(reply.body)
    assert datas[-1] == "[DONE]"
    docs = [json.loads(d) for d in datas[:-1]]
    assert all(d["object"] == "chat.completion.chunk" and d["model"] == "gpt-x" for d in docs)
    assert docs[0]["choices"][0]["delta"]["role"] == "assistant"
    assert "".join(d["choices"][0]["delta"].get("content", "") for d in docs[:-1]) == "Hello there."
    assert docs[-2]["choices"][0]["finish_reason"] == "stop"
    assert docs[-1]["choices"] == [] and docs[-1]["usage"]["total_tokens"] >= 2
    assert len({d["id"] for d in docs}) == 1 and docs[0]["id"].startswith("chatcmpl-")
    assert b"event:" not in reply.body


def test_canned_stream_without_usage_has_no_usage_chunk() -> None:
    reply = C.canned(request("/chat/completions", {"stream": True}), "x")
    docs = [json.loads(d) for d in _events(reply.body)[:-1]]
    assert [d["choices"][0]["finish_reason"] for d in docs] == [None, None, "stop"]
    assert all("usage" not in d for d in docs)


def test_canned_json() -> None:
    doc = json.loads(C.canned(request("/v1/chat/completions", {"model": "m"}), "hi").body)
    assert doc["object"] == "chat.completion"
    assert doc["choices"][0]["message"] == {
        "role": "assistant",
        "content": "hi",
        "refusal": None,
        "annotations": [],
    }
    assert doc["choices"][0]["finish_reason"] == "stop"


def test_rebuild_tool_call_deltas() -> None:
    chunks = [
        {"model": "m", "choices": [{"index": 0, "delta": {"role": "assistant", "content": None}}]},
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "call_1",
                                "function": {"name": "ls", "arguments": ""},
                            }
                        ]
                    },
                }
            ]
        },
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {"tool_calls": [{"index": 0, "function": {"arguments": '{"pa'}}]},
                }
            ]
        },
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {"tool_calls": [{"index": 0, "function": {"arguments": 'th":1}'}}]},
                }
            ]
        },
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        {"choices": [], "usage": {"prompt_tokens": 3}},
    ]
    body = (
        b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
    )
    a = C.rebuild(200, (("content-type", "text/event-stream"),), body)
    assert a.tool_calls == (ToolCall("call_1", "ls", '{"path":1}'),)
    assert a.stop_reason == "tool_calls" and a.model == "m" and a.usage == {"prompt_tokens": 3}
    assert a.complete and a.text == ""


def test_rebuild_errors() -> None:
    a = C.rebuild(200, (), b'data: {"error":{"message":"boom","type":"server_error"}}\n\n')
    assert a.error == "server_error: boom" and not a.complete
    b = C.rebuild(
        401,
        (("content-type", "application/json"),),
        b'{"error":{"message":"no key","type":"auth"}}',
    )
    assert b.error == "HTTP 401: auth: no key"


def test_rebuild_truncated_before_done() -> None:
    reply = C.canned(request("/v1/chat/completions", {"stream": True}), "abc")
    a = C.rebuild(200, reply.headers, reply.body[: -len(b"data: [DONE]\n\n")])
    assert a.text == "abc" and a.stop_reason == "stop"
    assert not a.complete and a.error == "truncated stream: no [DONE] event"
