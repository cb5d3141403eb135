"""The store's SQLite schema as an ordered list of migrations.

Rules:
- ``MIGRATIONS[i]`` takes a database from ``PRAGMA user_version`` ``i`` to ``i + 1``;
  the current schema version is ``len(MIGRATIONS)``. A new schema version is one new
  entry at the end; entries already released are never edited.
- Each migration runs in one transaction together with the ``user_version`` bump, so a
  failed migration leaves the database exactly as it was.
- A database newer than this code is refused (never downgraded, never written to).
"""

from __future__ import annotations

import sqlite3

from promptwitness.errors import StoreError

Migration = tuple[str, ...]

_V1: Migration = (
    """CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        command TEXT,              -- JSON list of argv strings, or NULL
        started REAL NOT NULL,     -- epoch seconds
        ended REAL,
        exit_code INTEGER,
        meta TEXT NOT NULL DEFAULT '{}'  -- JSON object
    )""",
    """CREATE TABLE blobs (
        sha256 TEXT PRIMARY KEY,   -- of the uncompressed bytes
        size INTEGER NOT NULL,     -- uncompressed
        data BLOB NOT NULL,
        compression TEXT NOT NULL CHECK (compression IN ('zstd', 'none'))
    ) WITHOUT ROWID""",
    """CREATE TABLE exchanges (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run TEXT REFERENCES runs(id),
        started REAL NOT NULL,
        duration REAL,
        mode TEXT NOT NULL,
        method TEXT NOT NULL,
        scheme TEXT NOT NULL,
        host TEXT NOT NULL,
        target TEXT NOT NULL,
        http_version TEXT NOT NULL,
        request_headers TEXT NOT NULL,   -- JSON list of [name, value], order/case/duplicates kept
        request_sha256 TEXT NOT NULL REFERENCES blobs(sha256),
        request_size INTEGER NOT NULL,
        status INTEGER,
        response_headers TEXT NOT NULL,
        response_sha256 TEXT NOT NULL REFERENCES blobs(sha256),
        response_size INTEGER NOT NULL,
        protocol TEXT,
        parse_error TEXT,
        error TEXT,
        upstream TEXT,
        client TEXT,
        redactions TEXT NOT NULL DEFAULT '[]'  -- JSON list of descriptions (never values)
    )""",
    "CREATE INDEX exchanges_run ON exchanges(run, id)",
)

# Version 2: the provenance ledger (promptwitness.ledger; docs/provenance.md). Every
# exchange is a leaf of an append-only RFC 9162 Merkle tree, appended in the same
# transaction as the exchange; signed checkpoints of the tree are kept beside it.
# Exchanges stored before this version may be adopted into the log (in id order) by an
# explicit, signed ``ledger checkpoint --adopt``; ``meta.ledger_adopt_upto`` only narrows
# what may be adopted (it never makes an exchange count as covered).
_V2: Migration = (
    """CREATE TABLE ledger_leaves (
        idx INTEGER PRIMARY KEY,             -- 0-based leaf index, dense
        exchange INTEGER NOT NULL UNIQUE,    -- exchanges(id)
        hash BLOB NOT NULL                   -- RFC 9162 leaf hash (32 bytes)
    )""",
    """CREATE TABLE ledger_checkpoints (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        origin TEXT NOT NULL,
        size INTEGER NOT NULL,
        root BLOB NOT NULL,                  -- 32 bytes
        note TEXT NOT NULL,                  -- the C2SP signed note, as printed
        created REAL NOT NULL                -- epoch seconds
    )""",
    """INSERT OR REPLACE INTO meta(key, value)
        SELECT 'ledger_adopt_upto', coalesce(max(id), 0) FROM exchanges""",
)

# Version 3: what a request body sent with a Content-Encoding looked like when it was
# received (capture.redact decodes it to redact it): a JSON object (coding, sizes and
# digests of the received and decoded bytes, the form stored, the decoding error), NULL
# for a body without a coding. Not part of the ledger leaf (ledger/record.py); its
# human-readable summary is, as one of the ``redactions``.
_V3: Migration = ("ALTER TABLE exchanges ADD COLUMN request_coding TEXT",)

MIGRATIONS: tuple[Migration, ...] = (_V1, _V2, _V3)
"""Ordered: entry ``i`` migrates from version ``i`` to ``i + 1``."""


def schema_version() -> int:
    return len(MIGRATIONS)


def user_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def too_new(found: int, where: str) -> StoreError:
    return StoreError(
        f"the store {where} has schema version {found}, but this promptwitness knows only "
        f"versions up to {schema_version()}: it was written by a newer promptwitness. "
        "Upgrade promptwitness (pip install -U promptwitness), or use another store with "
        "--store DIR or $PROMPTWITNESS_STORE"
    )


def migrate(conn: sqlite3.Connection, where: str) -> int:
    """Bring ``conn`` (autocommit mode) to the current schema; return the version.

    Each step runs under ``BEGIN IMMEDIATE`` and re-reads the version inside the
    transaction, so two processes opening the same new store do not both migrate it.
    """
    migrations = MIGRATIONS
    target = len(migrations)
    while True:
        current = user_version(conn)
        if current > target:
            raise too_new(current, where)
        if current == target:
            return current
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = user_version(conn)
            if current > target:
                raise too_new(current, where)
            if current < target:
                for statement in migrations[current]:
                    conn.execute(statement)
                # PRAGMA takes no parameters; the value is our own integer.
                conn.execute(f"PRAGMA user_version = {current + 1:d}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
