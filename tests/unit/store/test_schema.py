"""Schema migrations: ordered, transactional, and refusing a newer store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from promptwitness.errors import StoreError
from promptwitness.store import DB_NAME, Store, schema


def _version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def test_empty_database_is_migrated_to_current(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / DB_NAME).close()  # an empty file, version 0
    Store.open(tmp_path).close()
    assert _version(tmp_path / DB_NAME) == schema.schema_version() == len(schema.MIGRATIONS)


def test_old_version_is_migrated_and_data_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store.open(tmp_path) as s:
        run = s.begin_run("record", ["a"])
        salt = s.salt()
    v1 = schema.schema_version()
    v2: schema.Migration = (
        "ALTER TABLE runs ADD COLUMN label TEXT",
        "UPDATE runs SET label = 'migrated'",
    )
    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, v2))
    with Store.open(tmp_path) as s:
        assert s.run(run).command == ("a",)
        assert s.salt() == salt
        label = s._db.execute("SELECT label FROM runs WHERE id = ?", (run,)).fetchone()[0]
        assert label == "migrated"
    assert _version(tmp_path / DB_NAME) == v1 + 1


def test_failed_migration_leaves_database_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Store.open(tmp_path).close()
    v1 = schema.schema_version()
    broken: schema.Migration = ("ALTER TABLE runs ADD COLUMN label TEXT", "THIS IS NOT SQL")
    monkeypatch.setattr(schema, "MIGRATIONS", (*schema.MIGRATIONS, broken))
    with pytest.raises(StoreError):
        Store.open(tmp_path)
    monkeypatch.undo()
    assert _version(tmp_path / DB_NAME) == v1
    conn = sqlite3.connect(tmp_path / DB_NAME)
    cols = [r[1] for r in conn.execute("PRAGMA table_info(runs)")]
    conn.close()
    assert "label" not in cols


def test_newer_version_is_refused_with_upgrade_advice(tmp_path: Path) -> None:
    Store.open(tmp_path).close()
    newer = schema.schema_version() + 5
    conn = sqlite3.connect(tmp_path / DB_NAME)
    conn.execute(f"PRAGMA user_version = {newer}")
    conn.close()
    with pytest.raises(StoreError) as err:
        Store.open(tmp_path)
    msg = str(err.value)
    assert f"schema version {newer}" in msg and "Upgrade promptwitness" in msg
    assert str(tmp_path / DB_NAME) in msg
    assert _version(tmp_path / DB_NAME) == newer  # untouched
