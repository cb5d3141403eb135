"""Anthropic Messages: parse a Claude-Code-like request exactly; canned replies; rebuild."""

from __future__ import annotations

import json

from tests.unit.protocols.helpers import fixture_bytes, request

from promptwitness.model import Message, Part, Tool, ToolCall
from promptwitness.protocols import ADAPTERS, detect, parse_request
from promptwitness.protocols.sse import SSEParser

A = ADAPTERS["anthropic"]

HEADERS = (
    ("Host", "127.0.0.1:8787"),
    ("Connection", "keep-alive"),
    ("Accept", "application/json"),
    ("X-Stainless-Lang", "js"),
    ("anthropic-beta", "claude-code-20250219,interleaved-thinking-2025-05-14"),
    ("anthropic-version", "2023-06-01"),
    ("x-api-key", "pw-redacted:0123abcd"),
    ("User-Agent", "claude-cli/2.1.91 (external, sdk-cli)"),
    ("X-Claude-Code-Session-Id", "5a1e7b4c-2d3e-4f50-9a6b-7c8d9e0f1a2b"),
    ("content-type", "application/json"),
    ("Accept-Encoding", "gzip, deflate, br, zstd"),
    ("Content-Length", "4242"),
    ("Transfer-Encoding", "chunked"),
    ("Keep-Alive", "timeout=5"),
    ("anthropic-beta", "fine-grained-tool-streaming-2025-05-14"),
)


def test_detect_paths() -> None:
    assert detect("POST", "/v1/messages") is A
    assert detect("post", "/proxy/v1/messages") is A
    assert detect("GET", "/v1/messages") is None
    assert detect("POST", "/v1/messages/count_tokens") is None


def test_parse_claude_code_request_exactly() -> None:
    req = request("/v1/messages?beta=true", fixture_bytes("anthropic_claude_code.json"), HEADERS)
    out = parse_request(req)
    assert out.protocol == "anthropic" and out.error is None
    p = out.prompt
    assert p is not None
    assert p.protocol == "anthropic"
    assert p.model == "claude-sonnet-4-5-20250929"
    assert p.stream is True
    assert p.system == (
        Part("text", "x-anthropic-billing-header: cc_version=2.1.91.a3f; cc_entrypoint=sdk-cli"),
        Part(
            "text",
            "You are Claude Code, Anthropic\u2019s official CLI for Claude.",
            {"cache_control": {"type": "ephemeral"}},
        ),
        Part(
            "text",
            "\nYou are an interactive CLI tool that helps users with software engineering "
            "tasks.\n<env>\nWorking directory: /tmp/work\nToday\u2019s date: 2026-11-24\n</env>",
            {"cache_control": {"type": "ephemeral", "ttl": "1h"}},
        ),
    )
    assert p.tools == (
        Tool(
            "Bash",
            "Executes a given bash command in a persistent shell session.",
            {
                "type": "object",
                "properties": {
                    "command": {"type": "string", "description": "The command to execute"},
                    "timeout": {
                        "type": "number",
                        "description": "Optional timeout in milliseconds (max 600000)",
                    },
                },
                "required": ["command"],
                "additionalProperties": False,
                "$schema": "http://json-schema.org/draft-07/schema#",
            },
        ),
        Tool(
            "Read",
            "Reads a file from the local filesystem.",
            {
                "type": "object",
                "properties": {"file_path": {"type": "string"}},
                "required": ["file_path"],
            },
            {"cache_control": {"type": "ephemeral"}},
        ),
        Tool("web_search", None, None, {"type": "web_search_20250305", "max_uses": 8}),
    )
    reminder = (
        "<system-reminder>\nAs you answer the user\u2019s questions, you can use the following "
        "context:\n# important-instruction-reminders\nDo what has been asked; nothing more, "
        "nothing less.\n</system-reminder>\n"
    )
    assert p.messages == (
        Message(
            "user",
            (
                Part("text", reminder),
                Part("text", "Say hi", {"cache_control": {"type": "ephemeral"}}),
            ),
        ),
        Message("system", (Part("text", "Today\u2019s date is 2026-11-24."),)),
        Message(
            "assistant",
            (
                Part(
                    "tool_use",
                    None,
                    {
                        "id": "toolu_01A",
                        "name": "Bash",
                        "input": {"command": "ls", "description": "List files"},
                    },
                ),
            ),
        ),
        Message(
            "user",
            (
                Part(
                    "tool_result",
                    None,
                    {"tool_use_id": "toolu_01A", "content": "README.md\n", "is_error": False},
                ),
            ),
        ),
    )
    assert list(p.params.items()) == [
        ("temperature", 1),
        ("max_tokens", 32000),
        ("thinking", {"type": "enabled", "budget_tokens": 31999}),
    ]
    assert p.metadata == {
        "user_id": "user_4f1c0ffee_account__session_5a1e7b4c-2d3e-4f50-9a6b-7c8d9e0f1a2b"
    }
    assert list(p.headers.items()) == [
        ("accept", "application/json"),
        ("x-stainless-lang", "js"),
        (
            "anthropic-beta",
            "claude-code-20250219,interleaved-thinking-2025-05-14, "
            "fine-grained-tool-streaming-2025-05-14",
        ),
        ("anthropic-version", "2023-06-01"),
        ("x-api-key", "pw-redacted:0123abcd"),
        ("user-agent", "claude-cli/2.1.91 (external, sdk-cli)"),
        ("x-claude-code-session-id", "5a1e7b4c-2d3e-4f50-9a6b-7c8d9e0f1a2b"),
        ("content-type", "application/json"),
    ]


