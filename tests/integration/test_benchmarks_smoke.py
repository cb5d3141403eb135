"""The benchmark scripts still run (tiny sizes, no thresholds: performance is measured
by running them, not here). The capture bench drives the real ``promptwitness serve``
against its stand-in upstream, on loopback only; the writer diagnostic stores for real."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _bench(script: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``benchmarks/SCRIPT ARGS`` from the checkout's root, no standard input."""
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
    )


def test_capture_bench_runs_every_phase_against_serve(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    r = _bench(
        "capture_bench.py",
        "--no-mitmproxy",
        "--no-pw-thread",
        "--requests",
        "30",
        "--warmup",
        "5",
        "--duration",
        "1",
        "--concurrency",
        "4",
        "--repeats",
        "20",
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    res = json.loads(out.read_text())
    assert res["pw_command"].startswith("promptwitness serve ")
    assert res["phases"] == ["latency", "storage", "throughput"]
    assert res["latency"]["requests_per_target"] == 30
    assert set(res["latency"]["added_ms"]) == {"promptwitness"}
    assert res["throughput"]["requests_per_second"]["promptwitness"] > 0
    assert res["storage"]["repeats"] == 20
    assert res["foreign_connections"] == []
    assert "Targets" in out.with_suffix(".txt").read_text()


def test_capture_bench_runs_one_phase(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    r = _bench(
        "capture_bench.py",
        "--no-mitmproxy",
        "--no-pw-thread",
        "--phases",
        "storage",
        "--repeats",
        "10",
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    res = json.loads(out.read_text())
    assert "latency" not in res and "throughput" not in res
    assert res["storage"]["repeats"] == 10
    bad = _bench("capture_bench.py", "--phases", "speed", timeout=60)
    assert bad.returncode == 2 and "--phases takes" in bad.stderr


def test_writer_cost_runs() -> None:
    r = _bench("writer_cost.py", "50")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "50 exchanges: redact" in r.stdout
    assert "49 hits, 1 misses" in r.stdout


def test_fleet_bench_runs_two_replicas_on_postgresql(tmp_path: Path) -> None:
    """Two ``serve`` replicas on a PostgreSQL server the script starts, beside one SQLite
    gateway: every exchange sent is stored once, in one dense, verifiable log."""
    out = tmp_path / "fleet.json"
    r = _bench(
        "fleet_bench.py",
        "--duration",
        "1",
        "--concurrency",
        "4",
        "--requests",
        "20",
        "--warmup",
        "2",
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads(out.read_text())
    for integ in res["integrity"].values():
        assert integ["sent"] == integ["stored"] == integ["leaves"] > 0
        assert integ["dense"] and integ["verify_problems"] == []
    assert set(res["throughput_rps"]) == {"sqlite", "postgresql", "postgresql-flush"}
    assert "answers/s" in r.stdout and "added p50" in r.stdout
