"""The capture store: one SQLite file plus content-addressed zstd blobs (IO edge).

Rules:
- Raw bytes are the truth: request and response bodies are stored byte-exact as blobs
  addressed by the SHA-256 of the uncompressed bytes; headers keep order, case and
  duplicates. Every parsed view (protocol, parse error) is derived and stored beside them.
- Nothing secret reaches this module: ``add`` expects an exchange that already went
  through ``capture.redact.Redactor``.
- One connection, guarded by a lock: any thread may call any method (the capture
  server writes from one writer thread). WAL mode lets other processes read meanwhile.
- Every sqlite3 / zstd / OS error leaves this module as ``StoreError`` (or ``NotFound``)
  with a message that says what to do.
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
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import platformdirs

from promptwitness.errors import NotFound, StoreError
from promptwitness.ledger import log as ledger_log
from promptwitness.ledger.record import headers_json
from promptwitness.model import CapturedExchange, RawRequest
from promptwitness.model import iso_time as iso_time
from promptwitness.protocols.encoding import (
    CodingError,
    Decoded,
    content_encoding,
    decode_body,
    parse_codings,
)
from promptwitness.store import blobs, schema

DB_NAME = "promptwitness.sqlite3"
ENV_VAR = "PROMPTWITNESS_STORE"
BUSY_TIMEOUT_S = 10.0
CLASSIFY_CACHE = 1024  # (method, target, request SHA-256) -> (protocol, parse error)
SHA_MEMO = 16  # bytes objects whose hash is remembered (by identity)
SHA_MEMO_MIN = 4096  # smaller ones are hashed again (cheaper than the lookup's lock)
PUT_LOOKUP_MIN = 16 * 1024
"""Blobs this large or larger are looked up before being compressed and inserted."""
KNOWN_BLOBS_MAX = 1 << 20  # hashes remembered as stored; forgotten all at once beyond

Headers = tuple[tuple[str, str], ...]


def default_store_dir() -> Path:
    """``$PROMPTWITNESS_STORE`` if set, else the per-user data directory's ``store``."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
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
    db_bytes: int  # the database file plus its write-ahead log, on disk


# -- helpers ----------------------------------------------------------------------------

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def new_run_id(now: float | None = None) -> str:
    """13 characters, sortable by creation time: 9 of milliseconds, 4 random."""
    ms = int((time.time() if now is None else now) * 1000)
    stamp = "".join(_CROCKFORD[(ms >> (5 * i)) & 31] for i in reversed(range(9)))
    return stamp + "".join(secrets.choice(_CROCKFORD) for _ in range(4))


def _enc_text(s: str | None) -> str | bytes | None:
    """Text for a TEXT column. Strings holding lone surrogates (undecodable bytes that
    the HTTP layer kept with ``surrogateescape``) cannot be UTF-8 text; they are stored
    as their original bytes instead, so nothing is lost."""
    if s is None:
        return None
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return s.encode("utf-8", "surrogateescape")
    return s


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


def _map_error(exc: BaseException, path: Path, doing: str) -> StoreError:
    msg = str(exc)
    low = msg.lower()
    if isinstance(exc, sqlite3.DatabaseError) and (
        "not a database" in low or "malformed" in low or "file is encrypted" in low
    ):
        return StoreError(
            f"{path} is not a promptwitness store (not an SQLite database, or damaged: {msg}). "
            "Move the file away, or use another store with --store DIR or $PROMPTWITNESS_STORE"
        )
    if "locked" in low or "busy" in low:
        return StoreError(
            f"the store {path} is busy (another process holds its write lock) while trying to "
            f"{doing}; try again when the other promptwitness has finished"
        )
    if "readonly" in low or "read-only" in low or "unable to open" in low or "permission" in low:
        return StoreError(
            f"cannot {doing}: the store {path} cannot be opened for writing ({msg}); check the "
            "permissions of the file and its directory, or use --store DIR"
        )
    if "disk is full" in low or "disk i/o" in low or "no space" in low:
        return StoreError(f"cannot {doing} in {path}: {msg}; free some disk space and retry")
    if isinstance(exc, sqlite3.ProgrammingError) and "closed" in low:
        return StoreError(f"cannot {doing}: the store {path} is already closed")
    return StoreError(f"cannot {doing} in the store {path}: {msg}")


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


