"""Run the promptwitness CLI as a user would, in a subprocess."""

from __future__ import annotations

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


def check_replicates(doc: dict[str, object], replicates: int = 2) -> None:
    """The probe's sequential replicates in a JSON report: the control ran at least 3
    times; a cell that holds a finding ran its ``replicates``; every other cell ran once,
    or ``replicates`` times when its first run showed a change that the next did not."""
    findings = doc["findings"]
    cells = doc["design"]["cells"]  # type: ignore[index]
    shown = {c for f in findings for c in f["cells"]}  # type: ignore[attr-defined,union-attr]
    for cell in cells:  # type: ignore[attr-defined,union-attr]
        if cell["purpose"] == "control":
            assert cell["runs"] >= 3, cell
        elif cell["id"] in shown and cell["purpose"] != "covering":
            assert cell["runs"] == replicates, cell
        else:
            assert cell["runs"] in (1, replicates), cell
    assert doc["design"]["sequential"] is True  # type: ignore[index]
