"""A real Claude Code, installed from the npm registry, recorded headless in a
loopback-only network namespace through ``promptwitness record --isolate``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.e2e.helpers import promptwitness

pytestmark = pytest.mark.e2e

SECRET = "sk-ant-api03-e2e-user-secret-0123456789abcdef"


def _agent_env(ws: dict[str, Path], claude: Path, **extra: str) -> dict[str, str]:
    env = {
        "PATH": f"{claude.parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(ws["home"]),
        "TERM": "dumb",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "PROMPTWITNESS_STORE": str(ws["store"]),
    }
    env.update(extra)
    return env


def _all_store_bytes(store: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file())


def test_claude_code_headless_capture(claude_bin: Path, workspace: dict[str, Path]) -> None:
    env = _agent_env(workspace, claude_bin)
    run = promptwitness(
        "record",
        "--isolate",
        "--",
        "claude",
        "-p",
        "Say hi to the witness",
        "--output-format",
        "json",
        env=env,
        cwd=workspace["repo"],
    )
    assert run.returncode == 0, run.stderr.decode()
    result = json.loads(run.stdout)
    assert result["result"] == "Hello from promptwitness."
    assert b"request" in run.stderr and b"anthropic" in run.stderr

    log = promptwitness("log", "--json", env=env)
    assert log.returncode == 0, log.stderr.decode()
    items = json.loads(log.stdout)
    calls = [x for x in items if x["protocol"] == "anthropic"]
    assert calls, items
    main = max(calls, key=lambda x: x["request_size"])
    assert main["method"] == "POST" and main["path"] == "/v1/messages"
    assert main["status"] == 200 and main["host"].startswith("127.0.0.1:")

    shown = promptwitness("show", str(main["id"]), "--json", env=env)
    assert shown.returncode == 0, shown.stderr.decode()
    doc = json.loads(shown.stdout)
    prompt = doc["prompt"]
    tools = {t["name"] for t in prompt["tools"]}
    assert {"Bash", "Read", "Edit", "Write", "Grep", "Glob"} <= tools, tools
    system_text = "\n".join(p["text"] or "" for p in prompt["system"])
    assert "Claude" in system_text and len(system_text) > 2000
    user_texts = [p["text"] for p in prompt["messages"][0]["content"] if p["text"]]
    assert any("Say hi to the witness" in t for t in user_texts)
    assert any(
        "<system-reminder>" in t
        for m in prompt["messages"]
        for t in (p["text"] or "" for p in m["content"])
    )
    headers = dict(doc["request_headers"])
    assert headers["x-api-key"].startswith("pw-redacted:")

    har = workspace["store"].parent / "export.har"
    exported = promptwitness("export", "--har", str(har), env=env)
    assert exported.returncode == 0, exported.stderr.decode()
    assert json.loads(har.read_text())["log"]["entries"]
    # The dummy key `record` handed out has the marker "pwdummy": nowhere at rest.
    assert b"pwdummy" not in _all_store_bytes(workspace["store"])
    assert b"pwdummy" not in har.read_bytes()


def test_claude_code_user_key_never_at_rest(claude_bin: Path, workspace: dict[str, Path]) -> None:
    env = _agent_env(workspace, claude_bin, ANTHROPIC_API_KEY=SECRET)
    run = promptwitness(
        "record", "--isolate", "--", "claude", "-p", "Say hi", env=env, cwd=workspace["repo"]
    )
    assert run.returncode == 0, run.stderr.decode()
    assert b"Hello from promptwitness." in run.stdout
    har = workspace["store"].parent / "export.har"
    assert promptwitness("export", "--har", str(har), env=env).returncode == 0
    for blob in (_all_store_bytes(workspace["store"]), har.read_bytes()):
        assert SECRET.encode() not in blob
        assert SECRET[12:40].encode() not in blob
    items = json.loads(promptwitness("log", "--json", env=env).stdout)
    assert any(x["protocol"] == "anthropic" for x in items)
