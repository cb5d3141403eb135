"""The probe CA, minting per name, and server-side TLS on loopback: SNI, no SNI, a
client that rejects our certificate, plain HTTP on the TLS port."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from promptwitness.capture.connect import accept_tls
from promptwitness.capture.tls import (
    CA_TRUST,
    CertificateAuthority,
    TlsHandshake,
    TlsLog,
    TlsTerminator,
    bundle_with,
    ca_variables,
    classify_failure,
    normalise_host,
    server_context,
)


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority.generate()


def load(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


# --- the CA ------------------------------------------------------------------------


def test_ca_shape(ca: CertificateAuthority) -> None:
    c = ca.cert
    bc = c.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    ku = c.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    assert not ku.value.digital_signature
    assert c.issuer == c.subject
    now = dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=59) < now - c.not_valid_before_utc < dt.timedelta(minutes=61)
    life = c.not_valid_after_utc - c.not_valid_before_utc
    assert life == dt.timedelta(days=2, hours=1)
    assert ca.name.startswith("promptwitness probe CA ")
    assert c.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)


def test_each_ca_is_new() -> None:
    a, b = CertificateAuthority.generate(), CertificateAuthority.generate()
    assert a.name != b.name and a.fingerprint != b.fingerprint


def test_pem_is_certificate_only(ca: CertificateAuthority, tmp_path: Path) -> None:
    pem = ca.pem()
    assert pem.startswith(b"-----BEGIN CERTIFICATE-----")
    assert b"PRIVATE KEY" not in pem
    assert load(pem) == ca.cert
    p = ca.write_certificate(tmp_path / "ca.pem")
    assert p.read_bytes() == pem


def test_rsa_and_bad_key_kind() -> None:
    rsa_ca = CertificateAuthority.generate("rsa test CA", key="rsa-2048")
    cert, key = rsa_ca.mint("example.org")
    assert b"BEGIN PRIVATE KEY" in key
    load(cert).verify_directly_issued_by(rsa_ca.cert)
    with pytest.raises(ValueError):
        CertificateAuthority.generate(key="dsa-1024")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        CertificateAuthority.generate("x" * 65)


# --- minting -----------------------------------------------------------------------


def test_mint_dns_name(ca: CertificateAuthority) -> None:
    cert_pem, key_pem = ca.mint("API.Anthropic.com.")
    leaf = load(cert_pem)
    leaf.verify_directly_issued_by(ca.cert)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["api.anthropic.com"]
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "api.anthropic.com"
    )
    assert leaf.not_valid_after_utc <= ca.cert.not_valid_after_utc
    assert b"PRIVATE KEY" in key_pem


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "[::1]"])
def test_mint_ip(ca: CertificateAuthority, host: str) -> None:
    leaf = load(ca.mint(host)[0])
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address(host.strip("[]"))]
    assert san.get_values_for_type(x509.DNSName) == []


def test_long_name_has_no_cn_and_critical_san(ca: CertificateAuthority) -> None:
    host = ".".join(["a" * 60] * 3)  # 182 chars: over the CN limit of 64
    leaf = load(ca.mint(host)[0])
    assert len(leaf.subject) == 0
    assert leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).critical


def test_mint_is_cached_and_normalised(ca: CertificateAuthority) -> None:
    a = ca.mint("cache.example")
    assert ca.mint("CACHE.example.") is a
    assert "cache.example" in ca.minted()


def test_mint_is_thread_safe() -> None:
    ca = CertificateAuthority.generate()
    out: list[tuple[bytes, bytes]] = []
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        out.append(ca.mint("race.example"))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({o[0] for o in out}) == 1
    assert ca.minted() == ["race.example"]


@pytest.mark.parametrize(
    "bad",
    [
        "",
        ".",
        "a..b",
        "-a.com",
        "a-.com",
        "exa mple.com",
        "ex*ample.com",
        "ünïcode.de",
        "a" * 64 + ".com",
        ("a" * 60 + ".") * 5,
    ],
)
def test_bad_host_names(ca: CertificateAuthority, bad: str) -> None:
    with pytest.raises(ValueError):
        ca.mint(bad)


def test_normalise_host() -> None:
    assert normalise_host("Api.OpenAI.com.") == "api.openai.com"
    assert normalise_host("[0:0::1]") == "::1"
    assert normalise_host("under_score.internal") == "under_score.internal"


# --- bundle and trust table ----------------------------------------------------------


def test_bundle_with(ca: CertificateAuthority, tmp_path: Path) -> None:
    other = CertificateAuthority.generate("stand-in system root").pem()
    system = tmp_path / "ca-certificates.crt"
    system.write_bytes(other.rstrip(b"\n"))  # no final newline
    bundle = bundle_with(ca.pem(), system)
    assert bundle.startswith(other.rstrip(b"\n") + b"\n")
    assert bundle.endswith(ca.pem())
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=bundle.decode())
    assert ctx.cert_store_stats()["x509_ca"] == 2
    assert bundle_with(ca.pem(), tmp_path / "missing.crt").endswith(ca.pem())
    with pytest.raises(ValueError):
        bundle_with(ca.pem() + b"-----BEGIN PRIVATE KEY-----\n", system)


def test_bundle_with_real_system_bundle(ca: CertificateAuthority) -> None:
    path = Path("/etc/ssl/certs/ca-certificates.crt")  # scripts/setup.sh installs it
    assert path.is_file(), "no system CA bundle: install ca-certificates (scripts/setup.sh)"
    base = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    base.load_verify_locations(cafile=str(path))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=bundle_with(ca.pem(), path).decode())
    assert ctx.cert_store_stats()["x509_ca"] == base.cert_store_stats()["x509_ca"] + 1


def test_trust_table_and_variables() -> None:
    for trust in CA_TRUST.values():
        assert trust.sources, trust.runtime
        assert trust.semantics in ("extends", "replaces", "none")
    assert not CA_TRUST["node"].system_bundle
    env = ca_variables(
        ["node", "python-requests", "openssl", "rust-native-certs"], "/ca.pem", "/bundle.pem"
    )
    assert env == {
        "NODE_EXTRA_CA_CERTS": "/ca.pem",
        "REQUESTS_CA_BUNDLE": "/bundle.pem",
        "CURL_CA_BUNDLE": "/bundle.pem",
    }
    assert ca_variables(["rust-webpki-roots"], "/ca", "/b") == {}
    with pytest.raises(KeyError):
        ca_variables(["cobol"], "/ca", "/b")


# --- failure classification (pure) -------------------------------------------------


def _ssl_error(text: str, reason: str | None = None) -> ssl.SSLError:
    e = ssl.SSLError(1, text)
    e.reason = reason  # type: ignore[misc]
    return e


@pytest.mark.parametrize(
    "exc, reason",
    [
        (
            _ssl_error(
                "[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca (_ssl.c:1006)",
                "TLSV1_ALERT_UNKNOWN_CA",
            ),
            "client-rejected-certificate",
        ),
        (
            _ssl_error("[SSL: SSLV3_ALERT_BAD_CERTIFICATE] sslv3 alert bad certificate"),
            "client-rejected-certificate",
        ),
        (_ssl_error("[SSL: HTTP_REQUEST] http request (_ssl.c:1006)", "HTTP_REQUEST"), "not-tls"),
        (_ssl_error("[SSL: WRONG_VERSION_NUMBER] wrong version number"), "not-tls"),
        (_ssl_error("[SSL: NO_SHARED_CIPHER] no shared cipher"), "no-shared-cipher"),
        (_ssl_error("[SSL: SOMETHING_ELSE] odd"), "tls-error"),
        (TimeoutError(), "timeout"),
        (ConnectionResetError(104, "reset"), "closed"),
        (RuntimeError("x"), "error"),
    ],
)
def test_classify_failure(exc: BaseException, reason: str) -> None:
    assert classify_failure(exc)[0] == reason


def test_classify_text_for_rejection() -> None:
    e = _ssl_error("[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca (_ssl.c:1006)")
    assert classify_failure(e)[1] == "client rejected the certificate: tlsv1 alert unknown ca"


# --- handshakes on loopback ----------------------------------------------------------


Server = tuple[int, TlsTerminator, list[TlsHandshake]]


@pytest.fixture
async def tls_server(ca: CertificateAuthority) -> AsyncIterator[Server]:
    term = TlsTerminator(ca, "api.anthropic.com", log=TlsLog())
    done: list[TlsHandshake] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hs = await accept_tls(reader, writer, term, timeout=5)
        done.append(hs)
        if hs.ok:
            line = await reader.readline()
            writer.write(b"echo " + line)
            await writer.drain()
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield port, term, done
        await asyncio.sleep(0)


def client_ctx(ca: CertificateAuthority | None, *, tls12: bool = False) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cadata=ca.pem().decode() if ca else None)
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    if tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def talk(
    port: int,
    ctx: ssl.SSLContext,
    sni: str | None,
    check: Callable[[dict[str, Any]], None] | None = None,
) -> bytes:
    """A blocking client (as real agents are): handshake, one line, the reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=sni) as s:
            if check is not None:
                check(s.getpeercert())
            s.sendall(b"ping\n")
            return s.recv(100)


