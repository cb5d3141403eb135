"""What the HTTP parser rejects is stored, raw, with its framing error, and answered.

A real ``promptwitness serve`` (sink mode, loopback), raw sockets sending what no
well-behaved client sends. Each attack once left no trace (a 400 from aiohttp, nothing
stored), or no answer at all (a bad chunk in a later packet).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptwitness.capture.framing import lenient_head
from promptwitness.store import Store

SECRET = "sk-ant-api03-framingSECRETabcdefghijklmnop"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def serve(tmp_path: Path) -> Iterator[tuple[int, Path, subprocess.Popen[bytes]]]:
    port, store = _free_port(), tmp_path / "store"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "promptwitness",
            "serve",
            "--listen",
            f"127.0.0.1:{port}",
            "--store",
            str(store),
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        raise AssertionError(proc.communicate()[1].decode())
    try:
        yield port, store, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.communicate(timeout=30)


def _send(port: int, *parts: bytes, pause: float = 0.2) -> tuple[bytes, float]:
    """Send ``parts`` (a pause between them), return the answer's first bytes and how
    long it took to come."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        for i, part in enumerate(parts):
            if i:
                time.sleep(pause)
            s.sendall(part)
        t0 = time.monotonic()
        try:
            data = s.recv(65536)
        except TimeoutError:
            data = b""
        return data, time.monotonic() - t0


def _stop(proc: subprocess.Popen[bytes]) -> str:
    proc.terminate()
    _, err = proc.communicate(timeout=30)
    return err.decode(errors="replace")


MALFORMED = [
    pytest.param(b"GARBAGE LINE\r\n\r\n", id="request-line"),
    pytest.param(b"GET / HTTP/1.1\r\nBad Header Name: x\r\n\r\n", id="header-name"),
    pytest.param(b"GET /\x00x HTTP/1.1\r\nHost: a\r\n\r\n", id="nul-in-target"),
    pytest.param(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", id="tls-to-http"),
    pytest.param(
        b"POST /v1/messages HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n", id="content-length"
    ),
    pytest.param(
        b"POST /v1/messages HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n",
        id="cl-and-te",
    ),
]


@pytest.mark.parametrize("raw", MALFORMED)
def test_a_rejected_request_is_stored_raw_and_answered(
    serve: tuple[int, Path, subprocess.Popen[bytes]], raw: bytes
) -> None:
    port, store, proc = serve
    answer, _ = _send(port, raw)
    assert answer.startswith(b"HTTP/1.") and b" 400 " in answer.split(b"\r\n")[0]
    ok, _ = _send(port, b"POST /v1/messages HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}")
    assert ok.startswith(b"HTTP/1.1 ")  # the server keeps serving
    err = _stop(proc)
    assert "Traceback" not in err
    with Store.open(store) as s:
        xs = s.exchanges()
        assert len(xs) == 2, [x.error for x in xs]
        first = xs[0]
        assert first.status == 400 and first.error and first.error.startswith("request framing")
        assert s.request_body(first) == raw
        assert s.response_body(first)  # the 400's text, as answered


def test_a_credential_in_a_rejected_request_is_redacted_everywhere(
    serve: tuple[int, Path, subprocess.Popen[bytes]],
) -> None:
    port, store, proc = serve
    raw = (
        b"POST /v1/messages HTTP/1.1\r\nHost: a\nX-Api-Key: "
        + SECRET.encode()
        + b"\r\nContent-Length: 2\r\n\r\n{}"
    )
    answer, _ = _send(port, raw)
    assert b" 400 " in answer.split(b"\r\n")[0]
    err = _stop(proc)
    assert SECRET not in err and "Traceback" not in err
    with Store.open(store) as s:
        (x,) = s.exchanges()
        body = s.request_body(x)
        assert SECRET.encode() not in body and b"pw-redacted:" in body
        assert SECRET not in (x.error or "") and x.method == "POST"
        assert SECRET not in repr(x.request_headers)
    for f in store.iterdir():  # nothing of it in clear in any of the store's files
        assert SECRET.encode() not in f.read_bytes()


def test_a_bad_chunk_in_a_later_packet_is_answered_at_once(
    serve: tuple[int, Path, subprocess.Popen[bytes]],
) -> None:
    port, store, proc = serve
    head = b"POST /v1/messages HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    answer, waited = _send(port, head + b"5\r\nhello\r\n", b"zz\r\nbad\r\n0\r\n\r\n")
    assert b" 400 " in answer.split(b"\r\n")[0], answer
    assert waited < 2.0
    ok, _ = _send(port, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert b" 200 " in ok.split(b"\r\n")[0]
    err = _stop(proc)
    assert "Traceback" not in err and "Unhandled exception" not in err
    with Store.open(store) as s:
        xs = s.exchanges()
        assert len(xs) == 2  # one exchange for the bad chunk, not two
        bad = xs[0]
        assert bad.status == 400 and bad.error and "framing" in bad.error
        assert "client disconnected" not in bad.error
        assert s.request_body(bad) == b"hello"


@given(st.binary(max_size=2048))
def test_lenient_head_never_raises(raw: bytes) -> None:
    method, target, version, headers = lenient_head(raw)
    assert isinstance(method, str) and isinstance(target, str) and isinstance(version, str)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in headers)


def test_lenient_head_reads_what_it_can() -> None:
    assert lenient_head(b"POST /v1/x HTTP/1.1\r\nHost: a\nX-Key:  v \r\n\r\nbody") == (
        "POST",
        "/v1/x",
        "1.1",
        [("Host", "a"), ("X-Key", "v")],
    )
    assert lenient_head(b"\x16\x03\x01") == ("", "", "", [])
