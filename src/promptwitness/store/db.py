"""The capture store: exchange rows, content-addressed zstd blobs and the provenance log.

Rules:
- Raw bytes are the truth: request and response bodies are stored byte-exact as blobs
  addressed by the SHA-256 of the uncompressed bytes; headers keep order, case and
  duplicates. Every parsed view (protocol, parse error) is derived and stored beside them.
- Nothing secret reaches this module: ``add`` expects an exchange that already went
  through ``capture.redact.Redactor``.
- The store owns its log: every exchange's leaf (``ledger.record``) is appended in the
  transaction that inserts the exchange, at the next dense index; the log's tables are
  read and written only here (``ledger.log.Ledger`` signs, proves and verifies through
  the methods of the "the log" section).
- Two backends, one contract (``store.backend``): an SQLite file in a directory (the
  embedded default, ``store.sqlite``) or a PostgreSQL database shared by many gateway
  replicas (``store.postgres``), chosen by ``Store.open``'s location.
- One connection, guarded by a lock: any thread may call any method (the capture
  server writes from one writer thread).
- Every database / zstd / OS error leaves this module as ``StoreError`` (or
  ``NotFound``) with a message that says what to do.
- Cheap on repeats: ``add_many`` writes a batch in one transaction; a blob already in
  the store is neither compressed nor inserted again (an in-memory set of the blob
  hashes this handle has seen committed saves even the lookup); the request's
  classification (protocol, parse error), which depends only on method, target and
  body, is remembered per request SHA-256.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import platformdirs

from promptwitness.errors import NotFound, StoreError
from promptwitness.ledger.record import (
    LeafParts,
    exchange_leaf_hash,
    headers_json,
    leaf_parts,
    record_json,
)
from promptwitness.model import CapturedExchange, RawRequest
from promptwitness.model import iso_time as iso_time
from promptwitness.protocols.encoding import (
    CodingError,
    Decoded,
    content_encoding,
    decode_body,
    parse_codings,
)
from promptwitness.store import blobs, postgres
from promptwitness.store.backend import INSERT_BLOB, INSERT_LEAF, Backend
from promptwitness.store.sqlite import DB_NAME, ENV_VAR, SqliteBackend

CLASSIFY_CACHE = 1024  # (method, target, request SHA-256) -> (protocol, parse error)
SHA_MEMO = 16  # bytes objects whose hash is remembered (by identity)
SHA_MEMO_MIN = 4096  # smaller ones are hashed again (cheaper than the lookup's lock)
PUT_LOOKUP_MIN = 16 * 1024
"""Blobs this large or larger are looked up before being compressed and inserted."""
KNOWN_BLOBS_MAX = 1 << 20  # hashes remembered as stored; forgotten all at once beyond

Headers = tuple[tuple[str, str], ...]

__all__ = ["DB_NAME", "ENV_VAR", "LogLeaf", "RunRecord", "Store", "StoreStats", "StoredExchange"]


def default_store_location() -> Path | str:
    """``$PROMPTWITNESS_STORE`` if set (a directory, or a ``postgresql://`` URL), else
    the per-user data directory's ``store``."""
    env = os.environ.get(ENV_VAR)
    if env:
        return env if postgres.is_url(env) else Path(env).expanduser()
    return platformdirs.user_data_path("promptwitness") / "store"


# -- values -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredExchange:
    """One exchange as stored; bodies are read with ``Store.request_body`` / ``response_body``."""

    id: int
    run: str | None
    started: float
    duration: float | None
    mode: str
    method: str
    scheme: str
    host: str
    target: str
    http_version: str
    request_headers: Headers
    request_sha256: str
    request_size: int
    status: int | None
    response_headers: Headers
    response_sha256: str
    response_size: int
    protocol: str | None
    parse_error: str | None
    error: str | None
    upstream: str | None
    client: str | None
    redactions: tuple[str, ...] = ()
    # a request body sent with a Content-Encoding: see ``capture.redact`` (None: none)
    request_coding: Mapping[str, Any] | None = None

    @property
    def path(self) -> str:
        """The target without its query string."""
        return self.target.split("?", 1)[0]

    @property
    def time(self) -> str:
        return iso_time(self.started)

    def raw_request(self, body: bytes) -> RawRequest:
        return RawRequest(self.method, self.target, self.request_headers, body)

    def decoded_request_body(self, body: bytes) -> Decoded | None:
        """The stored request ``body`` with its ``Content-Encoding`` undone (None: sent
        without one). A body stored already decoded (what could be decoded of a body
        that could not be, see ``capture.redact``) is returned as it is, with the
        recorded error."""
        coding = content_encoding(self.request_headers) if body else None
        if coding is None or not parse_codings(coding):
            return None
        meta = self.request_coding or {}
        if meta.get("stored") in ("decoded", "decoded-prefix"):
            error = meta.get("error")
            return Decoded(
                body,
                parse_codings(coding),
                (),
                None
                if not error
                else CodingError(str(meta.get("error_kind") or "corrupt"), "", str(error)),
            )
        return decode_body(body, coding)

    def to_json(self) -> dict[str, Any]:
        """The exchange's metadata as JSON values (no headers, no bodies)."""
        return {
            "id": self.id,
            "run": self.run,
            "time": self.time,
            "started": self.started,
            "duration": self.duration,
            "mode": self.mode,
            "protocol": self.protocol,
            "method": self.method,
            "scheme": self.scheme,
            "host": self.host,
            "path": self.path,
            "target": self.target,
            "http_version": self.http_version,
            "status": self.status,
            "request_size": self.request_size,
            "response_size": self.response_size,
            "request_sha256": self.request_sha256,
            "response_sha256": self.response_sha256,
            "parse_error": self.parse_error,
            "error": self.error,
            "upstream": self.upstream,
            "client": self.client,
            "redactions": list(self.redactions),
            "request_coding": dict(self.request_coding) if self.request_coding else None,
        }


@dataclass(frozen=True)
class RunRecord:
    """One run: a ``record``, ``serve`` or ``import`` (or a probe's run)."""

    id: str
    kind: str
    command: tuple[str, ...] | None
    started: float
    ended: float | None
    exit_code: int | None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "command": list(self.command) if self.command is not None else None,
            "started": iso_time(self.started),
            "ended": iso_time(self.ended) if self.ended is not None else None,
            "exit_code": self.exit_code,
            "meta": dict(self.meta),
        }


