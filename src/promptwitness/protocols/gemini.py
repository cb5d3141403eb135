"""Gemini API: ``POST /v1beta/models/{model}:generateContent`` and
``:streamGenerateContent`` (``?alt=sse`` for SSE, else a streamed JSON array);
``/v1/`` and ``/v1alpha/`` work the same. The model comes from the path.

Rules:
- ``systemInstruction.parts`` → ``Prompt.system``; its other fields (``role``) are
  kept in ``params["systemInstruction"]``.
- ``contents`` → messages (a missing role is the empty string); each part becomes a
  Part whose type is ``text`` for a text part, else its data field's name
  (``functionCall``, ``functionResponse``, ``inlineData`` ...); every field but the
  text stays in ``extra``.
- ``tools[].functionDeclarations[]``: each declaration is one Tool (``parameters``
  or ``parametersJsonSchema`` → schema); any other tool entry (``googleSearch``,
  ``codeExecution``) is a Tool named by its key.
- ``generationConfig``'s fields are spread into ``Prompt.params`` at its place
  (a clash with a top-level field is named ``generationConfig.NAME``); every other
  top-level field but ``contents``, ``systemInstruction``, ``tools`` → ``params``.
- ``rebuild`` never raises; a stream is complete once a chunk with a
  ``finishReason`` arrived whole (SSE), or once the JSON array is closed.
"""

from __future__ import annotations

import json
import re
import urllib.parse
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
    Tool,
    ToolCall,
)
from promptwitness.protocols import common as c
from promptwitness.protocols.base import register
from promptwitness.protocols.sse import encode_event

NAME = "gemini"
DEFAULT_MODEL = "gemini-2.5-pro"
PATH = re.compile(
    r"(?:^|/)(?P<version>v1beta|v1|v1alpha)/models/(?P<model>[^/:]+)"
    r":(?P<method>generateContent|streamGenerateContent)$"
)
_MODELLED = frozenset({"contents", "systemInstruction", "tools"})
_NOT_DATA = ("thought", "thoughtSignature", "videoMetadata", "partMetadata", "mediaResolution")


def model_of(path: str) -> str | None:
    m = PATH.search(path)
    return m.group("model") if m else None


def _part(p: str, where: str, obj: JSON) -> Part:
    c.want(p, where, obj, dict)
    assert isinstance(obj, dict)
    text = obj.get("text")
    if isinstance(text, str):
        return Part("text", text, {k: v for k, v in obj.items() if k != "text"})
    kind = next((k for k in obj if k not in _NOT_DATA), "part")
    return Part(kind, None, dict(obj))


def _parts(p: str, where: str, obj: JSON) -> tuple[Part, ...]:
    return tuple(_part(p, f"{where}[{j}]", x) for j, x in enumerate(c.opt_list(p, where, obj)))


def _content(p: str, where: str, obj: JSON) -> Message:
    c.want(p, where, obj, dict)
    assert isinstance(obj, dict)
    role = obj.get("role", "")
    c.want(p, f"{where}.role", role, str)
    assert isinstance(role, str)
    parts = _parts(p, f"{where}.parts", obj.get("parts"))
    return Message(role, parts, {k: v for k, v in obj.items() if k not in ("role", "parts")})


def _declaration(p: str, where: str, obj: JSON) -> Tool:
    c.want(p, where, obj, dict)
    assert isinstance(obj, dict)
    if "name" not in obj:
        raise ParseError(f"{p}: {where} has no name")
    name = obj["name"]
    c.want(p, f"{where}.name", name, str)
    assert isinstance(name, str)
    description = obj.get("description")
    if not isinstance(description, str):
        description = None
    schema_key = next((k for k in obj if k in ("parameters", "parametersJsonSchema")), None)
    extra = {
        k: v
        for k, v in obj.items()
        if k not in ("name", schema_key) and not (k == "description" and description is not None)
    }
    return Tool(name, description, obj.get(schema_key) if schema_key else None, extra)


