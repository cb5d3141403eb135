"""A real Qwen Code (npm ``@qwen-code/qwen-code``), run by a Node.js 22 fetched into
the cache, recorded and audited headless in loopback-only namespaces."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.e2e.agents_helpers import audit, installed, record

pytestmark = pytest.mark.e2e

VERSION = "0.24.4"


def test_qwen_code_record(workspace: dict[str, Path]) -> None:
    inst = installed("qwen-code", VERSION)
    rec = record("qwen-code", inst, workspace, "Say hi to the witness")
    assert rec.returncode == 0, rec.stderr[-3000:]
    assert "Hello from promptwitness." in rec.stdout
    assert rec.main["method"] == "POST" and rec.main["path"] == "/v1/chat/completions"
    assert "Say hi to the witness" in rec.message_text
    assert {"read_file", "glob", "grep_search"} <= rec.tools, rec.tools
    assert "You are Qwen Code" in rec.message_text and len(rec.message_text) > 5000
    if inst.path_prefix:  # this machine's node is older than 22: the cached one runs it
        assert "/node/22." in inst.path_prefix[0]


def test_qwen_code_audit(tmp_path: Path) -> None:
    code, doc = audit("qwen-code", VERSION, tmp_path)
    # at the pinned version neither the TZ variable nor the locale changes the form or
    # content of what it sends (a date may follow the zone: an expected value change)
    assert code == 0 and all(f["kind"] == "value" for f in doc["findings"]), doc["findings"]
