"""What the sink answers to any request (sans-IO): ``sink_reply(req, text)``.

Rules:
- Every request gets an answer an agent accepts, so that it goes on to send what we
  want to see: ``HEAD /`` and ``GET /`` (pre-connect probes), model listings in the
  shape the path and headers imply, token counting, each protocol's model call
  (streamed when asked), Claude Code's ``/api/claude_code/*`` settings (``{}``).
- A body invalid for its protocol gets that provider's own 400 error JSON, with the
  parser's message; an unknown path a JSON 404 that says it was captured anyway.
- A body sent with a ``Content-Encoding`` is answered from its decoded bytes
  (``encoding.decode_body``); a model call whose body cannot be decoded (unknown
  coding, corrupt, a decompression bomb) gets the provider's 400 saying so.
- A HEAD request gets the status and headers but no body.
- Gemini JSON mode (``responseMimeType: application/json`` with a schema, e.g. Gemini
  CLI's model router): when ``text`` is not JSON, the answer is the smallest JSON
  value the schema accepts, with ``text`` in its strings, so the agent's flow does not
  change because of the sink.
- Never raises, whatever the bytes.
"""

from __future__ import annotations

import json
import re
import urllib.parse

from promptwitness.errors import ParseError
from promptwitness.model import JSON, CannedReply, RawRequest
from promptwitness.protocols import common as c
from promptwitness.protocols.base import detect
from promptwitness.protocols.encoding import decode_request

__all__ = ["DEFAULT_ANSWER", "sink_reply"]

DEFAULT_ANSWER = "Hello from promptwitness."

_MODELS_PATH = re.compile(r"(?:^|/)models(?:/(?P<id>[^/]+))?/?$")
_GEMINI_VERSION = re.compile(r"(?:^|/)(?:v1beta|v1alpha)/")
_COUNT_TOKENS = re.compile(r"(?:^|/)models/(?P<model>[^/:]+):countTokens$")

ANTHROPIC_MODELS = (
    ("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z"),
    ("claude-opus-4-1-20250805", "Claude Opus 4.1", "2025-08-05T00:00:00Z"),
    ("claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-15T00:00:00Z"),
)
OPENAI_MODELS = ("gpt-5", "gpt-5-codex", "gpt-4.1", "gpt-4o", "o4-mini")
GEMINI_MODELS = ("gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite")


def _json(status: int, value: JSON, extra: tuple[tuple[str, str], ...] = ()) -> CannedReply:
    return CannedReply(status, c.JSON_HEADERS + extra, (c.dumps(value),))


def _not_found(req: RawRequest) -> CannedReply:
    message = f"promptwitness sink: no handler for {req.method} {req.path} (captured anyway)"
    return _json(404, {"error": {"type": "not_found", "message": message}})


def _shape(req: RawRequest) -> str:
    """Which provider a listing or an error should look like."""
    if (
        _GEMINI_VERSION.search(req.path)
        or req.header("x-goog-api-key") is not None
        or "key" in urllib.parse.parse_qs(req.query)
    ):
        return "gemini"
    if req.header("anthropic-version") is not None or req.header("x-api-key") is not None:
        return "anthropic"
    return "openai"


def _anthropic_model(model_id: str, name: str, created: str) -> dict[str, JSON]:
    return {"type": "model", "id": model_id, "display_name": name, "created_at": created}


def _openai_model(model_id: str) -> dict[str, JSON]:
    return {"id": model_id, "object": "model", "created": 1715367049, "owned_by": "system"}


def _gemini_model(model_id: str) -> dict[str, JSON]:
    return {
        "name": f"models/{model_id}",
        "version": "001",
        "displayName": model_id,
        "description": f"{model_id} (promptwitness sink)",
        "inputTokenLimit": 1048576,
        "outputTokenLimit": 65536,
        "supportedGenerationMethods": ["generateContent", "countTokens", "streamGenerateContent"],
        "temperature": 1,
        "topP": 0.95,
        "topK": 64,
        "maxTemperature": 2,
        "thinking": True,
    }


