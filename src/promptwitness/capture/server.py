"""The capture server (IO edge): every HTTP exchange an agent makes, kept byte for byte.

Two modes, one catch-all handler for every method and path:

- **sink** (no upstream): answer with ``protocols.sink_reply`` — canned JSON, or an SSE
  stream written and flushed one event at a time;
- **pass-through** (``upstream="https://api.anthropic.com"`` or any http(s) URL, with an
  optional path prefix): forward the request (``capture.upstream``: kept-alive HTTP/1.1
  connections) and stream the answer back chunk by chunk as it arrives, failures
  included (refused → 502, timeout → 504, reset mid-stream → the client connection is
  aborted after the bytes that did arrive).

Rules:
- Raw bytes are the truth: the request body is kept exactly as received, headers keep
  their order, case and duplicates (decoded latin-1), the target is stored as sent.
  Forwarded bytes are never decompressed or rewritten; only hop-by-hop headers are
  dropped and Host is rewritten. A body sent with a ``Content-Encoding`` is decoded
  (bounded, ``protocols.encoding``) to be answered in sink mode and to be redacted;
  what is stored of it is ``capture.redact``'s rule.
- Every exchange is captured: unknown paths, invalid bodies, client disconnects,
  upstream failures, and failures of this server itself (stored with ``error``). A bad
  request never stops the server.
- Nothing slow on the request path: the finished ``CapturedExchange`` goes to the store
  writer (``capture.writer``: one thread that redacts credentials with
  ``capture.redact`` and stores batches in one transaction each; access log off;
  aiohttp sets TCP_NODELAY on every connection, so each SSE event leaves at once).
  Credentials never reach the store unredacted: an exchange that cannot be redacted
  is stored without its headers and bodies.
- Every setting and its default is one frozen ``ServerConfig``; what the owner hears
  about stored exchanges is its ``ServerHooks``.
- The writer's backlog is bounded (``max_backlog`` exchanges, ``max_backlog_bytes``):
  when it is full, a handler waits for room after answering (so the next request on
  that keep-alive connection is not read until then), which slows the client down
  instead of letting unstored exchanges pile up. Nothing is ever dropped.
  ``writer_stats()`` reports the backlog, its peak and the waits.
- ``stop()`` drains: every exchange received before it is stored when it returns.
- An answer's last bytes go out only once its exchange is committed to the store
  (``commit_before_answer``, the default): the last chunk of a stream or of an upstream's
  answer, the end of a chunked stream, a canned answer or an error's whole body, an
  empty answer's head. So an exchange whose answer the client got in full is in the
  store, even if the process is killed (``kill -9``) right after. The writer commits in
  batches (every answer waiting at that moment shares one transaction). If the client
  goes away or the server is stopped in that last moment, the store may hold an answer
  the client did not get in full (never the other way round).
- ``writer="process"`` (the gateway's choice) moves redaction and storage into one child
  process (``capture.writer_process``) with the same bounds and guarantees; exchanges
  reach it unredacted over a local socketpair, in memory only.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType
from typing import Any, Literal, Protocol, TypeVar

import aiohttp
from aiohttp import web
from aiohttp.helpers import must_be_empty_body

from promptwitness.capture.framing import FramingServer, rejected_exchange
from promptwitness.capture.redact import Redactor
from promptwitness.capture.upstream import (
    UpstreamBroken,
    UpstreamConnectError,
    UpstreamError,
    UpstreamPool,
    UpstreamResponse,
    UpstreamTimeout,
    parse_upstream,
)
from promptwitness.capture.writer import (
    DEFAULT_MAX_BACKLOG,
    DEFAULT_MAX_BACKLOG_BYTES,
    LineFormat,
    OnLines,
    StoreWriter,
    WriterStats,
)
from promptwitness.errors import CaptureError
from promptwitness.model import CannedReply, CapturedExchange, RawRequest
from promptwitness.protocols import DEFAULT_ANSWER, sink_reply

__all__ = [
    "DEFAULT_MAX_BODY",
    "HOP_BY_HOP",
    "CaptureServer",
    "ExchangeStore",
    "LoopThread",
    "OnExchange",
    "ServerConfig",
    "ServerHooks",
    "ServerThread",
    "WriterKind",
]

log = logging.getLogger("promptwitness.capture")
T = TypeVar("T")

DEFAULT_MAX_BODY = 256 * 1024 * 1024

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
"""Headers that describe one connection, not the message: never forwarded."""

# Framing is ours to decide when we re-send a body (content-length is set from the
# bytes actually written, or chunked encoding is used for streams).
_FRAMING = HOP_BY_HOP | {"content-length"}
# Expect: 100-continue is answered by this server before the body is read; forwarding
# it would make the upstream wait for a body we already hold.
_NOT_FORWARDED = HOP_BY_HOP | {"expect"}


class ExchangeStore(Protocol):
    """What the server needs from ``promptwitness.store.Store``."""

    def add(self, ex: CapturedExchange) -> int: ...

    def salt(self) -> bytes: ...


OnExchange = Callable[[int, CapturedExchange], None]

WriterKind = Literal["thread", "process"]


@dataclass(frozen=True)
class ServerConfig:
    """What a ``CaptureServer`` answers and how it stores: every setting and its default,
    in one place. Checked when made (``CaptureError``)."""

    upstream: str | None = None
    """None: sink mode. An http(s) URL, with an optional path prefix: pass-through
    (kept without its trailing ``/``)."""
    run: str | None = None
    """The store run every exchange belongs to."""
    answer_text: str = DEFAULT_ANSWER
    """Sink: the text of the protocols' canned model answers."""
    answers: Mapping[tuple[str, str], CannedReply] = field(default_factory=dict)
    """Sink: fixed answers by (METHOD or ``"*"``, path), tried before the protocols'
    canned replies (what an agent's own settings endpoints must say, from its profile)."""
    fallback: CannedReply | None = None
    """Sink: the answer instead of the 404 for paths no protocol knows."""
    upstream_timeout: float = 600.0
    """Pass-through: seconds to connect, and between two reads of the upstream."""
    upstream_ssl: ssl.SSLContext | None = None
    """Pass-through: the TLS context for an https upstream (None: the default one)."""
    max_body: int = DEFAULT_MAX_BODY
    """Request body bytes kept, at most (a larger one is answered 413, its start kept)."""
    shutdown_timeout: float = 5.0
    """``stop``: seconds the requests in flight get to finish before they are cancelled."""
    max_backlog: int = DEFAULT_MAX_BACKLOG
    """Exchanges received but not yet stored, at most (then handlers wait)."""
    max_backlog_bytes: int = DEFAULT_MAX_BACKLOG_BYTES
    """Their bodies' bytes, at most."""
    writer: WriterKind = "thread"
    """Where redaction and storage run: a thread of this process, or a child
    ``"process"`` (``capture.writer_process``; the gateway's choice)."""
    commit_before_answer: bool = True
    """An answer's last bytes wait for its exchange's commit (False: stored after
    answering, as soon as the writer gets to it; a kill may lose it)."""

    def __post_init__(self) -> None:
        if self.writer not in ("thread", "process"):
            raise CaptureError(f"the store writer is 'thread' or 'process', not {self.writer!r}")
        if self.upstream is not None:
            try:
                parse_upstream(self.upstream)
            except ValueError as exc:
                raise CaptureError(str(exc)) from None
            object.__setattr__(self, "upstream", self.upstream.rstrip("/"))
        for name in ("max_body", "max_backlog", "max_backlog_bytes"):
            if getattr(self, name) < 1:
                raise CaptureError(f"{name} must be at least 1, not {getattr(self, name)}")
        for name in ("upstream_timeout", "shutdown_timeout"):
            if not getattr(self, name) > 0:
                raise CaptureError(f"{name} must be more than 0 seconds, not {getattr(self, name)}")
        object.__setattr__(self, "answers", MappingProxyType(dict(self.answers)))


