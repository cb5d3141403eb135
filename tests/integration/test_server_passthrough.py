"""The capture server in pass-through mode against a local upstream that speaks raw
HTTP/1.1 from asyncio streams, so the test controls (and sees) every byte: forwarding,
streaming without buffering, and every way an upstream can fail."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import pytest

from promptwitness.capture.server import CaptureServer, ServerConfig
from promptwitness.store import Store

pytestmark = pytest.mark.usefixtures("no_server_errors")

Scenario = Callable[["Upstream", asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Seen:
    """One request as the upstream received it."""

    request_line: bytes
    headers: list[tuple[str, str]]
    body: bytes
    peer: object = None

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


@dataclass
class Upstream:
    """A raw HTTP/1.1 server: records requests, answers with the scenario for the path."""

    scenarios: dict[str, Scenario]
    seen: list[Seen] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for w in self._writers:
            w.transport.abort()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head[:-4].split(b"\r\n")
                headers = [
                    (k.decode("latin-1"), v.decode("latin-1"))
                    for k, v in (line.split(b": ", 1) for line in lines[1:])
                ]
                seen = Seen(lines[0], headers, b"", writer.get_extra_info("peername"))
                length = seen.header("content-length")
                if length is not None:
                    seen.body = await reader.readexactly(int(length))
                self.seen.append(seen)
                path = lines[0].split(b" ")[1].decode().split("?")[0]
                await self.scenarios[path.rsplit("/", 1)[-1]](self, writer)
                if writer.is_closing():
                    return
        finally:
            self._writers.discard(writer)
            writer.close()


def head(status: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


ECHO_BODY = b'{"ok":true,"text":"caf\xc3\xa9 \xe2\x80\x99"}'
GZ = gzip.compress(b'{"id":"msg_1","content":[{"type":"text","text":"hi"}]}' * 20)
SSE1 = b'event: message_start\ndata: {"type":"message_start"}\n\n'
SSE2 = b'event: message_stop\ndata: {"type":"message_stop"}\n\n'


async def echo(up: Upstream, w: asyncio.StreamWriter) -> None:
    w.write(
        head(
            "200 OK",
            [
                ("Content-Type", "application/json"),
                ("X-Upstream", "a"),
                ("x-upstream", "b"),
                ("Set-Cookie", "s=1; Path=/"),
                ("Content-Length", str(len(ECHO_BODY))),
            ],
        )
        + ECHO_BODY
    )
    await w.drain()


async def gzipped(up: Upstream, w: asyncio.StreamWriter) -> None:
    w.write(
        head(
            "200 OK",
            [
                ("Content-Type", "application/json"),
                ("Content-Encoding", "gzip"),
                ("Content-Length", str(len(GZ))),
            ],
        )
        + GZ
    )
    await w.drain()


async def stream(up: Upstream, w: asyncio.StreamWriter) -> None:
    w.write(
        head("200 OK", [("Content-Type", "text/event-stream"), ("Transfer-Encoding", "chunked")])
        + chunk(SSE1)
    )
    await w.drain()
    # The rest only once the test's client has seen the first event: a server that
    # buffered the answer would never let it arrive.
    await asyncio.wait_for(up.release.wait(), 10)
    w.write(chunk(SSE2) + b"0\r\n\r\n")
    await w.drain()


def error(status: str, body: bytes, extra: list[tuple[str, str]]) -> Scenario:
    async def answer(up: Upstream, w: asyncio.StreamWriter) -> None:
        w.write(
            head(
                status,
                [("Content-Type", "application/json"), *extra, ("Content-Length", str(len(body)))],
            )
            + body
        )
        await w.drain()

    return answer


async def slow(up: Upstream, w: asyncio.StreamWriter) -> None:
    # Longer than the server's upstream_timeout; released at teardown.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(up.release.wait(), 3)


async def reset(up: Upstream, w: asyncio.StreamWriter) -> None:
    w.write(
        head("200 OK", [("Content-Type", "text/event-stream"), ("Transfer-Encoding", "chunked")])
        + chunk(SSE1)
    )
    await w.drain()
    await asyncio.sleep(0.05)
    sock = w.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    w.transport.abort()  # RST


async def truncated_chunked(up: Upstream, w: asyncio.StreamWriter) -> None:
    w.write(
        head("200 OK", [("Content-Type", "text/event-stream"), ("Transfer-Encoding", "chunked")])
        + chunk(SSE1)
        + b"100\r\npartial"
    )
    await w.drain()
    w.close()  # a clean FIN, but the chunked body never ended


async def truncated_length(up: Upstream, w: asyncio.StreamWriter) -> None:
    w.write(head("200 OK", [("Content-Type", "application/json"), ("Content-Length", "1000")]))
    w.write(b'{"partial":')
    await w.drain()
    w.close()


async def head_only(up: Upstream, w: asyncio.StreamWriter) -> None:
    w.write(head("200 OK", [("Content-Type", "text/html"), ("Content-Length", "1234")]))
    await w.drain()


SCENARIOS: dict[str, Scenario] = {
    "messages": echo,
    "gzipped": gzipped,
    "stream": stream,
    "limited": error(
        "429 Too Many Requests",
        b'{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}',
        [("Retry-After", "7")],
    ),
    "overloaded": error(
        "529 Overloaded",
        b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
        [],
    ),
    "slow": slow,
    "reset": reset,
    "truncated-chunked": truncated_chunked,
    "truncated-length": truncated_length,
    "": head_only,
}


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    up = Upstream(dict(SCENARIOS))
    await up.start()
    try:
        yield up
    finally:
        up.release.set()
        await asyncio.sleep(0.01)  # let scenarios waiting on it return
        await up.stop()


@dataclass
class Proxy:
    server: CaptureServer
    url: str
    host: str
    port: int


@pytest.fixture
async def proxy(store: Store, upstream: Upstream) -> AsyncIterator[Proxy]:
    server = CaptureServer(
        store,
        ServerConfig(upstream=f"http://127.0.0.1:{upstream.port}/prefix", upstream_timeout=0.5),
    )
    host, port = await server.start()
    try:
        yield Proxy(server, f"http://{host}:{port}", host, port)
    finally:
        await server.stop()


def client() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(auto_decompress=False)


async def test_request_is_forwarded_byte_exact(
    proxy: Proxy, upstream: Upstream, store: Store, wire
) -> None:
    body = (
        '{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"it’s\u200b"}]}'.encode()
    )
    sent_headers = [
        ("Host", "api.anthropic.com"),
        ("X-Stainless-Lang", "js"),
        ("anthropic-version", "2023-06-01"),
        ("X-Dup", "one"),
        ("x-dup", "two"),
        ("Accept-Encoding", "gzip, br"),
        ("Keep-Alive", "timeout=5"),
        ("TE", "trailers"),
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
    ]
    target = "/v1/messages?beta=true&x=%2F%E2%80%99"
    data = await wire.roundtrip(
        proxy.host, proxy.port, wire.request("POST", target, sent_headers, body)
    )
    resp = wire.parse(data)
    assert resp.status == 200 and resp.body == ECHO_BODY
    # Duplicated and cased headers from the upstream come back as they were.
    assert [(k, v) for k, v in resp.headers if k.lower() == "x-upstream"] == [
        ("X-Upstream", "a"),
        ("x-upstream", "b"),
    ]

    [seen] = upstream.seen
    assert seen.request_line == f"POST /prefix{target} HTTP/1.1".encode()
    assert seen.body == body
    assert seen.header("host") == f"127.0.0.1:{upstream.port}"
    hop = {"keep-alive", "te", "connection"}
    expected = [(k, v) for k, v in sent_headers if k.lower() not in hop | {"host"}]
    assert [(k, v) for k, v in seen.headers if k.lower() != "host"] == expected

    await proxy.server.flush()
    [x] = store.exchanges()
    assert x.mode == "pass-through" and x.upstream == f"http://127.0.0.1:{upstream.port}/prefix"
    assert x.target == target and x.host == "api.anthropic.com"
    assert store.request_body(x) == body and store.response_body(x) == ECHO_BODY
    assert x.status == 200 and x.error is None


async def test_no_headers_are_added_by_the_forwarder(
    proxy: Proxy, upstream: Upstream, wire
) -> None:
    data = await wire.roundtrip(
        proxy.host, proxy.port, wire.request("GET", "/v1/messages", [("Host", "x")])
    )
    assert wire.parse(data).status == 200
    [seen] = upstream.seen
    assert [k.lower() for k, _ in seen.headers] == ["host"]
    assert seen.body == b""


async def test_gzip_passes_through_without_decompression(
    proxy: Proxy, upstream: Upstream, store: Store
) -> None:
    packed = gzip.compress(b'{"model":"m"}')
    async with client() as c:
        async with c.post(
            proxy.url + "/v1/gzipped",
            data=packed,
            headers={"Content-Encoding": "gzip", "Accept-Encoding": "gzip"},
        ) as resp:
            assert resp.headers["Content-Encoding"] == "gzip"
            assert resp.headers["Content-Length"] == str(len(GZ))
            got = await resp.read()
    assert got == GZ
    [seen] = upstream.seen
    assert seen.body == packed and seen.header("content-encoding") == "gzip"
    assert seen.header("accept-encoding") == "gzip"
    await proxy.server.flush()
    [x] = store.exchanges()
    assert store.request_body(x) == packed and store.response_body(x) == GZ


async def test_stream_arrives_chunk_by_chunk(
    proxy: Proxy, upstream: Upstream, store: Store
) -> None:
    async with client() as c:
        async with c.post(proxy.url + "/v1/stream", data=b"{}") as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "text/event-stream"
            first = b""
            while len(first) < len(SSE1):
                got = await asyncio.wait_for(resp.content.readany(), 5)
                assert got, "stream ended early"
                first += got
            assert first == SSE1
            assert not upstream.release.is_set()
            upstream.release.set()
            rest = await asyncio.wait_for(resp.read(), 5)
    assert first + rest == SSE1 + SSE2
    await proxy.server.flush()
    [x] = store.exchanges()
    assert store.response_body(x) == SSE1 + SSE2 and x.error is None


@pytest.mark.parametrize(
    ("name", "status", "reason"),
    [("limited", 429, "Too Many Requests"), ("overloaded", 529, "Overloaded")],
)
async def test_upstream_errors_pass_through_verbatim(
    proxy: Proxy, store: Store, wire, name: str, status: int, reason: str
) -> None:
    request = wire.request("POST", f"/v1/{name}", [("Host", "h"), ("Content-Length", "2")], b"{}")
    data = await wire.roundtrip(proxy.host, proxy.port, request)
    resp = wire.parse(data)
    assert (resp.status, resp.reason) == (status, reason)
    assert b'"error"' in resp.body
    if name == "limited":
        assert resp.header("Retry-After") == "7"
    await proxy.server.flush()
    [x] = store.exchanges()
    assert x.status == status and store.response_body(x) == resp.body and x.error is None


async def test_head_keeps_the_upstream_length(proxy: Proxy, store: Store, wire) -> None:
    data = await wire.roundtrip(proxy.host, proxy.port, wire.request("HEAD", "/", [("Host", "h")]))
    resp = wire.parse(data, head=True)
    assert resp.status == 200 and resp.header("Content-Length") == "1234"
    assert data.endswith(b"\r\n\r\n")  # and no body
    await proxy.server.flush()
    [x] = store.exchanges()
    assert x.method == "HEAD" and store.response_body(x) == b""


async def test_refused_upstream_is_502(store: Store, wire) -> None:
    port = wire.closed_port()
    async with CaptureServer(store, ServerConfig(upstream=f"http://127.0.0.1:{port}")) as server:
        host, sport = server.addresses[0]
        async with client() as c:
            async with c.post(f"http://{host}:{sport}/v1/messages", data=b"{}") as resp:
                assert resp.status == 502
                payload = await resp.json()
    assert payload["error"]["type"] == "upstream_unreachable"
    [x] = store.exchanges()
    assert x.status == 502 and x.error is not None and "cannot reach upstream" in x.error
    assert store.request_body(x) == b"{}"


async def test_slow_upstream_is_504(proxy: Proxy, store: Store) -> None:
    async with client() as c:
        async with c.post(proxy.url + "/v1/slow", data=b"{}") as resp:
            assert resp.status == 504
            payload = await resp.json()
    assert payload["error"]["type"] == "upstream_timeout"
    await proxy.server.flush()
    [x] = store.exchanges()
    assert x.status == 504 and x.error is not None and "did not answer" in x.error


@pytest.mark.parametrize(
    ("name", "partial", "word"),
    [
        ("reset", SSE1, "upstream"),
        ("truncated-chunked", SSE1 + b"partial", "truncated"),
        ("truncated-length", b'{"partial":', "truncated"),
    ],
)
async def test_broken_upstream_stream_reaches_the_client_broken(
    proxy: Proxy, store: Store, name: str, partial: bytes, word: str
) -> None:
    received = b""
    async with client() as c:
        async with c.post(proxy.url + f"/v1/{name}", data=b"{}") as resp:
            assert resp.status == 200
            with pytest.raises(aiohttp.ClientPayloadError):
                async for piece in resp.content.iter_any():
                    received += piece
    assert received == partial
    await proxy.server.flush()
    [x] = store.exchanges()
    assert x.status == 200
    assert x.error is not None and word in x.error and f"after {len(partial)} bytes" in x.error
    assert store.response_body(x) == partial


async def test_server_keeps_serving_after_upstream_failures(proxy: Proxy, store: Store) -> None:
    async with client() as c:
        for name in ("reset", "truncated-chunked", "slow"):
            async with c.post(proxy.url + f"/v1/{name}", data=b"{}") as resp:
                broken = resp.status == 200
                with (
                    pytest.raises(aiohttp.ClientPayloadError)
                    if broken
                    else contextlib.nullcontext()
                ):
                    await resp.read()
        async with c.post(proxy.url + "/v1/messages", data=b"{}") as resp:
            assert resp.status == 200 and await resp.read() == ECHO_BODY
    await proxy.server.flush()
    assert len(store.exchanges()) == 4


async def test_connections_to_the_upstream_are_reused(proxy: Proxy, upstream: Upstream) -> None:
    async with client() as c:
        for _ in range(5):
            async with c.post(proxy.url + "/v1/messages", data=b"{}") as resp:
                await resp.read()
    assert len(upstream.seen) == 5
    assert len({s.peer for s in upstream.seen}) == 1


async def test_client_that_leaves_mid_stream_is_recorded(
    proxy: Proxy, upstream: Upstream, store: Store
) -> None:
    async with client() as c:
        resp = await c.post(proxy.url + "/v1/stream", data=b"{}")
        assert await asyncio.wait_for(resp.content.readany(), 5) == SSE1
        resp.close()  # the agent gives up (Esc in the terminal)
    await asyncio.sleep(0.05)
    upstream.release.set()
    await proxy.server.flush()
    [x] = store.exchanges()
    assert x.error is not None and "client disconnected" in x.error
    assert store.response_body(x).startswith(SSE1)


async def test_stop_records_a_stream_still_in_flight(store: Store, upstream: Upstream) -> None:
    server = CaptureServer(
        store, ServerConfig(upstream=f"http://127.0.0.1:{upstream.port}", shutdown_timeout=0.2)
    )
    host, port = await server.start()
    async with client() as c:
        resp = await c.post(f"http://{host}:{port}/v1/stream", data=b"{}")
        assert await asyncio.wait_for(resp.content.readany(), 5) == SSE1
        await server.stop()  # the upstream is still holding the rest back
        with pytest.raises(aiohttp.ClientPayloadError):
            await resp.read()
        resp.close()
    [x] = store.exchanges()
    assert x.error == f"capture server stopped after {len(SSE1)} bytes of the response"
    assert store.response_body(x) == SSE1
