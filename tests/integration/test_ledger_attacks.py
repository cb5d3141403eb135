"""Issue 11 §4: rewriting the log with sqlite3 alone, and what must catch it.

Every attack is made with a separate sqlite3 connection on the store file, by someone
who has the store but not the owner's signing key. A verifier with the public key must
never call such a store intact; the owner's next checkpoint must not sign the edits;
checkpoints kept outside the store (``--out``, ``--witness``) prove a truncation.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.rawdb import RawDB

from promptwitness.cli import main
from promptwitness.errors import StoreError
from promptwitness.ledger.log import Ledger, adoption_digest, parse_adoptions
from promptwitness.ledger.note import NoteError, normalize_note
from promptwitness.model import CapturedExchange
from promptwitness.store import DB_NAME, Store
from promptwitness.store.postgres import is_url

UNSIGNED = 3


def exchange(n: int) -> CapturedExchange:
    return CapturedExchange(
        method="POST",
        target="/v1/messages",
        host="127.0.0.1:8080",
        request_headers=[("content-type", "application/json")],
        request_body=json.dumps({"model": "m", "max_tokens": 8, "n": n}).encode(),
        status=200,
        response_headers=[("content-type", "application/json")],
        response_body=json.dumps({"id": f"msg_{n}"}).encode(),
        started=1_790_000_000.25 + n,
        duration=0.125,
    )


@pytest.fixture
def root(store_location: str) -> str:
    return store_location


@pytest.fixture
def lite_root(tmp_path: Path) -> Path:
    """An SQLite store's directory (the tests of its files)."""
    return tmp_path / "store"


@pytest.fixture
def key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Path]:
    (tmp_path / "keys").mkdir()
    prefix = tmp_path / "keys" / "owner"
    assert main(["keys", "generate", "--out", str(prefix), "--name", "example.com/owner"]) == 0
    capsys.readouterr()
    yield prefix


def fill(root: str | Path, n: int, start: int = 0) -> list[int]:
    with Store.open(root) as s:
        return [s.add(exchange(start + i)) for i in range(n)]


def cli(*argv: str) -> int:
    return main(list(argv))


def checkpoint(root: str | Path, key: Path, *extra: str) -> int:
    return cli("ledger", "checkpoint", "--store", str(root), "--key", f"{key}.key", *extra)


def verify(root: str | Path, key: Path | None, *extra: str) -> int:
    args = ["ledger", "verify", "--store", str(root)]
    if key is not None:
        args += ["--pub", f"{key}.pub"]
    return cli(*args, *extra)


def sql(root: str, *statements: str) -> None:
    conn = RawDB(root)
    try:
        for st in statements:
            conn.execute(st)
    finally:
        conn.close()


def kept_checkpoints(root: str) -> int:
    conn = RawDB(root)
    try:
        return int(conn.execute("SELECT count(*) FROM ledger_checkpoints").fetchone()[0])
    finally:
        conn.close()


