"""Hermetic mode wired end to end: a client inside a real sandbox (loopback-only network
namespace, private /etc) resolves names through our DNS responder, verifies our minted
certificates against the system bundle replaced in /etc, goes through our CONNECT proxy,
and every exchange lands in the store with its scheme and host. Nothing here addresses
anything but loopback (the namespace has nothing else).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promptwitness.capture.hermetic import (
    DNS_PORT,
    HTTP_PORT,
    HTTPS_PORT,
    HermeticOptions,
    HermeticServer,
    HermeticThread,
    Trust,
    egress,
    json_reply,
    rejected,
)
from promptwitness.capture.server import CaptureServer, ServerConfig
from promptwitness.capture.tls import CertificateAuthority
from promptwitness.probe.factors import parse_factor_arg
from promptwitness.probe.runner import ProbeConfig, run_probe
from promptwitness.probe.sandbox import RunResult, RunSpec, Sandbox
from promptwitness.store import Store

CAPTURE = 8080
PY = (sys.executable, "-I", "-S")
EXPOSE = (sys.base_prefix, sys.prefix)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority.generate()


def hermetic_run(
    sandbox: Sandbox,
    store: Store,
    ca: CertificateAuthority,
    script: str,
    options: HermeticOptions | None = None,
) -> tuple[RunResult, HermeticServer, str]:
    run = store.begin_run("test", ["client"], {})
    opts = options or HermeticOptions(
        answers={("GET", "/api/settings"): json_reply(200, {"ok": True})}, fallback=json_reply(204)
    )
    server = CaptureServer(
        store, ServerConfig(run=run, answers=opts.answers, fallback=opts.fallback)
    )
    hermetic = HermeticServer(server, ca, opts, capture_port=CAPTURE)
    spec = RunSpec(
        argv=(*PY, "-c", textwrap.dedent(script)),
        expose=EXPOSE,
        timeout=60,
        ports=(CAPTURE, DNS_PORT, HTTP_PORT, HTTPS_PORT),
        udp_ports=(DNS_PORT,),
        etc_files=tuple(Trust().etc_files(ca.pem()).items()),
    )
    result = sandbox.run(spec, serve=HermeticThread(hermetic).serving)
    return result, hermetic, run


MODEL_CALL = """
import json, socket, ssl, urllib.request
body = json.dumps({"model": "claude-x", "max_tokens": 5,
                   "messages": [{"role": "user", "content": "hi"}]}).encode()
print(socket.gethostbyname("api.example.com"))
req = urllib.request.Request("https://api.example.com/v1/messages?beta=true", data=body,
                             headers={"content-type": "application/json",
                                      "x-api-key": "sk-ant-api03-secretsecret"})
with urllib.request.urlopen(req, context=ssl.create_default_context()) as r:
    print(r.status, json.loads(r.read())["type"])
with urllib.request.urlopen("https://settings.example.org/api/settings") as r:
    print(r.status, r.read().decode())
with urllib.request.urlopen("http://telemetry.example.net/v1/rgstr?x=1", data=b"{}") as r:
    print(r.status)
