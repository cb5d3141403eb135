"""``promptwitness serve`` with its writer process, for real: a subprocess gateway whose
redaction and storage run in a child process. Every exchange is stored, a known secret
never reaches the store, a client that goes away mid-upload is still recorded, SIGTERM
flushes everything, and a writer process that dies is reported while the server goes on
storing in its own process."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from promptwitness.store import Store

SECRET = "sk-serve-known-secret-4242424242"  # in serve's environment: a known secret


@dataclass
class Serve:
    proc: subprocess.Popen[bytes]
    port: int
    store: Path

    def children(self) -> list[int]:
        out: list[int] = []
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            out += [int(x) for x in (task / "children").read_text().split()]
        return out

    def stop(self) -> tuple[str, str]:
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=60)
        return out.decode(), err.decode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(port: int, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/messages",
        data=body,
        headers={"content-type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
        return bytes(resp.read())


def body(i: int) -> bytes:
    return json.dumps(
        {
            "model": "m",
            "max_tokens": 5,
            "messages": [{"role": "user", "content": f"turn {i}: my key is {SECRET}"}],
        }
    ).encode()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    port = _free_port()
    store = tmp_path / "store"
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env["GATEWAY_TEST_API_KEY"] = SECRET
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "promptwitness",
            "serve",
            "--store",
            str(store),
            "--listen",
            f"127.0.0.1:{port}",
        ],  # --writer auto: a process for an SQLite store
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    srv = Serve(proc, port, store)
    try:
        for _ in range(200):
            try:
                post(port, body(0))
                break
            except OSError as exc:
                if proc.poll() is not None:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    raise AssertionError(err) from exc
                time.sleep(0.05)
        else:
            raise AssertionError("serve did not answer")
        yield srv
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)


def stored(store: Path) -> tuple[list[str], bytes]:
    """(the stored targets with their errors, every stored header and body byte)."""
    with Store.open(store) as st:
        rows = st.exchanges()
        text = b"".join(
            repr(x.request_headers).encode()
            + x.target.encode()
            + st.request_body(x)
            + st.response_body(x)
            for x in rows
        )
        return [f"{x.target} {x.error or ''}".strip() for x in rows], text


def test_serve_stores_every_exchange_redacted_and_flushes_on_sigterm(serve: Serve) -> None:
    assert len(serve.children()) == 1  # the writer process
    for i in range(1, 40):
        assert b"Hello from promptwitness." in post(
            serve.port, body(i), {"x-api-key": "sk-ant-header-only-1234567890"}
        )
    # a client that goes away in the middle of its upload
    with socket.create_connection(("127.0.0.1", serve.port)) as s:
        s.sendall(
            b"POST /v1/messages HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
            b"content-length: 5000\r\n\r\n" + body(99)[:100]
        )
        time.sleep(0.2)
    out, err = serve.stop()  # SIGTERM right away: everything must be flushed
    assert serve.proc.returncode == 0, err
    assert "writer process" in err
    assert "41 exchanges" in err
    targets, text = stored(serve.store)
    assert len(targets) == 41
    assert any("client disconnected" in t for t in targets)
    assert SECRET.encode() not in text
    assert b"sk-ant-header-only-1234567890" not in text
    assert b"pw-redacted:" in text
    # serve printed each exchange with its stored id
    assert len(re.findall(r"^#\d+ POST ", err, re.M)) == 41
    assert SECRET not in err


def test_a_dead_writer_process_is_reported_and_nothing_is_lost(serve: Serve) -> None:
    for i in range(1, 10):
        post(serve.port, body(i))
    (child,) = serve.children()
    os.kill(child, signal.SIGKILL)
    for i in range(10, 30):
        post(serve.port, body(i))
    time.sleep(0.8)  # serve checks the writer every 0.5 s
    out, err = serve.stop()
    assert serve.proc.returncode == 0, err
    assert "error: the writer process" in err
    assert "storing in the server process from now on" in err
    targets, text = stored(serve.store)
    assert len(targets) == 30
    for i in range(30):  # each exchange stored exactly once
        assert text.count(b"turn %d:" % i) == 1, i
    assert SECRET.encode() not in text
    assert "30 exchanges" in err


def test_serve_prints_each_stored_exchange_while_it_serves(serve: Serve) -> None:
    """The per-exchange lines are written while serving (queued, a few times a second),
    not held back until the end."""
    import select

    assert serve.proc.stderr is not None
    fd = serve.proc.stderr.fileno()
    for i in range(1, 4):
        post(serve.port, body(i))
    seen = b""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(re.findall(rb"^#\d+ POST ", seen, re.M)) < 4:
        ready, _w, _x = select.select([fd], [], [], 0.5)
        if ready:
            seen += os.read(fd, 65536)
    assert serve.proc.poll() is None  # still serving
    lines = re.findall(rb"^#\d+ POST 127\.0\.0\.1:\d+/v1/messages \xe2\x86\x92 200 ", seen, re.M)
    assert len(lines) == 4, seen.decode(errors="replace")  # the fixture's first request too
