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
