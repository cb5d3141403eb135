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


def test_claude_code_through_the_pass_through(claude_bin: Path, workspace: dict[str, Path]) -> None:
    """Claude Code -> ``record --upstream`` (pass-through, ``capture.upstream``) -> a
    second promptwitness in sink mode standing in for the provider, both inside the
    loopback-only namespace. What the agent sent reaches the provider byte for byte,
    what the provider answered reaches the agent, and both stores agree."""
    import sys

    provider_store = workspace["store"].parent / "provider-store"
    port = 18080  # a fresh namespace: nothing else listens there
    script = workspace["store"].parent / "run-agent.sh"
    py = sys.executable
    script.write_text(
        "#!/bin/sh\n"
        f"{py} -m promptwitness serve --listen 127.0.0.1:{port} --store {provider_store} "
        "--quiet &\n"
        "SRV=$!\n"
        "for i in $(seq 200); do\n"
        f"  {py} -c \"import socket; socket.create_connection(('127.0.0.1', {port}), 0.2)\" "
        "2>/dev/null && break\n"
        "  sleep 0.1\n"
        "done\n"
        'claude -p "Say hi to the witness" --output-format json\n'
        "RC=$?\n"
        "kill -TERM $SRV; wait $SRV\n"
        "exit $RC\n"
    )
    script.chmod(0o755)
    env = _agent_env(workspace, claude_bin, ANTHROPIC_API_KEY=SECRET)
    run = promptwitness(
        "record", "--isolate", "--upstream", f"http://127.0.0.1:{port}", "--",
        str(script), env=env, cwd=workspace["repo"],
    )  # fmt: skip
    assert run.returncode == 0, run.stderr.decode()
    assert json.loads(run.stdout)["result"] == "Hello from promptwitness."
    assert b"pass-through" in run.stderr

    def exchanges(store: Path) -> list[dict[str, object]]:
        out = promptwitness("log", "--json", env={**env, "PROMPTWITNESS_STORE": str(store)})
        assert out.returncode == 0, out.stderr.decode()
        return [x for x in json.loads(out.stdout) if x["protocol"] == "anthropic"]

    def shown(store: Path, ex_id: object) -> dict[str, object]:
        doc = promptwitness(
            "show", str(ex_id), "--json", env={**env, "PROMPTWITNESS_STORE": str(store)}
        )
        assert doc.returncode == 0, doc.stderr.decode()
        return dict(json.loads(doc.stdout))

    def raw(store: Path, ex_id: object, what: str) -> bytes:
        out = promptwitness(
            "show", str(ex_id), what, env={**env, "PROMPTWITNESS_STORE": str(store)}
        )
        assert out.returncode == 0, out.stderr.decode()
        return out.stdout

    ours, theirs = exchanges(workspace["store"]), exchanges(provider_store)
    assert ours and len(ours) == len(theirs), (ours, theirs)
    sizes: list[int] = []
    for mine, provider in zip(
        sorted(ours, key=lambda x: str(x["time"])),
        sorted(theirs, key=lambda x: str(x["time"])),
        strict=True,
    ):
        assert mine["status"] == provider["status"] == 200
        assert mine["path"] == provider["path"]
        a, b = shown(workspace["store"], mine["id"]), shown(provider_store, provider["id"])
        xa, xb = a["exchange"], b["exchange"]
        assert xa["mode"] == "pass-through" and xb["mode"] == "sink"  # type: ignore[index]
        assert xa["upstream"] == f"http://127.0.0.1:{port}"  # type: ignore[index]
        # the provider got the agent's headers in order and case, Host rewritten, and
        # the request body byte for byte; the agent got the provider's answer
        names_a = [k for k, _v in a["request_headers"] if k.lower() != "host"]  # type: ignore[union-attr]
        names_b = [k for k, _v in b["request_headers"] if k.lower() != "host"]  # type: ignore[union-attr]
        hop = {"connection", "keep-alive", "te", "transfer-encoding", "upgrade", "expect"}
        assert [k for k in names_a if k.lower() not in hop] == names_b
        hosts = [v for k, v in b["request_headers"] if k.lower() == "host"]  # type: ignore[union-attr]
        assert hosts == [f"127.0.0.1:{port}"]
        pa, pb = dict(a["prompt"]), dict(b["prompt"])  # type: ignore[call-overload]
        ha, hb = pa.pop("headers"), pb.pop("headers")
        assert pa == pb  # system, tools, messages, parameters, metadata: all the same
        # the selected headers too, but the key's redaction marker (each store's salt)
        assert {k: v for k, v in ha.items() if "redacted" not in v} == {
            k: v for k, v in hb.items() if "redacted" not in v
        }
        # bodies byte for byte (the heads differ only where they must: Host, and each
        # store's own redaction fingerprint of the key)
        body_a = raw(workspace["store"], mine["id"], "--raw").split(b"\r\n\r\n", 1)[1]
        body_b = raw(provider_store, provider["id"], "--raw").split(b"\r\n\r\n", 1)[1]
        assert body_a == body_b
        sizes.append(len(body_a))
        answer = raw(provider_store, provider["id"], "--raw-response")
        assert answer and raw(workspace["store"], mine["id"], "--raw-response") == answer
    assert max(sizes) > 10_000  # the main call: system prompt and tools
    # the user's key: forwarded to the provider (it needs it), at rest in neither store
    for store in (workspace["store"], provider_store):
        assert SECRET.encode() not in _all_store_bytes(store)
