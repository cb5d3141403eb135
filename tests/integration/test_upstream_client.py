"""``capture.upstream`` (the pass-through's HTTP/1.1 client) against a raw asyncio upstream
that the test controls byte for byte: the request on the wire, every response framing,
keep-alive and stale connections, every way an upstream can fail, back-pressure, TLS,
and a property test of the body de-framing. A selection also runs on uvloop, the
gateway's loop in production."""

from __future__ import annotations

import asyncio
import functools
import random
import re
import socket
import ssl
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
import uvloop
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptwitness.capture.tls import CertificateAuthority, server_context
from promptwitness.capture.upstream import (
    HIGH_WATER,
    UpstreamBroken,
    UpstreamConnectError,
    UpstreamError,
    UpstreamPool,
    UpstreamResponse,
    UpstreamTimeout,
)

pytestmark = pytest.mark.usefixtures("no_server_errors")


# --- the upstream ------------------------------------------------------------------------


@dataclass
class Req:
    """One request as the upstream received it (``head``: the exact bytes)."""

    head: bytes
    line: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes
    conn: int  # which connection (0: the first the upstream accepted)
    nth: int  # which request on that connection (0: the first)

    @property
    def method(self) -> bytes:
        return self.line.split(b" ")[0]

    @property
    def path(self) -> bytes:
        return self.line.split(b" ")[1]

    def header(self, name: bytes) -> bytes | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