"""


def test_https_via_dns_and_system_bundle(
    sandbox: Sandbox, store: Store, ca: CertificateAuthority
) -> None:
    result, hermetic, run = hermetic_run(sandbox, store, ca, MODEL_CALL)
    assert result.exit_code == 0, result.stderr.decode()
    out = result.stdout.decode().split("\n")
    assert out[:4] == ["127.0.0.1", "200 message", '200 {"ok": true}', "204"]
    xs = store.exchanges(run=run)
    seen = [(x.scheme, x.host, x.method, x.target) for x in xs]
    assert seen == [
        ("https", "api.example.com", "POST", "/v1/messages?beta=true"),
        ("https", "settings.example.org", "GET", "/api/settings"),
        ("http", "telemetry.example.net", "POST", "/v1/rgstr?x=1"),
    ]
    assert xs[0].protocol == "anthropic"
    # credentials are redacted at the edge, TLS-terminated or not
    assert b"secretsecret" not in b"".join(v.encode() for _, v in xs[0].request_headers)
    # everything came from inside the namespace, over loopback
    assert all((x.client or "").startswith("127.0.0.1:") for x in xs)
    names = hermetic.dns_log.names()
    assert {"api.example.com", "settings.example.org", "telemetry.example.net"} <= set(names)
    ok = [h for h in hermetic.tls_log.entries() if h.ok]
    assert {h.sni for h in ok} == {"api.example.com", "settings.example.org"}
    doc = egress(xs)
    assert list(doc) == ["api.example.com", "settings.example.org", "telemetry.example.net"]
    assert doc["telemetry.example.net"]["paths"]["POST /v1/rgstr"]["bytes_sent"] == 2


def test_client_rejecting_the_certificate_is_recorded(
    sandbox: Sandbox, store: Store, ca: CertificateAuthority
) -> None:
    script = """
    import socket, ssl, urllib.request
    strict = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # trusts no CA at all
    try:
        urllib.request.urlopen("https://api.example.com/", context=strict)
    except Exception as e:
        print("rejected", type(e).__name__)
    # garbage on the TLS port, then on the capture port: neither ends the endpoints
    s = socket.create_connection(("127.0.0.1", 443)); s.sendall(b"GET / HTTP/1.1\\r\\n\\r\\n")
    s.recv(100); s.close()
    s = socket.create_connection(("127.0.0.1", 8080)); s.sendall(b"\\x00\\x01garbage\\r\\n\\r\\n")
    print("capture port:", s.recv(100)[:12]); s.close()
    with urllib.request.urlopen("https://api.example.com/after") as r:
        print("after", r.status)
    """
    result, hermetic, run = hermetic_run(sandbox, store, ca, script)
    assert result.exit_code == 0, result.stderr.decode()
    out = result.stdout.decode()
    assert "rejected URLError" in out
    assert "capture port: b'HTTP/1.0 400'" in out or "capture port: b'HTTP/1.1 400'" in out
    assert "after 204" in out
    failed = hermetic.tls_log.failures()
    reasons = {h.reason for h in failed}
    assert "client-rejected-certificate" in reasons, [h.as_dict() for h in failed]
    assert "not-tls" in reasons
    assert [h.sni for h in rejected(failed)] == ["api.example.com"]
    targets = [x.target for x in store.exchanges(run=run)]
    assert "/after" in targets and "/" not in targets  # the rejected request never arrived


def test_connect_proxy_is_captured(
    sandbox: Sandbox, store: Store, ca: CertificateAuthority
) -> None:
    script = """
    import urllib.request
    opener = urllib.request.build_opener(urllib.request.ProxyHandler(
        {"https": "http://proxy.corp.internal:8080", "http": "http://127.0.0.1:8080"}))
    with opener.open("https://vendor.example.com/v1/rgstr", data=b'{"e":1}') as r:
        print(r.status)
    with opener.open("http://plain.example.com/ping") as r:
        print(r.status)
    """
    result, hermetic, run = hermetic_run(sandbox, store, ca, script)
    assert result.exit_code == 0, result.stderr.decode()
    assert result.stdout.decode().split() == ["204", "204"]
    xs = store.exchanges(run=run)
    assert [(x.scheme, x.host, x.target) for x in xs] == [
        ("https", "vendor.example.com", "/v1/rgstr"),
        ("http", "plain.example.com", "http://plain.example.com/ping"),
    ]
    assert [(t.request.authority if t.request else None, t.ok) for t in hermetic.tunnels] == [
        ("vendor.example.com:443", True)
    ]
    assert "proxy.corp.internal" in hermetic.dns_log.names()


AGENT = """
import json, os, ssl, sys, urllib.request
base = os.environ.get("ANTHROPIC_BASE_URL", "https://api.vendor.test")
body = json.dumps({"model": "m", "max_tokens": 5, "messages": [{"role": "user",
                   "content": "It's " + ("X" if "ANTHROPIC_BASE_URL" in os.environ else "Y")}]})
