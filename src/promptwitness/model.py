"""The provider-neutral values every part of promptwitness speaks.

Rules:
- Frozen dataclasses only; no IO.
- A ``Prompt`` is a *view* derived from raw request bytes. It never replaces them
  (DESIGN.md: "Raw bytes are the truth").
- Text is kept exactly as decoded from the JSON body: no normalisation of any kind.
- JSON values that are not modelled (a part's extra fields, a tool's schema, params)
  are kept as parsed JSON values (``JSON``), with their key order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

JSON = Any
"""A value as returned by ``json.loads`` (dict keeps key order)."""


@dataclass(frozen=True)
class Part:
    """One piece of content: a system block, a message content part.

    ``type`` is the protocol's own name when it has one (``text``, ``image``,
    ``tool_use``, ``tool_result``, ``input_text``, ``functionCall`` ...).
    ``text`` is the part's text when it carries text, else None.
    ``extra`` holds every other field of the part as parsed JSON, in order
    (e.g. ``cache_control``, ``id``, ``input``), never the text again.
    """

    type: str
    text: str | None = None
    extra: Mapping[str, JSON] = field(default_factory=dict)


@dataclass(frozen=True)
class Message:
    """One entry of the conversation, system-role entries included."""

    role: str
    parts: tuple[Part, ...] = ()
    extra: Mapping[str, JSON] = field(default_factory=dict)


@dataclass(frozen=True)
class Tool:
    """One tool definition as offered to the model."""

    name: str
    description: str | None = None
    schema: JSON = None
    extra: Mapping[str, JSON] = field(default_factory=dict)


@dataclass(frozen=True)
class Prompt:
    """The canonical view of one model request.

    ``params``: every top-level request field that is not model, system, tools,
    messages, metadata or stream (temperature, max_tokens, tool_choice, thinking ...),
    in request order.
    ``headers``: selected request headers, lower-case names, in request order
    (credentials already replaced by fingerprints at the capture edge).
    """

    protocol: str
    model: str | None = None
    stream: bool = False
    system: tuple[Part, ...] = ()
    tools: tuple[Tool, ...] = ()
    messages: tuple[Message, ...] = ()
    params: Mapping[str, JSON] = field(default_factory=dict)
    metadata: Mapping[str, JSON] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Segment:
    """One addressed piece of a Prompt, e.g. ``tools[Bash].description``.

    ``value`` is always text: text fields verbatim, other JSON values as JSON text
    (``ensure_ascii=False``, key order kept, compact separators).
    """

    path: str
    value: str
    channel: str = "body"  # "body" | "header" | "param" | "order"


@dataclass(frozen=True)
class RawRequest:
    """A request as it arrived, for the sans-IO protocol code.

    ``target`` is the path with its query string, exactly as sent.
    ``headers`` keep order, case and duplicates.
    """

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    def header(self, name: str) -> str | None:
        low = name.lower()
        for k, v in self.headers:
            if k.lower() == low:
                return v
        return None


@dataclass(frozen=True)
class CannedReply:
    """What the sink answers: status, headers, and the body as a sequence of chunks.

    For a stream each chunk is one complete SSE event (written and flushed one at a
    time); for JSON there is exactly one chunk.
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    chunks: tuple[bytes, ...]
    stream: bool = False

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


@dataclass(frozen=True)
class ToolCall:
    """A tool call the model made in an answer."""

    id: str | None
    name: str
    arguments: str  # JSON text as the model sent it (possibly assembled from deltas)


@dataclass(frozen=True)
class Answer:
    """The model's answer rebuilt from a JSON body or an SSE stream."""

    protocol: str
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    stop_reason: str | None = None
    model: str | None = None
    usage: Mapping[str, JSON] = field(default_factory=dict)
    error: str | None = None  # an error the provider sent, or "truncated stream: ..."
    complete: bool = True  # False when a stream ended before its terminal event


@dataclass
class CapturedExchange:
    """One HTTP request and its response, as seen on the wire.

    Bodies are the exact bytes (request as received, response as sent to the client).
    ``error`` describes a transport failure (client disconnected mid-upload, upstream
    refused, reset mid-stream, timeout, truncated stream ...); the bytes received up to
    that point are still kept. Credentials are replaced *before* this object reaches
    the store (see ``capture.redact``).
    """

    method: str
    target: str  # path + query, exactly as sent
    host: str  # the Host the client addressed (header, else the listening address)
    scheme: str = "http"
    http_version: str = "1.1"
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    request_body: bytes = b""
    status: int | None = None
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    response_body: bytes = b""
    started: float = 0.0  # epoch seconds
    duration: float | None = None  # seconds until the response was complete
    mode: str = "sink"  # sink | pass-through | import
    upstream: str | None = None
    run: str | None = None
    client: str | None = None  # peer address
    error: str | None = None
    redactions: list[str] = field(default_factory=list)  # what was replaced, no values
    # A request body sent with a Content-Encoding: what was received and what is stored
    # (set by ``capture.redact``; keys in docs/architecture.md), else None
    request_coding: dict[str, Any] | None = None


def iso_time(epoch: float, timespec: str = "milliseconds") -> str:
    """ISO 8601 in UTC: ``2026-11-23T09:15:02.123Z`` (``timespec`` as for
    ``datetime.isoformat``; reports use ``"seconds"``)."""
    try:
        dt = datetime.fromtimestamp(epoch, UTC)
    except (OverflowError, OSError, ValueError):  # a nonsense clock: show the number
        return repr(epoch)
    return dt.isoformat(timespec=timespec).replace("+00:00", "Z")


@dataclass(frozen=True)
class Release:
    """One published version of an agent (npm or PyPI)."""

    version: str
    published: str | None  # ISO 8601, as the registry gives it
    yanked: bool = False
