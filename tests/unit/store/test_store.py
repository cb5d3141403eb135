"""The capture store against both backends: a real SQLite file in tmp_path and a real
PostgreSQL database (``store_location``, tests/conftest.py). Tests about the SQLite
file itself (modes, WAL, a damaged file) take ``tmp_path``."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptwitness.errors import NotFound, StoreError
from promptwitness.model import CapturedExchange
from promptwitness.store import DB_NAME, Store, StoredExchange, default_store_location, schema
from promptwitness.store.pgtemp import TempCluster

ANTHROPIC_BODY = json.dumps(
    {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "system": [{"type": "text", "text": "You are a helpful assistant\u2019s helper."}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    },
    ensure_ascii=False,
).encode()

HEADERS = [
    ("Host", "127.0.0.1:8080"),
    ("Content-Type", "application/json"),
    ("x-api-key", "pw-redacted:0123456789abcdef"),
    ("anthropic-beta", "a"),
    ("Anthropic-Beta", "b"),  # duplicates and case are kept
    ("anthropic-version", "2023-06-01"),
]


def exchange(**kw: object) -> CapturedExchange:
    base: dict[str, object] = {
        "method": "POST",
        "target": "/v1/messages?beta=true",
        "host": "127.0.0.1:8080",
        "request_headers": list(HEADERS),
        "request_body": ANTHROPIC_BODY,
        "status": 200,
        "response_headers": [("content-type", "application/json")],
        "response_body": b'{"type":"message","content":[]}',
        "started": 1_790_000_000.123456,
        "duration": 0.25,
        "client": "127.0.0.1:5555",
    }
    base.update(kw)
    return CapturedExchange(**base)  # type: ignore[arg-type]


@pytest.fixture
def store(store_location: str) -> Iterator[Store]:
    s = Store.open(store_location)
    yield s
    s.close()


# -- opening ---------------------------------------------------------------------------


def test_open_creates_private_dir_and_file_in_wal_mode(tmp_path: Path) -> None:
    root = tmp_path / "a" / "b"
    with Store.open(root) as s:
        assert s.root == root
        assert stat.S_IMODE(root.stat().st_mode) == 0o700
        assert stat.S_IMODE((root / DB_NAME).stat().st_mode) == 0o600
        conn = sqlite3.connect(root / DB_NAME)
        try:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("PRAGMA user_version").fetchone()[0] == len(schema.MIGRATIONS)
        finally:
            conn.close()
        assert s._db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_default_store_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PROMPTWITNESS_STORE", "postgresql://gw@db.example/pw")
    assert default_store_location() == "postgresql://gw@db.example/pw"  # a URL, kept as is
    monkeypatch.setenv("PROMPTWITNESS_STORE", str(tmp_path / "env-store"))
    assert default_store_location() == tmp_path / "env-store"
    with Store.open() as s:
        assert s.root == tmp_path / "env-store"
    assert (tmp_path / "env-store" / DB_NAME).is_file()
    monkeypatch.delenv("PROMPTWITNESS_STORE")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    d = default_store_location()
    assert isinstance(d, Path) and d.name == "store" and d.parent.name == "promptwitness"


def test_salt_is_random_and_created_once(tmp_path: Path) -> None:
    with Store.open(tmp_path / "one") as s:
        salt = s.salt()
        store_id = s.meta()["store_id"]
    assert isinstance(salt, bytes) and len(salt) == 32
    with Store.open(tmp_path / "one") as s:
        assert s.salt() == salt
        assert s.meta()["store_id"] == store_id
        assert "salt" not in s.meta()
    with Store.open(tmp_path / "two") as s:
        assert s.salt() != salt


def test_not_sqlite_file_is_a_clear_error(tmp_path: Path) -> None:
    root = tmp_path / "s"
    root.mkdir()
    (root / DB_NAME).write_bytes(b"this is not a database, just some text " * 200)
    with pytest.raises(StoreError) as err:
        Store.open(root)
    msg = str(err.value)
    assert str(root / DB_NAME) in msg and "not a promptwitness store" in msg
    assert "--store" in msg


def test_store_path_that_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(StoreError, match="is a file, not a directory"):
        Store.open(f)


def test_closed_store_errors(tmp_path: Path) -> None:
    s = Store.open(tmp_path)
    s.close()
    s.close()  # idempotent
    with pytest.raises(StoreError, match="already closed"):
        s.exchanges()


# -- runs ------------------------------------------------------------------------------


def test_runs(store: Store) -> None:
    a = store.begin_run("record", ["claude", "-p", "hi"], {"upstream": None})
    b = store.begin_run("import", None)
    assert a != b and len(a) == 13
    assert a < b or a[:9] == b[:9]  # sortable by creation time
    store.end_run(a, 3)
    ra = store.run(a)
    assert ra.kind == "record" and ra.command == ("claude", "-p", "hi")
    assert ra.exit_code == 3 and ra.ended is not None and ra.ended >= ra.started
    assert ra.meta == {"upstream": None}
    rb = store.run(b)
    assert rb.command is None and rb.ended is None and rb.exit_code is None
    assert [r.id for r in store.runs()] == [a, b]
    assert ra.to_json()["command"] == ["claude", "-p", "hi"]
    with pytest.raises(NotFound, match="no run nope"):
        store.run("nope")
    with pytest.raises(NotFound):
        store.end_run("nope", 0)


# -- exchanges -------------------------------------------------------------------------


def test_add_and_get_round_trip(store: Store) -> None:
    run = store.begin_run("record", ["x"])
    ex = exchange(run=run, redactions=["header x-api-key"], upstream="https://api.example")
    i = store.add(ex)
    x = store.get(i)
    assert isinstance(x, StoredExchange)
    assert x.id == i and x.run == run
    assert x.method == "POST" and x.target == "/v1/messages?beta=true" and x.path == "/v1/messages"
    assert x.host == "127.0.0.1:8080" and x.scheme == "http" and x.http_version == "1.1"
    assert x.request_headers == tuple(HEADERS)
    assert x.response_headers == (("content-type", "application/json"),)
    assert x.status == 200 and x.duration == 0.25 and x.started == ex.started
    assert x.request_size == len(ANTHROPIC_BODY)
    assert store.request_body(x) == ANTHROPIC_BODY
    assert store.response_body(x) == ex.response_body
    assert x.redactions == ("header x-api-key",)
    assert x.upstream == "https://api.example" and x.client == "127.0.0.1:5555"
    assert x.protocol == "anthropic" and x.parse_error is None
    import hashlib

    assert x.request_sha256 == hashlib.sha256(ANTHROPIC_BODY).hexdigest()


def test_protocol_and_parse_error_are_computed(store: Store) -> None:
    head = store.get(store.add(exchange(method="HEAD", target="/", request_body=b"")))
    assert head.protocol is None and head.parse_error is None
    assert store.request_body(head) == b""
    bad = store.get(store.add(exchange(request_body=b'{"model": "x", "messages": 3')))
    assert bad.protocol == "anthropic" and bad.parse_error


def test_to_json(store: Store) -> None:
    x = store.get(store.add(exchange(started=0.5)))
    j = x.to_json()
    for key in (
        "id",
        "run",
        "protocol",
        "method",
        "host",
        "path",
        "target",
        "status",
        "time",
        "duration",
        "request_size",
        "response_size",
        "request_sha256",
        "response_sha256",
        "parse_error",
        "error",
        "mode",
    ):
        assert key in j
    assert j["time"] == "1970-01-01T00:00:00.500Z"
    assert j["path"] == "/v1/messages" and j["target"] == "/v1/messages?beta=true"
    json.dumps(j)


def test_exchanges_order_run_filter_and_limit(store: Store) -> None:
    r1 = store.begin_run("record", None)
    r2 = store.begin_run("record", None)
    ids = [store.add(exchange(run=r1 if i % 2 else r2, target=f"/{i}")) for i in range(6)]
    assert [x.id for x in store.exchanges()] == ids
    assert [x.target for x in store.exchanges(run=r1)] == ["/1", "/3", "/5"]
    assert [x.target for x in store.exchanges(limit=2)] == ["/4", "/5"]
    assert [x.target for x in store.exchanges(run=r2, limit=1)] == ["/4"]
    assert store.exchanges(run="none") == []


def test_unknown_run_is_recorded_not_refused(store: Store) -> None:
    store.add(exchange(run="adhoc-run"))
    assert store.run("adhoc-run").kind == "adhoc"


def test_missing_records(store: Store) -> None:
    with pytest.raises(NotFound) as err:
        store.get(42)
    assert str(err.value) == f"no exchange 42 in store {store.label}"
    with pytest.raises(NotFound, match="no blob"):
        store.blob("0" * 64)


def test_status_none_error_and_odd_text_survive(store: Store) -> None:
    target = "/p?q=\udcff\udcfe"  # undecodable bytes kept by surrogateescape
    x = store.get(
        store.add(
            exchange(
                target=target,
                status=None,
                response_body=b"",
                response_headers=[("x-odd", "\udc80")],
                error="client disconnected",
                duration=None,
            )
        )
    )
    assert x.target == target and x.status is None and x.duration is None
    assert x.response_headers == (("x-odd", "\udc80"),)
    assert x.error == "client disconnected"


def test_damaged_blob_is_detected(store: Store) -> None:
    x = store.get(store.add(exchange()))
    store._db.execute(
        "UPDATE blobs SET data = ?, compression = 'none' WHERE sha256 = ?",
        (b"tampered", x.request_sha256),
    )
    with pytest.raises(StoreError, match="damaged"):
        store.request_body(x)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=4096))
def test_any_bytes_round_trip(store: Store, data: bytes) -> None:
    sha = store.put_blob(data)
    assert store.blob(sha) == data


def test_incompressible_bytes_stored_raw(store: Store) -> None:
    data = os.urandom(5000)
    sha = store.put_blob(data)
    row = store._db.execute("SELECT compression, length(data) FROM blobs WHERE sha256 = ?", (sha,))
    assert row.fetchone() == ("none", 5000)
    assert store.blob(sha) == data


def _big_body() -> bytes:
    msgs = []
    for i in range(220):
        msgs.append(
            {
                "role": "user" if i % 2 == 0 else "assistant",
                "content": [
                    {
                        "type": "text",
                        "text": f"Turn {i}: please look at src/module_{i}.py and explain the "
                        f"function handle_{i}() — it returns {i * 7} when the input is {i}. "
                        "’quote’ ",
                    }
                ],
            }
        )
    body = json.dumps(
        {
            "model": "claude-sonnet-4-5",
            "max_tokens": 32000,
            "stream": True,
            "system": [{"type": "text", "text": "You are Claude Code. " * 200}],
            "messages": msgs,
        },
        ensure_ascii=False,
    ).encode()
    return body[:100_000] if len(body) > 100_000 else body + b" " * (100_000 - len(body))


def _settle(store: Store) -> None:
    """Move SQLite's write-ahead log into the file, so that its size counts what is kept
    (PostgreSQL's database size counts its tables' files; its WAL is recycled)."""
    if store.backend == "sqlite":
        store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def test_repeated_100kb_request_costs_under_5kb_each(store: Store) -> None:
    body = _big_body()
    assert len(body) == 100_000
    run = store.begin_run("record", None)
    headers = [
        ("host", "127.0.0.1:9"),
        ("user-agent", "claude-cli/2.1.91 (external, cli)"),
        ("content-type", "application/json"),
        ("anthropic-version", "2023-06-01"),
        ("x-api-key", "pw-redacted:0123456789abcdef"),
        ("anthropic-beta", "claude-code-20250219,interleaved-thinking-2025-05-14"),
        *[(f"x-stainless-{k}", "value-" + k) for k in ("os", "arch", "lang", "runtime")],
    ]
    store.add(exchange(run=run, request_body=body, request_headers=headers))
    _settle(store)
    before = store.stats()
    n = 1000
    for i in range(n):
        store.add(exchange(run=run, request_body=body, request_headers=headers, started=1e9 + i))
    _settle(store)
    after = store.stats()
    assert after.exchanges - before.exchanges == n
    assert after.blobs == before.blobs == 2
    per_add = (after.db_bytes - before.db_bytes) / n
    assert per_add <= 5_000, per_add
    assert after.raw_bytes > after.stored_bytes  # zstd did something


def test_several_threads_adding(store: Store) -> None:
    run = store.begin_run("serve", None)
    ids: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(25):
                body = f'{{"thread": {t}, "i": {i}}}'.encode()
                got = store.add(exchange(run=run, request_body=body, target=f"/t{t}/{i}"))
                with lock:
                    ids.append(got)
                assert store.request_body(store.get(got)) == body
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert len(set(ids)) == 100
    xs = store.exchanges(run=run)
    assert len(xs) == 100
    for x in xs:
        t, i = x.target.strip("/").split("/")
        assert json.loads(store.request_body(x)) == {"thread": int(t[1:]), "i": int(i)}


def test_stats(store: Store) -> None:
    store.add(exchange())
    store.add(exchange())
    s = store.stats()
    assert s.exchanges == 2 and s.blobs == 2 and s.runs == 0
    assert s.raw_bytes == len(ANTHROPIC_BODY) + len(b'{"type":"message","content":[]}')
    assert 0 < s.stored_bytes <= s.raw_bytes and s.db_bytes > 0


def test_two_handles_on_one_store(store_location: str) -> None:
    """A second process (``promptwitness log``) reads while the recorder writes."""
    with Store.open(store_location) as writer, Store.open(store_location) as reader:
        assert writer.salt() == reader.salt()
        run = writer.begin_run("record", None)
        i = writer.add(exchange(run=run))
        assert reader.get(i).run == run
        assert reader.request_body(reader.get(i)) == ANTHROPIC_BODY


# -- the fast paths of add / add_many --------------------------------------------------


def test_add_many_is_one_transaction_in_order(store: Store) -> None:
    xs = [exchange(target=f"/v1/messages?i={i}") for i in range(5)]
    ids = store.add_many(xs)
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert [store.get(i).target for i in ids] == [x.target for x in xs]
    assert store.add_many([]) == []


def test_repeated_body_is_compressed_once(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from promptwitness.store import blobs as blobs_mod

    calls: list[int] = []
    real = blobs_mod.encode
    monkeypatch.setattr(
        blobs_mod, "encode", lambda d, sha=None: (calls.append(len(d)), real(d, sha))[1]
    )
    from promptwitness.store.db import PUT_LOOKUP_MIN

    body = b'{"model":"m","messages":[]}' * (PUT_LOOKUP_MIN // 27 + 1)
    assert len(body) >= PUT_LOOKUP_MIN
    store.add_many([exchange(request_body=body, response_body=b"r") for _ in range(3)])
    store.add(exchange(request_body=body, response_body=b"r"))
    assert sorted(calls) == sorted([len(body), 1])  # each distinct blob once
    # A fresh handle knows no blob: it looks a large one up (no zstd) and encodes a
    # small one again (cheaper than the lookup); either is stored once.
    other = Store.open(store.location)
    try:
        other.add(exchange(request_body=body, response_body=b"r"))
        assert other._db.execute("SELECT count(*) FROM blobs").fetchone()[0] == 2
    finally:
        other.close()
    assert sorted(calls) == sorted([len(body), 1, 1])


def test_rolled_back_blob_is_written_again(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch fails after its blob rows went in (PostgreSQL: were queued in the
    pipeline): nothing of it is stored, and the blob is not remembered as stored."""
    body = b"a body that will be rolled back" * 10
    real = store._db.executemany
    calls = {"n": 0}

    def failing(sql: str, rows: object) -> None:
        calls["n"] += 1
        real(sql, rows)  # type: ignore[arg-type]
        if calls["n"] == 1:  # the blobs are in; the transaction fails before the rest
            raise store._db.errors[0]("disk I/O error")  # the backend's driver error

    monkeypatch.setattr(store._db, "executemany", failing)
    with pytest.raises(StoreError):
        store.add(exchange(request_body=body, response_body=b"resp"))
    monkeypatch.setattr(store._db, "executemany", real)
    # the transaction was ended (rolled back), not left open for the next write to commit
    conn = store._db._conn  # type: ignore[attr-defined]
    if store.backend == "postgresql":
        assert conn.info.transaction_status.name == "IDLE"
    else:
        assert not conn.in_transaction
    assert store.exchanges() == []
    x = store.get(store.add(exchange(request_body=body, response_body=b"resp")))
    assert store.request_body(x) == body  # not skipped as "already stored"