def test_system_as_string_and_content_as_string() -> None:
    p = A.parse(
        request(
            "/v1/messages", {"system": "Be brief.", "messages": [{"role": "user", "content": ""}]}
        )
    )
    assert p.system == (Part("text", "Be brief."),)
    assert p.messages == (Message("user", (Part("text", ""),)),)
    assert p.model is None and p.stream is False and p.params == {}


def test_non_string_text_stays_in_extra() -> None:
    p = A.parse(request("/v1/messages", {"system": [{"type": "text", "text": None}]}))
    assert p.system == (Part("text", None, {"text": None}),)


def test_wants_stream() -> None:
    assert A.wants_stream(request("/v1/messages", {"stream": True}))
    assert not A.wants_stream(request("/v1/messages", {"stream": "true"}))
    assert not A.wants_stream(request("/v1/messages", b"not json"))


def test_canned_stream_has_the_full_event_sequence() -> None:
    req = request("/v1/messages?beta=true", {"model": "claude-x", "stream": True, "messages": []})
    reply = A.canned(req, "Hello there, friend.")
    assert reply.status == 200 and reply.stream
    assert dict(reply.headers)["content-type"].startswith("text/event-stream")
    p = SSEParser()
    events = p.feed(reply.body) + p.close()
    kinds = [e.event for e in events]
    assert kinds[:3] == ["message_start", "content_block_start", "ping"]
    deltas = [json.loads(e.data) for e in events if e.event == "content_block_delta"]
    assert len(deltas) == 3
    assert "".join(d["delta"]["text"] for d in deltas) == "Hello there, friend."
    assert all(d["delta"]["type"] == "text_delta" for d in deltas)
    assert kinds == (
        ["message_start", "content_block_start", "ping"]
        + ["content_block_delta"] * 3
        + ["content_block_stop", "message_delta", "message_stop"]
    )
    for e in events:  # the event line and the data's type agree
        assert json.loads(e.data)["type"] == e.event
    start = json.loads(events[0].data)["message"]
    assert start["model"] == "claude-x" and start["id"].startswith("msg_01")
    delta = json.loads(events[-2].data)
    assert delta["delta"]["stop_reason"] == "end_turn"
    assert delta["usage"]["output_tokens"] >= 1
    assert len(reply.chunks) == len(events)  # one event per chunk


def test_canned_json_and_ids_are_stable() -> None:
    req = request("/v1/messages", {"model": "claude-x", "messages": []})
    reply = A.canned(req, "hi")
    doc = json.loads(reply.body)
    assert doc["type"] == "message" and doc["role"] == "assistant"
    assert doc["content"] == [{"type": "text", "text": "hi"}]
    assert doc["stop_reason"] == "end_turn" and doc["model"] == "claude-x"
    assert doc["usage"]["input_tokens"] >= 1
    assert A.canned(req, "hi").body == reply.body
    assert dict(reply.headers)["content-type"] == "application/json"


def test_rebuild_tool_use_stream() -> None:
    body = (
        b'event: message_start\ndata: {"type":"message_start","message":{"model":"m",'
        b'"usage":{"input_tokens":5}}}\n\n'
        b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
        b'"content_block":{"type":"text","text":""}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"Let me look."}}\n\n'
        b'event: content_block_start\ndata: {"type":"content_block_start","index":1,'
        b'"content_block":{"type":"tool_use","id":"toolu_1","name":"Bash","input":{}}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":1,'
        b'"delta":{"type":"input_json_delta","partial_json":"{\\"comm"}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":1,'
        b'"delta":{"type":"input_json_delta","partial_json":"and\\": \\"ls\\"}"}}\n\n'
        b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"tool_use"},'
        b'"usage":{"output_tokens":9}}\n\n'
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
    a = A.rebuild(200, (("content-type", "text/event-stream"),), body)
    assert a.text == "Let me look."
    assert a.tool_calls == (ToolCall("toolu_1", "Bash", '{"command": "ls"}'),)
    assert a.stop_reason == "tool_use" and a.model == "m"
    assert a.usage == {"input_tokens": 5, "output_tokens": 9}
    assert a.complete and a.error is None


def test_rebuild_json_tool_use() -> None:
    body = json.dumps(
        {
            "type": "message",
            "model": "m",
            "content": [{"type": "tool_use", "id": "t", "name": "Read", "input": {"p": "ä"}}],
            "stop_reason": "tool_use",
        },
        ensure_ascii=False,
    ).encode()
    a = A.rebuild(200, (), body)
    assert a.tool_calls == (ToolCall("t", "Read", '{"p":"ä"}'),)


def test_rebuild_error_event_and_error_body() -> None:
    body = (
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
        b'"message":"Overloaded"}}\n\n'
    )
    a = A.rebuild(200, (("content-type", "text/event-stream"),), body)
    assert a.error == "overloaded_error: Overloaded" and a.complete
    b = A.rebuild(
        400,
        (("content-type", "application/json"),),
        b'{"type":"error","error":{"type":"invalid_request_error","message":"bad"}}',
    )
    assert b.error == "HTTP 400: invalid_request_error: bad"


def test_rebuild_truncated_stream() -> None:
    reply = A.canned(request("/v1/messages", {"stream": True}), "abcdef")
    cut = reply.body[: reply.body.index(b"event: message_delta")]
    a = A.rebuild(200, reply.headers, cut)
    assert a.text == "abcdef"
    assert not a.complete
    assert a.error == "truncated stream: no message_stop event"


def test_rebuild_truncated_json() -> None:
    a = A.rebuild(200, (("content-type", "application/json"),), b'{"type":"mess')
    assert not a.complete
    assert a.error is not None and a.error.startswith("truncated or invalid JSON body:")
