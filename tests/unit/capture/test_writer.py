"""The store writer: bounded backlog with back-pressure, batches, nothing ever dropped."""

from __future__ import annotations

import asyncio
import threading

import pytest

from promptwitness.capture.redact import Redactor
from promptwitness.capture.writer import StoreWriter
from promptwitness.model import CapturedExchange
from promptwitness.report.lines import exchange_line

SALT = b"s" * 32


def ex(i: int, body: bytes = b"{}") -> CapturedExchange:
    return CapturedExchange(
        method="POST",
        target=f"/v1/messages?i={i}",
        host="h",
        request_headers=[("x-api-key", "sk-secret-value-0001")],
        request_body=body,
    )


class SlowStore:
    """Blocks every write until ``gate`` is set; records batches."""

    def __init__(self, fail_on: set[int] | None = None) -> None:
        self.gate = threading.Event()
        self.rows: list[CapturedExchange] = []
        self.batches: list[int] = []
        self.fail_on = fail_on or set()
        self.batch_fails = False

    def _check(self, x: CapturedExchange) -> None:
        if int(x.target.rsplit("=", 1)[1]) in self.fail_on:
            raise RuntimeError("refused")

    def add(self, x: CapturedExchange) -> int:
        self.gate.wait(10)
        self._check(x)
        self.rows.append(x)
        self.batches.append(1)
        return len(self.rows)

    def add_many(self, xs: list[CapturedExchange]) -> list[int]:
        self.gate.wait(10)
        if self.batch_fails:
            raise RuntimeError("batch refused")
        for x in xs:
            self._check(x)
        self.rows.extend(xs)
        self.batches.append(len(xs))
        return list(range(len(self.rows) - len(xs) + 1, len(self.rows) + 1))


def order(store: SlowStore) -> list[int]:
    return [int(x.target.rsplit("=", 1)[1]) for x in store.rows]


async def test_full_backlog_makes_put_wait_until_stored() -> None:
    store = SlowStore()
    w = StoreWriter(store, Redactor(SALT), max_backlog=2)
    w.start()
    await w.put(ex(0))
    await w.put(ex(1))
    third = asyncio.create_task(w.put(ex(2)))
    await asyncio.sleep(0.05)
    assert not third.done()  # back-pressure: no room until something is stored
    assert w.stats().backlog == 2
    store.gate.set()
    await asyncio.wait_for(third, 5)
    assert await w.flush(5)
    await w.aclose()
    s = w.stats()
    assert order(store) == [0, 1, 2]
    assert (s.stored, s.backlog, s.received) == (3, 0, 3)
    assert s.waits >= 1 and s.peak_backlog == 2
    assert all(b"sk-secret" not in str(x.request_headers).encode() for x in store.rows)


async def test_byte_bound_but_a_big_exchange_fits_an_empty_backlog() -> None:
    store = SlowStore()
    w = StoreWriter(store, Redactor(SALT), max_backlog=100, max_backlog_bytes=1000)
    w.start()
    await w.put(ex(0, b"x" * 5000))  # larger than the bound, backlog empty: accepted
    second = asyncio.create_task(w.put(ex(1)))
    await asyncio.sleep(0.05)
    assert not second.done()
    store.gate.set()
    await asyncio.wait_for(second, 5)
    await w.aclose()
    assert order(store) == [0, 1]


async def test_cancelled_wait_still_stores_the_exchange() -> None:
    store = SlowStore()
    w = StoreWriter(store, Redactor(SALT), max_backlog=1)
    w.start()
    await w.put(ex(0))
    waiting = asyncio.create_task(w.put(ex(1)))
    await asyncio.sleep(0.02)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    store.gate.set()
    await w.aclose()  # stop drains
    assert order(store) == [0, 1]


async def test_batches_in_order_and_flush_waits_for_all() -> None:
    store = SlowStore()
    w = StoreWriter(store, Redactor(SALT), max_backlog=100, max_batch=8)
    w.start()
    for i in range(30):
        await w.put(ex(i))
    store.gate.set()
    assert await w.flush(5)
    assert order(store) == list(range(30))
    assert max(store.batches) > 1 and max(store.batches) <= 8
    await w.aclose()


async def test_a_failing_batch_is_retried_one_by_one() -> None:
    store = SlowStore(fail_on={3})
    store.batch_fails = True
    seen: list[int] = []
    w = StoreWriter(store, Redactor(SALT), on_stored=lambda i, x: seen.append(i))
    w.start()
    for i in range(6):
        await w.put(ex(i))
    store.gate.set()
    await w.aclose()
    assert order(store) == [0, 1, 2, 4, 5]
    assert len(w.failures) == 1 and "refused" in w.failures[0]
    assert w.stats().backlog == 0 and len(seen) == 5


async def test_batch_failure_isolated_in_a_running_writer() -> None:
    store = SlowStore(fail_on={2})
    w = StoreWriter(store, Redactor(SALT), max_batch=16)
    w.start()
    for i in range(5):
        await w.put(ex(i))
    store.gate.set()
    await w.aclose()
    assert order(store) == [0, 1, 3, 4]
    assert w.stats().stored == 4 and w.stats().failed == 1


async def test_unredactable_exchange_is_stored_without_headers_and_bodies() -> None:
    class Broken(Redactor):
        def redact(self, ex: CapturedExchange) -> CapturedExchange:
            raise ValueError("boom")

    store = SlowStore()
    store.gate.set()
    w = StoreWriter(store, Broken(SALT))
    w.start()
    await w.put(ex(0, b"secret body"))
    await w.aclose()
    (row,) = store.rows
    assert row.request_body == b"" and row.request_headers == []
    assert row.error is not None and "redaction failed" in row.error


async def test_not_started_writer_stores_inline() -> None:
    store = SlowStore()
    store.gate.set()
    w = StoreWriter(store, Redactor(SALT))
    await w.put(ex(0))
    w.put_nowait(ex(1))
    assert order(store) == [0, 1] and w.stats().backlog == 0


async def test_lines_of_each_stored_batch_are_made_from_the_redacted_exchanges() -> None:
    store = SlowStore(fail_on={2})
    store.gate.set()
    got: list[list[str]] = []
    w = StoreWriter(store, Redactor(SALT), on_lines=got.append, line_format=exchange_line)
    w.start()
    for i in range(5):
        await w.put(ex(i))
    await w.aclose()
    lines = [line for batch in got for line in batch]
    # one line per stored exchange (the refused one has none), in order, ids included
    assert [line.split(" ", 1)[0] for line in lines] == [f"#{n}" for n in range(1, 5)]
    assert [line.split("i=")[1].split(" ")[0] for line in lines] == ["0", "1", "3", "4"]
    assert all(line.endswith("\n") and " POST h/v1/messages?i=" in line for line in lines)
    assert not any("sk-secret-value-0001" in line for line in lines)


def test_lines_need_a_line_format() -> None:
    """The writer imports no presenter: whoever wants lines says how they are made."""
    with pytest.raises(ValueError, match="line_format"):
        StoreWriter(SlowStore(), Redactor(SALT), on_lines=print)
    w = StoreWriter(SlowStore(), Redactor(SALT), line_format=exchange_line)
    assert w.line_format is None  # nobody listens: no lines are made