def _show(store: Store, name: str) -> str:
    row = store._db._conn.execute(f"SHOW {name}").fetchone()  # type: ignore[attr-defined]
    return str(row[0])


@pytest.fixture(scope="module")
def durable_cluster() -> Iterator[TempCluster]:
    """A server with PostgreSQL's own settings (the session's shared cluster turns
    ``fsync`` and ``synchronous_commit`` off in its configuration file)."""
    with TempCluster(durable=True) as cluster:
        yield cluster


def test_postgres_writer_session(durable_cluster: TempCluster) -> None:
    """A writer relaxes synchronous_commit only where the server was left at its
    default, and reads in READ COMMITTED whatever the server's default; a reader's
    session is left alone."""
    import psycopg

    pg_url = durable_cluster.create_database("session")
    store = Store.open(pg_url)
    try:
        assert store._db.relaxed_commit  # type: ignore[attr-defined]
        assert _show(store, "synchronous_commit") == "off"
        assert _show(store, "default_transaction_isolation") == "read committed"
    finally:
        store.close()
    reader = Store.open(pg_url, readonly=True)
    try:
        assert _show(reader, "synchronous_commit") == "on"
    finally:
        reader.close()
    # an operator's choice (here for the database) is kept; the isolation is not theirs
    # to loosen the log with
    dbname = urllib.parse.urlsplit(pg_url).path.lstrip("/")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {dbname} SET synchronous_commit = on")
        conn.execute(f"ALTER DATABASE {dbname} SET default_transaction_isolation = serializable")
    store = Store.open(pg_url)
    try:
        assert not store._db.relaxed_commit  # type: ignore[attr-defined]
        assert _show(store, "synchronous_commit") == "on"
        assert _show(store, "default_transaction_isolation") == "read committed"
        store.add(exchange())
    finally:
        store.close()


