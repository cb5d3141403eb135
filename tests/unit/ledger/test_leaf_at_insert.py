"""The leaf appended at insert time (from the row being inserted) is the leaf that
``verify`` recomputes from the stored row, for odd values too: undecodable text kept with
surrogateescape, missing durations and statuses, repeated and odd-case headers."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.rawdb import RawDB

from promptwitness.ledger import merkle
from promptwitness.ledger.log import Ledger
from promptwitness.ledger.record import (
    FIELDS,
    LEAF_DOMAIN,
    headers_json,
    leaf_data_spliced,
    leaf_parts,
)
from promptwitness.model import CapturedExchange
from promptwitness.store import Store
from promptwitness.store.postgres import is_url

text = st.text(max_size=20) | st.binary(max_size=12).map(
    lambda b: b.decode("utf-8", "surrogateescape")
)
headers = st.lists(st.tuples(text, text), max_size=4)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            text,
            text,
            headers,
            st.none() | st.floats(0, 1e6),
            st.none() | st.integers(100, 599),
            st.binary(max_size=64),
            st.sampled_from([None, "run-a", "run-b"]),
            st.none() | text,
        ),
        min_size=1,
        max_size=6,
    ),
    st.integers(0, 6),
)
def test_leaves_at_insert_equal_leaves_recomputed(
    store_location: str, tmp_path: Path, items: list, split: int
) -> None:
    pg = is_url(store_location)  # PostgreSQL: one database per test, emptied per example
    location = store_location if pg else tempfile.mkdtemp(dir=tmp_path)  # one per example
    with Store.open(location) as store:
        if pg:
            with RawDB(location) as db:
                for table in ("ledger_leaves", "ledger_checkpoints", "exchanges", "runs", "blobs"):
                    db.execute(f"DELETE FROM {table}")
        exs = [
            CapturedExchange(
                method="POST",
                target="/" + target,
                host=host or "h",
                request_headers=list(hs),
                request_body=body,
                status=status,
                response_body=b"{}",
                duration=duration,
                run=run,
                error=error,
                response_headers=list(reversed(hs)),
                redactions=[target] if target else [],
            )
            for target, host, hs, duration, status, body, run, error in items
        ]
        # two transactions: the second one's leaves continue the first one's indices
        for batch in (exs[:split], exs[split:]):
            store.add_many(batch)
        report = Ledger(store).verify()
        assert report.ok, report.problems
        assert report.size == len(exs)


@given(
    headers,
    headers,
    st.dictionaries(
        st.sampled_from([f for f in FIELDS if not f.endswith("_headers")]),
        text | st.integers() | st.none(),
    ),
)
def test_spliced_leaf_data_equals_encoded_leaf_data(req: list, resp: list, rec: dict) -> None:
    whole = dict(
        rec, request_headers=[[k, v] for k, v in req], response_headers=[[k, v] for k, v in resp]
    )
    encoded = LEAF_DOMAIN + json.dumps(
        whole, sort_keys=True, separators=(",", ":"), ensure_ascii=True
    ).encode("ascii")
    assert leaf_data_spliced(rec, headers_json(req), headers_json(resp)) == encoded


@given(
    headers,
    headers,
    st.dictionaries(
        st.sampled_from([f for f in FIELDS if not f.endswith("_headers") and f != "id"]),
        text | st.integers() | st.none(),
    ),
    st.integers(min_value=0, max_value=2**63 - 1),
)
def test_leaf_parts_around_the_id_give_the_leaf_data(
    req: list, resp: list, rec: dict, exchange_id: int
) -> None:
    """What the PostgreSQL store sends so that the database hashes the leaf once it has
    given the id: prefix + id + suffix is exactly the leaf's data, whatever the record's
    text (quotes, colons, "id" in a header or a value)."""
    parts = leaf_parts(rec, headers_json(req), headers_json(resp))
    whole = leaf_data_spliced({**rec, "id": exchange_id}, headers_json(req), headers_json(resp))
    assert parts.data(exchange_id) == whole
    assert parts.hash(exchange_id) == merkle.leaf_hash(whole)


def test_leaf_parts_with_an_id_shaped_header() -> None:
    tricky = [('"id":-1,', '"id":-1,'), ("id", "-1")]
    parts = leaf_parts({"run": '"id":-1,'}, headers_json(tricky), headers_json([]))
    whole = leaf_data_spliced({"run": '"id":-1,', "id": 7}, headers_json(tricky), "[]")
    assert parts.data(7) == whole