SET_META = (
    "INSERT INTO meta(key, value) VALUES ('{}', '{}') "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


REWRITE = (
    "DELETE FROM ledger_leaves",
    "DELETE FROM ledger_checkpoints",
    SET_META.format("ledger_adopt_upto", 1000000000),
    "UPDATE exchanges SET status = 500 WHERE id = 3",
)


# -- the attack of the issue --------------------------------------------------------------


def test_rewrite_with_sqlite_alone_is_never_intact(
    root: str, key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(root, 5)
    witness, out = tmp_path / "witness", tmp_path / "latest.checkpoint"
    assert checkpoint(root, key, "--witness", str(witness), "--out", str(out)) == 0
    capsys.readouterr()
    sql(root, *REWRITE)

    # with the public key alone: not intact, and it says why
    assert verify(root, key) == UNSIGNED
    cap = capsys.readouterr()
    assert "intact:" not in cap.out and "log UNSIGNED" in cap.out
    assert "UNSIGNED: 5 exchange(s) have no leaf in the log (ids 1, 2, 3, 4, 5)" in cap.err
    # with the checkpoint kept outside the store: tampered, the log shrank
    for kept in (out, witness):
        assert verify(root, key, "--checkpoint", str(kept)) == 1
        cap = capsys.readouterr()
        assert "covers 5 leaves but the log has only 0: the log was truncated" in cap.err
        assert "log NOT intact" in cap.out

    # the owner's next checkpoint does not adopt the edited records...
    assert checkpoint(root, key) == 0
    cap = capsys.readouterr()
    assert cap.out.split("\n")[1] == "0"  # a checkpoint of the (empty) log, nothing adopted
    assert "were NOT signed" in cap.err and "--adopt" in cap.err
    assert verify(root, key) == UNSIGNED
    capsys.readouterr()
    assert cli("ledger", "prove", "3", "--store", str(root)) == 2
    assert "not in the log" in capsys.readouterr().err
    # ...and with the witness (the documented habit) it refuses to sign at all
    before = kept_checkpoints(root)
    for extra in ((), ("--adopt",)):
        assert checkpoint(root, key, "--witness", str(witness), *extra) == 1
        cap = capsys.readouterr()
        assert "refused to sign" in cap.err and "the log was truncated" in cap.err
        assert cap.out == ""
    assert checkpoint(root, key, "--out", str(out), "--adopt") == 1
    capsys.readouterr()
    assert kept_checkpoints(root) == before
    assert len(list(witness.iterdir())) == 1


def test_meta_alone_never_covers_an_exchange(
    root: str, key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(root, 3)
    assert checkpoint(root, key) == 0
    # an exchange inserted behind the log's back, with the adoption bound raised
    sql(
        root,
        SET_META.format("ledger_adopt_upto", 1000000000),
        "INSERT INTO exchanges(run, started, mode, method, scheme, host, target, http_version, "
        "request_headers, request_sha256, request_size, response_headers, response_sha256, "
        "response_size) SELECT run, started, mode, method, scheme, host, target, "
        "http_version, request_headers, request_sha256, request_size, response_headers, "
        "response_sha256, response_size FROM exchanges WHERE id = 1",
    )
    capsys.readouterr()
    assert verify(root, key) == 1
    assert "exchange 4 is not in the log: it was added behind the log's back" in (
        capsys.readouterr().err
    )
    # and --adopt will not sign it: it was captured after exchanges logged at capture
    assert checkpoint(root, key, "--adopt") == 1
    assert "refused to sign" in capsys.readouterr().err


def test_truncation_with_no_checkpoint_in_the_store(
    root: str, key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "latest.checkpoint"
    fill(root, 5)
    assert checkpoint(root, key, "--out", str(out)) == 0
    fill(root, 3, start=5)
    assert checkpoint(root, key, "--out", str(out)) == 0  # replaced: it extends the first
    assert out.read_text().split("\n")[1] == "8"
    capsys.readouterr()
    sql(
        root,
        "DELETE FROM ledger_checkpoints",
        "DELETE FROM ledger_leaves WHERE idx >= 6",
        "DELETE FROM exchanges WHERE id > 6",
    )
    assert verify(root, key) == UNSIGNED
    cap = capsys.readouterr()
    assert "UNSIGNED: nothing signed covers the log's 6 leaves" in cap.err
    assert "intact" not in cap.out
    assert verify(root, None) == 0  # without a key: only "consistent", never "intact"
    assert "log consistent, partly unsigned (signatures not checked" in capsys.readouterr().out
    assert verify(root, key, "--checkpoint", str(out)) == 1
    assert "covers 8 leaves but the log has only 6" in capsys.readouterr().err
    # the owner's checkpoint with the same file refuses, and leaves the file as it was
    kept = out.read_text()
    assert checkpoint(root, key, "--out", str(out)) == 1
    assert out.read_text() == kept
    capsys.readouterr()


def test_only_leaves_after_the_newest_checkpoint_are_unsigned(
    root: str, key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(root, 2)
    assert checkpoint(root, key) == 0
    fill(root, 2, start=2)
    capsys.readouterr()
    assert verify(root, key) == UNSIGNED
    assert "2 leaf(s) after leaf 1 are not covered" in capsys.readouterr().err
    assert checkpoint(root, key) == 0
    capsys.readouterr()
    assert verify(root, key) == 0
    assert "log intact: 4 leaves" in capsys.readouterr().out


# -- adoption: a signed, logged event -------------------------------------------------------


def _pre_ledger_store(root: str | Path) -> None:
    """Exchanges 1-3 as a store migrated from schema 1 has them: no leaves, and
    ``meta.ledger_adopt_upto`` = 3 (what the migration writes)."""
    fill(root, 3)
    sql(
        root,
        "DELETE FROM ledger_leaves",
        SET_META.format("ledger_adopt_upto", 3),
    )


def test_adoption_is_explicit_signed_and_recorded(
    root: str, key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _pre_ledger_store(root)
    fill(root, 2, start=3)  # exchanges 4, 5: logged when captured (leaves 0, 1)
    assert verify(root, key) == UNSIGNED
    assert "3 exchange(s) have no leaf in the log (ids 1, 2, 3)" in capsys.readouterr().err

    assert checkpoint(root, key) == 0  # no --adopt: nothing adopted
    cap = capsys.readouterr()
    assert cap.out.split("\n")[1] == "2" and "adopted" not in cap.out
    assert verify(root, key) == UNSIGNED
    capsys.readouterr()

    witness = tmp_path / "witness"
    assert checkpoint(root, key, "--adopt", "--witness", str(witness)) == 0
    cap = capsys.readouterr()
    assert "adopted 3 exchange(s) captured before the store had a ledger (ids 1, 2, 3)" in (cap.err)
    lines = cap.out.split("\n")
    assert lines[1] == "5" and lines[3].startswith("adopted 2 3 ")
    with Store.open(root) as s:
        leaves = Ledger(s).leaves()
    assert [e for _, e, _ in leaves] == [4, 5, 1, 2, 3]
    (adoption,) = parse_adoptions([lines[3]])
    assert adoption.digest == adoption_digest([(e, h) for _, e, h in leaves[2:]])
    assert verify(root, key) == 0
    assert "log intact: 5 leaves" in capsys.readouterr().out

    # every later checkpoint carries the adoption: removing the first loses nothing
    fill(root, 1, start=5)
    assert checkpoint(root, key, "--witness", str(witness)) == 0
    assert capsys.readouterr().out.split("\n")[3] == lines[3]
    sql(root, "DELETE FROM ledger_checkpoints WHERE size = 5")
    assert verify(root, key) == 0
    assert verify(root, key, "--checkpoint", str(witness)) == 0
    capsys.readouterr()
    # removing every checkpoint: the adopted leaves are out of capture order, unexplained
    sql(root, "DELETE FROM ledger_checkpoints")
    assert verify(root, key) == 1
    assert "no signed checkpoint says it was adopted" in capsys.readouterr().err
    # the witness still explains them and covers everything
    assert verify(root, key, "--checkpoint", str(witness)) == 0
    capsys.readouterr()


def test_adoption_lines_are_strict() -> None:
    assert parse_adoptions(["other extension", "adoptedX 1"]) == []
    for bad in ("adopted", "adopted 1 2", "adopted -1 2 " + "A" * 44, "adopted 1 0 AAAA"):
        with pytest.raises(NoteError):
            parse_adoptions([bad])


# -- checkpoints outside the store -----------------------------------------------------------


def test_checkpoint_files_as_copied(
    root: str, key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(root, 3)
    assert checkpoint(root, key) == 0
    note = capsys.readouterr().out
    f = tmp_path / "cp.txt"
    for text in (
        note,
        note + "\n",
        note + "\n\n",
        note.rstrip("\n"),
        note.replace("\n", "\r\n"),
        "\ufeff" + note,
    ):
        f.write_text(text, newline="")
        assert verify(root, key, "--checkpoint", str(f)) == 0, repr(text[-5:])
        assert "consistency proof verified" in capsys.readouterr().err
    assert normalize_note(note + "\n") == note
    # a changed byte is still caught
    f.write_text(note.replace("\n3\n", "\n2\n"))
    assert verify(root, key, "--checkpoint", str(f)) == 1
    capsys.readouterr()
    assert verify(root, key, "--checkpoint", str(tmp_path / "missing")) == 2
    assert "cannot read the checkpoint" in capsys.readouterr().err


def test_witness_directory_keeps_every_checkpoint(
    root: str, key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    witness = tmp_path / "witness"
    for i in range(3):
        fill(root, 2, start=2 * i)
        assert checkpoint(root, key, "--witness", str(witness)) == 0
    assert checkpoint(root, key, "--witness", str(witness)) == 0  # same note: kept once
    names = sorted(p.name for p in witness.iterdir())
    assert len(names) == 3 and [n[:12] for n in names] == [
        "000000000002",
        "000000000004",
        "000000000006",
    ]
    assert all(n.endswith(".checkpoint") for n in names)
    capsys.readouterr()
    assert verify(root, key, "--checkpoint", str(witness)) == 0
    err = capsys.readouterr().err
    assert "extends the checkpoint" in err and "000000000006" in err
    # a fork: rewritten and re-signed in the store; the witness disagrees
    sql(
        root,
        "DELETE FROM ledger_leaves",
        "DELETE FROM exchanges",
        "DELETE FROM ledger_checkpoints",
    )
    fill(root, 7, start=100)
    assert checkpoint(root, key) == 0
    capsys.readouterr()
    assert verify(root, key) == 0
    capsys.readouterr()
    assert verify(root, key, "--checkpoint", str(witness)) == 1
    assert capsys.readouterr().err.count("does not match the log") == 3
    if not is_url(root):  # a witness (or --out) inside the store protects nothing: refused
        assert checkpoint(root, key, "--witness", str(Path(root) / "w")) == 2
        assert checkpoint(root, key, "--out", str(Path(root) / "cp")) == 2
        assert "protects nothing" in capsys.readouterr().err
    not_a_note = tmp_path / "notes.txt"
    not_a_note.write_text("my notes\n")
    assert checkpoint(root, key, "--out", str(not_a_note)) == 2
    assert not_a_note.read_text() == "my notes\n"
    capsys.readouterr()


# -- read-only media -------------------------------------------------------------------------


def _snapshot(d: Path) -> dict[str, tuple[int, int, int]]:
    return {
        p.name: (p.stat().st_size, p.stat().st_mtime_ns, p.stat().st_mode)
        for p in sorted(d.iterdir())
    }


def test_verify_writes_nothing(
    lite_root: Path, key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = lite_root
    fill(root, 3)
    assert checkpoint(root, key) == 0
    capsys.readouterr()
    os.chmod(root / DB_NAME, 0o444)
    os.chmod(root, 0o555)
    try:
        before = _snapshot(root), root.stat().st_mtime_ns
        for argv in (
            ["ledger", "verify", "--store", str(root), "--pub", f"{key}.pub"],
            ["ledger", "prove", "2", "--store", str(root)],
            ["ledger", "consistency", "1", "3", "--store", str(root)],
        ):
            assert cli(*argv) == 0, argv
        assert "log intact: 3 leaves" in capsys.readouterr().out
        assert (_snapshot(root), root.stat().st_mtime_ns) == before  # no -wal, no -shm
        with Store.open(root, readonly=True) as s, pytest.raises(StoreError):
            s.add(exchange(9))
    finally:
        os.chmod(root, 0o755)
        os.chmod(root / DB_NAME, 0o644)


def test_verify_reads_a_live_write_ahead_log(
    lite_root: Path, key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = lite_root
    fill(root, 2)
    assert checkpoint(root, key) == 0
    with Store.open(root) as writer:  # a capture still running: its WAL holds exchange 3
        writer._db.execute("PRAGMA wal_autocheckpoint = 0")
        writer.add(exchange(2))
        assert (root / f"{DB_NAME}-wal").stat().st_size > 0
        with Store.open(root, readonly=True) as ro:
            assert Ledger(ro).size() == 3
            rep = Ledger(ro).verify()
        assert rep.ok and rep.exchanges == 3
    capsys.readouterr()


def _can_bind_read_only(tmp_path: Path) -> bool:
    probe = tmp_path / "probe"
    probe.mkdir()
    r = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount --bind -o ro {probe} {probe} && touch {probe}/x"],
        capture_output=True,
    )
    return r.returncode != 0 and b"Read-only file system" in r.stderr


def test_verify_on_a_read_only_mount(
    lite_root: Path, key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real read-only file system: SQLite cannot create the -wal/-shm files there."""
    root = lite_root
    assert shutil.which("unshare"), "unshare(1) is installed by scripts/setup.sh"
    assert _can_bind_read_only(tmp_path), "a read-only bind mount needs a mount namespace"
    fill(root, 3)
    assert checkpoint(root, key) == 0
    capsys.readouterr()
    script = (
        f'mount --bind -o ro "{root}" "{root}" && '
        f'exec "{sys.executable}" -m promptwitness ledger verify --store "{root}" '
        f'--pub "{key}.pub" && exit 0'
    )
    r = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    assert b"log intact: 3 leaves" in r.stdout
    assert sorted(p.name for p in root.iterdir()) == [DB_NAME]


# -- a typo'd --store --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["ledger", "verify"],
        ["ledger", "prove", "1"],
        ["ledger", "consistency", "1", "1"],
        ["log"],
        ["show", "1"],
        ["export", "--har", "-"],
        ["diff", "1", "2"],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_a_typod_store_is_an_error_not_a_new_store(
    tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "sotre"
    assert cli(*argv, "--store", str(missing)) == 2
    err = capsys.readouterr().err
    assert f"no store at {missing}" in err and "Traceback" not in err
    assert not missing.exists()
    missing.mkdir()  # an existing directory without a store in it: the same
    assert cli(*argv, "--store", str(missing)) == 2
    assert list(missing.iterdir()) == []
    capsys.readouterr()


def test_a_typod_store_for_checkpoint(
    tmp_path: Path, key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "sotre"
    assert checkpoint(missing, key) == 2
    assert f"no store at {missing}" in capsys.readouterr().err
    assert not missing.exists()


def test_the_checkpoint_note_is_a_plain_signed_note(
    root: str, key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(root, 1)
    assert checkpoint(root, key) == 0
    note = capsys.readouterr().out
    body, _, sig = note.partition("\n\n")
    assert len(body.split("\n")) == 3 and sig.startswith("\u2014 example.com/owner ")
    assert len(base64.b64decode(sig.split()[-1])) == 68


def test_read_only_open_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    d = tmp_path / "s"
    d.mkdir()
    (d / DB_NAME).write_bytes(b"")
    with pytest.raises(StoreError, match="is empty"):
        Store.open(d, readonly=True)
    (d / DB_NAME).write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match="not a promptwitness store"):
        Store.open(d, readonly=True)
    (d / DB_NAME).unlink()
    conn = sqlite3.connect(d / DB_NAME)
    conn.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value NOT NULL)")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="schema version 1; reading it needs version"):
        Store.open(d, readonly=True)
    assert sorted(p.name for p in d.iterdir()) == [DB_NAME]
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(StoreError, match="is a file, not a directory"):
        Store.open(f, readonly=True)
