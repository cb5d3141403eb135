"""The capture server in sink mode, for real: sockets on 127.0.0.1, a real store in
tmp_path, the real protocol adapters answering."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading
from pathlib import Path

import aiohttp
import pytest

from promptwitness.capture.redact import Redactor
from promptwitness.capture.server import CaptureServer, ServerConfig, ServerThread
from promptwitness.model import CapturedExchange
from promptwitness.protocols import DEFAULT_ANSWER, rebuild_answer
from promptwitness.protocols.sse import SSEParser
from promptwitness.store import Store

pytestmark = pytest.mark.usefixtures("no_server_errors")

# (protocol, target, body) for one model call of each protocol; "{stream}" is replaced.
CALLS = {
    "anthropic": (
        "/v1/messages",
        b'{"model":"claude-sonnet-4-5","max_tokens":1024,"stream":{stream},'
        b'"messages":[{"role":"user","content":"Hi"}]}',
    ),
    "openai-chat": (
        "/v1/chat/completions",
        b'{"model":"gpt-4o","stream":{stream},"messages":[{"role":"user","content":"Hi"}]}',
    ),
    "openai-responses": (
        "/v1/responses",
        b'{"model":"gpt-5","stream":{stream},"input":"Hi"}',
    ),
}
GEMINI_BODY = b'{"contents":[{"role":"user","parts":[{"text":"Hi"}]}]}'


def call(protocol: str, stream: bool) -> tuple[str, bytes]:
    if protocol == "gemini":
        verb = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return f"/v1beta/models/gemini-2.5-pro:{verb}", GEMINI_BODY
    target, body = CALLS[protocol]
    return target, body.replace(b"{stream}", b"true" if stream else b"false")


PROTOCOLS = ["anthropic", "openai-chat", "openai-responses", "gemini"]


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_each_protocol_is_answered_and_captured(
    sink, store: Store, protocol: str, stream: bool
) -> None:
    target, body = call(protocol, stream)
    async with aiohttp.ClientSession() as client:
        async with client.post(
            sink.url + target, data=body, headers={"Content-Type": "application/json"}
        ) as resp:
            received = b"".join([c async for c in resp.content.iter_any()])
            status, headers = resp.status, list(resp.headers.items())
    assert status == 200
    content_type = dict((k.lower(), v) for k, v in headers)["content-type"]
    assert ("text/event-stream" in content_type) == stream
    answer = rebuild_answer(protocol, status, tuple(headers), received)
    assert answer.text == DEFAULT_ANSWER
    assert answer.complete and answer.error is None

    await sink.server.flush()
    [x] = store.exchanges()
    assert x.protocol == protocol and x.parse_error is None and x.error is None
    assert (x.method, x.target, x.status, x.mode) == ("POST", target, 200, "sink")
    assert store.request_body(x) == body
    assert store.response_body(x) == received
    assert x.host == f"{sink.host}:{sink.port}"
    assert x.client is not None and x.client.startswith("127.0.0.1:")
    assert x.http_version == "1.1" and x.duration is not None and x.duration >= 0


async def test_stream_events_are_written_one_chunk_each(sink, store: Store, wire) -> None:
    """Each SSE event leaves as its own HTTP chunk, so a client can act on it at once."""
    target, body = call("anthropic", True)
    data = await wire.roundtrip(
        sink.host,
        sink.port,
        wire.request("POST", target, [("Host", "x"), ("Content-Length", str(len(body)))], body),
    )
    resp = wire.parse(data)
    assert resp.complete and resp.header("transfer-encoding") == "chunked"
    assert len(resp.chunks) > 3
    parser = SSEParser()
    for chunk in resp.chunks:
        events = parser.feed(chunk)
        assert len(events) == 1  # a whole event per chunk, usable on arrival
    assert events[0].event == "message_stop"
    await sink.server.flush()
    [x] = store.exchanges()
    assert store.response_body(x) == resp.body


async def test_client_reads_events_incrementally(sink) -> None:
    target, body = call("openai-chat", True)
    seen: list[int] = []
    parser = SSEParser()
    async with aiohttp.ClientSession() as client:
        async with client.post(sink.url + target, data=body) as resp:
            async for chunk in resp.content.iter_any():
                seen.append(len(parser.feed(chunk)))
    events = sum(seen)
    assert events >= 3
    assert parser.close() == []  # nothing left half-parsed: every event was whole


async def test_head_root(sink, store: Store) -> None:
    async with aiohttp.ClientSession() as client:
        async with client.head(sink.url + "/") as resp:
            assert resp.status == 200
            assert await resp.read() == b""
    await sink.server.flush()
    [x] = store.exchanges()
    assert (x.method, x.target, x.status, x.protocol) == ("HEAD", "/", 200, None)
    assert store.response_body(x) == b""


@pytest.mark.parametrize(
    ("method", "target", "body"),
    [
        ("GET", "/v1/models", b""),
        ("GET", "/v1/models?limit=5", b""),
        (
            "POST",
            "/v1/messages/count_tokens",
            b'{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"Hi"}]}',
        ),
    ],
)
async def test_listings_and_token_counts(
    sink, store: Store, method: str, target: str, body: bytes
) -> None:
    async with aiohttp.ClientSession() as client:
        async with client.request(method, sink.url + target, data=body or None) as resp:
            assert resp.status == 200
            payload = await resp.json()
    assert isinstance(payload, dict)
    await sink.server.flush()
    [x] = store.exchanges()
    assert (x.method, x.target, x.status) == (method, target, 200)
    assert store.request_body(x) == body
    assert json.loads(store.response_body(x)) == payload


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
async def test_unknown_paths_get_404_json_and_are_captured(sink, store: Store, method: str) -> None:
    target = "/no/such/thing?x=%E2%80%99&y=1"
    async with aiohttp.ClientSession() as client:
        async with client.request(method, sink.url + target, data=b"abc") as resp:
            assert resp.status == 404
            assert "application/json" in resp.headers["Content-Type"]
            await resp.json()
    await sink.server.flush()
    [x] = store.exchanges()
    assert (x.method, x.target, x.status, x.protocol) == (method, target, 404, None)
    assert store.request_body(x) == b"abc"


async def test_stored_request_is_exactly_what_the_client_sent(sink, store: Store, wire) -> None:
    # U+2019 and U+200B raw in UTF-8, the same as \u escapes, odd spacing, key order.
    body = (
        '{"model":"claude-sonnet-4-5", "max_tokens":1024,\n "messages":[{"role":"user",'
        '"content":"it\u2019s\u200b here, it\\u2019s\\u200b there \\ud83d\\ude00  \\/"}],'
        '"z":1,"a":2}'
    ).encode()
    headers = [
        ("Host", "api.anthropic.com"),
        ("X-Trace", "one"),
        ("x-trace", "two"),
        ("anthropic-version", "2023-06-01"),
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
    ]
    data = await wire.roundtrip(
        sink.host, sink.port, wire.request("POST", "/v1/messages", headers, body)
    )
    assert wire.parse(data).status == 200
    await sink.server.flush()
    [x] = store.exchanges()
    assert store.request_body(x) == body
    assert x.host == "api.anthropic.com"
    assert list(x.request_headers) == headers + [("Connection", "close")]
    assert x.protocol == "anthropic" and x.parse_error is None


async def test_latin1_header_bytes_are_kept(sink, store: Store, wire) -> None:
    raw = (
        b"GET /v1/models HTTP/1.1\r\nHost: h\r\nX-Odd: caf\xc3\xa9 \xe2\x80\x99\r\n"
        b"Connection: close\r\n\r\n"
    )
    assert wire.parse(await wire.roundtrip(sink.host, sink.port, raw)).status == 200
    await sink.server.flush()
    [x] = store.exchanges()
    value = dict(x.request_headers)["X-Odd"]
    assert value.encode("latin-1") == b"caf\xc3\xa9 \xe2\x80\x99"


async def test_compressed_request_body_is_not_decompressed(sink, store: Store) -> None:
    import gzip

    packed = gzip.compress(b'{"model":"m","messages":[]}')
    async with aiohttp.ClientSession() as client:
        async with client.post(
            sink.url + "/v1/chat/completions", data=packed, headers={"Content-Encoding": "gzip"}
        ) as resp:
            await resp.read()
    await sink.server.flush()
    [x] = store.exchanges()
    assert store.request_body(x) == packed


async def test_answer_text_is_configurable(store: Store) -> None:
    text = "Custom ’answer’\u200b."
    async with CaptureServer(store, ServerConfig(answer_text=text)) as server:
        host, port = server.addresses[0]
        target, body = call("anthropic", False)
        async with aiohttp.ClientSession() as client:
            async with client.post(f"http://{host}:{port}{target}", data=body) as resp:
                raw = await resp.read()
                answer = rebuild_answer("anthropic", resp.status, tuple(resp.headers.items()), raw)
    assert answer.text == text


async def test_run_and_on_exchange(store: Store) -> None:
    run = store.begin_run("record", ["agent"], {})
    seen: list[tuple[int, CapturedExchange]] = []
    threads: set[str] = set()

    class Hooks:
        on_lines = line_format = None

        def on_exchange(self, ex_id: int, ex: CapturedExchange) -> None:
            seen.append((ex_id, ex))
            threads.add(threading.current_thread().name)

    async with CaptureServer(store, ServerConfig(run=run), hooks=Hooks()) as server:
        host, port = server.addresses[0]
        async with aiohttp.ClientSession() as client:
            for target in ("/", "/v1/models"):
                async with client.get(f"http://{host}:{port}{target}") as resp:
                    await resp.read()
    xs = store.exchanges(run=run)
    assert [x.target for x in xs] == ["/", "/v1/models"]
    assert [i for i, _ in seen] == [x.id for x in xs]
    assert [e.target for _, e in seen] == ["/", "/v1/models"]
    assert threading.current_thread().name not in threads  # called off the event loop
    assert server.stored == 2


async def test_stop_drains_every_exchange(store: Store) -> None:
    n = 40
    server = CaptureServer(store)
    host, port = await server.start()
    target, body = call("anthropic", True)
    async with aiohttp.ClientSession() as client:

        async def one(i: int) -> int:
            data = body.replace(b'"Hi"', f'"Hi {i}"'.encode())
            async with client.post(f"http://{host}:{port}{target}", data=data) as resp:
                await resp.read()
                return resp.status

        statuses = await asyncio.gather(*(one(i) for i in range(n)))
    assert statuses == [200] * n
    await server.stop()  # no flush: stop itself must drain the writer
    xs = store.exchanges()
    assert len(xs) == n
    assert sorted(store.request_body(x) for x in xs) == sorted(
        body.replace(b'"Hi"', f'"Hi {i}"'.encode()) for i in range(n)
    )


async def test_credentials_never_reach_the_disk(store: Store, tmp_path: Path) -> None:
    secret = "sk-ant-test-secret-123456"
    bearer = "Bearer-token-value-987654321"
    server = CaptureServer(store, redactor=Redactor(store.salt()))
    host, port = await server.start()
    body = json.dumps(
        {
            "model": "claude-sonnet-4-5",
            "max_tokens": 10,
            "messages": [{"role": "user", "content": f"my key is {secret}"}],
        }
    ).encode()
    async with aiohttp.ClientSession() as client:
        async with client.post(
            f"http://{host}:{port}/v1/messages?key={secret}",
            data=body,
            headers={"x-api-key": secret, "Authorization": f"Bearer {bearer}"},
        ) as resp:
            assert resp.status == 200
    await server.stop()
    [x] = store.exchanges()
    # The capture is there, with fingerprints in place of the secrets...
    assert x.protocol == "anthropic"
    assert "pw-redacted:" in dict(x.request_headers)["x-api-key"]
    text = store.request_body(x) + json.dumps(x.to_json()).encode() + repr(x).encode()
    assert secret.encode() not in text and bearer.encode() not in text
    # ...and no file of the store holds either secret (db, WAL, anything else).
    files = [p for p in (tmp_path / "store").rglob("*") if p.is_file()]
    assert any(p.name.endswith(".sqlite3") for p in files)
    for p in files:
        data = p.read_bytes()
        assert secret.encode() not in data, p
        assert bearer.encode() not in data, p


async def test_default_redactor_is_used_without_one(store: Store) -> None:
    secret = "sk-ant-test-secret-123456"
    async with CaptureServer(store) as server:
        host, port = server.addresses[0]
        async with aiohttp.ClientSession() as client:
            async with client.get(f"http://{host}:{port}/v1/models", headers={"x-api-key": secret}):
                pass
    [x] = store.exchanges()
    assert secret not in json.dumps(list(x.request_headers))


def test_server_thread_for_blocking_callers(store: Store) -> None:
    server = CaptureServer(store)
    thread = ServerThread(server)
    host, port = thread.start()
    try:
        target, body = call("gemini", False)
        conn = http.client.HTTPConnection(host, port, timeout=10)
        conn.request("POST", target, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        assert resp.status == 200
        answer = json.loads(resp.read())
        assert DEFAULT_ANSWER in json.dumps(answer)
        conn.close()
    finally:
        thread.stop()
    [x] = store.exchanges()
    assert x.protocol == "gemini" and store.request_body(x) == body


def test_server_thread_reports_a_busy_port(store: Store) -> None:
    from promptwitness.errors import CaptureError

    first = ServerThread(CaptureServer(store))
    host, port = first.start()
    try:
        second = ServerThread(CaptureServer(store))
        with pytest.raises(CaptureError, match="cannot listen"):
            second.start(host, port)
    finally:
        first.stop()


async def test_http_1_0_client_gets_a_close_delimited_stream(sink, store: Store, wire) -> None:
    target, body = call("anthropic", True)
    raw = (
        f"POST {target} HTTP/1.0\r\nHost: h\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
    )
    data = await wire.roundtrip(sink.host, sink.port, raw)
    assert data.startswith(b"HTTP/1.0 200")
    resp = wire.parse(data)
    assert resp.header("transfer-encoding") is None
    await sink.server.flush()
    [x] = store.exchanges()
    assert x.http_version == "1.0"
    assert store.response_body(x) == resp.body
    assert b"message_stop" in resp.body


async def test_expect_100_continue_is_honoured(sink, store: Store, wire) -> None:
    target, body = call("openai-chat", False)
    reader, writer = await asyncio.open_connection(sink.host, sink.port)
    writer.write(
        wire.request(
            "POST",
            target,
            [("Host", "h"), ("Expect", "100-continue"), ("Content-Length", str(len(body)))],
        )
    )
    await writer.drain()
    interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(body)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    await writer.wait_closed()
    assert wire.parse(data).status == 200
    await sink.server.flush()
    [x] = store.exchanges()
    assert store.request_body(x) == body and x.protocol == "openai-chat"


async def test_serves_on_a_socket_handed_over(store: Store) -> None:
    """The sandbox binds listeners inside the agent's namespace and hands them over."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    async with CaptureServer(store) as server:
        assert await server.start(sock=sock) == ("127.0.0.1", port)
        async with aiohttp.ClientSession() as client:
            async with client.get(f"http://127.0.0.1:{port}/v1/models") as resp:
                assert resp.status == 200
        assert len(server.addresses) == 2
    [x] = store.exchanges()
    assert x.host == f"127.0.0.1:{port}"