@dataclass(frozen=True)
class StoreStats:
    exchanges: int
    runs: int
    blobs: int
    raw_bytes: int  # sum of the blobs' uncompressed sizes (each distinct body once)
    stored_bytes: int  # sum of the blobs' stored (compressed) sizes
    db_bytes: int  # on disk: the SQLite file plus its write-ahead log, or the PostgreSQL database


# -- helpers ----------------------------------------------------------------------------

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def new_run_id(now: float | None = None) -> str:
    """13 characters, sortable by creation time: 9 of milliseconds, 4 random."""
    ms = int((time.time() if now is None else now) * 1000)
    stamp = "".join(_CROCKFORD[(ms >> (5 * i)) & 31] for i in reversed(range(9)))
    return stamp + "".join(secrets.choice(_CROCKFORD) for _ in range(4))


def _dec_text(v: object) -> str | None:
    if v is None:
        return None
    if isinstance(v, bytes):
        return v.decode("utf-8", "surrogateescape")
    return str(v)


def _headers_from_json(text: str) -> Headers:
    return tuple((str(k), str(v)) for k, v in json.loads(text))


def _coding_from_json(v: object) -> dict[str, Any] | None:
    text = _dec_text(v)
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _classify(ex: CapturedExchange) -> tuple[str | None, str | None]:
    """``(protocol, parse_error)`` of the request, from the protocol registry."""
    from promptwitness.protocols import parse_request

    raw = RawRequest(ex.method, ex.target, tuple(ex.request_headers), ex.request_body)
    try:
        outcome = parse_request(raw)
    except Exception as exc:  # the parser promises not to raise; never lose a capture if it does
        return None, f"parser failed: {type(exc).__name__}: {exc}"
    return outcome.protocol, outcome.error


