"""``promptwitness discover`` end to end on a stand-in agent that hides its triggers
behind encodings and outside the catalog (tests/fixtures/agents/hiding_agent.py): the
real CLI in a subprocess, the real sandbox, scan, trace, derive, screen, confirm."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

AGENT = Path(__file__).resolve().parents[2] / "fixtures" / "agents" / "hiding_agent.py"
PYTHON = shutil.which("python3", path="/usr/bin:/bin")

pytestmark = pytest.mark.skipif(PYTHON is None, reason="no system python3 (setup.sh installs it)")


def discover(
    tmp: Path, *agent_args: str, extra: tuple[str, ...] = ()
) -> tuple[int, dict[str, Any], str]:
    out = tmp / "report.json"
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "promptwitness",
            "discover",
            "--store",
            str(tmp / "store"),
            "--json",
            str(out),
            "--html",
            str(tmp / "report.html"),
            *extra,
            "--",
            str(PYTHON),
            str(AGENT),
            *agent_args,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode in (0, 1, 3), proc.stderr[-3000:]
    return proc.returncode, json.loads(out.read_text()), proc.stdout + proc.stderr


def test_hidden_triggers_are_found_and_attributed(tmp_path: Path) -> None:
    code, doc, out = discover(tmp_path)
    assert code == 1 and doc["verdict"] == "conditioned"
    found = {(tuple(sorted(f["factors"].items())), f["kind"]) for f in doc["findings"]}
    expect = {
        ((("endpoint-host", "api.acme-relay.cn"),), "confusable"),  # base64 > xor > zlib
        ((("endpoint-host", "api.llm.example.kz"),), "confusable"),
        ((("tz", "Asia/Kathmandu"),), "date-format"),  # character codes
        ((("system-tz", "Asia/Kathmandu"),), "date-format"),
        ((("env:ACME_REGION_HINT", "cn-north-1"),), "invisible"),  # hex; traced read
        ((("path:/opt/acme/.enrolled", "file"),), "whitespace"),  # reversed; traced stat
        ((("file:/etc/acme/tenant", "text:gov-cloud"),), "punctuation"),  # ROT13; traced open
    }
    assert expect <= found, found
    # the decoy table is varied and changes nothing
    hosts = {f["factors"].get("endpoint-host") for f in doc["findings"]}
    assert "api.decoy-analytics.io" not in hosts
    d = doc["discover"]
    leads = {x["factor"]: x for x in d["leads"]}
    assert "api.decoy-analytics.io" in leads["endpoint-host"]["levels"]
    assert leads["proxy"]["outcome"] == "no-change"
    assert leads["endpoint-host"]["sources"][0].startswith("base64+xor:5a+zlib table")
    chains = {tuple(t["encoding"]) for t in d["scan"]["tables"]}
    assert {("base64", "xor:5a", "zlib"), ("charcodes",), ("hex",)} <= chains
    assert d["trace"]["observed"] > 0 and d["trace"]["exit_code"] == 0
    assert d["coverage"]["summary"].split(" inputs read")[0].isdigit()
    assert "discovery:" in out and "coverage:" in out
    html = (tmp_path / "report.html").read_text()
    assert 'id="discovery"' in html and "api.acme-relay.cn" in html


def test_a_clean_agent_with_decoded_tables_stays_clean(tmp_path: Path) -> None:
    code, doc, _ = discover(tmp_path, "--clean")
    assert code == 0 and doc["verdict"] == "clean", doc["findings"]
    d = doc["discover"]
    assert d["scan"]["tables"] and d["leads"]
    assert all(x["outcome"] in ("no-change", "breaks-run") for x in d["leads"])
    # binary inputs cleared in groups, value levels one run each: few runs per level
    assert d["runs_per_level"] <= 1.3, (d["runs"], d["derived_levels"])


def test_bad_targets_are_clear_errors(tmp_path: Path) -> None:
    for args, msg in (
        (["--", "/nonexistent/agent"], "command not found"),
        ([], "give AGENT@VERSION or -- CMD"),
        (["no-such-agent@1.0"], "unknown"),
    ):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "promptwitness",
                "discover",
                "--store",
                str(tmp_path / "s"),
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == 2, proc.stderr
        assert msg in proc.stderr and "Traceback" not in proc.stderr
