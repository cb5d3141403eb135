#!/usr/bin/env python3
"""Diagnostic: the store writer's CPU per exchange, without sockets.

    .venv/bin/python benchmarks/writer_cost.py [N]

Builds N exchanges like the ones ``capture_bench.py`` sends (the same 100 KB request,
each in its own bytes object, and a 12-event SSE answer whose ids change every time),
then times, in this process, ``Redactor.redact`` on each and ``Store.add_many`` in
batches of 32 (a fresh store in a temp dir): the work the capture server's writer (thread
or process) does per exchange. Process CPU
time, so other load on the machine inflates it less than wall time. Works on an older
checkout too (``PYTHONPATH=OLD/src``; ``add`` per exchange when there is no ``add_many``).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import capture_bench as cb  # noqa: E402

from promptwitness.capture.exchange import CapturedExchange  # noqa: E402
from promptwitness.capture.redact import Redactor  # noqa: E402
from promptwitness.store import Store  # noqa: E402


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    body = cb.make_request_body()
    headers = list(cb.REQUEST_HEADERS)
    exchanges = [
        CapturedExchange(
            "POST",
            "/v1/messages",
            "127.0.0.1",
            request_headers=list(headers),
            # a fresh bytes object each time, as the writer process receives them from
            # its socket (one shared object would have its hash cached by Python)
            request_body=bytes(bytearray(body)),
            status=200,
            response_headers=[("content-type", "text/event-stream"), ("request-id", f"r{i}")],
            response_body=b"".join(cb.sse_events(i, len(body))),
            mode="pass-through",
        )
        for i in range(n)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp))
        redactor = Redactor(store.salt())
        c0 = time.process_time()
        redacted = [redactor.redact(x) for x in exchanges]
        c1 = time.process_time()
        add_many = getattr(store, "add_many", None)
        for i in range(0, n, 32):
            if add_many is not None:
                add_many(redacted[i : i + 32])
            else:  # an older promptwitness (one transaction per exchange)
                for x in redacted[i : i + 32]:
                    store.add(x)
        c2 = time.process_time()
        store.close()
    print(
        f"{n} exchanges: redact {(c1 - c0) / n * 1e6:.0f} µs, "
        f"store (add_many, batches of 32) {(c2 - c1) / n * 1e6:.0f} µs, "
        f"together {(c2 - c0) / n * 1e6:.0f} µs CPU per exchange "
        f"(redaction cache: {getattr(redactor, 'cache_hits', '-')} hits, "
        f"{getattr(redactor, 'cache_misses', '-')} misses)"
    )


if __name__ == "__main__":
    main()
