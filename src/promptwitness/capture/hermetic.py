"""Hermetic mode (IO edge): the agent runs as installed, every host it talks to is us.

Inside a run's network namespace (the sandbox binds the sockets and hands them over):

- ``udp:53`` and ``53`` — :class:`~promptwitness.capture.dns.DnsServer`: every name
  resolves to the capture endpoint (127.0.0.1), or to what ``HermeticOptions.resolve``
  maps it to; every query is logged (:class:`~promptwitness.capture.dns.DnsLog`);
- ``443`` — TLS terminated with a certificate minted for the SNI name by the probe's
  :class:`~promptwitness.capture.tls.CertificateAuthority`; the decrypted stream is
  handed to the :class:`~promptwitness.capture.server.CaptureServer`'s own aiohttp
  protocol (``transport.set_protocol``), so the exchange says ``https`` and its host;
- ``80`` — plain HTTP, straight to the capture server;
- the capture port (``PORT``) — plain HTTP (base-URL levels) *and* HTTP ``CONNECT``
  (proxy levels point here: the tunnel's TLS is terminated like port 443).

Every handshake, failed ones included, is in a :class:`~promptwitness.capture.tls.TlsLog`
(a client that rejects our certificate is an outcome, not a crash).

CA trust (:class:`Trust`): first the system bundle files, replaced in the run's ``/etc``
overlay by the system bundle plus our CA (``etc_files``); only when a client rejects our
certificate that way, the CA variable of the agent's runtime
(``capture.tls.CA_TRUST``), because such a variable is itself observable. The CA's
private key stays in this process: only its certificate is ever written (into the
run's ``/etc`` overlay, a tmpfs).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from promptwitness.capture.connect import Tunnel, accept_tls, serve_connect
from promptwitness.capture.dns import DnsLog, DnsServer, Resolve
from promptwitness.capture.server import CaptureServer, LoopThread
from promptwitness.capture.tls import (
    CA_TRUST,
    DEFAULT_SYSTEM_BUNDLE,
    SYSTEM_BUNDLE_FILES,
    CertificateAuthority,
    TlsHandshake,
    TlsLog,
    TlsTerminator,
    bundle_with,
    ca_variables,
)
from promptwitness.errors import CaptureError
from promptwitness.model import CannedReply

__all__ = [
    "BUNDLE_FILE",
    "CA_FILE",
    "DNS_PORT",
    "HTTPS_PORT",
    "HTTP_PORT",
    "RUNTIMES",
    "HermeticOptions",
    "HermeticServer",
    "HermeticThread",
    "Trust",
    "egress",
    "json_reply",
    "rejected",
    "resolve_map",
]

log = logging.getLogger("promptwitness.capture.hermetic")

DNS_PORT = 53
HTTP_PORT = 80
HTTPS_PORT = 443
CA_FILE = "/etc/promptwitness/ca.pem"  # our CA certificate alone ("extends" variables)
BUNDLE_FILE = "/etc/promptwitness/bundle.pem"  # system bundle + our CA ("replaces")
PEEK_TIMEOUT = 10.0

# A profile's runtime -> the rows of CA_TRUST that describe it.
RUNTIMES: dict[str, tuple[str, ...]] = {
    "node": ("node",),
    "bun": ("bun",),
    "deno": ("deno",),
    "rust": ("rust-native-certs",),
    "python": ("python-httpx", "python-requests"),
    "go": ("go",),
    "openssl": ("openssl",),
}


def json_reply(status: int = 200, body: object | None = None) -> CannedReply:
    """A JSON answer (``{}`` by default)."""
    data = json.dumps({} if body is None else body).encode()
    return CannedReply(status, (("Content-Type", "application/json"),), (data,))


DEFAULT_FALLBACK = json_reply(200)


def resolve_map(mapping: Mapping[str, str], default: str | None = "127.0.0.1") -> Resolve:
    """A resolver: ``mapping`` (lower-case names) first, else ``default`` (None: NXDOMAIN)."""
    table = {k.lower().rstrip("."): v for k, v in mapping.items()}

    def resolve(name: str) -> str | None:
        return table.get(name.lower().rstrip("."), default)

    return resolve


@dataclass(frozen=True)
class HermeticOptions:
    """What the hermetic endpoints answer, and how the agent's runtime trusts a CA."""

    # (METHOD or "*", path) -> reply: what the agent's own hosts must answer (profile)
    answers: Mapping[tuple[str, str], CannedReply] = field(default_factory=dict)
    # what paths no protocol knows get, on any host (None: the sink's JSON 404)
    fallback: CannedReply | None = DEFAULT_FALLBACK
    runtimes: tuple[str, ...] = ()  # keys of RUNTIMES (or of CA_TRUST)
    default_hosts: tuple[str, ...] = ()  # the hosts the agent is declared to contact
    resolve: Mapping[str, str] = field(default_factory=dict)  # DNS map; others: address
    address: str = "127.0.0.1"

    def trust_rows(self) -> tuple[str, ...]:
        """The CA_TRUST rows of ``runtimes``; none given: every runtime that ignores the
        system bundle (so that an unknown agent still gets a variable it may read)."""
        if not self.runtimes:
            return tuple(n for n, t in CA_TRUST.items() if not t.system_bundle)
        out: list[str] = []
        for r in self.runtimes:
            rows = RUNTIMES.get(r) or ((r,) if r in CA_TRUST else None)
            if rows is None:
                known = ", ".join([*RUNTIMES, *CA_TRUST])
                raise ValueError(f"unknown runtime {r!r}; known: {known}")
            out += [x for x in rows if x not in out]
        return tuple(out)

    def resolver(self) -> Resolve:
        return resolve_map(self.resolve, self.address)


