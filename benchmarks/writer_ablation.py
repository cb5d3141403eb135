#!/usr/bin/env python3
"""Diagnostic: how much of promptwitness's added latency is its writer thread's work.

    .venv/bin/python benchmarks/writer_ablation.py [ROUNDS]

Runs the upstream and one promptwitness pass-through process per variant, and measures
added latency (pN(promptwitness) - pN(direct), interleaved pairs, same client as
``capture_bench.py``) with the writer thread doing:

- ``full``: redaction (``Redactor``) and the store (``Store.add``), as shipped;
- ``no-redact``: the store only (a redactor that returns the exchange unchanged);
- ``no-store``: redaction only (a store whose ``add`` does nothing);
- ``null``: neither: what aiohttp's pass-through costs on its own.

Only two targets are interleaved here, so a request arrives while the writer is still
busy with the previous one: the case of a burst of requests.
Not part of the judged figures; loopback only, like the main script.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import capture_bench as cb  # noqa: E402

CHILD = """
import asyncio, sys
sys.path.insert(0, {bench_dir!r})
import capture_bench as cb
from promptwitness.capture.redact import Redactor
from promptwitness.capture.server import CaptureServer, ServerConfig
from promptwitness.store import Store

class NullStore:
    def add(self, ex): return 1
    def salt(self): return bytes(32)

class NullRedactor:
    def redact(self, ex): return ex

async def run():
    mode, upstream, root = {mode!r}, {upstream!r}, {root!r}
    store = NullStore() if mode in ("null", "no-store") else Store.open(root)
    redactor = NullRedactor() if mode in ("null", "no-redact") else Redactor(bytes(32))
    srv = CaptureServer(store, ServerConfig(upstream=upstream), redactor=redactor)
    _h, port = await srv.start("127.0.0.1", 0)
    cb._announce(port)
    await cb._until_signalled()
    await srv.stop()

asyncio.run(run())
"""


async def one(mode: str, rounds: int, warm: int = 100) -> dict[str, float]:
    logdir = Path(tempfile.mkdtemp(prefix="pw-ablation-"))
    up = await cb.start_python_role("upstream", logdir, "--role", "upstream", "--port", "0")
    code = CHILD.format(
        bench_dir=str(cb.HERE),
        mode=mode,
        upstream=f"http://{cb.LOOPBACK}:{up.port}",
        root=str(logdir / "store"),
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE, env=cb._child_env()
    )
    assert proc.stdout is not None
    port = int(json.loads(await proc.stdout.readline())["port"])
    try:
        body = cb.make_request_body()
        targets = {"direct": up.port, "pw": port}
        conns = {k: cb.Conn(v) for k, v in targets.items()}
        reqs = {k: cb.build_request(v, body) for k, v in targets.items()}
        times: dict[str, list[int]] = {k: [] for k in targets}
        order, rng = list(targets), random.Random(1)
        for i in range(warm + rounds):
            rng.shuffle(order)
            for k in order:
                t0 = time.perf_counter_ns()
                await conns[k].request(reqs[k])
                if i >= warm:
                    times[k].append(time.perf_counter_ns() - t0)
        for c in conns.values():
            await c.close()
    finally:
        proc.terminate()
        await proc.wait()
        await up.stop()
        shutil.rmtree(logdir, ignore_errors=True)
    s = {k: cb.summary_ms(v) for k, v in times.items()}
    return {f"p{p}": round(s["pw"][f"p{p}"] - s["direct"][f"p{p}"], 3) for p in cb.PCTS}


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    print(f"added latency (ms), {rounds} interleaved pairs per variant")
    for mode in ("full", "no-redact", "no-store", "null"):
        r = asyncio.run(one(mode, rounds))
        print(f"  {mode:<10} +p50 {r['p50']:6.3f}   +p90 {r['p90']:6.3f}   +p99 {r['p99']:6.3f}")


if __name__ == "__main__":
    main()