class Store:
    """A capture store on disk. Open with ``Store.open(root)``; use as a context manager."""

    root: Path
    path: Path
    readonly: bool = False  # opened with ``Store.open(..., readonly=True)``

    def __init__(self, root: Path, path: Path, conn: sqlite3.Connection) -> None:
        self.root = root
        self.path = path
        self._conn = conn
        self._lock = threading.RLock()
        self._closed = False
        self._salt: bytes | None = None
        # Blob hashes known to be committed in this store (blobs are never deleted).
        self._known_blobs: set[str] = set()
        self._sha_memo: OrderedDict[int, tuple[bytes, str]] = OrderedDict()
        self._classified: OrderedDict[tuple[str, str, str], tuple[str | None, str | None]] = (
            OrderedDict()
        )

    # opening and closing

    @classmethod
    def open(
        cls,
        root: str | os.PathLike[str] | None = None,
        *,
        create: bool = True,
        readonly: bool = False,
    ) -> Store:
        """Open (creating if needed) the store in directory ``root``.

        ``None`` means ``default_store_dir()``. The directory is created with mode 0700
        and the database file with mode 0600. ``create=False``: a missing store is an
        error ("no store at ..."), never a new empty one. ``readonly=True`` (implies
        ``create=False``): nothing is written, not even beside the database (see
        ``_open_readonly``).
        """
        base = Path(root).expanduser() if root is not None else default_store_dir()
        if base.exists() and not base.is_dir():
            raise StoreError(
                f"the store {base} is a file, not a directory: pass the directory that holds "
                f"{DB_NAME} (--store DIR or $PROMPTWITNESS_STORE)"
            )
        if readonly or not create:
            if not (base / DB_NAME).is_file():
                raise StoreError(
                    f"no store at {base} (no {DB_NAME} there): check --store DIR or "
                    f"${ENV_VAR}; `promptwitness record`, `serve` or `probe` create a store"
                )
            if readonly:
                return cls._open_readonly(base, base / DB_NAME)
        try:
            if not base.is_dir():
                base.mkdir(parents=True, mode=0o700, exist_ok=True)
                os.chmod(base, 0o700)
            path = base / DB_NAME
            if path.is_dir():
                raise StoreError(f"{path} is a directory; move it away or use --store DIR")
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            except FileExistsError:
                pass
            else:
                os.close(fd)
        except OSError as exc:
            raise StoreError(
                f"cannot create the store {base}: {exc.strerror or exc}; choose a writable "
                "directory with --store DIR or $PROMPTWITNESS_STORE"
            ) from exc
        try:
            conn = sqlite3.connect(
                str(path),
                timeout=BUSY_TIMEOUT_S,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise _map_error(exc, path, "open the store") from exc
        try:
            cls._setup(conn, path)
        except sqlite3.Error as exc:
            conn.close()
            raise _map_error(exc, path, "open the store") from exc
        except BaseException:
            conn.close()
            raise
        return cls(base, path, conn)

    @classmethod
    def _open_readonly(cls, base: Path, path: Path) -> Store:
        """Open for reading only, writing no file at all (read-only media, a copy kept as
        evidence): SQLite's ``immutable=1``, unless a write-ahead log holds transactions
        not yet in the database file (a writer is at work, or stopped without closing
        the store): then ``mode=ro``, which reads them (with the log's ``-shm`` index)."""
        wal = path.with_name(path.name + "-wal")
        try:
            live = wal.stat().st_size > 0
        except OSError:
            live = False
        uri = path.absolute().as_uri() + ("?mode=ro" if live else "?mode=ro&immutable=1")
        conn: sqlite3.Connection | None = None
        try:
            conn = sqlite3.connect(
                uri,
                uri=True,
                timeout=BUSY_TIMEOUT_S,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute("PRAGMA query_only = ON")
            found = schema.user_version(conn)
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            mapped = _map_error(exc, path, "read the store")
            if "not a promptwitness store" in str(mapped):
                raise mapped from exc
            hint = (
                f" (its write-ahead log {wal.name} needs {path.name}-shm beside it, which "
                "cannot be created here: copy the store to writable storage)"
                if live
                else ""
            )
            raise StoreError(f"cannot open the store {path} read-only: {exc}{hint}") from exc
        if found != schema.schema_version():
            conn.close()
            if found > schema.schema_version():
                raise schema.too_new(found, str(path))
            if found == 0:
                raise StoreError(f"no store at {base} ({path} is empty)")
            raise StoreError(
                f"the store {path} has schema version {found}; reading it needs version "
                f"{schema.schema_version()}: open it once with a command that writes (e.g. "
                "`promptwitness ledger checkpoint`) to upgrade it"
            )
        store = cls(base, path, conn)
        store.readonly = True
        return store

    @staticmethod
    def _setup(conn: sqlite3.Connection, path: Path) -> None:
        conn.execute("PRAGMA foreign_keys = ON")
        # Reading the version first surfaces "not a database" and "too new" before we write.
        found = schema.user_version(conn)
        if found > schema.schema_version():
            raise schema.too_new(found, str(path))
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        schema.migrate(conn, str(path))
        have = {r[0] for r in conn.execute("SELECT key FROM meta")}
        if not {"salt", "store_id", "created"} <= have:
            conn.execute("BEGIN IMMEDIATE")
            try:
                ins = "INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)"
                conn.execute(ins, ("salt", secrets.token_bytes(32)))
                conn.execute(ins, ("store_id", secrets.token_hex(16)))
                conn.execute(ins, ("created", iso_time(time.time())))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                try:
                    self._conn.close()
                except sqlite3.Error as exc:  # pragma: no cover - close rarely fails
                    raise _map_error(exc, self.path, "close the store") from exc

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
        return f"Store({str(self.root)!r})"

    # plumbing

    @contextmanager
    def _use(self, doing: str) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock, with errors mapped."""
        with self._lock:
            if self._closed:
                raise StoreError(f"cannot {doing}: the store {self.path} is already closed")
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise _map_error(exc, self.path, doing) from exc

    @contextmanager
    def _write(self, doing: str) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` … ``COMMIT``)."""
        with self._use(doing) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    # meta and runs

    def salt(self) -> bytes:
        """The store's random secret for credential fingerprints (created once)."""
        if self._salt is None:
            with self._use("read the store's salt") as conn:
                row = conn.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone()
            if row is None or not isinstance(row[0], bytes) or len(row[0]) < 16:
                raise StoreError(
                    f"the store {self.path} has no valid salt (damaged or edited); "
                    "use a fresh store with --store DIR"
                )
            self._salt = bytes(row[0])
        return self._salt

    def meta(self) -> dict[str, Any]:
        """The store's ``meta`` table (the salt left out)."""
        with self._use("read the store's metadata") as conn:
            rows = conn.execute("SELECT key, value FROM meta WHERE key != 'salt'").fetchall()
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
                with self._write("start a run") as conn:
                    conn.execute(
                        "INSERT INTO runs(id, kind, command, started, meta) VALUES (?, ?, ?, ?, ?)",
                        (run, kind, _enc_text(cmd), time.time(), _enc_text(meta_json)),
                    )
            except StoreError as exc:
                if isinstance(exc.__cause__, sqlite3.IntegrityError):
                    continue  # the same id in the same millisecond: draw again
                raise
            return run
        raise StoreError(f"cannot allocate a new run id in {self.path}")  # pragma: no cover

    def end_run(self, run: str, exit_code: int | None) -> None:
        with self._write("end a run") as conn:
            cur = conn.execute(
                "UPDATE runs SET ended = ?, exit_code = ? WHERE id = ?",
                (time.time(), exit_code, run),
            )
            if cur.rowcount == 0:
                raise NotFound(f"no run {run} in store {self.root}")

    def runs(self) -> list[RunRecord]:
        with self._use("list runs") as conn:
            rows = conn.execute(
                "SELECT id, kind, command, started, ended, exit_code, meta FROM runs "
                "ORDER BY started, id"
            ).fetchall()
        return [self._run(r) for r in rows]

    def run(self, id: str) -> RunRecord:
        with self._use("read a run") as conn:
            row = conn.execute(
                "SELECT id, kind, command, started, ended, exit_code, meta FROM runs WHERE id = ?",
                (id,),
            ).fetchone()
        if row is None:
            raise NotFound(f"no run {id} in store {self.root}")
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

        Blobs and row are written in one transaction. The protocol and parse error are
        computed here from the request bytes.
        """
        return self.add_many((ex,))[0]

    def add_many(self, exchanges: Iterable[CapturedExchange]) -> list[int]:
        """Store (already redacted) exchanges in one transaction; returns their ids, in
        order. All or nothing: if one cannot be stored, none is."""
        prepared = [self._prepare(ex) for ex in exchanges]
        if not prepared:
            return []
        ids: list[int] = []
        new_blobs: set[str] = set()
        runs: set[str] = set()
        with self._write("store an exchange" if len(prepared) == 1 else "store exchanges") as conn:
            leaf = ledger_log.next_index(conn)
            for ex, row, bodies in prepared:
                for sha, data in bodies:
                    if sha not in self._known_blobs and sha not in new_blobs:
                        self._put(conn, sha, data)
                        new_blobs.add(sha)
                if ex.run is not None and ex.run not in runs:
                    # An exchange may name a run nobody began (a test, a foreign tool):
                    # keep the capture and record the run rather than refuse it.
                    conn.execute(
                        "INSERT OR IGNORE INTO runs(id, kind, started) VALUES (?, 'adhoc', ?)",
                        (ex.run, float(ex.started)),
                    )
                    runs.add(ex.run)
                cur = conn.execute(
                    "INSERT INTO exchanges(run, started, duration, mode, method, scheme, host, "
                    "target, http_version, request_headers, request_sha256, request_size, "
                    "status, response_headers, response_sha256, response_size, protocol, "
                    "parse_error, error, upstream, client, redactions, request_coding) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
                assert cur.lastrowid is not None
                ids.append(int(cur.lastrowid))
                # its provenance leaf, in the same transaction
                ledger_log.append_exchange(conn, ids[-1], row, index=leaf)
                leaf += 1
            if len(self._known_blobs) + len(new_blobs) > KNOWN_BLOBS_MAX:
                self._known_blobs.clear()
        # Remembered only once committed: a rolled-back blob must be written again.
        self._known_blobs |= new_blobs
        return ids

    def _prepare(
        self, ex: CapturedExchange
    ) -> tuple[CapturedExchange, tuple[Any, ...], tuple[tuple[str, bytes], ...]]:
        """The row of one exchange and its two bodies with their hashes (no database)."""
        req_body = bytes(ex.request_body)
        resp_body = bytes(ex.response_body)
        req_sha = self._sha(req_body)
        resp_sha = self._sha(resp_body)
        protocol, parse_error = self._classify(ex, req_sha)
        row = (
            ex.run,
            float(ex.started),
            float(ex.duration) if ex.duration is not None else None,
            ex.mode,
            _enc_text(ex.method),
            ex.scheme,
            _enc_text(ex.host),
            _enc_text(ex.target),
            ex.http_version,
            # headers as the ledger leaf writes them (compact, ASCII: escapes keep any
            # lone surrogate exact), so the leaf splices this text in as it is
            headers_json(ex.request_headers),
            req_sha,
            len(req_body),
            ex.status,
            headers_json(ex.response_headers),
            resp_sha,
            len(resp_body),
            protocol,
            _enc_text(parse_error),
            _enc_text(ex.error),
            _enc_text(ex.upstream),
            _enc_text(ex.client),
            json.dumps(list(ex.redactions)),
            # last: the ledger reads the columns before it by position
            None
            if ex.request_coding is None
            else _enc_text(json.dumps(ex.request_coding, ensure_ascii=False, sort_keys=True)),
        )
        return ex, row, ((req_sha, req_body), (resp_sha, resp_body))

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

    @staticmethod
    def _put(conn: sqlite3.Connection, sha: str, data: bytes) -> None:
        # Compress only large bytes not stored yet: a repeated large body costs a lookup,
        # not zstd. A small one (a streamed answer, new every time) is compressed and
        # inserted straight away: that costs less than the lookup.
        if (
            len(data) < PUT_LOOKUP_MIN
            or conn.execute("SELECT 1 FROM blobs WHERE sha256 = ?", (sha,)).fetchone() is None
        ):
            b = blobs.encode(data, sha)
            conn.execute(
                "INSERT OR IGNORE INTO blobs(sha256, size, data, compression) VALUES (?, ?, ?, ?)",
                (b.sha256, b.size, b.data, b.compression),
            )

    def put_blob(self, data: bytes) -> str:
        """Store ``data`` as a blob (once); returns its SHA-256."""
        sha = blobs.sha256_hex(data)
        with self._write("store a blob") as conn:
            self._put(conn, sha, bytes(data))
        return sha

    _COLUMNS = (
        "id, run, started, duration, mode, method, scheme, host, target, http_version, "
        "request_headers, request_sha256, request_size, status, response_headers, "
        "response_sha256, response_size, protocol, parse_error, error, upstream, client, "
        "redactions, request_coding"
    )

    @staticmethod
    def _exchange(r: Sequence[Any]) -> StoredExchange:
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
        sql = f"SELECT {self._COLUMNS} FROM exchanges"  # noqa: S608 - a constant column list
        args: list[Any] = []
        if run is not None:
            sql += " WHERE run = ?"
            args.append(run)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(max(0, int(limit)))
        with self._use("list exchanges") as conn:
            rows = conn.execute(sql, args).fetchall()
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
        where = ["id > ?"]
        bounds: list[Any] = []
        if since is not None:
            where.append("started >= ?")
            bounds.append(float(since))
        if until is not None:
            where.append("started < ?")
            bounds.append(float(until))
        sql = (
            f"SELECT {self._COLUMNS} FROM exchanges WHERE {' AND '.join(where)} "  # noqa: S608 - constant text
            "ORDER BY id LIMIT ?"
        )
        last, size = int(after_id), max(1, int(batch))
        while True:
            with self._use("list exchanges") as conn:
                rows = conn.execute(sql, [last, *bounds, size]).fetchall()
            for r in rows:
                yield self._exchange(r)
            if len(rows) < size:
                return
            last = int(rows[-1][0])

    def get(self, id: int) -> StoredExchange:
        with self._use("read an exchange") as conn:
            row = conn.execute(
                f"SELECT {self._COLUMNS} FROM exchanges WHERE id = ?",  # noqa: S608
                (int(id),),
            ).fetchone()
        if row is None:
            raise NotFound(f"no exchange {id} in store {self.root}")
        return self._exchange(row)

    def blob(self, sha: str) -> bytes:
        with self._use("read a blob") as conn:
            row = conn.execute(
                "SELECT size, data, compression FROM blobs WHERE sha256 = ?", (sha,)
            ).fetchone()
        if row is None:
            raise NotFound(f"no blob {sha} in store {self.root}")
        return blobs.decode(sha, int(row[0]), bytes(row[1]), str(row[2]), str(self.path))

    def request_body(self, x: StoredExchange) -> bytes:
        return self.blob(x.request_sha256)

    def response_body(self, x: StoredExchange) -> bytes:
        return self.blob(x.response_sha256)

    def stats(self) -> StoreStats:
        with self._use("read the store's statistics") as conn:
            n_ex = conn.execute("SELECT count(*) FROM exchanges").fetchone()[0]
            n_runs = conn.execute("SELECT count(*) FROM runs").fetchone()[0]
            n_blobs, raw, stored = conn.execute(
                "SELECT count(*), coalesce(sum(size), 0), coalesce(sum(length(data)), 0) FROM blobs"
            ).fetchone()
        size = 0
        for p in (self.path, self.path.with_name(self.path.name + "-wal")):
            with suppress(FileNotFoundError):
                size += p.stat().st_size
        return StoreStats(int(n_ex), int(n_runs), int(n_blobs), int(raw), int(stored), size)