async def test_absolute_form_target_is_kept_and_answered(sink, store: Store, wire) -> None:
    """A client that treats the server as an HTTP proxy sends the full URL as target."""
    target, body = call("anthropic", False)
    absolute = "http://api.anthropic.com" + target
    raw = wire.request(
        "POST", absolute, [("Host", "api.anthropic.com"), ("Content-Length", str(len(body)))], body
    )
    resp = wire.parse(await wire.roundtrip(sink.host, sink.port, raw))
    assert resp.status == 200 and json.loads(resp.body)["type"] == "message"
    await sink.server.flush()
    [x] = store.exchanges()
    assert x.target == absolute and x.host == "api.anthropic.com"


async def test_profile_answers_and_fallback_replace_the_sink(tmp_path: Path) -> None:
    """Fixed answers by (method, path) win over the protocols' replies; the fallback
    replaces only the 404 of paths no protocol knows; everything is still captured."""
    from promptwitness.model import CannedReply

    json_h = (("content-type", "application/json"),)
    store = Store.open(tmp_path / "s")
    server = CaptureServer(
        store,
        ServerConfig(
            answers={
                ("GET", "/api/claude_code/settings"): CannedReply(200, json_h, (b"{}",)),
                ("*", "/v1/models"): CannedReply(418, json_h, (b'{"t":1}',)),
            },
            fallback=CannedReply(204, (), ()),
        ),
    )
    host, port = await server.start("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as s:
            base = f"http://{host}:{port}"
            async with s.get(base + "/api/claude_code/settings?x=1") as r:
                assert (r.status, await r.read()) == (200, b"{}")
            async with s.get(base + "/v1/models") as r:
                assert r.status == 418
            async with s.post(base + "/telemetry/unknown", data=b"x") as r:
                assert r.status == 204
            async with s.post(base + "/v1/messages", data=b"{bad") as r:
                assert r.status == 400  # a protocol's own error is not replaced
        await server.flush()
        assert [x.target for x in store.exchanges()] == [
            "/api/claude_code/settings?x=1",
            "/v1/models",
            "/telemetry/unknown",
            "/v1/messages",
        ]
    finally:
        await server.stop()
        store.close()
