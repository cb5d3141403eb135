"""The pass-through's HTTP/1.1 client to the upstream (IO edge).

``UpstreamPool(url).request(method, target, headers, body)`` sends one request on a
kept-alive connection and returns as soon as the answer's head has arrived; its body is
then read chunk by chunk, as it arrives (``UpstreamResponse.read``).

Why not aiohttp's ``ClientSession`` (which the capture server used until 2026-12): on
the capture bench (``benchmarks/capture_bench.py``: a 100 KB request, a 12-event SSE
answer) swapping it for this client alone took the gateway's added p50 from 1.10 to
0.56 ms and its server process's CPU per request under load from ~500 to ~310 µs. The
session's per-request machinery (request and response objects, header merging, cookie
and trace hooks, a timer per read) was most of the pass-through's own Python, and cost
2-3x more with cold caches (requests that come apart). The HTTP parsing is not
hand-written: it is llhttp (Node.js's parser) through ``httptools`` (uvicorn's).

Rules:
- The request goes out as given: the request line, ``Host`` (from the upstream URL),
  then the caller's headers in their order and case; ``Content-Length`` is the caller's
  (its value corrected to the body's length) or added after them when there is a body.
  Nothing else is added. (The caller drops hop-by-hop headers.)
- The answer: status, reason and raw headers in order; the body de-framed (chunked
  encoding removed, otherwise the bytes as they came: never decompressed). Interim
  ``1xx`` answers are skipped. The answer to ``HEAD`` has no body, whatever its
  ``Content-Length`` says.
- Failures are typed: ``UpstreamConnectError`` (refused, unreachable, TLS handshake),
  ``UpstreamTimeout`` (no connection, or no byte for ``timeout`` seconds while one is
  awaited; not while the reader is slow and reading is paused), ``UpstreamBroken``
  (reset, truncated, invalid HTTP), each with the body bytes received before it.
- Connections are reused only after an answer read to its end that allows keep-alive;
  an idle one is dropped when the upstream closes it or after ``idle_timeout`` s. A
  request whose *reused* connection turns out to be closed before any byte of an answer
  is retried once on a new connection when its method is idempotent (aiohttp's rule).
- Back-pressure: while more than ``HIGH_WATER`` bytes of body wait to be read, reading
  from the upstream is paused.

Known limit: an answer framed by the end of the connection (no length, not chunked)
over TLS is taken as complete when the connection ends, whether or not the upstream
sent TLS's close_notify first: asyncio's TLS layer reports both as a plain end of
stream. Provider APIs frame their answers with a length or chunked encoding.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from typing import Literal, cast

import httptools
from yarl import URL

from promptwitness.errors import (  # re-exported
    UpstreamBroken as UpstreamBroken,
)
from promptwitness.errors import (
    UpstreamConnectError as UpstreamConnectError,
)
from promptwitness.errors import (
    UpstreamError as UpstreamError,
)
from promptwitness.errors import (
    UpstreamTimeout as UpstreamTimeout,
)

__all__ = [
    "HIGH_WATER",
    "UpstreamBroken",
    "UpstreamConnectError",
    "UpstreamError",
    "UpstreamPool",
    "UpstreamResponse",
    "UpstreamTimeout",
    "parse_upstream",
]

HIGH_WATER = 256 * 1024
"""Body bytes held for a slow reader before reading from the upstream pauses."""
_WRITE_SLICE = 1 << 20  # a large request body goes out in slices of this, with drains
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


class _Connection(asyncio.Protocol):
    """One connection to the upstream; at most one request on it at a time."""

    def __init__(self, pool: UpstreamPool) -> None:
        self.pool = pool
        self.loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self.in_use = False
        self._write_paused = False
        self._drained: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._reset_answer(head=False)

    # -- one answer's state --------------------------------------------------------

    def _reset_answer(self, head: bool) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.head_request = head
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_done = False
        self.interim = False
        self.framing: Literal["length", "chunked", "eof", "none"] = "eof"
        self.chunks: list[bytes] = []
        self.buffered = 0
        self.received = 0
        self.got_bytes = False  # any byte of an answer on this request
        self.complete = False
        self.keep_alive = False
        self.error: UpstreamError | None = None
        self.head_waiter: asyncio.Future[None] | None = None
        self.body_waiter: asyncio.Future[None] | None = None
        self.read_paused = False
        self.stray = False  # bytes after the answer: a next message nobody asked for
        self.last_data = self.loop.time()

    # -- asyncio.Protocol ----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (uvloop's transports are not subclasses of asyncio.Transport)
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if not self.in_use or self.complete:
            # Bytes nobody asked for (no request in flight, or after a complete
            # answer): the connection's framing can no longer be trusted.
            self._close()
            return
        self.got_bytes = True
        self.last_data = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if self.error is None:
                self._fail(
                    UpstreamBroken(
                        "invalid",
                        f"upstream response broken after {self.received} bytes "
                        f"(invalid HTTP: {exc})",
                        self.received,
                    )
                )
            self._close()
            return
        if self.stray:  # the answer stands; the connection's framing does not
            self.keep_alive = False

    def eof_received(self) -> bool | None:
        return False  # close the transport: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._cancel_timer()
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        self.pool._forget(self)
        if not self.in_use or self.complete or self.error is not None:
            return
        if self.head_done and self.framing == "eof" and exc is None:
            self._message_done()  # an answer framed by the end of the connection
            return
        kind: Literal["reset", "truncated"] = "reset" if exc is not None else "truncated"
        how = f" ({type(exc).__name__}: {exc})" if exc is not None else ""
        if self.head_done:
            msg = (
                f"upstream reset after {self.received} bytes of the response{how}"
                if exc is not None
                else f"upstream response truncated after {self.received} bytes (the "
                f"connection closed before the end of its {self.framing}-framed body)"
            )
        else:
            what = "reset the connection" if exc is not None else "closed the connection"
            when = (
                "before the response head was complete" if self.got_bytes else ("before answering")
            )
            msg = f"upstream {what} {when}{how}"
        self._fail(UpstreamBroken(kind, msg, self.received))

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    # -- httptools callbacks -------------------------------------------------------
    # (llhttp parses on past the end of an answer within one read: whatever follows a
    # complete answer is "stray" and changes nothing of it)

    def on_message_begin(self) -> None:
        if self.complete:
            self.stray = True

    def on_status(self, status: bytes) -> None:
        if not self.stray:
            self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.stray:
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self.stray:
            return
        status = self.parser.get_status_code()
        if 100 <= status < 200:
            if status == 101:  # we never ask to switch protocols
                self._fail(
                    UpstreamBroken(
                        "invalid",
                        "upstream answered 101 Switching Protocols, which was not asked for",
                    )
                )
                raise httptools.HttpParserError("101 Switching Protocols")
            self.interim = True  # 100 Continue, 103 Early Hints: not the answer
            return
        self.status = status
        chunked = False
        length = False
        for name, value in self.headers:
            low = name.lower()
            if low == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif low == b"content-length":
                length = True
        if self.head_request or status in (204, 304):
            self.framing = "none"
        elif chunked:
            self.framing = "chunked"
        elif length:
            self.framing = "length"
        else:
            self.framing = "eof"
        self.head_done = True
        self._wake_head()
        if self.framing == "none" and self.head_request:
            # llhttp would wait for the body that Content-Length announces: the answer
            # is complete here, and the connection is not reused (its framing is ours
            # to guess no further).
            self.keep_alive = False
            self.complete = True
            self._cancel_timer()

    def on_body(self, body: bytes) -> None:
        if self.complete or self.stray:
            return
        self.chunks.append(body)
        self.received += len(body)
        self.buffered += len(body)
        if self.buffered > HIGH_WATER and not self.read_paused and self.transport is not None:
            self.read_paused = True
            self.transport.pause_reading()
        self._wake_body()

    def on_message_complete(self) -> None:
        if self.stray:
            return
        if self.interim:
            self.interim = False
            self.reason = b""
            self.headers = []
            return
        if self.complete:
            return
        self.keep_alive = self.parser.should_keep_alive()
        self._message_done()

    # -- inside ----------------------------------------------------------------------

    def _message_done(self) -> None:
        self.complete = True
        self._cancel_timer()
        self._wake_head()
        self._wake_body()
        self._wake_drain()  # an early answer: the rest of the request body is not sent

    def _fail(self, error: UpstreamError) -> None:
        if self.error is None:
            self.error = error
        self._cancel_timer()
        self._wake_head()
        self._wake_body()
        self._wake_drain()

    def _wake_drain(self) -> None:
        d = self._drained
        if d is not None and not d.done():
            d.set_result(None)

    def _wake_head(self) -> None:
        w = self.head_waiter
        if w is not None and not w.done():
            w.set_result(None)

    def _wake_body(self) -> None:
        w = self.body_waiter
        if w is not None and not w.done():
            w.set_result(None)

    def _close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    # The read timeout: one timer per `timeout` seconds, not one per chunk. When it
    # fires it looks at the time of the last byte and either fails or sleeps on.
    def _arm(self) -> None:
        self._cancel_timer()
        self._timer = self.loop.call_at(self.last_data + self.pool.timeout, self._check)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        self._timer = None
        if not self.in_use or self.complete or self.error is not None:
            return
        if self.read_paused:  # the reader is slow, not the upstream
            self.last_data = self.loop.time()
        elif self.loop.time() - self.last_data >= self.pool.timeout:
            t = self.pool.timeout
            if self.head_done:
                msg = (
                    f"upstream timed out after {self.received} bytes of the response "
                    f"(no data for {t} s)"
                )
            else:
                msg = f"upstream {self.pool.url} did not answer within {t} s"
            self._fail(UpstreamTimeout(msg, self.received))
            self._close()
            return
        self._arm()

    # -- the request -----------------------------------------------------------------

    async def send(self, head: bytes, body: bytes | None, head_request: bool) -> None:
        """Write the request and wait for the answer's head (or fail)."""
        assert self.transport is not None
        self._reset_answer(head_request)
        self.in_use = True
        self._arm()
        t = self.transport
        if body is None or len(body) <= _WRITE_SLICE:
            t.writelines((head, body) if body else (head,))
        else:
            t.write(head)
            view = memoryview(body)
            for at in range(0, len(body), _WRITE_SLICE):
                if self.closed or self.error is not None or self.complete:
                    self.keep_alive = False  # the body was not sent whole
                    break
                t.write(view[at : at + _WRITE_SLICE])
                if self._write_paused:
                    self._drained = self.loop.create_future()
                    await self._drained
                    self._drained = None
        if not self.head_done and self.error is None:
            self.head_waiter = self.loop.create_future()
            try:
                await self.head_waiter
            finally:
                self.head_waiter = None
        if self.error is not None and not self.head_done:
            raise self.error

    async def read(self) -> bytes:
        """The body bytes that arrived since the last call (waiting for some);
        ``b""`` at the end of the answer."""
        while True:
            if self.chunks:
                data = self.chunks[0] if len(self.chunks) == 1 else b"".join(self.chunks)
                self.chunks.clear()
                self.buffered = 0
                if self.read_paused and self.transport is not None and not self.closed:
                    self.read_paused = False
                    self.last_data = self.loop.time()
                    self.transport.resume_reading()
                return data
            if self.error is not None:
                raise self.error
            if self.complete:
                return b""
            self.body_waiter = self.loop.create_future()
            try:
                await self.body_waiter
            finally:
                self.body_waiter = None

    def close_now(self) -> None:
        """The request is over and the connection with it."""
        self.in_use = False
        self._cancel_timer()
        self._close()
        self.pool._forget(self)

    def release(self) -> None:
        """The request is over: keep the connection for the next one, or close it.
        (A second call does nothing.)"""
        if not self.in_use:
            return
        self.in_use = False
        self._cancel_timer()
        if self.closed or not self.complete or not self.keep_alive or self.error is not None:
            self.close_now()
            return
        self.pool._idle(self)


