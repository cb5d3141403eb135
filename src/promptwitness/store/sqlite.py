"""The embedded backend: one SQLite file in a private directory (IO edge).

The default store. WAL mode lets other processes read while one writes; a write
transaction is ``BEGIN IMMEDIATE``, so two writers (two gateways on one directory) take
turns. ``store.schema`` holds its migrations.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from promptwitness.errors import StoreError
from promptwitness.ledger.record import LeafParts
from promptwitness.model import iso_time
from promptwitness.store import schema
from promptwitness.store.backend import (
    EXCHANGE_COLUMNS,
    INSERT_BLOB,
    INSERT_LEAF,
    INSERT_RUN,
    Backend,
    Cursor,
)

DB_NAME = "promptwitness.sqlite3"
ENV_VAR = "PROMPTWITNESS_STORE"
BUSY_TIMEOUT_S = 10.0

_INSERT_EXCHANGE = f"INSERT INTO exchanges(id, {EXCHANGE_COLUMNS}) VALUES ({', '.join('?' * 24)})"  # noqa: S608 - constant text


def map_error(exc: BaseException, path: Path | str, doing: str) -> StoreError:
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


def enc_text(s: str | None) -> str | bytes | None:
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


class SqliteBackend(Backend):
    name = "sqlite"
    durability = "WAL, synchronous=NORMAL"
    errors = (sqlite3.Error,)

    def __init__(self, root: Path, path: Path, conn: sqlite3.Connection) -> None:
        self.root = root
        self.path = path
        self.location = str(root)
        self.where = str(path)
        self._conn = conn

    # opening

    @classmethod
    def open(cls, base: Path, *, create: bool, readonly: bool) -> SqliteBackend:
        """The store in directory ``base`` (see ``Store.open``)."""
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
            raise map_error(exc, path, "open the store") from exc
        try:
            cls._setup(conn, path)
        except sqlite3.Error as exc:
            conn.close()
            raise map_error(exc, path, "open the store") from exc
        except BaseException:
            conn.close()
            raise
        return cls(base, path, conn)

    @classmethod
    def _open_readonly(cls, base: Path, path: Path) -> SqliteBackend:
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
            mapped = map_error(exc, path, "read the store")
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
        return cls(base, path, conn)

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

    # the backend

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Cursor:
        return self._conn.execute(sql, args)

    @contextmanager
    def write(self, *, batch: bool = False) -> Iterator[None]:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def append(
        self,
        blobs: Sequence[Sequence[Any]],
        runs: Sequence[Sequence[Any]],
        exchanges: Sequence[tuple[Sequence[Any], LeafParts]],
    ) -> list[int]:
        # in-process: the ids first (nothing else writes meanwhile), then every insert
        leaf, ids = self._reserve(len(exchanges))
        self.executemany(INSERT_BLOB, blobs)
        self.executemany(INSERT_RUN, runs)
        self.executemany(
            _INSERT_EXCHANGE, [(i, *row) for i, (row, _) in zip(ids, exchanges, strict=True)]
        )
        self.executemany(
            INSERT_LEAF,
            [
                (leaf + k, i, parts.hash(i))
                for k, (i, (_, parts)) in enumerate(zip(ids, exchanges, strict=True))
            ],
        )
        return ids

    def _reserve(self, n: int) -> tuple[int, list[int]]:
        """The log's next leaf index and ``n`` new exchange ids."""
        # AUTOINCREMENT keeps the largest id ever used in sqlite_sequence (never reused)
        row = self._conn.execute(
            "SELECT (SELECT seq FROM sqlite_sequence WHERE name = 'exchanges'), "
            "(SELECT max(id) FROM exchanges), (SELECT max(idx) FROM ledger_leaves)"
        ).fetchone()
        last = max(int(row[0] or 0), int(row[1] or 0))
        leaf = 0 if row[2] is None else int(row[2]) + 1
        return leaf, list(range(last + 1, last + 1 + n))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._conn.executemany(sql, rows)

    def text(self, s: str | None) -> str | bytes | None:
        return enc_text(s)

    def is_conflict(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.IntegrityError)

    def map_error(self, exc: BaseException, doing: str) -> StoreError:
        return map_error(exc, self.path, doing)

    def db_bytes(self) -> int:
        size = 0
        for p in (self.path, self.path.with_name(self.path.name + "-wal")):
            with suppress(FileNotFoundError):
                size += p.stat().st_size
        return size

    def salt(self, value: Any) -> bytes | None:
        return bytes(value) if isinstance(value, bytes) and len(value) >= 16 else None

    def close(self) -> None:
        self._conn.close()