urllib.request.urlopen(urllib.request.Request(base + "/v1/messages", data=body.encode(),
                       headers={"content-type": "application/json"})).read()
urllib.request.urlopen(urllib.request.Request("https://telemetry.vendor.test/v1/event",
                       data=json.dumps({"base": base}).encode())).read()
"""


# pinned (minutes in the past), and a year back: the runs' TLS clients check the CA's
# validity against the run's clock, which the CA covers
@pytest.mark.parametrize("clock", ["pinned", "2025-06-01T12:00:00Z"])
def test_probe_with_the_default_endpoint(tmp_path: Path, sandbox: Sandbox, clock: str) -> None:
    store = Store.open(tmp_path / "store")
    try:
        config = ProbeConfig(
            argv=(*PY, "-c", AGENT),
            expose=EXPOSE,
            replicates=1,
            control_replicates=2,
            selections=(parse_factor_arg("endpoint-host=default,127.0.0.1"),),
            hermetic=HermeticOptions(
                runtimes=("python",),
                answers={
                    ("POST", "/v1/event"): json_reply(200, {"ok": True}),
                    ("GET", "/v1/entitlements"): json_reply(200, {}),
                },
            ),
            timeout=60,
            clock=clock,
        )
        result = run_probe(config, store, sandbox=sandbox)
    finally:
        store.close()
    assert result.hermetic is not None
    assert result.hermetic["ca_trust"] == "system-bundle"
    # the profile's canned answers, and which the runs needed: part of the evidence
    assert result.hermetic["canned_answers"] == [
        {"method": "GET", "path": "/v1/entitlements", "status": 200, "runs": 0},
        {"method": "POST", "path": "/v1/event", "status": 200, "runs": len(result.runs)},
    ]
    assert {"api.vendor.test", "telemetry.vendor.test"} <= set(result.hermetic["dns_names"])
    assert all(r.error is None for r in result.runs), result.runs
    from promptwitness.report.probe_json import to_json

    doc = json.loads(json.dumps(to_json(result)))
    egress_doc = doc["egress"]
    assert set(egress_doc["control"]["hosts"]) == {"api.vendor.test", "telemetry.vendor.test"}
    assert set(egress_doc["endpoint-host=127.0.0.1"]["hosts"]) == {
        "127.0.0.1:8080",
        "telemetry.vendor.test",
    }
    # the model call is the same logical request under both levels; the telemetry
    # payload carries its host in the key and its difference is attributed too
    found = {(f["request"], f["path"]) for f in doc["findings"]}
    assert ("POST /v1/messages [m] #0", "messages[0].content[0].text") in found, found
    assert ("POST telemetry.vendor.test/v1/event #0", "body") in found, found


def test_default_level_needs_hermetic() -> None:
    from promptwitness.errors import UsageError

    with pytest.raises(UsageError, match="needs --hermetic"):
        ProbeConfig(argv=("x",), selections=(parse_factor_arg("endpoint-host=default,x.ai"),))


def _cli(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "PROMPTWITNESS_STORE": str(tmp_path / "store"),
        "HOME": str(tmp_path),
    }
    return subprocess.run(
        [sys.executable, "-m", "promptwitness", *args],
        env=env,
        capture_output=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def _record_hermetic(script: str, tmp_path: Path) -> tuple[str, str, dict[str, Any]]:
    """``record --hermetic`` of a Python ``script``: its standard output, the record's
    standard error and its JSON summary (the record must succeed)."""
    summary = tmp_path / "egress.json"
    run = _cli(
        "record",
        "--hermetic",
        "--runtime",
        "python",
        "--json",
        str(summary),
        "--timeout",
        "60",
        "--",
        sys.executable,
        "-I",
        "-S",
        "-c",
        textwrap.dedent(script),
        tmp_path=tmp_path,
    )
    err = run.stderr.decode()
    assert run.returncode == 0, err
    return run.stdout.decode(), err, json.loads(summary.read_text())


def test_record_hermetic_cli(tmp_path: Path) -> None:
    out, err, doc = _record_hermetic(MODEL_CALL, tmp_path)
    assert out.startswith("127.0.0.1\n200 message\n")
    assert doc["ca_trust"] == "system-bundle"
    assert "system_bundle_attempt" not in doc
    assert set(doc["egress"]) == {
        "api.example.com",
        "settings.example.org",
        "telemetry.example.net",
    }
    assert doc["non_loopback_clients"] == []
    assert "3 hosts contacted:" in err and "DNS names looked up: " in err
    assert "nothing left the namespace" in err


def test_record_hermetic_runs_again_with_the_runtimes_variable(tmp_path: Path) -> None:
    """A client that trusts only what its runtime's variable names rejects our CA
    through the system bundle: the first attempt is stopped there, the second runs with
    the variable (``probe.hermetic.HermeticSession``, as a probe's preflight)."""
    script = """
    import os, ssl, urllib.request
    cafile = os.environ.get("REQUESTS_CA_BUNDLE")
    if cafile:
        ctx = ssl.create_default_context(cafile=cafile)
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # like certifi: not the system's
    with urllib.request.urlopen("https://api.example.com/v1/models", context=ctx) as r:
        print("models", r.status)
    """
    out, err, doc = _record_hermetic(script, tmp_path)
    assert out == "models 200\n"
    assert doc["attempt"] == 2 and "REQUESTS_CA_BUNDLE" in doc["ca_trust"]
    first = doc["system_bundle_attempt"]
    assert first["rejected_by"] == ["api.example.com"] and first["run"] != doc["run"]
    assert "rejected our certificate through the system bundle (api.example.com)" in err


def test_record_hermetic_rejects_upstream_and_default_needs_hermetic(tmp_path: Path) -> None:
    run = _cli(
        "record", "--hermetic", "--upstream", "http://127.0.0.1:1", "--", "true", tmp_path=tmp_path
    )
    assert run.returncode == 2 and b"--hermetic" in run.stderr
    run = _cli(
        "probe", "--factor", "endpoint-host=default,127.0.0.1", "--", "true", tmp_path=tmp_path
    )
    assert run.returncode == 2 and b"needs --hermetic" in run.stderr, run.stderr


def test_record_hermetic_with_an_agent_profiles_canned_answers(tmp_path: Path) -> None:
    """``record --hermetic --agent NAME``: the profile's canned vendor answers (Claude
    Code's settings endpoint answers ``{}``), not the fallback; ``--agent`` alone is an
    error."""
    code = textwrap.dedent("""
        import json, urllib.request
        for path in ("/api/claude_code/settings", "/api/unknown"):
            try:
                with urllib.request.urlopen("https://api.anthropic.com" + path) as r:
                    print(r.status, r.read().decode())
            except urllib.error.HTTPError as e:
                print(e.code, e.read().decode())
    """)
    run = _cli(
        "record",
        "--hermetic",
        "--agent",
        "claude-code",
        "--runtime",
        "python",
        "--hermetic-answer",
        "404",
        "--timeout",
        "60",
        "--",
        sys.executable,
        "-I",
        "-S",
        "-c",
        code,
        tmp_path=tmp_path,
    )
    assert run.returncode == 0, run.stderr.decode()
    assert run.stdout.decode().split("\n")[:2] == ["200 {}", "404 {}"]
    run = _cli("record", "--agent", "claude-code", "--", "true", tmp_path=tmp_path)
    assert run.returncode == 2 and b"needs --hermetic" in run.stderr
