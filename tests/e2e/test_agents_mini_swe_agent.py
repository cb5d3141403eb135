"""A real mini-swe-agent (PyPI ``mini-swe-agent``; litellm, ``OPENAI_BASE_URL``; one
model call), recorded and audited headless in loopback-only namespaces."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.e2e.agents_helpers import audit, installed, record

pytestmark = pytest.mark.e2e

VERSION = "2.4.6"


def test_mini_swe_agent_record(workspace: dict[str, Path]) -> None:
    inst = installed("mini-swe-agent", VERSION)
    rec = record("mini-swe-agent", inst, workspace, "Say hi to the witness")
    assert rec.returncode == 0, rec.stderr[-3000:]
    # the text answer is not a bash tool call: it prints the format error it would send
    # back, then stops at its one-call step limit
    assert "No tool calls found in the response" in rec.stdout
    assert "LimitsExceeded" in rec.stdout
    assert rec.main["method"] == "POST" and rec.main["path"] == "/v1/chat/completions"
    assert "Please solve this issue: Say hi to the witness" in rec.message_text
    assert "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT" in rec.message_text
    assert "You are a helpful assistant that can interact with a computer." in (
        rec.system_text + rec.message_text
    )
    assert rec.tools == {"bash"}, rec.tools


def test_mini_swe_agent_audit(tmp_path: Path) -> None:
    code, doc = audit("mini-swe-agent", VERSION, tmp_path)
    # at the pinned version neither the TZ variable nor the locale changes what it
    # sends, and identical runs are byte-identical
    assert code == 0 and doc["findings"] == [], doc["findings"]
    assert doc["summary"]["noise"] == 0