class ServerHooks(Protocol):
    """What the owner of a ``CaptureServer`` hears about stored exchanges.

    Both are called from the store writer's thread (never the event loop's), after each
    stored batch; an exception they raise is logged, never raised. Either may be None
    (a class attribute ``on_exchange = None`` will do): then nothing is made or sent
    back for it, which matters with ``writer="process"``, whose child sends each
    redacted exchange back only for ``on_exchange``.
    """

    @property
    def on_exchange(self) -> OnExchange | None:
        """``on_exchange(id, exchange)`` for each stored exchange (redacted)."""

    @property
    def on_lines(self) -> OnLines | None:
        """``on_lines(lines)`` once per stored batch, with ``line_format(id, exchange)``
        of each stored exchange (redacted). A gateway that only prints wants this one:
        with ``writer="process"`` the lines are made in the writer process and nothing
        else comes back."""

    @property
    def line_format(self) -> LineFormat | None:
        """How ``on_lines`` wants a stored exchange as a line (needed with it; ``serve``:
        ``report.lines.exchange_line``). A module-level function, so that the writer
        process can run it (a class attribute holds it as ``staticmethod(f)``)."""


def _json_body(kind: str, message: str) -> bytes:
    return json.dumps({"error": {"type": kind, "message": message}}).encode()