class GeminiAdapter:
    name = NAME

    def matches(self, method: str, path: str) -> bool:
        return method.upper() == "POST" and PATH.search(path) is not None

    def parse(self, request: RawRequest) -> Prompt:
        p = NAME
        body = c.load_object(p, request.body)
        params: dict[str, JSON] = {}
        system: tuple[Part, ...] = ()
        tools: list[Tool] = []
        messages: tuple[Message, ...] = ()
        for key, value in body.items():
            if key == "contents":
                messages = tuple(
                    _content(p, f"contents[{i}]", m)
                    for i, m in enumerate(c.opt_list(p, "contents", value))
                )
            elif key == "systemInstruction":
                if isinstance(value, str):
                    system = (Part("text", value),)
                    continue
                si = c.opt_object(p, key, value)
                system = _parts(p, "systemInstruction.parts", si.get("parts"))
                rest = {k: v for k, v in si.items() if k != "parts"}
                if rest:
                    params[key] = rest
            elif key == "tools":
                for i, t in enumerate(c.opt_list(p, "tools", value)):
                    c.want(p, f"tools[{i}]", t, dict)
                    assert isinstance(t, dict)
                    for tkey, tval in t.items():
                        if tkey == "functionDeclarations":
                            decls = c.opt_list(p, f"tools[{i}].{tkey}", tval)
                            tools += [
                                _declaration(p, f"tools[{i}].{tkey}[{j}]", d)
                                for j, d in enumerate(decls)
                            ]
                        else:
                            tools.append(Tool(tkey, None, None, {tkey: tval}))
            elif key == "generationConfig":
                for gkey, gval in c.opt_object(p, key, value).items():
                    params[f"{key}.{gkey}" if gkey in body else gkey] = gval
            else:
                params[key] = value
        return Prompt(
            protocol=p,
            model=model_of(request.path),
            stream=self.wants_stream(request),
            system=system,
            tools=tuple(tools),
            messages=messages,
            params=params,
            metadata={},
            headers=c.select_headers(request.headers),
        )

    def wants_stream(self, request: RawRequest) -> bool:
        m = PATH.search(request.path)
        return m is not None and m.group("method") == "streamGenerateContent"

    def canned(self, request: RawRequest, text: str) -> CannedReply:
        model = model_of(request.path) or DEFAULT_MODEL
        response_id = c.b64_id(request, "gemini-resp", 22)
        in_tokens = c.estimate_tokens(len(request.body))

        def doc(piece: str, done: bool, out_tokens: int) -> dict[str, JSON]:
            candidate: dict[str, JSON] = {"content": {"parts": [{"text": piece}], "role": "model"}}
            if done:
                candidate["finishReason"] = "STOP"
            candidate["index"] = 0
            return {
                "candidates": [candidate],
                "usageMetadata": {
                    "promptTokenCount": in_tokens,
                    "candidatesTokenCount": out_tokens,
                    "totalTokenCount": in_tokens + out_tokens,
                    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": in_tokens}],
                },
                "modelVersion": model,
                "responseId": response_id,
            }

        if not self.wants_stream(request):
            body = c.dumps(doc(text, True, c.text_tokens(text)), indent=2)
            return CannedReply(200, c.JSON_HEADERS, (body,))
        pieces = c.split_text(text) or [""]
        docs, sent = [], ""
        for i, piece in enumerate(pieces):
            sent += piece
            docs.append(doc(piece, i == len(pieces) - 1, c.text_tokens(sent)))
        alt = urllib.parse.parse_qs(request.query).get("alt", [])
        if "sse" in alt:
            chunks = tuple(encode_event(None, c.dumps_text(d), eol="\r\n") for d in docs)
            return CannedReply(200, c.SSE_HEADERS, chunks, stream=True)
        array = [b"[" + c.dumps(docs[0], indent=2)]
        array += [b",\r\n" + c.dumps(d, indent=2) for d in docs[1:]]
        array.append(b"]")
        return CannedReply(200, c.JSON_HEADERS, tuple(array), stream=True)

    def rebuild(self, status: int, headers: tuple[tuple[str, str], ...], body: bytes) -> Answer:
        state = _State()
        if c.looks_like_sse(headers, body):
            events, trailing = c.sse_events(body)
            done = False
            for ev in events + trailing:
                finished = state.chunk(c.loads(ev.data))
                done = done or (finished and ev.complete)
            if status >= 400 and state.error is None:
                state.error = c.http_error(NAME, status, body)
            if done:
                return state.answer(complete=True)
            return state.answer(False, "truncated stream: no chunk with a finishReason")
        if status >= 400:
            return Answer(NAME, error=c.http_error(NAME, status, body))
        docs, closed, why = _json_docs(body)
        for d in docs:
            state.chunk(d)
        if closed:
            return state.answer(complete=True)
        return state.answer(False, why)


