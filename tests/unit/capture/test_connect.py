"""HTTP CONNECT: the head parser (pure) and the tunnel with TLS on loopback."""

from __future__ import annotations

import asyncio
import http.client
import socket
import ssl
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptwitness.capture.connect import (
    ESTABLISHED,
    MAX_HEAD,
    ConnectError,
    Tunnel,
    error_response,
    parse_connect_head,
    serve_connect,
)
from promptwitness.capture.tls import CertificateAuthority, TlsLog, TlsTerminator

# --- the head (pure) -----------------------------------------------------------------


def test_parse_connect() -> None:
    req = parse_connect_head(
        b"CONNECT api.anthropic.com:443 HTTP/1.1\r\n"
        b"Host: api.anthropic.com:443\r\n"
        b"User-Agent: claude-cli/2.0\r\n\r\n"
    )
    assert (req.host, req.port, req.version) == ("api.anthropic.com", 443, "HTTP/1.1")
    assert req.headers == (("Host", "api.anthropic.com:443"), ("User-Agent", "claude-cli/2.0"))
    assert req.proxy_authorization is None
    assert req.authority == "api.anthropic.com:443"


def test_parse_ipv6_and_bare_lf() -> None:
    req = parse_connect_head(b"CONNECT [::1]:8443 HTTP/1.0\n\n")
    assert (req.host, req.port, req.version) == ("::1", 8443, "HTTP/1.0")
    assert req.authority == "[::1]:8443"


def test_proxy_authorization_is_redacted() -> None:
    head = b"CONNECT h.example:443 HTTP/1.1\r\nProxy-Authorization: Basic dXNlcjpzM2NyZXQ=\r\n\r\n"
    plain = parse_connect_head(head)
    assert plain.proxy_authorization == "Basic pw-redacted"
    assert "dXNlcjpzM2NyZXQ" not in repr(plain)
    fp = parse_connect_head(head, fingerprint=lambda s: f"fp:{len(s)}")
    assert fp.proxy_authorization == "Basic fp:16"
    assert fp.headers == (("Proxy-Authorization", "Basic fp:16"),)
    bare = parse_connect_head(b"CONNECT h:1 HTTP/1.1\r\nproxy-authorization: token\r\n\r\n")
    assert bare.proxy_authorization == "pw-redacted"


@pytest.mark.parametrize(
    "head, status",
    [
        (b"GET http://x/ HTTP/1.1\r\n\r\n", 405),
        (b"CONNECT api.anthropic.com HTTP/1.1\r\n\r\n", 400),  # no port
        (b"CONNECT :443 HTTP/1.1\r\n\r\n", 400),
        (b"CONNECT h:0 HTTP/1.1\r\n\r\n", 400),
        (b"CONNECT h:70000 HTTP/1.1\r\n\r\n", 400),
        (b"CONNECT h:+443 HTTP/1.1\r\n\r\n", 400),
        (b"CONNECT h:443 HTTP/2.0\r\n\r\n", 505),
        (b"CONNECT h:443 HTTPS/1.1\r\n\r\n", 400),
        (b"CONNECT h:443\r\n\r\n", 400),
        (b"CONNECT  h:443 HTTP/1.1\r\n\r\n", 400),
        (b"CONNECT h:443 HTTP/1.1\r\nno colon here\r\n\r\n", 400),
        (b"CONNECT h:443 HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", 400),
        (b"CONNECT h/evil:443 HTTP/1.1\r\n\r\n", 400),
        (b"CONNECT [zz]:443 HTTP/1.1\r\n\r\n", 400),
        (b"CONNECT [::1]443 HTTP/1.1\r\n\r\n", 400),
        (b"CONNECT h\xc3\xa9:443 HTTP/1.1\r\n\r\n", 400),
        (b"CONNECT h:443 HTTP/1.1\r\n" + b"X: " + b"a" * MAX_HEAD + b"\r\n\r\n", 431),
        (b"", 400),
        (b"\x16\x03\x01\x02\x00\x01", 400),  # a TLS ClientHello sent to the proxy port
    ],
)
def test_malformed_heads(head: bytes, status: int) -> None:
    with pytest.raises(ConnectError) as ei:
        parse_connect_head(head)
    assert ei.value.status == status


@given(st.binary(max_size=300))
def test_arbitrary_heads_only_raise_connect_error(head: bytes) -> None:
    try:
        req = parse_connect_head(head)
    except ConnectError as e:
        assert 400 <= e.status < 600
    else:
        assert 0 < req.port < 65536 and req.host


def test_responses() -> None:
    assert ESTABLISHED.startswith(b"HTTP/1.1 200 ") and ESTABLISHED.endswith(b"\r\n\r\n")
    resp = error_response(405, "method 'GET' is not CONNECT")
    head, _, body = resp.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n")
    assert b"Allow: CONNECT" in head
    assert f"Content-Length: {len(body)}".encode() in head


# --- the tunnel on loopback ------------------------------------------------------------


Proxy = tuple[int, TlsTerminator, list[Tunnel]]


@pytest.fixture
async def proxy() -> AsyncIterator[Proxy]:
    ca = CertificateAuthority.generate()
    term = TlsTerminator(ca, "localhost", log=TlsLog())
    tunnels: list[Tunnel] = []

    async def on_tunnel(
        t: Tunnel, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        line = head.split(b"\r\n", 1)[0]
        assert t.request is not None
        body = f"{t.request.authority} {line.decode()}".encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body
        )
        await writer.drain()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve_connect(
            reader,
            writer,
            on_tunnel,
            terminator=term,
            on_done=tunnels.append,
            head_timeout=2,
            handshake_timeout=2,
        )

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1], term, tunnels