# -- the store --------------------------------------------------------------------------


@dataclass(frozen=True)
class LogLeaf:
    """One leaf of the store's log: its index, its exchange, its RFC 9162 hash."""

    index: int
    exchange: int
    hash: bytes


class Store:
    """A capture store. Open with ``Store.open(location)``; use as a context manager."""

    readonly: bool = False  # opened with ``Store.open(..., readonly=True)``

    def __init__(self, backend: Backend, *, readonly: bool = False) -> None:
        self._db = backend
        self.readonly = readonly
        self.backend = backend.name
        self.location = backend.location  # reopens it; may hold a password: never print
        self.where = backend.where  # names it in messages
        self.durability = backend.durability  # when a commit is on disk (serve prints it)
        # what a user passes as --store to reach it again (a directory, or the URL without
        # its password): what reports and printed commands show
        self.label = str(backend.root) if isinstance(backend, SqliteBackend) else backend.where
        # An SQLite store's directory and database file (None for PostgreSQL).
        self.root: Path | None = backend.root if isinstance(backend, SqliteBackend) else None
        self.path: Path | None = backend.path if isinstance(backend, SqliteBackend) else None
        self._lock = threading.RLock()
        self._closed = False
        self._salt: bytes | None = None
        # Blob hashes known to be committed in this store (blobs are never deleted).
        self._known_blobs: set[str] = set()
        # Runs known to be committed in this store (runs are never deleted): an exchange
        # of one of them needs no "adhoc" run row (serve's every batch, one statement less)
        self._known_runs: set[str] = set()
        self._sha_memo: OrderedDict[int, tuple[bytes, str]] = OrderedDict()
        self._classified: OrderedDict[tuple[str, str, str], tuple[str | None, str | None]] = (
            OrderedDict()
        )

    # opening and closing

    @classmethod
    def open(
        cls,
        location: str | os.PathLike[str] | None = None,
        *,
        create: bool = True,
        readonly: bool = False,
    ) -> Store:
        """Open (creating if needed) the store at ``location``: a directory (an SQLite
        store) or a ``postgresql://`` URL (a PostgreSQL store; the database must exist,
        its tables are created on first use).

        ``None`` means ``default_store_location()``. An SQLite store's directory is
        created with mode 0700 and its database file with mode 0600. ``create=False``: a
        missing store is an error ("no store at ..."), never a new empty one.
        ``readonly=True`` (implies ``create=False``): nothing is written (an SQLite store
        is opened so that not even a file beside it is written).
        """
        where = default_store_location() if location is None else location
        if postgres.is_url(where):
            pg = postgres.PostgresBackend.open(str(where), create=create, readonly=readonly)
            return cls(pg, readonly=readonly)
        base = Path(where).expanduser()
        return cls(SqliteBackend.open(base, create=create, readonly=readonly), readonly=readonly)

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                try:
                    self._db.close()
                except self._db.errors as exc:  # pragma: no cover - close rarely fails
                    raise self._db.map_error(exc, "close the store") from exc

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.where!r})"

    def __str__(self) -> str:
        return self.where

    # plumbing

    @contextmanager
    def _use(self, doing: str) -> Iterator[Backend]:
        """The database, under the lock, with errors mapped."""
        with self._lock:
            if self._closed:
                raise StoreError(f"cannot {doing}: the store {self.where} is already closed")
            try:
                yield self._db
            except self._db.errors as exc:
                raise self._db.map_error(exc, doing) from exc

    @contextmanager
    def _write(self, doing: str, *, batch: bool = False) -> Iterator[Backend]:
        """One write transaction (``batch``: see ``Backend.write``)."""
        with self._use(doing) as db, db.write(batch=batch):
            yield db

    # meta and runs

    def salt(self) -> bytes:
        """The store's random secret for credential fingerprints (created once)."""
        if self._salt is None:
            with self._use("read the store's salt") as db:
                row = db.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone()
            salt = None if row is None else self._db.salt(row[0])
            if salt is None:
                raise StoreError(
                    f"the store {self.where} has no valid salt (damaged or edited); "
                    "use a fresh store with --store DIR"
                )
            self._salt = salt
        return self._salt

    def meta(self) -> dict[str, Any]:
        """The store's ``meta`` table (the salt left out)."""
        with self._use("read the store's metadata") as db:
            rows = db.execute("SELECT key, value FROM meta WHERE key != 'salt'").fetchall()
        return {str(k): v for k, v in rows}

    def begin_run(
        self, kind: str, command: Sequence[str] | None, meta: Mapping[str, Any] | None = None
    ) -> str:
        """Start a run; returns its id."""
        cmd = json.dumps(list(command), ensure_ascii=False) if command is not None else None
        meta_json = json.dumps(dict(meta or {}), ensure_ascii=False, default=str)
        for _ in range(8):
            run = new_run_id()
            try:
                with self._write("start a run") as db:
                    db.execute(
                        "INSERT INTO runs(id, kind, command, started, meta) VALUES (?, ?, ?, ?, ?)",
                        (run, kind, db.text(cmd), time.time(), db.text(meta_json)),
                    )
                self._known_runs.add(run)
            except StoreError as exc:
                if exc.__cause__ is not None and self._db.is_conflict(exc.__cause__):
                    continue  # the same id in the same millisecond: draw again
                raise
            return run
        raise StoreError(f"cannot allocate a new run id in {self.where}")  # pragma: no cover

    def end_run(self, run: str, exit_code: int | None) -> None:
        with self._write("end a run") as db:
            cur = db.execute(
                "UPDATE runs SET ended = ?, exit_code = ? WHERE id = ?",
                (time.time(), exit_code, run),
            )
            if cur.rowcount == 0:
                raise NotFound(f"no run {run} in store {self.label}")

    def runs(self) -> list[RunRecord]:
        with self._use("list runs") as db:
            rows = db.execute(
                "SELECT id, kind, command, started, ended, exit_code, meta FROM runs "
                "ORDER BY started, id"
            ).fetchall()
        return [self._run(r) for r in rows]

    def run(self, id: str) -> RunRecord:
        with self._use("read a run") as db:
            row = db.execute(
                "SELECT id, kind, command, started, ended, exit_code, meta FROM runs WHERE id = ?",
                (id,),
            ).fetchone()
        if row is None:
            raise NotFound(f"no run {id} in store {self.label}")
        return self._run(row)

    @staticmethod
    def _run(row: Sequence[Any]) -> RunRecord:
        cmd_text = _dec_text(row[2])
        return RunRecord(
            id=str(row[0]),
            kind=str(row[1]),
            command=tuple(json.loads(cmd_text)) if cmd_text is not None else None,
            started=float(row[3]),
            ended=float(row[4]) if row[4] is not None else None,
            exit_code=int(row[5]) if row[5] is not None else None,
            meta=json.loads(_dec_text(row[6]) or "{}"),
        )

    # exchanges

    def add(self, ex: CapturedExchange) -> int:
        """Store one (already redacted) exchange; returns its id.

        Blobs, row and log leaf are written in one transaction. The protocol and parse
        error are computed here from the request bytes.
        """
        return self.add_many((ex,))[0]

    def add_many(self, exchanges: Iterable[CapturedExchange]) -> list[int]:
        """Store (already redacted) exchanges in one transaction; returns their ids, in
        order. All or nothing: if one cannot be stored, none is. Each gets its log leaf
        at the next index, in the same transaction."""
        prepared = [self._prepare(ex) for ex in exchanges]
        if not prepared:
            return []
        # Blob rows first, outside the transaction: a large body this handle has not
        # seen is looked up (a body is never deleted, and a row another writer adds
        # meanwhile is skipped by the insert), so the batch itself is write-only.
        new_blobs: set[str] = set()
        blob_rows: list[tuple[Any, ...]] = []
        run_rows: dict[str, tuple[str, float]] = {}
        for item in prepared:
            for sha, data in item.bodies:
                if sha not in self._known_blobs and sha not in new_blobs:
                    new_blobs.add(sha)
                    if row := self._blob_row(sha, data):
                        blob_rows.append(row)
            run = item.record.run
            if run is not None and run not in self._known_runs:
                # An exchange may name a run nobody began (a test, a foreign tool):
                # keep the capture and record the run rather than refuse it.
                run_rows.setdefault(run, (run, item.record.started))
        doing = "store an exchange" if len(prepared) == 1 else "store exchanges"
        with self._write(doing, batch=True) as db:
            ids = db.append(
                blob_rows, list(run_rows.values()), [(item.row, item.leaf) for item in prepared]
            )
        if len(self._known_blobs) + len(new_blobs) > KNOWN_BLOBS_MAX:
            self._known_blobs.clear()
        if len(self._known_runs) + len(run_rows) > KNOWN_BLOBS_MAX:
            self._known_runs.clear()
        self._known_runs.update(run_rows)
        # Remembered only once committed: a rolled-back blob must be written again.
        self._known_blobs |= new_blobs
        return ids

    def _prepare(self, ex: CapturedExchange) -> _Prepared:
        """The row of one exchange, its record and its two bodies with their hashes."""
        req_body = bytes(ex.request_body)
        resp_body = bytes(ex.response_body)
        req_sha = self._sha(req_body)
        resp_sha = self._sha(resp_body)
        protocol, parse_error = self._classify(ex, req_sha)
        record = StoredExchange(
            id=0,  # given by the database
            run=ex.run,
            started=float(ex.started),
            duration=float(ex.duration) if ex.duration is not None else None,
            mode=ex.mode,
            method=ex.method,
            scheme=ex.scheme,
            host=ex.host,
            target=ex.target,
            http_version=ex.http_version,
            request_headers=(),  # below, as the log's own text
            request_sha256=req_sha,
            request_size=len(req_body),
            status=ex.status,
            response_headers=(),
            response_sha256=resp_sha,
            response_size=len(resp_body),
            protocol=protocol,
            parse_error=parse_error,
            error=ex.error,
            upstream=ex.upstream,
            client=ex.client,
            redactions=tuple(ex.redactions),
            request_coding=ex.request_coding,
        )
        # the headers as the log's leaf writes them (compact, ASCII: escapes keep any
        # lone surrogate exact): the column holds this text, and the leaf splices it in
        req_headers = headers_json(ex.request_headers)
        resp_headers = headers_json(ex.response_headers)
        text = self._db.text
        row = (
            record.run,
            record.started,
            record.duration,
            record.mode,
            text(record.method),
            record.scheme,
            text(record.host),
            text(record.target),
            record.http_version,
            req_headers,
            req_sha,
            record.request_size,
            record.status,
            resp_headers,
            resp_sha,
            record.response_size,
            protocol,
            text(parse_error),
            text(record.error),
            text(record.upstream),
            text(record.client),
            json.dumps(list(record.redactions)),
            None
            if ex.request_coding is None
            else text(json.dumps(ex.request_coding, ensure_ascii=False, sort_keys=True)),
        )
        rec = record_json(record)
        del rec["request_headers"], rec["response_headers"]
        return _Prepared(
            record,
            leaf_parts(rec, req_headers, resp_headers),
            row,
            ((req_sha, req_body), (resp_sha, resp_body)),
        )

    def _sha(self, data: bytes) -> str:
        """SHA-256 of ``data``, remembered for the last few large bytes *objects*: the
        redactor hands over the very same object for a repeated body, and bytes are
        immutable, so the same object has the same hash (the memo keeps it alive, so its
        id cannot be reused meanwhile)."""
        if len(data) < SHA_MEMO_MIN:
            return blobs.sha256_hex(data)
        with self._lock:
            hit = self._sha_memo.get(id(data))
        if hit is not None and hit[0] is data:
            return hit[1]
        sha = blobs.sha256_hex(data)
        with self._lock:
            self._sha_memo[id(data)] = (data, sha)
            while len(self._sha_memo) > SHA_MEMO:
                self._sha_memo.popitem(last=False)
        return sha

    def _classify(self, ex: CapturedExchange, req_sha: str) -> tuple[str | None, str | None]:
        """``_classify(ex)``, remembered: parsing depends on method, target and body only."""
        # the body's meaning depends on its Content-Encoding too (rarely sent)
        coding = content_encoding(ex.request_headers) if ex.request_body else None
        key = (ex.method, ex.target, req_sha if coding is None else f"{req_sha} {coding}")
        with self._lock:
            hit = self._classified.get(key)
            if hit is not None:
                self._classified.move_to_end(key)
                return hit
        outcome = _classify(ex)
        with self._lock:
            self._classified[key] = outcome
            while len(self._classified) > CLASSIFY_CACHE:
                self._classified.popitem(last=False)
        return outcome

    def _blob_row(self, sha: str, data: bytes) -> tuple[Any, ...] | None:
        """The row that stores ``data`` (None: already stored). Only large bytes not
        stored yet are compressed: a repeated large body costs a lookup, not zstd. A
        small one (a streamed answer, new every time) is compressed and inserted straight
        away: that costs less than the lookup."""
        if len(data) >= PUT_LOOKUP_MIN:
            with self._use("look a body up") as db:
                found = db.execute("SELECT 1 FROM blobs WHERE sha256 = ?", (sha,)).fetchone()
            if found is not None:
                return None
        b = blobs.encode(data, sha)
        return (b.sha256, b.size, b.data, b.compression)

    def put_blob(self, data: bytes) -> str:
        """Store ``data`` as a blob (once); returns its SHA-256."""
        sha = blobs.sha256_hex(data)
        if row := self._blob_row(sha, bytes(data)):
            with self._write("store a blob") as db:
                db.execute(INSERT_BLOB, row)
        return sha

    @staticmethod
    def _exchange(r: Sequence[Any]) -> StoredExchange:
        """A row of ``_COLUMNS`` as read back (either backend: text or bytes columns)."""
        return StoredExchange(
            id=int(r[0]),
            run=r[1],
            started=float(r[2]),
            duration=float(r[3]) if r[3] is not None else None,
            mode=str(r[4]),
            method=_dec_text(r[5]) or "",
            scheme=str(r[6]),
            host=_dec_text(r[7]) or "",
            target=_dec_text(r[8]) or "",
            http_version=str(r[9]),
            request_headers=_headers_from_json(r[10]),
            request_sha256=str(r[11]),
            request_size=int(r[12]),
            status=int(r[13]) if r[13] is not None else None,
            response_headers=_headers_from_json(r[14]),
            response_sha256=str(r[15]),
            response_size=int(r[16]),
            protocol=r[17],
            parse_error=_dec_text(r[18]),
            error=_dec_text(r[19]),
            upstream=_dec_text(r[20]),
            client=_dec_text(r[21]),
            redactions=tuple(str(x) for x in json.loads(r[22] or "[]")),
            request_coding=_coding_from_json(r[23] if len(r) > 23 else None),
        )

    def exchanges(self, run: str | None = None, limit: int | None = None) -> list[StoredExchange]:
        """Exchanges in id order, of one run or all; ``limit`` keeps the most recent ones."""
        sql = f"SELECT {_COLUMNS} FROM exchanges"  # noqa: S608 - a constant column list
        args: list[Any] = []
        if run is not None:
            sql += " WHERE run = ?"
            args.append(run)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(max(0, int(limit)))
        with self._use("list exchanges") as db:
            rows = db.execute(sql, args).fetchall()
        return [self._exchange(r) for r in reversed(rows)]

    def iter_exchanges(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        after_id: int = 0,
        batch: int = 1000,
    ) -> Iterator[StoredExchange]:
        """Every exchange in id order, streamed ``batch`` rows at a time (bounded memory
        on any store size): those with ``since <= started < until`` and an id above
        ``after_id``. The lock is held per batch, not across the iteration."""
        for rows in self._batches(since=since, until=until, after_id=after_id, batch=batch):
            for r in rows:
                yield self._exchange(r)

    def _batches(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        after_id: int = 0,
        batch: int = 1000,
    ) -> Iterator[list[Any]]:
        where = ["id > ?"]
        bounds: list[Any] = []
        if since is not None:
            where.append("started >= ?")
            bounds.append(float(since))
        if until is not None:
            where.append("started < ?")
            bounds.append(float(until))
        sql = (
            f"SELECT {_COLUMNS} FROM exchanges WHERE {' AND '.join(where)} "  # noqa: S608 - constant text
            "ORDER BY id LIMIT ?"
        )
        last, size = int(after_id), max(1, int(batch))
        while True:
            with self._use("list exchanges") as db:
                rows = db.execute(sql, [last, *bounds, size]).fetchall()
            if rows:
                yield rows
            if len(rows) < size:
                return
            last = int(rows[-1][0])

    def get(self, id: int) -> StoredExchange:
        with self._use("read an exchange") as db:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM exchanges WHERE id = ?",  # noqa: S608
                (int(id),),
            ).fetchone()
        if row is None:
            raise NotFound(f"no exchange {id} in store {self.label}")
        return self._exchange(row)

    def blob(self, sha: str) -> bytes:
        with self._use("read a blob") as db:
            row = db.execute(
                "SELECT size, data, compression FROM blobs WHERE sha256 = ?", (sha,)
            ).fetchone()
        if row is None:
            raise NotFound(f"no blob {sha} in store {self.label}")
        return blobs.decode(sha, int(row[0]), bytes(row[1]), str(row[2]), self.where)

    def request_body(self, x: StoredExchange) -> bytes:
        return self.blob(x.request_sha256)

    def response_body(self, x: StoredExchange) -> bytes:
        return self.blob(x.response_sha256)

    def stats(self) -> StoreStats:
        with self._use("read the store's statistics") as db:
            n_ex = db.execute("SELECT count(*) FROM exchanges").fetchone()[0]
            n_runs = db.execute("SELECT count(*) FROM runs").fetchone()[0]
            n_blobs, raw, stored = db.execute(
                "SELECT count(*), coalesce(sum(size), 0), coalesce(sum(length(data)), 0) FROM blobs"
            ).fetchone()
            size = db.db_bytes()
        return StoreStats(int(n_ex), int(n_runs), int(n_blobs), int(raw), int(stored), size)

    # the log (ledger.log.Ledger reads and writes it only through these)

    def log_size(self) -> int:
        """The number of leaves in the log."""
        with self._use("read the log") as db:
            return _log_size(db)

    def log_leaves(self) -> list[LogLeaf]:
        """Every leaf, in index order."""
        with self._use("read the log") as db:
            rows = db.execute("SELECT idx, exchange, hash FROM ledger_leaves ORDER BY idx")
            return [LogLeaf(int(i), int(e), bytes(h)) for i, e, h in rows.fetchall()]

    def log_checkpoints(self) -> list[tuple[int, str]]:
        """``(row id, signed note)`` of every kept checkpoint, oldest first."""
        with self._use("read the log") as db:
            rows = db.execute("SELECT id, note FROM ledger_checkpoints ORDER BY id").fetchall()
        return [(int(i), str(n)) for i, n in rows]

    def log_records(self, batch: int = 1000) -> Iterator[tuple[int, StoredExchange | str]]:
        """Every exchange record in id order, to check the log against: ``(id, record)``,
        or ``(id, why)`` for a row that cannot even be decoded (it was edited)."""
        for rows in self._batches(batch=batch):
            for row in rows:
                try:
                    yield int(row[0]), self._exchange(row)
                except (ValueError, TypeError, KeyError) as exc:
                    yield int(row[0]), type(exc).__name__

    def blob_check(self, sha: str) -> int | None:
        """The size of blob ``sha`` once its bytes are checked against their address;
        None when the store has no such blob. A blob whose bytes no longer hash to its
        address raises ``StoreError``."""
        try:
            return len(self.blob(sha))
        except NotFound:
            return None

    @contextmanager
    def log_transaction(self, doing: str) -> Iterator[LogTransaction]:
        """One write transaction over the log (a checkpoint, an adoption): nothing else
        is appended meanwhile, by this process or any other."""
        with self._write(doing) as db:
            yield LogTransaction(self, db)


