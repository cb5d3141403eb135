"""A real Gemini CLI (npm), recorded and audited headless in loopback-only namespaces.
It first asks its model router (JSON mode) which model to use, then streams."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.e2e.agents_helpers import audit, installed, record

pytestmark = pytest.mark.e2e

VERSION = "0.61.0"


def test_gemini_cli_record(workspace: dict[str, Path]) -> None:
    inst = installed("gemini-cli", VERSION)
    rec = record("gemini-cli", inst, workspace, "Say hi to the witness")
    assert rec.returncode == 0, rec.stderr[-3000:]
    assert "Hello from promptwitness." in rec.stdout
    assert rec.main["method"] == "POST"
    assert rec.main["path"].endswith(":streamGenerateContent")
    assert {"read_file", "list_directory"} <= rec.tools, rec.tools
    assert "Gemini CLI" in rec.system_text and len(rec.system_text) > 5000
    assert "Say hi to the witness" in rec.message_text
    assert "Today's date is" in rec.message_text


def test_gemini_cli_audit(tmp_path: Path) -> None:
    code, doc = audit("gemini-cli", VERSION, tmp_path)
    # "Today's date is ..." is formatted in the locale: a date-format finding under
    # zh_CN, in the router's request and in the main one
    locale = [f for f in doc["findings"] if f["factors"] == {"locale": "zh_CN.UTF-8"}]
    assert code == 1 and any(f["kind"] == "date-format" for f in locale), doc["findings"]
