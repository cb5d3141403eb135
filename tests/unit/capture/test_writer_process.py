"""The writer process: the thread writer's contract (everything stored, redacted first,
bounded backlog, flush/stop drain, on_stored with ids), with the work in a child process,
and a child that dies is reported and replaced by in-process storing, losing nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import stat
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptwitness.capture.redact import Redactor
from promptwitness.capture.writer_process import (
    _FIELDS,
    Bodies,
    ProcessWriter,
    _result,
    decode_batch,
    encode_batch,
    redacted_copy,
    redactor_secrets,
)
from promptwitness.model import CapturedExchange
from promptwitness.report.lines import exchange_line
from promptwitness.store import Store
from promptwitness.store.db import StoredExchange

SECRET = "sk-known-secret-0123456789abcdef"  # known to the server's redactor only
HEADER_KEY = "sk-ant-header-key-987654321"


def ex(i: int, body: bytes | None = None) -> CapturedExchange:
    return CapturedExchange(
        method="POST",
        target=f"/v1/messages?i={i}&key={HEADER_KEY}",
        host="api.example",
        request_headers=[("x-api-key", HEADER_KEY), ("content-type", "application/json")],
        request_body=body if body is not None else b'{"i": %d, "k": "%s"}' % (i, SECRET.encode()),
        status=200,
        response_headers=[("content-type", "application/json")],
        response_body=b'{"ok": %d}' % i,
        started=1_700_000_000.0 + i / 1000,
        mode="pass-through",
        run="r1",
        client=f"127.0.0.1:{40000 + i}",
    )


def index(x: CapturedExchange | StoredExchange) -> int:
    return int(x.target.split("i=", 1)[1].split("&", 1)[0])


def all_text(store: Store) -> bytes:
    """Every stored byte that could hold a secret: targets, headers, both bodies."""
    out = bytearray()
    for x in store.exchanges():
        out += x.target.encode() + repr(x.request_headers).encode()
        out += store.request_body(x) + store.response_body(x)
    return bytes(out)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    st_ = Store.open(tmp_path / "store")
    yield st_  # type: ignore[misc]
    st_.close()


def writer(store: Store, **kw: object) -> ProcessWriter:
    return ProcessWriter(store, Redactor(store.salt(), known_secrets=[SECRET]), **kw)  # type: ignore[arg-type]


# -- the wire format -------------------------------------------------------------------

headers = st.lists(st.tuples(st.text(max_size=20), st.text(max_size=40)), max_size=5)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.binary(max_size=3000), st.binary(max_size=300), headers, st.text(max_size=30)),
        min_size=0,
        max_size=6,
    )
)
def test_batches_cross_the_wire_unchanged(items: list[tuple[bytes, bytes, list, str]]) -> None:
    batch = [
        CapturedExchange(
            "GET",
            t or "/",
            "h",
            request_headers=list(h),
            request_body=rq,
            response_body=rs,
            status=200,
            error=t or None,
        )
        for rq, rs, h, t in items
    ]
    frame = bytearray(b"".join(encode_batch(batch)))
    assert decode_batch(frame) == batch


@settings(max_examples=80, deadline=None)
@given(
    st.tuples(
        st.text(max_size=12),
        st.text(max_size=12),
        headers,
        headers,
        st.binary(max_size=50),
        st.binary(max_size=50),
        st.none() | st.text(max_size=9),
    ),
    st.tuples(
        st.text(max_size=12),
        st.text(max_size=12),
        headers,
        headers,
        st.binary(max_size=50),
        st.binary(max_size=50),
        st.none() | st.text(max_size=9),
    ),
    st.lists(st.booleans(), min_size=7, max_size=7),
)
def test_the_changes_sent_back_rebuild_the_redacted_exchange(
    a: tuple, b: tuple, take_b: list[bool]
) -> None:
    """Whatever redaction changed (any mix of fields and bodies), the server's copy plus
    the changes sent back is exactly the redacted exchange."""
    mixed = [vb if t else va for va, vb, t in zip(a, b, take_b, strict=True)]

    def make(v: tuple | list) -> CapturedExchange:
        return CapturedExchange(
            "POST",
            "/" + v[0],
            v[1] or "h",
            request_headers=list(v[2]),
            response_headers=list(v[3]),
            request_body=v[4],
            response_body=v[5],
            error=v[6],
            status=200,
        )

    sent, red = make(a), make(mixed)
    received = tuple(getattr(sent, n) for n in _FIELDS)
    result = _result(7, received, (sent.request_body, sent.response_body), red)
    assert result[0] == 7
    changed = {_FIELDS[i] for i, _v in result[1] or ()}
    assert changed == {n for n in _FIELDS if getattr(sent, n) != getattr(red, n)}
    assert redacted_copy(sent, result) == red


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.binary(max_size=3000), st.binary(max_size=300)), max_size=6),
    st.integers(min_value=1, max_value=8000),
)
def test_batches_cross_the_shared_region_unchanged(
    items: list[tuple[bytes, bytes]], size: int
) -> None:
    """Bodies go through the shared region when they fit in it, inline when they do
    not; either way the child decodes exactly what was sent, and a batch through the
    region leaves nothing but the pickle in the frame."""
    batch = [
        CapturedExchange("POST", "/", "h", request_body=rq, response_body=rs, status=200)
        for rq, rs in items
    ]
    total = sum(len(rq) + len(rs) for rq, rs in items)
    shared = Bodies.create(size)
    try:
        frame = bytearray(b"".join(encode_batch(batch, shared)))
        if 0 < total <= size:
            assert len(frame) < 200 * max(1, len(batch))  # no bodies inline
            with pytest.raises(RuntimeError, match="no region"):
                decode_batch(frame)  # the bodies are only in the region
        else:
            assert len(frame) >= total
        # the child maps the same memory through its own descriptor
        child_view = Bodies(os.dup(shared.fd), size)
        try:
            got = decode_batch(frame, child_view)
        finally:
            child_view.close()
        assert got == batch
        # the next batch reuses the region from the start
        frame2 = bytearray(b"".join(encode_batch(list(reversed(batch)), shared)))
        assert decode_batch(frame2, shared) == list(reversed(batch))
    finally:
        shared.close()


def test_the_shared_region_is_anonymous_memory() -> None:
    shared = Bodies.create(4096)
    try:
        target = os.readlink(f"/proc/self/fd/{shared.fd}")
        assert target.startswith("/memfd:promptwitness-bodies")  # no file, no name
    finally:
        shared.close()


def test_a_batch_in_the_region_without_a_region_is_refused() -> None:
    shared = Bodies.create(4096)
    try:
        frame = bytearray(b"".join(encode_batch([ex(1)], shared)))
    finally:
        shared.close()
    with pytest.raises(RuntimeError, match="no region"):
        decode_batch(frame)


def test_a_frame_with_bytes_left_over_is_refused() -> None:
    frame = bytearray(b"".join(encode_batch([ex(1)])) + b"x")
    with pytest.raises(RuntimeError, match="held"):
        decode_batch(frame)


def test_the_child_starts_with_every_secret_the_server_knows() -> None:
    r = Redactor(b"s" * 32, known_secrets=[SECRET])
    r.redact(ex(0))  # learns HEADER_KEY from x-api-key
    assert {SECRET, HEADER_KEY} <= set(redactor_secrets(r))


# -- the process -----------------------------------------------------------------------


async def test_every_exchange_is_stored_redacted_with_ids_reported(store: Store) -> None:
    seen: list[tuple[int, CapturedExchange]] = []
    w = writer(store, on_stored=lambda i, x: seen.append((i, x)))
    w.start()
    try:
        for i in range(150):
            await w.put(ex(i))
        assert await w.flush(60)
        assert w.stored == 150 and w.stats().backlog == 0
    finally:
        await w.aclose()
    assert w.child_pid is not None and w.crashed is None and w.failures == []
    rows = store.exchanges()
    assert sorted(index(x) for x in rows) == list(range(150))
    text = all_text(store)
    assert SECRET.encode() not in text and HEADER_KEY.encode() not in text
    assert b"pw-redacted:" in text
    # on_stored: the stored ids, with the redacted exchange (bodies included)
    assert sorted(i for i, _ in seen) == sorted(x.id for x in rows)
    by_id = {x.id: x for x in rows}
    for i, x in seen:
        assert index(x) == index(by_id[i])
        assert SECRET.encode() not in x.request_body and HEADER_KEY not in x.target
        assert x.request_body == store.request_body(by_id[i])
        assert dict(x.request_headers)["x-api-key"].startswith("pw-redacted:")
        # every field reported is the stored one (the changed ones came back, the rest
        # were the server's own)
        row = by_id[i]
        for name in (
            "method",
            "target",
            "host",
            "scheme",
            "http_version",
            "status",
            "mode",
            "upstream",
            "run",
            "client",
            "error",
        ):
            assert getattr(x, name) == getattr(row, name), name
        assert [tuple(h) for h in x.request_headers] == list(row.request_headers)
        assert [tuple(h) for h in x.response_headers] == list(row.response_headers)
        assert tuple(x.redactions) == tuple(row.redactions)
        assert x.response_body == store.response_body(row)


@pytest.mark.parametrize("shared_size", [0, 2048])
async def test_bodies_that_do_not_fit_the_region_go_through_the_socket(
    store: Store, shared_size: int
) -> None:
    """No region (0), or one smaller than a batch's bodies: stored all the same."""
    w = writer(store, shared_size=shared_size)
    w.start()
    try:
        for i in range(20):
            await w.put(ex(i, body=b"x" * (500 * i) + SECRET.encode()))
        assert await w.flush(60)
    finally:
        await w.aclose()
    assert w.crashed is None and w.failures == []
    rows = store.exchanges()
    assert sorted(index(x) for x in rows) == list(range(20))
    for x in rows:
        body = store.request_body(x)
        assert body.startswith(b"x" * (500 * index(x))) and SECRET.encode() not in body


