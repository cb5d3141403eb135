"""The hermetic DNS responder: pure core against dnspython as an independent parser,
bad input, and the asyncio server on loopback sockets."""

from __future__ import annotations

import asyncio
import socket
import struct

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptwitness.capture import dns as pdns
from promptwitness.capture.dns import (
    DnsFormatError,
    DnsLog,
    DnsServer,
    answer,
    parse_query,
    resolve_all,
    respond,
)


def wire(name: str, rdtype: str = "A", *, edns: int = -1, qid: int = 0x1234) -> bytes:
    q = dns.message.make_query(name, rdtype, use_edns=edns)
    q.id = qid
    return q.to_wire()


def parse_reply(data: bytes) -> dns.message.Message:
    return dns.message.from_wire(data)


HEADER = struct.pack("!6H", 0xBEEF, 0x0100, 1, 0, 0, 0)


# --- parse_query -----------------------------------------------------------------------


def test_parse_plain_query() -> None:
    q = parse_query(wire("API.Anthropic.com.", "AAAA", qid=77))
    assert q.id == 77
    assert q.name == "API.Anthropic.com"  # case kept as sent (0x20 randomisation)
    assert q.labels == (b"API", b"Anthropic", b"com")
    assert q.qtype == 28 and q.type_name == "AAAA"
    assert q.qclass == 1
    assert q.edns is None


def test_parse_edns_query() -> None:
    q = parse_query(wire("example.org.", edns=0))
    assert q.edns is not None
    assert q.edns.version == 0
    assert q.edns.udp_size == dns.message.DEFAULT_EDNS_PAYLOAD


def test_root_and_escaped_names() -> None:
    assert parse_query(wire(".")).name == "."
    raw = HEADER + b"\x03a.b\x02\x00\xff\x00" + struct.pack("!HH", 1, 1)
    assert parse_query(raw).name == "a\\.b.\\000\\255"


# --- answer: round trip through dnspython ------------------------------------------


def test_a_record_for_any_name() -> None:
    q = parse_query(wire("api.openai.com.", qid=4242))
    r = parse_reply(answer(q, resolve_all("127.0.0.1"), ttl=7))
    assert r.id == 4242
    assert r.flags & dns.flags.QR and r.flags & dns.flags.AA and r.flags & dns.flags.RD
    assert r.rcode() == dns.rcode.NOERROR
    assert r.question[0].name == dns.name.from_text("api.openai.com.")
    (rrset,) = r.answer
    assert rrset.name == dns.name.from_text("api.openai.com.")
    assert rrset.rdtype == dns.rdatatype.A and rrset.ttl == 7
    assert [rd.address for rd in rrset] == ["127.0.0.1"]


def test_resolver_gets_lower_case_name_and_map_decides() -> None:
    asked: list[str] = []

    def resolve(name: str) -> str | None:
        asked.append(name)
        return {"capture.test": "127.0.0.9"}.get(name)

    hit = parse_reply(answer(parse_query(wire("CAPTURE.test.")), resolve))
    assert [rd.address for rd in hit.answer[0]] == ["127.0.0.9"]
    miss = parse_reply(answer(parse_query(wire("other.test.")), resolve))
    assert miss.rcode() == dns.rcode.NXDOMAIN and not miss.answer
    assert asked == ["capture.test", "other.test"]


def test_aaaa_is_nodata_unless_configured() -> None:
    q = parse_query(wire("x.example.", "AAAA"))
    r = parse_reply(answer(q, resolve_all()))
    assert r.rcode() == dns.rcode.NOERROR and r.answer == []
    r6 = parse_reply(answer(q, resolve_all(), ipv6="::1"))
    assert [rd.address for rd in r6.answer[0]] == ["::1"]
    assert r6.answer[0].rdtype == dns.rdatatype.AAAA


@pytest.mark.parametrize("rdtype", ["MX", "TXT", "HTTPS", "SRV", "NS", "PTR"])
def test_other_types_are_noerror_empty(rdtype: str) -> None:
    r = parse_reply(answer(parse_query(wire("x.example.", rdtype)), resolve_all()))
    assert r.rcode() == dns.rcode.NOERROR
    assert r.answer == []
    assert r.question[0].rdtype == dns.rdatatype.from_text(rdtype)


