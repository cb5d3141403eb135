"""A real opencode (npm ``opencode-ai``; provider in
``~/.config/opencode/opencode.json``), recorded and audited headless in loopback-
only namespaces."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.e2e.agents_helpers import audit, installed, record

pytestmark = pytest.mark.e2e

VERSION = "1.18.33"


def test_opencode_record(workspace: dict[str, Path]) -> None:
    inst = installed("opencode", VERSION)
    rec = record("opencode", inst, workspace, "Say hi to the witness")
    assert rec.returncode == 0, rec.stderr[-3000:]
    assert "Hello from promptwitness." in rec.stdout
    assert rec.main["method"] == "POST" and rec.main["path"] == "/v1/chat/completions"
    assert "Say hi to the witness" in rec.message_text
    assert {"bash", "edit", "read", "write", "grep"} <= rec.tools, rec.tools
    assert "You are opencode" in rec.message_text


def test_opencode_audit(tmp_path: Path) -> None:
    code, doc = audit("opencode", VERSION, tmp_path)
    # its session ids travel in headers and differ on every run: measured as noise
    assert any(n["path"] == "headers.x-session-id" for n in doc["noise"]), doc["noise"]
