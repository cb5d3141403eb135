"""A real Cline CLI (npm ``cline``; provider in ``~/.cline/data/settings/providers.json``,
what ``cline auth`` writes), recorded and audited headless in loopback-only namespaces."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.e2e.agents_helpers import audit, installed, record

pytestmark = pytest.mark.e2e

VERSION = "3.0.65"


def test_cline_record(workspace: dict[str, Path]) -> None:
    inst = installed("cline", VERSION)
    rec = record("cline", inst, workspace, "Say hi to the witness")
    assert rec.returncode == 0, rec.stderr[-3000:]
    assert "Hello from promptwitness." in rec.stdout
    assert rec.main["method"] == "POST" and rec.main["path"] == "/v1/chat/completions"
    assert "Say hi to the witness" in rec.message_text
    assert {
        "read_files",
        "search_codebase",
        "run_commands",
        "editor",
        "ask_question",
    } <= rec.tools, rec.tools
    assert "You are Cline" in rec.message_text


def test_cline_audit(tmp_path: Path) -> None:
    code, doc = audit("cline", VERSION, tmp_path)
    # at the pinned version neither the TZ variable nor the locale changes what it sends
    # (its "Date: M/D/YYYY" keeps its form under zh_CN.UTF-8), and identical runs send
    # identical bytes
    assert code == 0 and doc["findings"] == [], doc["findings"]
    assert doc["noise"] == [], doc["noise"]
