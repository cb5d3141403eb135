"""The interface every protocol adapter implements, and the adapter registry.

Sans-IO: bytes and values only. Each adapter module registers one instance with
``register`` when it is imported; ``promptwitness.protocols`` imports them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol as _Protocol

from promptwitness.errors import ParseError
from promptwitness.model import Answer, CannedReply, Prompt, RawRequest
from promptwitness.protocols.encoding import decode_request


class Adapter(_Protocol):
    """A model API protocol: recognise, parse, answer, rebuild."""

    name: str  # "anthropic" | "openai-chat" | "openai-responses" | "gemini"

    def matches(self, method: str, path: str) -> bool:
        """True when a request with this method and path (no query) is a model call."""
        ...

    def parse(self, request: RawRequest) -> Prompt:
        """Request bytes -> Prompt. Raises ``ParseError`` for a body invalid for this protocol."""
        ...

    def wants_stream(self, request: RawRequest) -> bool:
        """True when the client asked for a streamed answer."""
        ...

    def canned(self, request: RawRequest, text: str) -> CannedReply:
        """A correct reply carrying ``text``: a full SSE event sequence as the provider
        sends it when a stream was asked for, JSON otherwise."""
        ...

    def rebuild(self, status: int, headers: tuple[tuple[str, str], ...], body: bytes) -> Answer:
        """Rebuild the answer from a response body (JSON or SSE), tolerating truncation."""
        ...


ADAPTERS: dict[str, Adapter] = {}
"""Every known protocol adapter by name, in registration (= detection) order."""


def register(adapter: Adapter) -> Adapter:
    """Add ``adapter`` to ``ADAPTERS`` (a second registration under one name replaces it)."""
    ADAPTERS[adapter.name] = adapter
    return adapter


@dataclass(frozen=True)
class ParseOutcome:
    """What ``parse_request`` says about one request.

    ``protocol`` None: not a model call. ``error`` set: a model call whose body is
    invalid for its protocol (``prompt`` is then None).
    """

    protocol: str | None
    prompt: Prompt | None
    error: str | None


def detect(method: str, path: str) -> Adapter | None:
    """The adapter for a model call with this method and path (no query), else None."""
    for adapter in ADAPTERS.values():
        if adapter.matches(method, path):
            return adapter
    return None


def parse_request(req: RawRequest) -> ParseOutcome:
    """Classify and parse one request. Never raises, whatever the bytes.

    A body sent with a ``Content-Encoding`` is decoded first (``encoding.decode_body``:
    bounded); one that cannot be decoded is an error of its protocol."""
    try:
        adapter = detect(req.method, req.path)
    except Exception as exc:  # a bug in an adapter's matcher must not lose a capture
        return ParseOutcome(None, None, f"protocol detection failed: {type(exc).__name__}: {exc}")
    if adapter is None:
        return ParseOutcome(None, None, None)
    req, coding_error = decode_request(req)
    if coding_error is not None:
        return ParseOutcome(
            adapter.name, None, f"{adapter.name}: request body cannot be decoded: {coding_error}"
        )
    try:
        return ParseOutcome(adapter.name, adapter.parse(req), None)
    except ParseError as exc:
        return ParseOutcome(adapter.name, None, str(exc))
    except Exception as exc:  # pragma: no cover - a parser bug, reported, not raised
        return ParseOutcome(
            adapter.name, None, f"{adapter.name}: parser failed: {type(exc).__name__}: {exc}"
        )


def rebuild_answer(
    protocol: str, status: int, headers: tuple[tuple[str, str], ...], body: bytes
) -> Answer:
    """The model's answer in a response of ``protocol``. Never raises."""
    adapter = ADAPTERS.get(protocol)
    if adapter is None:
        return Answer(protocol, error=f"unknown protocol {protocol!r}", complete=False)
    try:
        return adapter.rebuild(status, tuple(headers), body)
    except Exception as exc:  # pragma: no cover - a rebuild bug, reported, not raised
        return Answer(
            protocol, error=f"rebuild failed: {type(exc).__name__}: {exc}", complete=False
        )
