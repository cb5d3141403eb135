"""``promptwitness drift`` end to end: a simulated fleet of stand-in agents through a real
``promptwitness serve`` gateway on loopback, then ``drift`` as a user runs it.

36 clients of ``tests/fixtures/agents/fleet_agent.py``, each a process of its own with
its own zone, locale, user, credential and source address (``127.0.S.X``: four /24
subnets that cut across the hosts), reaching the gateway by one of three host names.
In the conditioned fleet the agent encodes the host name ``api.corp.cn`` covertly
(``Today’s``, ``2026/12/06``); ``drift`` must find exactly that variant and attribute
it to those clients' Host, with their exchange ids as evidence. The same fleet with
nothing conditioned must give no finding (exit 0). The HTML report is rendered in
headless Chromium (when installed): its markers are displayed and visible.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.fixtures.agents.fleet_agent import HOSTS, fleet_env
from tests.integration.test_html_browser import MEASURE, measure

from promptwitness.store import Store

AGENT = Path(__file__).parents[1] / "fixtures" / "agents" / "fleet_agent.py"
CLIENTS = 36
REQUESTS = 2
BATCH = 12  # agents running at once


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pw(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    return subprocess.run(
        [sys.executable, "-m", "promptwitness", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _wait_listening(port: int) -> None:
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("serve did not listen")


def run_fleet(store: Path, *, conditioned: bool) -> None:
    """Start ``serve``, run the fleet through it, stop it (every exchange committed)."""
    port = _free_port()
    serve = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "promptwitness",
            "serve",
            "--store",
            str(store),
            "--listen",
            f"127.0.0.1:{port}",
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        _wait_listening(port)
        base = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
        for start in range(0, CLIENTS, BATCH):
            procs = []
            for i in range(start, min(start + BATCH, CLIENTS)):
                env = {
                    **base,
                    **fleet_env(i, conditioned=conditioned, port=port),
                    "PW_FLEET_CONNECT": f"127.0.0.1:{port}",
                    "PW_FLEET_REQUESTS": str(REQUESTS),
                }
                procs.append(
                    subprocess.Popen(
                        [sys.executable, str(AGENT)],
                        env=env,
                        stderr=subprocess.PIPE,
                        stdin=subprocess.DEVNULL,
                    )
                )
            for p in procs:
                _, err = p.communicate(timeout=120)
                assert p.returncode == 0, err.decode()
    finally:
        serve.send_signal(signal.SIGTERM)
        _, err = serve.communicate(timeout=60)
    assert serve.returncode == 0, err.decode()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    root = tmp_path_factory.mktemp("drift-fleet")
    store = root / "store"
    run_fleet(store, conditioned=True)
    yield root, store


def test_the_conditioned_variant_is_found_and_attributed(fleet: tuple[Path, Path]) -> None:
    root, store = fleet
    out = root / "drift.json"
    r = _pw(
        "drift",
        "--store",
        str(store),
        "--json",
        str(out),
        "--html",
        str(root / "drift.html"),
        "--sarif",
        str(root / "drift.sarif"),
    )
    assert r.returncode == 1, r.stderr
    assert "drift: reading" in r.stderr and "exchanges in" in r.stderr  # progress lines
    assert "host=api.corp.cn" in r.stdout
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["summary"]["model_calls"] == CLIENTS * REQUESTS
    (f,) = doc["findings"]
    assert set(f["kinds"]) == {"confusable", "date-format"}
    assert "\u2019" in f["variant"]["text"] and "'" in f["template"]["text"]

    cn = sum(1 for i in range(CLIENTS) if HOSTS[i % 3] == "api.corp.cn")
    explains = [s for s in f["separators"] if s["verdict"] == "explains"]
    assert [(s["dimension"], s["values"]) for s in explains] == [("host", ["api.corp.cn"])]
    assert explains[0]["variant"] == [cn * REQUESTS, cn * REQUESTS]
    assert explains[0]["others"] == [0, (CLIENTS - cn) * REQUESTS]
    assert f["variant"]["senders"] == cn

    # the evidence is exactly the exchanges the gateway received by that host name,
    # from those clients' own addresses
    with Store.open(store, create=False, readonly=True) as st:
        by_host = {x.id: x for x in st.exchanges()}
    expected = {i for i, x in by_host.items() if x.host.startswith("api.corp.cn")}
    assert set(f["variant"]["evidence"]) == expected
    assert {by_host[i].client.split(":")[0] for i in expected} == {  # type: ignore[union-attr]
        fleet_env(i, conditioned=True)["PW_FLEET_SOURCE"]
        for i in range(CLIENTS)
        if HOSTS[i % 3] == "api.corp.cn"
    }
    sarif = json.loads((root / "drift.sarif").read_text(encoding="utf-8"))
    assert len(sarif["runs"][0]["results"]) == 1


def test_a_fleet_where_nothing_is_conditioned_gives_no_finding(tmp_path: Path) -> None:
    store = tmp_path / "store"
    run_fleet(store, conditioned=False)
    r = _pw("drift", "--store", str(store), "--json", "-", "--quiet")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["summary"]["model_calls"] == CLIENTS * REQUESTS
    assert doc["findings"] == [] and doc["summary"]["verdict"] == "uniform"
    assert doc["groups"][0]["template_units"] > 5  # the template was compared


def test_bad_input_is_a_clear_error(fleet: tuple[Path, Path]) -> None:
    _, store = fleet
    for args, message in (
        (("--since", "last tuesday"), "not a time"),
        (("--since", "2026-12-06", "--until", "2026-12-05"), "later than"),
        (("--template-share", "0"), "--template-share"),
    ):
        r = _pw("drift", "--store", str(store), *args)
        assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    r = _pw("drift", "--store", str(store.parent / "missing"))
    assert r.returncode == 2 and "no store at" in r.stderr


def test_html_markers_are_visible_in_a_browser(fleet: tuple[Path, Path], tmp_path: Path) -> None:
    root, store = fleet
    html = root / "drift.html"
    if not html.exists():
        assert _pw("drift", "--store", str(store), "-q", "--html", str(html)).returncode == 1
    spans = measure(html.read_text(encoding="utf-8"), MEASURE, tmp_path, "1000,2000")
    assert any("U+2019" in s["text"] for s in spans)
    for s in spans:
        assert s["display"] != "none" and s["visibility"] == "visible", s
        assert s["w"] > 0 and s["h"] > 0, s