async def wait_for(done: list[TlsHandshake], n: int) -> None:
    for _ in range(500):
        if len(done) >= n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"only {len(done)} handshakes finished")


@pytest.mark.parametrize("tls12", [False, True])
async def test_sni_gets_its_own_certificate(
    ca: CertificateAuthority, tls_server: Server, tls12: bool
) -> None:
    port, term, done = tls_server
    seen: list[Any] = []
    out = await asyncio.to_thread(
        talk, port, client_ctx(ca, tls12=tls12), "generativelanguage.googleapis.com", seen.append
    )
    assert out == b"echo ping\n"
    assert seen[0]["subjectAltName"] == (("DNS", "generativelanguage.googleapis.com"),)
    await wait_for(done, 1)
    (hs,) = done
    assert hs.ok and hs.sni == hs.served == "generativelanguage.googleapis.com"
    assert hs.alpn == "http/1.1"
    assert hs.version == ("TLSv1.2" if tls12 else "TLSv1.3")
    assert term.log.entries() == [hs]


async def test_no_sni_gets_default_host_and_is_recorded(
    ca: CertificateAuthority, tls_server: Server
) -> None:
    port, term, done = tls_server
    ctx = client_ctx(ca)
    ctx.check_hostname = False  # no SNI: the client connects to an address
    seen: list[Any] = []
    assert await asyncio.to_thread(talk, port, ctx, None, seen.append) == b"echo ping\n"
    assert seen[0]["subjectAltName"] == (("DNS", "api.anthropic.com"),)
    await wait_for(done, 1)
    hs = done[0]
    assert hs.ok and hs.sni is None and hs.served == "api.anthropic.com" and hs.no_sni