def test_edns_is_echoed_and_badvers_answered() -> None:
    r = parse_reply(answer(parse_query(wire("x.example.", edns=0)), resolve_all()))
    assert r.edns == 0 and r.payload == pdns.EDNS_UDP_SIZE
    q1 = wire("x.example.", edns=1)
    with pytest.raises(DnsFormatError) as ei:
        parse_query(q1)
    assert ei.value.rcode == pdns.BADVERS
    reply, rec = respond(q1, resolve_all())
    assert reply is not None
    assert parse_reply(reply).rcode() == dns.rcode.BADVERS
    assert rec.rcode_name == "BADVERS"


def test_non_in_class_gets_empty_noerror() -> None:
    q = dns.message.make_query("version.bind.", "TXT", "CH")
    r = parse_reply(answer(parse_query(q.to_wire()), resolve_all()))
    assert r.rcode() == dns.rcode.NOERROR and r.answer == []


_label = st.binary(min_size=1, max_size=20)
_names = st.lists(_label, min_size=0, max_size=6)
_types = st.sampled_from(["A", "AAAA", "MX", "TXT", "ANY", "HTTPS"])


@given(
    labels=_names,
    rdtype=_types,
    qid=st.integers(0, 0xFFFF),
    edns=st.booleans(),
    mapped=st.sampled_from(["127.0.0.1", "10.1.2.3", None]),
)
def test_round_trip_through_dnspython(
    labels: list[bytes], rdtype: str, qid: int, edns: bool, mapped: str | None
) -> None:
    name = dns.name.Name([*labels, b""])
    q = dns.message.make_query(name, rdtype, use_edns=0 if edns else -1)
    q.id = qid
    query = parse_query(q.to_wire())
    assert query.labels == tuple(labels)
    r = parse_reply(answer(query, lambda _n: mapped, ttl=3))
    assert r.id == qid
    assert r.question[0].name == name  # compared label by label, case-insensitively
    assert r.question[0].name.labels == name.labels  # and byte-exact
    assert (r.edns == 0) is edns
    if mapped is None:
        assert r.rcode() == dns.rcode.NXDOMAIN and not r.answer
        return
    assert r.rcode() == dns.rcode.NOERROR
    if rdtype in ("A", "ANY"):
        assert [rd.address for rd in r.answer[0]] == [mapped]
        assert r.answer[0].ttl == 3
    else:
        assert r.answer == []


# --- bad input ---------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"\x00", b"\x12\x34" + b"\x00" * 9])
def test_short_garbage_gets_no_reply(data: bytes) -> None:
    with pytest.raises(DnsFormatError) as ei:
        parse_query(data)
    assert ei.value.header is None
    reply, rec = respond(data, resolve_all(), client="c")
    assert reply is None and rec.rcode is None and rec.error


def test_every_truncation_of_a_query_is_a_format_error() -> None:
    full = wire("api.anthropic.com.", edns=0)
    parse_query(full)
    for n in range(len(full)):
        with pytest.raises(DnsFormatError):
            parse_query(full[:n])


def test_truncated_question_with_header_gets_formerr() -> None:
    data = wire("api.anthropic.com.")[:20]
    reply, rec = respond(data, resolve_all())
    assert reply is not None
    r = parse_reply(reply)
    assert r.rcode() == dns.rcode.FORMERR and r.id == 0x1234
    assert rec.rcode_name == "FORMERR" and "past the end" in (rec.error or "")


@pytest.mark.parametrize(
    "name_wire, needle",
    [
        (b"\xc0\x0c", "does not point backwards"),  # pointer to itself
        (b"\x01a\xc0\x0c", "does not point backwards"),  # back to the start: a loop
        (b"\xc0\x20", "does not point backwards"),  # forward, out of range
        (b"\x40" + b"a" * 64 + b"\x00", "unsupported label type"),  # a 64-octet label
        (b"\x80a\x00", "unsupported label type"),
        (b"\x3f" + b"a" * 10, "past the end"),  # label length beyond the data
        (b"".join(b"\x3f" + b"a" * 63 for _ in range(4)) + b"\x00", "longer than 255"),
    ],
)
def test_bad_names(name_wire: bytes, needle: str) -> None:
    data = HEADER + name_wire + struct.pack("!HH", 1, 1)
    with pytest.raises(DnsFormatError, match=needle):
        parse_query(data)
    reply, _ = respond(data, resolve_all())
    assert reply is not None and parse_reply(reply).rcode() == dns.rcode.FORMERR


