"""A real Auggie, Augment Code's CLI (npm ``@augmentcode/auggie``), account-bound:
recorded and audited as installed, hermetic (its tenant host answered in a
loopback-only sandbox). Its model turn is Augment's own ``POST /chat-stream`` (the
system prompt is added by Augment's servers), stored raw: no adapter parses it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.e2e.agents_helpers import audit, installed, record

pytestmark = pytest.mark.e2e

VERSION = "0.36.0"


def test_auggie_record(workspace: dict[str, Path]) -> None:
    inst = installed("auggie", VERSION)
    rec = record(
        "auggie", inst, workspace, "Say hi to the witness", hermetic=True, model_path="/chat-stream"
    )
    assert rec.returncode == 0, rec.stderr[-3000:]
    assert "Hello from promptwitness." in rec.stdout
    assert rec.main["method"] == "POST" and rec.main["host"] == "d1.api.augmentcode.com"
    assert rec.main["protocol"] is None and rec.doc["prompt"] is None  # stored raw
    body = json.loads(rec.body)
    texts = [n["text_node"]["content"] for n in body["nodes"] if n.get("text_node")]
    assert texts == ["Say hi to the witness"]
    assert body["mode"] == "CLI_NONINTERACTIVE"
    tools = {t["name"] for t in body["tool_definitions"]}
    assert {"launch-process", "view", "save-file", "str-replace-editor"} <= tools, tools


def test_auggie_audit(tmp_path: Path) -> None:
    code, doc = audit("auggie", VERSION, tmp_path, "--hermetic")
    # the client sends no date, zone or locale of its own: nothing differs but ids (the
    # request and session ids, and the conversation and turn ids in the chat-stream body)
    assert code == 0 and doc["findings"] == [], doc["findings"]
    hermetic = doc["hermetic"]
    assert hermetic["ca_trust"] == "variable NODE_EXTRA_CA_CERTS"  # Node: its own roots
    assert hermetic["undeclared_hosts"] == []
    assert {a["path"]: a["runs"] for a in hermetic["canned_answers"]} == {
        "/get-models": len(doc["runs"]),
        "/agents/list-remote-tools": len(doc["runs"]),
        "/chat-stream": len(doc["runs"]),
    }