Answer = Callable[[Req, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Upstream:
    """A raw HTTP/1.1 server: reads each request (its body by Content-Length, unless
    ``read_bodies`` is False), records it, and lets ``answer`` write whatever it likes."""

    answer: Answer
    read_bodies: bool = True
    requests: list[Req] = field(default_factory=list)
    peers: list[object] = field(default_factory=list)
    ended: int = 0  # connections on which the upstream saw the client's end (EOF)
    port: int = 0
    scheme: str = "http"
    release: asyncio.Event = field(default_factory=asyncio.Event)
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    async def start(self, tls: ssl.SSLContext | None = None) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=tls)
        self.port = self._server.sockets[0].getsockname()[1]
        self.scheme = "https" if tls is not None else "http"

    async def stop(self) -> None:
        assert self._server is not None
        self.release.set()
        self._server.close()
        for w in list(self._writers):
            w.transport.abort()
        # (not cancelled: Python 3.11's start_server logs a cancelled handler as an error)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        conn = len(self.peers)
        self.peers.append(writer.get_extra_info("peername"))
        try:
            nth = 0
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    self.ended += 1
                    return
                lines = head[:-4].split(b"\r\n")
                headers = [(k, v) for k, v in (line.split(b": ", 1) for line in lines[1:])]
                req = Req(head, lines[0], headers, b"", conn, nth)
                length = req.header(b"content-length")
                if length is not None and self.read_bodies:
                    req.body = await reader.readexactly(int(length))
                self.requests.append(req)
                await self.answer(req, reader, writer)
                if writer.is_closing():
                    return
                nth += 1
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()


def response(
    status: str,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    *,
    version: str = "HTTP/1.1",
    length: bool = True,
) -> bytes:
    """A response's bytes; ``Content-Length`` added last unless ``length`` is False."""
    hs = list(headers or [])
    if length:
        hs.append(("Content-Length", str(len(body))))
    lines = [f"{version} {status}"] + [f"{k}: {v}" for k, v in hs]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def fixed(data: bytes) -> Answer:
    """Answer every request with ``data``."""

    async def answer(req: Req, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(data)
        await w.drain()

    return answer


OK = response("200 OK", [("Content-Type", "text/plain")], b"ok")


def rst(w: asyncio.StreamWriter) -> None:
    """End the connection with a TCP reset (SO_LINGER 0, then abort)."""
    sock = w.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    w.transport.abort()


class Harness:
    """Upstreams and pools made by one test, all closed at its end."""

    def __init__(self) -> None:
        self.upstreams: list[Upstream] = []
        self.pools: list[UpstreamPool] = []

    async def upstream(
        self, answer: Answer, *, tls: ssl.SSLContext | None = None, read_bodies: bool = True
    ) -> Upstream:
        up = Upstream(answer, read_bodies=read_bodies)
        await up.start(tls)
        self.upstreams.append(up)
        return up

    def pool(
        self,
        url: str,
        *,
        timeout: float = 0.5,
        ssl_context: ssl.SSLContext | None = None,
        idle_timeout: float = 15.0,
        max_idle: int = 64,
    ) -> UpstreamPool:
        p = UpstreamPool(
            url,
            timeout=timeout,
            ssl_context=ssl_context,
            idle_timeout=idle_timeout,
            max_idle=max_idle,
        )
        self.pools.append(p)
        return p

    async def aclose(self) -> None:
        for p in self.pools:
            await p.close()
        await asyncio.sleep(0)  # aborted transports: connection_lost runs
        for u in self.upstreams:
            await u.stop()
        await asyncio.sleep(0)


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    harness = Harness()
    try:
        yield harness
    finally:
        await harness.aclose()


ON_UVLOOP: dict[str, Callable[[Harness], Awaitable[None]]] = {}


def also_on_uvloop(
    test: Callable[[Harness], Awaitable[None]],
) -> Callable[[Harness], Awaitable[None]]:
    """Run this test a second time on uvloop (``test_on_uvloop`` at the end)."""
    ON_UVLOOP[test.__name__] = test
    return test


def on_uvloop_with(test: Callable[..., Awaitable[None]], **param: object) -> None:
    """Run one case of a parametrized test on uvloop too."""
    ids = "-".join(str(v) for v in param.values())
    ON_UVLOOP[f"{test.__name__}[{ids}]"] = functools.partial(test, **param)


async def read_all(resp: UpstreamResponse) -> bytes:
    parts = []
    while data := await resp.read():
        parts.append(data)
    return b"".join(parts)


async def read_until_error(resp: UpstreamResponse) -> tuple[bytes, UpstreamError]:
    """The body bytes read before ``read`` raised, and what it raised (fails if the
    answer completes instead)."""
    parts = []
    try:
        while data := await asyncio.wait_for(resp.read(), 2):
            parts.append(data)
    except UpstreamError as exc:
        return b"".join(parts), exc
    raise AssertionError(f"the answer completed ({len(b''.join(parts))} bytes), no error")


async def read_exactly(resp: UpstreamResponse, n: int) -> bytes:
    got = b""
    while len(got) < n:
        data = await asyncio.wait_for(resp.read(), 2)
        assert data, f"the answer ended after {len(got)} of {n} bytes"
        got += data
    assert len(got) == n
    return got


async def get(
    pool: UpstreamPool, target: str = "/", method: str = "GET", body: bytes | None = None
) -> tuple[UpstreamResponse, bytes]:
    resp = await pool.request(method, target, [], body)
    data = await read_all(resp)
    resp.release()
    return resp, data


# --- 1. the request on the wire -----------------------------------------------------------


@also_on_uvloop
async def test_request_goes_out_byte_for_byte(h: Harness) -> None:
    up = await h.upstream(fixed(OK))
    pool = h.pool(up.url)
    body = '{"model":"m","text":"caf\u00e9"}'.encode()
    headers = [
        ("X-Api-Key", "k-1"),
        ("anthropic-beta", "a"),
        ("Anthropic-Beta", "b"),
        ("anthropic-beta", "a"),
        ("content-type", "application/json"),
        ("X-Empty", ""),
    ]
    resp = await pool.request("POST", "/v1/messages?beta=true&x=%2F", headers, body)
    assert await read_all(resp) == b"ok"
    resp.release()
    [req] = up.requests
    assert req.head == (
        b"POST /v1/messages?beta=true&x=%%2F HTTP/1.1\r\n"
        b"Host: 127.0.0.1:%d\r\n"
        b"X-Api-Key: k-1\r\n"
        b"anthropic-beta: a\r\n"
        b"Anthropic-Beta: b\r\n"
        b"anthropic-beta: a\r\n"
        b"content-type: application/json\r\n"
        b"X-Empty: \r\n"
        b"Content-Length: %d\r\n"
        b"\r\n" % (up.port, len(body))
    )
    assert req.body == body
    # The same head as pool.head gives, which does not connect.
    assert pool.head("POST", "/v1/messages?beta=true&x=%2F", headers, body) == req.head


async def test_callers_content_length_is_corrected_and_not_repeated(h: Harness) -> None:
    up = await h.upstream(fixed(OK))
    pool = h.pool(up.url)
    headers = [("content-length", "999"), ("X-A", "1"), ("Content-Length", "7")]
    resp = await pool.request("PUT", "/len", headers, b"abc")
    assert await read_all(resp) == b"ok"
    resp.release()
    # Too short a length, and a length on a request without a body.
    for hs, body in (([("Content-Length", "0")], b"xyz!"), ([("Content-Length", "5")], None)):
        resp = await pool.request("POST", "/after", hs, body)
        assert await read_all(resp) == b"ok"
        resp.release()
    first, second, third = up.requests
    assert first.head == (
        b"PUT /len HTTP/1.1\r\nHost: 127.0.0.1:%d\r\ncontent-length: 3\r\nX-A: 1\r\n\r\n" % up.port
    )
    assert first.body == b"abc"
    assert second.head.endswith(b"\r\nContent-Length: 4\r\n\r\n") and second.body == b"xyz!"
    assert third.head.endswith(b"\r\nContent-Length: 0\r\n\r\n") and third.body == b""
    # The upstream read each request where it ended: one connection, in step.
    assert pool.opened == 1 and [r.nth for r in up.requests] == [0, 1, 2]


async def test_no_content_length_without_a_body(h: Harness) -> None:
    up = await h.upstream(fixed(OK))
    pool = h.pool(up.url)
    resp = await pool.request("GET", "/none", [("Accept", "*/*")], None)
    assert await read_all(resp) == b"ok"
    resp.release()
    resp = await pool.request("POST", "/empty", [("Accept", "*/*")], b"")
    assert await read_all(resp) == b"ok"
    resp.release()
    none, empty = up.requests
    assert none.head == (
        b"GET /none HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: */*\r\n\r\n" % up.port
    )
    assert empty.head == (
        b"POST /empty HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: */*\r\n"
        b"Content-Length: 0\r\n\r\n" % up.port
    )


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://example.com", b"example.com"),
        ("http://example.com:80", b"example.com"),
        ("http://example.com:8080/prefix", b"example.com:8080"),
        ("http://example.com:443", b"example.com:443"),
        ("https://example.com", b"example.com"),
        ("https://example.com:443/v1", b"example.com"),
        ("https://example.com:8443", b"example.com:8443"),
        ("https://example.com:80", b"example.com:80"),
        ("http://127.0.0.1:1234", b"127.0.0.1:1234"),
        ("http://[::1]:8080", b"[::1]:8080"),
        ("http://[::1]", b"[::1]"),
        ("https://[2001:db8::1]:443", b"[2001:db8::1]"),
        ("http://bücher.example:81", b"xn--bcher-kva.example:81"),
        ("http://EXAMPLE.com", b"example.com"),
    ],
)
def test_host_header(url: str, host: bytes) -> None:
    pool = UpstreamPool(url)
    head = pool.head("GET", "/x", [("A", "1")], None)
    assert head == b"GET /x HTTP/1.1\r\nHost: " + host + b"\r\nA: 1\r\n\r\n"
    assert pool.opened == 0


