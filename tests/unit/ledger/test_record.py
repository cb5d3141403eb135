"""The leaf encoding is exactly what docs/provenance.md specifies."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from promptwitness.errors import StoreError
from promptwitness.ledger.log import Ledger
from promptwitness.ledger.record import exchange_leaf_hash, leaf_data
from promptwitness.model import CapturedExchange
from promptwitness.store import Store, StoredExchange

X = StoredExchange(
    id=7,
    run=None,
    started=1790000000.25,
    duration=None,
    mode="sink",
    method="POST",
    scheme="http",
    host="h",
    target="/v1/messages",
    http_version="1.1",
    request_headers=(("User-Agent", "caf\u00e9 \udc80"),),
    request_sha256="ab",
    request_size=2,
    status=200,
    response_headers=(),
    response_sha256="cd",
    response_size=0,
    protocol=None,
    parse_error=None,
    error=None,
    upstream=None,
    client=None,
    redactions=("x-api-key",),
)


def test_leaf_bytes_as_documented() -> None:
    want = (
        b"promptwitness/exchange-leaf/v1\n"
        b'{"client":null,"duration":null,"error":null,"host":"h","http_version":"1.1","id":7,'
        b'"method":"POST","mode":"sink","parse_error":null,"protocol":null,'
        b'"redactions":["x-api-key"],"request_headers":[["User-Agent","caf\\u00e9 \\udc80"]],'
        b'"request_sha256":"ab","request_size":2,"response_headers":[],"response_sha256":"cd",'
        b'"response_size":0,"run":null,"scheme":"http","started":"41daac4ee0100000","status":200,'
        b'"target":"/v1/messages","upstream":null}'
    )
    assert leaf_data(X) == want
    assert exchange_leaf_hash(X) == hashlib.sha256(b"\x00" + want).digest()


def test_leaf_is_appended_in_the_exchange_transaction(tmp_path: Path) -> None:
    good = CapturedExchange(method="GET", target="/", host="h", started=1.0)
    bad = CapturedExchange(method="GET", target="/", host="h", started=1.0, mode=None)  # type: ignore[arg-type]
    with Store.open(tmp_path) as s:
        s.add(good)
        with pytest.raises(StoreError):
            s.add_many([good, bad])  # NOT NULL mode: the whole batch rolls back
        ledger = Ledger(s)
        assert [e for _, e, _ in ledger.leaves()] == [x.id for x in s.exchanges()] == [1]
        s.add(good)
        assert ledger.size() == 2 and ledger.verify().ok
