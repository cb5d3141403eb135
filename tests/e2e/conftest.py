"""End-to-end fixtures: real agents from the npm registry, cached per version."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from promptwitness.agents.cache import ensure_npm

CLAUDE_CODE_VERSION = "2.1.91"  # the last Node build (cli.js): small and quick to install


@pytest.fixture(scope="session")
def claude_bin() -> Path:
    return ensure_npm(
        "claude-code", "@anthropic-ai/claude-code", CLAUDE_CODE_VERSION, bin_name="claude"
    )


@pytest.fixture
def workspace(tmp_path: Path) -> dict[str, Path]:
    """A fresh HOME and a git repository with a fixed commit, as an agent's working dir."""
    home = tmp_path / "home"
    repo = tmp_path / "repo"
    home.mkdir()
    repo.mkdir()
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
        "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
    }
    (repo / "README.md").write_text("# demo\n")
    for cmd in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "-c", "user.name=pw", "-c", "user.email=pw@example.invalid", "add", "."],
        [
            "git",
            "-c",
            "user.name=pw",
            "-c",
            "user.email=pw@example.invalid",
            "commit",
            "-q",
            "-m",
            "init",
        ],
    ):
        subprocess.run(cmd, cwd=repo, env=env, check=True)
    return {"home": home, "repo": repo, "store": tmp_path / "store"}