async def test_summary_lines_come_back_from_the_child_redacted(store: Store) -> None:
    """With ``on_lines`` (what ``serve`` uses), the lines are made in the child from the
    redacted exchanges; they name the stored ids; the secret in the target is not in them."""
    got: list[list[str]] = []
    w = writer(store, on_lines=got.append, line_format=exchange_line)
    w.start()
    try:
        for i in range(70):
            await w.put(ex(i))
        assert await w.flush(60)
    finally:
        await w.aclose()
    lines = [line for batch in got for line in batch]
    assert len(lines) == 70 and len(got) < 70  # per batch, not per exchange
    rows = {x.id: x for x in store.exchanges()}
    for line in lines:
        ex_id = int(line.split(" ", 1)[0][1:])
        assert f"api.example{rows[ex_id].target} → 200 " in line
        assert HEADER_KEY not in line and "pw-redacted:" in line


def test_a_line_format_the_child_cannot_import_is_refused(store: Store) -> None:
    """The child makes the lines: the format goes there by reference, so it must be a
    module-level function (a lambda or a closure would fail only at start)."""
    with pytest.raises(ValueError, match="module-level function"):
        writer(store, on_lines=print, line_format=lambda i, x: f"#{i}\n")


async def test_the_child_exits_when_stopped(store: Store) -> None:
    w = writer(store)
    w.start()
    await w.put(ex(1))
    pid = w.child_pid
    assert pid is not None
    await w.aclose()
    assert w.stored == 1 and not w.running
    with pytest.raises(ProcessLookupError):  # reaped: gone for good
        os.kill(pid, 0)
    await w.put(ex(2))  # after stop: stored in this process, like the thread writer
    assert len(store.exchanges()) == 2


