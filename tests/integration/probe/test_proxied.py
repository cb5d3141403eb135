"""A tunnel through the proxy the run was given (kind ``proxied``), end to end: the
stand-in agent pings a telemetry host with ``urllib``, which honours the proxy
variables, so the capture sees ``CONNECT telemetry.example.com:443`` only in the runs
that have a proxy. Under every proxy level it is ``proxied`` (expected) and the verdict
stays clean; under one proxy's host only it is a ``content`` finding (overt)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.integration.probe.test_probe import probe as run

from promptwitness.probe.runner import ProbeResult
from promptwitness.probe.sandbox import Sandbox
from promptwitness.report.probe_json import to_json

PROXIES = ("none", "proxy.corp.internal", "proxy.tencent.com")
TUNNEL = "CONNECT telemetry.example.com:443 #0"


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    with Sandbox() as box:
        yield box  # type: ignore[misc]


def probe(store_dir: Path, sandbox: Sandbox, telemetry: str) -> ProbeResult:
    """test_probe's probe, over proxy and locale, the stand-in pinging a telemetry host."""
    return run(
        store_dir, sandbox, ["--telemetry", telemetry], ["proxy", "locale"], {"proxy": PROXIES}
    )


def test_a_tunnel_under_every_proxy_is_proxied_and_the_agent_clean(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    result = probe(tmp_path, sandbox, "telemetry.example.com")
    findings = result.analysis.findings
    assert sorted(f.factors["proxy"] for f in findings) == [
        "proxy.corp.internal",
        "proxy.tencent.com",
    ]
    assert {(f.request, f.change.kind, f.severity) for f in findings} == {
        (TUNNEL, "proxied", "expected")
    }
    assert result.verdict == "clean"
    doc = to_json(result)
    assert doc["exit_code"] == 0
    assert {f["kind"] for f in doc["findings"]} == {"proxied"}
    # the control sent no tunnel: without a proxy the ping has no route out
    control = [r for r in result.runs if r.cell == "control"]
    assert control and all(r.error is None for r in control)


def test_a_tunnel_under_one_proxy_host_only_is_overt(tmp_path: Path, sandbox: Sandbox) -> None:
    result = probe(tmp_path, sandbox, "telemetry.example.com=*.tencent.com")
    (finding,) = result.analysis.findings
    assert finding.factors == {"proxy": "proxy.tencent.com"} and finding.request == TUNNEL
    assert (finding.change.kind, finding.severity) == ("content", "overt")
    assert result.verdict == "conditioned"
