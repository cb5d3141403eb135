#!/usr/bin/env python3
"""Capture-server benchmarks: added latency, throughput and stored bytes, in one run.

Run with the project venv from the checkout root::

    .venv/bin/python benchmarks/capture_bench.py            # full run (~3-4 minutes)
    .venv/bin/python benchmarks/capture_bench.py --quick    # smoke run (~1 minute)
    .venv/bin/python benchmarks/capture_bench.py --profile 500   # cProfile the server only

Rules of this script:
- Loopback only: every listener binds 127.0.0.1 and every connection goes to it. After
  each phase the TCP sockets of every child process are read from /proc and any peer
  that is not loopback is reported (and fails the run).
- One process per server: the stand-in upstream (a minimal asyncio server), promptwitness
  and each mitmdump run in their own process; the client (raw asyncio streams,
  hand-written HTTP/1.1) runs in this one. The same client code talks to every target.
- promptwitness is measured as users run it: the real ``promptwitness serve --upstream
  URL`` command (its writer process, its line per stored exchange to its log). Only the
  experiments (``--pw-writer null``, ``--pw-loop``, ``--pw-switch-interval``,
  ``--profile``) run ``CaptureServer`` inside this script's promptwitness role.
- Latency is paired: each round sends one request to every target, in a shuffled order,
  over one keep-alive connection per target, so the targets see the same machine state.
- Everything measured is printed in one table and written to
  ``benchmarks/results/latest.json``.

The script re-runs itself with ``--role upstream|promptwitness`` to start the servers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import dataclasses
import gc
import io
import itertools
import json
import os
import platform
import pstats
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BEFORE = "promptwitness-before"
ACK_AFTER = "promptwitness-ack-after"
"""The target of ``--pw-ack-after-too``: ``serve --ack-after-answer``."""
"""The target of ``--baseline-src``: the same command from another source tree."""
RESULTS = HERE / "results"
MITM_VENV = HERE / ".venv-mitm"
MITMDUMP = MITM_VENV / "bin" / "mitmdump"
PY_SPY = MITM_VENV / "bin" / "py-spy"
LOOPBACK = "127.0.0.1"
DB_NAME = "promptwitness.sqlite3"

TARGETS = {
    "added_p50_ms": 1.0,
    "added_p99_ms": 5.0,
    "throughput_ratio": 3.0,
    "stored_bytes_per_repeat": 5 * 1024,
}

# -- the workload ----------------------------------------------------------------------

_WORDS = (
    "the agent must read file edit run test command tool result user assistant when "
    "always never before after output input path directory repository branch commit "
    "change review search pattern line number string value return error warning note "
    "important instruction system prompt context model token cache budget limit time "
    "shell bash python javascript typescript rust function class method module package "
    "install build lint format check verify ensure prefer avoid use do not unless only "
    "with without from into onto each every any all some none first last next previous"
).split()


def _prose(rng: random.Random, n_words: int) -> str:
    words = [rng.choice(_WORDS) for _ in range(n_words)]
    out: list[str] = []
    for i in range(0, len(words), 14):
        sentence = " ".join(words[i : i + 14])
        out.append(sentence[:1].upper() + sentence[1:] + ".")
    return " ".join(out)


def make_request_body(size: int = 100 * 1024, seed: int = 7) -> bytes:
    """A realistic Anthropic Messages request: system prompt, tool schemas, one turn.

    Deterministic for a seed; padded with system-prompt prose to ``size`` bytes exactly
    (JSON, compact separators, like the SDKs send).
    """
    rng = random.Random(seed)
    tools = []
    for i in range(24):
        props = {
            f"{rng.choice(_WORDS)}_{j}": {
                "type": rng.choice(["string", "integer", "boolean"]),
                "description": _prose(rng, 18),
            }
            for j in range(rng.randint(2, 6))
        }
        tools.append(
            {
                "name": f"{rng.choice(_WORDS).capitalize()}{rng.choice(_WORDS).capitalize()}{i}",
                "description": _prose(rng, rng.randint(80, 260)),
                "input_schema": {
                    "type": "object",
                    "properties": props,
                    "required": sorted(props)[:1],
                    "additionalProperties": False,
                    "$schema": "http://json-schema.org/draft-07/schema#",
                },
            }
        )
    doc: dict[str, Any] = {
        "model": "claude-sonnet-4-5-20250929",
        "max_tokens": 32000,
        "stream": True,
        "system": [
            {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
            {"type": "text", "text": "", "cache_control": {"type": "ephemeral"}},
        ],
        "tools": tools,
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "text",
                        "text": "<system-reminder>" + _prose(rng, 60) + "</system-reminder>",
                    },
                    {
                        "type": "text",
                        "text": "Fix the failing test in tests/test_parser.py please.",
                    },
                ],
            }
        ],
        "metadata": {"user_id": "user_3f2a" + "0" * 56 + "_account__session_5b1c"},
    }

    def encode() -> bytes:
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()

    missing = size - len(encode())
    if missing < 0:
        raise SystemExit(f"request skeleton is already {size - missing} bytes > {size}")
    text = _prose(rng, missing // 5 + 50).encode()[:missing].decode("ascii")
    doc["system"][1]["text"] = text
    body = encode()
    assert len(body) == size, (len(body), size)
    return body


REQUEST_HEADERS = (
    ("accept", "application/json"),
    ("anthropic-beta", "claude-code-20250219,interleaved-thinking-2025-05-14"),
    ("anthropic-dangerous-direct-browser-access", "true"),
    ("anthropic-version", "2023-06-01"),
    ("content-type", "application/json"),
    ("user-agent", "claude-cli/2.0.14 (external, cli)"),
    ("x-api-key", "sk-ant-api03-benchmarkbenchmarkbenchmarkbenchmarkbenchmarkbench-AA"),
    ("x-app", "cli"),
    ("x-stainless-arch", "x64"),
    ("x-stainless-lang", "js"),
    ("x-stainless-os", "Linux"),
    ("x-stainless-package-version", "0.60.0"),
    ("x-stainless-retry-count", "0"),
    ("x-stainless-runtime", "node"),
    ("x-stainless-runtime-version", "v22.11.0"),
    ("x-stainless-timeout", "600"),
)


def build_request(port: int, body: bytes) -> bytes:
    head = [f"POST /v1/messages HTTP/1.1\r\nhost: {LOOPBACK}:{port}\r\n"]
    head += [f"{k}: {v}\r\n" for k, v in REQUEST_HEADERS]
    head.append(f"content-length: {len(body)}\r\nconnection: keep-alive\r\n\r\n")
    return "".join(head).encode() + body


_DELTAS = ("I'll look", " at the failing", " test first", " and then run", " the suite", ".")


def sse_events(n: int, input_bytes: int) -> list[bytes]:
    """An Anthropic streamed answer: message_start ... message_stop, 12 events."""
    mid = f"msg_01Bench{n:016d}"

    def ev(name: str, data: dict[str, Any]) -> bytes:
        return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()

    out = [
        ev(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": mid,
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-sonnet-4-5-20250929",
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": input_bytes // 4,
                        "cache_creation_input_tokens": 0,
                        "cache_read_input_tokens": 0,
                        "output_tokens": 1,
                        "service_tier": "standard",
                    },
                },
            },
        ),
        ev(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        ev("ping", {"type": "ping"}),
    ]
    for d in _DELTAS:
        out.append(
            ev(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": d},
                },
            )
        )
    out += [
        ev("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ev(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 14},
            },
        ),
        ev("message_stop", {"type": "message_stop"}),
    ]
    return out


# -- the server roles (child processes) ------------------------------------------------


def _announce(port: int) -> None:
    sys.stdout.write(json.dumps({"ready": True, "port": port}) + "\n")
    sys.stdout.flush()


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


class _RawUpstream(asyncio.Protocol):
    """The local stand-in for the provider, as light as it can be: HTTP/1.1 keep-alive,
    ``content-length`` request bodies, the same answer as the aiohttp upstream (same
    headers, chunked, one write and one HTTP chunk per SSE event). A real provider's CPU
    is not on your machine; on 2 shared cores every µs the stand-in spends is taken
    from the proxy under test, so it spends as few as it can."""

    counter = itertools.count(1)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.buf = bytearray()
        self.need: int | None = None  # total bytes of the current request, once known

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            if self.need is None:
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                length = 0
                for line in bytes(self.buf[:end]).split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                self.need = end + 4 + length
                self.body_len = length
            if len(self.buf) < self.need:
                return
            del self.buf[: self.need]
            self.need = None
            self._answer(self.body_len)

    def _answer(self, body_len: int) -> None:
        n = next(self.counter)
        t: Any = self.transport
        t.write(
            b"HTTP/1.1 200 OK\r\n"
            b"Content-Type: text/event-stream; charset=utf-8\r\n"
            b"Cache-Control: no-cache\r\n"
            + f"request-id: req_01Bench{n:016d}\r\n".encode()
            + b"anthropic-ratelimit-input-tokens-remaining: 400000\r\n"
            b"anthropic-ratelimit-tokens-remaining: 480000\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        for chunk in sse_events(n, body_len):  # one write, one HTTP chunk, per event
            t.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        t.write(b"0\r\n\r\n")


async def role_upstream_raw(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_RawUpstream, LOOPBACK, port, backlog=1024)
    _announce(server.sockets[0].getsockname()[1])
    await _until_signalled()
    server.close()
    await server.wait_closed()


async def role_upstream(port: int) -> None:
    from aiohttp import web

    counter = itertools.count(1)

    async def messages(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        n = next(counter)
        resp = web.StreamResponse(
            status=200,
            headers={
                "content-type": "text/event-stream; charset=utf-8",
                "cache-control": "no-cache",
                "request-id": f"req_01Bench{n:016d}",
                "anthropic-ratelimit-input-tokens-remaining": "400000",
                "anthropic-ratelimit-tokens-remaining": "480000",
            },
        )
        await resp.prepare(request)
        for chunk in sse_events(n, len(body)):  # one write, one HTTP chunk, per event
            await resp.write(chunk)
        await resp.write_eof()
        return resp

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/messages", messages)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, LOOPBACK, port, backlog=1024)
    await site.start()
    _announce(runner.addresses[0][1])
    await _until_signalled()
    await runner.cleanup()


class _NullStore:
    """``--pw-writer null``: stores nothing (the ceiling of the pass-through alone)."""

    def add(self, ex: object) -> int:
        return 1

    def salt(self) -> bytes:
        return bytes(32)


class _NullRedactor:
    def redact(self, ex: Any) -> Any:
        return ex


async def role_promptwitness(
    port: int,
    upstream: str,
    store_dir: str,
    switch_interval: float | None = None,
    writer: str = "process",
) -> None:
    if switch_interval:
        sys.setswitchinterval(switch_interval)
    from promptwitness.capture.redact import Redactor
    from promptwitness.capture.server import CaptureServer, ServerConfig
    from promptwitness.store import Store

    store = Store.open(Path(store_dir))
    if writer == "null":
        server = CaptureServer(
            _NullStore(), ServerConfig(upstream=upstream), redactor=_NullRedactor()
        )  # type: ignore[arg-type]
    else:
        server = CaptureServer(
            store,
            ServerConfig(upstream=upstream, writer=writer),  # type: ignore[arg-type] # "thread"/"process"
            redactor=Redactor(store.salt()),
        )
    _host, bound = await server.start(LOOPBACK, port)
    _announce(bound)
    await _until_signalled()
    await server.stop()
    stats = server.writer_stats() if hasattr(server, "writer_stats") else None
    if stats is not None:  # the writer's backlog, for --keep runs and the logs
        print("writer stats:", json.dumps(dataclasses.asdict(stats)), file=sys.stderr, flush=True)
    store.close()


def run_role(args: argparse.Namespace) -> None:
    if args.role == "upstream":
        if args.upstream_impl == "raw":
            asyncio.run(role_upstream_raw(args.port))
        else:
            asyncio.run(role_upstream(args.port))
        return
    profiler = cProfile.Profile() if args.profile_out else None
    if profiler is not None:
        profiler.enable()
    try:
        coro = role_promptwitness(
            args.port, args.upstream, args.store, args.pw_switch_interval, args.pw_writer
        )
        if args.pw_loop == "gateway":  # what `promptwitness serve` runs on
            from promptwitness.capture.loop import gateway_loop

            loop = gateway_loop()
            try:
                loop.run_until_complete(coro)
            finally:
                loop.close()
        elif args.pw_loop == "uvloop":
            import uvloop

            uvloop.run(coro)
        else:
            asyncio.run(coro)
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile_out)


# -- process handling ------------------------------------------------------------------


def _child_env(src: Path | None = None) -> dict[str, str]:
    """The children's environment; ``src``: the source tree whose ``promptwitness`` they
    import (default: this checkout's ``src``; ``--baseline-src`` gives another)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k.lower() not in {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
    }
    env["NO_PROXY"] = "*"
    env["PYTHONPATH"] = str(src or ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


@dataclass
class Child:
    name: str
    proc: asyncio.subprocess.Process
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


def pw_extra(args: argparse.Namespace) -> list[str]:
    si = args.pw_switch_interval
    extra = ["--pw-switch-interval", str(si)] if si else []
    if args.pw_writer != "process":
        extra += ["--pw-writer", args.pw_writer]
    if args.pw_loop != "gateway":
        extra += ["--pw-loop", args.pw_loop]
    return extra


def serve_is_measured(args: argparse.Namespace) -> bool:
    """The default configuration is measured as the real ``promptwitness serve`` command
    (a subprocess, its per-exchange lines written to its log); the experiments (``null``
    writer, another loop, a switch interval, cProfile) run ``CaptureServer`` in a role."""
    return args.pw_writer != "null" and args.pw_loop == "gateway" and not args.pw_switch_interval


async def start_pw(
    name: str,
    logdir: Path,
    args: argparse.Namespace,
    upstream_port: int,
    store: Path,
    writer: str | None = None,
    profile_out: Path | None = None,
    src: Path | None = None,
    serve_args: Sequence[str] = (),
) -> Child:
    """A promptwitness target: ``promptwitness serve`` (see ``serve_is_measured``), else
    this script's promptwitness role. ``src``: run the promptwitness of that source tree
    (``--baseline-src``; ``serve`` only)."""
    upstream = f"http://{LOOPBACK}:{upstream_port}"
    writer = writer or args.pw_writer
    if serve_is_measured(args) and profile_out is None:
        port = free_port()
        log = logdir / f"{name}.log"
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "promptwitness", "serve",
            "--listen", f"{LOOPBACK}:{port}", "--upstream", upstream, "--store", str(store),
            "--writer", writer, *(["--quiet"] if args.pw_quiet else []), *serve_args,
            stdin=subprocess.DEVNULL, stdout=log.open("wb"), stderr=subprocess.STDOUT,
            env=_child_env(src),
        )  # fmt: skip
        await wait_listening(port, proc, log)
        return Child(name, proc, port, log)
    if src is not None:
        raise SystemExit("--baseline-src measures `promptwitness serve` only (no experiment)")
    extra = ["--profile-out", str(profile_out)] if profile_out else []
    return await start_python_role(
        name, logdir, "--role", "promptwitness", "--port", "0", "--upstream", upstream,
        "--store", str(store), *extra, *pw_extra(args), "--pw-writer", writer,
    )  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


