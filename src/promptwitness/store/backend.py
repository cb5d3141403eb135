"""What the store needs of a database (IO edge): one connection, transactions, errors.

``store.db.Store`` holds every rule of the store (content addressing, redaction already
done, the log's leaf appended in the exchange's own transaction) and speaks one SQL
dialect: ``?`` placeholders, ``INSERT … ON CONFLICT DO NOTHING`` and ``RETURNING``, which
SQLite (3.35 and newer) and PostgreSQL both understand. A backend supplies only what
differs between the two:

- opening, creating and migrating the database (``store.sqlite``, ``store.postgres``);
- ``execute``: a statement with ``?`` placeholders (PostgreSQL's driver wants ``%s``);
- ``append``: a batch's blobs, runs, exchanges and their log leaves (each leaf hashes
  its exchange's id, which the database gives): SQLite reserves the ids first,
  PostgreSQL sends the whole batch in one round trip and hashes the leaves itself;
- ``write``: one write transaction. On PostgreSQL it also takes the store's advisory
  lock, which makes the database the one sequencer of the log when several gateway
  replicas write into it: exchange ids and leaf indices are handed out in commit order;
- ``text``: how a string that may hold undecodable bytes is written (SQLite keeps valid
  UTF-8 as TEXT and anything else as a BLOB; PostgreSQL keeps such columns as ``bytea``,
  since its TEXT holds neither lone surrogates nor NUL);
- ``map_error``: the driver's exceptions as ``StoreError`` with a message that says
  what to do.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from promptwitness.errors import StoreError
from promptwitness.ledger.record import LeafParts

EXCHANGE_COLUMNS = (
    "run, started, duration, mode, method, scheme, host, target, http_version, "
    "request_headers, request_sha256, request_size, status, response_headers, "
    "response_sha256, response_size, protocol, parse_error, error, upstream, client, "
    "redactions, request_coding"
)
"""An exchange row's columns but its id, in the order ``Store`` builds rows."""

INSERT_BLOB = (
    "INSERT INTO blobs(sha256, size, data, compression) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
INSERT_RUN = "INSERT INTO runs(id, kind, started) VALUES (?, 'adhoc', ?) ON CONFLICT DO NOTHING"
INSERT_LEAF = "INSERT INTO ledger_leaves(idx, exchange, hash) VALUES (?, ?, ?)"


class Cursor(Protocol):
    """The part of a DB-API cursor the store uses."""

    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Backend(ABC):
    """One open database of a store. Not thread-safe: ``Store`` serialises the calls."""

    name: str
    """``sqlite`` or ``postgresql``."""
    location: str
    """What reopens the store: a directory, or a ``postgresql://`` URL (may hold a
    password: never print it, print ``where``)."""
    where: str
    """How messages name the store (a path, or the URL without its password)."""
    errors: tuple[type[BaseException], ...]
    """The driver's exception classes that ``map_error`` turns into ``StoreError``."""
    durability: str = ""
    """When a commit is on disk, in a few words (``serve`` prints it)."""

    @abstractmethod
    def execute(self, sql: str, args: Sequence[Any] = ()) -> Cursor: ...

    @abstractmethod
    def write(self, *, batch: bool = False) -> AbstractContextManager[None]:
        """One write transaction: committed on exit, rolled back on an exception.
        ``batch``: the transaction of one ``append`` and nothing else, so its statements
        may be sent without waiting for each one's answer (PostgreSQL's pipeline mode: a
        round trip per batch, not per statement)."""

    @abstractmethod
    def append(
        self,
        blobs: Sequence[Sequence[Any]],
        runs: Sequence[Sequence[Any]],
        exchanges: Sequence[tuple[Sequence[Any], LeafParts]],
    ) -> list[int]:
        """Inside a ``write(batch=True)``: insert the blob rows (``INSERT_BLOB``), the
        runs (``INSERT_RUN``), then each exchange's row (``EXCHANGE_COLUMNS``, without
        its id) and its log leaf at the log's next index, the leaf's hash computed from
        ``LeafParts`` and the id the exchange got; returns the ids, in order."""

    @abstractmethod
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """``sql`` once per row (nothing when there is no row)."""

    @abstractmethod
    def text(self, s: str | None) -> str | bytes | None:
        """A string for a column that may hold undecodable bytes (``surrogateescape``)."""

    @abstractmethod
    def is_conflict(self, exc: BaseException) -> bool:
        """Whether ``exc`` (a driver error) is a unique-key violation."""

    @abstractmethod
    def map_error(self, exc: BaseException, doing: str) -> StoreError: ...

    @abstractmethod
    def db_bytes(self) -> int:
        """The database's size on disk."""

    @abstractmethod
    def salt(self, value: Any) -> bytes | None:
        """The salt as stored in ``meta`` (None: not a valid salt)."""

    @abstractmethod
    def close(self) -> None: ...
