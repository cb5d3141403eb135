"""An app built on the Claude Agent SDK (npm ``@anthropic-ai/claude-agent-sdk``), recorded
and probed headless in loopback-only namespaces.

The SDK has no executable (its ``query()`` runs the Claude Code CLI it bundles,
``cli.js``, with the app's environment), so the agent registry cannot install it and
there is no profile: the fixture app ``tests/fixtures/agents/agent_sdk_app`` (its
``package.json`` pins the SDK) is installed into the agent cache by :func:`install_app`
and run as ``node index.mjs PROMPT`` under ``record --isolate`` and ``probe``.

What it shows: Claude Code 2.1.91 writes ``Today's date is ...`` with a look-alike
apostrophe when ``ANTHROPIC_BASE_URL`` names a host of its decoded host table, and with
slashes for ``Asia/Shanghai``. SDK releases bundle the CLI of the same patch number
(0.2.N -> 2.1.N); the code is absent from 0.2.90 and present from 0.2.91, and it reaches
an app that sets no option but ``maxTurns``.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.helpers import check_replicates, noon_today, promptwitness

from promptwitness.agents.cache import MARKER, cache_root, version_dir

pytestmark = pytest.mark.e2e

APP = Path(__file__).parents[1] / "fixtures" / "agents" / "agent_sdk_app"
PACKAGE = "@anthropic-ai/claude-agent-sdk"
NAME = "claude-agent-sdk"  # the agent cache's directory
VERSION: str = json.loads((APP / "package.json").read_text())["dependencies"][PACKAGE]
QUIET = ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "DISABLE_AUTOUPDATER=1")
PORT = 8080
HOSTS = "127.0.0.1,api.deepseek.com,api.sankuai.com"
# (SDK release, bundled CLI): what the probe finds, {(kind, factor, level)}
FOUND: dict[str, set[tuple[str, str, str]]] = {
    "0.2.90": set(),  # CLI 2.1.90: "Today's date is YYYY-MM-DD." for every host and zone
    "0.2.91": {
        # a host with a keyword of its table (deepseek): U+0027 -> U+02BC
        ("confusable", "endpoint-host", "api.deepseek.com"),
        # a host of its decoded host table (sankuai.com): U+0027 -> U+2019
        ("confusable", "endpoint-host", "api.sankuai.com"),
        # Asia/Shanghai (or Asia/Urumqi) with a non-Anthropic base URL: 2026/12/06
        ("date-format", "tz", "Asia/Shanghai"),
    },
}


def install_app(version: str = VERSION) -> Path:
    """The fixture app with the SDK at ``version``, installed once into the agent cache
    (``claude-agent-sdk/VERSION``: ``package.json``, ``index.mjs``, ``node_modules``),
    built in a temporary sibling and renamed into place like the registry's installs."""
    target = version_dir(NAME, version)
    script = (APP / "index.mjs").read_bytes()
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / MARKER).is_file():
            tmp = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=target.parent))
            try:
                manifest = json.loads((APP / "package.json").read_text())
                manifest["dependencies"][PACKAGE] = version
                (tmp / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
                subprocess.run(
                    ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(tmp)],
                    check=True,
                    capture_output=True,
                    timeout=900,
                    stdin=subprocess.DEVNULL,
                )
                (tmp / MARKER).write_text(
                    json.dumps({"registry": "npm", "package": PACKAGE, "version": version}) + "\n"
                )
                if target.exists():
                    shutil.rmtree(target)
                tmp.rename(target)
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
        if not (target / "index.mjs").is_file() or (target / "index.mjs").read_bytes() != script:
            (target / "index.mjs").write_bytes(script)
    return target


def _env(tmp: Path, home: Path, store: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "HOME": str(home),
        "TERM": "dumb",
        "PROMPTWITNESS_STORE": str(store),
        "PROMPTWITNESS_AGENT_CACHE": str(cache_root()),
        "TMPDIR": str(tmp),
    }


