"""HTTP CONNECT for the hermetic mode: a proxy that is itself captured.

When a probe's ``proxy`` level points an agent at a proxy, the proxy is ours: the agent
sends ``CONNECT host:port HTTP/1.1``, we answer ``200``, then terminate the TLS the agent
starts inside the tunnel with a certificate minted for the name it asked for, and hand
the decrypted stream to the capture server.

- Sans-IO: :func:`parse_connect_head` (request line, headers; ``Proxy-Authorization``
  kept only as its scheme and a fingerprint, never the credential), :data:`ESTABLISHED`,
  :func:`error_response`.
- IO (asyncio streams): :func:`accept_tls` upgrades an accepted connection to TLS in
  place (``StreamWriter.start_tls``, i.e. ``loop.start_tls(..., server_side=True)``) and
  records the handshake's outcome; every failure (a client that rejects our certificate,
  plain HTTP on the TLS port, a timeout) is recorded and returned, never raised.
  :func:`serve_connect` reads a CONNECT head, answers, upgrades and calls
  ``on_tunnel(tunnel, reader, writer)`` with the decrypted stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from promptwitness.capture.tls import TlsHandshake, TlsTerminator, classify_failure
from promptwitness.errors import WireError

MAX_HEAD = 16 * 1024
HANDSHAKE_TIMEOUT = 10.0
HEAD_TIMEOUT = 10.0
ESTABLISHED = b"HTTP/1.1 200 Connection Established\r\n\r\n"

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_REDACTED = "pw-redacted"


class ConnectError(WireError):
    """A CONNECT head we refuse; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ConnectRequest:
    host: str  # without brackets for IPv6
    port: int
    version: str  # "HTTP/1.1"
    headers: tuple[tuple[str, str], ...]  # Proxy-Authorization value redacted
    proxy_authorization: str | None = None  # "<scheme> <fingerprint>" or None

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def _split_authority(target: str) -> tuple[str, int]:
    if target.startswith("["):
        end = target.find("]")
        if end < 0 or target[end + 1 : end + 2] != ":":
            raise ConnectError(f"bad CONNECT target {target!r}")
        host, port_s = target[1:end], target[end + 2 :]
        try:
            ipaddress.IPv6Address(host)
        except ValueError as e:
            raise ConnectError(f"bad IPv6 literal in {target!r}") from e
    else:
        host, sep, port_s = target.rpartition(":")
        if not sep or not host:
            raise ConnectError(f"CONNECT target {target!r} has no host:port")
        if not re.fullmatch(r"[A-Za-z0-9._-]+", host):
            raise ConnectError(f"bad host in CONNECT target {target!r}")
    if not port_s.isascii() or not port_s.isdigit() or not 0 < int(port_s) < 65536:
        raise ConnectError(f"bad port in CONNECT target {target!r}")
    return host, int(port_s)


def parse_connect_head(
    head: bytes, *, fingerprint: Callable[[str], str] | None = None
) -> ConnectRequest:
    """Parse a CONNECT request head (up to and including the blank line, or without it).

    Raises :class:`ConnectError` (status 400, 405 for another method, 431 for a head over
    :data:`MAX_HEAD`, 505 for a version other than HTTP/1.x). ``fingerprint`` turns the
    credential of a Proxy-Authorization header into what is kept (e.g.
    ``Redactor.fingerprint``); without it the credential becomes ``pw-redacted``.
    """
    if len(head) > MAX_HEAD:
        raise ConnectError(f"request head over {MAX_HEAD} bytes", 431)
    text = head.removesuffix(b"\r\n\r\n").removesuffix(b"\n\n")
    lines = re.split(rb"\r?\n", text)
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not all(parts):
        raise ConnectError(f"malformed request line {lines[0][:200]!r}")
    method, target, version = parts
    if not _TOKEN.match(method):
        raise ConnectError(f"malformed method {method[:50]!r}")
    if method != b"CONNECT":
        raise ConnectError(f"method {method.decode('latin-1')!r} is not CONNECT", 405)
    if not re.fullmatch(rb"HTTP/\d\.\d", version):
        raise ConnectError(f"malformed version {version[:50]!r}")
    if not version.startswith(b"HTTP/1."):
        raise ConnectError(f"unsupported version {version.decode()}", 505)
    try:
        host, port = _split_authority(target.decode("ascii"))
    except UnicodeDecodeError as e:
        raise ConnectError("non-ASCII CONNECT target") from e
    headers: list[tuple[str, str]] = []
    auth: str | None = None
    for raw in lines[1:]:
        if not raw:
            raise ConnectError("blank line inside the head")
        if raw[:1] in (b" ", b"\t"):
            raise ConnectError("obsolete header folding")
        name_b, sep, value_b = raw.partition(b":")
        if not sep or not _TOKEN.match(name_b):
            raise ConnectError(f"malformed header line {raw[:100]!r}")
        name = name_b.decode("ascii")
        value = value_b.strip(b" \t").decode("latin-1")
        if name.lower() == "proxy-authorization":
            scheme, _, cred = value.partition(" ")
            kept = fingerprint(cred.strip()) if fingerprint is not None else _REDACTED
            value = auth = f"{scheme} {kept}" if cred else kept
        headers.append((name, value))
    return ConnectRequest(host, port, version.decode("ascii"), tuple(headers), auth)