def _models(req: RawRequest, model_id: str | None) -> CannedReply:
    shape = _shape(req)
    if shape == "anthropic":
        if model_id is not None:
            known = {m[0]: m for m in ANTHROPIC_MODELS}
            m = known.get(model_id, (model_id, model_id, "2025-09-29T00:00:00Z"))
            return _json(200, _anthropic_model(*m))
        data = [_anthropic_model(*m) for m in ANTHROPIC_MODELS]
        return _json(
            200,
            {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]},
        )
    if shape == "gemini":
        if model_id is not None:
            return _json(200, _gemini_model(model_id.removeprefix("models/")))
        return _json(200, {"models": [_gemini_model(m) for m in GEMINI_MODELS]})
    if model_id is not None:
        return _json(200, _openai_model(model_id))
    return _json(200, {"object": "list", "data": [_openai_model(m) for m in OPENAI_MODELS]})


def _bad_request(protocol: str, message: str, req: RawRequest) -> CannedReply:
    if protocol == "anthropic":
        rid = "req_011C" + c.make_id(req, "anthropic-req", 21)
        doc: JSON = {
            "type": "error",
            "error": {"type": "invalid_request_error", "message": message},
            "request_id": rid,
        }
        return _json(400, doc, (("request-id", rid),))
    if protocol == "gemini":
        return _json(
            400, {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}
        )
    doc = {
        "error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}
    }
    return _json(400, doc)


def schema_instance(schema: JSON, text: str, depth: int = 0) -> JSON:
    """The smallest value ``schema`` (JSON Schema or Gemini's OpenAPI subset) accepts,
    with ``text`` in its strings."""
    if not isinstance(schema, dict) or depth > 20:
        return text
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            return schema_instance(options[0], text, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), kind[0] if kind else None)
    kind = kind.lower() if isinstance(kind, str) else None
    if kind == "object" or (kind is None and isinstance(schema.get("properties"), dict)):
        props = schema.get("properties")
        props = props if isinstance(props, dict) else {}
        return {k: schema_instance(v, text, depth + 1) for k, v in props.items()}
    if kind == "array":
        n = schema.get("minItems")
        n = n if isinstance(n, int) and not isinstance(n, bool) and 0 < n <= 16 else 0
        return [schema_instance(schema.get("items"), text, depth + 1) for _ in range(n)]
    if kind in ("integer", "number"):
        low = schema.get("minimum")
        if isinstance(low, int | float) and not isinstance(low, bool):
            return int(low) if kind == "integer" else low
        return 1
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return text


def _gemini_json_text(req: RawRequest, text: str) -> str:
    """``text``, or a schema-valid JSON answer when the request asks for JSON."""
    config = c.body_flag(req.body, "generationConfig")
    if not isinstance(config, dict) or config.get("responseMimeType") != "application/json":
        return text
    if c.loads(text) is not None or text.strip() == "null":
        return text
    schema = config.get("responseJsonSchema", config.get("responseSchema"))
    return json.dumps(schema_instance(schema, text), ensure_ascii=False)


def _reply(req: RawRequest, text: str) -> CannedReply:
    method = req.method.upper()
    path = req.path
    req, coding_error = decode_request(req)
    if method in ("GET", "HEAD") and path == "/":
        return _json(200, {"status": "ok", "service": "promptwitness sink"})
    if method == "GET" and path.startswith("/api/claude_code/"):
        return _json(200, {})
    if method == "POST" and path.endswith("/v1/messages/count_tokens"):
        return _json(200, {"input_tokens": c.estimate_tokens(len(req.body))})
    if method == "POST" and _COUNT_TOKENS.search(path):
        n = c.estimate_tokens(len(req.body))
        return _json(
            200, {"totalTokens": n, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": n}]}
        )
    m = _MODELS_PATH.search(path)
    if method == "GET" and m:
        return _models(req, m.group("id"))
    adapter = detect(method, path)
    if adapter is None:
        return _not_found(req)
    if coding_error is not None:
        message = f"{adapter.name}: request body cannot be decoded: {coding_error}"
        return _bad_request(adapter.name, message, req)
    try:
        adapter.parse(req)
    except ParseError as exc:
        return _bad_request(adapter.name, str(exc), req)
    if adapter.name == "gemini":
        text = _gemini_json_text(req, text)
    return adapter.canned(req, text)


def sink_reply(req: RawRequest, text: str = DEFAULT_ANSWER) -> CannedReply:
    """The sink's answer to ``req`` (see the module docstring). Never raises."""
    try:
        reply = _reply(req, text)
    except Exception as exc:  # pragma: no cover - a bug must not take the sink down
        message = f"promptwitness sink: internal error {type(exc).__name__} (captured anyway)"
        reply = _json(500, {"error": {"type": "internal_error", "message": message}})
    if req.method.upper() == "HEAD":
        return CannedReply(reply.status, reply.headers, (), stream=False)
    return reply
