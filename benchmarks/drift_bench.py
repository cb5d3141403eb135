"""drift's throughput and peak memory on a large synthetic store.

Builds a store of N synthetic exchanges (default 100,000) of the stand-in fleet agent
(``tests/fixtures/agents/fleet_agent.py``: 2 KB system prompts with per-client dates,
times, paths and locales; CLIENTS clients, one host in three conditioned), stored
with ``Store.add_many`` after redaction as ``serve`` stores them, then runs
``run_drift`` over it and prints, for each size, the CPU seconds drift took (user and
system time of its process: on a shared machine wall time measures the neighbours too),
the CPU time per exchange, the wall time and the peak resident memory (``ru_maxrss``) of
a fresh process per size, so the ratios between sizes show whether time grows faster
than the store and whether memory stays bounded. Nothing is asserted: numbers only.

    python benchmarks/drift_bench.py                 # 10k and 100k
    python benchmarks/drift_bench.py --sizes 2000    # quick
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.fixtures.agents.fleet_agent import captured, fleet_env  # noqa: E402

from promptwitness.capture.redact import Redactor  # noqa: E402
from promptwitness.drift.run import run_drift  # noqa: E402
from promptwitness.model import CapturedExchange  # noqa: E402
from promptwitness.store import Store  # noqa: E402

NOW = dt.datetime(2026, 12, 6, 3, 30, tzinfo=dt.UTC)


def build(root: Path, n: int, clients: int) -> float:
    t0 = time.monotonic()
    with Store.open(root) as st:
        red = Redactor(st.salt())
        batch: list[CapturedExchange] = []
        for k in range(n):
            i = k % clients
            env = fleet_env(i, conditioned=True)
            when = NOW + dt.timedelta(seconds=k)
            batch.append(red.redact(captured(i, env, k // clients, when)))
            if len(batch) >= 1000:
                st.add_many(batch)
                batch.clear()
        if batch:
            st.add_many(batch)
    return time.monotonic() - t0


def measure(root: Path) -> dict[str, float]:
    """Run drift in this process (call in a fresh one: ru_maxrss is the process peak)."""
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0, c0 = time.monotonic(), time.process_time()
    with Store.open(root, create=False, readonly=True) as st:
        report = run_drift(st)
    took, cpu = time.monotonic() - t0, time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "exchanges": report.read,
        "seconds": took,
        "cpu_seconds": cpu,
        "cpu_ms_per_exchange": 1000 * cpu / max(report.read, 1),
        "per_second": report.read / took,
        "findings": len(report.findings),
        "passes": report.passes,
        "peak_rss_mib": peak / 1024,
        "rss_before_mib": base / 1024,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--clients", type=int, default=60)
    ap.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child's job
    ap.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="pw-drift-bench-") as tmp:
        for n in args.sizes:
            root = Path(tmp) / f"store-{n}"
            built = build(root, n, args.clients)
            child = subprocess.run(
                [sys.executable, __file__, "--measure", str(root)],
                capture_output=True,
                text=True,
                check=True,
            )
            row = {"size": n, "build_seconds": built, **json.loads(child.stdout)}
            rows.append(row)
            print(
                f"{n:>9,} exchanges: drift {row['cpu_seconds']:.1f} s CPU "
                f"({row['cpu_ms_per_exchange']:.3f} ms an exchange), {row['seconds']:.1f} s wall "
                f"({row['per_second']:,.0f}/s, {row['passes']:.0f} passes, "
                f"{row['findings']:.0f} finding), peak RSS {row['peak_rss_mib']:.0f} MiB "
                f"(build {built:.0f} s)",
                flush=True,
            )
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        print(
            f"ratios {b['size']:,} / {a['size']:,}: size ×{b['size'] / a['size']:.1f}, "
            f"CPU time ×{b['cpu_seconds'] / a['cpu_seconds']:.2f}, "
            f"wall time ×{b['seconds'] / a['seconds']:.2f}, "
            f"peak RSS ×{b['peak_rss_mib'] / a['peak_rss_mib']:.2f}"
        )
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
