"""Probe overhead per run, beyond the agent's own time (target: <= 150 ms).

One run, every figure side by side:

    .venv/bin/python benchmarks/probe_bench.py            # 40 runs per variant
    .venv/bin/python benchmarks/probe_bench.py --runs 100

What it measures, for the same synthetic agent (tests/fixtures/agents/planted_agent.py,
one ~7 KB Anthropic request with a streamed answer):

- direct: the agent run as a plain subprocess against a capture server on loopback
  (no sandbox): the agent's own time, as a user would see it;
- probe: the same agent through ``run_probe`` (a sandbox per run, a capture server per
  run inside its network namespace, the store, the request segments), one factor with
  ``--replicates`` runs; per run: wall time as the runner saw it, and the command's own
  time inside the sandbox (fork to exit);
- overhead = probe wall per run - the command's own time in that run (p50, p95), and the
  ratio of probe wall to direct wall; and the probe's runs/s with --jobs 1 vs --jobs 2.

Prints a table and writes benchmarks/results/probe_latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from promptwitness.capture.server import CaptureServer, ServerThread  # noqa: E402
from promptwitness.probe.factors import Selection, get  # noqa: E402
from promptwitness.probe.runner import ProbeConfig, run_probe  # noqa: E402
from promptwitness.probe.sandbox import Sandbox  # noqa: E402
from promptwitness.store import Store  # noqa: E402

AGENT = ROOT / "tests" / "fixtures" / "agents" / "planted_agent.py"
ARGV = (sys.executable, "-I", "-S", str(AGENT))
TARGET_MS = 150.0


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def direct(n: int, store_dir: Path) -> list[float]:
    with Store.open(store_dir) as store:
        thread = ServerThread(CaptureServer(store))
        host, port = thread.start()
        env = {
            "PATH": "/usr/bin:/bin",
            "ANTHROPIC_BASE_URL": f"http://{host}:{port}",
            "ANTHROPIC_API_KEY": "sk-ant-api03-pwdummy",
            "TZ": "UTC",
            "HOME": "/tmp",
        }
        out = []
        try:
            for _ in range(n):
                t0 = time.monotonic()
                subprocess.run(ARGV, env=env, check=True, capture_output=True)
                out.append(time.monotonic() - t0)
        finally:
            thread.stop()
    return out


def probed(
    n: int, jobs: int, store_dir: Path, box: Sandbox
) -> tuple[list[float], list[float], float]:
    sel = Selection(get("tz"), ("UTC", "Asia/Tokyo"))
    # control (min 2 replicates) + one cell: runs = control_replicates + replicates
    reps = max(1, n // 2)
    config = ProbeConfig(
        argv=ARGV,
        selections=(sel,),
        replicates=reps,
        control_replicates=max(2, n - reps),
        jobs=jobs,
        pairwise=False,
        expose=(sys.base_prefix, sys.prefix, str(AGENT.parent)),
    )
    with Store.open(store_dir) as store:
        t0 = time.monotonic()
        result = run_probe(config, store, sandbox=box)
        total = time.monotonic() - t0
    walls = [r.wall for r in result.runs]
    over = [r.wall - (r.duration - (r.overhead or 0.0)) for r in result.runs]
    return walls, over, len(result.runs) / total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "probe_latest.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pw-probe-bench-") as tmp, Sandbox(prefork=2) as box:
        t = Path(tmp)
        direct(3, t / "warm")
        d = direct(args.runs, t / "direct")
        walls, over, rate1 = probed(args.runs, 1, t / "p1", box)
        _, _, rate2 = probed(args.runs, 2, t / "p2", box)
    res = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "cpus": os.cpu_count(),
        "runs": args.runs,
        "direct_ms": {"p50": 1000 * pct(d, 0.5), "p95": 1000 * pct(d, 0.95)},
        "probe_wall_ms": {"p50": 1000 * pct(walls, 0.5), "p95": 1000 * pct(walls, 0.95)},
        "overhead_ms": {
            "p50": 1000 * pct(over, 0.5),
            "p95": 1000 * pct(over, 0.95),
            "mean": 1000 * statistics.fmean(over),
        },
        "added_vs_direct_ms": 1000 * (pct(walls, 0.5) - pct(d, 0.5)),
        "runs_per_s": {"jobs1": rate1, "jobs2": rate2, "ratio": rate2 / rate1},
    }
    lines = [
        f"probe bench — {res['when']} ({res['cpus']} CPUs), {args.runs} runs per variant",
        f"{'':28}{'p50 ms':>10}{'p95 ms':>10}",
        f"{'agent direct (no sandbox)':28}{res['direct_ms']['p50']:10.1f}"
        f"{res['direct_ms']['p95']:10.1f}",
        f"{'probe run, wall':28}{res['probe_wall_ms']['p50']:10.1f}"
        f"{res['probe_wall_ms']['p95']:10.1f}",
        f"{'overhead (wall - command)':28}{res['overhead_ms']['p50']:10.1f}"
        f"{res['overhead_ms']['p95']:10.1f}",
        f"probe wall p50 - direct p50: {res['added_vs_direct_ms']:.1f} ms",
        f"runs/s: --jobs 1 {rate1:.2f}, --jobs 2 {rate2:.2f} ({rate2 / rate1:.2f}x)",
        f"{'PASS' if res['overhead_ms']['p50'] <= TARGET_MS else 'MISS'}  overhead p50 "
        f"{res['overhead_ms']['p50']:.1f} ms, target <= {TARGET_MS:.0f} ms",
    ]
    print("\n".join(lines))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    Path(args.out).with_suffix(".txt").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
