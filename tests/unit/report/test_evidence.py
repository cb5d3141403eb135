"""``report.evidence.probe_evidence``: the requests a report refers to, read from the
store by the exchange ids the runner recorded (``RunRecord.exchanges``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tests.unit.report.test_html import REQ, probe_result

from promptwitness.model import CapturedExchange
from promptwitness.report.evidence import evidence_runs, probe_evidence
from promptwitness.store import Store


def test_evidence_is_read_by_the_recorded_exchange_ids(tmp_path: Path) -> None:
    result, bodies = probe_result()
    with Store.open(tmp_path / "s") as store:
        ids: dict[str, int] = {}
        for (run, _request), body in sorted(bodies.items()):
            # a key the store's own order would not give (hermetic keys name the host):
            # only the recorded id finds it
            store.add(CapturedExchange(method="GET", target="/", host="h"))
            ids[run] = store.add(
                CapturedExchange(
                    method="POST",
                    target="/v1/messages?beta=true",
                    host="api.example.com",
                    request_headers=[("content-type", "application/json")],
                    request_body=body,
                    status=200,
                )
            )
        runs = [
            dataclasses.replace(r, exchanges={REQ: ids[r.run]} if r.run in ids else {})
            for r in result.runs
        ]
        runs[0] = dataclasses.replace(runs[0], exchanges={})  # its id was never recorded
        result = dataclasses.replace(result, runs=runs)
        want = {(run, req) for run, reqs in evidence_runs(result).items() for req in reqs}
        got = probe_evidence(result, store)
    first = result.runs[0].run  # the reference run: in every finding's evidence
    assert (first, REQ) in want
    assert set(got) == want - {(first, REQ)}
    for (run, req), ev in got.items():
        assert ev.exchange == ids[run] and ev.body == bodies[(run, req)]
        assert (ev.run, ev.request, ev.method) == (None, REQ, "POST")
