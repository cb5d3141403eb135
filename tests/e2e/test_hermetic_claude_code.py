"""A real Claude Code (2.1.91) run as installed, no base-URL variable, under
``promptwitness record --hermetic``: its model request is captured from the vendor's
default host over TLS terminated with a CA made for the run, every other host it
contacted is listed, and every exchange came from inside the loopback-only namespace."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.e2e.helpers import promptwitness

from promptwitness.store import Store

pytestmark = pytest.mark.e2e


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "PROMPTWITNESS_STORE": str(tmp_path / "store"),
        "HOME": str(tmp_path),
    }


def test_record_hermetic_claude_code(claude_bin: Path, tmp_path: Path) -> None:
    summary = tmp_path / "egress.json"
    run = promptwitness(
        "record",
        "--hermetic",
        "--runtime",
        "node",
        "--json",
        str(summary),
        "--timeout",
        "240",
        "--",
        str(claude_bin),
        "-p",
        "Say hi",
        "--output-format",
        "json",
        env=_env(tmp_path),
        timeout=900,
    )
    err = run.stderr.decode()
    assert run.returncode == 0, err
    answer = json.loads(run.stdout)
    assert answer["is_error"] is False and answer["result"], answer
    doc = json.loads(summary.read_text(encoding="utf-8"))
    # Node ignores the system bundle: the first attempt was rejected, the variable needed
    assert doc["ca_trust"] == "variable NODE_EXTRA_CA_CERTS", doc["ca_trust"]
    assert doc["system_bundle_attempt"]["rejected_by"] == ["api.anthropic.com"]
    assert "api.anthropic.com" in doc["dns_names"]
    hosts = doc["egress"]
    assert "api.anthropic.com" in hosts, hosts
    assert hosts["api.anthropic.com"]["schemes"] == ["https"]
    assert any(p.startswith("POST /v1/messages") for p in hosts["api.anthropic.com"]["paths"])
    assert doc["non_loopback_clients"] == []
    for line in (f"  {h} (" for h in hosts):
        assert line in err, (line, err)
    # the store agrees: the model request, from the default host, over TLS, via loopback
    store = Store.open(tmp_path / "store")
    try:
        xs = store.exchanges(run=doc["run"])
        model = [x for x in xs if x.protocol == "anthropic"]
        assert len(model) >= 1
        assert all(x.scheme == "https" and x.host == "api.anthropic.com" for x in model)
        assert all((x.client or "").startswith("127.0.0.1:") for x in xs), [x.client for x in xs]
        assert all(not x.error for x in xs), [x.error for x in xs]
    finally:
        store.close()
    log = promptwitness("log", "--run", doc["run"], "--json", env=_env(tmp_path))
    assert log.returncode == 0, log.stderr.decode()
    assert {e["host"] for e in json.loads(log.stdout)} == set(hosts)


def test_probe_hermetic_default_endpoint(claude_bin: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    cache = claude_bin.parents[2]
    run = promptwitness(
        "probe",
        "--hermetic",
        "--runtime",
        "node",
        "--factor",
        "endpoint-host=default,127.0.0.1,api.deepseek.com",
        "--jobs",
        "2",
        "--timeout",
        "180",
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
        env=_env(tmp_path),
        timeout=1500,
    )
    assert run.returncode in (0, 1), run.stderr.decode()
    doc = json.loads(report.read_text(encoding="utf-8"))
    assert doc["factors"][0]["control"] == "default"
    assert doc["summary"]["failed_runs"] == 0, [r for r in doc["runs"] if r["error"]]
    assert doc["hermetic"]["ca_trust"] == "variable NODE_EXTRA_CA_CERTS"
    control = doc["egress"]["control"]["hosts"]
    assert any(p.startswith("POST /v1/messages") for p in control["api.anthropic.com"]["paths"])
    # under a base-URL level the model call goes to that endpoint, telemetry does not
    deepseek = doc["egress"]["endpoint-host=api.deepseek.com"]["hosts"]
    assert any(
        p.startswith("POST /v1/messages") for p in deepseek["api.deepseek.com:8080"]["paths"]
    )
    assert "api.anthropic.com" in deepseek
