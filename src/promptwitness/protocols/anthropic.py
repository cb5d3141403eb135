"""Anthropic Messages API: ``POST /v1/messages`` (Claude Code adds ``?beta=true``).

Rules:
- ``system`` (a string, or a list of blocks with ``cache_control`` ...) → ``Prompt.system``.
- ``tools``: client tools (``input_schema`` → schema) and server tools
  (``{"type": "web_search_20250305", "name": ...}``) alike; other fields in ``extra``.
- ``messages``: every entry in order, ``role: "system"`` entries included; a string
  content is one text part.
- ``metadata`` → ``Prompt.metadata``; every other top-level field but ``model``,
  ``stream``, ``system``, ``tools``, ``messages`` → ``Prompt.params`` in order.
- The canned stream is the full sequence the API sends: ``message_start``,
  ``content_block_start``, ``ping``, ``content_block_delta``…, ``content_block_stop``,
  ``message_delta``, ``message_stop``, each with its ``event:`` line.
- ``rebuild`` never raises; a stream without ``message_stop`` is incomplete.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from promptwitness.errors import ParseError
from promptwitness.model import JSON, Answer, CannedReply, Part, Prompt, RawRequest, Tool, ToolCall
from promptwitness.protocols import common as c
from promptwitness.protocols.base import register
from promptwitness.protocols.sse import encode_event

NAME = "anthropic"
DEFAULT_MODEL = "claude-sonnet-4-5-20250929"
_MODELLED = frozenset({"model", "stream", "system", "tools", "messages", "metadata"})


def parse_tool(protocol: str, where: str, obj: JSON) -> Tool:
    c.want(protocol, where, obj, dict)
    assert isinstance(obj, dict)
    if "name" not in obj:
        raise ParseError(f"{protocol}: {where} has no name")
    name = obj["name"]
    c.want(protocol, f"{where}.name", name, str)
    description = obj.get("description")
    if not isinstance(description, str):
        description = None
    extra = {
        k: v
        for k, v in obj.items()
        if k not in ("name", "input_schema")
        and not (k == "description" and description is not None)
    }
    return Tool(name, description, obj.get("input_schema"), extra)


class AnthropicAdapter:
    name = NAME

    def matches(self, method: str, path: str) -> bool:
        return method.upper() == "POST" and path.endswith("/v1/messages")

    def parse(self, request: RawRequest) -> Prompt:
        p = NAME
        body = c.load_object(p, request.body)
        system_value = body.get("system")
        if system_value is not None:
            c.want(p, "system", system_value, str, list)
        if isinstance(system_value, str):
            system: tuple[Part, ...] = (Part("text", system_value),)
        else:
            system = tuple(
                c.part_from(p, f"system[{i}]", b)
                for i, b in enumerate(c.opt_list(p, "system", system_value))
            )
        tools = tuple(
            parse_tool(p, f"tools[{i}]", t)
            for i, t in enumerate(c.opt_list(p, "tools", body.get("tools")))
        )
        messages = tuple(
            c.role_message(p, f"messages[{i}]", m)
            for i, m in enumerate(c.opt_list(p, "messages", body.get("messages")))
        )
        return Prompt(
            protocol=p,
            model=c.opt_str(p, "model", body.get("model")),
            stream=c.opt_bool(p, "stream", body.get("stream")),
            system=system,
            tools=tools,
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
        msg_id = "msg_01" + c.make_id(request, "anthropic-msg", 22)
        headers = (("request-id", "req_011C" + c.make_id(request, "anthropic-req", 21)),)
        usage_in = {
            "input_tokens": c.estimate_tokens(len(request.body)),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }
        out_tokens = c.text_tokens(text)
        if not self.wants_stream(request):
            message = {
                "id": msg_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {**usage_in, "output_tokens": out_tokens, "service_tier": "standard"},
            }
            return CannedReply(200, c.JSON_HEADERS + headers, (c.dumps(message),), stream=False)

        def ev(kind: str, data: JSON) -> bytes:
            return encode_event(kind, c.dumps_text(data))

        start: dict[str, JSON] = {
            "id": msg_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {**usage_in, "output_tokens": 1, "service_tier": "standard"},
        }
        chunks = [
            ev("message_start", {"type": "message_start", "message": start}),
            ev(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            ),
            ev("ping", {"type": "ping"}),
        ]
        for piece in c.split_text(text):
            chunks.append(
                ev(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": piece},
                    },
                )
            )
        chunks += [
            ev("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ev(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": out_tokens},
                },
            ),
            ev("message_stop", {"type": "message_stop"}),
        ]
        return CannedReply(200, c.SSE_HEADERS + headers, tuple(chunks), stream=True)

    def rebuild(self, status: int, headers: tuple[tuple[str, str], ...], body: bytes) -> Answer:
        if c.looks_like_sse(headers, body):
            return _rebuild_stream(status, body)
        value = c.loads(body)
        if status >= 400 or (isinstance(value, dict) and value.get("type") == "error"):
            return Answer(NAME, error=c.http_error(NAME, status, body))
        if not isinstance(value, dict):
            return Answer(NAME, error=c.truncated_json(body), complete=False)
        state = _State()
        state.message(value)
        for i, block in enumerate(value.get("content") or []):
            state.block_start(i, block)
        return state.answer(complete=True)


@dataclass
class _Block:
    kind: str
    text: list[str] = field(default_factory=list)
    tool_id: str | None = None
    tool_name: str | None = None
    args: list[str] = field(default_factory=list)
    initial_args: str = ""


@dataclass
class _State:
    blocks: dict[int, _Block] = field(default_factory=dict)
    model: str | None = None
    stop_reason: str | None = None
    usage: dict[str, JSON] = field(default_factory=dict)
    error: str | None = None

    def message(self, msg: JSON) -> None:
        if not isinstance(msg, dict):
            return
        self.model = c.str_or_none(msg.get("model")) or self.model
        self.stop_reason = c.str_or_none(msg.get("stop_reason")) or self.stop_reason
        self.usage.update(c.usage_of(msg.get("usage")))

    def block_start(self, index: JSON, block: JSON) -> None:
        if not isinstance(index, int) or not isinstance(block, dict):
            return
        kind = c.str_or_none(block.get("type")) or "?"
        b = self.blocks[index] = _Block(kind)
        if kind == "text" and isinstance(block.get("text"), str):
            b.text.append(block["text"])
        if kind in ("tool_use", "server_tool_use"):
            b.tool_id = c.str_or_none(block.get("id"))
            b.tool_name = c.str_or_none(block.get("name")) or ""
            if "input" in block and block["input"] != {}:
                b.initial_args = c.dumps_text(block["input"])
            elif "input" in block:
                b.initial_args = "{}"

    def delta(self, index: JSON, delta: JSON) -> None:
        if not isinstance(index, int) or not isinstance(delta, dict):
            return
        b = self.blocks.setdefault(index, _Block("text"))
        kind = delta.get("type")
        if kind == "text_delta" and isinstance(delta.get("text"), str):
            b.text.append(delta["text"])
        elif kind == "input_json_delta" and isinstance(delta.get("partial_json"), str):
            b.args.append(delta["partial_json"])

    def answer(self, complete: bool, error: str | None = None) -> Answer:
        text: list[str] = []
        calls: list[ToolCall] = []
        for _, b in sorted(self.blocks.items()):
            if b.kind == "text":
                text.extend(b.text)
            elif b.tool_name is not None:
                args = "".join(b.args) if b.args else b.initial_args
                calls.append(ToolCall(b.tool_id, b.tool_name, args))
        return Answer(
            NAME,
            text="".join(text),
            tool_calls=tuple(calls),
            stop_reason=self.stop_reason,
            model=self.model,
            usage=dict(self.usage),
            error=self.error or error,
            complete=complete,
        )


def _rebuild_stream(status: int, body: bytes) -> Answer:
    events, trailing = c.sse_events(body)
    state = _State()
    done = False
    for ev in events + trailing:
        data = c.loads(ev.data)
        if not isinstance(data, dict):
            continue
        kind = data.get("type") or ev.event
        if kind == "message_start":
            state.message(data.get("message"))
        elif kind == "content_block_start":
            state.block_start(data.get("index"), data.get("content_block"))
        elif kind == "content_block_delta":
            state.delta(data.get("index"), data.get("delta"))
        elif kind == "message_delta":
            state.message(data.get("delta"))
            state.usage.update(c.usage_of(data.get("usage")))
        elif kind == "message_stop" and ev.complete:
            done = True
        elif kind == "error":
            state.error = c.error_text(data.get("error"))
            done = done or ev.complete  # an error event ends the stream
    if status >= 400 and state.error is None:
        state.error = c.http_error(NAME, status, body)
    if done:
        return state.answer(complete=True)
    return state.answer(complete=False, error="truncated stream: no message_stop event")


register(AnthropicAdapter())
