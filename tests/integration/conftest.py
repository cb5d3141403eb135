"""Shared fixtures for the in-process capture server tests: a real store in tmp_path,
a sink server on a free loopback port, and raw-socket helpers (exact bytes on the wire)."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from promptwitness.capture.server import CaptureServer
from promptwitness.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    st = Store.open(tmp_path / "store")
    try:
        yield st
    finally:
        st.close()


@dataclass
class Running:
    server: CaptureServer
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@pytest.fixture
async def sink(store: Store) -> AsyncIterator[Running]:
    server = CaptureServer(store)
    host, port = await server.start()
    try:
        yield Running(server, host, port)
    finally:
        await server.stop()


@dataclass
class RawResponse:
    """An HTTP/1.1 response parsed from the exact bytes received."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    chunks: list[bytes]  # the chunked-encoding chunks as framed, or [body]
    complete: bool  # False when the bytes stopped before the framing said they would

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def parse_response(data: bytes, *, head: bool = False) -> RawResponse:
    """Parse one raw HTTP/1.1 response (``data`` read to EOF), keeping chunk framing."""
    sep = data.index(b"\r\n\r\n")
    lines = data[:sep].decode("latin-1").split("\r\n")
    _, status, reason = (lines[0].split(" ", 2) + [""])[:3]
    headers = [tuple(x.split(": ", 1)) for x in lines[1:]]
    rest = data[sep + 4 :]
    resp = RawResponse(int(status), reason, [(k, v) for k, v in headers], [], True)
    if head:
        return resp
    if (resp.header("transfer-encoding") or "").lower() == "chunked":
        while True:
            nl = rest.find(b"\r\n")
            if nl == -1:
                resp.complete = False
                return resp
            size = int(rest[:nl].split(b";")[0], 16)
            if size == 0:
                return resp
            chunk = rest[nl + 2 : nl + 2 + size]
            if len(chunk) < size or rest[nl + 2 + size : nl + 4 + size] != b"\r\n":
                resp.chunks.append(chunk)
                resp.complete = False
                return resp
            resp.chunks.append(chunk)
            rest = rest[nl + 4 + size :]
    length = resp.header("content-length")
    if length is not None:
        resp.chunks.append(rest[: int(length)])
        resp.complete = len(rest) >= int(length)
    else:
        resp.chunks.append(rest)
    return resp


async def raw_roundtrip(host: str, port: int, data: bytes, *, timeout: float = 10) -> bytes:
    """Send ``data`` on a fresh connection and read until the server closes it."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.fixture
def wire() -> type[Wire]:
    return Wire


class Wire:
    """Raw-socket helpers, handed to tests as a fixture (test modules cannot import conftest)."""

    parse = staticmethod(parse_response)
    roundtrip = staticmethod(raw_roundtrip)

    @staticmethod
    def request(
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes = b"",
        *,
        close: bool = True,
    ) -> bytes:
        lines = [f"{method} {target} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers]
        if close:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    @staticmethod
    def closed_port() -> int:
        """A loopback port nothing listens on (bound, then released)."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])


@pytest.fixture
def no_server_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail a test in which aiohttp's server or the capture server logged an error:
    every failure must be handled (and recorded), none may escape to the log."""
    caplog.set_level(logging.WARNING)
    yield
    bad = [
        r
        for r in caplog.get_records("call") + caplog.get_records("teardown")
        if r.levelno >= logging.ERROR and r.name.startswith(("aiohttp", "promptwitness", "asyncio"))
    ]
    assert not bad, [f"{r.name}: {r.getMessage()}" for r in bad]
