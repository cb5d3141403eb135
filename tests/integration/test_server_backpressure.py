"""The capture server under load: a bounded writer backlog, back-pressure, nothing dropped.

Real sockets on 127.0.0.1 and a real store; the store is slowed down so that requests
arrive faster than exchanges are stored.
"""

from __future__ import annotations

import asyncio
import threading
import time

import aiohttp
import pytest

from promptwitness.capture.server import CaptureServer, ServerConfig
from promptwitness.model import CapturedExchange
from promptwitness.store import Store

pytestmark = pytest.mark.usefixtures("no_server_errors")

BODY = b'{"model":"claude-sonnet-4-5","max_tokens":8,"messages":[{"role":"user","content":"%d"}]}'


class SlowStore:
    """A real store whose writes wait for ``gate`` and take ``delay`` each."""

    def __init__(self, store: Store, delay: float = 0.0) -> None:
        self.store = store
        self.delay = delay
        self.gate = threading.Event()

    def salt(self) -> bytes:
        return self.store.salt()

    def add(self, ex: CapturedExchange) -> int:
        return self.add_many([ex])[0]

    def add_many(self, exs: list[CapturedExchange]) -> list[int]:
        self.gate.wait(10)
        time.sleep(self.delay)
        return self.store.add_many(exs)


async def test_full_backlog_holds_handlers_back_and_everything_is_stored(store: Store) -> None:
    """Stored after answering (``commit_before_answer=False``): the handler waits for
    room after answering; on a keep-alive connection (how agents and the benchmark talk)
    the next request is not read until then."""
    slow = SlowStore(store)
    server = CaptureServer(slow, ServerConfig(max_backlog=3, commit_before_answer=False))  # type: ignore[arg-type]
    host, port = await server.start()
    n = 12
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as client:

        async def one(i: int) -> int:
            async with client.post(f"http://{host}:{port}/v1/messages", data=BODY % i) as r:
                await r.read()
                return r.status

        tasks = [asyncio.create_task(one(i)) for i in range(n)]
        await asyncio.sleep(0.3)
        stats = server.writer_stats()
        assert stats.backlog == 3  # the bound holds while the store is stuck
        # three queued, a fourth answered whose handler waits for room: nothing more
        assert sum(t.done() for t in tasks) <= 4
        assert server.stored == 0
        slow.gate.set()
        statuses = await asyncio.wait_for(asyncio.gather(*tasks), 20)
    assert statuses == [200] * n
    await server.flush()
    stats = server.writer_stats()
    assert stats.stored == n and stats.backlog == 0 and stats.peak_backlog == 3
    assert stats.waits >= 1
    assert sorted(store.request_body(x) for x in store.exchanges()) == sorted(
        BODY % i for i in range(n)
    )
    await server.stop()


async def test_no_answer_ends_before_its_exchange_is_committed(store: Store) -> None:
    """The default: while the store is stuck, no answer is complete (its last bytes wait
    for the commit), the backlog stays within its bound, and once the store moves every
    answer ends and every exchange is stored."""
    slow = SlowStore(store)
    server = CaptureServer(slow, ServerConfig(max_backlog=3))  # type: ignore[arg-type]
    host, port = await server.start()
    n = 12
    async with aiohttp.ClientSession() as client:

        async def one(i: int) -> int:
            async with client.post(f"http://{host}:{port}/v1/messages", data=BODY % i) as r:
                await r.read()
                assert server.stored > 0  # (the whole answer is here only after a commit)
                return r.status

        tasks = [asyncio.create_task(one(i)) for i in range(n)]
        await asyncio.sleep(0.3)
        stats = server.writer_stats()
        assert stats.backlog == 3  # the bound holds while the store is stuck
        assert sum(t.done() for t in tasks) == 0  # not one answer has ended
        assert server.stored == 0
        slow.gate.set()
        statuses = await asyncio.wait_for(asyncio.gather(*tasks), 20)
    assert statuses == [200] * n
    assert server.writer_stats().stored == n  # no flush needed: stored before answered
    assert sorted(store.request_body(x) for x in store.exchanges()) == sorted(
        BODY % i for i in range(n)
    )
    await server.stop()


async def test_answered_never_runs_ahead_of_stored_by_more_than_the_bound(
    store: Store,
) -> None:
    slow = SlowStore(store, delay=0.01)
    slow.gate.set()
    server = CaptureServer(slow, ServerConfig(max_backlog=4))  # type: ignore[arg-type]
    host, port = await server.start()
    answered = 0
    worst = 0
    async with aiohttp.ClientSession() as client:

        async def worker(w: int) -> None:
            nonlocal answered, worst
            for i in range(10):
                url = f"http://{host}:{port}/v1/messages"
                async with client.post(url, data=BODY % (w * 100 + i)) as r:
                    await r.read()
                answered += 1
                worst = max(worst, answered - server.stored)

        await asyncio.gather(*(worker(w) for w in range(8)))
    await server.stop()  # drains
    assert len(store.exchanges()) == 80
    # An answer is counted before its handler has queued it, so allow the requests
    # in flight (8 clients) on top of the bound.
    assert worst <= 4 + 8
    assert server.writer_stats().peak_backlog <= 4
