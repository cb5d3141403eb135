"""``kill -9`` under load loses no exchange whose answer was sent.

The real ``promptwitness serve`` (a subprocess in its own process group), 8 client
threads on loopback, each sending requests with a unique id on a keep-alive connection
and noting every id whose answer it received *in full* (the whole chunked stream or every
byte of the content-length). Then SIGKILL, mid-load: the server process alone (its
writer process, if any, is orphaned) or the whole process group (server and writer at
once). Every fully answered id must be in the store: an answer's last bytes leave only
after its exchange is committed (SQLite WAL: a committed transaction survives the death
of the process). Sink mode (streamed and JSON answers) and pass-through to a stand-in
upstream on loopback; the writer process (``serve``'s default) and ``--writer thread``.
Bounded: at most ``MAX_PER_CLIENT`` requests per client and ``LOAD_SECONDS`` of load.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from promptwitness.store import Store

CLIENTS = 8
MAX_PER_CLIENT = 5000  # a bound only: the kill comes first
LOAD_SECONDS = 1.0  # of load before the kill
ID = re.compile(rb"kill9-id-(\d+)-(\d+)\.")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _body(client: int, n: int) -> bytes:
    return json.dumps(
        {
            "model": "m",
            "max_tokens": 5,
            "stream": n % 2 == 0,  # streamed and JSON answers
            "messages": [{"role": "user", "content": f"kill9-id-{client}-{n}."}],
        }
    ).encode()


class _Upstream(BaseHTTPRequestHandler):
    """A stand-in provider: an SSE stream for streamed requests, else JSON."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        n = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(n)
        if b'"stream": true' in body:
            events = [
                b'event: message_start\ndata: {"type":"message_start"}\n\n',
                b'event: content_block_delta\ndata: {"type":"content_block_delta",'
                b'"delta":{"type":"text_delta","text":"hi"}}\n\n',
                b'event: message_stop\ndata: {"type":"message_stop"}\n\n',
            ]
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            for ev in events:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(ev), ev))
            self.wfile.write(b"0\r\n\r\n")
        else:
            answer = json.dumps(
                {"type": "message", "content": [{"type": "text", "text": "hi"}]}
            ).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(x) for x in (task / "children").read_text().split()]
    return out


def _gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def _ready(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Wait until ``serve`` on ``port`` answers a first request (not counted)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/")
            c.getresponse().read()
            c.close()
            return
        except OSError:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.05)


def _client(port: int, client: int, stop: threading.Event, answered: list[str]) -> None:
    """Requests back to back on one keep-alive connection; notes the ids answered in
    full. Any error (the server is gone) ends the client."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for n in range(MAX_PER_CLIENT):
            if stop.is_set():
                return
            conn.request(
                "POST",
                "/v1/messages",
                body=_body(client, n),
                headers={"content-type": "application/json"},
            )
            resp = conn.getresponse()
            data = resp.read()  # raises IncompleteRead unless the answer is complete
            assert resp.status == 200, data
            answered.append(f"{client}-{n}")
    except (OSError, http.client.HTTPException):
        return  # killed mid-answer: not counted
    finally:
        conn.close()


def run_and_kill(
    tmp_path: Path,
    *,
    writer: str,
    kill: str,
    upstream: str | None = None,
    src: str | None = None,
) -> tuple[set[str], set[str]]:
    """Serve, load, SIGKILL; returns (ids answered in full, ids stored)."""
    store = tmp_path / "store"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    if src is not None:  # another source tree (to see the test fail on an old one)
        env["PYTHONPATH"] = src
    cmd = [
        sys.executable,
        "-m",
        "promptwitness",
        "serve",
        "--store",
        str(store),
        "--listen",
        f"127.0.0.1:{port}",
        "--writer",
        writer,
    ]
    if upstream is not None:
        cmd += ["--upstream", upstream]
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, start_new_session=True
    )  # its own process group
    writer_pids: list[int] = []
    try:
        _ready(proc, port, tmp_path / "serve.log")
        writer_pids = _children(proc.pid)
        assert len(writer_pids) == (1 if writer == "process" else 0)
        stop = threading.Event()
        answered: list[str] = []
        threads = [
            threading.Thread(target=_client, args=(port, i, stop, answered), daemon=True)
            for i in range(CLIENTS)
        ]
        for t in threads:
            t.start()
        t0 = time.monotonic()
        while time.monotonic() - t0 < LOAD_SECONDS and any(t.is_alive() for t in threads):
            time.sleep(0.01)
        mid_load = sum(t.is_alive() for t in threads)
        if kill == "group":
            os.killpg(proc.pid, signal.SIGKILL)  # the server and its writer process at once
        else:
            os.kill(proc.pid, signal.SIGKILL)  # the server alone
        killed_at = len(answered)
        stop.set()
        for t in threads:
            t.join(15)
        assert not any(t.is_alive() for t in threads)
        proc.wait(15)
        assert proc.returncode == -signal.SIGKILL
        for pid in writer_pids:  # orphaned: it finishes its batch and exits on EOF
            assert _gone(pid, 30), f"the writer process {pid} outlived its server"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(15)
        for pid in writer_pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)  # only if the test failed: it is gone
        log.close()
    assert killed_at >= CLIENTS * 5, f"only {killed_at} answers before the kill: no load"
    assert mid_load == CLIENTS, "the clients were done before the kill"
    with Store.open(store) as st:
        stored = {
            f"{m.group(1).decode()}-{m.group(2).decode()}"
            for x in st.exchanges()
            if (m := ID.search(st.request_body(x)))
        }
    return set(answered), stored


@pytest.mark.parametrize(
    ("writer", "kill"),
    [("process", "server"), ("process", "group"), ("thread", "server")],
)
def test_kill9_mid_load_loses_no_answered_exchange_sink(
    tmp_path: Path, writer: str, kill: str
) -> None:
    answered, stored = run_and_kill(tmp_path, writer=writer, kill=kill)
    missing = sorted(answered - stored)
    assert not missing, f"{len(missing)} of {len(answered)} answered exchanges not stored"


@pytest.mark.parametrize(("writer", "kill"), [("process", "group"), ("thread", "server")])
def test_kill9_mid_load_loses_no_answered_exchange_pass_through(
    tmp_path: Path, upstream: str, writer: str, kill: str
) -> None:
    answered, stored = run_and_kill(tmp_path, writer=writer, kill=kill, upstream=upstream)
    missing = sorted(answered - stored)
    assert not missing, f"{len(missing)} of {len(answered)} answered exchanges not stored"
