#!/usr/bin/env python3
"""Fleet benchmark: two ``serve`` replicas on one PostgreSQL store beside one SQLite gateway.

Run with the project venv from the checkout root::

    .venv/bin/python benchmarks/fleet_bench.py            # full run (~2 minutes)
    .venv/bin/python benchmarks/fleet_bench.py --quick    # smoke run (~40 s)

What runs, all on loopback, all at once on this machine (the database included):
- a stand-in upstream (``capture_bench.py``'s, an SSE answer per request);
- one ``promptwitness serve --upstream URL --store DIR`` (SQLite), the reference;
- two ``promptwitness serve --upstream URL --store postgresql://…`` replicas writing into
  one database of a PostgreSQL server this script starts from the system's binaries
  (``promptwitness.store.pgtemp``, PostgreSQL's own defaults: ``fsync`` and
  ``synchronous_commit`` on), which the replicas' writer sessions relax to
  ``synchronous_commit = off`` as ``serve`` does by default (SQLite's class of
  guarantee: see ``PG_CONFIGS``), and two more on a second database of the same server
  whose sessions ask for ``synchronous_commit = on`` (a commit on disk before an
  answer's last byte leaves), which ``serve`` keeps;
- the client: ``capture_bench.py``'s raw asyncio HTTP/1.1 client, in this process.

Measured side by side in one run:
- throughput: the same number of concurrent clients on the SQLite gateway, then split
  over a pair of replicas (two passes, the second in the other order); the ratio
  pair / SQLite (target: at least 0.60);
- added latency (first, on idle gateways): paired rounds, one request to each of the
  upstream, the SQLite gateway and one replica of each pair per round, shuffled; the
  p50 of each round's time through a target minus its time direct (target for a
  PostgreSQL replica: at most 2 ms);
- integrity: every exchange answered is stored once (rows = requests sent), each log is
  one dense tree and ``ledger verify`` finds nothing wrong.

Results are printed as one table and written to ``benchmarks/results/fleet-latest.json``
(``--out FILE``). The exit status is 0 when the integrity checks hold, whatever the
timings (they are figures, not tests).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import capture_bench as cb  # noqa: E402  (this directory's own module)

from promptwitness.ledger.log import Ledger  # noqa: E402
from promptwitness.store import Store  # noqa: E402
from promptwitness.store.pgtemp import TempCluster  # noqa: E402

TARGETS = {"throughput_ratio": 0.60, "added_p50_ms": 2.0}


async def _start_serve_at(
    name: str, logdir: Path, upstream_port: int, store: str, writer: str = "process"
) -> cb.Child:
    """``serve`` with ``--store`` given as it is (a URL is not a path)."""
    port = cb.free_port()
    log = logdir / f"{name}.log"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "promptwitness", "serve",
        "--listen", f"{cb.LOOPBACK}:{port}",
        "--upstream", f"http://{cb.LOOPBACK}:{upstream_port}",
        "--store", store, "--writer", writer,
        stdin=asyncio.subprocess.DEVNULL, stdout=log.open("wb"), stderr=asyncio.subprocess.STDOUT,
        env=cb._child_env(),
    )  # fmt: skip
    await cb.wait_listening(port, proc, log)
    return cb.Child(name, proc, port, log)


def _count(location: str) -> int:
    with Store.open(location, readonly=True) as s:
        return s.stats().exchanges


async def _wait_stored(location: str, n: int, timeout: float = 600) -> float:
    t0 = time.monotonic()
    while _count(location) < n:
        if time.monotonic() - t0 > timeout:
            raise SystemExit(f"{location}: only {_count(location)} of {n} exchanges stored")
        await asyncio.sleep(0.2)
    return time.monotonic() - t0


async def throughput(
    body: bytes, ports: list[int], concurrency: int, seconds: float
) -> tuple[int, int]:
    """Requests answered inside the window (all ports together), and all requests sent."""
    n = len(ports)
    per = [concurrency // n + (1 if i < concurrency % n else 0) for i in range(n)]
    results = await asyncio.gather(
        *(cb.throughput_one(p, body, c, 0.5, seconds) for p, c in zip(ports, per, strict=True))
    )
    return sum(r[0] for r in results), sum(r[1] for r in results)


async def latency(body: bytes, targets: dict[str, int], n: int, warm: int) -> dict[str, Any]:
    conns = {k: cb.Conn(p) for k, p in targets.items()}
    reqs = {k: cb.build_request(p, body) for k, p in targets.items()}
    times: dict[str, list[int]] = {k: [] for k in targets}
    order = list(targets)
    rng = random.Random(1)
    for i in range(warm + n):
        rng.shuffle(order)
        for k in order:
            t0 = time.perf_counter_ns()
            cb.check_answer(await conns[k].request(reqs[k]))
            if i >= warm:
                times[k].append(time.perf_counter_ns() - t0)
    for c in conns.values():
        await c.close()
    total = {k: cb.summary_ms(v) for k, v in times.items()}
    # each round's time through a target minus the same round's direct time: the p50 of
    # those differences (the machine's state is the same for both, so its noise cancels)
    paired = {
        k: round(
            cb.percentile(
                sorted((b - a) / 1e6 for a, b in zip(times["direct"], times[k], strict=True)), 50
            ),
            3,
        )
        for k in targets
        if k != "direct"
    }
    return {
        "total_ms": total,
        "added_p50_ms": paired,
        "p50_minus_direct_p50_ms": {
            k: round(total[k]["p50"] - total["direct"]["p50"], 3) for k in targets if k != "direct"
        },
    }


PG_CONFIGS = {
    # the server's defaults, as promptwitness uses them: its writer sessions set
    # synchronous_commit = off where the server left it at its default (SQLite's class
    # of guarantee: a gateway's crash loses nothing committed; the database server's
    # crash may lose its last fraction of a second)
    "postgresql": "",
    # an operator who asks for a flush per commit (here with the session's options, as
    # ALTER ROLE ... SET synchronous_commit = on would): the replicas keep it
    "postgresql-flush": "&options=-c%20synchronous_commit%3Don",
}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    logdir = Path(tempfile.mkdtemp(prefix="pw-fleet-"))
    body = cb.make_request_body(args.size)
    res: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "git": cb.git_head(),
        "quick": args.quick,
        "request_bytes": len(body),
        "concurrency": args.concurrency,
        "seconds_per_pass": args.duration,
        "pg_writer": args.pg_writer,
    }
    children: list[cb.Child] = []
    with TempCluster(durable=True) as pg:
        stores = {"sqlite": str(logdir / "store")}
        for name, options in PG_CONFIGS.items():
            stores[name] = pg.create_database(name.replace("-", "_")) + options
        res["postgresql"] = pg.version()
        try:
            up = await cb.start_python_role("upstream", logdir, "--role", "upstream", "--port", "0")
            children.append(up)
            ports: dict[str, list[int]] = {}
            for name, store in stores.items():  # one SQLite gateway, two replicas per database
                for k in range(1 if name == "sqlite" else 2):
                    writer = "auto" if name == "sqlite" else args.pg_writer
                    gw = await _start_serve_at(f"{name}-{k}", logdir, up.port, store, writer)
                    children.append(gw)
                    ports.setdefault(name, []).append(gw.port)
            sent = dict.fromkeys(stores, 0)
            for name, ps in ports.items():  # correctness once before timing
                for port in ps:
                    conn = cb.Conn(port)
                    cb.check_answer(await conn.request(cb.build_request(port, body)))
                    await conn.close()
                    sent[name] += 1
            # latency first, on idle gateways (the throughput passes leave backlogs)
            targets = {"direct": up.port, **{name: ps[0] for name, ps in ports.items()}}
            res["latency"] = await latency(body, targets, args.requests, args.warmup)
            for name in stores:
                sent[name] += args.requests + args.warmup
            rps: dict[str, list[float]] = {name: [] for name in stores}
            names = list(stores)
            for order in (names, names[::-1]):  # two passes, the second in the other order
                for which in order:
                    done, total = await throughput(
                        body, ports[which], args.concurrency, args.duration
                    )
                    rps[which].append(done / args.duration)
                    sent[which] += total
                    print(f"  {which:<17} {done / args.duration:8.1f} answers/s", file=sys.stderr)
            res["throughput_rps"] = {k: round(sum(v) / len(v), 1) for k, v in rps.items()}
            res["throughput_ratio"] = {
                k: round(res["throughput_rps"][k] / res["throughput_rps"]["sqlite"], 3)
                for k in PG_CONFIGS
            }
            res["catch_up_s"] = {
                name: round(await _wait_stored(store, sent[name]), 2)
                for name, store in stores.items()
            }
        finally:
            for c in reversed(children):
                await c.stop()
        res["integrity"] = {}
        for name in PG_CONFIGS:
            with Store.open(stores[name], readonly=True) as s:
                leaves = s.log_leaves()
                stats = s.stats()
                report = Ledger(s).verify()
            res["integrity"][name] = {
                "sent": sent[name],
                "stored": stats.exchanges,
                "blobs": stats.blobs,
                "leaves": len(leaves),
                "dense": [leaf.index for leaf in leaves] == list(range(len(leaves))),
                "verify_problems": report.problems,
            }
    return res


def intact(integ: dict[str, Any]) -> bool:
    return bool(
        integ["stored"] == integ["sent"] == integ["leaves"]
        and integ["dense"]
        and not integ["verify_problems"]
    )


def render(res: dict[str, Any]) -> str:
    t, lat = res["throughput_rps"], res["latency"]["added_p50_ms"]
    rows = [
        f"fleet benchmark {res['date']} (git {res['git']}), {res['postgresql']}",
        f"request {res['request_bytes']} B, {res['concurrency']} clients, "
        f"{res['seconds_per_pass']} s per pass, 2 passes",
        "",
        f"{'':<34} {'answers/s':>10} {'vs SQLite':>10} {'added p50':>10}",
        f"{'SQLite gateway':<34} {t['sqlite']:>10.1f} {'':>10} {lat['sqlite']:>8.3f}ms",
    ]
    labels = {
        "postgresql": "2 replicas (default)",
        "postgresql-flush": "2 replicas, synchronous_commit on",
    }
    for name, label in labels.items():
        ratio, added = res["throughput_ratio"][name], lat[name]
        ok_ratio = "met" if ratio >= TARGETS["throughput_ratio"] else "MISSED"
        ok_p50 = "met" if added <= TARGETS["added_p50_ms"] else "MISSED"
        rows.append(
            f"{label:<34} {t[name]:>10.1f} {ratio:>10.3f} {added:>8.3f}ms   "
            f"ratio >= {TARGETS['throughput_ratio']}: {ok_ratio}, "
            f"p50 <= {TARGETS['added_p50_ms']} ms: {ok_p50}"
        )
    for name, integ in res["integrity"].items():
        rows.append(
            f"integrity {name}: sent {integ['sent']}, stored {integ['stored']}, leaves "
            f"{integ['leaves']}, dense {integ['dense']}, verify problems "
            f"{len(integ['verify_problems'])}: {'ok' if intact(integ) else 'FAILED'}"
        )
    rows.append(f"catch-up after the load (s): {res['catch_up_s']}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short passes (a smoke run)")
    p.add_argument("--concurrency", type=int, default=32, help="clients at once")
    p.add_argument("--duration", type=float, default=None, help="seconds per pass")
    p.add_argument("--requests", type=int, default=None, help="latency rounds")
    p.add_argument("--warmup", type=int, default=200, help="latency rounds not counted")
    p.add_argument("--size", type=int, default=100 * 1024, help="request body bytes")
    p.add_argument(
        "--pg-writer",
        choices=("auto", "process", "thread"),
        default="auto",
        help="the replicas' serve --writer (default: serve's, auto: a thread for "
        "PostgreSQL; the SQLite gateway keeps serve's default, a process)",
    )
    p.add_argument("--out", type=Path, default=HERE / "results" / "fleet-latest.json")
    args = p.parse_args(argv)
    args.duration = args.duration or (3.0 if args.quick else 10.0)
    args.requests = args.requests or (100 if args.quick else 600)
    res = asyncio.run(run(args))
    print(render(res))
    out = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {out}", file=sys.stderr)
    return 0 if all(intact(i) for i in res["integrity"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
