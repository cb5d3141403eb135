"""A real Kimi CLI (PyPI ``kimi-cli`` in a Python 3.13 virtual environment; endpoint in
``KIMI_BASE_URL``), recorded and audited headless in loopback-only namespaces."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.e2e.agents_helpers import audit, installed, record

from promptwitness.agents.cache import is_cached
from promptwitness.agents.profiles import get_profile
from promptwitness.agents.registry import python_for

pytestmark = pytest.mark.e2e

VERSION = "1.51.0"


@pytest.fixture(autouse=True)
def _python() -> None:
    """kimi-cli 1.51.0 needs Python 3.12 or later: this machine's pyenv 3.13 (asserted,
    never skipped: a machine without it fails here with the message saying what to
    install)."""
    if not is_cached("kimi-cli", VERSION):
        assert python_for(get_profile("kimi-cli")) is not None


def test_kimi_cli_record(workspace: dict[str, Path]) -> None:
    inst = installed("kimi-cli", VERSION)
    rec = record("kimi-cli", inst, workspace, "Say hi to the witness")
    assert rec.returncode == 0, rec.stderr[-3000:]
    assert "Hello from promptwitness." in rec.stdout
    assert rec.main["method"] == "POST" and rec.main["path"] == "/v1/chat/completions"
    assert "Say hi to the witness" in rec.message_text
    text = rec.system_text + rec.message_text
    assert "You are Kimi Code CLI" in text
    assert re.search(r"The current date and time in ISO format is `\d{4}-\d\d-\d\dT", text)
    assert {
        "Shell",
        "ReadFile",
        "WriteFile",
        "StrReplaceFile",
        "Glob",
        "Grep",
        "FetchURL",
        "SetTodoList",
        "Agent",
    } <= rec.tools, rec.tools
    headers = {k.lower(): v for k, v in rec.doc["request_headers"]}
    assert headers["user-agent"] == f"KimiCLI/{VERSION}"
    assert headers["x-stainless-runtime-version"].startswith("3.13.")


def test_kimi_cli_audit(tmp_path: Path) -> None:
    code, doc = audit("kimi-cli", VERSION, tmp_path)
    # nothing is attributed: the ISO timestamp in the system message (its UTC offset
    # follows TZ) differs in every run (microseconds), so its path is noise, with the
    # session id (prompt_cache_key) and the device id header (random per HOME)
    assert code == 0 and doc["findings"] == [], doc["findings"]
    assert {n["path"] for n in doc["noise"]} == {
        "params.prompt_cache_key",
        "messages[0].content[0].text",
        "headers.x-msh-device-id",
    }
