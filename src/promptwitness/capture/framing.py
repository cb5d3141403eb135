"""Requests the HTTP parser rejects are captured too (IO edge, aiohttp's connection).

aiohttp answers a request it cannot parse (a malformed request line, a bare LF in a
header, an invalid header name, a bad chunk size, ...) with a 400 of its own, before any
handler of ours runs, so such a request used to leave no trace. And a framing error in a
*later* packet of a body being read (a bad chunk after good ones) was queued behind the
request in flight, which waited for more body until the client gave up: no answer, and
an exchange stored as "client disconnected".

:class:`FramingServer` (aiohttp's ``web.Server`` with our connection class) fixes both:

- every request the parser rejects is stored: the bytes received on the connection
  since the parser last accepted a request head (at most :data:`MAX_RAW` of them, the
  total counted), as the request body, with ``error`` = "request framing: ..." and the
  400 that was answered; the method, target and headers are read from those bytes
  leniently where they can be (so that a credential in a header is redacted like any
  other); the exchange is handed to the store writer before the 400 is written;
- a framing error while a body is being read reaches that request at once (its body
  stream fails), so the capture server answers it 400 and stores it with the error,
  and the parser's queued copy of the same error is dropped (one exchange, one answer).

This leans on two internals of aiohttp's ``RequestHandler`` (``_messages``, the queue
of parsed messages, and ``_current_request``); ``tests/integration/test_server_framing.py``
fails if a release changes them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler

from promptwitness.model import CapturedExchange

if TYPE_CHECKING:
    from promptwitness.capture.server import CaptureServer

__all__ = ["MAX_RAW", "FramingServer", "lenient_head"]

log = logging.getLogger("promptwitness.capture")

MAX_RAW = 1 << 20
"""Bytes of a rejected request kept, at most (the rest is counted)."""


def lenient_head(raw: bytes) -> tuple[str, str, str, list[tuple[str, str]]]:
    """(method, target, version, headers) read from the start of ``raw`` as far as it
    goes, with any line ending; never raises. Empty strings where nothing is there."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    lines = head.decode("latin-1").replace("\r\n", "\n").split("\n")
    parts = lines[0].split(" ") if lines else []
    method = parts[0] if parts and parts[0].isascii() and parts[0].isalpha() else ""
    target = parts[1] if method and len(parts) > 1 else ""
    version = parts[2].removeprefix("HTTP/") if method and len(parts) > 2 else ""
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep and name and name == name.strip():
            headers.append((name, value.strip(" \t\r")))
    return method, target, version, headers


class _Connection(RequestHandler):
    """aiohttp's connection handler, plus what the capture needs on framing errors."""

    def __init__(self, capture: CaptureServer, manager: web.Server, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._pw_capture = capture
        self._pw_pending: list[bytes] = []
        self._pw_pending_size = 0
        self._pw_total = 0
        self._pw_fresh = True  # the last feed emitted a message: start collecting anew
        self._pw_rejected: dict[int, tuple[bytes, int]] = {}  # id(error message) -> bytes

    def data_received(self, data: bytes) -> None:
        if self._pw_fresh:
            self._pw_pending, self._pw_pending_size, self._pw_total = [], 0, 0
            self._pw_fresh = False
        self._pw_total += len(data)
        if self._pw_pending_size < MAX_RAW:
            self._pw_pending.append(data)
            self._pw_pending_size += len(data)
        before = len(self._messages)
        super().data_received(data)
        if len(self._messages) == before:
            return
        self._pw_fresh = True
        msg, _payload = self._messages[-1]
        exc = getattr(msg, "exc", None)
        if not isinstance(exc, HttpProcessingError):
            return
        request = self._current_request
        content = None if request is None else request.content
        if content is None or content.is_eof() or content.exception() is not None:
            # a rejected request head: what arrived since the last accepted one
            raw = b"".join(self._pw_pending)[:MAX_RAW]
            self._pw_rejected[id(msg)] = (raw, self._pw_total)
            return
        # A framing error in the body of the request being read: it fails that read now
        # (the capture server answers 400 and stores the error); the queued error
        # message would only answer a second time.
        self._messages.pop()
        content.set_exception(exc)

    def log_exception(self, *args: Any, **kw: Any) -> None:
        # aiohttp logs a rejected request with its bytes (a credential among them) and a
        # traceback; it is stored, redacted, as an exchange instead: one quiet line here
        exc = kw.get("exc_info")
        if isinstance(exc, HttpProcessingError):
            log.debug("request framing error from %s: %s", self._pw_peer(), exc.code)
            return
        super().log_exception(*args, **kw)

    def _pw_peer(self) -> object:
        return None if self.transport is None else self.transport.get_extra_info("peername")

    def _make_error_handler(
        self, err_info: Any
    ) -> Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]:
        exc = getattr(err_info, "exc", None)
        raw, total = self._pw_rejected.pop(id(err_info), (b"", 0))

        async def handler(request: web.BaseRequest) -> web.StreamResponse:
            resp = self.handle_error(request, err_info.status, err_info.exc, err_info.message)
            if isinstance(exc, HttpProcessingError):
                await self._pw_capture.record_rejected(raw, total, exc, resp, self.transport)
            return resp

        return handler


class FramingServer(web.Server):
    """``web.Server`` whose connections capture what the parser rejects (see the module
    docstring)."""

    def __init__(self, capture: CaptureServer, handler: Any, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._pw_capture = capture

    def __call__(self) -> RequestHandler:
        return _Connection(self._pw_capture, self, loop=self._loop, **self._kwargs)


def rejected_exchange(
    capture: CaptureServer,
    raw: bytes,
    total: int,
    exc: HttpProcessingError,
    resp: web.StreamResponse,
    peer: str | None,
    local: str | None,
) -> CapturedExchange:
    """The exchange stored for a request the parser rejected."""
    method, target, version, headers = lenient_head(raw)
    host = next((v for k, v in headers if k.lower() == "host"), None) or local or ""
    body = resp.body if isinstance(resp, web.Response) and isinstance(resp.body, bytes) else b""
    kept = "" if total <= len(raw) else f"; the first {len(raw)} of {total} bytes are kept"
    return CapturedExchange(
        method=method,
        target=target,
        host=host,
        http_version=version or "1.1",
        request_headers=headers,
        request_body=raw,
        status=resp.status,
        response_headers=list(resp.headers.items()),
        response_body=body,
        started=time.time(),
        duration=0.0,
        mode=capture.mode,
        upstream=capture.config.upstream,
        run=capture.config.run,
        client=peer,
        error=f"request framing: {exc.message or exc}; the request is stored as the raw "
        f"bytes received since the last request head the parser accepted{kept}",
    )