@dataclass(frozen=True)
class Trust:
    """How the run trusts our CA: the system bundle files alone, or also variables."""

    variables: tuple[tuple[str, str], ...] = ()  # (name, file) set in the environment

    @property
    def mode(self) -> str:
        return "variable" if self.variables else "system-bundle"

    @property
    def label(self) -> str:
        if not self.variables:
            return "system-bundle"
        return "variable " + ",".join(n for n, _ in self.variables)

    @classmethod
    def for_runtimes(cls, rows: Iterable[str]) -> Trust:
        # ca_variables skips runtimes that trust the system bundle; here the variables
        # are asked for because the bundle did not do, so take every row's variables
        env: dict[str, str] = {}
        for name in rows:
            t = CA_TRUST[name]
            for var in t.variables:
                env.setdefault(var, CA_FILE if t.semantics == "extends" else BUNDLE_FILE)
        env = env or ca_variables(rows, CA_FILE, BUNDLE_FILE)
        return cls(tuple(sorted(env.items())))

    def env(self) -> dict[str, str]:
        return dict(self.variables)

    def etc_files(
        self,
        ca_pem: bytes,
        system_bundle: str = DEFAULT_SYSTEM_BUNDLE,
    ) -> dict[str, bytes]:
        """Files for the run's ``/etc`` overlay (paths relative to ``/etc``): every system
        bundle file that exists here (and always the Debian one) replaced by the system
        bundle plus our CA; with variables, also ``CA_FILE`` and ``BUNDLE_FILE``."""
        bundle = bundle_with(ca_pem, system_bundle)
        out: dict[str, bytes] = {}
        for path in SYSTEM_BUNDLE_FILES:
            if path == DEFAULT_SYSTEM_BUNDLE or os.path.exists(path):
                out[path.removeprefix("/etc/")] = bundle
        if self.variables:
            out[CA_FILE.removeprefix("/etc/")] = ca_pem
            out[BUNDLE_FILE.removeprefix("/etc/")] = bundle
        return out


@contextlib.contextmanager
def cancel_on_rejection(
    server: HermeticServer, interval: float = 0.05
) -> Iterator[threading.Event]:
    """An event set as soon as a client has refused our certificate, for
    ``Sandbox.run(..., cancel=event)``: a run whose client rejects the bundle is stopped
    at once instead of waiting out its retries."""
    event = threading.Event()
    done = threading.Event()

    def watch() -> None:
        while not done.wait(interval):
            if rejected(server.tls_log.entries()):
                event.set()
                return

    thread = threading.Thread(target=watch, daemon=True, name="promptwitness-tls-watch")
    thread.start()
    try:
        yield event
    finally:
        done.set()
        thread.join()


def rejected(handshakes: Iterable[TlsHandshake]) -> list[TlsHandshake]:
    """Handshakes in which the client refused our certificate (an alert, or a hang-up
    right after it was sent: Node closes without an alert)."""
    return [
        h
        for h in handshakes
        if h.ok is False
        and (
            h.reason == "client-rejected-certificate"
            or (h.reason == "closed" and h.served is not None)
        )
    ]


class _Relay(asyncio.Protocol):
    """Sits between a transport and aiohttp's protocol to learn when it is closed."""

    def __init__(self, inner: asyncio.Protocol, done: asyncio.Future[None]) -> None:
        self.inner = inner
        self.done = done

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        try:
            self.inner.connection_lost(exc)
        finally:
            if not self.done.done():
                self.done.set_result(None)


