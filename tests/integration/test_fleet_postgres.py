"""Two ``serve`` replicas on one PostgreSQL store, and ``kill -9`` of one under load.

A real PostgreSQL server (tests/conftest.py starts it), two real ``promptwitness serve``
processes (each in its own process group; the writer a thread, serve's default for
PostgreSQL, or a writer process beside each) writing into one database, clients
loading both at once. Then SIGKILL of one replica's whole process group, mid-load. Must hold:

- nothing answered is lost: every id answered in full, by either replica, is stored;
- the other replica keeps serving (its clients are answered after the kill);
- the log stays one tree: dense leaves, one per exchange, in the order the database
  handed them out, and ``ledger verify`` finds nothing wrong with it (then a signed
  checkpoint and a verify with the key: intact).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from tests.integration.test_kill9 import ID, _client, _free_port, _gone, _ready

from promptwitness.cli import main
from promptwitness.ledger.log import Ledger
from promptwitness.store import Store

CLIENTS_PER_REPLICA = 4
LOAD_SECONDS = 1.0  # before the kill
AFTER_KILL_SECONDS = 1.0  # the survivor's load after it


def _serve(url: str, port: int, log: Path, writer: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    cmd = [sys.executable, "-m", "promptwitness", "serve", "--store", url]
    cmd += ["--listen", f"127.0.0.1:{port}", "--writer", writer]
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


@pytest.mark.parametrize("writer", ["auto", "process"])
def test_two_replicas_one_log_and_kill9_of_one(pg_url: str, tmp_path: Path, writer: str) -> None:
    ports = [_free_port(), _free_port()]
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    # the first replica creates the tables; both then share them
    procs = [_serve(pg_url, ports[0], logs[0], writer)]
    _ready(procs[0], ports[0], logs[0])
    procs.append(_serve(pg_url, ports[1], logs[1], writer))
    _ready(procs[1], ports[1], logs[1])
    stops = [threading.Event(), threading.Event()]
    answered: list[list[str]] = [[], []]
    threads = [
        threading.Thread(
            target=_client,
            args=(ports[r], r * CLIENTS_PER_REPLICA + i, stops[r], answered[r]),
            daemon=True,
        )
        for r in (0, 1)
        for i in range(CLIENTS_PER_REPLICA)
    ]
    try:
        for t in threads:
            t.start()
        time.sleep(LOAD_SECONDS)
        alive = sum(t.is_alive() for t in threads)
        os.killpg(procs[0].pid, signal.SIGKILL)  # replica A (and its writer process)
        survivor_at_kill = len(answered[1])
        time.sleep(AFTER_KILL_SECONDS)
        survivor_after = len(answered[1])
        for s in stops:
            s.set()
        for t in threads:
            t.join(15)
        procs[0].wait(15)
        assert procs[0].returncode == -signal.SIGKILL
        assert procs[1].poll() is None, "the other replica died with the first"
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)  # the survivor: a clean stop
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait(15)
    assert alive == 2 * CLIENTS_PER_REPLICA, "the clients were done before the kill"
    assert len(answered[0]) >= CLIENTS_PER_REPLICA * 5, "no load on the killed replica"
    assert survivor_after > survivor_at_kill, "the other replica stopped serving"
    assert procs[1].returncode == 0, logs[1].read_text()[-2000:]

    time.sleep(0.5)  # the killed replica's orphaned writer ends on EOF
    with Store.open(pg_url) as st:
        exchanges = st.exchanges()
        stored = {
            f"{m.group(1).decode()}-{m.group(2).decode()}"
            for x in exchanges
            if (m := ID.search(st.request_body(x)))
        }
        leaves = st.log_leaves()
        report = Ledger(st).verify()
    everything = set(answered[0]) | set(answered[1])
    missing = sorted(everything - stored)
    assert not missing, f"{len(missing)} of {len(everything)} answered exchanges not stored"
    # one dense tree: a leaf per exchange, indices 0..n-1, exchange ids rising with them
    assert [leaf.index for leaf in leaves] == list(range(len(exchanges)))
    assert sorted(leaf.exchange for leaf in leaves) == [x.id for x in exchanges]
    assert [leaf.exchange for leaf in leaves] == sorted(leaf.exchange for leaf in leaves)
    assert report.ok, report.problems
    assert report.size == len(exchanges)
    # and it signs and verifies as one log
    keys = tmp_path / "keys"
    keys.mkdir()
    assert main(["keys", "generate", "--out", str(keys / "k"), "--name", "fleet"]) == 0
    assert main(["ledger", "checkpoint", "--store", pg_url, "--key", str(keys / "k.key")]) == 0
    assert main(["ledger", "verify", "--store", pg_url, "--pub", str(keys / "k.pub")]) == 0
    for pid_log in logs:
        assert "Traceback" not in pid_log.read_text()
        # the banner says when a commit is on disk (the test server's configuration file
        # turns synchronous_commit off, which the replicas keep)
        assert "(synchronous_commit off (as configured: configuration file))" in (
            pid_log.read_text()
        )
        # --writer auto on PostgreSQL: a thread
        assert f"writer {'thread' if writer == 'auto' else writer}" in pid_log.read_text()
    assert _gone(procs[0].pid, 1)
