"""Request bodies sent with a Content-Encoding (issue 11, section 2), for real: a sink on
127.0.0.1, a real store, the CLI's show/diff, the HAR export. A coded model call is
answered like a plain one; no secret inside a coded body reaches the store or a HAR
file, in any form; a decompression bomb is a recorded error, not an outage."""

from __future__ import annotations

import base64
import gzip
import io
import json
import sqlite3
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import brotli
import pytest
import zstandard

from promptwitness.capture.har import export_har
from promptwitness.capture.server import CaptureServer, ServerConfig
from promptwitness.cli import main
from promptwitness.ledger.log import Ledger
from promptwitness.protocols import DEFAULT_ANSWER, rebuild_answer
from promptwitness.protocols.encoding import MAX_DECODED, decode_body
from promptwitness.store import Store

pytestmark = pytest.mark.usefixtures("no_server_errors")

OPENAI = "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z" * 2
GOOGLE = "AIzaSyA-1234567890abcdefghijklmnopqrstu"
FIELD = "hunter2-correct-horse-9"
ESCAPED = "sk-ant-api03-" + "Zq9xWv8uTs7rQp6oNm5lKj4i"
SECRETS = (OPENAI, GOOGLE, FIELD, ESCAPED)


def body(question: str = "Hi") -> bytes:
    doc = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 64,
        "stream": False,
        "metadata": {"api_key": FIELD},
        "messages": [{"role": "user", "content": f"{question}: {OPENAI} {GOOGLE} ESC"}],
    }
    text = json.dumps(doc)
    # a key written with a JSON escape inside it: sk\u002dant-…
    return text.replace("ESC", ESCAPED.replace("-", "\\u002d", 1)).encode()


def raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


CODINGS = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "raw-deflate": raw_deflate,
    "br": brotli.compress,
    "zstd": zstandard.ZstdCompressor().compress,
    "gzip, br": lambda b: brotli.compress(gzip.compress(b)),
}


def header(coding: str) -> str:
    return "deflate" if coding == "raw-deflate" else coding


def every_decoding(data: bytes) -> Iterator[bytes]:
    """``data``, and whatever any content coding (or two) makes of it."""
    yield data
    for first in ("gzip", "deflate", "br", "zstd"):
        d = decode_body(data, first)
        if d.body and d.body != data:
            yield d.body
            for second in ("gzip", "deflate", "br", "zstd"):
                d2 = decode_body(d.body, second)
                if d2.body and d2.body != d.body:
                    yield d2.body


def assert_no_secret_in_store(root: Path) -> None:
    """Grep the SQLite files themselves, then every blob zstd-decompressed and decoded
    with every content coding."""
    for f in root.iterdir():
        data = f.read_bytes()
        for secret in SECRETS:
            assert secret.encode() not in data, (f.name, secret)
    conn = sqlite3.connect(root / "promptwitness.sqlite3")
    try:
        rows = conn.execute("SELECT data, compression FROM blobs").fetchall()
        texts = conn.execute(
            "SELECT request_headers, redactions, coalesce(request_coding, '') FROM exchanges"
        ).fetchall()
    finally:
        conn.close()
    for data, compression in rows:
        raw = bytes(data)
        if compression == "zstd":
            raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw)).read()
        for view in every_decoding(raw):
            for secret in SECRETS:
                assert secret.encode() not in view, secret
                assert secret.replace("-", "\\u002d", 1).encode() not in view, secret
    for row in texts:
        for secret in SECRETS:
            assert all(secret not in str(v) for v in row)


Served = tuple[str, CaptureServer]
Answer = tuple[int, bytes, list[tuple[str, str]]]


@pytest.fixture(params=["thread", "process"])
async def server(request: pytest.FixtureRequest, store: Store) -> AsyncIterator[Served]:
    srv = CaptureServer(store, ServerConfig(writer=request.param))
    host, port = await srv.start()
    try:
        yield f"http://{host}:{port}", srv
    finally:
        await srv.stop()


async def post(url: str, data: object, coding: str | None) -> Answer:
    headers = {
        "Content-Type": "application/json",
        "anthropic-version": "2023-06-01",
        "X-Auth": "Bearer tok-abcdef123456",
        "X-Access-Key": "AKx-ghijkl789012",
    }
    if coding is not None:
        headers["Content-Encoding"] = coding
    async with aiohttp.ClientSession(auto_decompress=False) as client:
        async with client.post(url + "/v1/messages", data=data, headers=headers) as resp:
            got = await resp.read()
            return resp.status, got, list(resp.headers.items())