def test_classification_is_remembered_per_request(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import promptwitness.protocols as protocols

    calls: list[str] = []
    real = protocols.parse_request
    monkeypatch.setattr(protocols, "parse_request", lambda r: (calls.append(r.target), real(r))[1])
    good = b'{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"hi"}]}'
    a = store.add(exchange(target="/v1/messages", request_body=good))
    b = store.add(exchange(target="/v1/messages", request_body=good))
    c = store.add(exchange(target="/v1/messages", request_body=b"{not json"))
    d = store.add(exchange(target="/v1/models", request_body=good))
    assert calls == ["/v1/messages", "/v1/messages", "/v1/models"]
    assert store.get(a).protocol == store.get(b).protocol == "anthropic"
    assert store.get(a).parse_error is None and store.get(c).parse_error is not None
    assert store.get(d).protocol is None


def test_iter_exchanges_streams_in_id_order_with_time_bounds(store: Store) -> None:
    ids = [store.add(exchange(started=1_790_000_000.0 + i)) for i in range(7)]
    assert [x.id for x in store.iter_exchanges(batch=2)] == ids
    assert [x.id for x in store.iter_exchanges(batch=3, after_id=ids[2])] == ids[3:]
    window = store.iter_exchanges(since=1_790_000_002.0, until=1_790_000_005.0, batch=1)
    assert [x.id for x in window] == ids[2:5]
    assert list(store.iter_exchanges(since=1_790_000_100.0)) == []
    assert [x.id for x in store.iter_exchanges(batch=7)] == ids  # a full last batch
