"""A full audit of one cached Claude Code release, timed (target: under 3 minutes on
2 cores), and what a cached install costs.

    .venv/bin/python benchmarks/audit_bench.py [--version 2.1.91] [--jobs 2]

Runs ``promptwitness audit claude-code@VERSION --jobs N`` exactly as a user would (the
audit's default design: tz, system-tz, locale, proxy and endpoint-host at their
screening levels, one factor at a time with 2 replicates, then pairwise covering rows
and any confirmation cells), after making sure the version is cached. Prints the wall
time, the runs and cells, the verdict, and the time of ``ensure`` for the cached
version (a cached release must cost nothing). Writes benchmarks/results/audit_latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from promptwitness.agents.profiles import get_profile  # noqa: E402
from promptwitness.agents.registry import ensure  # noqa: E402

TARGET_S = 180.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--version", default="2.1.91")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    profile = get_profile("claude-code")
    ensure(profile, args.version)  # cache it (first time only)
    t0 = time.perf_counter()
    for _ in range(100):
        ensure(profile, args.version)
    cached_ms = (time.perf_counter() - t0) * 1000 / 100
    with tempfile.TemporaryDirectory(prefix="pw-audit-bench-") as tmp:
        report = Path(tmp) / "report.json"
        cmd = [
            sys.executable,
            "-m",
            "promptwitness",
            "audit",
            f"claude-code@{args.version}",
            "--store",
            str(Path(tmp) / "store"),
            "--jobs",
            str(args.jobs),
            "-q",
            "--json",
            str(report),
        ]
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
        if proc.returncode not in (0, 1, 3):
            sys.stderr.write(proc.stderr.decode())
            return 2
        doc = json.loads(report.read_text(encoding="utf-8"))
    res = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "cpus": os.cpu_count(),
        "load_before": round(load0, 2),
        "version": args.version,
        "jobs": args.jobs,
        "wall_s": round(wall, 1),
        "runs": doc["summary"]["runs"],
        "cells": len(doc["design"]["cells"]),
        "failed_runs": doc["summary"]["failed_runs"],
        "verdict": doc["verdict"],
        "findings": doc["summary"]["findings"],
        "cached_ensure_ms": round(cached_ms, 3),
    }
    lines = [
        f"audit bench — {res['when']} ({res['cpus']} CPUs, load {load0:.2f})",
        f"audit claude-code@{args.version} --jobs {args.jobs}: {wall:.1f} s, "
        f"{res['runs']} runs in {res['cells']} cells, {res['failed_runs']} failed, "
        f"verdict {res['verdict']} {res['findings']}",
        f"ensure() of the cached release: {cached_ms:.3f} ms",
        f"{'PASS' if wall < TARGET_S else 'MISS'}  full audit {wall:.1f} s, "
        f"target < {TARGET_S:.0f} s",
    ]
    print("\n".join(lines))
    out = ROOT / "benchmarks" / "results" / "audit_latest.json"
    out.write_text(json.dumps(res, indent=2) + "\n")
    out.with_suffix(".txt").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