def cli(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> tuple[int, str]:
    code = main([args[0], "--store", str(root), *args[1:]])
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize("coding", sorted(CODINGS))
async def test_a_coded_model_call_is_answered_stored_redacted_and_readable(
    server: Served,
    store: Store,
    coding: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, srv = server
    plain = body()
    status, got, headers = await post(url, CODINGS[coding](plain), header(coding))
    assert status == 200, got
    answer = rebuild_answer("anthropic", status, tuple(headers), got)
    assert answer.text == DEFAULT_ANSWER and answer.error is None
    # the same request, plain, for diff
    status, _, _ = await post(url, body("Hello"), None)
    assert status == 200
    await srv.flush()

    coded, other = store.exchanges()
    assert coded.protocol == "anthropic" and coded.parse_error is None, coded.parse_error
    meta = coded.request_coding
    assert meta is not None and meta["coding"] == header(coding)
    assert meta["stored"] == "re-encoded" and meta["decoded_size"] == len(plain)
    hdrs = dict(coded.request_headers)
    assert hdrs["X-Auth"].startswith("Bearer pw-redacted:")
    assert hdrs["X-Access-Key"].startswith("pw-redacted:")

    assert_no_secret_in_store(store.root)
    report = Ledger(store).verify()  # the leaves were computed with the new column there
    assert not report.problems, report.problems
    har = json.dumps(export_har(store, store.exchanges()))
    post_data = json.loads(har)["log"]["entries"][0]["request"]["postData"]
    exported = (
        base64.b64decode(post_data["text"])
        if post_data.get("_encoding") == "base64"
        else post_data["text"].encode()
    )
    for view in [har.encode(), *every_decoding(exported)]:
        for secret in SECRETS:
            assert secret.encode() not in view, secret

    code, out = cli(capsys, store.root, "show", str(coded.id))
    assert code == 0, out
    assert f"content coding {header(coding)}, " in out and " → " in out
    assert "\ufffd" not in out and "parse error" not in out
    code, out = cli(capsys, store.root, "show", "--segments", str(coded.id))
    assert code == 0, out
    assert "pw-redacted:" in out
    code, out = cli(capsys, store.root, "diff", str(coded.id), str(other.id))
    assert code == 1, out  # they differ (the question), and the diff ran
    assert "messages[0].content[0].text" in out


def gzip_bomb(total: int = 10 * 10**9, block: int = 16 << 20) -> Iterator[bytes]:
    """``total`` zero bytes gzipped, streamed: one fully flushed deflate block of
    ``block`` zeros compresses to the same bytes every time, so it is made once and
    repeated (~10 MB on the wire for 10 GB). The trailer's CRC is not computed (4 s of
    CPU): no decoder gets that far."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(block)
    first = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    repeated = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
    yield first
    n = total // block
    for _ in range(n - 1):
        yield repeated
    yield b"\x03\x00" + (0).to_bytes(4, "little") + ((n * block) % 2**32).to_bytes(4, "little")


async def test_a_decompression_bomb_is_an_error_and_the_server_keeps_serving(
    server: Served,
    store: Store,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, srv = server

    async def stream() -> AsyncIterator[bytes]:
        for chunk in gzip_bomb():
            yield chunk

    status, got, _ = await post(url, stream(), "gzip")
    assert status == 400
    assert b"too-large" in got or b"more than" in got, got
    # the next request is served as usual
    status, got, _ = await post(url, gzip.compress(body()), "gzip")
    assert status == 200, got
    await srv.flush()

    bomb, ok = store.exchanges()
    assert bomb.request_size < 20 * 10**6  # the bytes received, not 10 GB
    meta = bomb.request_coding
    assert meta is not None and meta["error_kind"] == "too-large"
    assert meta["stored"] == "received" and meta["decoded_size"] == MAX_DECODED
    assert bomb.parse_error is not None and "more than" in bomb.parse_error
    assert ok.parse_error is None and ok.request_coding is not None
    code, out = cli(capsys, store.root, "show", str(bomb.id))
    assert code == 0, out
    assert "content coding error" in out and "more than" in out
    assert len(out) < 200_000  # no 64 MB of markers


async def test_a_corrupt_coded_body_is_a_400_and_shown_as_a_hex_summary(
    sink: Any,
    store: Store,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = sink.url
    garbage = bytes(range(256)) * 40
    status, got, _ = await post(url, garbage, "br")
    assert status == 400 and b"cannot be decoded" in got
    await sink.server.flush()
    [x] = store.exchanges()
    assert x.request_coding is not None and x.request_coding["stored"] == "received"
    code, out = cli(capsys, store.root, "show", str(x.id))
    assert code == 0
    assert "not UTF-8 text" in out and "first 32 bytes:" in out
    assert out.count("\ufffd") < 10 and out.count("⟦") < 50
