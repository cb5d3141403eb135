"""Registry answers (pure parsers), the Node check, and the ``agents``/``audit`` CLI's
error paths (no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptwitness.agents import registry
from promptwitness.agents.cache import InstallError
from promptwitness.agents.profiles import get_profile
from promptwitness.agents.profiles.base import Profile
from promptwitness.cli import main
from promptwitness.cli.agents import split_spec
from promptwitness.errors import UsageError


def test_parse_npm_times() -> None:
    doc = {
        "created": "2020",
        "modified": "2026",
        "1.0.10": "2026-03-02T00:00:00Z",
        "1.0.9": "2026-03-01T00:00:00Z",
        "0.1.0": "2025-01-01T00:00:00Z",
    }
    got = registry.parse_npm_times(doc)
    assert [r.version for r in got] == ["0.1.0", "1.0.9", "1.0.10"]
    assert got[1].published == "2026-03-01T00:00:00Z"
    assert registry.parse_npm_times([]) == []


def test_parse_pypi() -> None:
    doc = {
        "info": {"version": "0.86.2"},
        "releases": {
            "0.86.2": [
                {"upload_time_iso_8601": "2025-08-09T12:00:01.000Z"},
                {"upload_time_iso_8601": "2025-08-09T11:59:00.000Z"},
            ],
            "0.1.0": [{"upload_time_iso_8601": "2023-05-01T00:00:00Z", "yanked": True}],
            "0.0.1": [],
        },
    }
    rels, latest = registry.parse_pypi(doc)
    assert latest == "0.86.2"
    by = {r.version: r for r in rels}
    assert by["0.86.2"].published == "2025-08-09T11:59:00.000Z"  # the earliest file
    assert by["0.1.0"].yanked and not by["0.86.2"].yanked
    assert by["0.0.1"].published is None
    assert rels[0].version == "0.0.1"  # undated first
    assert registry.parse_pypi("nonsense") == ([], None)


dates = st.datetimes().map(lambda d: d.isoformat() + "Z")


@given(
    st.dictionaries(
        st.from_regex(r"\d{1,3}\.\d{1,3}\.\d{1,3}", fullmatch=True),
        st.lists(dates, max_size=3),
        max_size=20,
    )
)
def test_parse_pypi_keeps_every_release_in_date_order(releases: dict[str, list[str]]) -> None:
    doc = {
        "info": {"version": "x"},
        "releases": {v: [{"upload_time_iso_8601": t} for t in ts] for v, ts in releases.items()},
    }
    rels, _ = registry.parse_pypi(doc)
    assert sorted(r.version for r in rels) == sorted(releases)
    keys = [r.published or "" for r in rels]
    assert keys == sorted(keys)
    for r in rels:
        assert r.published == (min(releases[r.version]) if releases[r.version] else None)


def test_split_spec() -> None:
    assert split_spec("codex@0.169.0") == ("codex", "0.169.0")
    assert split_spec("codex") == ("codex", None)
    with pytest.raises(UsageError):
        split_spec("codex@")
    assert split_spec("@scope/x@1.0") == ("@scope/x", "1.0")


def _needs_node(version: str | None) -> Profile:
    return Profile(
        name="x",
        title="X",
        registry="npm",
        package="x",
        bin_name="x",
        protocol="openai-chat",
        args=(),
        min_node=22,
        node_version=version,
    )


def test_old_node_without_a_pinned_node_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "node_major", lambda: 20)
    with pytest.raises(InstallError, match=r"needs Node.js 22 or later.*has Node 20"):
        registry.node_for(_needs_node(None))
    monkeypatch.setattr(registry, "node_major", lambda: None)
    with pytest.raises(InstallError, match="has no node"):
        registry.node_for(_needs_node(None))


def test_node_new_enough_or_fetched(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "node_major", lambda: 22)
    assert registry.node_for(_needs_node("22.1.0")) == ()
    monkeypatch.setattr(registry, "node_major", lambda: 20)
    asked: list[str] = []

    def fake(version: str) -> Path:
        asked.append(version)
        return Path("/cache/node/22.1.0/bin")

    monkeypatch.setattr(registry, "ensure_node", fake)
    assert registry.node_for(_needs_node("22.1.0")) == ("/cache/node/22.1.0/bin",)
    assert asked == ["22.1.0"]
    assert registry.node_for(get_profile("aider")) == ()  # PyPI: no Node at all


def _needs_python(version: str | None) -> Profile:
    return Profile(
        name="x",
        title="X",
        registry="pypi",
        package="x",
        bin_name="x",
        protocol="openai-chat",
        args=(),
        python=version,
    )


def test_python_for_a_venv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PyPI profile's venv: the running interpreter, or pythonX.Y from pyenv or PATH."""
    import sys

    assert registry.python_for(_needs_python(None)) is None
    assert registry.python_for(get_profile("aider")) is None
    running = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert registry.python_for(_needs_python(running)) == sys.executable
    exe = tmp_path / "pyenv" / "versions" / "3.99.1" / "bin" / "python3.99"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert registry.python_for(_needs_python("3.99")) == str(exe)
    with pytest.raises(InstallError, match=r"needs Python 3\.98 .*no python3\.98"):
        registry.python_for(_needs_python("3.98"))


def test_cli_agents_lists_profiles_and_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PROMPTWITNESS_AGENT_CACHE", str(tmp_path))
    (tmp_path / "codex" / "0.169.0").mkdir(parents=True)
    (tmp_path / "codex" / "0.169.0" / ".complete").write_text("{}")
    (tmp_path / "codex" / "0.170.0").mkdir()  # incomplete: not listed
    assert main(["agents", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    rows = {r["name"]: r for r in doc["agents"]}
    assert {"claude-code", "codex", "gemini-cli", "qwen-code", "aider"} <= set(rows)
    assert rows["codex"]["cached"] == ["0.169.0"] and rows["gemini-cli"]["cached"] == []
    assert rows["aider"]["registry"] == "pypi" and rows["codex"]["protocol"] == "openai-responses"
    # how each runs: its base-URL variable and the configuration files it gets
    assert rows["claude-code"]["how"] == "ANTHROPIC_BASE_URL"
    assert "~/.codex/config.toml" in rows["codex"]["how"]
    assert rows["claude-code"]["canned_answers"] == 2 and not rows["claude-code"]["account"]
    assert isinstance(doc["unavailable"], list)
    assert main(["agents"]) == 0
    text = capsys.readouterr().out
    assert "codex" in text and "0.169.0" in text
    # compact: one line of identity and one of how it runs per agent, none wraps at 80
    lines = text.splitlines()
    assert len(lines) == 1 + 2 * len(rows) + (
        1 + len(doc["unavailable"]) if doc["unavailable"] else 0
    )


@pytest.mark.parametrize(
    "argv", [["agents", "versions", "clade"], ["audit", "clade@1.0"], ["audit", "codex@"]]
)
def test_cli_unknown_agent_is_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "error:" in err
    if "clade" in " ".join(argv):
        assert "known:" in err and "codex" in err
