"""OpenAI Responses: parse a Codex-like request exactly; canned replies; rebuild."""

from __future__ import annotations

import json

from tests.unit.protocols.helpers import fixture_bytes, request

from promptwitness.model import Message, Part, Tool, ToolCall
from promptwitness.protocols import ADAPTERS, detect, parse_request
from promptwitness.protocols.sse import SSEParser

R = ADAPTERS["openai-responses"]


def test_detect_paths() -> None:
    assert detect("POST", "/v1/responses") is R
    assert detect("POST", "/responses") is R
    assert detect("GET", "/v1/responses") is None


def test_parse_codex_request_exactly() -> None:
    headers = (("originator", "codex_exec"), ("session_id", "0199c7c1"), ("Host", "x"))
    out = parse_request(
        request("/v1/responses", fixture_bytes("openai_responses_codex.json"), headers)
    )
    assert out.protocol == "openai-responses" and out.error is None
    p = out.prompt
    assert p is not None
    assert p.model == "gpt-5-codex" and p.stream is True
    assert p.system == (
        Part(
            "text",
            "You are Codex, based on GPT-5. You are running as a coding agent in the Codex "
            "CLI on a user\u2019s computer.",
        ),
    )
    env = (
        "<environment_context>\n  <cwd>/tmp/work</cwd>\n  <approval_policy>never</approval_policy>"
        "\n  <timezone>Asia/Shanghai</timezone>\n</environment_context>"
    )
    assert p.messages == (
        Message("user", (Part("input_text", env),), {"type": "message"}),
        Message("user", (Part("input_text", "Say hi"),), {"type": "message"}),
        Message(
            "function_call",
            (),
            {"name": "shell", "arguments": '{"command":["ls"]}', "call_id": "call_1"},
        ),
        Message("function_call_output", (), {"call_id": "call_1", "output": "README.md\n"}),
        Message("assistant", (Part("text", "Done."),)),
    )
    assert p.tools == (
        Tool(
            "shell",
            "Runs a shell command and returns its output.",
            {
                "type": "object",
                "properties": {"command": {"type": "array", "items": {"type": "string"}}},
                "required": ["command"],
                "additionalProperties": False,
            },
            {"type": "function", "strict": False},
        ),
        Tool("web_search", None, None, {"type": "web_search"}),
    )
    assert list(p.params.items()) == [
        ("tool_choice", "auto"),
        ("parallel_tool_calls", False),
        ("reasoning", {"effort": "medium", "summary": "auto"}),
        ("store", False),
        ("include", ["reasoning.encrypted_content"]),
        ("prompt_cache_key", "0199c7c1-8f4e-7a52-b3a1-2c3d4e5f6071"),
    ]
    assert p.metadata == {}
    assert list(p.headers.items()) == [("originator", "codex_exec"), ("session_id", "0199c7c1")]


def test_input_string_is_one_user_message() -> None:
    p = R.parse(request("/v1/responses", {"input": "hi", "instructions": None}))
    assert p.messages == (Message("user", (Part("text", "hi"),)),)
    assert p.system == ()


EXPECTED_EVENTS = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.delta",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]


def test_canned_stream_event_sequence() -> None:
    reply = R.canned(request("/v1/responses", {"model": "gpt-x", "stream": True}), "Hello there.")
    p = SSEParser()
    events = p.feed(reply.body) + p.close()
    assert [e.event for e in events] == EXPECTED_EVENTS
    docs = [json.loads(e.data) for e in events]
    assert [d["type"] for d in docs] == EXPECTED_EVENTS
    assert [d["sequence_number"] for d in docs] == list(range(len(docs)))
    completed = docs[-1]["response"]
    assert completed["status"] == "completed" and completed["model"] == "gpt-x"
    assert completed["output"][0]["type"] == "message"
    assert completed["output"][0]["content"][0] == {
        "type": "output_text",
        "annotations": [],
        "logprobs": [],
        "text": "Hello there.",
    }
    assert docs[-2]["item"] == completed["output"][0]
    assert completed["usage"]["total_tokens"] >= 2


def test_canned_json() -> None:
    doc = json.loads(R.canned(request("/v1/responses", {"model": "m"}), "hi").body)
    assert doc["object"] == "response" and doc["status"] == "completed"
    assert doc["output"][0]["content"][0]["text"] == "hi"


def test_rebuild_function_call_stream() -> None:
    events = [
        ("response.created", {"response": {"model": "gpt-x", "status": "in_progress"}}),
        (
            "response.output_item.added",
            {
                "output_index": 0,
                "item": {
                    "type": "function_call",
                    "id": "fc_1",
                    "call_id": "call_9",
                    "name": "shell",
                    "arguments": "",
                },
            },
        ),
        (
            "response.function_call_arguments.delta",
            {"item_id": "fc_1", "output_index": 0, "delta": '{"command":'},
        ),
        (
            "response.function_call_arguments.delta",
            {"item_id": "fc_1", "output_index": 0, "delta": '["ls"]}'},
        ),
        (
            "response.completed",
            {"response": {"model": "gpt-x", "status": "completed", "usage": {"input_tokens": 4}}},
        ),
    ]
    body = b"".join(
        f"event: {k}\ndata: {json.dumps({'type': k, **d})}\n\n".encode() for k, d in events
    )
    a = R.rebuild(200, (("content-type", "text/event-stream"),), body)
    assert a.tool_calls == (ToolCall("call_9", "shell", '{"command":["ls"]}'),)
    assert a.complete and a.stop_reason == "completed" and a.usage == {"input_tokens": 4}


def test_rebuild_failed_and_error_events() -> None:
    failed = {
        "type": "response.failed",
        "response": {"status": "failed", "error": {"code": "server_error", "message": "oops"}},
    }
    a = R.rebuild(200, (), f"event: response.failed\ndata: {json.dumps(failed)}\n\n".encode())
    assert a.complete and a.error == "server_error: oops"
    err = {"type": "error", "code": "rate_limit_exceeded", "message": "slow down"}
    b = R.rebuild(200, (), f"event: error\ndata: {json.dumps(err)}\n\n".encode())
    assert b.error == "error: slow down" and b.complete


def test_rebuild_truncated() -> None:
    reply = R.canned(request("/v1/responses", {"stream": True}), "abc")
    cut = reply.body[: reply.body.index(b"event: response.completed")]
    a = R.rebuild(200, reply.headers, cut)
    assert a.text == "abc" and not a.complete
    assert a.error == "truncated stream: no response.completed event"
