"""A real Grok CLI (npm ``@vibe-kit/grok-cli``; endpoint in ``GROK_BASE_URL`` and
``~/.grok/user-settings.json``), recorded and audited headless in loopback-only
namespaces."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.e2e.agents_helpers import audit, installed, record

pytestmark = pytest.mark.e2e

VERSION = "0.0.34"


def test_grok_cli_record(workspace: dict[str, Path]) -> None:
    inst = installed("grok-cli", VERSION)
    rec = record("grok-cli", inst, workspace, "Say hi to the witness")
    assert rec.returncode == 0, rec.stderr[-3000:]
    assert "Hello from promptwitness." in rec.stdout  # printed as a JSON message line
    assert rec.main["method"] == "POST" and rec.main["path"] == "/v1/chat/completions"
    assert "Say hi to the witness" in rec.message_text
    assert "You are Grok CLI" in rec.message_text + rec.system_text
    assert {
        "view_file",
        "create_file",
        "str_replace_editor",
        "bash",
        "search",
        "create_todo_list",
        "update_todo_list",
    } <= rec.tools, rec.tools


def test_grok_cli_audit(tmp_path: Path) -> None:
    code, doc = audit("grok-cli", VERSION, tmp_path)
    # at the pinned version neither the TZ variable nor the locale changes what it
    # sends (its system message carries no date), and identical runs are byte-identical
    assert code == 0 and doc["findings"] == [], doc["findings"]
    assert doc["summary"]["noise"] == 0
