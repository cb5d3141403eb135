"""The capture server's store writer: redaction and storage off the event loop, bounded.

Rules:
- Every exchange handed over is stored (or, if the store refuses it, recorded in
  ``failures``): no sampling, no dropping, not even on cancellation or shutdown.
- The backlog (exchanges received but not yet stored) is bounded by count and by bytes.
  When it is full, ``put`` waits for room: the handler that recorded the exchange returns
  only then, so a client that sends faster than the store writes is slowed down, and
  "answered" never runs more than the bound ahead of "stored". A single exchange larger
  than the byte bound is still accepted when the backlog is empty.
- One thread does the work, in batches: it takes what is queued (up to ``max_batch``),
  redacts each exchange (an exchange that cannot be redacted is stored without its
  headers and bodies: credentials never reach the store), and stores the batch in one
  transaction (``store.add_many`` when the store has it). If the batch fails, its
  exchanges are retried one by one so that one bad exchange costs only itself.
- ``flush`` returns once everything handed over before it is stored; ``stop`` drains
  everything, then ends the thread.
- The writer takes the store's WAL checkpoints out of the commits (``take_checkpoints``:
  SQLite's automatic checkpoint off on the store's connection, a passive checkpoint
  every ``CHECKPOINT_EVERY`` exchanges once the batch's waiters are woken).
- ``commit(ex)`` hands ``ex`` over like ``put`` and returns once the transaction that
  holds it has committed (or the store refused it: then it is in ``failures``). The
  capture server awaits it before the last bytes of an answer (``CaptureServer``'s
  ``commit_before_answer``): an exchange whose answer was sent is in the store, even if
  the process is then killed (SQLite in WAL mode with ``synchronous=NORMAL``, the
  store's setting: a committed transaction is in the WAL file, i.e. in the kernel's
  page cache, and survives the death of the process; no fsync is needed for that).
  Power loss or an OS crash is another matter: with ``synchronous=NORMAL`` the last
  transactions before it may be rolled back; ``synchronous=FULL`` (an fsync of the WAL
  at every commit) would cover that, at the cost of an fsync in every answer's path.
  Group commit: every waiter of a batch is woken by one call per event loop after that
  batch's ``COMMIT``, so many waiting exchanges share one transaction.
- After each stored batch: ``on_stored(id, redacted exchange)`` per exchange, and/or
  ``on_lines(lines)`` once with ``line_format(id, redacted exchange)`` of each (made
  where the redacted exchange is: in the writer process, they are all that comes back).
  The format is the caller's (``serve`` passes ``report.lines.exchange_line``): this
  module imports no presenter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from promptwitness.capture.redact import Redactor
from promptwitness.model import CapturedExchange

__all__ = [
    "Committed",
    "DEFAULT_MAX_BACKLOG",
    "DEFAULT_MAX_BACKLOG_BYTES",
    "DEFAULT_MAX_BATCH",
    "LineFormat",
    "OnLines",
    "OnStored",
    "StoreWriter",
    "WriterStats",
    "lines_of",
]

log = logging.getLogger("promptwitness.capture")

DEFAULT_MAX_BACKLOG = 512
"""Exchanges received but not yet stored, at most (then handlers wait)."""
DEFAULT_MAX_BACKLOG_BYTES = 64 * 1024 * 1024
"""Their bodies' bytes, at most."""
DEFAULT_MAX_BATCH = 64
"""Exchanges stored per transaction, at most."""
CHECKPOINT_EVERY = 128
"""Exchanges stored between two WAL checkpoints run by the writer itself, after the
answers of a batch are woken. (SQLite's automatic checkpoint, every 1,000 pages of WAL,
runs inside the COMMIT that crosses the mark: 3-4 ms in the path of the answers that wait
for that commit.)"""

_OVERHEAD = 512  # bytes counted per exchange besides its bodies (headers, fields)


class _Store(Protocol):
    def add(self, ex: CapturedExchange) -> int: ...


OnStored = Callable[[int, CapturedExchange], None]
OnLines = Callable[[list[str]], None]
LineFormat = Callable[[int, CapturedExchange], str]
"""One stored exchange (its id, the redacted exchange) as a line for ``on_lines``."""
Committed = asyncio.Future[None]
"""Set once the exchange's transaction has committed (``StoreWriter.commit``)."""
_Item = tuple[CapturedExchange, int, Committed | None]
"""An exchange in the backlog: the exchange, its size, who waits for its commit."""