def test_truncated_pointer() -> None:
    with pytest.raises(DnsFormatError, match="truncated compression pointer"):
        parse_query(HEADER + b"\x01a\xc0")


def test_loop_between_two_pointers_in_additional_section() -> None:
    # question "a." at 12; an additional RR whose owner is "b" + pointer to itself
    q = HEADER[:10] + struct.pack("!H", 1) + b"\x01a\x00" + struct.pack("!HH", 1, 1)
    owner_at = len(q)
    rr = b"\x01b" + struct.pack("!H", 0xC000 | owner_at) + struct.pack("!HHIH", 41, 512, 0, 0)
    with pytest.raises(DnsFormatError, match="does not point backwards"):
        parse_query(q + rr)


def test_valid_backward_pointer_is_followed() -> None:
    # an OPT-less additional record whose owner points at the question name
    q = HEADER[:10] + struct.pack("!H", 1) + b"\x01a\x00" + struct.pack("!HH", 1, 1)
    rr = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 0, 4) + b"\x7f\x00\x00\x01"
    assert parse_query(q + rr).name == "a"


@pytest.mark.parametrize("qdcount", [0, 2, 5])
def test_qdcount_other_than_one_is_formerr(qdcount: int) -> None:
    body = b"".join(b"\x01a\x00" + struct.pack("!HH", 1, 1) for _ in range(qdcount))
    data = struct.pack("!6H", 99, 0x0100, qdcount, 0, 0, 0) + body
    with pytest.raises(DnsFormatError, match=f"QDCOUNT is {qdcount}"):
        parse_query(data)
    reply, rec = respond(data, resolve_all())
    assert reply is not None
    r = parse_reply(reply)
    assert r.id == 99 and r.rcode() == dns.rcode.FORMERR and r.question == []
    assert rec.name == ("a" if qdcount else None)


def test_response_packets_are_not_answered() -> None:
    data = bytearray(wire("x.example."))
    data[2] |= 0x80  # QR
    reply, rec = respond(bytes(data), resolve_all())
    assert reply is None and "QR" in (rec.error or "")


def test_other_opcode_gets_notimp() -> None:
    q = dns.message.make_query("x.example.", "A")
    q.set_opcode(dns.opcode.STATUS)
    reply, _ = respond(q.to_wire(), resolve_all())
    assert reply is not None
    r = parse_reply(reply)
    assert r.rcode() == dns.rcode.NOTIMP and r.opcode() == dns.opcode.QUERY


def test_two_opt_records_and_misplaced_opt() -> None:
    q = HEADER[:10] + struct.pack("!H", 2) + b"\x00" + struct.pack("!HH", 1, 1)
    opt = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)
    with pytest.raises(DnsFormatError, match="more than one OPT"):
        parse_query(q + opt + opt)
    in_answer = struct.pack("!6H", 1, 0x0100, 1, 1, 0, 0) + b"\x00" + struct.pack("!HH", 1, 1) + opt
    with pytest.raises(DnsFormatError, match="outside the additional"):
        parse_query(in_answer)


def test_broken_resolver_is_servfail_not_a_crash() -> None:
    def boom(name: str) -> str | None:
        raise RuntimeError("map exploded")

    for bad in (boom, lambda n: "not-an-ip", lambda n: "::1"):
        reply, rec = respond(wire("x.example."), bad)
        assert reply is not None and parse_reply(reply).rcode() == dns.rcode.SERVFAIL
        assert rec.rcode_name == "SERVFAIL" and "resolver failed" in (rec.error or "")


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_arbitrary_bytes_only_raise_dns_format_error(data: bytes) -> None:
    try:
        parse_query(data)
    except DnsFormatError:
        pass
    reply, rec = respond(data, resolve_all())
    if reply is not None:
        r = parse_reply(reply)
        assert r.id == int.from_bytes(data[:2], "big")
        assert r.flags & dns.flags.QR


