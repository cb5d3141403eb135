"""A real OpenAI Codex CLI (npm, Rust binary), recorded and audited headless in
loopback-only namespaces. Its endpoint comes from ``~/.codex/config.toml`` (the
profile's home file); it speaks the Responses API."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.e2e.agents_helpers import audit, installed, record

pytestmark = pytest.mark.e2e

VERSION = "0.169.0"


def test_codex_record(workspace: dict[str, Path]) -> None:
    inst = installed("codex", VERSION)
    rec = record("codex", inst, workspace, "Say hi to the witness")
    assert rec.returncode == 0, rec.stderr[-3000:]
    assert "Hello from promptwitness." in rec.stdout
    assert rec.main["method"] == "POST" and rec.main["path"] == "/v1/responses"
    assert rec.main["status"] == 200
    assert {"exec_command"} <= rec.tools, rec.tools
    # Codex puts its instructions in developer messages, the environment in a user one
    assert "Codex CLI" in rec.message_text and len(rec.message_text) > 2000
    assert "<environment_context>" in rec.message_text
    assert "Say hi to the witness" in rec.message_text
    headers = dict(rec.doc["request_headers"])
    assert headers["authorization"].startswith("Bearer pw-redacted:")


def test_codex_audit(tmp_path: Path) -> None:
    code, doc = audit("codex", VERSION, tmp_path)
    # ids that change on every run (session, window, request, message ids) are noise
    assert any(n["path"].startswith("headers.") for n in doc["noise"]), doc["noise"]
