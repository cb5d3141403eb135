"""A real OpenHands CLI (PyPI ``openhands`` in a Python 3.12 virtual environment;
endpoint in ``LLM_BASE_URL`` with ``--override-with-envs``), recorded and audited
headless in loopback-only namespaces."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.e2e.agents_helpers import audit, installed, record

from promptwitness.agents.cache import is_cached
from promptwitness.agents.profiles import get_profile
from promptwitness.agents.registry import python_for

pytestmark = pytest.mark.e2e

VERSION = "1.16.0"


@pytest.fixture(autouse=True)
def _python() -> None:
    """openhands 1.16.0 needs Python 3.12: this machine's pyenv 3.12 (asserted, never
    skipped: a machine without it fails here with the message saying what to install)."""
    if not is_cached("openhands", VERSION):
        assert python_for(get_profile("openhands")) is not None


def test_openhands_record(workspace: dict[str, Path]) -> None:
    inst = installed("openhands", VERSION)
    rec = record("openhands", inst, workspace, "Say hi to the witness")
    assert rec.returncode == 0, rec.stderr[-3000:]
    assert "Hello from promptwitness." in rec.stdout
    assert rec.main["method"] == "POST" and rec.main["path"] == "/v1/chat/completions"
    assert rec.main["host"] == "127.0.0.1:8080"
    assert "Say hi to the witness" in rec.message_text
    text = rec.system_text + rec.message_text
    assert "You are OpenHands agent" in text
    assert re.search(r"The current date and time is: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", text)
    assert f"Your current working directory is: {workspace['repo']}" in text
    assert rec.tools == {"terminal", "file_editor", "task_tracker", "task", "finish", "think"}
    headers = {k.lower(): v for k, v in rec.doc["request_headers"]}
    assert headers["user-agent"].startswith("OpenAI/Python ")
    assert headers["x-stainless-runtime-version"].startswith("3.12.")
    # its settings came from the environment: none were saved
    assert not (workspace["home"] / ".openhands" / "agent_settings.json").exists()


def test_openhands_audit(tmp_path: Path) -> None:
    code, doc = audit("openhands", VERSION, tmp_path)
    # nothing is attributed: the local time in the system message's second part (to the
    # microsecond, no UTC offset; under Asia/Shanghai eight hours later) differs in
    # every run, so its path is noise, with the conversation id (prompt_cache_key)
    assert code == 0 and doc["findings"] == [], doc["findings"]
    assert {n["path"] for n in doc["noise"]} == {
        "params.prompt_cache_key",
        "messages[0].content[1].text",
    }
