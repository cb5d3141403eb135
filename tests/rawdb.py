"""A connection to a store's database of its own, beside promptwitness: what an attacker
with write access to the database uses (tests of the log's tamper evidence).

Statements are written once, in SQLite's words; on PostgreSQL ``?`` becomes ``%s``,
``char(`` becomes ``chr(``, and foreign keys are not checked (``session_replication_role
= replica``, as the database's owner may), as on a plain SQLite connection. PRAGMAs mean
nothing there and are skipped.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from promptwitness.store import DB_NAME
from promptwitness.store.postgres import is_url


class Rows(list[Any]):
    def fetchone(self) -> Any:
        return self[0] if self else None

    def fetchall(self) -> list[Any]:
        return list(self)


class RawDB:
    def __init__(self, location: str | Path) -> None:
        self.postgres = is_url(str(location))
        if self.postgres:
            import psycopg

            self._pg: Any = psycopg.connect(str(location), autocommit=True)
            # as SQLite's own connections do unless told otherwise: no foreign-key checks
            self._pg.execute("SET session_replication_role = replica")
        else:
            self._lite = sqlite3.connect(Path(location) / DB_NAME, isolation_level=None)

    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> Rows:
        if not self.postgres:
            return Rows(self._lite.execute(sql, args).fetchall())
        text = sql.strip()
        if text.upper().startswith("PRAGMA"):
            return Rows()
        cur = self._pg.execute(text.replace("?", "%s").replace("char(", "chr("), args)
        return Rows(cur.fetchall() if cur.description else [])

    def close(self) -> None:
        (self._pg if self.postgres else self._lite).close()

    def __enter__(self) -> RawDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