class UpstreamResponse:
    """An answer whose head has arrived; read its body with ``read``, then ``release``
    (or ``close`` to drop the connection)."""

    __slots__ = ("_conn", "raw_headers", "reason", "status")

    def __init__(self, conn: _Connection) -> None:
        self._conn = conn
        self.status = conn.status
        self.reason = conn.reason.decode("latin-1")
        self.raw_headers = conn.headers
        """The answer's headers as they came: order, case and duplicates kept."""

    @property
    def received(self) -> int:
        """Body bytes received so far."""
        return self._conn.received

    @property
    def ready(self) -> bool:
        """``read`` would return at once: body bytes, the end or an error are here."""
        c = self._conn
        return bool(c.chunks) or c.complete or c.error is not None

    @property
    def done(self) -> bool:
        """The answer is complete and every byte of it has been read."""
        c = self._conn
        return c.complete and not c.chunks and c.error is None

    async def read(self) -> bytes:
        """The body bytes that arrived since the last call (waits for some); ``b""``
        once the answer is complete. Raises ``UpstreamBroken``/``UpstreamTimeout``."""
        return await self._conn.read()

    def release(self) -> None:
        self._conn.release()

    def close(self) -> None:
        self._conn.close_now()


def parse_upstream(url: str) -> URL:
    """The upstream URL, checked: ``http``/``https``, a host, an optional path prefix,
    nothing else. Raises ``ValueError`` saying what is wrong."""
    u = URL(url)
    if u.scheme not in ("http", "https") or not u.raw_host:
        raise ValueError(f"the upstream must be an http:// or https:// URL, not {url!r}")
    if u.raw_user is not None or u.raw_password is not None:
        # it would be stored with every exchange, and nothing here sends it
        raise ValueError(
            "the upstream URL must not hold credentials (user:password@); "
            "the agent's own key is forwarded as it sends it"
        )
    if u.raw_query_string or u.raw_fragment:
        raise ValueError(
            f"the upstream URL is an origin and an optional path prefix, "
            f"without ?query or #fragment: {url!r}"
        )
    return u