async def hand_over(
    server: CaptureServer,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    pending: bytes = b"",
) -> None:
    """Give an accepted (maybe TLS-upgraded) stream to the capture server's aiohttp
    protocol, with whatever the stream reader already holds, and wait until it closes."""
    transport = writer.transport
    if transport.is_closing():
        return
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    proto = server.protocol_factory()()
    buffered = getattr(reader, "_buffer", None)  # no public API for what was read ahead
    if isinstance(buffered, bytearray) and buffered:
        pending += bytes(buffered)
        buffered.clear()
    relay = _Relay(proto, done)
    transport.set_protocol(relay)
    relay.connection_made(transport)
    if pending:
        relay.data_received(pending)
    if reader.at_eof():
        relay.eof_received()
    with contextlib.suppress(Exception):
        if isinstance(transport, asyncio.ReadTransport) and not transport.is_reading():
            transport.resume_reading()
    await done


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


async def _peek(sock: socket.socket, n: int, timeout: float) -> bytes:
    """Up to ``n`` bytes at the head of ``sock``'s input, not consumed: fewer when they
    already show it is not ``CONNECT``, when the peer closes, or after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last = b""
    while True:
        try:
            data = sock.recv(n, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            return last
        else:
            if not data:  # the peer closed
                return last
            if len(data) >= n or not b"CONNECT "[:n].startswith(data):
                return data
            last = data
        if loop.time() > deadline:
            return last
        if last:  # a partial "CONNECT " stays readable: poll instead of spinning
            await asyncio.sleep(0.01)
            continue
        ready: asyncio.Future[None] = loop.create_future()
        loop.add_reader(sock.fileno(), _wake, ready)
        try:
            await asyncio.wait_for(ready, max(0.01, deadline - loop.time()))
        except TimeoutError:
            pass
        finally:
            loop.remove_reader(sock.fileno())


async def _server_streams(
    conn: socket.socket,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Streams for an accepted socket that know they are the server side (so that
    ``StreamWriter.start_tls`` runs a server handshake, as for ``start_server``)."""
    loop = asyncio.get_running_loop()
    made: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = loop.create_future()

    def connected(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        made.set_result((r, w))

    reader = asyncio.StreamReader(limit=2**16, loop=loop)
    await loop.connect_accepted_socket(
        lambda: asyncio.StreamReaderProtocol(reader, connected, loop=loop), sock=conn
    )
    return await made


class HermeticServer:
    """One run's hermetic endpoints (DNS, TLS, plain, CONNECT) in front of a capture
    server; serve the sockets a sandbox hands over with :meth:`start`."""

    def __init__(
        self,
        server: CaptureServer,
        ca: CertificateAuthority,
        options: HermeticOptions | None = None,
        *,
        capture_port: int | None = None,
    ) -> None:
        self.server = server
        self.options = options or HermeticOptions()
        self.dns_log = DnsLog()
        self.tls_log = TlsLog()
        self.terminator = TlsTerminator(ca, "localhost", log=self.tls_log)
        self.capture_port = capture_port
        self.tunnels: list[Tunnel] = []
        self._dns: DnsServer | None = None
        self._servers: list[asyncio.Server] = []
        self._accepting: list[asyncio.Task[None]] = []
        self._clients: set[asyncio.Task[None]] = set()

    async def start(self, socks: Mapping[int | str, socket.socket]) -> None:
        """Serve ``socks`` (keys: ``"udp:53"``, ``53``, ``80``, ``443``, the capture port)."""
        udp, tcp = socks.get(f"udp:{DNS_PORT}"), socks.get(DNS_PORT)
        if udp is not None or tcp is not None:
            self._dns = DnsServer(self.options.resolver(), self.dns_log)
            await self._dns.start(udp_sock=udp, tcp_sock=tcp)
        if HTTP_PORT not in socks:
            raise CaptureError("hermetic mode needs the plain HTTP socket (port 80)")
        await self.server.start(sock=socks[HTTP_PORT])
        if HTTPS_PORT in socks:
            s = socks[HTTPS_PORT]
            s.setblocking(False)
            self._servers.append(await asyncio.start_server(self._tls_client, sock=s))
        if self.capture_port is not None and self.capture_port in socks:
            s = socks[self.capture_port]
            s.setblocking(False)
            self._accepting.append(asyncio.create_task(self._accept_loop(s)))

    def _track(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._clients.add(task)
            task.add_done_callback(self._clients.discard)

    async def _tls_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._track()
        try:
            hs = await accept_tls(reader, writer, self.terminator)
            if hs.ok:
                await hand_over(self.server, reader, writer)
        except Exception:  # one connection's failure never ends the endpoint
            log.exception("hermetic TLS connection failed")
            writer.transport.abort()

    async def _accept_loop(self, lsock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(lsock)
            except (asyncio.CancelledError, GeneratorExit):
                raise
            except OSError as e:
                log.debug("accept failed: %s", e)
                await asyncio.sleep(0.05)
                continue
            conn.setblocking(False)
            task = asyncio.create_task(self._capture_client(conn))
            self._clients.add(task)
            task.add_done_callback(self._clients.discard)

    async def _capture_client(self, conn: socket.socket) -> None:
        try:
            head = await _peek(conn, 8, PEEK_TIMEOUT)
            reader, writer = await _server_streams(conn)
        except Exception:
            conn.close()
            return
        try:
            if head == b"CONNECT ":
                await serve_connect(
                    reader,
                    writer,
                    self._tunnel,
                    terminator=self.terminator,
                    fingerprint=self.server.redactor.fingerprint,
                    on_done=self._tunnel_done,
                )
            else:
                await hand_over(self.server, reader, writer)
        except Exception:
            log.exception("hermetic capture-port connection failed")
            writer.transport.abort()

    def _tunnel_done(self, tunnel: Tunnel) -> None:
        if not any(t is tunnel for t in self.tunnels):
            self.tunnels.append(tunnel)

    async def _tunnel(
        self, tunnel: Tunnel, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._tunnel_done(tunnel)  # open: listed now (it may outlive the run)
        await hand_over(self.server, reader, writer)

    async def stop(self) -> None:
        """Stop every listener and the capture server (every exchange is then stored)."""
        for t in self._accepting:
            t.cancel()
        for srv in self._servers:
            srv.close()
        if self._dns is not None:
            await self._dns.stop()
        await self.server.stop()
        for task in list(self._clients):
            task.cancel()
        if self._clients:
            await asyncio.gather(*self._clients, return_exceptions=True)
        for t in self._accepting:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._accepting.clear()
        self._servers.clear()

    def report(self) -> dict[str, Any]:
        """DNS names looked up and TLS handshakes, as JSON values."""
        return {
            "dns_names": self.dns_log.names(),
            "dns_queries": len(self.dns_log),
            "tls": [h.as_dict() for h in self.tls_log.entries()],
            "tunnels": [
                {
                    "authority": t.request.authority if t.request else None,
                    "status": t.status,
                    "ok": t.ok,
                    "error": t.error,
                }
                for t in self.tunnels
            ],
        }


class HermeticThread:
    """A :class:`HermeticServer` on its own event loop thread (for synchronous callers,
    like :class:`~promptwitness.capture.server.ServerThread`)."""

    def __init__(self, hermetic: HermeticServer) -> None:
        self.hermetic = hermetic
        self._loop = LoopThread("promptwitness-hermetic")

    def start(self, socks: Mapping[int | str, socket.socket]) -> None:
        try:
            self._loop.call(self.hermetic.start(socks))
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self._loop.stop(self.hermetic.stop)

    @contextlib.contextmanager
    def serving(self, socks: Mapping[int | str, socket.socket]) -> Any:
        self.start(socks)
        try:
            yield self
        finally:
            self.stop()


class _Exchange(Protocol):
    @property
    def host(self) -> str: ...
    @property
    def scheme(self) -> str: ...
    @property
    def method(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def request_size(self) -> int: ...
    @property
    def response_size(self) -> int: ...


def host_name(host: str) -> str:
    """A Host header without its default port, lower-cased."""
    h = host.strip().lower()
    for suffix in (":443", ":80"):
        if h.endswith(suffix):
            return h[: -len(suffix)]
    return h


def egress(exchanges: Sequence[_Exchange]) -> dict[str, dict[str, Any]]:
    """Per host: scheme(s), requests, bytes sent/received, and per ``METHOD path`` the
    same counts (JSON values, hosts and paths sorted)."""
    hosts: dict[str, dict[str, Any]] = {}
    for x in exchanges:
        h = hosts.setdefault(
            host_name(x.host),
            {"schemes": [], "requests": 0, "bytes_sent": 0, "bytes_received": 0, "paths": {}},
        )
        if x.scheme not in h["schemes"]:
            h["schemes"].append(x.scheme)
        h["requests"] += 1
        h["bytes_sent"] += x.request_size
        h["bytes_received"] += x.response_size
        key = f"{x.method} {x.target.split('?', 1)[0]}"
        p = h["paths"].setdefault(key, {"count": 0, "bytes_sent": 0, "bytes_received": 0})
        p["count"] += 1
        p["bytes_sent"] += x.request_size
        p["bytes_received"] += x.response_size
    return {
        k: {**v, "schemes": sorted(v["schemes"]), "paths": dict(sorted(v["paths"].items()))}
        for k, v in sorted(hosts.items())
    }


def default_hosts_seen(egress_doc: Mapping[str, Any], declared: Iterable[str]) -> list[str]:
    """Hosts contacted that the profile does not declare."""
    known = {d.lower() for d in declared}
    return [h for h in egress_doc if h.split(":")[0] not in known]
