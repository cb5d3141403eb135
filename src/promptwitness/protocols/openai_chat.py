"""OpenAI Chat Completions: ``POST …/chat/completions`` (with or without ``/v1``).

Rules:
- ``messages`` in order; ``system`` and ``developer`` entries stay in ``messages``
  (``Prompt.system`` is empty): their position is part of what the agent sends.
  Assistant ``tool_calls``, ``tool_call_id``, ``name`` ... stay in the message's
  ``extra``.
- ``tools``: ``{"type": "function", "function": {name, description, parameters, ...}}``
  → one Tool (``parameters`` → schema; ``type`` and the function's other fields in
  ``extra``). Legacy ``functions`` entries are tools too, in request order.
- ``metadata`` → ``Prompt.metadata``; every other field but ``model``, ``stream``,
  ``messages``, ``tools``, ``functions`` → ``Prompt.params`` (``stream_options`` included).
- The canned stream: a role chunk, content chunks, a chunk with ``finish_reason``
  ``"stop"``, a usage chunk when ``stream_options.include_usage``, then ``data: [DONE]``.
- ``rebuild`` never raises; a stream without ``[DONE]`` is incomplete.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from promptwitness.errors import ParseError
from promptwitness.model import JSON, Answer, CannedReply, Prompt, RawRequest, Tool, ToolCall
from promptwitness.protocols import common as c
from promptwitness.protocols.base import register
from promptwitness.protocols.sse import encode_event

NAME = "openai-chat"
DEFAULT_MODEL = "gpt-4o"
_MODELLED = frozenset({"model", "stream", "messages", "tools", "functions", "metadata"})
_FUNCTION_FIELDS = ("name", "description", "parameters")


def parse_tool(protocol: str, where: str, obj: JSON) -> Tool:
    """A chat tool: nested ``{"type": T, T: {"name": ...}}``, or flat ``{"name": ...}``
    (legacy functions, Responses tools), or a built-in tool named by its type."""
    c.want(protocol, where, obj, dict)
    assert isinstance(obj, dict)
    kind = obj.get("type")
    inner = obj.get(kind) if isinstance(kind, str) else None
    if isinstance(kind, str) and isinstance(inner, dict) and "name" in inner:
        fields, extra_outer = inner, {k: v for k, v in obj.items() if k != kind}
        at = f"{where}.{kind}"
    elif "name" in obj:
        fields, extra_outer = obj, {}
        at = where
    elif isinstance(kind, str):
        return Tool(kind, None, None, {k: v for k, v in obj.items()})
    else:
        raise ParseError(f"{protocol}: {where} has no name")
    name = fields["name"]
    c.want(protocol, f"{at}.name", name, str)
    assert isinstance(name, str)
    description = fields.get("description")
    if not isinstance(description, str):
        description = None
    extra: dict[str, JSON] = dict(extra_outer)
    for k, v in fields.items():
        if k in ("name", "parameters") or (k == "description" and description is not None):
            continue
        extra[f"{kind}.{k}" if k in extra else k] = v
    return Tool(name, description, fields.get("parameters"), extra)


class OpenAIChatAdapter:
    name = NAME

    def matches(self, method: str, path: str) -> bool:
        return method.upper() == "POST" and path.endswith("/chat/completions")

    def parse(self, request: RawRequest) -> Prompt:
        p = NAME
        body = c.load_object(p, request.body)
        tools: list[Tool] = []
        for key in body:
            if key in ("tools", "functions"):
                items = c.opt_list(p, key, body[key])
                tools += [parse_tool(p, f"{key}[{i}]", t) for i, t in enumerate(items)]
        messages = tuple(
            c.role_message(p, f"messages[{i}]", m)
            for i, m in enumerate(c.opt_list(p, "messages", body.get("messages")))
        )
        return Prompt(
            protocol=p,
            model=c.opt_str(p, "model", body.get("model")),
            stream=c.opt_bool(p, "stream", body.get("stream")),
            system=(),
            tools=tuple(tools),
            messages=messages,
            params={k: v for k, v in body.items() if k not in _MODELLED},
            metadata=c.opt_object(p, "metadata", body.get("metadata")),
            headers=c.select_headers(request.headers),
        )

    def wants_stream(self, request: RawRequest) -> bool:
        return c.body_flag(request.body, "stream") is True

    def canned(self, request: RawRequest, text: str) -> CannedReply:
        model = c.body_flag(request.body, "model")
        model = model if isinstance(model, str) else DEFAULT_MODEL
        base = {
            "id": "chatcmpl-" + c.alnum_id(request, "openai-chat", 29),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
        }
        fingerprint = "fp_" + c.hex_id(request, "openai-fp", 10)
        prompt_tokens = c.estimate_tokens(len(request.body))
        completion_tokens = c.text_tokens(text)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
        headers = (("x-request-id", "req_" + c.hex_id(request, "openai-req", 32)),)
        if not self.wants_stream(request):
            doc = {
                **base,
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": text,
                            "refusal": None,
                            "annotations": [],
                        },
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": usage,
                "service_tier": "default",
                "system_fingerprint": fingerprint,
            }
            return CannedReply(200, c.JSON_HEADERS + headers, (c.dumps(doc, indent=2),))

        options = c.body_flag(request.body, "stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        head = {
            **base,
            "object": "chat.completion.chunk",
            "service_tier": "default",
            "system_fingerprint": fingerprint,
        }

        def chunk(delta: JSON, finish: str | None = None) -> bytes:
            doc: dict[str, JSON] = {
                **head,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
            if include_usage:
                doc["usage"] = None
            return encode_event(None, c.dumps_text(doc))

        chunks = [chunk({"role": "assistant", "content": "", "refusal": None})]
        chunks += [chunk({"content": piece}) for piece in c.split_text(text)]
        chunks.append(chunk({}, "stop"))
        if include_usage:
            chunks.append(encode_event(None, c.dumps_text({**head, "choices": [], "usage": usage})))
        chunks.append(encode_event(None, "[DONE]"))
        return CannedReply(200, c.SSE_HEADERS + headers, tuple(chunks), stream=True)

    def rebuild(self, status: int, headers: tuple[tuple[str, str], ...], body: bytes) -> Answer:
        if c.looks_like_sse(headers, body):
            return _rebuild_stream(status, body)
        value = c.loads(body)
        if status >= 400 or (isinstance(value, dict) and "error" in value):
            return Answer(NAME, error=c.http_error(NAME, status, body))
        if not isinstance(value, dict):
            return Answer(NAME, error=c.truncated_json(body), complete=False)
        state = _State()
        state.head(value)
        choice = c.dict_at(value, "choices", 0)
        message = c.dict_at(choice, "message")
        if isinstance(message.get("content"), str):
            state.text.append(message["content"])
        state.tool_deltas(message.get("tool_calls"))
        state.stop_reason = c.str_or_none(choice.get("finish_reason"))
        return state.answer(complete=True)


@dataclass
class _Call:
    id: str | None = None
    name: str = ""
    args: list[str] = field(default_factory=list)


@dataclass
class _State:
    text: list[str] = field(default_factory=list)
    calls: dict[int, _Call] = field(default_factory=dict)
    model: str | None = None
    stop_reason: str | None = None
    usage: dict[str, JSON] = field(default_factory=dict)
    error: str | None = None

    def head(self, doc: dict[str, JSON]) -> None:
        self.model = c.str_or_none(doc.get("model")) or self.model
        if isinstance(doc.get("usage"), dict):
            self.usage = dict(doc["usage"])

    def tool_deltas(self, deltas: JSON) -> None:
        if not isinstance(deltas, list):
            return
        for pos, d in enumerate(deltas):
            if not isinstance(d, dict):
                continue
            index = d.get("index", pos)
            call = self.calls.setdefault(index if isinstance(index, int) else pos, _Call())
            call.id = c.str_or_none(d.get("id")) or call.id
            fn = c.dict_at(d, "function")
            if isinstance(fn.get("name"), str) and not call.name:
                call.name = fn["name"]
            if isinstance(fn.get("arguments"), str):
                call.args.append(fn["arguments"])

    def answer(self, complete: bool, error: str | None = None) -> Answer:
        calls = tuple(
            ToolCall(k.id, k.name, "".join(k.args)) for _, k in sorted(self.calls.items())
        )
        return Answer(
            NAME,
            text="".join(self.text),
            tool_calls=calls,
            stop_reason=self.stop_reason,
            model=self.model,
            usage=self.usage,
            error=self.error or error,
            complete=complete,
        )


def _rebuild_stream(status: int, body: bytes) -> Answer:
    events, trailing = c.sse_events(body)
    state = _State()
    done = False
    for ev in events + trailing:
        if ev.data.strip() == "[DONE]":
            done = done or ev.complete
            continue
        doc = c.loads(ev.data)
        if not isinstance(doc, dict):
            continue
        if "error" in doc:
            state.error = c.error_text(doc["error"])
            continue
        state.head(doc)
        choice = c.dict_at(doc, "choices", 0)
        delta = c.dict_at(choice, "delta")
        if isinstance(delta.get("content"), str):
            state.text.append(delta["content"])
        state.tool_deltas(delta.get("tool_calls"))
        state.stop_reason = c.str_or_none(choice.get("finish_reason")) or state.stop_reason
    if status >= 400 and state.error is None:
        state.error = c.http_error(NAME, status, body)
    if done:
        return state.answer(complete=True)
    return state.answer(complete=False, error="truncated stream: no [DONE] event")


register(OpenAIChatAdapter())
