"""The leaf appended at insert time (from the row being inserted) is the leaf that
``verify`` recomputes from the stored row, for odd values too: undecodable text kept with
surrogateescape, missing durations and statuses, repeated and odd-case headers."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptwitness.capture.exchange import CapturedExchange
from promptwitness.ledger.log import Ledger
from promptwitness.store import Store

text = st.text(max_size=20) | st.binary(max_size=12).map(
    lambda b: b.decode("utf-8", "surrogateescape"))
headers = st.lists(st.tuples(text, text), max_size=4)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(text, text, headers, st.none() | st.floats(0, 1e6),
                          st.none() | st.integers(100, 599), st.binary(max_size=64)),
                min_size=1, max_size=6))
def test_leaves_at_insert_equal_leaves_recomputed(tmp_path: Path, items: list) -> None:
    root = tmp_path / f"s{abs(hash(repr(items)))}"
    with Store.open(root) as store:
        exs = [
            CapturedExchange(method="POST", target="/" + target, host=host or "h",
                             request_headers=list(hs), request_body=body, status=status,
                             response_body=b"{}", duration=duration)
            for target, host, hs, duration, status, body in items
        ]
        store.add_many(exs)
        report = Ledger(store).verify()
        assert report.ok, report.problems