async def test_client_rejecting_the_certificate_is_recorded(
    ca: CertificateAuthority, tls_server: Server
) -> None:
    port, term, done = tls_server
    untrusting = ssl.create_default_context()  # system roots only: our CA is unknown
    untrusting.load_verify_locations(cadata=CertificateAuthority.generate().pem().decode())
    with pytest.raises(ssl.SSLCertVerificationError):
        await asyncio.to_thread(talk, port, untrusting, "api.openai.com")
    await wait_for(done, 1)
    hs = done[0]
    assert hs.ok is False and hs.reason == "client-rejected-certificate"
    assert hs.error == "client rejected the certificate: tlsv1 alert unknown ca"
    assert hs.sni == "api.openai.com"
    # the server keeps serving
    assert await asyncio.to_thread(talk, port, client_ctx(ca), "api.openai.com") == (b"echo ping\n")
    await wait_for(done, 2)
    assert [h.ok for h in term.log.entries()] == [False, True]
    assert term.log.failures() == [hs]


async def test_plain_http_on_the_tls_port_is_recorded(
    ca: CertificateAuthority, tls_server: Server
) -> None:
    port, term, done = tls_server

    def plain() -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"POST /v1/messages HTTP/1.1\r\nHost: api.anthropic.com\r\n\r\n")
            try:
                return s.recv(100)
            except ConnectionResetError:
                return b""

    assert await asyncio.to_thread(plain) == b""
    await wait_for(done, 1)
    hs = done[0]
    assert hs.ok is False and hs.reason == "not-tls" and hs.sni is None
    assert "http request" in (hs.error or "").lower()
    assert await asyncio.to_thread(talk, port, client_ctx(ca), "x.example") == b"echo ping\n"


async def test_client_hanging_up_mid_handshake(
    ca: CertificateAuthority, tls_server: Server
) -> None:
    port, term, done = tls_server

    def half() -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"\x16\x03\x01\x00\xff\x01")  # the start of a ClientHello, then bye

    await asyncio.to_thread(half)
    await wait_for(done, 1)
    assert done[0].ok is False and done[0].reason in ("closed", "tls-error", "not-tls")


async def test_handshake_timeout(ca: CertificateAuthority) -> None:
    term = TlsTerminator(ca, "localhost")
    done: list[TlsHandshake] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        done.append(await accept_tls(reader, writer, term, timeout=0.2))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        r, w = await asyncio.open_connection(*server.sockets[0].getsockname()[:2])
        await wait_for(done, 1)
        w.close()
    assert done[0].ok is False and done[0].reason == "timeout"


async def test_shared_server_context_records_hellos(ca: CertificateAuthority) -> None:
    log = TlsLog()
    ctx = server_context(ca, "localhost", log=log)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
    port = server.sockets[0].getsockname()[1]
    async with server:
        for name in ("a.example", "b.example"):
            seen: list[Any] = []

            def one(name: str = name, seen: list[Any] = seen) -> bytes:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                    with client_ctx(ca).wrap_socket(raw, server_hostname=name) as s:
                        seen.append(s.getpeercert())
                        return s.recv(10)

            assert await asyncio.to_thread(one) == b"hello\n"
            assert seen[0]["subjectAltName"] == (("DNS", name),)
    assert [(e.sni, e.served, e.ok) for e in log.entries()] == [
        ("a.example", "a.example", None),
        ("b.example", "b.example", None),
    ]