async def test_backlog_is_bounded_and_nothing_dropped(store: Store) -> None:
    w = writer(store, max_backlog=3, max_batch=2)
    w.start()
    try:
        await asyncio.gather(*(w.put(ex(i)) for i in range(60)))
        assert await w.flush(60)
        stats = w.stats()
    finally:
        await w.aclose()
    assert stats.peak_backlog <= 3 and stats.waits > 0
    assert stats.stored == 60 and stats.batches >= 30
    assert sorted(index(x) for x in store.exchanges()) == list(range(60))


async def test_a_killed_child_is_reported_and_nothing_is_lost(store: Store) -> None:
    got: list[list[str]] = []
    w = writer(store, on_lines=got.append, line_format=exchange_line)
    w.start()
    try:
        for i in range(20):
            await w.put(ex(i))
        assert await w.flush(60)
        assert w.child_pid is not None
        os.kill(w.child_pid, signal.SIGKILL)
        for i in range(20, 50):
            await w.put(ex(i))
        assert await w.flush(60)
    finally:
        await w.aclose()
    assert w.crashed is not None and "writer process" in w.crashed
    assert "storing in the server process" in w.crashed
    assert w.failures == [w.crashed]
    assert sorted(index(x) for x in store.exchanges()) == list(range(50))  # once each
    text = all_text(store)
    assert SECRET.encode() not in text and HEADER_KEY.encode() not in text
    # a line for each, from the child before the crash and from the fallback after it
    lines = [line for batch in got for line in batch]
    assert sorted(int(line.split("i=")[1].split("&")[0]) for line in lines) == list(range(50))
    assert not any(HEADER_KEY in line for line in lines)