def test_claude_agent_sdk_record(workspace: dict[str, Path], tmp_path: Path) -> None:
    app = install_app()
    env = {
        **_env(tmp_path, workspace["home"], workspace["store"]),
        **dict(v.split("=", 1) for v in QUIET),
    }
    run = promptwitness(
        "record",
        "--isolate",
        "--port",
        str(PORT),
        "--",
        "node",
        str(app / "index.mjs"),
        "Say hi to the witness",
        env=env,
        cwd=workspace["repo"],
        timeout=600,
    )
    assert run.returncode == 0, run.stderr.decode()[-3000:]
    assert "Hello from promptwitness." in run.stdout.decode()
    log = promptwitness("log", "--json", env=env)
    calls = [x for x in json.loads(log.stdout) if x["protocol"] == "anthropic"]
    assert len(calls) == 1, json.loads(log.stdout)
    main = calls[0]
    assert main["method"] == "POST" and main["path"] == "/v1/messages"
    shown = promptwitness("show", str(main["id"]), "--json", env=env)
    prompt = json.loads(shown.stdout)["prompt"]
    system = "\n".join(p["text"] or "" for p in prompt["system"])
    messages = "\n".join(c["text"] or "" for m in prompt["messages"] for c in m["content"])
    assert "Say hi to the witness" in messages
    # the SDK's own system prompt, not Claude Code's; the CLI's context still comes along
    assert "built on Anthropic's Claude Agent SDK" in system
    assert "cc_version=2.1.91" in system and "cc_entrypoint=sdk-ts" in system
    assert "Today's date is " in messages
    assert {"Bash", "Read", "Edit", "Write", "Grep", "Glob", "Agent"} <= {
        t["name"] for t in prompt["tools"]
    }


def probe(version: str, tmp: Path) -> tuple[int, dict[str, Any]]:
    app = install_app(version)
    report = tmp / "report.json"
    home = tmp / "home"
    home.mkdir()
    run = promptwitness(
        "probe",
        "--factor",
        f"endpoint-host={HOSTS}",
        "--factor",
        "tz=UTC,Asia/Shanghai",
        "--no-pairwise",
        "--clock",
        noon_today(),  # Asia/Shanghai on UTC's date: no value change of the date
        "--expose",
        str(app),
        *(a for v in QUIET for a in ("--env", v)),
        "--timeout",
        "180",
        "--json",
        str(report),
        "--",
        "node",
        str(app / "index.mjs"),
        "Say hi",
        env=_env(tmp, home, tmp / "store"),
        timeout=1800,
    )
    err = run.stderr.decode("utf-8", "replace")
    assert run.returncode in (0, 1), err
    doc: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    assert doc["verdict"] == {0: "clean", 1: "conditioned"}[run.returncode]
    assert doc["summary"]["failed_runs"] == 0, [r for r in doc["runs"] if r["error"]]
    # control x3; endpoint-host (2 levels) and tz once each, twice where a change showed
    assert 6 <= len(doc["runs"]) <= 9
    check_replicates(doc)
    assert all(r["requests"] >= 1 and r["exit_code"] == 0 for r in doc["runs"]), doc["runs"]
    return run.returncode, doc


@pytest.mark.parametrize("version", sorted(FOUND))
def test_claude_agent_sdk_audit(version: str, tmp_path: Path) -> None:
    code, doc = probe(version, tmp_path)
    found = {(f["kind"], *next(iter(f["factors"].items()))) for f in doc["findings"]}
    assert found == FOUND[version], doc["findings"]
    assert code == (1 if FOUND[version] else 0)
    assert all(
        f["severity"] == "covert"
        and f["support"]["replicates"] == 2
        and f["control_support"]["replicates"] == 0
        for f in doc["findings"]
    )
    # only ids differ between identical runs
    assert {n["path"] for n in doc["noise"]} == {
        "metadata.user_id",
        "headers.x-claude-code-session-id",
    }, doc["noise"]
