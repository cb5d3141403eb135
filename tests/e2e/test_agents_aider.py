"""A real aider (PyPI ``aider-chat``, in its own virtual environment), recorded and
audited headless in loopback-only namespaces."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.e2e.agents_helpers import audit, installed, record

pytestmark = pytest.mark.e2e

VERSION = "0.86.2"


def test_aider_record(workspace: dict[str, Path]) -> None:
    inst = installed("aider", VERSION)
    rec = record("aider", inst, workspace, "Say hi to the witness")
    assert rec.returncode == 0, rec.stderr[-3000:]
    assert "Hello from promptwitness." in rec.stdout
    assert rec.main["method"] == "POST" and rec.main["path"] == "/v1/chat/completions"
    assert "Say hi to the witness" in rec.message_text
    assert rec.tools == set()  # aider sends no tool definitions
    assert "expert software developer" in rec.message_text
    assert "/venv/bin/aider" in str(inst.binary)


def test_aider_audit(tmp_path: Path) -> None:
    code, doc = audit("aider", VERSION, tmp_path)
    # aider asks for replies in the language of the locale: an overt content finding
    zh = [f for f in doc["findings"] if f["factors"] == {"locale": "zh_CN.UTF-8"}]
    assert code == 1 and any(
        f["kind"] == "content" and "Chinese" in (f["observed"] or "") for f in zh
    ), doc["findings"]
