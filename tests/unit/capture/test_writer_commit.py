"""``StoreWriter.commit``: it returns only once the exchange is committed to the store
(thread writer, writer process, and a writer process that dies meanwhile), waiting
exchanges share transactions, and the writer runs the WAL checkpoints outside them."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from tests.unit.capture.test_writer_process import _wrapper, ex, index, writer

from promptwitness.capture.redact import Redactor
from promptwitness.capture.writer import StoreWriter
from promptwitness.store import Store
from promptwitness.store.db import DB_NAME


@pytest.fixture
def store(tmp_path: Path) -> Store:
    st_ = Store.open(tmp_path / "store")
    yield st_  # type: ignore[misc]
    st_.close()


def committed(store: Store) -> set[int]:
    """What another connection sees: committed rows only."""
    conn = sqlite3.connect(store.root / DB_NAME)
    try:
        return {
            int(t.split("i=", 1)[1].split("&", 1)[0])
            for (t,) in conn.execute("SELECT target FROM exchanges")
        }
    finally:
        conn.close()


def autocheckpoint(store: Store) -> int:
    with store._use("test") as conn:
        return int(conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0])


async def _commit_each(w: StoreWriter, store: Store, n: int) -> None:
    async def one(i: int) -> None:
        await w.commit(ex(i))
        assert i in committed(store)  # committed when commit returns

    await asyncio.gather(*(one(i) for i in range(n)))


async def test_thread_writer_commit_returns_once_committed(store: Store) -> None:
    w = StoreWriter(store, Redactor(store.salt()))
    w.start()
    try:
        assert autocheckpoint(store) == 0  # the writer checkpoints, outside the commits
        await _commit_each(w, store, 40)
        stats = w.stats()
        assert stats.stored == 40 and stats.backlog == 0
        assert stats.batches < 40  # waiting exchanges shared transactions
    finally:
        await w.aclose()
    assert autocheckpoint(store) == 1000  # SQLite's own again once stopped


async def test_thread_writer_not_running_commits_in_place(store: Store) -> None:
    w = StoreWriter(store, Redactor(store.salt()))
    await w.commit(ex(1))
    assert committed(store) == {1}


async def test_process_writer_commit_returns_once_committed(store: Store) -> None:
    w = writer(store)
    w.start()
    try:
        await _commit_each(w, store, 40)
        assert w.stats().stored == 40
    finally:
        await w.aclose()
    assert committed(store) == set(range(40))


async def test_commit_returns_when_the_writer_process_dies(store: Store, tmp_path: Path) -> None:
    # the child dies instead of acknowledging its second batch: the waiters of that
    # batch are woken once the fallback (this process) has stored it
    python = _wrapper(
        tmp_path,
        "orig = wp._send\n"
        "calls = []\n"
        "def send(sock, *parts):\n"
        "    calls.append(1)\n"
        "    if len(calls) == 3:\n"
        "        os._exit(9)\n"
        "    orig(sock, *parts)\n"
        "wp._send = send\n",
    )
    w = writer(store, python=python)
    w.start()
    try:
        for i in range(6):
            await asyncio.wait_for(w.commit(ex(i)), 60)
            assert i in committed(store)
    finally:
        await w.aclose()
    assert w.crashed is not None
    assert sorted(index(x) for x in store.exchanges()) == list(range(6))


async def test_a_cancelled_commit_still_stores(store: Store) -> None:
    w = StoreWriter(store, Redactor(store.salt()))
    w.start()
    try:
        task = asyncio.create_task(w.commit(ex(7)))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await w.flush(10)
    finally:
        await w.aclose()
    assert committed(store) == {7}