class UpstreamPool:
    """Kept-alive HTTP/1.1 connections to one upstream origin (``http`` or ``https``)."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 600.0,
        ssl_context: ssl.SSLContext | None = None,
        idle_timeout: float = 15.0,
        max_idle: int = 64,
    ) -> None:
        u = parse_upstream(url)
        self.url = url
        self.prefix = u.raw_path.rstrip("/")  # before every target sent (may be "")
        self.scheme = u.scheme
        self.host: str = u.raw_host or ""  # (parse_upstream made sure there is one)
        self.port = u.port or (443 if u.scheme == "https" else 80)
        name = f"[{self.host}]" if ":" in self.host else self.host
        self.host_header = (name if u.is_default_port() else f"{name}:{self.port}").encode(
            "idna" if not self.host.isascii() else "ascii"
        )
        self.timeout = timeout
        self.idle_timeout = idle_timeout
        self.max_idle = max_idle
        self._ssl = ssl_context
        self._idle_conns: list[_Connection] = []
        self._all: set[_Connection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.opened = 0  # connections opened so far (for tests and stats)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def _ssl_context(self) -> ssl.SSLContext | None:
        if self.scheme != "https":
            return None
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    async def _connect(self) -> _Connection:
        loop = self.loop
        try:
            async with asyncio.timeout(self.timeout):
                _t, conn = await loop.create_connection(
                    lambda: _Connection(self),
                    self.host,
                    self.port,
                    ssl=self._ssl_context(),
                    server_hostname=self.host if self.scheme == "https" else None,
                )
        except TimeoutError:
            raise UpstreamTimeout(
                f"upstream {self.url} did not answer within {self.timeout} s (connecting)"
            ) from None
        except (OSError, ssl.SSLError, ssl.CertificateError) as exc:
            raise UpstreamConnectError(
                f"cannot reach upstream {self.url}: {type(exc).__name__}: {exc}"
            ) from exc
        self.opened += 1
        self._all.add(conn)
        return conn

    def _acquire_idle(self) -> _Connection | None:
        now = self.loop.time()
        while self._idle_conns:
            conn = self._idle_conns.pop()
            if conn.closed or now - conn.idle_since > self.idle_timeout:
                conn._close()
                self._all.discard(conn)
                continue
            return conn
        return None

    def _idle(self, conn: _Connection) -> None:
        conn.idle_since = self.loop.time()
        self._idle_conns.append(conn)
        if len(self._idle_conns) > self.max_idle:
            old = self._idle_conns.pop(0)
            old._close()
            self._all.discard(old)

    def _forget(self, conn: _Connection) -> None:
        self._all.discard(conn)
        if conn in self._idle_conns:
            self._idle_conns.remove(conn)

    def head(
        self, method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes | None
    ) -> bytes:
        """The request's head as it goes on the wire (see the module's rules)."""
        parts = [
            f"{method} {target} HTTP/1.1\r\n".encode("latin-1"),
            b"Host: " + self.host_header + b"\r\n",
        ]
        has_length = False
        for name, value in headers:
            if "\r" in name or "\n" in name or "\r" in value or "\n" in value:
                raise ValueError(f"a header with a line break cannot be forwarded: {name!r}")
            if name.lower() == "content-length":
                if has_length:
                    continue  # one length only, the true one
                has_length = True
                value = str(len(body or b""))
            parts.append(f"{name}: {value}\r\n".encode("latin-1"))
        if body is not None and not has_length:
            parts.append(b"Content-Length: %d\r\n" % len(body))
        parts.append(b"\r\n")
        return b"".join(parts)

    async def request(
        self,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]],
        body: bytes | None,
    ) -> UpstreamResponse:
        """Send the request; return once the answer's head has arrived.

        ``target`` is the request target as it goes on the wire (origin form);
        ``headers`` without ``Host`` and hop-by-hop headers; ``body`` None for none."""
        head = self.head(method, target, headers, body)
        conn = self._acquire_idle()
        reused = conn is not None
        for attempt in (1, 2):
            if conn is None:
                conn = await self._connect()
            try:
                await conn.send(head, body, method == "HEAD")
            except UpstreamBroken:
                stale = reused and not conn.got_bytes and attempt == 1
                conn.release()
                if stale and method in _IDEMPOTENT:
                    conn, reused = None, False
                    continue
                raise
            except BaseException:
                conn.close_now()
                raise
            return UpstreamResponse(conn)
        raise AssertionError("unreachable")  # pragma: no cover

    async def close(self) -> None:
        """Close every connection, idle or in use (a request in flight fails with
        ``UpstreamBroken``, never taken for a complete answer or a stale connection)."""
        for conn in list(self._all):
            if conn.in_use and not conn.complete:
                conn.got_bytes = True  # not "stale": no retry
                conn._fail(
                    UpstreamBroken(
                        "reset",
                        f"the upstream connection was closed by the capture server "
                        f"(stopping) after {conn.received} bytes of the response",
                        conn.received,
                    )
                )
            conn._close()
        self._all.clear()
        self._idle_conns.clear()
