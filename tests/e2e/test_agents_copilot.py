"""A real GitHub Copilot CLI (npm ``@github/copilot``), account-bound: recorded and
audited as installed, hermetic (its vendor's hosts answered in a loopback-only sandbox
with the profile's canned Copilot user and model catalog)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.e2e.agents_helpers import audit, installed, record

pytestmark = pytest.mark.e2e

VERSION = "1.0.102"


def test_copilot_record(workspace: dict[str, Path]) -> None:
    inst = installed("copilot", VERSION)
    rec = record("copilot", inst, workspace, "Say hi to the witness", hermetic=True)
    assert rec.returncode == 0, rec.stderr[-3000:]
    assert "Hello from promptwitness." in rec.stdout
    # the model of the canned catalog, called with Anthropic Messages on its own host
    assert rec.main["method"] == "POST" and rec.main["path"] == "/v1/messages"
    assert rec.main["host"] == "api.githubcopilot.com"
    assert rec.doc["prompt"]["model"] == "claude-haiku-4.5"
    assert "Say hi to the witness" in rec.message_text
    assert "<current_datetime>" in rec.message_text
    assert "GitHub Copilot CLI" in rec.system_text and len(rec.system_text) > 10000
    assert {"bash", "view", "create", "edit", "grep", "glob", "task"} <= rec.tools, rec.tools


def test_copilot_audit(tmp_path: Path) -> None:
    code, doc = audit("copilot", VERSION, tmp_path, "--hermetic")
    # its date (<current_datetime>, UTC) and everything else it sends are the same under
    # both zones and both locales; ids and timestamps are noise
    assert code == 0 and doc["findings"] == [], doc["findings"]
    hermetic = doc["hermetic"]
    assert hermetic["ca_trust"] == "system-bundle"  # its Rust client reads the bundle
    assert hermetic["undeclared_hosts"] == []
    assert {a["path"]: a["runs"] for a in hermetic["canned_answers"]} == {
        "/copilot_internal/user": len(doc["runs"]),
        "/models": len(doc["runs"]),
        "/repos/github/copilot-cli/releases": len(doc["runs"]),
    }
