"""A real Claude Code, probed: tz, locale, proxy and endpoint-host, each run in its own
loopback-only sandbox, through ``promptwitness probe``. The levels are a subset of the
defaults chosen to cross a calendar day boundary (UTC-12 vs UTC+14 are on different
dates at every hour) and to include Chinese signals."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.e2e.helpers import check_replicates, promptwitness

pytestmark = pytest.mark.e2e

KINDS = {
    "value",
    "date-format",
    "confusable",
    "invisible",
    "whitespace",
    "punctuation",
    "casing",
    "ordering",
    "param",
    "header",
    "content",
    "proxied",
}


def test_probe_claude_code(claude_bin: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    cache = claude_bin.parents[2]  # .../agents/claude-code/VERSION
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "PROMPTWITNESS_STORE": str(tmp_path / "store"),
        "HOME": str(tmp_path),
    }
    run = promptwitness(
        "probe",
        "--factor",
        "tz=UTC,Etc/GMT+12,Etc/GMT-14,Asia/Shanghai",
        "--factor",
        "locale=C.UTF-8,zh_CN.UTF-8,ja_JP.UTF-8",
        "--factor",
        "proxy",
        "--factor",
        "endpoint-host=127.0.0.1,api.deepseek.com,api.moonshot.cn",
        "--jobs",
        "2",
        "--env",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
        "--env",
        "DISABLE_AUTOUPDATER=1",
        "--expose",
        str(cache),
        "--json",
        str(report),
        "--",
        str(claude_bin),
        "-p",
        "Say hi",
        "--output-format",
        "json",
        env=env,
        timeout=1500,
    )
    err = run.stderr.decode()
    assert run.returncode in (0, 1), err
    doc = json.loads(report.read_text(encoding="utf-8"))
    assert doc["schema"] == "promptwitness/probe-report/v1"
    assert doc["verdict"] == {0: "clean", 1: "conditioned"}[run.returncode]
    assert doc["summary"]["failed_runs"] == 0, [r for r in doc["runs"] if r["error"]]
    assert {f["name"] for f in doc["factors"]} == {"tz", "locale", "proxy", "endpoint-host"}
    # every cell that shows a finding ran its replicates, and every run reached the
    # capture server
    check_replicates(doc)
    assert all(r["requests"] >= 1 for r in doc["runs"])
    # what changes between identical runs is measured and reported as noise: the
    # session id inside metadata.user_id at least
    assert any(n["path"] == "metadata.user_id" for n in doc["noise"]), doc["noise"]
    # every finding names a probed factor level and a known kind, with replicate support
    for f in doc["findings"]:
        assert set(f["factors"]) <= {"tz", "locale", "proxy", "endpoint-host"}, f
        assert f["kind"] in KINDS, f
        assert f["support"]["replicates"] == f["support"]["of"] >= 2, f
        assert f["control_support"]["replicates"] == 0, f
    # the date in the prompt follows the zone: UTC-12 and UTC+14 are never the same day
    tz_findings = [f for f in doc["findings"] if "tz" in f["factors"]]
    assert any(f["factors"]["tz"] in ("Etc/GMT+12", "Etc/GMT-14") for f in tz_findings), doc[
        "findings"
    ]
