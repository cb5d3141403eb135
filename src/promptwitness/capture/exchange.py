"""What the capture edge hands to the store: one exchange, raw bytes and all."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