def _address(addr: object) -> str | None:
    if isinstance(addr, tuple) and len(addr) >= 2:
        host, port = str(addr[0]), addr[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if addr:
        return str(addr)
    return None


def _origin_form(target: str) -> str:
    """The path and query of a request target (absolute-form when sent to a proxy)."""
    if target.startswith("/"):
        return target
    if "://" in target:
        rest = target.split("://", 1)[1]
        slash = rest.find("/")
        query = rest.find("?")
        if slash == -1 or (query != -1 and query < slash):
            return "/" + (rest[query:] if query != -1 else "")
        return rest[slash:]
    return "/"  # "*" (OPTIONS *) and anything unexpected


@dataclass
class _Flight:
    """One exchange in progress: the record, the response object and the bytes sent."""

    ex: CapturedExchange
    t0: float
    resp: web.StreamResponse | None = None
    sent: list[bytes] = field(default_factory=list)
    sent_size: int = 0
    handed_over: bool = False  # ``ex`` is with the store writer (``_hand_over``)

    def prepared(self) -> bool:
        return self.resp is not None and self.resp.prepared


class CaptureServer:
    """The capture server. ``async with CaptureServer(store) as srv`` or ``start``/``stop``.

    ``CaptureServer(store, ServerConfig(...), redactor=..., hooks=...)``: what it
    answers and how it stores is the frozen ``config``; ``redactor`` (default: one with
    the store's salt) replaces credentials before anything is stored; ``hooks`` hears
    about stored exchanges (``ServerHooks``).

    ``start`` may be called more than once to listen on several addresses (or on sockets
    handed over by the sandbox, ``sock=``); ``stop`` closes them all.
    """

    def __init__(
        self,
        store: ExchangeStore,
        config: ServerConfig | None = None,
        *,
        redactor: Redactor | None = None,
        hooks: ServerHooks | None = None,
    ) -> None:
        self.config = config if config is not None else ServerConfig()
        self.store = store
        self.redactor = redactor if redactor is not None else Redactor(store.salt())
        self.hooks = hooks
        self._runner: web.ServerRunner | None = None
        self._pool: UpstreamPool | None = None
        on_exchange = hooks.on_exchange if hooks is not None else None
        writer_cls = StoreWriter
        if self.config.writer == "process":
            from promptwitness.capture.writer_process import ProcessWriter

            writer_cls = ProcessWriter
        try:
            self._writer = writer_cls(
                store,
                self.redactor,
                max_backlog=self.config.max_backlog,
                max_backlog_bytes=self.config.max_backlog_bytes,
                # only when someone listens: the process writer then sends each redacted
                # exchange back, which costs this process's GIL
                on_stored=on_exchange,
                on_lines=hooks.on_lines if hooks is not None else None,
                line_format=hooks.line_format if hooks is not None else None,
            )
        except ValueError as exc:  # hooks the writer cannot serve
            raise CaptureError(str(exc)) from None
        self._addresses: list[tuple[str, int]] = []
        self._inflight = 0

    # -- lifecycle ------------------------------------------------------------------

    @property
    def mode(self) -> str:
        return "pass-through" if self.config.upstream is not None else "sink"

    @property
    def stored(self) -> int:
        """Exchanges written to the store so far."""
        return self._writer.stored

    @property
    def failures(self) -> list[str]:
        """What went wrong in the store writer."""
        return self._writer.failures

    @property
    def writer_crashed(self) -> str | None:
        """Why the writer process failed (the server then stores in-process), or None."""
        return getattr(self._writer, "crashed", None)

    def writer_stats(self) -> WriterStats:
        """The store writer's backlog (received, not yet stored) and work so far."""
        return self._writer.stats()

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """Every (host, port) listened on."""
        return list(self._addresses)

    async def start(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        sock: socket.socket | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> tuple[str, int]:
        """Listen on ``host:port`` (port 0: a free one), or on ``sock``; returns the
        address bound."""
        if self._runner is None:
            self._writer.start()
            if self.config.upstream is not None:
                self._pool = UpstreamPool(
                    self.config.upstream,
                    timeout=self.config.upstream_timeout,
                    ssl_context=self.config.upstream_ssl,
                )
            # aiohttp's server, whose connections also capture what its parser rejects
            server = FramingServer(
                self,
                self._handle,
                access_log=None,
                auto_decompress=False,  # keep compressed request bodies as sent
                max_line_size=1 << 20,
                max_field_size=1 << 20,
                max_headers=4096,
                handler_cancellation=False,  # finish recording after a client goes away
            )
            self._runner = web.ServerRunner(server, shutdown_timeout=self.config.shutdown_timeout)
            await self._runner.setup()
        try:
            if sock is None:
                infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
                sock = socket.create_server((host, port), family=infos[0][0])
            site = web.SockSite(self._runner, sock, ssl_context=ssl_context)
            await site.start()
        except OSError as exc:
            raise CaptureError(f"cannot listen on {host}:{port}: {exc}") from exc
        name = sock.getsockname()
        bound = (str(name[0]), int(name[1]))
        self._addresses.append(bound)
        return bound

    def protocol_factory(self) -> Callable[[], asyncio.Protocol]:
        """aiohttp's protocol factory of this server (after ``start``), for connections
        accepted elsewhere: the hermetic mode's TLS-terminated and CONNECT streams are
        handed to it with ``transport.set_protocol``."""
        if self._runner is None or self._runner.server is None:
            raise CaptureError("the capture server is not started")
        return self._runner.server

    async def record_rejected(
        self,
        raw: bytes,
        total: int,
        exc: Exception,
        resp: web.StreamResponse,
        transport: asyncio.BaseTransport | None,
    ) -> None:
        """Store a request aiohttp's parser rejected (``capture.framing``), before its
        400 goes out (committed first, like every answer, unless the server answers
        before committing)."""
        assert isinstance(exc, aiohttp.http_exceptions.HttpProcessingError)
        peer = local = None
        if transport is not None:
            peer = _address(transport.get_extra_info("peername"))
            local = _address(transport.get_extra_info("sockname"))
        ex = rejected_exchange(self, raw, total, exc, resp, peer, local)
        try:
            if self.config.commit_before_answer:
                await self._writer.commit(ex)
            else:
                await self._writer.put(ex)
        except Exception:  # noqa: BLE001 - the 400 goes out whatever the store says
            log.exception("could not store a rejected request")

    async def stop(self) -> None:
        """Stop listening, finish (or after ``shutdown_timeout`` cancel) the requests in
        flight, and return once every exchange received is stored."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        if self._writer.running:
            await self._writer.aclose()
            stats = self._writer.stats()
            log.debug("store writer stopped: %s", stats)
        self._addresses.clear()

    async def flush(self, timeout: float = 30.0) -> None:
        """Wait until no request is in flight and every finished exchange is stored."""
        if not self._writer.running:
            return  # not started, or stopped (and so drained)
        deadline = time.monotonic() + timeout
        while self._inflight:
            if time.monotonic() > deadline:
                raise CaptureError(f"{self._inflight} requests still in flight after {timeout} s")
            await asyncio.sleep(0.002)
        if not await self._writer.flush(deadline - time.monotonic()):
            raise CaptureError(f"the store writer did not catch up within {timeout} s")

    async def __aenter__(self) -> CaptureServer:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- the handler ----------------------------------------------------------------

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        self._inflight += 1
        try:
            return await self._capture(request)
        finally:
            self._inflight -= 1

    async def _capture(self, request: web.BaseRequest) -> web.StreamResponse:
        transport = request.transport
        sockname = transport.get_extra_info("sockname") if transport is not None else None
        peername = transport.get_extra_info("peername") if transport is not None else None
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers]
        host = next((v for k, v in headers if k.lower() == "host"), None)
        flight = _Flight(
            CapturedExchange(
                method=request.method,
                target=request.raw_path,
                host=host if host is not None else (_address(sockname) or ""),
                scheme="https" if request.secure else "http",
                http_version=f"{request.version.major}.{request.version.minor}",
                request_headers=headers,
                started=time.time(),
                mode=self.mode,
                upstream=self.config.upstream,
                run=self.config.run,
                client=_address(peername),
            ),
            time.monotonic(),
        )
        try:
            state = await self._read_body(request, flight)
            if state == "done":
                pass  # the client is gone, or the body's framing was broken (answered)
            elif state == "too-large":
                assert flight.ex.error is not None
                await self._send_error(request, flight, 413, "request_too_large", flight.ex.error)
            elif self.config.upstream is not None:
                await self._forward(request, flight)
            else:
                await self._sink(request, flight)
        except asyncio.CancelledError:
            flight.ex.error = flight.ex.error or (
                f"capture server stopped after {flight.sent_size} bytes of the response"
            )
            raise
        except ConnectionError:
            # The client went away while we answered (seen by aiohttp, not by _send).
            flight.ex.error = flight.ex.error or (
                f"client disconnected after {flight.sent_size} bytes of the response"
            )
        except Exception as exc:
            log.exception("capture handler failed on %s %s", request.method, request.raw_path)
            flight.ex.error = f"capture server failed: {type(exc).__name__}: {exc}"
            if not flight.prepared():
                try:
                    await self._send_error(request, flight, 500, "capture_error", flight.ex.error)
                except Exception:
                    log.debug("could not send the 500 answer", exc_info=True)
            elif request.transport is not None:
                request.transport.abort()
        finally:
            if not flight.handed_over:  # not answered in full: stored after the fact
                await self._hand_over(flight)
        return flight.resp if flight.resp is not None else web.Response(status=500)

    async def _hand_over(self, flight: _Flight, commit: bool = False) -> None:
        """The finished exchange to the store writer. Waits while the writer's backlog
        is full (back-pressure; never drops), and with ``commit`` until the exchange is
        committed."""
        ex = flight.ex
        flight.handed_over = True
        ex.duration = time.monotonic() - flight.t0
        ex.response_body = b"".join(flight.sent)
        if commit:
            # What the handler notes after this (a client gone during the last write)
            # goes to a copy: the writer's thread or process owns ``ex`` now.
            flight.ex = copy.copy(ex)
            await self._writer.commit(ex)
        else:
            await self._writer.put(ex)

    async def _read_body(self, request: web.BaseRequest, flight: _Flight) -> str:
        """Read the whole body incrementally; keep what arrived if the client goes away.

        Returns ``"ok"``, ``"too-large"`` (the first ``max_body`` bytes are kept) or
        ``"done"`` (nothing more to answer: the client is gone, or it was answered 400).
        """
        ex = flight.ex
        expected = request.headers.get("Content-Length")
        if (
            request.version >= (1, 1)
            and request.headers.get("Expect", "").lower() == "100-continue"
        ):
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in request.content.iter_any():
                if size + len(chunk) > self.config.max_body:
                    chunks.append(chunk[: self.config.max_body - size])
                    size = self.config.max_body
                    ex.error = (
                        f"request body larger than {self.config.max_body} bytes"
                        + (f" (Content-Length {expected})" if expected else "")
                        + f"; the first {self.config.max_body} bytes are kept"
                    )
                    break
                chunks.append(chunk)
                size += len(chunk)
        except (web.RequestPayloadError, aiohttp.http_exceptions.HttpProcessingError) as exc:
            ex.request_body = b"".join(chunks)
            ex.error = f"invalid request body framing after {size} bytes: {exc}"
            await self._send_error(request, flight, 400, "invalid_request", ex.error)
            return "done"
        except (ConnectionError, OSError, aiohttp.ClientError) as exc:
            ex.request_body = b"".join(chunks)
            of = f" of {expected}" if expected else ""
            ex.error = f"client disconnected after {size}{of} bytes of the request body"
            log.debug("client went away during upload: %r", exc)
            return "done"
        ex.request_body = b"".join(chunks)
        return "too-large" if ex.error is not None else "ok"

    # -- sink -------------------------------------------------------------------------

    async def _sink(self, request: web.BaseRequest, flight: _Flight) -> None:
        ex = flight.ex
        raw = RawRequest(
            ex.method, _origin_form(ex.target), tuple(ex.request_headers), ex.request_body
        )
        path = raw.target.split("?", 1)[0]
        reply = self.config.answers.get((ex.method, path)) or self.config.answers.get(("*", path))
        if reply is None:
            reply = sink_reply(raw, self.config.answer_text)
            if reply.status == 404 and self.config.fallback is not None:
                reply = self.config.fallback
        resp = web.StreamResponse(status=reply.status)
        for k, v in reply.headers:
            if k.lower() not in _FRAMING:
                resp.headers.add(k, v)
        empty = must_be_empty_body(request.method, reply.status)
        if not reply.stream:
            resp.content_length = len(reply.body)
        elif request.version >= (1, 1) and not empty:
            resp.enable_chunked_encoding()
        # the head goes out with the first bytes (an empty answer's: with the end)
        resp._send_headers_immediately = False
        await self._prepare(request, flight, resp)
        chunks = [] if empty else [c for c in reply.chunks if c]
        for chunk in chunks[:-1]:
            if not await self._send(request, flight, chunk):
                return
        # the last event (or the whole JSON answer) with the end, after the commit
        await self._finish(request, flight, chunks[-1] if chunks else b"")

    # -- pass-through -----------------------------------------------------------------

    async def _forward(self, request: web.BaseRequest, flight: _Flight) -> None:
        assert self._pool is not None and self.config.upstream is not None
        ex = flight.ex
        # Host comes from the upstream URL (first); the client's own is not forwarded.
        headers = [
            (k, v)
            for k, v in ex.request_headers
            if k.lower() not in _NOT_FORWARDED and k.lower() != "host"
        ]
        body = ex.request_body
        has_body = bool(body) or any(k.lower() == "content-length" for k, _ in ex.request_headers)
        try:
            up = await self._pool.request(
                ex.method,
                self._pool.prefix + _origin_form(ex.target),
                headers,
                body if has_body else None,
            )
        except UpstreamTimeout as exc:
            ex.error = str(exc)
            await self._send_error(request, flight, 504, "upstream_timeout", str(exc))
            return
        except UpstreamConnectError as exc:
            ex.error = str(exc)
            await self._send_error(request, flight, 502, "upstream_unreachable", str(exc))
            return
        except (UpstreamError, ValueError) as exc:
            msg = f"upstream {self.config.upstream} failed before answering: {exc}"
            ex.error = msg
            await self._send_error(request, flight, 502, "upstream_error", msg)
            return
        try:
            await self._relay(request, flight, up)
        finally:
            up.release()

    async def _relay(self, request: web.BaseRequest, flight: _Flight, up: UpstreamResponse) -> None:
        resp = web.StreamResponse(status=up.status, reason=up.reason)
        length: str | None = None
        chunked = False
        for kb, vb in up.raw_headers:
            k, v = kb.decode("latin-1"), vb.decode("latin-1")
            low = k.lower()
            if low == "content-length":
                length = v
            elif low == "transfer-encoding":
                chunked = True
            if low not in _FRAMING:
                resp.headers.add(k, v)
        empty = must_be_empty_body(request.method, up.status)
        if length is not None and not chunked and length.isdigit():
            # The upstream's own framing, so the agent sees the same length (and the
            # same truncation if the upstream stops short).
            resp.content_length = int(length)
        elif request.version >= (1, 1) and not empty:
            resp.enable_chunked_encoding()
        if up.ready or empty:
            # Body bytes (or the end) are already here: the head goes out with them in
            # one write (aiohttp's own switch, off for web.Response too). Never a wait:
            # a head whose body has not arrived yet is sent at once. (An empty answer's
            # head is all of it: it goes out with the end, after the commit.)
            resp._send_headers_immediately = False
        await self._prepare(request, flight, resp)
        try:
            while chunk := await up.read():
                if up.done:  # the last bytes: with the end of the stream, in one write
                    await self._finish(request, flight, chunk)
                    return
                if not await self._send(request, flight, chunk):
                    up.close()
                    return
        except UpstreamTimeout as exc:
            flight.ex.error = str(exc)
            self._abort(request, up)
            return
        except UpstreamBroken as exc:  # reset, truncated, invalid: the message says
            flight.ex.error = str(exc)
            self._abort(request, up)
            return
        await self._finish(request, flight)

    @staticmethod
    def _abort(request: web.BaseRequest, up: UpstreamResponse) -> None:
        """Give the agent the same truncation the upstream gave us."""
        up.close()
        if request.transport is not None:
            request.transport.abort()

    # -- writing to the client ---------------------------------------------------------

    async def _prepare(
        self, request: web.BaseRequest, flight: _Flight, resp: web.StreamResponse
    ) -> None:
        flight.resp = resp
        await resp.prepare(request)
        flight.ex.status = resp.status
        flight.ex.response_headers = list(resp.headers.items())

    async def _send(self, request: web.BaseRequest, flight: _Flight, chunk: bytes) -> bool:
        """Write one chunk (flushed); False when the client has gone away."""
        assert flight.resp is not None
        if not chunk:
            return True
        flight.sent.append(chunk)
        flight.sent_size += len(chunk)
        try:
            await flight.resp.write(chunk)
        except ConnectionError as exc:
            flight.ex.error = f"client disconnected after {flight.sent_size} bytes of the response"
            log.debug("client went away during the response: %r", exc)
            return False
        return True

    async def _finish(self, request: web.BaseRequest, flight: _Flight, last: bytes = b"") -> None:
        """End the response, with ``last`` as its last bytes (one write for both); with
        ``commit_before_answer``, once the exchange is committed to the store."""
        assert flight.resp is not None
        if last:
            flight.sent.append(last)
            flight.sent_size += len(last)
        if self.config.commit_before_answer and not flight.handed_over:
            transport = request.transport
            if transport is not None and not transport.is_closing():  # else: not answered
                await self._hand_over(flight, commit=True)
        try:
            await flight.resp.write_eof(last)
        except ConnectionError:
            flight.ex.error = flight.ex.error or (
                f"client disconnected after {flight.sent_size} bytes of the response"
            )

    async def _send_error(
        self, request: web.BaseRequest, flight: _Flight, status: int, kind: str, message: str
    ) -> None:
        body = _json_body(kind, message)
        resp = web.StreamResponse(status=status)
        resp.content_type = "application/json"
        resp.content_length = len(body)
        resp._send_headers_immediately = False  # head and body in one write, at the end
        await self._prepare(request, flight, resp)
        await self._finish(request, flight, body if request.method != "HEAD" else b"")


class LoopThread:
    """An event loop running in a daemon thread, for callers that are not async.

    ``call(coro)`` starts the loop on first use, runs ``coro`` on it and returns its
    result; ``stop(last)`` runs ``last()`` (if the loop runs), then stops the loop, joins
    the thread and closes the loop. Safe to call ``stop`` more than once."""

    def __init__(
        self, name: str, loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    ) -> None:
        self.name = name
        self._loop_factory = loop_factory or asyncio.new_event_loop
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            loop = self._loop_factory()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            self._thread = threading.Thread(target=run, name=self.name, daemon=True)
            self._thread.start()
            ready.wait()
            self._loop = loop
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def stop(self, last: Callable[[], Coroutine[Any, Any, object]] | None = None) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            if last is not None:
                asyncio.run_coroutine_threadsafe(last(), loop).result()
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()
            self._loop = self._thread = None


class ServerThread:
    """Run a ``CaptureServer`` on its own event loop in a background thread.

    For callers that are not async (``promptwitness record`` runs the agent from the
    main thread)::

        thread = ServerThread(server)
        host, port = thread.start()
        ...
        thread.stop()   # every exchange is stored when this returns
    """

    def __init__(
        self,
        server: CaptureServer,
        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
    ) -> None:
        self.server = server
        self._loop = LoopThread("promptwitness-capture", loop_factory)

    def start(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        sock: socket.socket | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> tuple[str, int]:
        """Start the loop thread (first call) and listen; returns the bound address."""
        try:
            return self._loop.call(
                self.server.start(host, port, sock=sock, ssl_context=ssl_context)
            )
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the server (draining the writer), then the loop and its thread."""
        self._loop.stop(self.server.stop)

    def __enter__(self) -> ServerThread:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
