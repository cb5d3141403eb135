"""The leaf of one stored exchange: a canonical encoding of its record (sans-IO).

``leaf_data(x)`` is ``b"promptwitness/exchange-leaf/v1\\n"`` followed by one JSON object
with exactly the keys of ``FIELDS``, written with sorted keys, no whitespace, and every
non-ASCII code point (and every lone surrogate, which the store uses for undecodable
header bytes) escaped as ``\\uXXXX`` — what Python's ``json.dumps(obj, sort_keys=True,
separators=(",", ":"), ensure_ascii=True)`` writes. Times (``started``, ``duration``) are
the 16 lower-case hex digits of their IEEE 754 binary64 big-endian bytes, so the encoding
is exact and needs no decimal formatting rules; headers are ``[[name, value], ...]`` in
wire order. The leaf hash is RFC 9162's ``SHA-256(0x00 || leaf_data)``. docs/provenance.md
is the normative description.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from promptwitness.ledger.merkle import leaf_hash

LEAF_DOMAIN = b"promptwitness/exchange-leaf/v1\n"

FIELDS = (
    "id",
    "run",
    "started",
    "duration",
    "mode",
    "method",
    "scheme",
    "host",
    "target",
    "http_version",
    "request_headers",
    "request_sha256",
    "request_size",
    "status",
    "response_headers",
    "response_sha256",
    "response_size",
    "protocol",
    "parse_error",
    "error",
    "upstream",
    "client",
    "redactions",
)


class ExchangeRecord(Protocol):
    """What the leaf needs of a ``store.StoredExchange`` (duck-typed: no store import)."""

    @property
    def id(self) -> int: ...
    @property
    def run(self) -> str | None: ...
    @property
    def started(self) -> float: ...
    @property
    def duration(self) -> float | None: ...
    @property
    def mode(self) -> str: ...
    @property
    def method(self) -> str: ...
    @property
    def scheme(self) -> str: ...
    @property
    def host(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def http_version(self) -> str: ...
    @property
    def request_headers(self) -> Sequence[tuple[str, str]]: ...
    @property
    def request_sha256(self) -> str: ...
    @property
    def request_size(self) -> int: ...
    @property
    def status(self) -> int | None: ...
    @property
    def response_headers(self) -> Sequence[tuple[str, str]]: ...
    @property
    def response_sha256(self) -> str: ...
    @property
    def response_size(self) -> int: ...
    @property
    def protocol(self) -> str | None: ...
    @property
    def parse_error(self) -> str | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def upstream(self) -> str | None: ...
    @property
    def client(self) -> str | None: ...
    @property
    def redactions(self) -> Sequence[str]: ...


def f64(x: float | None) -> str | None:
    """IEEE 754 binary64, big-endian, as 16 hex digits (None stays None)."""
    return None if x is None else struct.pack(">d", float(x)).hex()


def record_json(x: ExchangeRecord) -> dict[str, Any]:
    """The leaf's JSON object (before encoding)."""
    return {
        "id": int(x.id),
        "run": x.run,
        "started": f64(x.started),
        "duration": f64(x.duration),
        "mode": x.mode,
        "method": x.method,
        "scheme": x.scheme,
        "host": x.host,
        "target": x.target,
        "http_version": x.http_version,
        "request_headers": [[k, v] for k, v in x.request_headers],
        "request_sha256": x.request_sha256,
        "request_size": int(x.request_size),
        "status": None if x.status is None else int(x.status),
        "response_headers": [[k, v] for k, v in x.response_headers],
        "response_sha256": x.response_sha256,
        "response_size": int(x.response_size),
        "protocol": x.protocol,
        "parse_error": x.parse_error,
        "error": x.error,
        "upstream": x.upstream,
        "client": x.client,
        "redactions": list(x.redactions),
    }


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def leaf_data(x: ExchangeRecord) -> bytes:
    return LEAF_DOMAIN + _ENCODER.encode(record_json(x)).encode("ascii")


def headers_json(headers: Sequence[tuple[str, str]]) -> str:
    """Headers as the leaf writes them: ``[[name, value], ...]``, compact, ASCII only."""
    return _ENCODER.encode([[k, v] for k, v in headers])


def leaf_data_spliced(rec: dict[str, Any], request_headers: str, response_headers: str) -> bytes:
    """``leaf_data`` of a record whose two header lists are given already encoded
    (``headers_json``'s text, e.g. the store's own column): the same bytes, without
    encoding the headers again. ``rec`` is ``record_json`` without the header keys."""
    if "request_headers" in rec or "response_headers" in rec:
        raise ValueError("the headers are given encoded, not in the record")
    parts: tuple[dict[str, Any], dict[str, Any], dict[str, Any]] = ({}, {}, {})
    for k, v in rec.items():  # by sorted key: before, between and after the two lists
        parts[0 if k < "request_headers" else 1 if k < "response_headers" else 2][k] = v
    pieces = (
        _ENCODER.encode(parts[0])[1:-1],
        '"request_headers":' + request_headers,
        _ENCODER.encode(parts[1])[1:-1],
        '"response_headers":' + response_headers,
        _ENCODER.encode(parts[2])[1:-1],
    )
    text = "{" + ",".join(p for p in pieces if p) + "}"
    return LEAF_DOMAIN + text.encode("ascii")


_ID_MARK = b'"id":-1,'


def leaf_parts(rec: dict[str, Any], request_headers: str, response_headers: str) -> LeafParts:
    """``leaf_data_spliced`` of a record whose id is not known yet, as the bytes before
    and after the id's digits: ``leaf_data`` is ``prefix + str(id) + suffix`` (the id is
    the one field whose value is given by the database, at insert). ``rec["id"]`` is
    ignored."""
    data = leaf_data_spliced({**rec, "id": -1}, request_headers, response_headers)
    # a string value never holds an unescaped quote, and a header list never a colon
    # after a string: the mark is the id field, once
    before, mark, after = data.partition(_ID_MARK)
    if not mark or _ID_MARK in after:  # pragma: no cover - the encoding rules out both
        raise ValueError("the record's id field is not where the encoding puts it")
    return LeafParts(before + b'"id":', b"," + after)


@dataclass(frozen=True)
class LeafParts:
    """A leaf's data around its exchange id (``leaf_parts``)."""

    prefix: bytes
    suffix: bytes

    def data(self, exchange_id: int) -> bytes:
        return self.prefix + str(int(exchange_id)).encode("ascii") + self.suffix

    def hash(self, exchange_id: int) -> bytes:
        return leaf_hash(self.data(exchange_id))


def exchange_leaf_hash(x: ExchangeRecord) -> bytes:
    return leaf_hash(leaf_data(x))
