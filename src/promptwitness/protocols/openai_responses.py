"""OpenAI Responses API: ``POST …/responses`` (Codex CLI).

Rules:
- ``instructions`` → ``Prompt.system`` (a string is one text part).
- ``input``: a string is one ``user`` message with one text part; a list is items in
  order. A message item (one with a ``role``, ``type: "message"`` or not) becomes a
  Message whose ``extra`` keeps ``type``, ``id`` ...; any other item
  (``function_call``, ``function_call_output``, ``reasoning`` ...) becomes a Message
  whose role is the item's type and whose ``extra`` holds every other field verbatim.
- ``tools``: flat ``{"type": "function", "name", "description", "parameters", ...}``;
  built-in tools without a name (``{"type": "web_search"}``) are named by their type.
- ``metadata`` → ``Prompt.metadata``; every other field but ``model``, ``stream``,
  ``instructions``, ``input``, ``tools`` → ``Prompt.params``.
- The canned stream: ``response.created``, ``response.in_progress``,
  ``response.output_item.added``, ``response.content_part.added``,
  ``response.output_text.delta``…, ``response.output_text.done``,
  ``response.content_part.done``, ``response.output_item.done``, ``response.completed``,
  each with its ``event:`` line and a ``sequence_number``.
- ``rebuild`` never raises; a stream without ``response.completed`` (or
  ``response.incomplete``, ``response.failed``, ``error``) is incomplete.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from promptwitness.errors import ParseError
from promptwitness.model import (
    JSON,
    Answer,
    CannedReply,
    Message,
    Part,
    Prompt,
    RawRequest,
    ToolCall,
)
from promptwitness.protocols import common as c
from promptwitness.protocols.base import register
from promptwitness.protocols.openai_chat import parse_tool
from promptwitness.protocols.sse import encode_event

NAME = "openai-responses"
DEFAULT_MODEL = "gpt-5-codex"
_MODELLED = frozenset({"model", "stream", "instructions", "input", "tools", "metadata"})
_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed", "error"})


def _item(p: str, where: str, obj: JSON) -> Message:
    c.want(p, where, obj, dict)
    assert isinstance(obj, dict)
    if "role" in obj:
        return c.role_message(p, where, obj)
    if "type" not in obj:
        raise ParseError(f"{p}: {where} has neither a role nor a type")
    kind = obj["type"]
    c.want(p, f"{where}.type", kind, str)
    assert isinstance(kind, str)
    return Message(kind, (), {k: v for k, v in obj.items() if k != "type"})


class OpenAIResponsesAdapter:
    name = NAME

    def matches(self, method: str, path: str) -> bool:
        return method.upper() == "POST" and path.endswith("/responses")

    def parse(self, request: RawRequest) -> Prompt:
        p = NAME
        body = c.load_object(p, request.body)
        instructions = body.get("instructions")
        if instructions is not None:
            c.want(p, "instructions", instructions, str, list)
        if isinstance(instructions, str):
            system: tuple[Part, ...] = (Part("text", instructions),)
        else:
            system = tuple(
                c.part_from(p, f"instructions[{i}]", b)
                for i, b in enumerate(c.opt_list(p, "instructions", instructions))
            )
        given = body.get("input")
        if given is not None:
            c.want(p, "input", given, str, list)
        if isinstance(given, str):
            messages: tuple[Message, ...] = (Message("user", (Part("text", given),)),)
        else:
            messages = tuple(
                _item(p, f"input[{i}]", m) for i, m in enumerate(c.opt_list(p, "input", given))
            )
        tools = tuple(
            parse_tool(p, f"tools[{i}]", t)
            for i, t in enumerate(c.opt_list(p, "tools", body.get("tools")))
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
        resp_id = "resp_" + c.hex_id(request, "responses-resp", 48)
        item_id = "msg_" + c.hex_id(request, "responses-msg", 48)
        in_tokens = c.estimate_tokens(len(request.body))
        out_tokens = c.text_tokens(text)
        usage = {
            "input_tokens": in_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": out_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": in_tokens + out_tokens,
        }
        part_done = {"type": "output_text", "annotations": [], "logprobs": [], "text": text}
        item_done = {
            "id": item_id,
            "type": "message",
            "status": "completed",
            "content": [part_done],
            "role": "assistant",
        }

        def response(status: str, output: list[JSON], use: JSON) -> dict[str, JSON]:
            return {
                "id": resp_id,
                "object": "response",
                "created_at": int(time.time()),
                "status": status,
                "background": False,
                "error": None,
                "incomplete_details": None,
                "instructions": None,
                "max_output_tokens": None,
                "model": model,
                "output": output,
                "parallel_tool_calls": True,
                "previous_response_id": None,
                "reasoning": {"effort": None, "summary": None},
                "store": False,
                "temperature": 1.0,
                "text": {"format": {"type": "text"}, "verbosity": "medium"},
                "tool_choice": "auto",
                "tools": [],
                "top_p": 1.0,
                "truncation": "disabled",
                "usage": use,
                "user": None,
                "metadata": {},
            }

        headers = (("x-request-id", "req_" + c.hex_id(request, "responses-req", 32)),)
        if not self.wants_stream(request):
            doc = response("completed", [item_done], usage)
            return CannedReply(200, c.JSON_HEADERS + headers, (c.dumps(doc, indent=2),))

        seq = 0
        chunks: list[bytes] = []

        def ev(kind: str, data: dict[str, JSON]) -> None:
            nonlocal seq
            chunks.append(
                encode_event(kind, c.dumps_text({"type": kind, "sequence_number": seq, **data}))
            )
            seq += 1

        at = {"item_id": item_id, "output_index": 0, "content_index": 0}
        ev("response.created", {"response": response("in_progress", [], None)})
        ev("response.in_progress", {"response": response("in_progress", [], None)})
        ev(
            "response.output_item.added",
            {
                "output_index": 0,
                "item": {
                    "id": item_id,
                    "type": "message",
                    "status": "in_progress",
                    "content": [],
                    "role": "assistant",
                },
            },
        )
        ev(
            "response.content_part.added",
            {**at, "part": {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}},
        )
        for piece in c.split_text(text):
            ev("response.output_text.delta", {**at, "delta": piece, "logprobs": []})
        ev("response.output_text.done", {**at, "text": text, "logprobs": []})
        ev("response.content_part.done", {**at, "part": part_done})
        ev("response.output_item.done", {"output_index": 0, "item": item_done})
        ev("response.completed", {"response": response("completed", [item_done], usage)})
        return CannedReply(200, c.SSE_HEADERS + headers, tuple(chunks), stream=True)

    def rebuild(self, status: int, headers: tuple[tuple[str, str], ...], body: bytes) -> Answer:
        if c.looks_like_sse(headers, body):
            return _rebuild_stream(status, body)
        value = c.loads(body)
        if status >= 400 or (isinstance(value, dict) and value.get("error")):
            return Answer(NAME, error=c.http_error(NAME, status, body))
        if not isinstance(value, dict):
            return Answer(NAME, error=c.truncated_json(body), complete=False)
        state = _State()
        state.response(value)
        return state.answer(complete=True)


@dataclass
class _Item:
    kind: str
    text: dict[int, list[str]] = field(default_factory=dict)
    call_id: str | None = None
    name: str = ""
    args: list[str] = field(default_factory=list)


@dataclass
class _State:
    items: dict[int, _Item] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    model: str | None = None
    stop_reason: str | None = None
    usage: dict[str, JSON] = field(default_factory=dict)
    error: str | None = None

    def index(self, data: dict[str, JSON]) -> int | None:
        i = data.get("output_index")
        if isinstance(i, int) and not isinstance(i, bool):
            return i
        item_id = data.get("item_id")
        return self.ids.get(item_id) if isinstance(item_id, str) else None

    def item(self, index: int, item: JSON) -> None:
        """An item as given whole (``output_item.added``/``.done``, a final response)."""
        if not isinstance(item, dict):
            return
        kind = c.str_or_none(item.get("type")) or "?"
        it = self.items.get(index)
        if it is None or it.kind != kind:
            it = self.items[index] = _Item(kind)
        if isinstance(item.get("id"), str):
            self.ids[item["id"]] = index
        if kind == "message" and isinstance(item.get("content"), list):
            for j, part in enumerate(item["content"]):
                if (
                    isinstance(part, dict)
                    and isinstance(part.get("text"), str)
                    and part.get("type") == "output_text"
                ):
                    it.text[j] = [part["text"]]
        elif kind == "function_call" or "arguments" in item:
            it.call_id = c.str_or_none(item.get("call_id")) or it.call_id
            it.name = c.str_or_none(item.get("name")) or it.name
            if isinstance(item.get("arguments"), str) and item["arguments"]:
                it.args = [item["arguments"]]

    def response(self, resp: JSON) -> None:
        if not isinstance(resp, dict):
            return
        self.model = c.str_or_none(resp.get("model")) or self.model
        self.stop_reason = c.str_or_none(resp.get("status")) or self.stop_reason
        if isinstance(resp.get("usage"), dict):
            self.usage = dict(resp["usage"])
        if resp.get("error"):
            self.error = c.error_text(resp["error"])
        output = resp.get("output")
        if isinstance(output, list) and output:
            for i, item in enumerate(output):
                self.item(i, item)

    def answer(self, complete: bool, error: str | None = None) -> Answer:
        text: list[str] = []
        calls: list[ToolCall] = []
        for _, it in sorted(self.items.items()):
            if it.kind == "message":
                for _, pieces in sorted(it.text.items()):
                    text.extend(pieces)
            elif it.name or it.args:
                calls.append(ToolCall(it.call_id, it.name, "".join(it.args)))
        return Answer(
            NAME,
            text="".join(text),
            tool_calls=tuple(calls),
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
        data = c.loads(ev.data)
        if not isinstance(data, dict):
            continue
        kind = c.str_or_none(data.get("type")) or ev.event or ""
        i = state.index(data)
        if kind in ("response.created", "response.in_progress"):
            state.response(data.get("response"))
        elif kind in ("response.output_item.added", "response.output_item.done"):
            if i is not None:
                state.item(i, data.get("item"))
        elif kind == "response.output_text.delta" and i is not None:
            it = state.items.setdefault(i, _Item("message"))
            j = data.get("content_index", 0)
            if isinstance(data.get("delta"), str) and isinstance(j, int):
                it.text.setdefault(j, []).append(data["delta"])
        elif kind == "response.output_text.done" and i is not None:
            it = state.items.setdefault(i, _Item("message"))
            j = data.get("content_index", 0)
            if isinstance(data.get("text"), str) and isinstance(j, int):
                it.text[j] = [data["text"]]
        elif kind == "response.function_call_arguments.delta" and i is not None:
            it = state.items.setdefault(i, _Item("function_call"))
            if isinstance(data.get("delta"), str):
                it.args.append(data["delta"])
        elif kind == "response.function_call_arguments.done" and i is not None:
            it = state.items.setdefault(i, _Item("function_call"))
            if isinstance(data.get("arguments"), str):
                it.args = [data["arguments"]]
        elif kind in _TERMINAL:
            if kind == "error":
                state.error = c.error_text(data.get("error", data))
            else:
                state.response(data.get("response"))
                if kind == "response.failed" and state.error is None:
                    state.error = "response failed"
            done = done or ev.complete
    if status >= 400 and state.error is None:
        state.error = c.http_error(NAME, status, body)
    if done:
        return state.answer(complete=True)
    return state.answer(complete=False, error="truncated stream: no response.completed event")


register(OpenAIResponsesAdapter())
