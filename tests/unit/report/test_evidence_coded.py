"""A request sent compressed is shown decoded in a report's evidence, and said so."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from promptwitness.model import CapturedExchange
from promptwitness.report.evidence import _evidence
from promptwitness.store import Store


def test_a_gzipped_request_is_evidence_in_clear(tmp_path: Path) -> None:
    prompt = json.dumps(
        {
            "model": "m",
            "max_tokens": 5,
            "messages": [{"role": "user", "content": "it’s 2026/01/01"}],
        },
        ensure_ascii=False,
    )
    raw = gzip.compress(prompt.encode(), mtime=0)
    with Store.open(tmp_path / "s") as store:
        xid = store.add(
            CapturedExchange(
                method="POST",
                target="/v1/messages",
                host="a",
                request_headers=[
                    ("content-type", "application/json"),
                    ("content-encoding", "gzip"),
                ],
                request_body=raw,
                status=200,
            )
        )
        ev = _evidence(store, store.get(xid), "r")
    assert ev.body == prompt.encode() and ev.body_size == len(prompt.encode())
    assert ev.coding is not None and ev.coding.startswith("gzip:")
    assert f"{len(raw):,} bytes stored" in ev.coding
    assert "’" in ev.body_text()


def test_a_plain_request_has_no_coding(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s") as store:
        xid = store.add(
            CapturedExchange(
                method="POST", target="/v1/messages", host="a", request_body=b'{"a": 1}', status=200
            )
        )
        ev = _evidence(store, store.get(xid), "r")
    assert ev.coding is None and ev.body == b'{"a": 1}'
