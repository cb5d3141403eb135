"""The pure parts of the hermetic mode: CA trust files and variables, the DNS map,
egress summaries, request keys with hosts, and the endpoint-host ``default`` level."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptwitness.capture.hermetic import (
    BUNDLE_FILE,
    CA_FILE,
    HermeticOptions,
    Trust,
    egress,
    host_name,
    rejected,
    resolve_map,
)
from promptwitness.capture.tls import CertificateAuthority, TlsHandshake
from promptwitness.probe.factors import FactorContext, apply_levels, parse_factor_arg
from promptwitness.probe.observe import SentRequest, request_map
from promptwitness.probe.sandbox import RunSpec


@pytest.fixture(scope="module")
def ca_pem() -> bytes:
    return CertificateAuthority.generate().pem()


def test_system_bundle_trust_writes_only_bundles(ca_pem: bytes) -> None:
    files = Trust().etc_files(ca_pem)
    assert "ssl/certs/ca-certificates.crt" in files
    assert all(v.endswith(ca_pem) for v in files.values())
    assert all(b"PRIVATE KEY" not in v for v in files.values())
    assert CA_FILE.removeprefix("/etc/") not in files  # no variable, no extra file
    assert Trust().label == "system-bundle" and Trust().env() == {}


def test_variable_trust_for_node_and_python(ca_pem: bytes) -> None:
    node = Trust.for_runtimes(HermeticOptions(runtimes=("node",)).trust_rows())
    assert node.env() == {"NODE_EXTRA_CA_CERTS": CA_FILE}
    assert node.label == "variable NODE_EXTRA_CA_CERTS"
    assert node.etc_files(ca_pem)[CA_FILE.removeprefix("/etc/")] == ca_pem
    py = Trust.for_runtimes(HermeticOptions(runtimes=("python",)).trust_rows())
    # "replaces" variables get the whole bundle, or every other host stops verifying
    assert py.env()["REQUESTS_CA_BUNDLE"] == BUNDLE_FILE
    assert py.env()["SSL_CERT_FILE"] == BUNDLE_FILE
    with pytest.raises(ValueError, match="unknown runtime"):
        HermeticOptions(runtimes=("cobol",)).trust_rows()
    # no runtime named: every runtime that ignores the system bundle
    assert "NODE_EXTRA_CA_CERTS" in Trust.for_runtimes(HermeticOptions().trust_rows()).env()


def test_resolve_map() -> None:
    r = resolve_map({"Api.Example.com.": "127.0.0.2"})
    assert r("api.example.com") == "127.0.0.2"
    assert r("other.test") == "127.0.0.1"
    assert resolve_map({}, None)("x.test") is None


def test_rejected_handshakes() -> None:
    hs = [
        TlsHandshake(sni="a", served="a", ok=False, reason="client-rejected-certificate"),
        TlsHandshake(sni="b", served="b", ok=False, reason="closed"),
        TlsHandshake(sni=None, served=None, ok=False, reason="closed"),
        TlsHandshake(sni="d", served="d", ok=False, reason="not-tls"),
        TlsHandshake(sni="e", served="e", ok=True),
    ]
    assert [h.sni for h in rejected(hs)] == ["a", "b"]


@dataclass
class X:
    host: str
    scheme: str
    method: str
    target: str
    request_size: int
    response_size: int


hosts = st.sampled_from(
    ["api.example.com", "API.example.com:443", "t.example:80", "127.0.0.1:8080"]
)
xs = st.lists(
    st.builds(
        X,
        hosts,
        st.sampled_from(["http", "https"]),
        st.sampled_from(["GET", "POST"]),
        st.sampled_from(["/", "/a?x=1", "/a", "/b"]),
        st.integers(0, 10_000),
        st.integers(0, 10_000),
    ),
    max_size=30,
)


@given(xs)
def test_egress_sums_and_groups(items: list[X]) -> None:
    doc = egress(items)
    assert sum(h["requests"] for h in doc.values()) == len(items)
    assert sum(h["bytes_sent"] for h in doc.values()) == sum(x.request_size for x in items)
    for host, h in doc.items():
        mine = [x for x in items if host_name(x.host) == host]
        assert h["requests"] == len(mine) == sum(p["count"] for p in h["paths"].values())
        assert h["bytes_received"] == sum(x.response_size for x in mine)
        assert all("?" not in p for p in h["paths"])
        assert h["schemes"] == sorted({x.scheme for x in mine})


def test_host_name_drops_default_ports() -> None:
    assert host_name("API.example.com:443") == "api.example.com"
    assert host_name("a.test:80") == "a.test"
    assert host_name("a.test:8080") == "a.test:8080"


def test_request_keys_carry_hosts_except_model_calls() -> None:
    body = b'{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"hi"}]}'
    sent = [
        SentRequest("POST", "/v1/messages?beta=true", (), body, 1, "api.anthropic.com"),
        SentRequest("POST", "/v1/rgstr", (), b"{}", 2, "statsig.anthropic.com"),
        SentRequest("POST", "/v1/rgstr", (), b"{}", 3, "statsig.anthropic.com"),
        SentRequest("HEAD", "/", (), b"", 4, None),
    ]
    assert list(request_map(sent)) == [
        "POST /v1/messages [m] #0",
        "POST statsig.anthropic.com/v1/rgstr #0",
        "POST statsig.anthropic.com/v1/rgstr #1",
        "HEAD / #0",
    ]


def test_endpoint_host_default_unsets_every_base_url() -> None:
    ctx = FactorContext(base_url_vars=(("ANTHROPIC_BASE_URL", ""), ("OPENAI_BASE_URL", "/v1")))
    spec = RunSpec(
        argv=("x",),
        env=(
            ("ANTHROPIC_BASE_URL", "http://127.0.0.1:8080"),
            ("OPENAI_BASE_URL", "http://127.0.0.1:8080/v1"),
            ("KEEP", "1"),
        ),
    )
    out = apply_levels(spec, {"endpoint-host": "default"}, ctx)
    assert dict(out.env) == {"KEEP": "1"}
    assert out.hosts == ()
    assert parse_factor_arg("endpoint-host=default,api.deepseek.com").levels[0] == "default"