def _json_docs(body: bytes) -> tuple[list[JSON], bool, str]:
    """The objects of a JSON object body or a (possibly cut) streamed JSON array:
    ``(objects, whole, why not whole)``."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = body[: exc.start].decode("utf-8")
    dec = json.JSONDecoder()
    ws = " \t\r\n"
    pos = len(text) - len(text.lstrip(ws))
    if text[pos : pos + 1] != "[":
        value = c.loads(body)
        if isinstance(value, dict):
            return [value], True, ""
        return [], False, c.truncated_json(body)
    pos += 1
    docs: list[JSON] = []
    while True:
        while pos < len(text) and text[pos] in ws:
            pos += 1
        if text[pos : pos + 1] == "]":
            return docs, True, ""
        if docs:
            if text[pos : pos + 1] != ",":
                return docs, False, "truncated stream: the JSON array is not closed"
            pos += 1
            while pos < len(text) and text[pos] in ws:
                pos += 1
        try:
            value, pos = dec.raw_decode(text, pos)
        except (ValueError, RecursionError):
            return docs, False, "truncated stream: the JSON array is not closed"
        docs.append(value)


@dataclass
class _State:
    text: list[str] = field(default_factory=list)
    calls: list[ToolCall] = field(default_factory=list)
    model: str | None = None
    stop_reason: str | None = None
    usage: dict[str, JSON] = field(default_factory=dict)
    error: str | None = None

    def chunk(self, d: JSON) -> bool:
        """Take one GenerateContentResponse; True when it carries a finishReason."""
        if not isinstance(d, dict):
            return False
        if "error" in d:
            self.error = c.error_text(d["error"])
            return True  # the server ends the stream after an error chunk
        self.model = c.str_or_none(d.get("modelVersion")) or self.model
        if isinstance(d.get("usageMetadata"), dict):
            self.usage = dict(d["usageMetadata"])  # cumulative: the last one counts
        block = c.dict_at(d, "promptFeedback").get("blockReason")
        if isinstance(block, str):
            self.error = f"prompt blocked: {block}"
            self.stop_reason = block
            return True
        candidate = c.dict_at(d, "candidates", 0)
        parts = c.dict_at(candidate, "content").get("parts")
        for part in parts if isinstance(parts, list) else []:
            if not isinstance(part, dict):
                continue
            if isinstance(part.get("text"), str) and part.get("thought") is not True:
                self.text.append(part["text"])
            fc = part.get("functionCall")
            if isinstance(fc, dict):
                args = c.dumps_text(fc["args"]) if "args" in fc else ""
                name = c.str_or_none(fc.get("name")) or ""
                self.calls.append(ToolCall(c.str_or_none(fc.get("id")), name, args))
        finish = c.str_or_none(candidate.get("finishReason"))
        self.stop_reason = finish or self.stop_reason
        return finish is not None

    def answer(self, complete: bool, error: str | None = None) -> Answer:
        return Answer(
            NAME,
            text="".join(self.text),
            tool_calls=tuple(self.calls),
            stop_reason=self.stop_reason,
            model=self.model,
            usage=self.usage,
            error=self.error or error,
            complete=complete,
        )


register(GeminiAdapter())