def _wrapper(tmp_path: Path, body: str) -> str:
    """An executable standing in for ``python`` that runs ``body`` then the child."""
    script = tmp_path / "child.py"
    script.write_text(
        "import os, sys\n"
        "import promptwitness.capture.writer_process as wp\n"
        f"{body}\n"
        "sys.exit(wp._main(sys.argv[3:]))\n"
    )
    exe = tmp_path / "python-wrapper"
    exe.write_text(f'#!/bin/sh\nexec {sys.executable} {script} "$@"\n')
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return str(exe)


async def test_a_batch_committed_before_the_child_died_is_not_stored_twice(
    store: Store, tmp_path: Path
) -> None:
    # the child commits the first batch, then dies instead of acknowledging it
    python = _wrapper(
        tmp_path,
        "orig = wp._send\n"
        "calls = []\n"
        "def send(sock, *parts):\n"
        "    calls.append(1)\n"
        "    if len(calls) == 2:\n"
        "        os._exit(9)\n"
        "    orig(sock, *parts)\n"
        "wp._send = send\n",
    )
    w = writer(store, python=python)
    w.start()
    try:
        for i in range(10):
            await w.put(ex(i))
        assert await w.flush(60)
        for i in range(10, 15):
            await w.put(ex(i))
        assert await w.flush(60)
    finally:
        await w.aclose()
    assert w.crashed is not None and "exit code 9" in w.crashed
    assert w.stored == 15
    assert sorted(index(x) for x in store.exchanges()) == list(range(15))


async def test_a_child_that_cannot_start_falls_back_at_once(store: Store) -> None:
    w = writer(store, python="/bin/false")
    w.start()
    try:
        t0 = time.monotonic()
        for i in range(5):
            await w.put(ex(i))
        assert await w.flush(30)
        assert time.monotonic() - t0 < 20
    finally:
        await w.aclose()
    assert w.crashed is not None
    assert sorted(index(x) for x in store.exchanges()) == list(range(5))
    assert SECRET.encode() not in all_text(store)


async def test_a_child_gone_before_its_config_is_sent_falls_back(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under load, a child that cannot start (here /bin/false) may be gone before the
    parent sends its configuration: the send's broken pipe once escaped ``start()`` (a
    CI run of 2026-12-06). Now the handshake finds the child gone and the writer falls
    back, storing everything."""
    from promptwitness.capture import writer_process as wp

    real_send, calls = wp._send, []

    def send(sock: object, *parts: bytes) -> None:
        calls.append(len(parts))
        if len(calls) == 1:
            raise BrokenPipeError(32, "Broken pipe")
        real_send(sock, *parts)  # type: ignore[arg-type]

    monkeypatch.setattr(wp, "_send", send)
    w = writer(store, python="/bin/false")
    w.start()  # never raises
    try:
        for i in range(3):
            await w.put(ex(i))
        assert await w.flush(30)
    finally:
        await w.aclose()
    assert w.crashed is not None
    assert sorted(index(x) for x in store.exchanges()) == list(range(3))


def test_the_process_writer_needs_a_store_it_can_reopen() -> None:
    class NoRoot:
        def add(self, x: CapturedExchange) -> int:
            return 1

    with pytest.raises(ValueError, match="reopen"):
        ProcessWriter(NoRoot(), Redactor(b"s" * 32))


def test_nothing_unredacted_is_written_by_the_child(store: Store, tmp_path: Path) -> None:
    """The raw database files (WAL included) never hold the secret, compressed or not:
    bodies are stored only after redaction."""

    async def go() -> None:
        w = writer(store)
        w.start()
        try:
            for i in range(5):
                await w.put(ex(i, body=b"plain " + SECRET.encode() * 50))
        finally:
            await w.aclose()

    asyncio.run(go())
    raw = b"".join(p.read_bytes() for p in (tmp_path / "store").iterdir() if p.is_file())
    assert SECRET.encode() not in raw
    conn = sqlite3.connect(store.path)
    try:
        assert conn.execute("SELECT count(*) FROM exchanges").fetchone()[0] == 5
    finally:
        conn.close()