@pytest.mark.parametrize(
    "header",
    [
        ("X-Evil", "a\r\nX-Injected: 1"),
        ("X-Evil", "a\nX-Injected: 1"),
        ("X-Evil", "a\r"),
        ("X-Evil\r\nX-Injected", "1"),
        ("X-Evil\n", "1"),
    ],
)
async def test_line_break_in_a_header_is_refused(header: tuple[str, str]) -> None:
    pool = UpstreamPool(f"http://127.0.0.1:{closed_port()}", timeout=0.5)
    with pytest.raises(ValueError, match="line break"):
        pool.head("GET", "/", [("A", "1"), header], None)
    # request() refuses it before connecting (the port is closed: a connection attempt
    # would raise UpstreamConnectError instead).
    with pytest.raises(ValueError, match="line break"):
        await pool.request("GET", "/", [header], b"x")
    assert pool.opened == 0
    await pool.close()


@pytest.mark.parametrize("url", ["ftp://example.com", "http://", "example.com", "/path"])
def test_url_must_be_http(url: str) -> None:
    with pytest.raises(ValueError, match="http"):
        UpstreamPool(url)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://user:secret@api.example", "credentials"),
        ("https://user@api.example", "credentials"),
        ("https://api.example/v1?key=x", "query"),
        ("https://api.example/v1#frag", "query"),
    ],
)
def test_url_with_credentials_or_a_query_is_refused(url: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        UpstreamPool(url)
    UpstreamPool(
        url.split("?")[0].split("#")[0].replace("user:secret@", "").replace("user@", "")
    )  # the same URL without them is fine


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- 2. response framings -----------------------------------------------------------------


@also_on_uvloop
async def test_content_length_answer(h: Harness) -> None:
    body = b'{"id":"msg_1","text":"\xe2\x80\x99"}'
    up = await h.upstream(
        fixed(
            response(
                "201 Created Here",
                [
                    ("Content-Type", "application/json"),
                    ("X-Dup", "a"),
                    ("x-dup", "b"),
                    ("Set-Cookie", "s=1; Path=/"),
                    ("X-Empty", ""),
                ],
                body,
            )
        )
    )
    pool = h.pool(up.url)
    resp = await pool.request("GET", "/", [], None)
    assert (resp.status, resp.reason) == (201, "Created Here")
    assert resp.raw_headers == [
        (b"Content-Type", b"application/json"),
        (b"X-Dup", b"a"),
        (b"x-dup", b"b"),
        (b"Set-Cookie", b"s=1; Path=/"),
        (b"X-Empty", b""),
        (b"Content-Length", str(len(body)).encode()),
    ]
    assert await read_all(resp) == body
    assert resp.received == len(body)
    assert await resp.read() == b""  # and again
    resp.release()
    # Read to its end, keep-alive: reused.
    _, data = await get(pool)
    assert data == body and pool.opened == 1 and len(up.peers) == 1


@also_on_uvloop
async def test_chunked_answer_streams_without_buffering(h: Harness) -> None:
    first, second = b"event: a\ndata: 1\n\n", b"event: b\ndata: 2\n\n"

    async def answer(req: Req, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(response("200 OK", [("Transfer-Encoding", "chunked")], length=False) + chunk(first))
        await w.drain()
        # The second chunk only once the test has read the first: a client that
        # buffered the body would never return the first.
        await asyncio.wait_for(up.release.wait(), 2)
        up.release.clear()
        w.write(chunk(second[:5]))
        await w.drain()
        await asyncio.sleep(0.01)
        w.write(chunk(second[5:]) + b"0\r\n\r\n")
        await w.drain()

    up = await h.upstream(answer)
    pool = h.pool(up.url)
    resp = await pool.request("GET", "/stream", [], None)
    assert resp.status == 200
    assert await asyncio.wait_for(resp.read(), 1) == first
    assert resp.received == len(first)
    up.release.set()
    assert await read_all(resp) == second
    assert resp.received == len(first) + len(second)
    resp.release()
    up.release.set()  # the second request does not wait
    _, data = await get(pool, "/again")
    assert data == first + second
    assert pool.opened == 1


@pytest.mark.parametrize("version", ["HTTP/1.1", "HTTP/1.0"])
async def test_answer_framed_by_the_end_of_the_connection(h: Harness, version: str) -> None:
    async def answer(req: Req, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(response("200 OK", [("Content-Type", "text/plain")], version=version, length=False))
        for piece in (b"no ", b"length, ", b"no chunks"):
            await asyncio.sleep(0.005)
            w.write(piece)
            await w.drain()
        w.close()

    up = await h.upstream(answer)
    pool = h.pool(up.url)
    for n in (1, 2):
        resp = await pool.request("GET", "/", [], None)
        assert await asyncio.wait_for(read_all(resp), 1) == b"no length, no chunks"
        resp.release()
        assert pool.opened == n  # never reused
    assert [r.conn for r in up.requests] == [0, 1]


async def test_answer_to_head_has_no_body(h: Harness) -> None:
    async def answer(req: Req, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        # The length of the body a GET would have; the connection stays open.
        w.write(
            response(
                "200 OK", [("Content-Type", "text/html"), ("Content-Length", "1234")], length=False
            )
        )
        await w.drain()

    up = await h.upstream(answer)
    pool = h.pool(up.url, timeout=5)
    t0 = time.monotonic()
    resp = await asyncio.wait_for(pool.request("HEAD", "/", [], None), 1)
    assert resp.status == 200
    assert (b"Content-Length", b"1234") in resp.raw_headers
    assert await asyncio.wait_for(resp.read(), 1) == b""
    assert time.monotonic() - t0 < 0.5  # at once, not after a timeout
    resp.release()
    resp = await asyncio.wait_for(pool.request("HEAD", "/", [], None), 1)
    assert await asyncio.wait_for(resp.read(), 1) == b""
    resp.release()
    assert pool.opened == 2 and [r.conn for r in up.requests] == [0, 1]  # not reused


@pytest.mark.parametrize(
    "answer",
    [
        response("204 No Content", [("X-A", "1")], length=False),
        response("304 Not Modified", [("ETag", '"v1"'), ("Content-Length", "42")], length=False),
    ],
    ids=["204", "304"],
)
async def test_no_body_statuses(h: Harness, answer: bytes) -> None:
    up = await h.upstream(fixed(answer))
    pool = h.pool(up.url, timeout=5)
    for _ in range(3):
        resp = await asyncio.wait_for(pool.request("GET", "/", [], None), 1)
        assert resp.status in (204, 304)
        assert await asyncio.wait_for(resp.read(), 1) == b""
        resp.release()
    assert pool.opened == 1  # complete answers: the connection is reused


@pytest.mark.parametrize("apart", [False, True], ids=["together", "apart"])
async def test_interim_answers_are_skipped(h: Harness, apart: bool) -> None:
    parts = [
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n",
        response("200 Fine", [("X-Final", "1")], b"body"),
    ]

    async def answer(req: Req, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        if not apart:
            w.write(b"".join(parts))
        for p in parts if apart else []:
            w.write(p)
            await w.drain()
            await asyncio.sleep(0.01)
        await w.drain()

    up = await h.upstream(answer)
    pool = h.pool(up.url)
    for _ in range(2):
        resp = await pool.request("POST", "/", [("Expect", "100-continue")], b"data")
        assert (resp.status, resp.reason) == (200, "Fine")
        assert resp.raw_headers == [(b"X-Final", b"1"), (b"Content-Length", b"4")]
        assert await read_all(resp) == b"body"
        resp.release()
    assert pool.opened == 1


async def test_101_switching_protocols_is_invalid(h: Harness) -> None:
    async def answer(req: Req, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        if req.path == b"/switch":
            w.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\n\r\n\x81\x05hello"
            )
        else:
            w.write(OK)
        await w.drain()

    up = await h.upstream(answer)
    pool = h.pool(up.url)
    with pytest.raises(UpstreamBroken) as err:
        await pool.request("GET", "/switch", [], None)
    assert err.value.kind == "invalid"
    _, data = await get(pool, "/next")
    assert data == b"ok" and pool.opened == 2


async def test_101_error_says_why(h: Harness) -> None:
    up = await h.upstream(fixed(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"))
    pool = h.pool(up.url)
    with pytest.raises(UpstreamBroken, match="101"):
        await pool.request("GET", "/", [], None)


# --- 3. keep-alive --------------------------------------------------------------------------


@also_on_uvloop
async def test_sequential_requests_share_one_connection(h: Harness) -> None:
    async def answer(req: Req, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(response("200 OK", [], req.path + b"|" + req.body))
        await w.drain()

    up = await h.upstream(answer)
    pool = h.pool(up.url)
    for i in range(5):
        method, body = ("POST", b"%d" % i) if i % 2 else ("GET", None)
        _, data = await get(pool, f"/r{i}", method, body)
        assert data == b"/r%d|%s" % (i, body or b"")
    assert pool.opened == 1
    assert len(up.peers) == 1
    assert [(r.conn, r.nth) for r in up.requests] == [(0, i) for i in range(5)]


@pytest.mark.parametrize(
    "answer",
    [
        response("200 OK", [("Connection", "close")], b"ok"),
        response("200 OK", [], b"ok", version="HTTP/1.0"),
    ],
    ids=["connection-close", "http-1.0"],
)
async def test_no_reuse_when_the_upstream_says_so(h: Harness, answer: bytes) -> None:
    # The upstream keeps its end open: the client alone decides not to reuse.
    up = await h.upstream(fixed(answer))
    pool = h.pool(up.url)
    for n in (1, 2, 3):
        _, data = await get(pool)
        assert data == b"ok" and pool.opened == n
    assert [r.conn for r in up.requests] == [0, 1, 2]
    for _ in range(50):  # the client closed the ones it did not keep
        if up.ended >= 2:
            break
        await asyncio.sleep(0.01)
    assert up.ended >= 2


async def test_http_1_0_keep_alive_is_reused(h: Harness) -> None:
    up = await h.upstream(
        fixed(response("200 OK", [("Connection", "keep-alive")], b"ok", version="HTTP/1.0"))
    )
    pool = h.pool(up.url)
    for _ in range(3):
        _, data = await get(pool)
        assert data == b"ok"
    assert pool.opened == 1


@pytest.mark.parametrize("end", ["close", "release"])
async def test_answer_not_read_to_its_end_is_not_reused(h: Harness, end: str) -> None:
    big = bytes(range(256)) * 400  # 100 KB

    async def answer(req: Req, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        if req.path == b"/big":
            w.write(response("200 OK", [("Content-Length", str(len(big)))], length=False))
            w.write(big[:1000])
            await w.drain()
            await up.release.wait()
            w.write(big[1000:])
        else:
            w.write(OK)
        await w.drain()

    up = await h.upstream(answer)
    pool = h.pool(up.url)
    resp = await pool.request("GET", "/big", [], None)
    assert big.startswith(await resp.read())
    getattr(resp, end)()
    resp.release()  # (the capture server's pattern: close, then release in a finally)
    up.release.set()
    _, data = await get(pool, "/small")
    assert data == b"ok"
    _, data = await get(pool, "/small")
    assert pool.opened == 2 and [r.conn for r in up.requests] == [0, 1, 1]


async def test_release_twice_is_harmless(h: Harness) -> None:
    async def answer(req: Req, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.02)
        w.write(response("200 OK", [], req.path))
        await w.drain()

    up = await h.upstream(answer)
    pool = h.pool(up.url)
    resp, _ = await get(pool, "/first")
    resp.release()  # again
    got = await asyncio.wait_for(asyncio.gather(get(pool, "/a"), get(pool, "/b")), 0.5)
    assert [d for _, d in got] == [b"/a", b"/b"]
    assert pool.opened == 2


async def test_concurrent_requests_and_max_idle(h: Harness) -> None:
    async def answer(req: Req, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.02)  # both in flight at once
        w.write(response("200 OK", [], req.path))
        await w.drain()

    up = await h.upstream(answer)
    pool = h.pool(up.url, max_idle=1)
    got = await asyncio.gather(get(pool, "/a"), get(pool, "/b"))
    assert [d for _, d in got] == [b"/a", b"/b"]
    assert pool.opened == 2  # one request per connection at a time
    for _ in range(50):  # one kept, the other closed
        if up.ended:
            break
        await asyncio.sleep(0.01)
    assert up.ended == 1
    got = await asyncio.gather(get(pool, "/c"), get(pool, "/d"))
    assert [d for _, d in got] == [b"/c", b"/d"]
    assert pool.opened == 3


# --- 4. stale connections --------------------------------------------------------------------


async def test_idle_connection_closed_by_the_upstream(h: Harness) -> None:
    async def answer(req: Req, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(OK)  # keep-alive by its looks...
        await w.drain()
        if req.conn == 0:
            w.close()  # ...but the upstream closes it once idle

    up = await h.upstream(answer)
    pool = h.pool(up.url)
    _, data = await get(pool)
    assert data == b"ok"
    await asyncio.sleep(0.05)
    _, data = await get(pool)
    assert data == b"ok"
    assert pool.opened == 2
    assert [(r.conn, r.nth) for r in up.requests] == [(0, 0), (1, 0)]


def vanishing(how: str) -> Answer:
    """Answers the first request on a connection; a later one (the connection reused) is
    read and then the connection closed, unanswered."""

    async def answer(req: Req, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        if req.nth == 0:
            w.write(response("200 OK", [], b"%d" % req.conn))
            await w.drain()
        elif how == "rst":
            rst(w)
        else:
            w.close()

    return answer


@pytest.mark.parametrize("how", ["fin", "rst"])
async def test_get_on_a_stale_connection_is_retried_once(h: Harness, how: str) -> None:
    up = await h.upstream(vanishing(how))
    pool = h.pool(up.url)
    _, data = await get(pool)
    assert data == b"0"
    resp = await pool.request("GET", "/again", [("X-A", "1")], None)
    assert resp.status == 200 and await read_all(resp) == b"1"  # the new connection's
    resp.release()
    assert pool.opened == 2
    assert [(r.conn, r.nth, r.path) for r in up.requests] == [
        (0, 0, b"/"),
        (0, 1, b"/again"),
        (1, 0, b"/again"),
    ]
    assert up.requests[1].head == up.requests[2].head


async def test_stale_retry_is_only_once(h: Harness) -> None:
    async def answer(req: Req, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        if (req.conn, req.nth) == (0, 0):
            w.write(OK)
            await w.drain()
        else:
            w.close()  # every later request: read, then the connection closed

    up = await h.upstream(answer)
    pool = h.pool(up.url)
    await get(pool)
    with pytest.raises(UpstreamBroken, match="before answering") as err:
        await pool.request("GET", "/again", [], None)
    assert err.value.kind == "truncated"
    assert [(r.conn, r.path) for r in up.requests] == [(0, b"/"), (0, b"/again"), (1, b"/again")]
    assert pool.opened == 2


@pytest.mark.parametrize("how", ["fin", "rst"])
async def test_post_on_a_stale_connection_is_not_retried(h: Harness, how: str) -> None:
    up = await h.upstream(vanishing(how))
    pool = h.pool(up.url)
    _, data = await get(pool)
    assert data == b"0"
    with pytest.raises(UpstreamBroken) as err:
        await pool.request("POST", "/create", [], b"payload")
    assert err.value.kind == ("reset" if how == "rst" else "truncated")
    assert err.value.received == 0
    assert "before answering" in str(err.value)
    assert [r.body for r in up.requests if r.method == b"POST"] == [b"payload"]  # one
    assert pool.opened == 1
    _, data = await get(pool)  # and the pool goes on
    assert data == b"1" and pool.opened == 2


async def test_idle_connection_expires(h: Harness) -> None:
    up = await h.upstream(fixed(OK))
    pool = h.pool(up.url, idle_timeout=0.05)
    await get(pool)
    await get(pool)
    assert pool.opened == 1
    await asyncio.sleep(0.1)
    await get(pool)
    assert pool.opened == 2
    assert [r.conn for r in up.requests] == [0, 0, 1]
    for _ in range(50):  # the expired one was closed
        if up.ended:
            break
        await asyncio.sleep(0.01)
    assert up.ended == 1


# --- 5. failures --------------------------------------------------------------------------


async def test_refused(h: Harness) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    pool = h.pool(url)
    with pytest.raises(UpstreamConnectError, match=re.escape(url)):
        await pool.request("GET", "/", [], None)
    assert pool.opened == 0


async def test_connect_times_out() -> None:
    # A TCP listener that accepts and never says a word: the TLS handshake, part of
    # connecting, never completes (deterministic on any kernel, unlike a full backlog).
    accepted: list[asyncio.StreamWriter] = []

    async def mute(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        accepted.append(w)

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        pool = UpstreamPool(f"https://127.0.0.1:{port}", timeout=0.2)
        t0 = time.monotonic()
        with pytest.raises(UpstreamTimeout, match=r"within 0\.2 s \(connecting\)"):
            await pool.request("GET", "/", [], None)
        assert 0.15 <= time.monotonic() - t0 < 0.6
        assert pool.opened == 0 and len(accepted) == 1
        await pool.close()
    finally:
        for w in accepted:
            w.transport.abort()
        server.close()
        await server.wait_closed()


async def test_no_answer_times_out(h: Harness) -> None:
    async def answer(req: Req, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        if req.conn == 0:
            await up.release.wait()  # never, during the test
        else:
            w.write(OK)
            await w.drain()

    up = await h.upstream(answer)
    pool = h.pool(up.url, timeout=0.2)
    t0 = time.monotonic()
    with pytest.raises(UpstreamTimeout, match=r"did not answer within 0\.2 s") as err:
        await pool.request("GET", "/", [], None)
    assert 0.15 <= time.monotonic() - t0 < 0.6
    assert err.value.received == 0
    _, data = await get(pool)
    assert data == b"ok" and pool.opened == 2


@also_on_uvloop
async def test_body_that_stalls_times_out(h: Harness) -> None:
    async def answer(req: Req, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        if req.conn == 0:
            w.write(response("200 OK", [("Content-Length", "1000")], length=False))
            for _ in range(3):  # 300 bytes, each well within the timeout...
                await asyncio.sleep(0.1)
                w.write(b"x" * 100)
                await w.drain()
            await up.release.wait()  # ...then nothing
        else:
            w.write(OK)
            await w.drain()

    up = await h.upstream(answer)
    pool = h.pool(up.url, timeout=0.2)
    resp = await pool.request("GET", "/", [], None)
    t0 = time.monotonic()
    data, err = await read_until_error(resp)
    assert isinstance(err, UpstreamTimeout)
    assert data == b"x" * 300 and err.received == 300
    assert "timed out after 300 bytes" in str(err)
    assert 0.45 <= time.monotonic() - t0 < 1.0  # 0.3 s of bytes, then 0.2 s without
    resp.close()
    _, data = await get(pool)
    assert data == b"ok" and pool.opened == 2


FRAMED: dict[str, tuple[bytes, Callable[[bytes], bytes]]] = {
    "length": (response("200 OK", [("Content-Length", "1000")], length=False), bytes),
    "chunked": (response("200 OK", [("Transfer-Encoding", "chunked")], length=False), chunk),
    "eof": (response("200 OK", [("Content-Type", "text/plain")], length=False), bytes),
}


@pytest.mark.parametrize("framing", ["length", "chunked", "eof"])
async def test_reset_mid_body(h: Harness, framing: str) -> None:
    head, frame = FRAMED[framing]

    async def answer(req: Req, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        if req.conn == 0:
            w.write(head + frame(b"a" * 120) + frame(b"b" * 180))
            await w.drain()
            await asyncio.wait_for(up.release.wait(), 2)  # the test has read them
            rst(w)
        else:
            w.write(OK)
            await w.drain()

    up = await h.upstream(answer)
    pool = h.pool(up.url)
    resp = await pool.request("GET", "/", [], None)
    assert await read_exactly(resp, 300) == b"a" * 120 + b"b" * 180
    up.release.set()
    data, err = await read_until_error(resp)
    assert data == b""
    assert isinstance(err, UpstreamBroken) and err.kind == "reset"
    assert err.received == 300 and "300 bytes" in str(err)
    resp.close()
    _, data = await get(pool)
    assert data == b"ok" and pool.opened == 2


@pytest.mark.parametrize("framing", ["length", "chunked"])
async def test_clean_close_mid_body_is_truncation(h: Harness, framing: str) -> None:
    head, frame = FRAMED[framing]

    async def answer(req: Req, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        if req.conn == 0:
            # (chunked: the last chunk announced, 0x100 bytes, and cut short)
            w.write(
                head + frame(b"a" * 250) + (b"100\r\npart" if framing == "chunked" else b"part")
            )
            await w.drain()
            w.close()  # FIN
        else:
            w.write(OK)
            await w.drain()

    up = await h.upstream(answer)
    pool = h.pool(up.url)
    resp = await pool.request("GET", "/", [], None)
    data, err = await read_until_error(resp)
    assert data == b"a" * 250 + b"part"
    assert isinstance(err, UpstreamBroken) and err.kind == "truncated"
    assert err.received == 254
    assert "truncated after 254 bytes" in str(err) and framing in str(err)
    resp.close()
    _, data = await get(pool)
    assert data == b"ok" and pool.opened == 2


async def test_clean_close_mid_head_is_truncation(h: Harness) -> None:
    async def answer(req: Req, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        if req.conn == 0:
            w.write(b"HTTP/1.1 200 OK\r\nContent-Le")
            await w.drain()
            w.close()
        else:
            w.write(OK)
            await w.drain()

    up = await h.upstream(answer)
    pool = h.pool(up.url)
    with pytest.raises(UpstreamBroken, match="before the response head was complete") as err:
        await pool.request("GET", "/", [], None)
    assert err.value.kind == "truncated"
    _, data = await get(pool)
    assert data == b"ok" and pool.opened == 2
    assert len(up.requests) == 2  # not retried (bytes of an answer had come)


@pytest.mark.parametrize(
    "garbage",
    [
        b"SSH-2.0-OpenSSH_9.6\r\n",
        b"HTTP/1.1 2OO OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
    ids=["ssh", "status", "two-lengths", "chunk-size"],
)
async def test_garbage_is_invalid(h: Harness, garbage: bytes) -> None:
    async def answer(req: Req, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(garbage if req.conn == 0 else OK)
        await w.drain()

    up = await h.upstream(answer)
    pool = h.pool(up.url)
    with pytest.raises(UpstreamBroken) as err:
        resp = await pool.request("GET", "/", [], None)
        await read_all(resp)  # (the chunk-size case fails in the body)
    assert err.value.kind == "invalid" and "invalid HTTP" in str(err.value)
    _, data = await get(pool)
    assert data == b"ok" and pool.opened == 2


async def test_bytes_after_a_complete_answer_do_not_change_it(h: Harness) -> None:
    # A complete answer followed, in the same segment, by a second one nobody asked for.
    stray = response("500 Stray", [("X-Stray", "1")], b"")
    up = await h.upstream(fixed(response("200 OK", [("X-A", "1")], b"ok") + stray))
    pool = h.pool(up.url)
    resp = await pool.request("GET", "/", [], None)
    assert (resp.status, resp.reason) == (200, "OK")
    assert resp.raw_headers == [(b"X-A", b"1"), (b"Content-Length", b"2")]
    assert await read_all(resp) == b"ok"
    resp.release()
    _, data = await get(pool)
    assert data == b"ok" and pool.opened == 2  # the connection was not trusted again


async def test_bytes_while_idle_close_the_connection(h: Harness) -> None:
    async def answer(req: Req, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(OK)
        await w.drain()
        await asyncio.sleep(0.02)  # the client has released it to the pool
        w.write(response("500 Stray", [], b"nobody asked"))
        await w.drain()

    up = await h.upstream(answer)
    pool = h.pool(up.url)
    _, data = await get(pool)
    assert data == b"ok"
    await asyncio.sleep(0.05)
    resp, data = await get(pool)
    assert resp.status == 200 and data == b"ok"
    assert pool.opened == 2


# --- 6. back-pressure ---------------------------------------------------------------------


@also_on_uvloop
async def test_back_pressure_pauses_reading_from_the_upstream(h: Harness) -> None:
    body = random.Random(7).randbytes(4 << 20)
    drained = asyncio.Event()

    async def answer(req: Req, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        # A small send buffer, so that the kernel cannot hold the body for the client.
        w.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 16)
        w.write(response("200 OK", [("Content-Length", str(len(body)))], length=False))
        w.write(body)
        await w.drain()
        drained.set()

    up = await h.upstream(answer)
    pool = h.pool(up.url, timeout=0.2)
    resp = await pool.request("GET", "/big", [], None)
    await asyncio.sleep(0.5)  # longer than the timeout; nobody reads
    assert not drained.is_set()  # the upstream cannot write: the client stopped reading
    held = resp.received
    assert HIGH_WATER < held < HIGH_WATER + (1 << 20)
    got = bytearray()
    while data := await asyncio.wait_for(resp.read(), 1):  # no timeout fired meanwhile
        got += data
    assert got == body
    await asyncio.wait_for(drained.wait(), 1)
    resp.release()
    _, data = await get(pool)
    assert data == body and pool.opened == 1


@also_on_uvloop
async def test_slow_reader_chunked_is_not_timed_out(h: Harness) -> None:
    pieces = [random.Random(i).randbytes(100_000) for i in range(40)]  # 4 MB in chunks

    async def answer(req: Req, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(response("200 OK", [("Transfer-Encoding", "chunked")], length=False))
        for p in pieces:
            w.write(chunk(p))
        w.write(b"0\r\n\r\n")
        await w.drain()

    up = await h.upstream(answer)
    pool = h.pool(up.url, timeout=0.2)
    resp = await pool.request("GET", "/", [], None)
    got = bytearray()
    for _ in range(2):  # a reader slower than the timeout, twice
        await asyncio.sleep(0.25)
        got += await asyncio.wait_for(resp.read(), 1)
    got += await read_all(resp)
    assert got == b"".join(pieces)
    resp.release()


# --- 7. a large request body --------------------------------------------------------------


@also_on_uvloop
async def test_large_request_body_arrives_byte_exact(h: Harness) -> None:
    body = random.Random(3).randbytes((3 << 20) + 12345)  # > 3 write slices

    async def answer(req: Req, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(response("200 OK", [], b"%d" % len(req.body)))
        await w.drain()

    up = await h.upstream(answer)
    pool = h.pool(up.url)
    resp = await pool.request("POST", "/upload", [("Content-Type", "x/y")], body)
    assert await read_all(resp) == b"%d" % len(body)
    resp.release()
    [req] = up.requests
    assert req.header(b"content-length") == b"%d" % len(body)
    assert req.body == body
    _, data = await get(pool)  # and the connection is in step for the next one
    assert data == b"0" and pool.opened == 1


async def test_early_answer_while_the_body_is_still_being_sent(h: Harness) -> None:
    async def answer(req: Req, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        # The head only; the body is refused unread, the connection kept open.
        w.write(response("413 Payload Too Large", [], b"too large"))
        await w.drain()
        await up.release.wait()

    up = await h.upstream(answer, read_bodies=False)
    pool = h.pool(up.url, timeout=0.3)
    body = bytes(8 << 20)  # more than the kernel's buffers hold
    try:
        resp = await asyncio.wait_for(pool.request("POST", "/", [], body), 0.8)
    except UpstreamError:
        return  # an error within the timeout is acceptable
    assert resp.status == 413
    resp.close()


# --- 8. TLS -------------------------------------------------------------------------------


@functools.cache
def tls() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(the upstream's context: a certificate for 127.0.0.1 from a throwaway CA, a client
    context trusting that CA)."""
    ca = CertificateAuthority.generate()
    client = ssl.create_default_context(cadata=ca.pem().decode())
    return server_context(ca, "127.0.0.1"), client


@also_on_uvloop
async def test_tls_upstream(h: Harness) -> None:
    server, client = tls()

    async def answer(req: Req, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(
            response("200 OK", [("Transfer-Encoding", "chunked")], length=False)
            + chunk(req.body)
            + chunk(b"!")
            + b"0\r\n\r\n"
        )
        await w.drain()

    up = await h.upstream(answer, tls=server)
    assert up.url.startswith("https://")
    pool = h.pool(up.url, ssl_context=client)
    for i in range(3):
        resp = await pool.request("POST", "/", [], b"secret %d" % i)
        assert resp.status == 200 and await read_all(resp) == b"secret %d!" % i
        resp.release()
    assert pool.opened == 1
    assert up.requests[0].head.split(b"\r\n")[1] == b"Host: 127.0.0.1:%d" % up.port


async def test_tls_upstream_with_an_untrusted_certificate(h: Harness) -> None:
    server, _ = tls()
    up = await h.upstream(fixed(OK), tls=server)
    pool = h.pool(up.url)  # the default context: the system's CAs only
    with pytest.raises(UpstreamConnectError, match="CERTIFICATE_VERIFY_FAILED|certificate"):
        await pool.request("GET", "/", [], None)
    assert pool.opened == 0 and up.requests == []


@also_on_uvloop
async def test_tls_answer_framed_by_the_end_of_the_connection(h: Harness) -> None:
    server, client = tls()

    async def answer(req: Req, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(response("200 OK", [("Content-Type", "text/plain")], b"z" * 100, length=False))
        await w.drain()
        w.close()  # close_notify, then FIN

    up = await h.upstream(answer, tls=server)
    pool = h.pool(up.url, ssl_context=client)
    resp = await pool.request("GET", "/", [], None)
    assert await asyncio.wait_for(read_all(resp), 1) == b"z" * 100
    resp.release()


# --- 9. closing the pool while a request is in flight -------------------------------------


@pytest.mark.parametrize(
    "framing",
    [
        "length",
        "chunked",
        "eof",
    ],
)
async def test_close_the_pool_while_the_body_is_read(h: Harness, framing: str) -> None:
    head, frame = FRAMED[framing]

    async def answer(req: Req, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(head + frame(b"z" * 100))
        await w.drain()
        await up.release.wait()

    up = await h.upstream(answer)
    pool = h.pool(up.url, timeout=5)
    resp = await pool.request("GET", "/", [], None)
    assert await read_exactly(resp, 100) == b"z" * 100
    reading = asyncio.create_task(resp.read())
    await asyncio.sleep(0.02)
    assert not reading.done()
    await pool.close()
    with pytest.raises(UpstreamBroken):
        await asyncio.wait_for(reading, 0.5)
    resp.close()


@pytest.mark.parametrize(
    "reused",
    [
        False,
        True,
    ],
)
async def test_close_the_pool_while_awaiting_the_answer(h: Harness, reused: bool) -> None:
    async def answer(req: Req, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        if req.path == b"/first":
            w.write(OK)
            await w.drain()
        else:
            await up.release.wait()

    up = await h.upstream(answer)
    pool = h.pool(up.url, timeout=5)
    if reused:
        await get(pool, "/first")
    requesting = asyncio.create_task(pool.request("GET", "/wait", [], None))
    for _ in range(100):
        if any(r.path == b"/wait" for r in up.requests):
            break
        await asyncio.sleep(0.005)
    opened = pool.opened
    await pool.close()
    with pytest.raises(UpstreamBroken):
        await asyncio.wait_for(requesting, 0.5)
    assert pool.opened == opened  # nothing opened after close()


# --- 10. property: de-framing whatever the pieces -----------------------------------------


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[bytes, list[bytes], list[int], list[str]]:
    """A body, its division into chunks, cut points in the bytes on the wire, and what the
    upstream does after each piece it writes."""
    body = draw(st.binary(max_size=20_000))
    cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=10)))
    chunks = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    wire_cuts = draw(st.lists(st.integers(0, 30_000), max_size=12))
    pauses = draw(st.lists(st.sampled_from(["write", "drain", "sleep"]), min_size=13, max_size=13))
    return body, [c for c in chunks if c], wire_cuts, pauses


async def deliver(framing: str, case: tuple[bytes, list[bytes], list[int], list[str]]) -> None:
    body, chunks, wire_cuts, pauses = case
    if framing == "chunked":
        ext = iter([b"", b";name=value", b";x"] * 10)
        wire = (
            response("200 OK", [("Transfer-Encoding", "chunked")], length=False)
            + b"".join(b"%x%s\r\n%s\r\n" % (len(c), next(ext), c) for c in chunks)
            + b"0\r\nX-Trailer: t\r\n\r\n"
        )
    else:
        wire = response("200 OK", [], body)
    cuts = sorted({c % (len(wire) + 1) for c in wire_cuts})
    pieces = [wire[a:b] for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True)]

    async def answer(req: Req, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        if req.path == b"/next":
            w.write(OK)
            await w.drain()
            return
        for piece, pause in zip(pieces, pauses, strict=False):
            w.write(piece)
            if pause == "drain":
                await w.drain()
            elif pause == "sleep":
                await w.drain()
                await asyncio.sleep(0.001)
        w.write(b"".join(pieces[len(pauses) :]))
        await w.drain()

    h = Harness()
    try:
        up = await h.upstream(answer)
        pool = h.pool(up.url, timeout=2)
        resp = await pool.request("GET", "/", [], None)
        assert resp.status == 200
        got = bytearray()
        while data := await asyncio.wait_for(resp.read(), 2):
            got += data
        assert bytes(got) == body
        assert resp.received == len(body)
        resp.release()
        _, data = await get(pool, "/next")  # the parser's state was left clean
        assert data == b"ok" and pool.opened == 1
    finally:
        await h.aclose()


LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


@pytest.mark.parametrize("loop", list(LOOPS))
@pytest.mark.parametrize("framing", ["chunked", "length"])
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=deliveries())
def test_body_arrives_whole_whatever_the_pieces(
    loop: str, framing: str, case: tuple[bytes, list[bytes], list[int], list[str]]
) -> None:
    with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
        runner.run(deliver(framing, case))


# --- uvloop -------------------------------------------------------------------------------

on_uvloop_with(test_reset_mid_body, framing="length")
on_uvloop_with(test_reset_mid_body, framing="eof")
on_uvloop_with(test_clean_close_mid_body_is_truncation, framing="chunked")
on_uvloop_with(test_answer_framed_by_the_end_of_the_connection, version="HTTP/1.1")
on_uvloop_with(test_get_on_a_stale_connection_is_retried_once, how="fin")
on_uvloop_with(test_get_on_a_stale_connection_is_retried_once, how="rst")
on_uvloop_with(test_post_on_a_stale_connection_is_not_retried, how="fin")
on_uvloop_with(test_close_the_pool_while_the_body_is_read, framing="chunked")
on_uvloop_with(test_close_the_pool_while_awaiting_the_answer, reused=False)
on_uvloop_with(test_interim_answers_are_skipped, apart=True)
ON_UVLOOP["test_no_answer_times_out"] = test_no_answer_times_out
ON_UVLOOP["test_idle_connection_closed_by_the_upstream"] = (
    test_idle_connection_closed_by_the_upstream
)


@pytest.mark.parametrize("name", sorted(ON_UVLOOP))
def test_on_uvloop(name: str) -> None:
    async def run() -> None:
        harness = Harness()
        try:
            await ON_UVLOOP[name](harness)
        finally:
            await harness.aclose()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(run())
