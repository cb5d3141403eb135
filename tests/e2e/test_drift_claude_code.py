"""``promptwitness drift`` over real Claude Code (2.1.91) traffic of several environments,
captured through ``promptwitness serve``.

A driver (``DRIVER`` below, a Python script run as a subprocess) first moves into a
loopback-only network namespace (``probe.netns.enter_loopback_only``, as ``record
--isolate`` does), so the gateway and every agent run inside it reach nothing but
loopback. There it starts ``promptwitness serve --listen 0.0.0.0:P`` (inside the
namespace the only interface is ``lo``, so every address it listens on is loopback)
and runs a small fleet of Claude Code "developers" one after another, each with its own
HOME, its own clone of the repository, its own prompt and its own dummy API key (so its
credential fingerprint is its own), then stops ``serve`` with SIGTERM (every exchange
committed).

The conditioned fleet: four developers with ``TZ=UTC`` reach the gateway as
``http://127.0.0.1:P`` and two with ``TZ=Asia/Shanghai`` reach it as
``http://127.0.0.2:P`` (a regional gateway name; their Host header differs). Claude
Code 2.1.91 writes its ``# currentDate`` reminder as ``2026/12/06`` in that zone
(docs/findings/claude-code-2.1.91.md), so ``drift`` must report exactly one covert
date-format variant of that line and attribute it to ``host=127.0.0.2`` (2 of 2 with
it, 0 of 4 without); the zone itself never reaches the gateway, and the host is what
the gateway can see that the Shanghai developers share here. The control: the same
kind of fleet with every developer in UTC (three of them, to save time) gives exit 0
and no covert finding.

Every Claude run takes ~10 s; the file runs nine of them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.helpers import promptwitness

pytestmark = pytest.mark.e2e

PORT = 18080  # a fresh namespace: nothing else listens there
PROMPTS = (
    "Say hi to the witness",
    "Greet the witness politely",
    "Please wave at the observer",
    "Offer a friendly hello",
    "Welcome our auditor warmly",
    "Salute everyone reading along",
)

DRIVER = r"""
import json, os, signal, socket, subprocess, sys, time

from promptwitness.probe.netns import enter_loopback_only, interfaces

cfg = json.loads(sys.argv[1])
enter_loopback_only()  # before any thread or child exists
assert interfaces() == ["lo"], interfaces()
port = cfg["port"]
log = open(cfg["serve_log"], "wb")
serve = subprocess.Popen(
    [sys.executable, "-m", "promptwitness", "serve", "--store", cfg["store"],
     "--listen", f"0.0.0.0:{port}", "--quiet"],
    stdin=subprocess.DEVNULL, stdout=log, stderr=log,
)
hosts = sorted({d["host"] for d in cfg["developers"]})
for host in hosts:
    for _ in range(300):
        try:
            socket.create_connection((host, port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        serve.kill()
        sys.exit(f"serve does not answer on {host}:{port}")
out = []
try:
    for dev in cfg["developers"]:
        env = {
            "PATH": cfg["path"],
            "HOME": dev["home"],
            "TERM": "dumb",
            "TZ": dev["tz"],
            "ANTHROPIC_BASE_URL": f"http://{dev['host']}:{port}",
            "ANTHROPIC_API_KEY": dev["key"],
            "NO_PROXY": "127.0.0.1,127.0.0.2,localhost",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
        }
        t0 = time.monotonic()
        r = subprocess.run(
            [cfg["claude"], "-p", dev["prompt"], "--output-format", "json"],
            cwd=dev["repo"], env=env, stdin=subprocess.DEVNULL,
            capture_output=True, timeout=180,
        )
        out.append({
            "rc": r.returncode,
            "stdout": r.stdout.decode("utf-8", "replace"),
            "stderr": r.stderr.decode("utf-8", "replace")[-2000:],
            "seconds": round(time.monotonic() - t0, 1),
        })
finally:
    serve.send_signal(signal.SIGTERM)
    rc = serve.wait(120)
print(json.dumps({"developers": out, "serve": rc}))
"""


def _developers(ws: dict[str, Path], fleet: list[tuple[str, str]]) -> list[dict[str, str]]:
    """One HOME, one clone of the workspace's repository, one prompt and one key each."""
    out = []
    for i, (tz, host) in enumerate(fleet):
        root = ws["store"].parent / f"dev{i}"
        home, repo = root / "home", root / "repo"
        home.mkdir(parents=True)
        subprocess.run(
            ["git", "clone", "-q", str(ws["repo"]), str(repo)],
            check=True,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)},
        )
        out.append(
            {
                "tz": tz,
                "host": host,
                "home": str(home),
                "repo": str(repo),
                "prompt": PROMPTS[i % len(PROMPTS)],
                "key": f"sk-ant-api03-drift-dev{i}-{i:02d}e2e0123456789abcdef",
            }
        )
    return out


