"""Fixtures shared by every test directory: the store's two backends.

``store_location`` runs a test once per backend: an SQLite store in ``tmp_path`` and a
PostgreSQL store in a new database of a real PostgreSQL server, which this test session
starts itself from the system's binaries (``promptwitness.store.pgtemp``: a temporary
cluster on a unix socket, no TCP port, torn down at the end). Never a mock.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from promptwitness.store.pgtemp import TempCluster

BACKENDS = ("sqlite", "postgresql")
_databases = itertools.count(1)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[TempCluster]:
    with TempCluster() as cluster:
        yield cluster


@pytest.fixture
def pg_url(pg_cluster: TempCluster) -> str:
    """The URL of a new, empty database."""
    return pg_cluster.create_database(f"t{next(_databases)}")


@pytest.fixture(params=BACKENDS)
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a test's store lives: a directory (SQLite) or a database URL (PostgreSQL)."""
    if request.param == "sqlite":
        return str(tmp_path / "store")
    url: str = request.getfixturevalue("pg_url")
    return url
