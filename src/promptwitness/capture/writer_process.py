"""The capture gateway's store writer in a child process (``CaptureServer(writer="process")``).

Why: the thread writer (``capture.writer``) redacts and stores under the server's GIL,
so every microsecond it spends is one the event loop waits for. Here one long-lived
child process (``python -m promptwitness.capture.writer_process``, started with
``subprocess`` = fork + exec at once, never a bare fork of the threaded server) opens
the same store and its own ``Redactor`` (the server's salt and known secrets, handed over
through the socket, never on a command line) and does that work on its own GIL.

Rules (the thread writer's, plus):
- Same contract as ``StoreWriter``: the bounded backlog (exchanges and bytes received but
  not yet *stored*, i.e. not yet acknowledged by the child), back-pressure (``put``
  waits for room), batches, ``flush``/``stop`` returning only when everything handed over
  is stored, ``on_stored`` with the stored id and the redacted exchange.
- Exchanges travel to the child **unredacted, in memory only**: over a local
  ``socketpair`` (an AF_UNIX socket, no file, no network), their fields pickled, and
  their bodies as raw bytes in a region both processes map (an anonymous ``memfd``: no
  name, no file; the child inherits its descriptor) or, where there is none or a batch
  does not fit, through the socket. Redaction happens in the child before
  ``Store.add_many``; nothing is written to disk before it.
- The child answers each batch after its ``COMMIT``: that answer is the commit
  acknowledgement (one per batch) on which the server's answers that wait for their
  commit (``StoreWriter.commit``) end, all of the batch's at once. A batch whose
  exchanges wait for their commit is sent at once (no linger): what arrives meanwhile is
  the next batch. The child runs the store's WAL checkpoints after acknowledging.
- The child answers each batch with the ids; when the server has an ``on_stored``
  callback, with what redaction changed (the changed fields only, by index; a body only
  when it changed), so the server rebuilds the redacted exchange from its own copy; and
  when it has an ``on_lines`` callback, with the lines, made in the child by its
  ``line_format`` (a module-level function, pickled by reference to the child). The
  sending thread holds the GIL only to pickle and unpickle; ``sendall``/``recv_into``
  release it. (Every bit of Python it runs per exchange is paid twice under load: the
  event loop's thread gives the GIL up around each poll, and a sender that wants it then
  makes every hand-over a contended one. Lines instead of exchanges: ~10 % more
  requests per second for ``serve``.)
- If the child dies (killed, crashed, its socket closed), the server says so clearly
  (``log.error``, an entry in ``failures``, ``crashed``) and **falls back** to storing in
  its own process (its own ``Redactor``): the unacknowledged batch is stored there, minus
  the exchanges the child had already committed (found by their start time and client in
  the store), and so is everything after it. Nothing received is lost. What the fallback
  cannot know: secrets the child had learned from earlier exchanges' headers and bodies;
  they are re-learned when they appear again.
- The child ignores SIGINT and SIGTERM (a Ctrl-C or ``kill`` of the process group must
  not cut a transaction short): the server stops it through the socket, and a closed
  socket (the server died) makes it finish its batch and exit.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import logging
import mmap
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import fields
from typing import Any

from promptwitness.capture.redact import Redactor
from promptwitness.capture.writer import (
    DEFAULT_MAX_BACKLOG,
    DEFAULT_MAX_BACKLOG_BYTES,
    DEFAULT_MAX_BATCH,
    LineFormat,
    OnLines,
    OnStored,
    StoreWriter,
    _Item,
    _Marker,
    _Store,
    lines_of,
    wake_committed,
)
from promptwitness.errors import (  # re-exported
    WriterProcessError as WriterProcessError,
)
from promptwitness.model import CapturedExchange

__all__ = ["ProcessWriter", "WriterProcessError", "redactor_secrets"]

log = logging.getLogger("promptwitness.capture")

_HEADER = struct.Struct("!Q")
_PROTOCOL = pickle.HIGHEST_PROTOCOL
DEFAULT_LINGER = 0.005
"""Seconds the sender waits for a batch to fill before sending what it has."""
_IOV_MAX = 512  # buffers per sendmsg (Linux allows 1024)
_BUFFER = 4 * 1024 * 1024  # socket buffers asked for (the kernel may cap them)
_START_TIMEOUT = 60.0  # seconds for the child to open the store and say it is ready
_STOP_TIMEOUT = 30.0  # seconds for the child to exit after the stop frame


# -- framing (both sides) ------------------------------------------------------------


def _send(sock: socket.socket, *parts: bytes) -> None:
    """One frame: its length, then ``parts`` as they are (``sendmsg``, no copy into one
    buffer; the GIL is released while the kernel takes the bytes)."""
    total = sum(len(p) for p in parts)
    bufs = deque(memoryview(p) for p in (_HEADER.pack(total), *parts) if len(p))
    while bufs:
        n = sock.sendmsg(list(itertools.islice(bufs, _IOV_MAX)))
        while n:
            if n >= len(bufs[0]):
                n -= len(bufs.popleft())
            else:
                bufs[0] = bufs[0][n:]
                n = 0


def _recv_exact(sock: socket.socket, n: int) -> bytearray:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:])
        if k == 0:
            raise EOFError("the other side closed the socket")
        got += k
    return buf


def _recv(sock: socket.socket) -> bytearray:
    (n,) = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
    return _recv_exact(sock, n) if n else bytearray()


# A batch on the wire: a small pickle of every field but the bodies, then the bodies'
# raw bytes one after another (pickling 100 KB bodies into one buffer costs ~100 µs per
# exchange; handing them to sendmsg costs nothing). With a shared region (``Bodies``:
# an anonymous memfd mapped by both processes, never a file) the bodies are copied there
# instead and the frame carries only the pickle: a memcpy instead of a trip through the
# socket's buffers on both sides. One batch is in flight at a time (the sender waits for
# its answer), so every batch starts at offset 0 of the region, and the child copies the
# bodies out before it answers.
_META = struct.Struct("!Q")
_FIELDS = tuple(
    f.name for f in fields(CapturedExchange) if f.name not in ("request_body", "response_body")
)
DEFAULT_SHARED = 32 * 1024 * 1024
"""Bytes of the shared region for bodies (a batch whose bodies do not fit goes inline)."""


class Bodies:
    """The region both processes map: created by the server (``create``), mapped by the
    child from the descriptor it inherited (``Bodies(fd, size)``)."""

    def __init__(self, fd: int, size: int) -> None:
        self.fd = fd
        self.size = size
        self.map = mmap.mmap(fd, size)

    @classmethod
    def create(cls, size: int = DEFAULT_SHARED) -> Bodies:
        fd = os.memfd_create("promptwitness-bodies", os.MFD_CLOEXEC)
        try:
            os.ftruncate(fd, size)
            return cls(fd, size)
        except BaseException:
            os.close(fd)
            raise

    def close(self) -> None:
        with contextlib.suppress(BufferError, ValueError):
            self.map.close()
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1


def encode_batch(batch: Sequence[CapturedExchange], shared: Bodies | None = None) -> list[bytes]:
    total = sum(len(ex.request_body) + len(ex.response_body) for ex in batch)
    in_shared = shared is not None and 0 < total <= shared.size
    meta = pickle.dumps(
        (
            in_shared,
            [
                (
                    tuple(getattr(ex, name) for name in _FIELDS),
                    len(ex.request_body),
                    len(ex.response_body),
                )
                for ex in batch
            ],
        ),
        _PROTOCOL,
    )
    parts = [_META.pack(len(meta)), meta]
    if in_shared:
        assert shared is not None
        m, off = shared.map, 0
        for ex in batch:
            for body in (ex.request_body, ex.response_body):
                m[off : off + len(body)] = body
                off += len(body)
        return parts
    for ex in batch:
        parts += (ex.request_body, ex.response_body)
    return parts


def decode_batch(frame: bytearray, shared: Bodies | None = None) -> list[CapturedExchange]:
    view = memoryview(frame)
    (n,) = _META.unpack_from(view)
    off = _META.size + n
    in_shared, items = pickle.loads(view[_META.size : off])  # noqa: S301 - our own writer child, over a socketpair
    src: mmap.mmap | memoryview
    if in_shared:
        if shared is None:
            raise WriterProcessError("a batch in the shared region, but no region is mapped")
        src, at = shared.map, 0
    else:
        src, at = view, off
    out: list[CapturedExchange] = []
    for values, req_len, resp_len in items:
        ex = CapturedExchange(**dict(zip(_FIELDS, values, strict=True)))
        if at + req_len + resp_len > len(src):
            raise WriterProcessError("a batch's bodies run past their buffer")
        ex.request_body = bytes(src[at : at + req_len])  # a copy: the region is reused
        at += req_len
        ex.response_body = bytes(src[at : at + resp_len])
        at += resp_len
        out.append(ex)
    end = off if in_shared else at
    if end != len(frame):
        raise WriterProcessError(f"a batch frame of {len(frame)} bytes held {end}")
    return out


def redactor_secrets(redactor: Redactor) -> list[str]:
    """Every secret ``redactor`` searches for (known at start or learned since), so a
    redactor in another process replaces exactly the same strings."""
    return redactor.handover()[1]


def _redactor_salt(redactor: Redactor, store: _Store) -> bytes:
    salt = redactor.handover()[0]
    return salt if salt else bytes(store.salt())  # type: ignore[attr-defined]


# -- the child ----------------------------------------------------------------------


Result = tuple[
    int | None,  # stored id, None if the store refused it
    tuple[tuple[int, Any], ...] | None,  # the fields redaction changed: (index in _FIELDS,
    # redacted value); None when the server does not ask for the redacted exchange
    bytes | None,  # its request body if redaction changed it, else None (use yours)
    bytes | None,  # the same for the response body
]


def _same(a: object, b: object) -> bool:
    return a is b or a == b


def _result(
    ex_id: int | None,
    received: tuple[Any, ...],
    bodies: tuple[bytes, bytes],
    red: CapturedExchange,
) -> Result:
    """What goes back for one exchange: the fields and bodies redaction changed.
    (``received`` and ``bodies`` are the values as received, ``red`` the redacted
    exchange: the thread writer's ``_redact`` may have replaced them on failure.)"""
    changes = tuple(
        (i, value)
        for i, (name, before) in enumerate(zip(_FIELDS, received, strict=True))
        if not _same(value := getattr(red, name), before)
    )
    req = None if _same(red.request_body, bodies[0]) else red.request_body
    resp = None if _same(red.response_body, bodies[1]) else red.response_body
    return (ex_id, changes, req, resp)


def redacted_copy(ex: CapturedExchange, result: Result) -> CapturedExchange:
    """The redacted exchange: ``ex`` (as sent to the child) with ``result``'s changes."""
    _id, changes, req, resp = result
    red = CapturedExchange(**{name: getattr(ex, name) for name in _FIELDS})
    for i, value in changes or ():
        setattr(red, _FIELDS[i], value)
    red.request_body = ex.request_body if req is None else req
    red.response_body = ex.response_body if resp is None else resp
    return red


def child_main(fd: int) -> int:
    """The writer process: read the config, then batches until the stop frame or EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from promptwitness.store import Store

    sock = socket.socket(fileno=fd)
    config = pickle.loads(_recv(sock))  # noqa: S301 - our own writer child, over a socketpair
    shared: Bodies | None = None
    try:
        if config.get("shared_fd") is not None:
            shared = Bodies(config["shared_fd"], config["shared_size"])
        store = Store.open(str(config["store"]))
        redactor = Redactor(config["salt"], known_secrets=config["secrets"])
    except Exception as exc:
        _send(sock, pickle.dumps(("error", f"{type(exc).__name__}: {exc}"), _PROTOCOL))
        return 1
    writer = StoreWriter(store, redactor)  # never started: its _redact and _store only
    writer.take_checkpoints()  # after the acknowledgements, not inside the commits
    _send(sock, pickle.dumps(("ready", os.getpid()), _PROTOCOL))
    try:
        while True:
            try:
                frame = _recv(sock)
            except EOFError:
                return 0  # the server is gone: nothing more will come
            if not frame:
                return 0  # the stop frame
            batch = decode_batch(frame, shared)
            del frame
            want = config["exchanges"]  # the server has an on_stored callback
            received = [
                (
                    tuple(getattr(ex, n) for n in _FIELDS) if want else (),
                    (ex.request_body, ex.response_body),
                )
                for ex in batch
            ]
            done = [writer._redact(ex) for ex in batch]
            before = len(writer.failures)
            ids = writer._store(done)
            results: list[Result] = (
                [
                    _result(ex_id, values, bodies, red)
                    for ex_id, (values, bodies), red in zip(ids, received, done, strict=True)
                ]
                if want
                else [(ex_id, None, None, None) for ex_id in ids]
            )
            failures = writer.failures[before:]
            lines = lines_of(ids, done, config["lines"]) if config["lines"] else []
            _send(sock, pickle.dumps((results, failures, lines), _PROTOCOL))
            writer.after_commit(len(batch))  # while the server sends the answers
    finally:
        writer.give_back_checkpoints()
        store.close()
        if shared is not None:
            shared.close()


# -- the server side ------------------------------------------------------------------


class ProcessWriter(StoreWriter):
    """``StoreWriter`` whose redaction and storage run in a child process.

    ``store`` must be a ``Store`` the child can open again (``store.location``: a
    directory or a PostgreSQL URL); ``redactor``
    gives the salt and the secrets the child starts with, and both serve the fallback
    after a crash (and writes made while the writer is not running).
    """

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
        python: str | None = None,
        linger: float = DEFAULT_LINGER,
        shared_size: int = DEFAULT_SHARED,
    ) -> None:
        location = getattr(store, "location", None)
        if location is None:
            raise ValueError("the process writer needs a store it can reopen (.location)")
        super().__init__(
            store,
            redactor,
            max_backlog=max_backlog,
            max_backlog_bytes=max_backlog_bytes,
            max_batch=max_batch,
            on_stored=on_stored,
            on_lines=on_lines,
            line_format=line_format,
        )
        if self.line_format is not None:
            try:  # the child runs it: it goes there by reference, like a module's function
                pickle.dumps(self.line_format, _PROTOCOL)
            except Exception as exc:
                raise ValueError(
                    "the process writer's line_format must be a module-level function "
                    f"(the writer process runs it): {exc}"
                ) from None
        self.store_location = str(location)
        self.python = python or sys.executable
        self.linger = max(0.0, linger)
        self.crashed: str | None = None  # why the child is gone (then: stored in-process)
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._ready = threading.Event()
        self.child_pid: int | None = None
        self.shared_size = shared_size
        self._shared: Bodies | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        for s in (parent, child):
            for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF):
                with contextlib.suppress(OSError):
                    s.setsockopt(socket.SOL_SOCKET, opt, _BUFFER)
        shared: Bodies | None = None
        if self.shared_size and hasattr(os, "memfd_create"):
            try:
                shared = Bodies.create(self.shared_size)
            except OSError as exc:  # no memfd here: the bodies go through the socket
                log.debug("no shared region for bodies: %s", exc)
        try:
            self._proc = subprocess.Popen(
                [
                    self.python,
                    "-m",
                    "promptwitness.capture.writer_process",
                    "--fd",
                    str(child.fileno()),
                ],
                pass_fds=(child.fileno(),) + ((shared.fd,) if shared is not None else ()),
                stdin=subprocess.DEVNULL,
                close_fds=True,
            )
        except OSError:
            parent.close()
            if shared is not None:
                shared.close()
            raise
        finally:
            child.close()
        self._shared = shared
        self._sock = parent
        self.child_pid = self._proc.pid
        # The config goes first, over the socket: the salt and the secrets never appear
        # on a command line or in the environment.
        config = {
            "store": self.store_location,
            "salt": _redactor_salt(self.redactor, self.store),
            "secrets": redactor_secrets(self.redactor),
            "exchanges": self.on_stored is not None,  # send the redacted exchanges back
            "lines": self.line_format,  # make their lines with it and send them back
            # the shared region for bodies: the descriptor the child inherited
            "shared_fd": shared.fd if shared is not None else None,
            "shared_size": shared.size if shared is not None else 0,
        }
        # a child that died at once (it could not start) closes its end before this is
        # sent: the handshake finds it gone and the writer falls back in the thread
        with contextlib.suppress(OSError):
            _send(parent, pickle.dumps(config, _PROTOCOL))
        super().start()

    def stop(self) -> None:
        """Store everything handed over, then end the thread and the child (blocking)."""
        super().stop()
        self._close_child()

    def _close_child(self, kill: bool = False) -> int | None:
        sock, proc = self._sock, self._proc
        self._sock = self._proc = None
        if self._shared is not None:  # no batch is in flight once we get here
            self._shared.close()
            self._shared = None
        if sock is not None:
            if not kill:
                with contextlib.suppress(OSError):
                    _send(sock, b"")
            sock.close()
        if proc is None:
            return None
        if kill:
            with contextlib.suppress(OSError):
                proc.kill()
        try:
            return proc.wait(_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            log.error("the writer process (pid %s) did not exit; killing it", proc.pid)
            proc.kill()
            return proc.wait()

    # -- the thread ----------------------------------------------------------------------

    def _handshake(self) -> None:
        assert self._sock is not None
        self._sock.settimeout(_START_TIMEOUT)
        try:
            kind, value = pickle.loads(_recv(self._sock))  # noqa: S301 - our own writer child, over a socketpair
        finally:
            self._sock.settimeout(None)
        if kind != "ready":
            raise WriterProcessError(f"the writer process could not start: {value}")
        self._ready.set()

    def _run(self) -> None:
        try:
            self._handshake()
        except Exception as exc:
            self._crash(exc, 0)
        super()._run()

    def _fill(self) -> None:
        # Linger: a round trip to the child and a transaction cost the same for one
        # exchange as for 64, so under load wait a moment for the batch to fill (never
        # when a flush or stop is queued, never when an answer waits for its commit,
        # never past ``linger``). Answers that wait for their commit share transactions
        # without it: what arrives while one batch is in the child is the next batch.
        # (Lingering for the requests still in flight at the server as well, up to 0.5
        # or 2 ms, gave no more requests per second in the capture bench, only later
        # answers.)
        deadline = time.monotonic() + self.linger
        while (
            len(self._items) < self.max_batch
            and not isinstance(self._items[-1], _Marker)
            and self._committing == 0
            and (left := deadline - time.monotonic()) > 0
        ):
            self._cond.wait(left)

    def _write(self, batch: Sequence[_Item]) -> None:
        if self._sock is None:
            super()._write(batch)  # not running, or the child is gone: in this process
            return
        exchanges = [ex for ex, _size, _fut in batch]
        try:
            _send(self._sock, *encode_batch(exchanges, self._shared))
            results, failures, lines = pickle.loads(_recv(self._sock))  # noqa: S301 - our own writer child, over a socketpair
        except Exception as exc:  # the child is gone (EOF, reset) or sent garbage
            self._crash(exc, len(batch))
            rest = self._not_stored(batch)
            keep = {id(ex) for ex, _size, _fut in rest}
            committed = [item for item in batch if id(item[0]) not in keep]
            if committed:  # stored by the child, its ack lost: count them, once
                log.error(
                    "the writer process had stored %d of them before it failed",
                    len(committed),
                )
                with self._cond:
                    self._stored += len(committed)
                self._release(committed)
                wake_committed(committed)
            super()._write(rest)
            return
        with self._cond:
            self._stored += sum(1 for r in results if r[0] is not None)
            self._batches += 1
        self.failures.extend(failures)
        self._lines(lines)  # (a few µs) first: once woken, the loop wants the GIL
        self._release(batch)
        wake_committed(batch)  # the child answers after its COMMIT: the answers may end
        if self.on_stored is None:
            return
        for result, ex in zip(results, exchanges, strict=True):
            ex_id = result[0]
            if ex_id is None or result[1] is None:
                continue
            red = redacted_copy(ex, result)
            try:
                self.on_stored(ex_id, red)
            except Exception:
                log.exception("on_exchange callback failed")

    # -- when the child is gone ----------------------------------------------------------

    def _crash(self, exc: BaseException, pending: int) -> None:
        code = self._close_child(kill=True)
        self.crashed = (
            f"the writer process (pid {self.child_pid}) failed "
            f"({type(exc).__name__}: {exc}; exit code {code}) with {pending} exchanges "
            "not acknowledged; storing in the server process from now on"
        )
        log.error("%s", self.crashed)
        self.failures.append(self.crashed)

    def _not_stored(self, batch: Sequence[_Item]) -> list[_Item]:
        """``batch`` minus what the child committed before it died (its ack was lost):
        found in the store by run, start time and client address."""
        runs = {ex.run for ex, _size, _fut in batch}
        exchanges = getattr(self.store, "exchanges", None)
        if exchanges is None:
            return list(batch)
        seen: set[tuple[str | None, float, str | None, str]] = set()
        try:
            for run in runs:
                for x in exchanges(run=run, limit=len(batch) + 64):
                    seen.add((x.run, float(x.started), x.client, x.method))
        except Exception:
            log.exception("cannot check which exchanges the writer process stored")
            return list(batch)
        return [
            item
            for item in batch
            if (item[0].run, float(item[0].started), item[0].client, item[0].method) not in seen
        ]


def _main(argv: Iterable[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m promptwitness.capture.writer_process")
    p.add_argument("--fd", type=int, required=True)
    args = p.parse_args(list(argv) if argv is not None else None)
    return child_main(args.fd)


if __name__ == "__main__":
    sys.exit(_main())