def _run_fleet(
    claude: Path, ws: dict[str, Path], store: Path, fleet: list[tuple[str, str]]
) -> list[dict[str, object]]:
    cfg = {
        "port": PORT,
        "store": str(store),
        "serve_log": str(store.parent / f"{store.name}-serve.log"),
        "claude": str(claude),
        "path": f"{claude.parent}:/usr/local/bin:/usr/bin:/bin",
        "developers": _developers(ws, fleet),
    }
    run = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(cfg)],
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
            "HOME": str(ws["home"]),
        },
        capture_output=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    log = Path(str(cfg["serve_log"])).read_text(errors="replace")
    assert run.returncode == 0, (run.stderr.decode(errors="replace"), log)
    doc = json.loads(run.stdout)
    assert doc["serve"] == 0, log
    devs: list[dict[str, object]] = doc["developers"]
    for dev in devs:
        assert dev["rc"] == 0, dev
        assert json.loads(str(dev["stdout"]))["result"] == "Hello from promptwitness.", dev
    return devs


def _drift(store: Path, report: Path, ws: dict[str, Path]) -> tuple[int, dict[str, Any]]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "HOME": str(ws["home"]),
    }
    run = promptwitness("drift", "--store", str(store), "--json", str(report), env=env)
    assert run.returncode in (0, 1), run.stderr.decode(errors="replace")
    doc: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    return run.returncode, doc


def _exchanges(store: Path, ws: dict[str, Path]) -> list[dict[str, Any]]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(ws["home"])}
    env["PYTHONPATH"] = os.environ.get("PYTHONPATH", "")
    out = promptwitness("log", "--store", str(store), "--json", env=env)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    items: list[dict[str, Any]] = json.loads(out.stdout)
    return items


def test_drift_finds_the_shanghai_date_on_real_claude_code(
    claude_bin: Path, workspace: dict[str, Path]
) -> None:
    fleet = [("UTC", "127.0.0.1")] * 4 + [("Asia/Shanghai", "127.0.0.2")] * 2
    store = workspace["store"]
    _run_fleet(claude_bin, workspace, store, fleet)
    # what the gateway saw: one model call per developer (and the pre-connect HEAD /),
    # every client on loopback, the Host each reached it by
    calls = [x for x in _exchanges(store, workspace) if x["protocol"] == "anthropic"]
    assert len(calls) == 6
    assert {x["client"].rpartition(":")[0] for x in calls} == {"127.0.0.1"}
    assert sorted(x["host"] for x in calls) == [f"127.0.0.1:{PORT}"] * 4 + [f"127.0.0.2:{PORT}"] * 2

    code, doc = _drift(store, store.parent / "drift.json", workspace)
    assert code == 1 and doc["summary"]["exit_code"] == 1, doc["summary"]
    (group,) = doc["groups"]
    assert (group["agent"], group["version"]) == ("claude-cli", "2.1.91")
    assert group["exchanges"] == 6 and group["senders"] == 6  # a credential each
    assert group["template_units"] > 300  # system prompt, tool descriptions, reminders
    # exactly one finding: the currentDate line, the date written with '/'
    (v,) = doc["findings"]
    assert v["kinds"] == ["date-format"], v["changes"]
    assert v["path"].startswith("messages[0].content["), v["path"]
    assert re.fullmatch(r"Today's date is \d{4}-\d\d-\d\d\.\s*", v["template"]["text"])
    assert re.fullmatch(r"Today's date is \d{4}/\d\d/\d\d\.\s*", v["variant"]["text"])
    assert (v["variant"]["exchanges"], v["variant"]["senders"]) == (2, 2)
    assert (v["template"]["exchanges"], v["template"]["senders"]) == (4, 4)
    shanghai = {x["id"] for x in calls if x["host"].startswith("127.0.0.2:")}
    assert set(v["variant"]["evidence"]) == shanghai
    # attributed to the regional gateway name: 2 of 2 with it, 0 of 4 without; the
    # credentials separate the senders one by one only, and name no group
    explains = [s for s in v["separators"] if s["verdict"] == "explains"]
    assert [(s["dimension"], s["values"]) for s in explains] == [("host", ["127.0.0.2"])]
    assert (explains[0]["variant"], explains[0]["others"]) == ([2, 2], [0, 4])
    per_sender = {s["dimension"] for s in v["separators"] if s["verdict"] == "per-sender"}
    assert per_sender == {"credential"}
    # nothing else is covert: every other line (the reminders, the environment block
    # with each developer's own working directory, the session ids) has one form
    # everywhere once values are masked; whatever is set apart is values only
    assert all(x["status"] == "expected" for x in doc["set_apart"]), doc["set_apart"]


def test_drift_control_same_fleet_all_in_utc(claude_bin: Path, workspace: dict[str, Path]) -> None:
    """Both gateway names, every developer in UTC: the host alone changes nothing."""
    fleet = [("UTC", "127.0.0.1")] * 2 + [("UTC", "127.0.0.2")]
    store = workspace["store"]
    _run_fleet(claude_bin, workspace, store, fleet)
    code, doc = _drift(store, store.parent / "drift.json", workspace)
    assert code == 0 and doc["findings"] == [], doc["findings"]
    assert doc["summary"]["model_calls"] == 3 and doc["summary"]["groups"] == 1
    assert doc["groups"][0]["template_units"] > 300
    assert all(x["status"] == "expected" for x in doc["set_apart"]), doc["set_apart"]