def trusting(term: TlsTerminator) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=term.ca.pem().decode())


async def settled(tunnels: list[Tunnel], n: int) -> None:
    for _ in range(500):
        if len(tunnels) >= n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(tunnels)} tunnels finished, wanted {n}")


async def test_http_client_through_the_tunnel(proxy: Proxy) -> None:
    port, term, tunnels = proxy

    def request() -> tuple[int, bytes]:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=trusting(term))
        conn.set_tunnel("api.anthropic.com", 443, headers={"Proxy-Authorization": "Basic c2VjcmV0"})
        conn.request("POST", "/v1/messages", body=b"{}")
        resp = conn.getresponse()
        out = resp.status, resp.read()
        conn.close()
        return out

    status, body = await asyncio.to_thread(request)
    assert status == 200
    assert body == b"api.anthropic.com:443 POST /v1/messages HTTP/1.1"
    await settled(tunnels, 1)
    t = tunnels[0]
    assert t.ok and t.status == 200 and t.request is not None
    assert t.request.proxy_authorization == "Basic pw-redacted"
    assert "c2VjcmV0" not in repr(t)
    assert t.handshake is not None and t.handshake.sni == "api.anthropic.com"
    assert t.handshake.served == "api.anthropic.com"


def raw_tunnel(port: int, ctx: ssl.SSLContext, host: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
        assert s.recv(len(ESTABLISHED)) == ESTABLISHED
        with ctx.wrap_socket(s, server_hostname=host) as t:
            t.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while chunk := t.recv(4096):
                data += chunk
            return data


async def test_client_rejecting_our_certificate_then_a_good_one(proxy: Proxy) -> None:
    port, term, tunnels = proxy
    with pytest.raises(ssl.SSLCertVerificationError):
        await asyncio.to_thread(raw_tunnel, port, ssl.create_default_context(), "api.openai.com")
    await settled(tunnels, 1)
    bad = tunnels[0]
    assert not bad.ok and bad.status == 200
    assert bad.handshake is not None and bad.handshake.reason == "client-rejected-certificate"
    assert bad.handshake.error == "client rejected the certificate: tlsv1 alert unknown ca"
    out = await asyncio.to_thread(raw_tunnel, port, trusting(term), "api.openai.com")
    assert out.endswith(b"api.openai.com:443 GET / HTTP/1.1")
    await settled(tunnels, 2)
    assert tunnels[1].ok
    assert [h.ok for h in term.log.entries()] == [False, True]


@pytest.mark.parametrize(
    "head, status",
    [
        (b"GET http://api.anthropic.com/ HTTP/1.1\r\nHost: api.anthropic.com\r\n\r\n", 405),
        (b"CONNECT nowhere HTTP/1.1\r\n\r\n", 400),
        (b"BLAH\r\n\r\n", 400),
    ],
)
async def test_malformed_head_gets_an_error_and_no_tunnel(
    proxy: Proxy, head: bytes, status: int
) -> None:
    port, term, tunnels = proxy

    def send() -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(head)
            data = b""
            while chunk := s.recv(4096):
                data += chunk
            return data

    reply = await asyncio.to_thread(send)
    assert reply.startswith(f"HTTP/1.1 {status} ".encode())
    await settled(tunnels, 1)
    assert tunnels[0].status == status and tunnels[0].error and not tunnels[0].ok
    assert tunnels[0].handshake is None and len(term.log) == 0


async def test_client_closing_inside_the_head(proxy: Proxy) -> None:
    port, term, tunnels = proxy

    def send() -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"CONNECT api.anthropic.com:443 HTTP/1.1\r\nHo")

    await asyncio.to_thread(send)
    await settled(tunnels, 1)
    assert "closed inside the head" in (tunnels[0].error or "")


async def test_plain_http_inside_the_tunnel_is_recorded(proxy: Proxy) -> None:
    port, term, tunnels = proxy

    def send() -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"CONNECT api.anthropic.com:443 HTTP/1.1\r\n\r\n")
            assert s.recv(len(ESTABLISHED)) == ESTABLISHED
            s.sendall(b"GET / HTTP/1.1\r\nHost: api.anthropic.com\r\n\r\n")
            try:
                s.recv(100)
            except ConnectionResetError:
                pass

    await asyncio.to_thread(send)
    await settled(tunnels, 1)
    hs = tunnels[0].handshake
    assert hs is not None and hs.ok is False and hs.reason == "not-tls"


async def test_failing_tunnel_handler_is_recorded() -> None:
    term = TlsTerminator(CertificateAuthority.generate(), "localhost")
    tunnels: list[Tunnel] = []

    async def broken(t: Tunnel, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        raise RuntimeError("handler bug")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve_connect(reader, writer, broken, terminator=term, on_done=tunnels.append)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        ctx = ssl.create_default_context(cadata=term.ca.pem().decode())
        await asyncio.to_thread(raw_tunnel, port, ctx, "x.example")
        await settled(tunnels, 1)
    assert tunnels[0].error == "tunnel handler failed: RuntimeError: handler bug"
