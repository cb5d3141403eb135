"""Whatever a client sends, the sink captures it raw, records what was wrong, and keeps
serving the next request."""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import random

import aiohttp
import pytest

import promptwitness.capture.server as server_module
from promptwitness.capture.server import CaptureServer, ServerConfig
from promptwitness.store import Store

pytestmark = pytest.mark.usefixtures("no_server_errors")

GOOD = b'{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"Hi"}]}'


async def still_serves(url: str) -> None:
    async with aiohttp.ClientSession() as client:
        async with client.post(url + "/v1/messages", data=GOOD) as resp:
            assert resp.status == 200
            assert (await resp.json())["type"] == "message"


def random_bytes(n: int, seed: int) -> bytes:
    data = bytearray(random.Random(seed).randbytes(n))
    data[10:13] = b"\x00\x00\xff"
    return bytes(data)


@pytest.mark.parametrize(
    "body",
    [
        b'{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"Hi"}',  # cut short
        b'{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"\xff\xfe\xc3"}]}',
        random_bytes(4096, 1),
    ],
    ids=["malformed-json", "invalid-utf8", "binary"],
)
async def test_invalid_bodies_are_stored_raw_with_a_parse_error(
    sink, store: Store, body: bytes
) -> None:
    async with aiohttp.ClientSession() as client:
        async with client.post(
            sink.url + "/v1/messages", data=body, headers={"Content-Type": "application/json"}
        ) as resp:
            assert resp.status == 400
            await resp.json()  # the provider's error shape, still JSON
    await sink.server.flush()
    [x] = store.exchanges()
    assert store.request_body(x) == body
    assert x.protocol == "anthropic" and x.parse_error
    await still_serves(sink.url)


async def test_a_50_mb_body_is_accepted_and_kept(sink, store: Store) -> None:
    text = "x" * (50 * 1024 * 1024)
    body = (
        '{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"'
        + text
        + '"}]}'
    ).encode()
    async with aiohttp.ClientSession() as client:
        async with client.post(sink.url + "/v1/messages", data=io.BytesIO(body)) as resp:
            assert resp.status == 200
            await resp.read()
    await sink.server.flush()
    [x] = store.exchanges()
    assert x.request_size == len(body) and x.error is None
    assert x.request_sha256 == hashlib.sha256(body).hexdigest()
    await still_serves(sink.url)


async def test_client_disconnecting_mid_upload_keeps_the_partial_body(
    sink, store: Store, wire
) -> None:
    partial = random_bytes(1000, 2)
    reader, writer = await asyncio.open_connection(sink.host, sink.port)
    writer.write(
        wire.request(
            "POST", "/v1/messages", [("Host", "h"), ("Content-Length", "1000000")], close=False
        )
        + partial
    )
    await writer.drain()
    await asyncio.sleep(0.05)  # let the server read what was sent
    writer.close()
    await writer.wait_closed()
    await sink.server.flush()
    [x] = store.exchanges()
    assert store.request_body(x) == partial
    assert x.error == "client disconnected after 1000 of 1000000 bytes of the request body"
    assert x.status is None
    await still_serves(sink.url)


async def test_broken_chunked_upload_is_kept(sink, store: Store, wire) -> None:
    reader, writer = await asyncio.open_connection(sink.host, sink.port)
    writer.write(
        wire.request("POST", "/v1/messages", [("Host", "h"), ("Transfer-Encoding", "chunked")])
        + b"5\r\nhello\r\n"
    )
    await writer.drain()
    await asyncio.sleep(0.05)  # the handler is reading the body now
    writer.write(b"zz\r\n")  # not a chunk size
    await writer.drain()
    # aiohttp's parser drops a request body whose framing breaks mid-way without telling
    # the handler, so the body's end is the client hanging up.
    await asyncio.sleep(0.1)
    writer.close()
    await writer.wait_closed()
    await sink.server.flush()
    [x] = store.exchanges()
    assert store.request_body(x) == b"hello"
    assert x.error is not None and "after 5 bytes" in x.error
    await still_serves(sink.url)


async def test_body_over_the_limit_is_413_and_the_first_bytes_kept(store: Store) -> None:
    body = random_bytes(300_000, 3)
    async with CaptureServer(store, ServerConfig(max_body=100_000)) as server:
        host, port = server.addresses[0]
        async with aiohttp.ClientSession() as client:
            async with client.post(f"http://{host}:{port}/v1/messages", data=body) as resp:
                assert resp.status == 413
                payload = await resp.json()
            assert payload["error"]["type"] == "request_too_large"
            await still_serves(f"http://{host}:{port}")
    first, second = store.exchanges()
    assert store.request_body(first) == body[:100_000]
    assert first.status == 413 and first.error is not None and "100000" in first.error
    assert second.status == 200


async def test_a_failing_handler_answers_500_and_keeps_serving(
    sink, store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> object:
        raise ValueError("boom")

    with monkeypatch.context() as m:
        m.setattr(server_module, "sink_reply", broken)
        with caplog.at_level(logging.CRITICAL, logger="promptwitness.capture"):
            async with aiohttp.ClientSession() as client:
                async with client.post(sink.url + "/v1/messages", data=GOOD) as resp:
                    assert resp.status == 500
                    payload = await resp.json()
    assert payload["error"]["type"] == "capture_error"
    await still_serves(sink.url)
    await sink.server.flush()
    first, second = store.exchanges()
    assert first.status == 500 and first.error == "capture server failed: ValueError: boom"
    assert store.request_body(first) == GOOD
    assert second.status == 200 and second.error is None


async def test_garbage_before_http_does_not_stop_the_server(sink, wire) -> None:
    data = await wire.roundtrip(
        sink.host, sink.port, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
    )
    assert data == b"" or data.startswith((b"HTTP/1.0 400", b"HTTP/1.1 400"))
    await still_serves(sink.url)


async def test_many_bad_requests_in_a_row(sink, store: Store) -> None:
    bodies = [random_bytes(n, n) for n in (0, 1, 7, 100, 5000)]
    async with aiohttp.ClientSession() as client:
        for body in bodies:
            for target in (
                "/v1/messages",
                "/v1/chat/completions",
                "/v1beta/models/g:generateContent",
            ):
                async with client.post(sink.url + target, data=body) as resp:
                    assert resp.status in (200, 400, 404)
                    await resp.read()
    await still_serves(sink.url)
    await sink.server.flush()
    xs = store.exchanges()
    assert len(xs) == len(bodies) * 3 + 1
    assert [store.request_body(x) for x in xs[:-1]] == [b for b in bodies for _ in range(3)]
