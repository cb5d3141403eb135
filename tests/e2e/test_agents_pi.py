"""A real pi coding agent (npm ``@mariozechner/pi-coding-agent``; provider in
``~/.pi/agent/models.json``), recorded and audited headless in loopback-only
namespaces."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.e2e.agents_helpers import audit, installed, record

pytestmark = pytest.mark.e2e

VERSION = "0.73.1"


def test_pi_record(workspace: dict[str, Path]) -> None:
    inst = installed("pi", VERSION)
    rec = record("pi", inst, workspace, "Say hi to the witness")
    assert rec.returncode == 0, rec.stderr[-3000:]
    assert "Hello from promptwitness." in rec.stdout
    assert rec.main["method"] == "POST" and rec.main["path"] == "/v1/chat/completions"
    assert "Say hi to the witness" in rec.message_text
    assert {"read", "bash", "edit", "write"} <= rec.tools, rec.tools
    assert "inside pi" in rec.message_text


def test_pi_audit(tmp_path: Path) -> None:
    code, doc = audit("pi", VERSION, tmp_path)
    # at the pinned version neither the TZ variable nor the locale changes the form or
    # content of what it sends (a date may follow the zone: an expected value change)
    assert code == 0 and all(f["kind"] == "value" for f in doc["findings"]), doc["findings"]