@settings(max_examples=300)
@given(st.data())
def test_mutated_queries_only_raise_dns_format_error(data: st.DataObject) -> None:
    base = bytearray(wire("api.anthropic.com.", "AAAA", edns=0))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(base) - 1))
        base[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(base)))
    try:
        parse_query(bytes(base[:cut]))
    except DnsFormatError:
        pass
    reply, _ = respond(bytes(base[:cut]), resolve_all())
    if reply is not None:
        parse_reply(reply)


# --- log ---------------------------------------------------------------------------


def test_log_records_queries() -> None:
    log = DnsLog()
    for name in ("A.example.", "a.example.", "b.example."):
        log(respond(wire(name), resolve_all(), client="127.0.0.1:5000")[1])
    log.record(respond(b"junk", resolve_all(), client="127.0.0.1:5001")[1])
    assert len(log) == 4
    assert log.names() == ["a.example", "b.example"]
    first = log.entries()[0].as_dict()
    assert first["name"] == "A.example" and first["type"] == "A"
    assert first["rcode"] == "NOERROR" and first["address"] == "127.0.0.1"
    assert first["client"] == "127.0.0.1:5000" and first["transport"] == "udp"
    assert log.entries()[3].error is not None


# --- the server on loopback ------------------------------------------------------------


@pytest.fixture
def sockets() -> tuple[socket.socket, socket.socket]:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.bind(("127.0.0.1", 0))
    t.listen(8)
    return u, t


async def test_server_udp_and_tcp(sockets: tuple[socket.socket, socket.socket]) -> None:
    udp, tcp = sockets
    uport, tport = udp.getsockname()[1], tcp.getsockname()[1]
    log = DnsLog()
    server = DnsServer(resolve_all("127.0.0.2"), on_query=log)
    await server.start(udp_sock=udp, tcp_sock=tcp)
    try:
        q = dns.message.make_query("api.anthropic.com.", "A")
        r = await asyncio.to_thread(dns.query.udp, q, "127.0.0.1", timeout=5, port=uport)
        assert [rd.address for rd in r.answer[0]] == ["127.0.0.2"]
        # garbage on UDP: no reply, no crash, the next query is answered
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"\x00\x01garbage", ("127.0.0.1", uport))
        r2 = await asyncio.to_thread(dns.query.udp, q, "127.0.0.1", timeout=5, port=uport)
        assert r2.answer

        def two_over_one_tcp() -> list[bytes]:
            out = []
            with socket.create_connection(("127.0.0.1", tport), timeout=5) as s:
                for name in ("a.example.", "b.example."):
                    m = wire(name)
                    s.sendall(len(m).to_bytes(2, "big") + m)
                    size = int.from_bytes(_recv(s, 2), "big")
                    out.append(_recv(s, size))
            return out

        replies = await asyncio.to_thread(two_over_one_tcp)
        assert [str(parse_reply(x).question[0].name) for x in replies] == [
            "a.example.",
            "b.example.",
        ]
        rt = await asyncio.to_thread(dns.query.tcp, q, "127.0.0.1", timeout=5, port=tport)
        assert [rd.address for rd in rt.answer[0]] == ["127.0.0.2"]
    finally:
        await server.stop()
    entries = log.entries()
    assert [e.transport for e in entries] == ["udp", "udp", "udp", "tcp", "tcp", "tcp"]
    assert entries[1].error is not None and entries[1].rcode is None
    assert all(e.client.startswith("127.0.0.1:") for e in entries)


async def test_server_tcp_garbage_and_stop_with_idle_client(
    sockets: tuple[socket.socket, socket.socket],
) -> None:
    udp, tcp = sockets
    udp.close()
    tport = tcp.getsockname()[1]
    server = DnsServer(on_query=lambda rec: (_ for _ in ()).throw(RuntimeError("cb")))
    await server.start(tcp_sock=tcp)
    reader, writer = await asyncio.open_connection("127.0.0.1", tport)
    writer.write(b"\x00\x05hello")  # framed garbage: header unreadable → closed
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    idle_r, idle_w = await asyncio.open_connection("127.0.0.1", tport)
    await asyncio.sleep(0.05)
    await asyncio.wait_for(server.stop(), 5)  # an idle client does not block stop()
    assert await asyncio.wait_for(idle_r.read(), 5) == b""
    idle_w.close()


async def test_start_needs_a_socket() -> None:
    with pytest.raises(ValueError):
        await DnsServer().start()


def _recv(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf
