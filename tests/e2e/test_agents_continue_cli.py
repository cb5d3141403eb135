"""A real Continue CLI (npm ``@continuedev/cli``, ``cn -p``; model in
``~/.continue/config.yaml``), recorded and audited headless in loopback-only
namespaces."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.e2e.agents_helpers import audit, installed, record

pytestmark = pytest.mark.e2e

VERSION = "1.5.47"


def test_continue_cli_record(workspace: dict[str, Path]) -> None:
    inst = installed("continue-cli", VERSION)
    rec = record("continue-cli", inst, workspace, "Say hi to the witness")
    assert rec.returncode == 0, rec.stderr[-3000:]
    assert "Hello from promptwitness." in rec.stdout
    assert rec.main["method"] == "POST" and rec.main["path"] == "/v1/chat/completions"
    assert "Say hi to the witness" in rec.message_text
    assert {"Read", "List", "Bash", "Fetch", "Checklist"} <= rec.tools, rec.tools
    # the system text is a role "system" message: the CLI, headless, with the git status
    assert "You are an agent in the Continue CLI" in rec.message_text
    assert "You are running in headless mode" in rec.message_text
    assert "Is directory a git repo: true" in rec.message_text


def test_continue_cli_audit(tmp_path: Path) -> None:
    code, doc = audit("continue-cli", VERSION, tmp_path)
    # at the pinned version neither the TZ variable nor the locale changes what it sends,
    # and identical runs send identical bytes (a date may follow the zone: expected)
    assert code == 0 and all(f["kind"] == "value" for f in doc["findings"]), doc["findings"]
    assert doc["noise"] == [], doc["noise"]
