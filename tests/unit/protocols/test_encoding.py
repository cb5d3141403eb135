"""protocols.encoding: every request content coding decoded, bounded, never raising."""

from __future__ import annotations

import gzip
import zlib

import brotli
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from promptwitness.model import RawRequest
from promptwitness.protocols import parse_request, sink_reply
from promptwitness.protocols.encoding import (
    CodingError,
    content_encoding,
    decode_body,
    decode_request,
    encode_body,
    parse_codings,
)


def raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


ENCODERS = {
    "gzip": gzip.compress,
    "x-gzip": gzip.compress,
    "deflate": zlib.compress,
    "raw-deflate": raw_deflate,  # sent as "deflate"
    "br": brotli.compress,
    "zstd": zstandard.ZstdCompressor().compress,
}
HEADER = {"raw-deflate": "deflate"}
NAMES = sorted(ENCODERS)


def encode(data: bytes, names: list[str]) -> tuple[bytes, str]:
    for name in names:
        data = ENCODERS[name](data)
    return data, ", ".join(HEADER.get(n, n) for n in names)


@pytest.mark.parametrize("name", NAMES)
def test_each_coding_decodes(name: str) -> None:
    body = b'{"model":"m","messages":[]}' * 50
    data, header = encode(body, [name])
    d = decode_body(data, header)
    assert d.ok and d.body == body and d.codings == (HEADER.get(name, name),)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=4096), st.lists(st.sampled_from(NAMES), min_size=1, max_size=3))
def test_roundtrip_of_every_coding_and_stack(body: bytes, names: list[str]) -> None:
    data, header = encode(body, names)
    d = decode_body(data, header)
    assert d.error is None, d.error
    assert d.body == body
    assert len(d.formats) == len(names)
    # encoding again with what was found gives bytes that decode to the same body
    assert decode_body(encode_body(body, d.formats), header).body == body


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=512),
    st.sampled_from(
        [
            "gzip",
            "x-gzip",
            "deflate",
            "br",
            "zstd",
            "gzip, br",
            "zstd, deflate",
            "identity",
            "compress",
            "GZIP",
            " br ,",
            "gzip, unknown",
        ]
    ),
)
def test_arbitrary_bytes_never_raise(data: bytes, header: str) -> None:
    d = decode_body(data, header)
    assert d.error is None or isinstance(d.error, CodingError)
    assert d.error is None or d.error.kind in ("unknown", "too-large", "truncated", "corrupt")


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=1, max_size=2048), st.sampled_from(NAMES), st.data())
def test_truncated_streams_are_errors(body: bytes, name: str, data: st.DataObject) -> None:
    coded, header = encode(body, [name])
    cut = data.draw(st.integers(0, len(coded) - 1))
    d = decode_body(coded[:cut], header)
    # a cut stream never passes for a whole one (it may decode to the same bytes only
    # when what is cut is a trailer, which the decoders check)
    assert d.error is not None, (name, cut, len(coded))
    assert len(d.body) <= len(body)


@pytest.mark.parametrize("name", ["gzip", "deflate", "raw-deflate", "br", "zstd"])
def test_bomb_stops_at_the_limit(name: str) -> None:
    limit = 1 << 20
    coded, header = encode(b"\0" * (8 << 20), [name])
    d = decode_body(coded, header, limit=limit)
    assert d.error is not None and d.error.kind == "too-large"
    assert len(d.body) == limit
    ok = decode_body(coded, header, limit=8 << 20)
    assert ok.ok and len(ok.body) == 8 << 20


def test_stacked_bomb_stops_at_every_step() -> None:
    inner = gzip.compress(b"\0" * (4 << 20))
    coded = brotli.compress(inner)
    d = decode_body(coded, "gzip, br", limit=1 << 20)
    assert d.error is not None and d.error.kind == "too-large" and d.error.coding == "gzip"


def test_unknown_and_identity() -> None:
    assert decode_body(b"abc", "identity").body == b"abc"
    assert decode_body(b"abc", "identity").codings == ()
    d = decode_body(b"abc", "compress")
    assert d.error is not None and d.error.kind == "unknown" and "compress" in str(d.error)
    assert parse_codings(" GZIP , identity,br ") == ("gzip", "br")
    headers = [("Content-Type", "x"), ("Content-Encoding", "gzip"), ("content-encoding", "br")]
    assert content_encoding(headers) == "gzip, br"
    assert content_encoding([("Content-Type", "x")]) is None


def test_gzip_members_and_trailing_bytes() -> None:
    two = gzip.compress(b"ab") + gzip.compress(b"cd")
    assert decode_body(two, "gzip").body == b"abcd"
    d = decode_body(gzip.compress(b"ab") + b"junk", "gzip")
    assert d.error is not None and d.error.kind == "corrupt"


def test_decode_request_and_parse_request() -> None:
    body = (
        b'{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"Hi"}]}'
    )
    headers = (("Content-Type", "application/json"), ("Content-Encoding", "gzip"))
    req = RawRequest("POST", "/v1/messages", headers, gzip.compress(body))
    plain, err = decode_request(req)
    assert err is None and plain.body == body and plain.headers == headers
    outcome = parse_request(req)
    assert outcome.error is None and outcome.prompt is not None
    assert outcome.prompt.messages[0].parts[0].text == "Hi"
    reply = sink_reply(req)
    assert reply.status == 200
    bad = RawRequest("POST", "/v1/messages", headers, b"\x1f\x8b\x08garbage")
    outcome = parse_request(bad)
    assert outcome.prompt is None and outcome.error and "cannot be decoded" in outcome.error
    assert sink_reply(bad).status == 400
