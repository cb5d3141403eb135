"""``scan`` and ``discover`` on real Claude Code releases from the npm registry (cached):
the hidden tables of 2.1.91 decoded, their absence in 2.1.0 and 2.1.50, and the covert
changes they drive found by ``discover`` with no factor given."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from tests.e2e.helpers import promptwitness

from promptwitness.agents.cache import cache_root, ensure_npm
from promptwitness.discover.decode import Budget, decode_text

pytestmark = pytest.mark.e2e

VERSIONS = ("2.1.0", "2.1.50", "2.1.91")  # both sides of the window the bisect found


@pytest.fixture(scope="module")
def installed() -> Path:
    for v in VERSIONS:
        ensure_npm("claude-code", "@anthropic-ai/claude-code", v, bin_name="claude")
    return cache_root()


def _env(installed: Path, tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "PROMPTWITNESS_STORE": str(tmp_path / "store"),
        "PROMPTWITNESS_AGENT_CACHE": str(installed),
        "HOME": str(tmp_path),
    }


def _xor_tables(doc: dict) -> list[dict]:  # type: ignore[type-arg]
    return [t for t in doc["tables"] if any(e.startswith("xor:") for e in t["encoding"])]


@pytest.mark.parametrize("version", VERSIONS)
def test_scan_decodes_the_hidden_tables_only_where_they_are(
    installed: Path, tmp_path: Path, version: str
) -> None:
    report = tmp_path / "scan.json"
    run = promptwitness(
        "scan",
        f"claude-code@{version}",
        "--json",
        str(report),
        "--quiet",
        env=_env(installed, tmp_path),
        timeout=300,
    )
    assert run.returncode == 0, run.stderr.decode()
    doc = json.loads(report.read_text(encoding="utf-8"))
    tables = _xor_tables(doc)
    if version != "2.1.91":
        assert tables == [], [t["strings"][:5] for t in tables]
        return
    by_first = {t["strings"][0]: t for t in tables}
    suffixes, labs = by_first["cn"], by_first["deepseek"]
    for t in (suffixes, labs):
        assert t["encoding"] == ["base64", "xor:5b"]
        assert t["location"]["file"].endswith("claude-code/cli.js")
    assert {"sankuai.com", "baidu.com", "alibaba-inc.com", "moonshot.ai"} <= set(
        suffixes["strings"]
    )
    assert len(suffixes["strings"]) > 100
    assert {"moonshot", "minimax", "zhipu", "dashscope"} <= set(labs["strings"])


def test_discover_finds_what_2_1_91_conditions_on_unguided(installed: Path, tmp_path: Path) -> None:
    report = tmp_path / "discover.json"
    run = promptwitness(
        "discover",
        "claude-code@2.1.91",
        "--jobs",
        "4",
        "--json",
        str(report),
        env=_env(installed, tmp_path),
        timeout=1200,
    )
    err = run.stderr.decode()
    assert run.returncode == 1, err[-3000:]  # conditioned
    doc = json.loads(report.read_text(encoding="utf-8"))
    assert doc["schema"] == "promptwitness/probe-report/v1" and doc["verdict"] == "conditioned"
    d = doc["discover"]
    # no factor was given: the hosts come from the decoded table, the zones from the code
    leads = {x["factor"]: x for x in d["leads"]}
    assert all("given with --factor" not in x["sources"] for x in d["leads"])
    assert any("xor:5b" in src for src in leads["endpoint-host"]["sources"])
    covert = {
        (k, v, f["kind"])
        for f in doc["findings"]
        for k, v in f["factors"].items()
        if f["severity"] == "covert"
    }
    hosts = {v for k, v, kind in covert if k == "endpoint-host" and kind == "confusable"}
    assert len(hosts) >= 5 and all(h not in ("127.0.0.1", "localhost") for h in hosts)
    assert ("tz", "Asia/Shanghai", "date-format") in covert
    assert ("system-tz", "Asia/Shanghai", "date-format") in covert
    # no look-alike and no date form follows a factor that is not a host or a zone
    assert {k for k, _, kind in covert if kind in ("confusable", "date-format")} <= {
        "endpoint-host",
        "tz",
        "system-tz",
    }, covert
    assert d["runs_per_level"] <= 1.3, (d["runs"], d["derived_levels"])
    assert "inputs read" in d["coverage"]["summary"]


def test_real_bundle_yields_few_decoded_and_fast(installed: Path) -> None:
    """Measured on this bundle (13,097,839 characters) with
    ``list(decode_text(text))``: 2 results in 0.7-0.9 s on a 2-core machine, both true:
    the XOR-0x5b base64 tables of Chinese AI-lab host suffixes and lab keywords that
    the bundle hides. (Over 194 MB of JS bundles of 8 agents the same run yields 3;
    the third is a base64-embedded worker script.) The bounds leave room for other
    load on the machine. (Was a unit test skipped when the bundle was not cached; here
    the fixture installs it.)"""
    bundle = installed / "claude-code/2.1.91/node_modules/@anthropic-ai/claude-code/cli.js"
    text = bundle.read_text("utf-8", errors="surrogateescape")
    budget = Budget()
    t0 = time.perf_counter()
    results = list(decode_text(text, budget))
    seconds = time.perf_counter() - t0
    assert not budget.exhausted
    assert len(results) <= 5
    assert seconds < 5
    tables = {d.strings[0]: d for d in results}
    assert tables["cn"].encoding == ("base64", "xor:5b")
    assert {"sankuai.com", "moonshot.ai"} <= set(tables["cn"].strings)
    assert {"deepseek", "moonshot", "zhipu"} <= set(tables["deepseek"].strings)
