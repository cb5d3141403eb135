"""Every command that reads a store works on a PostgreSQL store as on an SQLite one.

The same exchanges go into a store of each backend (``store_location``); each command is
run through the CLI on both, and what it prints must be the same but for the store's
name. Then what is particular to a URL: a typo'd database or an empty one is a clear
error (exit 2, no traceback, no tables created), and a password never reaches a report.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from tests.integration.test_ledger import exchange
from tests.rawdb import RawDB

from promptwitness.cli import main
from promptwitness.ledger.log import Ledger
from promptwitness.store import Store
from promptwitness.store.pgtemp import TempCluster
from promptwitness.store.postgres import redact_url


def _fill(location: str) -> list[int]:
    with Store.open(location) as s:
        run = s.begin_run("record", ["agent", "-p", "hi"])
        xs = [
            exchange(date="2026-11-24", n=0),
            exchange(date="2026-11-24", sep="/", n=1),
            exchange(date="2026-11-25", n=2),
        ]
        for x in xs:
            x.run = run
        ids = [s.add(x) for x in xs]
        s.end_run(run, 0)
    return ids


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _same(text: str, location: str) -> str:
    """What a command printed, without the store's name (and timing figures)."""
    with Store.open(location, readonly=True) as s:
        text = text.replace(s.label, "STORE")
    # hashes over records that hold the run's id (proofs, roots) differ with it
    text = re.sub(r"[A-Za-z0-9+/]{43}=", "HASH", text)
    return re.sub(r"(?<![A-Za-z0-9+/])\d+(\.\d+)? ?(ms|s)\b", "T", text)


COMMANDS = [
    ("log",),
    ("log", "--run", "RUN"),
    ("show", "1"),
    ("show", "2", "--raw"),
    ("show", "2", "--segments"),
    ("diff", "1", "2"),
    ("export", "--har", "-"),
    ("ledger", "verify"),
    ("ledger", "prove", "2"),
    ("ledger", "consistency", "1", "3"),
]


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: " ".join(a))
def test_reading_commands_agree_on_both_backends(
    argv: tuple[str, ...], pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = []
    for location in (str(tmp_path / "store"), pg_url):
        assert _fill(location) == [1, 2, 3]
        with Store.open(location) as s:
            run = s.runs()[0].id
        args = [a if a != "RUN" else run for a in argv]
        code, out, err = _run(capsys, *args, "--store", location)
        assert "Traceback" not in err
        out = out.replace(run, "RUN").replace(run[:8], "RUN")  # the log shows 8 of 13
        if argv[0] == "export":
            har = json.loads(out)
            assert len(har["log"]["entries"]) == 3
            out = json.dumps([e["request"]["postData"]["text"] for e in har["log"]["entries"]])
        outputs.append((code, _same(out, location)))
    assert outputs[0] == outputs[1]
    assert outputs[0][0] in (0, 1)  # diff: 1 = they differ


def test_diff_names_the_covert_separator_on_postgresql(
    pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(pg_url)
    code, out, err = _run(capsys, "diff", "1", "2", "--store", pg_url)
    assert code == 1, err
    assert "/" in out and "-" in out


def test_import_and_attest_on_postgresql(
    pg_url: str, pg_cluster: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(pg_url)
    har = tmp_path / "x.har"
    assert _run(capsys, "export", "--har", str(har), "--store", pg_url)[0] == 0
    other = str(tmp_path / "other")
    assert _run(capsys, "import", "--har", str(har), "--store", other)[0] == 0
    with Store.open(other) as s, Store.open(pg_url) as p:
        assert [s.request_body(x) for x in s.exchanges()] == [
            p.request_body(x) for x in p.exchanges()
        ]
    assert _run(capsys, "keys", "generate", "--out", str(tmp_path / "k"))[0] == 0
    code, _, err = _run(
        capsys,
        "attest",
        "manifest",
        "--store",
        pg_url,
        "--exchange",
        "2",
        "--key",
        str(tmp_path / "k.key"),
        "-o",
        str(tmp_path / "m.json"),
    )
    assert code == 0, err
    envelope = json.loads((tmp_path / "m.json").read_text())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert len(statement["subject"]) == 1  # the one exchange asked for


def test_a_missing_database_is_a_clear_error(
    pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = re.sub(r"/t\d+\?", "/no_such_db?", pg_url)
    for argv in (("log",), ("show", "1"), ("ledger", "verify"), ("serve", "--listen", "x:1")):
        code, _, err = _run(capsys, *argv, "--store", missing)
        assert code == 2, (argv, err)
        assert "Traceback" not in err
        assert ("cannot connect" in err and "no_such_db" in err) or argv[0] == "serve", err


def test_an_empty_database_is_no_store_and_stays_empty(
    pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (("log",), ("show", "1"), ("ledger", "verify"), ("export", "--har", "-")):
        code, _, err = _run(capsys, *argv, "--store", pg_url)
        assert code == 2 and f"no store at {pg_url}" in err, (argv, err)
    with RawDB(pg_url) as db:
        assert db.execute("SELECT to_regclass('meta')").fetchone()[0] is None


def test_a_password_is_never_printed() -> None:
    url = "postgresql://fleet:s3cret@db.example:5432/pw?sslmode=require&password=other"
    shown = redact_url(url)
    assert "s3cret" not in shown and "other" not in shown
    assert shown.startswith("postgresql://fleet:***@db.example:5432/pw?")
    assert "sslmode=require" in shown


def test_a_server_restart_loses_no_write() -> None:
    """The database restarts between two writes (a failover, an upgrade): the store's
    connection, ended by the server, is opened again before the next write."""
    with TempCluster() as pg:
        url = pg.create_database("restart")
        with Store.open(url) as s:
            first = s.add(exchange(n=0))
            pg.restart()
            second = s.add(exchange(n=1))
            assert (first, second) == (1, 2)
            assert [x.id for x in s.exchanges()] == [1, 2]
            assert Ledger(s).verify().ok
