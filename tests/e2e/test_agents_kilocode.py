"""A real Kilo Code CLI (npm ``@kilocode/cli``, ``kilo run``; provider in
``~/.config/kilo/kilo.json``), recorded and audited headless in loopback-only
namespaces."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.e2e.agents_helpers import audit, installed, record

pytestmark = pytest.mark.e2e

VERSION = "7.7.7"


def test_kilocode_record(workspace: dict[str, Path]) -> None:
    inst = installed("kilocode", VERSION)
    rec = record("kilocode", inst, workspace, "Say hi to the witness")
    assert rec.returncode == 0, rec.stderr[-3000:]
    assert "Hello from promptwitness." in rec.stdout
    assert rec.main["method"] == "POST" and rec.main["path"] == "/v1/chat/completions"
    assert "Say hi to the witness" in rec.message_text
    assert {"bash", "edit", "read", "write", "grep", "glob", "task", "webfetch"} <= rec.tools
    assert "You are Kilo" in rec.message_text
    assert "<environment_details>" in rec.message_text


def test_kilocode_audit(tmp_path: Path) -> None:
    # the pinned clock (the default): Bun's condition variables wait on real-time
    # deadlines, which the clock shim shifts back (before it did, every wait timed out
    # at once and a run took 1-4 minutes of spinning instead of ~12 s)
    code, doc = audit("kilocode", VERSION, tmp_path)
    assert code == 0 and all(f["kind"] == "value" for f in doc["findings"]), doc["findings"]
    # the session id in two headers and the "Message time" stamp (to the second) differ
    # on every run: measured as noise, never attributed
    paths = {n["path"] for n in doc["noise"]}
    assert {"headers.x-session-id", "headers.x-session-affinity"} <= paths, paths
