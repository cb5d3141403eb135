"""``promptwitness history`` over three real Claude Code releases (small Node builds,
installed once into the agent cache), with the screening audit: the changelog, the
noise kept out of it, and the findings of 2.1.91."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.e2e.helpers import promptwitness

from promptwitness.agents.cache import cache_root, ensure_npm

pytestmark = pytest.mark.e2e

VERSIONS = ("2.1.0", "2.1.50", "2.1.91")  # March to April 2026, all ~58 MB Node builds


@pytest.fixture(scope="module")
def installed() -> Path:
    for v in VERSIONS:
        ensure_npm("claude-code", "@anthropic-ai/claude-code", v, bin_name="claude")
    return cache_root()


def test_history_claude_code(installed: Path, tmp_path: Path) -> None:
    report = tmp_path / "history.json"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "PROMPTWITNESS_STORE": str(tmp_path / "store"),
        "PROMPTWITNESS_AGENT_CACHE": str(installed),
        "HOME": str(tmp_path),
    }
    run = promptwitness(
        "history",
        "claude-code",
        ",".join(VERSIONS),
        "--audit",
        "--json",
        str(report),
        env=env,
        timeout=900,
    )
    out, err = run.stdout.decode(), run.stderr.decode()
    assert run.returncode == 0, err
    doc = json.loads(report.read_text(encoding="utf-8"))
    assert doc["schema"] == "promptwitness/history/v1"
    versions = {v["version"]: v for v in doc["versions"]}
    assert list(versions) == list(VERSIONS)
    for v in versions.values():
        assert v["error"] is None and v["runs"] >= 2
        assert v["sizes"]["request_bytes"] > 30_000 and v["sizes"]["tool_count"] >= 10
        assert v["published"].startswith("2026-")
        # the session id differs between identical runs: measured as noise
        assert any(n["path"] == "metadata.user_id" for n in v["noise"]), v["noise"]
    # noise never reads as a change: no noisy value appears in any change
    noisy = {
        ex for v in versions.values() for n in v["noise"] for ex in n["examples"] if len(ex) >= 8
    }
    for step in doc["steps"]:
        for c in step["changes"]:
            for side in (c["before"] or "", c["after"] or ""):
                assert not any(ex in side for ex in noisy), (c["path"], side[:200])
    steps = {(s["from"], s["to"]): s for s in doc["steps"]}
    assert set(steps) == {("2.1.0", "2.1.50"), ("2.1.50", "2.1.91")}
    # the user-agent carries the version: a version-number-only change
    for s in steps.values():
        ua = [c for c in s["changes"] if c["path"] == "headers.user-agent"]
        assert ua and all(c["version_only"] for c in ua), ua
    # tools come and go by name between these releases
    assert sum(len(s["tools_added"]) + len(s["tools_removed"]) for s in steps.values()) > 0
    # 2.1.91 encodes the endpoint host and the Shanghai zone (probe README)
    audit = versions["2.1.91"]["audit"]
    assert audit["verdict"] == "conditioned"
    found = {(next(iter(f["factors"].items())), f["kind"]) for f in audit["findings"]}
    assert (("endpoint-host", "api.deepseek.com"), "confusable") in found, found
    assert (("tz", "Asia/Shanghai"), "date-format") in found, found
    assert "2.1.50 → 2.1.91" in out and "audit findings" in out
