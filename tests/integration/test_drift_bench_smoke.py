"""benchmarks/drift_bench.py still runs (a tiny size, no thresholds)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_drift_bench_runs(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    r = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "drift_bench.py"), "--sizes", "120", "240"]
        + ["--clients", "12", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert [row["size"] for row in rows] == [120, 240]
    assert all(row["exchanges"] == row["size"] and row["findings"] == 1 for row in rows)
    assert "ratios 240 / 120" in r.stdout
