"""The provenance log and statements end to end: a real store, the CLI, and tampering.

Every mutation below is made with a separate connection to the store's database, the
way someone editing the store behind promptwitness's back would; ``ledger verify`` must
exit 1. Each test runs on both backends (SQLite, PostgreSQL: ``store_location``).
"""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.rawdb import RawDB

from promptwitness.cli import main
from promptwitness.ledger import dsse, merkle
from promptwitness.ledger.log import Ledger
from promptwitness.model import CapturedExchange
from promptwitness.store import Store


def body(date: str, sep: str = "-", extra: str = "") -> bytes:
    return json.dumps(
        {
            "model": "claude-sonnet-4-5",
            "max_tokens": 1024,
            "system": [
                {
                    "type": "text",
                    "text": f"You are a coding agent. Today's date is "
                    f"{date.replace('-', sep)}.{extra}",
                }
            ],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Say hi"}]}],
            "metadata": {"user_id": "user_4e2c"},
        }
    ).encode()


def exchange(
    date: str = "2026-11-24",
    sep: str = "-",
    extra: str = "",
    n: int = 0,
    ua: str = "claude-cli/2.0.1 (external, cli)",
) -> CapturedExchange:
    return CapturedExchange(
        method="POST",
        target="/v1/messages?beta=true",
        host="127.0.0.1:8080",
        request_headers=[
            ("Host", "127.0.0.1:8080"),
            ("content-type", "application/json"),
            ("user-agent", ua),
            ("x-api-key", "pw-redacted:abcdef0123456789"),
        ],
        request_body=body(date, sep, extra),
        status=200,
        response_headers=[("content-type", "application/json")],
        response_body=json.dumps(
            {"id": f"msg_{n}", "content": [{"type": "text", "text": "hi " * n}]}
        ).encode(),
        started=1_790_000_000.25 + n,
        duration=0.125,
    )


@pytest.fixture
def root(store_location: str) -> str:
    return store_location


@pytest.fixture
def key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Path]:
    (tmp_path / "keys").mkdir()
    assert (
        main(
            [
                "keys",
                "generate",
                "--out",
                str(tmp_path / "keys" / "log"),
                "--name",
                "example.com/log",
            ]
        )
        == 0
    )
    capsys.readouterr()
    yield tmp_path / "keys" / "log"


def fill(root: str, n: int = 5) -> list[int]:
    with Store.open(root) as s:
        return [s.add(exchange(date=f"2026-11-{20 + i:02d}", n=i)) for i in range(n)]


def cli(*argv: str) -> int:
    return main(list(argv))