class LogTransaction:
    """The log inside one write transaction (``Store.log_transaction``)."""

    def __init__(self, store: Store, db: Backend) -> None:
        self._store = store
        self._db = db

    def leaves(self) -> list[LogLeaf]:
        rows = self._db.execute("SELECT idx, exchange, hash FROM ledger_leaves ORDER BY idx")
        return [LogLeaf(int(i), int(e), bytes(h)) for i, e, h in rows.fetchall()]

    def exchange(self, exchange_id: int) -> StoredExchange:
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM exchanges WHERE id = ?",  # noqa: S608 - constant columns
            (int(exchange_id),),
        ).fetchone()
        if row is None:
            raise NotFound(f"no exchange {exchange_id} in store {self._store.label}")
        return Store._exchange(row)

    def has_leaf(self, exchange_id: int) -> bool:
        sql = "SELECT 1 FROM ledger_leaves WHERE exchange = ?"
        return self._db.execute(sql, (int(exchange_id),)).fetchone() is not None

    def append(self, exchange_id: int) -> LogLeaf:
        """Append the leaf of a stored exchange (computed from its record as stored) at
        the log's next index."""
        leaf = LogLeaf(
            _log_size(self._db), int(exchange_id), exchange_leaf_hash(self.exchange(exchange_id))
        )
        self._db.execute(INSERT_LEAF, (leaf.index, leaf.exchange, leaf.hash))
        return leaf

    def add_checkpoint(self, origin: str, size: int, root: bytes, note: str) -> None:
        self._db.execute(
            "INSERT INTO ledger_checkpoints(origin, size, root, note, created) "
            "VALUES (?, ?, ?, ?, ?)",
            (origin, int(size), root, note, time.time()),
        )


# -- rows -------------------------------------------------------------------------------

_COLUMNS = (
    "id, run, started, duration, mode, method, scheme, host, target, http_version, "
    "request_headers, request_sha256, request_size, status, response_headers, "
    "response_sha256, response_size, protocol, parse_error, error, upstream, client, "
    "redactions, request_coding"
)


def _log_size(db: Backend) -> int:
    """The log's size: the index its next leaf gets (inside a write transaction, no other
    writer can take it meanwhile)."""
    row = db.execute("SELECT max(idx) FROM ledger_leaves").fetchone()
    return 0 if row is None or row[0] is None else int(row[0]) + 1


@dataclass(frozen=True)
class _Prepared:
    """One exchange ready to insert: its record (id 0, headers empty), its leaf's data
    around the id the database will give it (the header lists spliced in as the columns
    hold them: what ``verify`` recomputes from the row read back), the row, and the
    bodies with their hashes."""

    record: StoredExchange
    leaf: LeafParts
    row: tuple[Any, ...]
    bodies: tuple[tuple[str, bytes], tuple[str, bytes]]