@dataclass(frozen=True)
class WriterStats:
    """The writer's backlog and work so far."""

    backlog: int  # exchanges received, not yet stored (queued or being stored)
    backlog_bytes: int
    peak_backlog: int
    peak_backlog_bytes: int
    received: int
    stored: int
    failed: int
    batches: int
    waits: int  # times a handler waited for room (back-pressure)
    wait_seconds: float  # their total waiting time
    max_backlog: int
    max_backlog_bytes: int


class _Marker:
    """A flush (``done`` set once everything before it is stored) or the stop signal."""

    __slots__ = ("done", "stop")

    def __init__(self, stop: bool = False) -> None:
        self.done = threading.Event()
        self.stop = stop


def _size(ex: CapturedExchange) -> int:
    return len(ex.request_body) + len(ex.response_body) + _OVERHEAD


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _wake_all(futs: list[Committed]) -> None:
    for fut in futs:
        if not fut.done():
            fut.set_result(None)


def wake_committed(batch: Sequence[_Item]) -> None:
    """Wake whoever waits for the commit of ``batch``'s exchanges: one call per event
    loop (a single write to its self-pipe), not one per exchange."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Committed]] = {}
    for _ex, _size, fut in batch:
        if fut is not None:
            by_loop.setdefault(fut.get_loop(), []).append(fut)
    for loop, futs in by_loop.items():
        with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
            loop.call_soon_threadsafe(_wake_all, futs)


class StoreWriter:
    """Redacts and stores exchanges in one background thread, with a bounded backlog."""

    def __init__(
        self,
        store: _Store,
        redactor: Redactor,
        *,
        max_backlog: int = DEFAULT_MAX_BACKLOG,
        max_backlog_bytes: int = DEFAULT_MAX_BACKLOG_BYTES,
        max_batch: int = DEFAULT_MAX_BATCH,
        on_stored: OnStored | None = None,
        on_lines: OnLines | None = None,
        line_format: LineFormat | None = None,
    ) -> None:
        if max_backlog < 1 or max_backlog_bytes < 1 or max_batch < 1:
            raise ValueError("the writer's bounds must be at least 1")
        if on_lines is not None and line_format is None:
            raise ValueError("on_lines needs a line_format (how a stored exchange is a line)")
        self.store = store
        self.redactor = redactor
        self.max_backlog = max_backlog
        self.max_backlog_bytes = max_backlog_bytes
        self.max_batch = max_batch
        self.on_stored = on_stored
        self.on_lines = on_lines
        self.line_format = line_format if on_lines is not None else None
        self.failures: list[str] = []
        self._cond = threading.Condition(threading.Lock())
        self._items: deque[_Item | _Marker] = deque()
        self._backlog = 0
        self._backlog_bytes = 0
        self._peak = 0
        self._peak_bytes = 0
        self._received = 0
        self._stored = 0
        self._batches = 0
        self._waits = 0
        self._wait_s = 0.0
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._thread: threading.Thread | None = None
        self._checkpoints = False  # True: this writer runs the store's WAL checkpoints
        self._since_checkpoint = 0
        self._committing = 0  # exchanges in the backlog whose answers wait for the commit

    # -- lifecycle -----------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def stored(self) -> int:
        return self._stored

    def start(self) -> None:
        if self._thread is None:
            self.take_checkpoints()
            self._thread = threading.Thread(
                target=self._run, name="promptwitness-capture-writer", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Store everything handed over, then end the thread (blocking)."""
        thread = self._thread
        if thread is None:
            return
        self._push(_Marker(stop=True))
        thread.join()
        self._thread = None
        self.give_back_checkpoints()

    # -- WAL checkpoints ---------------------------------------------------------------

    def _pragma(self, sql: str) -> bool:
        use = getattr(self.store, "_use", None)  # ``Store``'s connection, under its lock
        if use is None:
            return False
        try:
            with use("checkpoint the store") as conn:
                conn.execute(sql).fetchall()
        except Exception as exc:
            log.debug("%s failed: %s", sql, exc)
            return False
        return True

    def take_checkpoints(self) -> None:
        """From now on this writer checkpoints the store's WAL, outside its commits."""
        if not self._checkpoints:
            self._checkpoints = self._pragma("PRAGMA wal_autocheckpoint = 0")

    def give_back_checkpoints(self) -> None:
        """A last checkpoint, and SQLite's automatic ones again (its default)."""
        if self._checkpoints:
            self._checkpoints = False
            self._pragma("PRAGMA wal_checkpoint(PASSIVE)")
            self._pragma("PRAGMA wal_autocheckpoint = 1000")

    def after_commit(self, n: int) -> None:
        """``n`` exchanges were stored and their waiters woken: checkpoint when due."""
        if self._checkpoints:
            self._since_checkpoint += n
            if self._since_checkpoint >= CHECKPOINT_EVERY:
                self._since_checkpoint = 0
                self._pragma("PRAGMA wal_checkpoint(PASSIVE)")

    async def aclose(self) -> None:
        await asyncio.to_thread(self.stop)

    async def flush(self, timeout: float) -> bool:
        """Wait until everything handed over so far is stored; False on timeout."""
        if self._thread is None:
            return True
        marker = _Marker()
        self._push(marker)
        return await asyncio.to_thread(marker.done.wait, max(0.0, timeout))

    def stats(self) -> WriterStats:
        with self._cond:
            return WriterStats(
                backlog=self._backlog,
                backlog_bytes=self._backlog_bytes,
                peak_backlog=self._peak,
                peak_backlog_bytes=self._peak_bytes,
                received=self._received,
                stored=self._stored,
                failed=len(self.failures),
                batches=self._batches,
                waits=self._waits,
                wait_seconds=round(self._wait_s, 6),
                max_backlog=self.max_backlog,
                max_backlog_bytes=self.max_backlog_bytes,
            )

    # -- handing over ----------------------------------------------------------------

    async def put(self, ex: CapturedExchange) -> None:
        """Hand ``ex`` over; waits while the backlog is full. Never loses ``ex``: if the
        wait is cancelled, it is queued anyway before the cancellation goes on."""
        await self._put(ex, None)

    async def commit(self, ex: CapturedExchange) -> None:
        """Hand ``ex`` over (waiting for room like ``put``), then wait until the
        transaction that stores it has committed. If this wait is cancelled, ``ex`` is
        stored all the same."""
        if self._thread is None:
            self._write_now(ex)  # stored (committed) in this thread when it returns
            return
        fut: Committed = asyncio.get_running_loop().create_future()
        await self._put(ex, fut)
        await fut

    async def _put(self, ex: CapturedExchange, committed: Committed | None) -> None:
        if self._thread is None:
            self._write_now(ex)
            return
        size = _size(ex)
        loop = asyncio.get_running_loop()
        while True:
            with self._cond:
                if self._backlog == 0 or (
                    self._backlog < self.max_backlog
                    and self._backlog_bytes + size <= self.max_backlog_bytes
                ):
                    self._append(ex, size, committed)
                    return
                fut: asyncio.Future[None] = loop.create_future()
                self._waiters.append((loop, fut))
                self._waits += 1
            t0 = time.perf_counter()
            try:
                await fut
            except asyncio.CancelledError:
                with self._cond:
                    self._append(ex, size, None)  # nobody waits for its commit now
                raise
            finally:
                self._wait_s += time.perf_counter() - t0

    def put_nowait(self, ex: CapturedExchange) -> None:
        """Hand ``ex`` over without waiting (the bound may be exceeded)."""
        if self._thread is None:
            self._write_now(ex)
            return
        with self._cond:
            self._append(ex, _size(ex))

    def _append(self, ex: CapturedExchange, size: int, committed: Committed | None = None) -> None:
        # caller holds the lock
        self._items.append((ex, size, committed))
        if committed is not None:
            self._committing += 1
        self._backlog += 1
        self._backlog_bytes += size
        self._received += 1
        self._peak = max(self._peak, self._backlog)
        self._peak_bytes = max(self._peak_bytes, self._backlog_bytes)
        # Wake the thread only when it may be waiting for this: the queue was empty (it
        # waits for items) or a batch is full (a lingering writer sends now). Otherwise it
        # is writing, or lingering until its deadline, and finds the items itself. A wake
        # per exchange costs the event loop's thread a GIL hand-over each (measured: the
        # process writer's thread spent ~135 µs per exchange waking up). An exchange whose
        # answer waits for its commit ends a lingering writer's wait (a notify when the
        # thread is busy writing is a no-op).
        queued = len(self._items)
        if queued == 1 or queued >= self.max_batch or committed is not None:
            self._cond.notify()

    def _write_now(self, ex: CapturedExchange) -> None:
        """Not running (never started, or stopped): store ``ex`` in the caller's thread."""
        size = _size(ex)
        with self._cond:
            self._backlog += 1
            self._backlog_bytes += size
            self._received += 1
        self._write([(ex, size, None)])

    def _push(self, marker: _Marker) -> None:
        with self._cond:
            self._items.append(marker)
            self._cond.notify()

    # -- the thread -------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            batch: list[_Item] = []
            marker: _Marker | None = None
            with self._cond:
                while not self._items:
                    self._cond.wait()
                self._fill()
                while self._items and len(batch) < self.max_batch:
                    item = self._items.popleft()
                    if isinstance(item, _Marker):
                        marker = item  # everything before it is in this batch
                        break
                    batch.append(item)
            if batch:
                self._write(batch)
            if marker is not None:
                marker.done.set()
                if marker.stop:
                    return

    def _fill(self) -> None:
        """Called with the lock held once items are waiting, before a batch is taken:
        a subclass may wait a moment for the batch to fill. Here: take what is there."""

    def _write(self, batch: Sequence[_Item]) -> None:
        try:
            done = [self._redact(ex) for ex, _size, _fut in batch]
            ids = self._store(done)
        finally:
            self._release(batch)
            wake_committed(batch)  # committed (or refused): their answers may end now
        if self.on_stored is not None:
            for ex_id, ex in zip(ids, done, strict=True):
                if ex_id is None:
                    continue
                try:
                    self.on_stored(ex_id, ex)
                except Exception:
                    log.exception("on_exchange callback failed")
        if self.line_format is not None:
            self._lines(lines_of(ids, done, self.line_format))
        self.after_commit(len(batch))

    def _lines(self, lines: list[str]) -> None:
        if lines and self.on_lines is not None:
            try:
                self.on_lines(lines)
            except Exception:
                log.exception("on_lines callback failed")

    def _redact(self, ex: CapturedExchange) -> CapturedExchange:
        """``redactor.redact(ex)``; if that fails, the exchange without headers and bodies
        (never let an unredacted exchange reach the disk)."""
        try:
            return self.redactor.redact(ex)
        except Exception as exc:
            log.exception("redaction failed; storing the exchange without headers and bodies")
            ex.request_headers, ex.response_headers = [], []
            ex.request_body = ex.response_body = b""
            ex.error = f"redaction failed ({type(exc).__name__}); headers and bodies dropped"
            return ex

    def _store(self, exchanges: list[CapturedExchange]) -> list[int | None]:
        add_many: Callable[[list[CapturedExchange]], list[int]] | None = getattr(
            self.store, "add_many", None
        )
        if add_many is not None and len(exchanges) > 1:
            try:
                ids: list[int | None] = list(add_many(exchanges))
            except Exception:
                log.warning("storing a batch failed; storing its exchanges one by one")
            else:
                with self._cond:
                    self._stored += len(ids)
                    self._batches += 1
                return ids
        out: list[int | None] = []
        for ex in exchanges:
            try:
                out.append(self.store.add(ex))
            except Exception as exc:
                log.exception("cannot store an exchange")
                self.failures.append(f"cannot store {ex.method} {ex.target}: {exc}")
                out.append(None)
            else:
                with self._cond:
                    self._stored += 1
        with self._cond:
            self._batches += 1
        return out

    def _release(self, batch: Sequence[_Item]) -> None:
        """Make room for what ``batch`` held and wake the handlers waiting for it."""
        with self._cond:
            self._backlog -= len(batch)
            self._backlog_bytes -= sum(size for _ex, size, _fut in batch)
            self._committing -= sum(1 for _ex, _size, fut in batch if fut is not None)
            waiters, self._waiters = self._waiters, []
        for loop, fut in waiters:
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
                loop.call_soon_threadsafe(_wake, fut)


def lines_of(
    ids: Sequence[int | None], done: Sequence[CapturedExchange], line_format: LineFormat
) -> list[str]:
    """``line_format`` of every stored exchange of a batch (``done``: redacted)."""
    return [line_format(i, ex) for i, ex in zip(ids, done, strict=True) if i is not None]
