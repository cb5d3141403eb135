"""sink_reply: every kind of request an agent sends gets an answer it accepts."""

from __future__ import annotations

import json

from tests.unit.protocols.helpers import request

from promptwitness.model import RawRequest
from promptwitness.protocols import DEFAULT_ANSWER, rebuild_answer, sink_reply
from promptwitness.protocols.sink import schema_instance


def get(target: str, headers: tuple[tuple[str, str], ...] = (), method: str = "GET") -> RawRequest:
    return RawRequest(method, target, headers, b"")


def test_default_answer_is_a_sentence() -> None:
    assert DEFAULT_ANSWER == "Hello from promptwitness."


def test_head_and_get_root() -> None:
    head = sink_reply(get("/", method="HEAD"))
    assert head.status == 200 and head.body == b""
    root = sink_reply(get("/"))
    assert root.status == 200 and isinstance(json.loads(root.body), dict)


def test_claude_code_settings_endpoints() -> None:
    for path in ("/api/claude_code/policy_limits", "/api/claude_code/settings"):
        reply = sink_reply(get(path))
        assert reply.status == 200 and json.loads(reply.body) == {}


def test_model_listing_anthropic_shape() -> None:
    reply = sink_reply(get("/v1/models", (("anthropic-version", "2023-06-01"),)))
    doc = json.loads(reply.body)
    assert reply.status == 200
    assert doc["has_more"] is False
    assert doc["first_id"] == doc["data"][0]["id"] and doc["last_id"] == doc["data"][-1]["id"]
    assert all(
        set(m) == {"type", "id", "display_name", "created_at"} and m["type"] == "model"
        for m in doc["data"]
    )
    one = json.loads(sink_reply(get("/v1/models/claude-x", (("x-api-key", "k"),))).body)
    assert one == {
        "type": "model",
        "id": "claude-x",
        "display_name": "claude-x",
        "created_at": "2025-09-29T00:00:00Z",
    }


def test_model_listing_openai_shape() -> None:
    doc = json.loads(sink_reply(get("/v1/models", (("authorization", "Bearer x"),))).body)
    assert doc["object"] == "list"
    assert all(
        m["object"] == "model" and {"id", "created", "owned_by"} <= set(m) for m in doc["data"]
    )
    one = json.loads(sink_reply(get("/models/gpt-x")).body)
    assert one["id"] == "gpt-x" and one["object"] == "model"


def test_model_listing_gemini_shape() -> None:
    doc = json.loads(sink_reply(get("/v1beta/models")).body)
    assert all(m["name"].startswith("models/") for m in doc["models"])
    one = json.loads(sink_reply(get("/v1beta/models/gemini-x")).body)
    assert one["name"] == "models/gemini-x"
    keyed = json.loads(sink_reply(get("/v1/models?key=abc")).body)
    assert "models" in keyed


def test_count_tokens() -> None:
    body = b'{"model":"m","messages":[{"role":"user","content":"' + b"x" * 400 + b'"}]}'
    doc = json.loads(sink_reply(request("/v1/messages/count_tokens", body)).body)
    assert doc == {"input_tokens": len(body) // 4}
    g = json.loads(sink_reply(request("/v1beta/models/g:countTokens", body)).body)
    assert g["totalTokens"] == len(body) // 4


def test_model_calls_use_the_adapters() -> None:
    r = sink_reply(
        request("/v1/messages?beta=true", {"model": "c", "stream": True, "messages": []})
    )
    assert (
        r.stream and rebuild_answer("anthropic", r.status, r.headers, r.body).text == DEFAULT_ANSWER
    )
    r = sink_reply(request("/v1/chat/completions", {"messages": []}), "custom")
    assert rebuild_answer("openai-chat", r.status, r.headers, r.body).text == "custom"
    r = sink_reply(request("/v1/responses", {"stream": True, "input": "hi"}))
    assert rebuild_answer("openai-responses", r.status, r.headers, r.body).complete
    r = sink_reply(request("/v1beta/models/g:streamGenerateContent?alt=sse", {"contents": []}))
    assert rebuild_answer("gemini", r.status, r.headers, r.body).text == DEFAULT_ANSWER


def test_invalid_bodies_get_the_providers_400() -> None:
    r = sink_reply(request("/v1/messages", b"{nope"))
    assert r.status == 400
    doc = json.loads(r.body)
    assert doc["type"] == "error"
    assert doc["error"] == {
        "type": "invalid_request_error",
        "message": "anthropic: body is not valid JSON: Expecting property name enclosed in "
        "double quotes at byte 1",
    }
    r = sink_reply(request("/v1/chat/completions", b"[]"))
    assert r.status == 400
    assert json.loads(r.body) == {
        "error": {
            "message": "openai-chat: body is an array, not a JSON object",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }
    r = sink_reply(request("/v1beta/models/g:generateContent", b"\xff"))
    assert r.status == 400
    assert json.loads(r.body) == {
        "error": {
            "code": 400,
            "message": "gemini: body is not valid UTF-8 at byte 0 (invalid start byte)",
            "status": "INVALID_ARGUMENT",
        }
    }


def test_unknown_path_is_a_json_404() -> None:
    r = sink_reply(get("/api/event_logging/batch", method="POST"))
    assert r.status == 404
    assert json.loads(r.body) == {
        "error": {
            "type": "not_found",
            "message": "promptwitness sink: no handler for POST /api/event_logging/batch "
            "(captured anyway)",
        }
    }
    assert sink_reply(get("/nowhere", method="HEAD")).body == b""


def test_gemini_json_mode_router_gets_schema_valid_json() -> None:
    schema = {
        "type": "object",
        "properties": {
            "complexity_reasoning": {"type": "string"},
            "complexity_score": {"type": "integer", "minimum": 1, "maximum": 100},
        },
        "required": ["complexity_reasoning", "complexity_score"],
    }
    body = {
        "contents": [{"role": "user", "parts": [{"text": "route"}]}],
        "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": schema},
    }
    r = sink_reply(request("/v1beta/models/gemini-2.5-flash-lite:generateContent", body))
    text = json.loads(r.body)["candidates"][0]["content"]["parts"][0]["text"]
    assert json.loads(text) == {"complexity_reasoning": DEFAULT_ANSWER, "complexity_score": 1}
    # a JSON answer given by the user is sent unchanged
    r = sink_reply(request("/v1beta/models/g:generateContent", body), '{"a": 1}')
    assert json.loads(r.body)["candidates"][0]["content"]["parts"][0]["text"] == '{"a": 1}'


def test_schema_instance_shapes() -> None:
    assert schema_instance({"type": "STRING", "enum": ["a", "b"]}, "t") == "a"
    assert schema_instance({"type": "ARRAY", "minItems": 2, "items": {"type": "BOOLEAN"}}, "t") == [
        False,
        False,
    ]
    assert schema_instance({"anyOf": [{"type": "number"}, {"type": "string"}]}, "t") == 1
    assert schema_instance({"type": ["null", "string"]}, "t") == "t"
    assert schema_instance(None, "t") == "t"