async def start_python_role(name: str, logdir: Path, *role_args: str) -> Child:
    log = logdir / f"{name}.log"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).resolve()),
        *role_args,
        stdout=asyncio.subprocess.PIPE,
        stderr=log.open("wb"),
        env=_child_env(),
    )
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
    except TimeoutError:
        line = b""
    if not line:
        await proc.wait()
        raise SystemExit(f"{name} did not start; its log:\n{log.read_text()}")
    return Child(name, proc, int(json.loads(line)["port"]), log)


async def wait_listening(port: int, proc: asyncio.subprocess.Process, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise SystemExit(f"process exited ({proc.returncode}); its log:\n{log.read_text()}")
        try:
            _r, w = await asyncio.open_connection(LOOPBACK, port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        w.close()
        with contextlib.suppress(OSError):
            await w.wait_closed()
        return
    raise SystemExit(f"nothing listening on {port}; log:\n{log.read_text()}")


def ensure_mitmdump() -> None:
    if not MITMDUMP.exists():
        print("mitmdump not found: running benchmarks/setup.sh", flush=True)
        subprocess.run(["bash", str(HERE / "setup.sh")], check=True)


def mitm_version() -> str:
    out = subprocess.run([str(MITMDUMP), "--version"], capture_output=True, text=True).stdout
    return out.splitlines()[0].split(":", 1)[1].strip() if out else "?"


async def start_mitmdump(name: str, logdir: Path, upstream_port: int, stream: bool) -> Child:
    port = free_port()
    confdir = logdir / f"{name}-conf"  # its CA lives here, not in ~/.mitmproxy
    confdir.mkdir(exist_ok=True)
    args = [
        "--mode",
        f"reverse:http://{LOOPBACK}:{upstream_port}@{port}",
        "--listen-host",
        LOOPBACK,
        "-q",
        "--set",
        f"confdir={confdir}",
        "--set",
        "flow_detail=0",
    ]
    if stream:
        args += ["--set", "stream_large_bodies=1"]
    log = logdir / f"{name}.log"
    proc = await asyncio.create_subprocess_exec(
        str(MITMDUMP),
        *args,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env=_child_env(),
    )
    await wait_listening(port, proc, log)
    return Child(name, proc, port, log)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads) and of its live descendants
    (promptwitness's writer process), from /proc."""
    return sum(_own_cpu(p) for p in (pid, *descendants(pid)))


def _own_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0  # it ended meanwhile
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """Live child processes of ``pid``, recursively (from /proc/PID/task/*/children)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids = [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            continue
        for k in kids:
            out += [k, *descendants(k)]
    return out


def children_cpu_seconds(pid: int) -> float:
    """CPU of ``pid``'s live descendants only (the writer process)."""
    return sum(_own_cpu(p) for p in descendants(pid))


def _loopback(addr_hex: str) -> bool:
    ip = addr_hex.split(":")[0]
    if len(ip) == 8:
        b = bytes.fromhex(ip)[::-1]
        return b[0] == 127 or b == b"\0\0\0\0"
    raw = bytes.fromhex(ip)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    if words == bytes(16) or words == bytes(15) + b"\1":
        return True
    return words[:12] == bytes(10) + b"\xff\xff" and words[12] == 127


def foreign_peers(pid: int) -> list[str]:
    """Remote addresses of this process's TCP sockets that are not loopback."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    bad = []
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/net/{table}") as f:
            for line in list(f)[1:]:
                cols = line.split()
                if cols[9] in inodes and not (_loopback(cols[1]) and _loopback(cols[2])):
                    bad.append(f"{table} {cols[1]} -> {cols[2]}")
    return bad


# -- the client (this process) ---------------------------------------------------------


class ProtocolError(Exception):
    pass


class Conn:
    """One keep-alive HTTP/1.1 connection; reads a response to its last byte."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.buf = bytearray()

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(LOOPBACK, self.port)
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf.clear()

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
            self.writer = self.reader = None

    async def _more(self) -> None:
        assert self.reader is not None
        data = await self.reader.read(262144)
        if not data:
            raise ProtocolError("connection closed mid-response")
        self.buf += data

    async def request(self, data: bytes) -> bytes:
        """Send ``data``; return the de-chunked response body once its last byte is in."""
        if self.writer is None:
            await self.open()
        assert self.writer is not None
        self.writer.write(data)
        await self.writer.drain()
        buf = self.buf
        while (end := buf.find(b"\r\n\r\n")) < 0:
            await self._more()
        head = bytes(buf[:end]).split(b"\r\n")
        del buf[: end + 4]
        status = int(head[0].split(b" ", 2)[1])
        length = -1
        chunked = close = False
        for line in head[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = b"close" in value.lower()
        body = bytearray()
        if chunked:
            while True:
                while (eol := buf.find(b"\r\n")) < 0:
                    await self._more()
                size = int(bytes(buf[:eol]).split(b";", 1)[0], 16)
                while len(buf) < eol + 2 + size + 2:
                    await self._more()
                body += buf[eol + 2 : eol + 2 + size]
                del buf[: eol + 2 + size + 2]
                if size == 0:  # no trailers from any of our servers
                    break
        elif length >= 0:
            while len(buf) < length:
                await self._more()
            body += buf[:length]
            del buf[:length]
        else:
            raise ProtocolError("response without length or chunking")
        if status != 200:
            raise ProtocolError(f"status {status}: {bytes(body[:300])!r}")
        if close:
            await self.close()
        return bytes(body)


def check_answer(body: bytes) -> None:
    if not body.startswith(b"event: message_start\n") or not body.endswith(
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    ):
        raise ProtocolError(f"not the upstream's stream: {body[:120]!r} ... {body[-120:]!r}")


# -- statistics ------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default 'linear' method)."""
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


PCTS = (50, 90, 99)


def summary_ms(values_ns: Sequence[int]) -> dict[str, float]:
    s = sorted(v / 1e6 for v in values_ns)
    out = {f"p{p}": round(percentile(s, p), 4) for p in PCTS}
    out["mean"] = round(sum(s) / len(s), 4)
    out["max"] = round(s[-1], 4)
    return out


# -- phases ----------------------------------------------------------------------------


@dataclass
class Bench:
    args: argparse.Namespace
    body: bytes
    logdir: Path
    children: list[Child] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    pw_db: Path | None = None  # the main promptwitness store, and the rows it should hold
    pw_rows: int = 0

    def check_loopback(self) -> None:
        for c in self.children:
            if c.proc.returncode is None:
                self.foreign += [f"{c.name}: {x}" for x in foreign_peers(c.pid)]


async def latency_phase(
    bench: Bench, targets: dict[str, int], cpu_pids: dict[str, int]
) -> dict[str, Any]:
    n, warm = bench.args.requests, bench.args.warmup
    think = bench.args.think_ms / 1000
    conns = {name: Conn(port) for name, port in targets.items()}
    reqs = {name: build_request(port, bench.body) for name, port in targets.items()}
    times: dict[str, list[int]] = {name: [] for name in targets}
    rng = random.Random(1)
    order = list(targets)
    for name in order:  # correctness once per target before timing anything
        check_answer(await conns[name].request(reqs[name]))
    if "promptwitness" in targets:
        bench.pw_rows += 1 + warm + n
    clock = time.perf_counter_ns
    cpu0: dict[str, float] = {}
    gc.collect()
    gc.disable()
    try:
        for i in range(warm + n):
            if i == warm:
                cpu0 = {name: cpu_seconds(pid) for name, pid in cpu_pids.items()}
            rng.shuffle(order)
            for name in order:
                c, r = conns[name], reqs[name]
                t0 = clock()
                await c.request(r)
                dt = clock() - t0
                if i >= warm:
                    times[name].append(dt)
                if think:  # untimed: what each target does after answering settles
                    await asyncio.sleep(think)
    finally:
        gc.enable()
    cpu = {name: cpu_seconds(pid) - cpu0[name] for name, pid in cpu_pids.items()}
    bench.check_loopback()
    if bench.pw_db is not None:
        await _wait_rows(bench.pw_db, bench.pw_rows, timeout=600)
    for c in conns.values():
        await c.close()

    total = {name: summary_ms(t) for name, t in times.items()}
    added: dict[str, dict[str, float]] = {}
    paired: dict[str, dict[str, float]] = {}
    for name in targets:
        if name == "direct":
            continue
        added[name] = {
            f"p{p}": round(total[name][f"p{p}"] - total["direct"][f"p{p}"], 4) for p in PCTS
        }
        diffs = sorted((b - a) / 1e6 for a, b in zip(times["direct"], times[name], strict=True))
        paired[name] = {f"p{p}": round(percentile(diffs, p), 4) for p in PCTS}
    return {
        "requests_per_target": n,
        "warmup_rounds": warm,
        "think_ms": bench.args.think_ms,
        "total_ms": total,
        "added_ms": added,
        "paired_diff_ms": paired,
        "server_cpu_us_per_request": {
            name: round(sec / n * 1e6, 1) for name, sec in cpu.items() if name != "upstream"
        },
        "upstream_cpu_us_per_request": round(cpu["upstream"] / (n * len(targets)) * 1e6, 1)
        if "upstream" in cpu
        else None,
    }


async def throughput_one(
    port: int,
    body: bytes,
    concurrency: int,
    warm_s: float,
    dur_s: float,
    db: Path | None = None,
    rows: list[int] | None = None,
) -> tuple[int, int, float]:
    """(requests completed inside the timed window, all requests completed, seconds).

    With ``db``, the store's row count is read at the start and at the end of the timed
    window and appended to ``rows``: stored/s over the same window as answered/s.
    """
    req = build_request(port, body)
    start = time.perf_counter()
    t_from, t_to = start + warm_s, start + warm_s + dur_s
    counted = total = 0

    async def sample() -> None:
        assert db is not None and rows is not None
        for t in (t_from, t_to):
            await asyncio.sleep(max(0.0, t - time.perf_counter()))
            rows.append(_rows(db))

    async def worker() -> None:
        nonlocal counted, total
        c = Conn(port)
        await c.open()
        try:
            while time.perf_counter() < t_to:
                await c.request(req)
                total += 1
                now = time.perf_counter()
                if t_from <= now <= t_to:
                    counted += 1
        finally:
            await c.close()

    extra = [sample()] if db is not None and rows is not None else []
    await asyncio.gather(*(worker() for _ in range(concurrency)), *extra)
    return counted, total, dur_s


async def throughput_phase(
    bench: Bench, targets: dict[str, int], cpu_pids: dict[str, int]
) -> dict[str, Any]:
    a = bench.args
    half = a.duration / 2
    counts = {name: 0 for name in targets}
    secs = {name: 0.0 for name in targets}
    cpu = {name: 0.0 for name in targets}
    child_cpu = {name: 0.0 for name in targets}  # the writer process's share of ``cpu``
    client_cpu = {name: 0.0 for name in targets}
    writer: list[dict[str, Any]] = []
    all_sent = {name: 0 for name in targets}  # including the warm-up: for CPU per request
    order = list(targets)
    # two passes, the second in reverse order, so slow drift of the machine evens out
    for names in (order, order[::-1]):
        for name in names:
            pid = cpu_pids.get(name)
            c0 = cpu_seconds(pid) if pid else 0.0
            k0 = children_cpu_seconds(pid) if pid else 0.0
            p0 = time.process_time()
            w0 = time.perf_counter()
            window_rows: list[int] = []
            is_pw = name == "promptwitness" and bench.pw_db is not None
            n, sent, d = await throughput_one(
                targets[name],
                bench.body,
                a.concurrency,
                0.5,
                half,
                bench.pw_db if is_pw else None,
                window_rows,
            )
            client_cpu[name] += time.process_time() - p0
            all_sent[name] += sent
            if name == "promptwitness" and bench.pw_db is not None:
                # Answered is not stored: wait for the writer thread to catch up.
                bench.pw_rows += sent
                backlog_at_end = bench.pw_rows - _rows(bench.pw_db)
                lag = await _wait_rows(bench.pw_db, bench.pw_rows, timeout=600)
                stored_in_window = window_rows[1] - window_rows[0] if len(window_rows) == 2 else 0
                writer.append(
                    {
                        "answered_per_s": round(n / d, 1),
                        "stored_per_s_window": round(stored_in_window / d, 1),
                        "rows_behind_at_end": backlog_at_end,
                        "catch_up_s": round(lag, 3),
                        "stored_per_s": round(sent / (time.perf_counter() - w0), 1),
                    }
                )
            cpu[name] += (cpu_seconds(pid) - c0) if pid else 0.0
            child_cpu[name] += (children_cpu_seconds(pid) - k0) if pid else 0.0
            counts[name] += n
            secs[name] += d
            bench.check_loopback()
    rps = {name: round(counts[name] / secs[name], 1) for name in targets}
    out: dict[str, Any] = {
        "concurrency": a.concurrency,
        "seconds_per_target": a.duration,
        "requests_per_second": rps,
        "completed": counts,
        "server_cpu_us_per_request": {
            name: round(cpu[name] / all_sent[name] * 1e6, 1) for name in targets if name in cpu_pids
        },
        "writer_process_cpu_us_per_request": {
            name: round(child_cpu[name] / all_sent[name] * 1e6, 1)
            for name in targets
            if child_cpu[name] > 0
        },
        "client_cpu_us_per_request": {
            name: round(client_cpu[name] / all_sent[name] * 1e6, 1) for name in targets
        },
        "promptwitness_writer": writer,
    }
    return out


def _dir_bytes(path: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in sorted(path.iterdir()) if p.is_file()}


def _checkpoint(db: Path) -> list[int]:
    conn = sqlite3.connect(db, timeout=30)
    try:
        for _ in range(100):
            busy, log, done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if busy == 0:
                return [busy, log, done]
            time.sleep(0.05)
        return [busy, log, done]
    finally:
        conn.close()


def _rows(db: Path) -> int:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return int(conn.execute("SELECT count(*) FROM exchanges").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


async def _wait_rows(db: Path, n: int, timeout: float = 120) -> float:
    t0 = time.perf_counter()
    while _rows(db) < n:
        if time.perf_counter() - t0 > timeout:
            raise SystemExit(f"store has {_rows(db)} rows, expected {n}")
        await asyncio.sleep(0.01)
    return time.perf_counter() - t0


async def storage_phase(
    bench: Bench, upstream_port: int, src: Path | None = None, name: str = "storage"
) -> dict[str, Any]:
    store = bench.logdir / f"store-{name}"
    child = await start_pw(
        f"promptwitness-{name}", bench.logdir, bench.args, upstream_port, store, src=src
    )
    bench.children.append(child)
    db = store / DB_NAME
    conn = Conn(child.port)
    req = build_request(child.port, bench.body)
    try:
        await conn.request(req)  # the prompt's first occurrence: its blob is stored here
        await _wait_rows(db, 1)
        empty_ck = _checkpoint(db)
        before = _dir_bytes(store)
        repeats = bench.args.repeats
        for _ in range(repeats):
            await conn.request(req)
        lag = await _wait_rows(db, 1 + repeats)
        after_ck = _checkpoint(db)
        after = _dir_bytes(store)
    finally:
        await conn.close()
    bench.check_loopback()
    await child.stop()
    b, a = sum(before.values()), sum(after.values())
    return {
        "repeats": repeats,
        "request_bytes": len(bench.body),
        "dir_bytes_after_first": before,
        "dir_bytes_after_repeats": after,
        "checkpoints": [empty_ck, after_ck],
        "bytes_per_repeat": round((a - b) / repeats, 1),
        "bytes_per_request_incl_first": round(a / (repeats + 1), 1),
        "writer_lag_s": round(lag, 3),
    }


# -- report ----------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def render(res: dict[str, Any]) -> str:
    lines: list[str] = []
    m = res["machine"]
    lines.append(
        f"promptwitness capture bench — {res['date']}  ({m['cpus']} CPUs, {m['cpu_model']}, "
        f"load {m['loadavg_before']} -> {m['loadavg_after']}; python {m['python']}, "
        f"aiohttp {m['aiohttp']}, mitmproxy {m['mitmproxy']})"
    )
    lat = res.get("latency")
    if lat:
        lines.append("")
        lines.append(
            f"Latency: {lat['requests_per_target']} requests per target, interleaved "
            f"(shuffled round-robin, keep-alive), 100 KB request -> 12-event SSE stream, "
            f"time to last byte (ms)"
            + (
                f"; an untimed {lat['think_ms']:g} ms pause after every request"
                if lat.get("think_ms")
                else "; back to back"
            )
        )
        hdr = (
            f"{'target':<22}{'p50':>8}{'p90':>8}{'p99':>8}  |{'+p50':>8}{'+p90':>8}{'+p99':>8}"
            f"  |{'pair50':>8}{'pair99':>8}  |{'srv CPU/req':>12}"
        )
        lines.append(hdr)
        lines.append("-" * len(hdr))
        for name, t in lat["total_ms"].items():
            ad = lat["added_ms"].get(name)
            pr = lat["paired_diff_ms"].get(name)
            cpu = lat["server_cpu_us_per_request"].get(name)
            row = f"{name:<22}{t['p50']:>8.3f}{t['p90']:>8.3f}{t['p99']:>8.3f}  |"
            row += "".join(f"{ad[f'p{p}']:>8.3f}" for p in PCTS) if ad else " " * 24
            row += "  |"
            row += f"{pr['p50']:>8.3f}{pr['p99']:>8.3f}" if pr else " " * 16
            row += "  |" + (f"{cpu:>9.0f} µs" if cpu is not None else "")
            lines.append(row)
        lines.append(
            "  +pN = pN(target) - pN(direct); pairN = pN of per-round differences "
            "(target_i - direct_i)."
        )
    thr = res.get("throughput")
    if thr:
        lines.append("")
        lines.append(
            f"Throughput: {thr['concurrency']} concurrent keep-alive clients, "
            f"{thr['seconds_per_target']} s per target"
        )
        hdr = f"{'target':<22}{'req/s':>10}{'srv CPU/req':>14}{'client CPU/req':>16}"
        lines.append(hdr)
        lines.append("-" * len(hdr))
        for name, rps in thr["requests_per_second"].items():
            cpu = thr["server_cpu_us_per_request"].get(name)
            ccpu = thr["client_cpu_us_per_request"][name]
            cpu_s = f"{cpu:>11.0f} µs" if cpu is not None else " " * 14
            lines.append(f"{name:<22}{rps:>10.1f}{cpu_s}{ccpu:>13.0f} µs")
        for name, wcpu in thr.get("writer_process_cpu_us_per_request", {}).items():
            total = thr["server_cpu_us_per_request"].get(name)
            lines.append(
                f"  {name}: of its srv CPU/req, {wcpu:.0f} µs in the writer process, "
                f"{(total or 0) - wcpu:.0f} µs in the server process (event loop + sender)"
            )
        for i, w in enumerate(thr.get("promptwitness_writer", [])):
            lines.append(
                f"  promptwitness pass {i + 1}: {w.get('answered_per_s', '-')} answered/s, "
                f"{w.get('stored_per_s_window', '-')} stored/s over the same window\n"
                f"  promptwitness writer, pass {i + 1}: {w['rows_behind_at_end']} exchanges "
                f"not yet stored when the load stopped; caught up {w['catch_up_s']} s later "
                f"({w['stored_per_s']} stored/s over the pass, warm-up to caught up)"
            )
    for key, who in (("storage", "promptwitness"), ("storage_before", BEFORE)):
        st = res.get(key)
        if not st:
            continue
        lines.append("")
        lines.append(
            f"Storage: the same {st['request_bytes']} B request {st['repeats']} times through "
            f"{who}: {st['bytes_per_repeat']:.0f} B per repeat "
            f"({st['bytes_per_request_incl_first']:.0f} B per request counting the first; "
            f"writer caught up {st['writer_lag_s']} s after the last response)"
        )
    loop = res.get("pw_loop", "asyncio")
    if loop == "gateway":
        from promptwitness.capture.loop import gateway_loop_name

        lines.append("")
        lines.append(
            f"promptwitness ran on the gateway loop of `promptwitness serve`: {gateway_loop_name()}"
        )
    elif loop != "asyncio":
        lines.append("")
        lines.append(f"EXPERIMENT: promptwitness ran on {loop}")
    writer = res.get("pw_writer", "store")
    lines.append("")
    lines.append(f"promptwitness target: {res.get('pw_command', '?')}")
    if writer == "process":
        lines.append("promptwitness stored through its writer process (what `serve` uses)")
    else:
        lines.append(f"EXPERIMENT: promptwitness ran with --pw-writer {writer}")
    if res.get("pw_thread_too"):
        lines.append(
            "promptwitness-thread: the same server with the in-process writer thread "
            "(`--writer thread`), measured beside it"
        )
    if res.get("pw_ack_after_too"):
        lines.append(
            f"{ACK_AFTER}: the same with `serve --ack-after-answer` (answers do not wait for "
            "the store), measured beside it"
        )
    if res.get("baseline_src"):
        lines.append(
            f"{BEFORE}: the same `promptwitness serve` from the source tree "
            f"{res['baseline_src']} (--baseline-src), measured beside it"
        )
    if res.get("pw_switch_interval"):
        lines.append("")
        lines.append(
            f"EXPERIMENT: promptwitness ran with sys.setswitchinterval({res['pw_switch_interval']})"
        )
    lines.append("")
    lines.append("Targets")
    for t in res["targets"]:
        lines.append(f"  {t['verdict']:<5} {t['name']:<48} {t['value']:<22} target {t['target']}")
    lines.append(f"  non-loopback connections seen: {res['foreign_connections'] or 'none'}")
    return "\n".join(lines)


def judge(res: dict[str, Any]) -> list[dict[str, str]]:
    out = judge_one(res, "promptwitness", "storage")
    if res.get("pw_ack_after_too"):
        out += judge_one(res, ACK_AFTER, "-")
    if res.get("baseline_src"):  # the same targets for the baseline, beside them
        out += judge_one(res, BEFORE, "storage_before")
    return out


def judge_one(res: dict[str, Any], pw: str, storage_key: str) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    lat, thr, st = res.get("latency"), res.get("throughput"), res.get(storage_key)
    if lat and pw in lat["added_ms"]:
        for p, key in ((50, "added_p50_ms"), (99, "added_p99_ms")):
            v = lat["added_ms"][pw][f"p{p}"]
            out.append(
                {
                    "name": f"added latency p{p} ({pw} - direct)",
                    "value": f"{v:.3f} ms",
                    "target": f"<= {TARGETS[key]} ms",
                    "verdict": verdict(v <= TARGETS[key]),
                }
            )
    if thr and pw in thr["requests_per_second"]:
        rps = thr["requests_per_second"]
        for m in ("mitmproxy", "mitmproxy-stream"):
            if m in rps:
                r = rps[pw] / rps[m]
                out.append(
                    {
                        "name": f"throughput {pw} / {m}",
                        "value": f"{r:.2f}x",
                        "target": f">= {TARGETS['throughput_ratio']}x",
                        "verdict": verdict(r >= TARGETS["throughput_ratio"]),
                    }
                )
    if st:
        v = st["bytes_per_repeat"]
        out.append(
            {
                "name": "stored bytes per repeated 100 KB request"
                + ("" if pw == "promptwitness" else f" ({pw})"),
                "value": f"{v:.0f} B",
                "target": f"<= {TARGETS['stored_bytes_per_repeat']} B",
                "verdict": verdict(v <= TARGETS["stored_bytes_per_repeat"]),
            }
        )
    return out


def machine_info(mitm: str) -> dict[str, Any]:
    model = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    import aiohttp

    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__,
        "mitmproxy": mitm,
        "loadavg_before": round(os.getloadavg()[0], 2),
    }


def git_head() -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except OSError:
        return None
    return out.stdout.strip() or None


def server_ready() -> bool:
    return (ROOT / "src" / "promptwitness" / "capture" / "server.py").exists()


# -- main ------------------------------------------------------------------------------


async def main_bench(args: argparse.Namespace) -> dict[str, Any]:
    with_pw = server_ready() and not args.no_promptwitness
    with_mitm = not args.no_mitmproxy
    if with_mitm:
        ensure_mitmdump()
    logdir = Path(tempfile.mkdtemp(prefix="pw-bench-"))
    bench = Bench(args, make_request_body(args.size), logdir)
    res: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "git": git_head(),
        "quick": args.quick,
        "phases": sorted(args.phases),
        "machine": machine_info(mitm_version() if with_mitm else "-"),
        "pw_switch_interval": args.pw_switch_interval,  # None: Python's default, 0.005 s
        "pw_writer": args.pw_writer,
        "pw_loop": args.pw_loop,
        "pw_command": (
            "promptwitness serve --listen 127.0.0.1:PORT --upstream URL --store DIR"
            + (" --quiet" if args.pw_quiet else "")
            if serve_is_measured(args)
            else "CaptureServer in this script's promptwitness role"
        ),
        "upstream_impl": args.upstream_impl,
        "pw_thread_too": bool(args.pw_thread_too and args.pw_writer == "process"),
        "baseline_src": str(args.baseline_src) if args.baseline_src else None,
        "pw_ack_after_too": bool(args.pw_ack_after_too and serve_is_measured(args)),
        "request_bytes": len(bench.body),
        "response_events": len(sse_events(1, 0)),
        "client": "raw asyncio streams, hand-written HTTP/1.1, one process for all targets",
        "processes": (
            "upstream, promptwitness, mitmdump (x2): one process each; client: the main process"
        ),
    }
    try:
        up = await start_python_role(
            "upstream",
            logdir,
            "--role",
            "upstream",
            "--port",
            "0",
            "--upstream-impl",
            args.upstream_impl,
        )
        bench.children.append(up)
        targets = {"direct": up.port}
        pids = {"upstream": up.pid}
        if with_pw:
            pw = await start_pw("promptwitness", logdir, args, up.port, logdir / "store")
            bench.children.append(pw)
            bench.pw_db = logdir / "store" / DB_NAME if args.pw_writer != "null" else None
            targets["promptwitness"] = pw.port
            pids["promptwitness"] = pw.pid
            if args.pw_thread_too and args.pw_writer == "process":
                pt = await start_pw(
                    "promptwitness-thread",
                    logdir,
                    args,
                    up.port,
                    logdir / "store-thread",
                    writer="thread",
                )
                bench.children.append(pt)
                targets["promptwitness-thread"] = pt.port
                pids["promptwitness-thread"] = pt.pid
            if args.pw_ack_after_too and serve_is_measured(args):
                pa = await start_pw(
                    ACK_AFTER,
                    logdir,
                    args,
                    up.port,
                    logdir / "store-ack",
                    serve_args=["--ack-after-answer"],
                )
                bench.children.append(pa)
                targets[ACK_AFTER] = pa.port
                pids[ACK_AFTER] = pa.pid
            if args.baseline_src:
                pb = await start_pw(
                    BEFORE, logdir, args, up.port, logdir / "store-before", src=args.baseline_src
                )
                bench.children.append(pb)
                targets[BEFORE] = pb.port
                pids[BEFORE] = pb.pid
        else:
            print("capture/server.py not used: measuring direct and mitmproxy only", flush=True)
        if with_mitm:
            for name, stream in (("mitmproxy", False), ("mitmproxy-stream", True)):
                mc = await start_mitmdump(name, logdir, up.port, stream)
                bench.children.append(mc)
                targets[name] = mc.port
                pids[name] = mc.pid

        if "latency" in args.phases:
            print(f"latency: {args.requests} requests x {len(targets)} targets ...", flush=True)
            res["latency"] = await latency_phase(bench, targets, pids)
        if "throughput" in args.phases:
            print(
                f"throughput: {args.concurrency} clients, {args.duration} s per target ...",
                flush=True,
            )
            res["throughput"] = await throughput_phase(
                bench, targets, {k: v for k, v in pids.items() if k != "upstream"}
            )
        if with_pw and args.pw_writer != "null" and "storage" in args.phases:
            print(f"storage: {args.repeats} repeats ...", flush=True)
            res["storage"] = await storage_phase(bench, up.port)
            if args.baseline_src:
                res["storage_before"] = await storage_phase(
                    bench, up.port, src=args.baseline_src, name="storage-before"
                )
    finally:
        for c in bench.children:
            await c.stop()
        if not args.keep:
            shutil.rmtree(logdir, ignore_errors=True)
        else:
            print(f"logs and stores kept in {logdir}")
    res["machine"]["loadavg_after"] = round(os.getloadavg()[0], 2)
    res["foreign_connections"] = sorted(set(bench.foreign))
    res["targets"] = judge(res)
    return res


async def _profile_pass(args: argparse.Namespace, pstats_out: Path | None) -> dict[str, Any]:
    """One upstream + promptwitness pair, ``args.profile`` sequential requests.

    With ``pstats_out`` the promptwitness process runs under cProfile (main thread only);
    otherwise, when py-spy is installed, it is sampled from outside, all threads.
    """
    logdir = Path(tempfile.mkdtemp(prefix="pw-bench-prof-"))
    body = make_request_body(args.size)
    extra = ["--profile-out", str(pstats_out)] if pstats_out else []
    up = await start_python_role(
        "upstream",
        logdir,
        "--role",
        "upstream",
        "--port",
        "0",
        "--upstream-impl",
        args.upstream_impl,
    )
    pw = await start_python_role(
        "promptwitness",
        logdir,
        "--role", "promptwitness", "--port", "0",
        "--upstream", f"http://{LOOPBACK}:{up.port}", "--store", str(logdir / "store"),
        *extra, *pw_extra(args),
    )  # fmt: skip
    spy: asyncio.subprocess.Process | None = None
    raw = RESULTS / "profile.pyspy.txt"
    out: dict[str, Any] = {}
    try:
        conn = Conn(pw.port)
        req = build_request(pw.port, body)
        for _ in range(50):  # warm up before sampling
            await conn.request(req)
        if pstats_out is None and PY_SPY.exists():
            spy = await asyncio.create_subprocess_exec(
                str(PY_SPY), "record", "--pid", str(pw.pid), "--rate", "500", "--threads",
                "--nonblocking", "--format", "raw", "--output", str(raw),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            await asyncio.sleep(1.0)  # py-spy attaches
        c0 = cpu_seconds(pw.pid)
        t0 = time.perf_counter()
        for _ in range(args.profile):
            await conn.request(req)
        out["elapsed_s"] = time.perf_counter() - t0
        out["cpu_us_per_request"] = (cpu_seconds(pw.pid) - c0) / args.profile * 1e6
        await conn.close()
        await _wait_rows(logdir / "store" / DB_NAME, args.profile + 50)
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            await asyncio.wait_for(spy.wait(), 30)
            out["pyspy"] = raw
    finally:
        await pw.stop()
        await up.stop()
        shutil.rmtree(logdir, ignore_errors=True)
    return out


def _summarise_pyspy(raw: Path, top: int = 35) -> str:
    """Self and inclusive sample counts per function, per thread, from py-spy's raw format."""
    own: dict[str, int] = {}
    incl: dict[str, int] = {}
    threads: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n_text = line.rpartition(" ")
        if not stack:
            continue
        n = int(n_text)
        frames = stack.split(";")
        thread = frames[0]
        funcs = [re.sub(r":\d+\)$", ")", f) for f in frames[1:]]
        total += n
        threads[thread] = threads.get(thread, 0) + n
        if funcs:
            own[funcs[-1]] = own.get(funcs[-1], 0) + n
        for f in set(funcs):
            incl[f] = incl.get(f, 0) + n
    lines = [f"py-spy: {total} samples (non-idle), by thread:"]
    lines += [
        f"  {v:>7} {100 * v / total:5.1f}%  {k}"
        for k, v in sorted(threads.items(), key=lambda kv: -kv[1])
    ]
    lines.append("self samples, top functions:")
    lines += [
        f"  {v:>7} {100 * v / total:5.1f}%  {k}"
        for k, v in sorted(own.items(), key=lambda kv: -kv[1])[:top]
    ]
    lines.append("inclusive samples, top functions:")
    lines += [
        f"  {v:>7} {100 * v / total:5.1f}%  {k}"
        for k, v in sorted(incl.items(), key=lambda kv: -kv[1])[:top]
    ]
    return "\n".join(lines)


async def main_profile(args: argparse.Namespace) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "profile.pstats"
    r = await _profile_pass(args, out)
    print(
        f"cProfile: {args.profile} requests in {r['elapsed_s']:.2f} s "
        f"({r['cpu_us_per_request']:.0f} µs CPU per request, inflated by cProfile); {out}"
    )
    for key in ("tottime", "cumulative"):
        s = io.StringIO()
        pstats.Stats(str(out), stream=s).sort_stats(key).print_stats(35)
        print(s.getvalue())
    if not PY_SPY.exists():
        print("py-spy not installed (benchmarks/setup.sh --with-py-spy): no all-thread profile")
        return
    r = await _profile_pass(args, None)
    print(
        f"py-spy: {args.profile} requests in {r['elapsed_s']:.2f} s "
        f"({r['cpu_us_per_request']:.0f} µs CPU per request)"
    )
    if "pyspy" in r:
        print(_summarise_pyspy(r["pyspy"]))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="200 requests, 4 s throughput per target")
    p.add_argument("--requests", type=int, help="timed requests per target (default 2000)")
    p.add_argument("--warmup", type=int, help="untimed rounds first (default 200)")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--duration", type=float, help="throughput seconds per target (default 10)")
    p.add_argument("--repeats", type=int, default=1000, help="storage: repeats of one request")
    p.add_argument("--size", type=int, default=100 * 1024, help="request body bytes")
    p.add_argument(
        "--think-ms",
        type=float,
        default=0.0,
        help="latency phase: an untimed pause after every request (default 0: back to "
        "back), so that the work a target does after answering (mitmproxy's flow "
        "processing, promptwitness's writer) does not land on the next target's timed "
        "request; an agent's requests are seconds apart",
    )
    p.add_argument(
        "--phases",
        default="latency,throughput,storage",
        help="which phases to run, comma-separated (default: all three); a run with fewer "
        "phases judges only the targets it measured",
    )
    p.add_argument("--no-mitmproxy", action="store_true")
    p.add_argument("--no-promptwitness", action="store_true")
    p.add_argument("--keep", action="store_true", help="keep logs and stores (temp dir)")
    p.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    p.add_argument(
        "--profile", type=int, default=0, help="only cProfile N requests through promptwitness"
    )
    # internal: the server roles
    p.add_argument("--role", choices=["upstream", "promptwitness"], help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--upstream", help=argparse.SUPPRESS)
    p.add_argument("--store", help=argparse.SUPPRESS)
    p.add_argument("--profile-out", help=argparse.SUPPRESS)
    p.add_argument(
        "--pw-switch-interval",
        type=float,
        help="experiment: sys.setswitchinterval() in the promptwitness process (default 0.005)",
    )
    p.add_argument(
        "--pw-loop",
        choices=("gateway", "asyncio", "uvloop"),
        default="gateway",
        help="the promptwitness process's event loop: 'gateway' (default) is what "
        "`promptwitness serve` uses (uvloop when installed; PROMPTWITNESS_LOOP=asyncio "
        "turns it off); 'asyncio' forces the standard loop",
    )
    p.add_argument(
        "--upstream-impl",
        choices=("raw", "aiohttp"),
        default="raw",
        help="the local stand-in provider: 'raw' (default) a minimal asyncio protocol, so "
        "that it takes as little of the shared cores as possible; 'aiohttp' the earlier "
        "aiohttp server (same bytes on the wire)",
    )
    p.add_argument(
        "--pw-writer",
        choices=("process", "thread", "null"),
        default="process",
        help="'process' (default) is what `promptwitness serve` uses (redaction and storage "
        "in a writer process); experiments: 'thread' the in-process writer thread (what "
        "record/probe use), 'null' replaces the store and the redactor by no-ops (the "
        "ceiling of the pass-through alone; no storage phase)",
    )
    p.add_argument(
        "--pw-quiet",
        action="store_true",
        help="experiment: run `promptwitness serve --quiet` (no line per stored exchange)",
    )
    p.add_argument(
        "--no-pw-thread",
        dest="pw_thread_too",
        action="store_false",
        help="do not also measure 'promptwitness-thread' (the same server with the writer "
        "thread) beside the default process writer",
    )
    p.add_argument(
        "--pw-ack-after-too",
        action="store_true",
        help=f"also measure '{ACK_AFTER}': `serve --ack-after-answer` (answers do not wait "
        "for their exchange's commit), judged against the same targets",
    )
    p.add_argument(
        "--baseline-src",
        type=Path,
        metavar="DIR",
        help=f"also measure '{BEFORE}': `promptwitness serve` imported from DIR (a source "
        "tree, e.g. a git worktree's src/ of an earlier commit), beside the current one "
        "in the same run, through every phase, judged against the same targets",
    )
    a = p.parse_args(argv)
    if a.baseline_src is not None:
        a.baseline_src = a.baseline_src.resolve()
        if not (a.baseline_src / "promptwitness" / "__init__.py").is_file():
            p.error(f"--baseline-src: no promptwitness package in {a.baseline_src}")
    a.phases = {x.strip() for x in a.phases.split(",") if x.strip()}
    if not a.phases or not a.phases <= {"latency", "throughput", "storage"}:
        p.error("--phases takes latency, throughput and/or storage")
    a.requests = a.requests or (200 if a.quick else 2000)
    a.warmup = a.warmup if a.warmup is not None else (50 if a.quick else 200)
    a.duration = a.duration or (4.0 if a.quick else 10.0)
    return a


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.role:
        run_role(args)
        return 0
    if args.profile:
        asyncio.run(main_profile(args))
        return 0
    res = asyncio.run(main_bench(args))
    text = render(res)
    print()
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(res, indent=2, ensure_ascii=False) + "\n")
    tmp.replace(args.out)
    (args.out.with_suffix(".txt")).write_text(text + "\n")
    print(f"\nwritten: {args.out}")
    return 1 if res["foreign_connections"] else 0


if __name__ == "__main__":
    sys.exit(main())