def checkpoint(root: str, key: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert cli("ledger", "checkpoint", "--store", str(root), "--key", f"{key}.key") == 0
    return capsys.readouterr().out


def verify(root: str, key: Path | None = None, *extra: str) -> int:
    args = ["ledger", "verify", "--store", str(root)]
    if key is not None:
        args += ["--pub", f"{key}.pub"]
    return cli(*args, *extra)


def db(root: str) -> RawDB:
    return RawDB(root)


def test_intact_log_checkpoint_prove_consistency(
    root: str, key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = fill(root, 3)
    note1 = checkpoint(root, key, capsys)
    lines = note1.split("\n")
    assert lines[0].startswith("promptwitness/store/") and lines[1] == "3"
    assert lines[4].startswith("\u2014 example.com/log ")
    with Store.open(root) as s:
        s.add(exchange(n=9))
    note2 = checkpoint(root, key, capsys)
    assert note2.split("\n")[1] == "4"
    assert verify(root, key) == 0
    out = capsys.readouterr().out
    assert "log intact: 4 leaves" in out and "signatures checked" in out

    assert cli("ledger", "prove", str(ids[1]), "--store", str(root)) == 0
    proof = json.loads(capsys.readouterr().out)
    assert proof["checkpoint"] == note2 and proof["tree_size"] == 4
    root_hash = base64.b64decode(note2.split("\n")[2])
    merkle.verify_inclusion(
        proof["leaf_index"],
        proof["tree_size"],
        base64.b64decode(proof["leaf_hash"]),
        [base64.b64decode(p) for p in proof["proof"]],
        root_hash,
    )

    assert cli("ledger", "consistency", "3", "4", "--store", str(root)) == 0
    c = json.loads(capsys.readouterr().out)
    merkle.verify_consistency(
        3,
        4,
        [base64.b64decode(p) for p in c["proof"]],
        base64.b64decode(note1.split("\n")[2]),
        root_hash,
    )


def test_wrong_public_key_fails(
    root: str, key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(root, 2)
    checkpoint(root, key, capsys)
    assert cli("keys", "generate", "--out", str(tmp_path / "other")) == 0
    assert verify(root, tmp_path / "other") == 1
    assert "no signature by a known key" in capsys.readouterr().err


# -- mutations ------------------------------------------------------------------------

COLUMNS = [
    "run",
    "started",
    "duration",
    "mode",
    "method",
    "scheme",
    "host",
    "target",
    "http_version",
    "request_headers",
    "request_sha256",
    "request_size",
    "status",
    "response_headers",
    "response_sha256",
    "response_size",
    "protocol",
    "parse_error",
    "error",
    "upstream",
    "client",
    "redactions",
]


def _flip_value(v: object, pos: int) -> object:
    if v is None:
        return "x"
    if isinstance(v, int):
        return v ^ 1
    if isinstance(v, float):
        return v + 2**-20
    data = bytearray(v.encode() if isinstance(v, str) else v)  # type: ignore[union-attr]
    if not data:
        return "x"
    data[pos % len(data)] ^= 0x01
    return data.decode("latin-1") if isinstance(v, str) else bytes(data)


@pytest.mark.parametrize("column", COLUMNS)
def test_flipping_any_field_of_any_record_is_caught(
    root: str, key: Path, column: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = fill(root, 3)
    checkpoint(root, key, capsys)
    conn = db(root)
    (v,) = conn.execute(f"SELECT {column} FROM exchanges WHERE id = ?", (ids[1],)).fetchone()
    positions = [0, 7, -1] if isinstance(v, str) and len(v) > 8 else [0]
    for pos in positions:
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute(
            f"UPDATE exchanges SET {column} = ? WHERE id = ?", (_flip_value(v, pos), ids[1])
        )
        assert verify(root, key) == 1, (column, pos)
        err = capsys.readouterr().err
        assert f"exchange {ids[1]}" in err
        conn.execute(f"UPDATE exchanges SET {column} = ? WHERE id = ?", (v, ids[1]))
        assert verify(root, key) == 0
        capsys.readouterr()
    conn.close()


def test_flipping_any_byte_of_any_blob_is_caught(
    root: str, key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(root, 2)
    checkpoint(root, key, capsys)
    conn = db(root)
    rows = conn.execute("SELECT sha256, data, compression FROM blobs").fetchall()
    assert {r[2] for r in rows} == {"zstd", "none"} or len(rows) >= 3
    with Store.open(root) as s:
        ledger = Ledger(s)
        for sha, data, _ in rows:
            for i in range(len(data)):
                bad = bytearray(data)
                bad[i] ^= 0x01
                conn.execute("UPDATE blobs SET data = ? WHERE sha256 = ?", (bytes(bad), sha))
                rep = ledger.verify()
                assert not rep.ok and sha in rep.problems[0], (sha, i)
            conn.execute("UPDATE blobs SET data = ? WHERE sha256 = ?", (data, sha))
        assert ledger.verify().ok
    conn.execute("DELETE FROM blobs WHERE sha256 = ?", (rows[0][0],))
    conn.close()
    assert verify(root, key) == 1
    assert "is missing from the store" in capsys.readouterr().err


def _tamper(root: str, sql: Callable[[RawDB], None]) -> None:
    conn = db(root)
    try:
        sql(conn)
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("name", "mutate", "message"),
    [
        (
            "delete a record",
            lambda c: c.execute("DELETE FROM exchanges WHERE id = 2"),
            "has no record",
        ),
        (
            "delete a record and its leaf",
            lambda c: (
                c.execute("DELETE FROM exchanges WHERE id = 2"),
                c.execute("DELETE FROM ledger_leaves WHERE exchange = 2"),
            ),
            "leaves were removed",
        ),
        (
            "delete, renumber",
            lambda c: (
                c.execute("DELETE FROM exchanges WHERE id = 2"),
                c.execute("DELETE FROM ledger_leaves WHERE exchange = 2"),
                # renumbered in two steps: PostgreSQL checks the key row by row
                c.execute("UPDATE ledger_leaves SET idx = -idx WHERE idx > 1"),
                c.execute("UPDATE ledger_leaves SET idx = -idx - 1 WHERE idx < 0"),
            ),
            "the log was truncated",
        ),
        (
            "swap two records' contents",
            lambda c: (
                c.execute("UPDATE exchanges SET id = -2 WHERE id = 2"),
                c.execute("UPDATE exchanges SET id = 2 WHERE id = 3"),
                c.execute("UPDATE exchanges SET id = 3 WHERE id = -2"),
            ),
            "was changed after it was logged",
        ),
        (
            "reorder leaves",
            lambda c: (
                c.execute("UPDATE ledger_leaves SET idx = -1 WHERE idx = 1"),
                c.execute("UPDATE ledger_leaves SET idx = 1 WHERE idx = 2"),
                c.execute("UPDATE ledger_leaves SET idx = 2 WHERE idx = -1"),
            ),
            "reordered",
        ),
        (
            "truncate the log",
            lambda c: (
                c.execute("DELETE FROM ledger_leaves WHERE idx >= 3"),
                c.execute("DELETE FROM exchanges WHERE id > 3"),
            ),
            "the log was truncated",
        ),
        (
            "truncate leaves only",
            lambda c: c.execute("DELETE FROM ledger_leaves WHERE idx = 4"),
            "added behind the log's back",
        ),
        (
            "add a record behind the log's back",
            lambda c: c.execute(
                "INSERT INTO exchanges(run, started, mode, method, scheme, host, target, "
                "http_version, request_headers, request_sha256, request_size, response_headers, "
                "response_sha256, response_size) SELECT run, started, mode, method, scheme, host, "
                "target, http_version, request_headers, request_sha256, request_size, "
                "response_headers, response_sha256, response_size FROM exchanges WHERE id = 1"
            ),
            "added behind the log's back",
        ),
        (
            "rewrite a record and its leaf hash",
            lambda c: (
                c.execute("UPDATE exchanges SET status = 500 WHERE id = 2"),
                c.execute("UPDATE ledger_leaves SET hash = ? WHERE exchange = 2", (bytes(32),)),
            ),
            "does not match the log",
        ),
        (
            "edit the kept checkpoint",
            lambda c: c.execute(
                "UPDATE ledger_checkpoints SET note = replace(note, char(10) || '5' || char(10), "
                "char(10) || '4' || char(10))"
            ),
            "does not verify",
        ),
    ],
    ids=lambda x: x if isinstance(x, str) and " " in x else "",
)
def test_log_mutations_are_caught(
    root: str,
    key: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    mutate: Callable[[RawDB], object],
    message: str,
) -> None:
    fill(root, 5)
    checkpoint(root, key, capsys)
    assert verify(root, key) == 0
    capsys.readouterr()
    _tamper(root, mutate)  # type: ignore[arg-type]
    assert verify(root, key) == 1
    err = capsys.readouterr().err
    assert "TAMPERED" in err and message in err, err


def test_fork_is_caught_against_a_checkpoint_kept_elsewhere(
    root: str, key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(root, 4)
    kept = tmp_path / "published-checkpoint.txt"
    kept.write_text(checkpoint(root, key, capsys))
    # Rewrite history: drop everything, log different captures, re-sign, hide the old one.
    _tamper(
        root,
        lambda c: (
            c.execute("DELETE FROM ledger_leaves"),
            c.execute("DELETE FROM exchanges"),
            c.execute("DELETE FROM ledger_checkpoints"),
        ),
    )  # type: ignore[arg-type]
    with Store.open(root) as s:
        for i in range(5):
            s.add(exchange(sep="/", n=i))
    checkpoint(root, key, capsys)
    assert verify(root, key) == 0  # consistent with itself...
    capsys.readouterr()
    assert verify(root, key, "--checkpoint", str(kept)) == 1  # ...but not with what was published
    assert "does not match the log" in capsys.readouterr().err


def test_key_never_printed_never_readable_never_in_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "store"  # an SQLite store: every file in its directory is read
    assert cli("keys", "generate", "--out", str(tmp_path / "k")) == 0
    out = capsys.readouterr()
    # PRIVATE+KEY+NAME+HASH+BASE64: the base64 itself may contain "+"
    secret = (tmp_path / "k.key").read_text().strip().split("+", 4)[4]
    assert len(secret) >= 43
    assert secret not in out.out + out.err
    assert stat.S_IMODE((tmp_path / "k.key").stat().st_mode) == 0o600
    ids = fill(str(root), 2)
    outputs = []
    for argv in (
        ["ledger", "checkpoint", "--store", str(root), "--key", str(tmp_path / "k.key")],
        [
            "attest",
            "manifest",
            "--store",
            str(root),
            "--exchange",
            str(ids[0]),
            "--key",
            str(tmp_path / "k.key"),
            "-o",
            str(tmp_path / "m.json"),
        ],
    ):
        assert cli(*argv) == 0
        o = capsys.readouterr()
        outputs.append(o.out + o.err)
    assert all(secret not in o for o in outputs)
    assert secret not in (tmp_path / "m.json").read_text()
    for p in root.rglob("*"):
        assert secret.encode() not in p.read_bytes()
    os.chmod(tmp_path / "k.key", 0o644)
    assert cli("ledger", "checkpoint", "--store", str(root), "--key", str(tmp_path / "k.key")) == 2
    err = capsys.readouterr().err
    assert "others may read it" in err and secret not in err
    assert cli("keys", "generate", "--store", str(root), "--out", str(root / "k")) == 2
    assert not (root / "k.key").exists()


# -- statements ---------------------------------------------------------------------------


def test_manifest_verify_against_captures(
    root: str, key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store.open(root) as s:
        base = s.add(exchange(date="2026-11-24"))
        tomorrow = s.add(exchange(date="2026-11-25", n=1))
        slashed = s.add(exchange(date="2026-11-25", sep="/", n=2))
        added = s.add(exchange(date="2026-11-25", extra=" Be terse.", n=3))
        apostrophe = s.add(exchange(ua="claude\u2019cli/2.0.1 (external, cli)", n=4))
    m = tmp_path / "manifest.json"
    assert (
        cli(
            "attest",
            "manifest",
            "--store",
            str(root),
            "--exchange",
            str(base),
            "--key",
            f"{key}.key",
            "-o",
            str(m),
        )
        == 0
    )
    capsys.readouterr()
    env = json.loads(m.read_text())
    assert env["payloadType"] == "application/vnd.in-toto+json"
    st = json.loads(base64.b64decode(env["payload"]))
    assert st["predicateType"] == "https://promptwitness.dev/prompt-manifest/v1"
    assert st["predicate"]["agent"] == {"name": "claude-cli", "version": "2.0.1"}

    def against(i: int) -> int:
        return cli(
            "verify", str(m), "--pub", f"{key}.pub", "--store", str(root), "--against", str(i)
        )

    assert against(base) == 0 and "byte-identical" in capsys.readouterr().out
    assert against(tomorrow) == 0 and "kept their form" in capsys.readouterr().out
    assert against(slashed) == 1
    assert "system[0].text: form" in capsys.readouterr().err
    assert against(added) == 1
    assert "system[0].text: form" in capsys.readouterr().err
    assert against(apostrophe) == 1
    assert "headers.user-agent: changed" in capsys.readouterr().err


def test_flipping_any_envelope_byte_is_caught(
    root: str, key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = fill(root, 2)
    m = tmp_path / "diff.json"
    assert (
        cli(
            "attest",
            "diff",
            str(ids[0]),
            str(ids[1]),
            "--store",
            str(root),
            "--key",
            f"{key}.key",
            "-o",
            str(m),
        )
        == 0
    )
    assert cli("verify", str(m), "--pub", f"{key}.pub") == 0
    capsys.readouterr()
    env = dsse.Envelope.loads(m.read_text())
    st = json.loads(env.payload)
    assert st["predicateType"] == "https://promptwitness.dev/prompt-diff/v1"
    assert any(c["kind"] == "value" for c in st["predicate"]["changes"])
    bad_file = tmp_path / "bad.json"
    # every byte through the library (unit tests); here a spread of bytes through the CLI
    for i in sorted({0, len(env.payload) - 1, *range(0, len(env.payload), 41)}):
        p = bytearray(env.payload)
        p[i] ^= 0x01
        bad_file.write_text(dsse.Envelope(env.payload_type, bytes(p), env.signatures).dumps())
        assert cli("verify", str(bad_file), "--pub", f"{key}.pub") == 1, i
    sig = env.signatures[0]
    for i in range(0, len(sig.sig), 3):
        s = bytearray(sig.sig)
        s[i] ^= 0x80
        forged = dsse.Envelope(
            env.payload_type, env.payload, (dsse.EnvelopeSignature(sig.keyid, bytes(s)),)
        )
        bad_file.write_text(forged.dumps())
        assert cli("verify", str(bad_file), "--pub", f"{key}.pub") == 1, i
    capsys.readouterr()


def test_attest_probe_names_the_exchanges(
    root: str, key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store.open(root) as s:
        run = s.begin_run("probe", ["agent"])
        x = s.add(CapturedExchange(**{**exchange().__dict__, "run": run}))
    report = tmp_path / "report.json"
    report.write_text(
        json.dumps(
            {
                "schema": "promptwitness/probe-report/v1",
                "verdict": "clean",
                "runs": [{"run": run}],
                "findings": [],
            }
        )
    )
    out = tmp_path / "probe.dsse.json"
    assert (
        cli(
            "attest",
            "probe",
            str(report),
            "--store",
            str(root),
            "--key",
            f"{key}.key",
            "-o",
            str(out),
        )
        == 0
    )
    assert cli("verify", str(out), "--pub", f"{key}.pub") == 0
    st = json.loads(dsse.Envelope.loads(out.read_text()).payload)
    assert st["predicateType"] == "https://promptwitness.dev/probe-result/v1"
    assert [e["exchange"] for e in st["predicate"]["exchanges"]] == [x]
    assert st["predicate"]["exchanges"][0]["leaf_index"] == 0
    capsys.readouterr()
