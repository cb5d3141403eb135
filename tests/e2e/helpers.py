"""Run the promptwitness CLI as a user would, in a subprocess."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path


def promptwitness(
    *args: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "promptwitness", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def noon_today() -> str:
    """``--clock`` for an e2e probe over UTC and Asia/Shanghai: noon UTC of today's date.
    The default pinned clock is the probe's start time, and after 16:00 UTC Shanghai is
    on the next date, so an agent that writes the date into its prompt shows a value
    change (expected, but a finding) under Asia/Shanghai, and a test that expects no
    findings fails in the evening. At noon UTC both zones share the date."""
    return f"{dt.datetime.now(dt.UTC):%Y-%m-%d}T12:00:00Z"


def check_replicates(doc: dict[str, object], replicates: int = 2) -> None:
    """The probe's sequential replicates in a JSON report: the control ran at least 3
    times; a cell that holds a finding ran its ``replicates``; a level's cell alone that
    the covering rows cleared (screening) did not run; every other cell ran once, or
    ``replicates`` times when its first run showed a change that the next did not."""
    findings = doc["findings"]
    cells = doc["design"]["cells"]  # type: ignore[index]
    shown = {c for f in findings for c in f["cells"]}  # type: ignore[attr-defined,union-attr]
    for cell in cells:  # type: ignore[attr-defined,union-attr]
        if cell["purpose"] == "control":
            assert cell["runs"] >= 3, cell
        elif cell["id"] in shown and cell["purpose"] != "covering":
            assert cell["runs"] == replicates, cell
        elif cell["runs"] == 0:
            assert doc["design"]["screen"] and doc["design"]["pairwise"], cell  # type: ignore[index]
            assert cell["purpose"] == "one-at-a-time", cell
            assert cell["reason"].startswith("Not run alone: the covering rows"), cell
        else:
            assert cell["runs"] in (1, replicates), cell
    assert doc["design"]["sequential"] is True  # type: ignore[index]
