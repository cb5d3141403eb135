"""The hermetic mode's DNS responder: every name resolves to the capture endpoint.

A sans-IO core (:func:`parse_query`, :func:`answer`, :func:`error_response`,
:func:`respond`) and a small asyncio server (:class:`DnsServer`) that serves UDP and TCP
on sockets the caller already bound (the sandbox binds them inside the run's network
namespace and hands them over, like the capture server's listening socket).

What it answers (RFC 1035 wire format):

- ``A`` (and ``ANY``) for a name the resolver maps → one ``A`` record, the mapped IPv4
  address, TTL :data:`DEFAULT_TTL` (short: nothing should outlive a run);
- ``AAAA`` → NOERROR with no answer (NODATA), so the client falls back to ``A``; or one
  ``AAAA`` record when the server is given an IPv6 address (``ipv6="::1"``);
- any other type or class → NOERROR, empty;
- a name the resolver refuses (returns ``None``) → NXDOMAIN;
- a malformed query whose 12-byte header is readable → FORMERR (NOTIMP for an opcode
  other than QUERY, BADVERS for EDNS version > 0); shorter garbage and packets with QR
  set (responses: answering them could loop) → no reply at all.

Every query, answered or not, becomes a :class:`DnsQueryRecord` for the report.

Why a hand-written parser and not dnspython: the server only ever reads a *query* (one
question, optionally an EDNS OPT record) and writes a response of at most ~300 bytes, so
the whole wire format needed here is ~150 lines. Writing it keeps the contract exact and
easy to prove: :func:`parse_query` raises only :class:`DnsFormatError` (a property test
feeds it arbitrary bytes), compression pointers must point strictly backwards of every
earlier jump (no loops, bounded work), and FORMERR can be built from the header alone.
dnspython's ``from_wire`` raises a family of exceptions and parses much more than we
need; it is used in the tests instead, as an independent parser of what we emit.
Responses never need truncation: a name is at most 255 octets, so header + question +
one record + OPT stays under 512 bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from promptwitness.errors import WireError

log = logging.getLogger(__name__)

DEFAULT_TTL = 5
DEFAULT_ADDRESS = "127.0.0.1"
EDNS_UDP_SIZE = 1232  # the DNS flag day 2020 recommendation

# RR types and classes (IANA DNS parameters).
TYPE_NAMES: dict[int, str] = {
    1: "A",
    2: "NS",
    5: "CNAME",
    6: "SOA",
    12: "PTR",
    15: "MX",
    16: "TXT",
    28: "AAAA",
    33: "SRV",
    41: "OPT",
    64: "SVCB",
    65: "HTTPS",
    255: "ANY",
}
TYPE_A, TYPE_AAAA, TYPE_OPT, TYPE_ANY = 1, 28, 41, 255
CLASS_IN, CLASS_ANY = 1, 255

# Response codes (RFC 1035 §4.1.1; BADVERS from RFC 6891, carried partly in the OPT TTL).
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED, BADVERS = 0, 1, 2, 3, 4, 5, 16
RCODE_NAMES: dict[int, str] = {
    NOERROR: "NOERROR",
    FORMERR: "FORMERR",
    SERVFAIL: "SERVFAIL",
    NXDOMAIN: "NXDOMAIN",
    NOTIMP: "NOTIMP",
    REFUSED: "REFUSED",
    BADVERS: "BADVERS",
}

_QR, _AA, _TC, _RD, _RA, _CD = 0x8000, 0x0400, 0x0200, 0x0100, 0x0080, 0x0010
_MAX_NAME = 255  # octets on the wire, root label included
_MAX_JUMPS = 64

Resolve = Callable[[str], str | None]


def type_name(qtype: int) -> str:
    return TYPE_NAMES.get(qtype, f"TYPE{qtype}")


def rcode_name(rcode: int) -> str:
    return RCODE_NAMES.get(rcode, f"RCODE{rcode}")


def resolve_all(address: str = DEFAULT_ADDRESS) -> Resolve:
    """A resolver that maps every name to ``address``."""
    ipaddress.IPv4Address(address)  # fail early on a bad address

    def resolve(name: str) -> str | None:
        return address

    return resolve


@dataclass(frozen=True)
class Header:
    id: int
    flags: int
    qdcount: int
    ancount: int
    nscount: int
    arcount: int

    @property
    def opcode(self) -> int:
        return (self.flags >> 11) & 0xF

    @property
    def is_response(self) -> bool:
        return bool(self.flags & _QR)


class DnsFormatError(WireError):
    """The only exception :func:`parse_query` raises.

    ``header`` is the parsed header when its 12 bytes were readable (so an error response
    can be sent), else None; ``rcode`` is what to answer (FORMERR, NOTIMP or BADVERS).
    """

    def __init__(self, message: str, header: Header | None = None, rcode: int = FORMERR) -> None:
        super().__init__(message)
        self.header = header
        self.rcode = rcode


@dataclass(frozen=True)
class Edns:
    udp_size: int
    version: int
    flags: int  # the 16 flag bits of the OPT TTL (DO is 0x8000)


@dataclass(frozen=True)
class Query:
    header: Header
    labels: tuple[bytes, ...]
    qtype: int
    qclass: int
    edns: Edns | None = None

    @property
    def id(self) -> int:
        return self.header.id

    @property
    def name(self) -> str:
        """Presentation form as sent (case kept, no trailing dot; the root is ``.``)."""
        return name_text(self.labels)

    @property
    def type_name(self) -> str:
        return type_name(self.qtype)

    def qname_wire(self) -> bytes:
        return b"".join(bytes([len(lb)]) + lb for lb in self.labels) + b"\x00"


def _escape_label(label: bytes) -> str:
    out = []
    for b in label:
        if b in (0x2E, 0x5C):  # '.' and '\' inside a label
            out.append("\\" + chr(b))
        elif 0x21 <= b <= 0x7E:
            out.append(chr(b))
        else:
            out.append(f"\\{b:03d}")
    return "".join(out)


def name_text(labels: tuple[bytes, ...]) -> str:
    if not labels:
        return "."
    return ".".join(_escape_label(lb) for lb in labels)


def _read_name(data: bytes, offset: int, header: Header) -> tuple[tuple[bytes, ...], int]:
    """Labels of the name at ``offset`` and the offset just after it in the message.

    Compression pointers must point strictly before the start of the run of labels
    being read (the name's start, or the previous pointer's target), so the sequence of
    targets decreases and a loop is impossible; ``_MAX_JUMPS`` bounds it again.
    """
    labels: list[bytes] = []
    pos = offset
    floor = offset
    after: int | None = None
    total = 1
    jumps = 0
    while True:
        if pos >= len(data):
            raise DnsFormatError("name runs past the end of the message", header)
        n = data[pos]
        kind = n & 0xC0
        if kind == 0xC0:
            if pos + 1 >= len(data):
                raise DnsFormatError("truncated compression pointer", header)
            target = ((n & 0x3F) << 8) | data[pos + 1]
            if target >= floor:
                raise DnsFormatError(
                    f"compression pointer at {pos} to {target} does not point backwards", header
                )
            jumps += 1
            if jumps > _MAX_JUMPS:
                raise DnsFormatError("too many compression pointers", header)
            if after is None:
                after = pos + 2
            pos = floor = target
            continue
        if kind != 0:
            raise DnsFormatError(f"unsupported label type 0x{kind:02x} at {pos}", header)
        if n == 0:
            return tuple(labels), (pos + 1 if after is None else after)
        if pos + 1 + n > len(data):
            raise DnsFormatError("label runs past the end of the message", header)
        total += n + 1
        if total > _MAX_NAME:
            raise DnsFormatError("name longer than 255 octets", header)
        labels.append(data[pos + 1 : pos + 1 + n])
        pos += 1 + n


def _u16(data: bytes, pos: int, header: Header, what: str) -> int:
    if pos + 2 > len(data):
        raise DnsFormatError(f"truncated {what}", header)
    return int.from_bytes(data[pos : pos + 2], "big")


def parse_header(data: bytes) -> Header | None:
    if len(data) < 12:
        return None
    return Header(*struct.unpack("!6H", data[:12]))


def parse_query(data: bytes) -> Query:
    """Parse one DNS query message. Raises only :class:`DnsFormatError`.

    Requirements: a readable header, QR clear, opcode QUERY (else rcode NOTIMP), exactly
    one question, every record of the answer/authority/additional sections well formed
    (they are skipped), at most one OPT record, with the root as owner (its EDNS
    version > 0 gives rcode BADVERS). Bytes after the last record are ignored.
    """
    header = parse_header(data)
    if header is None:
        raise DnsFormatError(f"message of {len(data)} bytes is shorter than a header")
    if header.is_response:
        raise DnsFormatError("QR is set: a response, not a query", header)
    if header.opcode != 0:
        raise DnsFormatError(f"opcode {header.opcode} is not QUERY", header, NOTIMP)
    if header.qdcount != 1:
        raise DnsFormatError(f"QDCOUNT is {header.qdcount}, not 1", header)
    labels, pos = _read_name(data, 12, header)
    qtype = _u16(data, pos, header, "QTYPE")
    qclass = _u16(data, pos + 2, header, "QCLASS")
    pos += 4
    edns: Edns | None = None
    sections = (header.ancount, header.nscount, header.arcount)
    for section, count in enumerate(sections):
        for _ in range(count):
            owner, pos = _read_name(data, pos, header)
            if pos + 10 > len(data):
                raise DnsFormatError("truncated resource record", header)
            rtype, rclass, ttl, rdlength = struct.unpack("!HHIH", data[pos : pos + 10])
            pos += 10
            if pos + rdlength > len(data):
                raise DnsFormatError("resource record data runs past the end", header)
            pos += rdlength
            if rtype != TYPE_OPT:
                continue
            if section != 2:
                raise DnsFormatError("OPT record outside the additional section", header)
            if edns is not None:
                raise DnsFormatError("more than one OPT record", header)
            if owner:
                raise DnsFormatError("OPT record owner is not the root", header)
            edns = Edns(udp_size=rclass, version=(ttl >> 16) & 0xFF, flags=ttl & 0xFFFF)
    query = Query(header, labels, qtype, qclass, edns)
    if edns is not None and edns.version != 0:
        raise DnsFormatError(f"EDNS version {edns.version} is not supported", header, BADVERS)
    return query


def _opt_record(ext_rcode: int = 0) -> bytes:
    # root owner, TYPE OPT, CLASS = UDP payload size, TTL = ext-rcode|version|flags, no data
    return b"\x00" + struct.pack("!HHIH", TYPE_OPT, EDNS_UDP_SIZE, ext_rcode << 24, 0)


def _flags(query_flags: int, rcode: int) -> int:
    return _QR | _AA | _RA | (query_flags & (_RD | _CD)) | (rcode & 0xF)


def _message(
    header: Header, rcode: int, question: bytes, answers: list[bytes], edns: bool
) -> bytes:
    additional = [_opt_record(rcode >> 4)] if edns else []
    head = struct.pack(
        "!6H",
        header.id,
        _flags(header.flags, rcode),
        1 if question else 0,
        len(answers),
        0,
        len(additional),
    )
    return head + question + b"".join(answers) + b"".join(additional)


def _question_of(data: bytes, header: Header) -> bytes:
    """The first question, re-encoded, when it is parseable; else nothing."""
    try:
        labels, pos = _read_name(data, 12, header)
        qtype = _u16(data, pos, header, "QTYPE")
        qclass = _u16(data, pos + 2, header, "QCLASS")
    except DnsFormatError:
        return b""
    q = Query(header, labels, qtype, qclass)
    return q.qname_wire() + struct.pack("!HH", qtype, qclass)


def error_response(data: bytes, error: DnsFormatError) -> bytes | None:
    """The error reply to a query that failed to parse, or None when none is due.

    None when the header was unreadable or the packet was a response (QR set).
    """
    header = error.header
    if header is None or header.is_response:
        return None
    question = b""
    if header.qdcount == 1 and error.rcode != NOTIMP:
        question = _question_of(data, header)
    return _message(header, error.rcode, question, [], edns=error.rcode == BADVERS)


@dataclass(frozen=True)
class Answered:
    rcode: int
    address: str | None  # the address put in the answer, if any


def answer_query(
    query: Query, resolve: Resolve, *, ttl: int = DEFAULT_TTL, ipv6: str | None = None
) -> tuple[bytes, Answered]:
    """The response to ``query`` and what it said. Raises ValueError when ``resolve``
    returns something that is not an IPv4 address (a bug in the caller's map)."""
    if not 0 <= ttl <= 0x7FFFFFFF:
        raise ValueError(f"bad TTL {ttl}")
    question = query.qname_wire() + struct.pack("!HH", query.qtype, query.qclass)
    answers: list[bytes] = []
    rcode = NOERROR
    address: str | None = None
    if query.qclass in (CLASS_IN, CLASS_ANY):
        mapped = resolve(query.name.lower())
        if mapped is None:
            rcode = NXDOMAIN
        else:
            v4 = ipaddress.IPv4Address(mapped)
            if query.qtype in (TYPE_A, TYPE_ANY):
                answers.append(_rr(TYPE_A, ttl, v4.packed))
                address = str(v4)
            if query.qtype in (TYPE_AAAA, TYPE_ANY) and ipv6 is not None:
                v6 = ipaddress.IPv6Address(ipv6)
                answers.append(_rr(TYPE_AAAA, ttl, v6.packed))
                address = address or str(v6)
    msg = _message(query.header, rcode, question, answers, edns=query.edns is not None)
    return msg, Answered(rcode, address)


def _rr(rtype: int, ttl: int, rdata: bytes) -> bytes:
    # owner = compression pointer to the question name at offset 12
    return b"\xc0\x0c" + struct.pack("!HHIH", rtype, CLASS_IN, ttl, len(rdata)) + rdata


def answer(
    query: Query, resolve: Resolve, *, ttl: int = DEFAULT_TTL, ipv6: str | None = None
) -> bytes:
    """The response bytes to ``query`` (see the module docstring for what it says)."""
    return answer_query(query, resolve, ttl=ttl, ipv6=ipv6)[0]


@dataclass(frozen=True)
class DnsQueryRecord:
    """One query as the report shows it."""

    client: str
    transport: str  # "udp" | "tcp"
    name: str | None
    qtype: int | None
    rcode: int | None  # None: no reply was sent
    address: str | None = None
    error: str | None = None
    time: float = field(default_factory=time.time)

    @property
    def type_name(self) -> str | None:
        return None if self.qtype is None else type_name(self.qtype)

    @property
    def rcode_name(self) -> str | None:
        return None if self.rcode is None else rcode_name(self.rcode)

    def as_dict(self) -> dict[str, object]:
        return {
            "client": self.client,
            "transport": self.transport,
            "name": self.name,
            "type": self.type_name,
            "rcode": self.rcode_name,
            "address": self.address,
            "error": self.error,
            "time": self.time,
        }


def respond(
    data: bytes,
    resolve: Resolve,
    *,
    client: str = "",
    transport: str = "udp",
    ttl: int = DEFAULT_TTL,
    ipv6: str | None = None,
) -> tuple[bytes | None, DnsQueryRecord]:
    """Parse, answer and record one message; never raises.

    A resolver that raises or returns a non-IPv4 value gives SERVFAIL (recorded).
    """
    try:
        query = parse_query(data)
    except DnsFormatError as e:
        reply = error_response(data, e)
        name, qtype = _best_effort_question(data, e.header)
        rec = DnsQueryRecord(
            client, transport, name, qtype, None if reply is None else e.rcode, error=str(e)
        )
        return reply, rec
    try:
        reply, said = answer_query(query, resolve, ttl=ttl, ipv6=ipv6)
    except Exception as e:  # a broken resolver must not take the server down
        reply = _message(
            query.header,
            SERVFAIL,
            query.qname_wire() + struct.pack("!HH", query.qtype, query.qclass),
            [],
            edns=query.edns is not None,
        )
        return reply, DnsQueryRecord(
            client,
            transport,
            query.name,
            query.qtype,
            SERVFAIL,
            error=f"resolver failed: {type(e).__name__}: {e}",
        )
    return reply, DnsQueryRecord(
        client, transport, query.name, query.qtype, said.rcode, said.address
    )


def _best_effort_question(data: bytes, header: Header | None) -> tuple[str | None, int | None]:
    if header is None or header.qdcount < 1:
        return None, None
    try:
        labels, pos = _read_name(data, 12, header)
        qtype = _u16(data, pos, header, "QTYPE")
    except DnsFormatError:
        return None, None
    return name_text(labels), qtype


class DnsLog:
    """Thread-safe record of every query; usable directly as ``on_query``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[DnsQueryRecord] = []

    def record(self, entry: DnsQueryRecord) -> None:
        with self._lock:
            self._entries.append(entry)

    __call__ = record

    def entries(self) -> list[DnsQueryRecord]:
        with self._lock:
            return list(self._entries)

    def names(self) -> list[str]:
        """Distinct names asked for, in first-asked order, lower-cased."""
        seen: dict[str, None] = {}
        for e in self.entries():
            if e.name is not None:
                seen.setdefault(e.name.lower(), None)
        return list(seen)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def _peer(addr: object) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        return f"{addr[0]}:{addr[1]}"
    return str(addr)


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        reply = self.server._handle(data, _peer(addr), "udp")
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("dns udp error: %s", exc)


class DnsServer:
    """Serves :func:`respond` over UDP and TCP (RFC 7766 framing) on given sockets."""

    def __init__(
        self,
        resolve: Resolve | None = None,
        on_query: Callable[[DnsQueryRecord], None] | None = None,
        *,
        ttl: int = DEFAULT_TTL,
        ipv6: str | None = None,
        tcp_idle: float = 10.0,
    ) -> None:
        self.resolve = resolve if resolve is not None else resolve_all()
        self.on_query = on_query
        self.ttl = ttl
        self.ipv6 = ipv6
        self.tcp_idle = tcp_idle
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()

    def _handle(self, data: bytes, client: str, transport: str) -> bytes | None:
        reply, rec = respond(
            data, self.resolve, client=client, transport=transport, ttl=self.ttl, ipv6=self.ipv6
        )
        if self.on_query is not None:
            try:
                self.on_query(rec)
            except Exception:
                log.exception("dns on_query callback failed")
        return reply

    async def start(
        self, *, udp_sock: socket.socket | None = None, tcp_sock: socket.socket | None = None
    ) -> None:
        """Serve the given bound sockets (a UDP one, a listening TCP one, or both)."""
        if udp_sock is None and tcp_sock is None:
            raise ValueError("DnsServer.start needs a udp_sock or a tcp_sock")
        loop = asyncio.get_running_loop()
        if udp_sock is not None:
            udp_sock.setblocking(False)
            transport, _ = await loop.create_datagram_endpoint(lambda: _Udp(self), sock=udp_sock)
            self._udp = transport
        if tcp_sock is not None:
            tcp_sock.setblocking(False)
            self._tcp = await asyncio.start_server(self._tcp_client, sock=tcp_sock)

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._clients.add(task)
        client = _peer(writer.get_extra_info("peername"))
        try:
            while True:
                try:
                    size = await asyncio.wait_for(reader.readexactly(2), self.tcp_idle)
                    data = await asyncio.wait_for(
                        reader.readexactly(int.from_bytes(size, "big")), self.tcp_idle
                    )
                except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
                    return
                reply = self._handle(data, client, "tcp")
                if reply is None:
                    return
                writer.write(len(reply).to_bytes(2, "big") + reply)
                await writer.drain()
        except ConnectionError:
            return
        finally:
            if task is not None:
                self._clients.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            for task in list(self._clients):
                task.cancel()
            if self._clients:
                await asyncio.gather(*self._clients, return_exceptions=True)
            await self._tcp.wait_closed()
            self._tcp = None