_REASONS = {
    400: "Bad Request",
    405: "Method Not Allowed",
    408: "Request Timeout",
    431: "Request Header Fields Too Large",
    502: "Bad Gateway",
    505: "HTTP Version Not Supported",
}


def error_response(status: int, message: str = "") -> bytes:
    body = (message or _REASONS.get(status, "Error")).encode("utf-8", "replace") + b"\n"
    extra = b"Allow: CONNECT\r\n" if status == 405 else b""
    return (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n".encode()
        + b"Content-Type: text/plain; charset=utf-8\r\n"
        + extra
        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )


def _peer(writer: asyncio.StreamWriter) -> str | None:
    addr = writer.get_extra_info("peername")
    if isinstance(addr, tuple) and len(addr) >= 2:
        return f"{addr[0]}:{addr[1]}"
    return None if addr is None else str(addr)


def _buffered(reader: asyncio.StreamReader) -> int:
    # bytes the StreamReader already holds (no public API; 0 if the attribute is gone)
    return len(getattr(reader, "_buffer", b""))


async def accept_tls(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    terminator: TlsTerminator,
    *,
    timeout: float = HANDSHAKE_TIMEOUT,
    peer: str | None = None,
) -> TlsHandshake:
    """Run the server side of a TLS handshake on an accepted stream, in place.

    On success ``reader``/``writer`` carry the decrypted stream. The returned record
    (also in ``terminator.log``) says ok or why not; nothing is raised for a failed
    handshake and the connection is then closed.
    """
    ctx, hs = terminator.context(peer if peer is not None else _peer(writer))
    try:
        if _buffered(reader):
            raise ConnectionError("client sent data before the tunnel was established")
        await writer.start_tls(ctx, ssl_handshake_timeout=timeout)
    except Exception as e:  # every failure is an outcome to record
        reason, text = classify_failure(e)
        if reason == "closed" and hs.served is not None:
            text += (
                " (after our certificate was sent: a client rejecting it without an"
                " alert looks like this)"
            )
        hs.ok, hs.reason, hs.error = False, reason, text
        writer.transport.abort()
    else:
        sslobj = writer.get_extra_info("ssl_object")
        if sslobj is not None:
            hs.alpn = sslobj.selected_alpn_protocol()
            hs.version = sslobj.version()
        hs.ok = True
    terminator.log.record(hs)
    return hs


@dataclass
class Tunnel:
    request: ConnectRequest | None
    handshake: TlsHandshake | None = None
    error: str | None = None  # why the tunnel was not opened, if it was not
    status: int | None = None  # what we answered to the CONNECT
    peer: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None and self.handshake is not None and bool(self.handshake.ok)


OnTunnel = Callable[[Tunnel, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def serve_connect(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    on_tunnel: OnTunnel,
    *,
    terminator: TlsTerminator,
    fingerprint: Callable[[str], str] | None = None,
    head_timeout: float = HEAD_TIMEOUT,
    handshake_timeout: float = HANDSHAKE_TIMEOUT,
    on_done: Callable[[Tunnel], None] | None = None,
) -> Tunnel:
    """One proxy connection: CONNECT head → 200 → TLS → ``on_tunnel``.

    Returns (and gives ``on_done``) the :class:`Tunnel` record; a malformed head gets
    the matching 4xx, a failed handshake is recorded; neither raises. The connection is
    closed when this returns.
    """
    peer = _peer(writer)
    tunnel = Tunnel(None, peer=peer)
    try:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), head_timeout)
        except asyncio.LimitOverrunError:
            raise ConnectError(f"request head over {MAX_HEAD} bytes", 431) from None
        except asyncio.IncompleteReadError as e:
            raise ConnectError(
                f"connection closed inside the head ({len(e.partial)} bytes)"
            ) from None
        except TimeoutError:
            raise ConnectError("no complete request head in time", 408) from None
        tunnel.request = parse_connect_head(head, fingerprint=fingerprint)
        writer.write(ESTABLISHED)
        await writer.drain()
        tunnel.status = 200
        tunnel.handshake = await accept_tls(
            reader, writer, terminator, timeout=handshake_timeout, peer=peer
        )
        if tunnel.handshake.ok:
            try:
                await on_tunnel(tunnel, reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError) as e:
                tunnel.notes.append(f"tunnel ended: {e!r}")
            except Exception as e:  # the handler's bug must not end the proxy
                tunnel.error = f"tunnel handler failed: {type(e).__name__}: {e}"
    except ConnectError as e:
        tunnel.error, tunnel.status = str(e), e.status
        with contextlib.suppress(ConnectionError):
            writer.write(error_response(e.status, str(e)))
            await writer.drain()
    except ConnectionError as e:
        tunnel.error = f"connection lost: {e!r}"
    finally:
        if not writer.is_closing():
            writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.wait_closed(), 2.0)
        if on_done is not None:
            on_done(tunnel)
    return tunnel
