"""drift.run's pass 2: what it reads again and what it does not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.unit.drift.test_engine import fill

from promptwitness.capture.redact import Redactor
from promptwitness.drift import run as drift_run
from promptwitness.drift.units import LineMemo
from promptwitness.model import CapturedExchange
from promptwitness.store import Store


def _other_agent(store: Store, n: int) -> None:
    red = Redactor(store.salt())
    body = {
        "model": "m",
        "max_tokens": 10,
        "system": "You are another agent with a template of its own, unchanged.",
        "messages": [{"role": "user", "content": "the same question every time, again"}],
    }
    for _ in range(n):
        store.add(
            red.redact(
                CapturedExchange(
                    "POST",
                    "/v1/messages",
                    "gw.example",
                    request_headers=[("Host", "gw.example"), ("user-agent", "other/1.0")],
                    request_body=json.dumps(body).encode(),
                    status=200,
                    client="127.0.0.9:4000",
                )
            )
        )


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One item per request drift parses (``parse_request`` counted)."""
    calls: list[int] = []
    real = drift_run.parse_request

    def counting(raw):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(raw)

    monkeypatch.setattr(drift_run, "parse_request", counting)
    return calls


def test_pass_2_parses_only_the_groups_with_candidates_and_each_body_once(
    tmp_path: Path, parsed: list[int]
) -> None:
    with Store.open(tmp_path / "store") as st:
        fill(st, conditioned=True, clients=12, requests=2)  # 24 distinct bodies
        _other_agent(st, 30)  # another group, no candidate, one body 30 times
        r = drift_run.run_drift(st)
    assert r.findings and r.passes == 2 and r.model_calls == 54
    assert len(parsed) == 54 + 24  # pass 2: the fleet's 24 bodies, not the other 30


def test_identical_bodies_are_parsed_once_in_pass_2(tmp_path: Path, parsed: list[int]) -> None:
    with Store.open(tmp_path / "store") as st:
        fill(st, conditioned=True, clients=12, requests=2)
        fill(st, conditioned=True, clients=12, requests=2)  # the same 24 bodies again
        r = drift_run.run_drift(st)
    (v,) = r.findings
    assert v.variant.count == 16 and v.template.count == 32  # every exchange counted
    assert len(parsed) == 48 + 24


def test_a_line_memo_read_without_filling_keeps_what_it_had() -> None:
    memo = LineMemo(size=2)
    a, b = "Keep every answer short and clear.\n", "Never invent file names at all.\n"
    memo.get(a)
    memo.get(b)
    got = memo.get("A line pass 2 reads once and no more.\n", fill=False)
    assert got is not None and list(memo.memo) == [a, b]
    memo.get("A third line that fills the memo now.\n")
    assert list(memo.memo)[0] == b  # least recently used dropped
