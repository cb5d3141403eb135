"""``scan`` timed on real agents: a 10 MB JS bundle and the largest single-file
executable of the agent cache, with the peak memory of each scan.

    .venv/bin/python benchmarks/scan_bench.py [--synthetic] [--also PATH ...]

Targets (from ``~/.cache/promptwitness/agents``, or ``$PROMPTWITNESS_AGENT_CACHE``):

- ``bundle``: Claude Code 2.1.91's ``cli.js`` (minified, ~13 MB). Target: a 10 MB
  bundle in 5 s or less, i.e. 0.5 s per MB (the ratio column scales the target to the
  file's size and also shows the plain 5 s).
- ``executable``: the largest single-file executable in the cache (codex's native
  binary, ~294 MB, printable strings; opencode's Bun binary, ~185 MB, embedded
  sources, is measured beside it). Target: a 230 MB single-file executable in 20 s
  or less, scaled to the file's size. When no executable of 200 MB or more is cached,
  or with ``--synthetic``, a 230 MB file made by concatenating real binaries of the
  cache is measured too.

Each scan runs in its own Python process (``--child``): its wall time, the bytes it
read, and its peak resident set (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) are
its own. Prints a table; writes ``benchmarks/results/scan_latest.json`` and
``scan_latest.txt``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

MB = 1_000_000
BUNDLE_TARGET_S, BUNDLE_TARGET_MB = 5.0, 10.0
EXE_TARGET_S, EXE_TARGET_MB = 20.0, 230.0
RESULTS = ROOT / "benchmarks" / "results"


def cache_root() -> Path:
    from promptwitness.agents.cache import cache_root as root

    return root()


def child(path: str) -> int:
    from promptwitness.discover.scan import scan

    t0 = time.perf_counter()
    report = scan(path, max_seconds=600)
    seconds = time.perf_counter() - t0
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": seconds,
                "bytes_read": report.extra.get("bytes", 0),
                "rss_mb": rss_kb / 1024,
                "files": len(report.files),
                "tables": len(report.tables),
                "decoded_tables": sum(1 for t in report.tables if t.encoding != ("plain",)),
                "lookalikes": len(report.lookalikes),
                "reads": len(report.reads),
                "notes": list(report.notes)[:5],
            }
        )
    )
    return 0


def measure(path: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(path)],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    if proc.returncode != 0:
        raise SystemExit(f"scan of {path} failed:\n{proc.stderr[-2000:]}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    out["path"] = str(path)
    out["size"] = path.stat().st_size
    return out


def largest_executables(root: Path, n: int = 2) -> list[Path]:
    """The largest ELF/PE/Mach-O files of the cache (hard links counted once)."""
    seen: set[tuple[int, int]] = set()
    found: list[tuple[int, Path]] = []
    for dirpath, _dirs, files in os.walk(root):
        for fn in files:
            p = Path(dirpath) / fn
            try:
                st = p.stat()
            except OSError:
                continue
            if st.st_size < 50 * MB or (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            with p.open("rb") as f:
                head = f.read(4)
            if head in (b"\x7fELF", b"\xcf\xfa\xed\xfe") or head[:2] == b"MZ":
                found.append((st.st_size, p))
    found.sort(reverse=True)
    # one per agent: the largest of each, then the largest overall first
    out: list[Path] = []
    agents: set[str] = set()
    for _size, p in found:
        agent = p.relative_to(root).parts[0]
        if agent not in agents and agent != "node":
            agents.add(agent)
            out.append(p)
    return out[:n]


def synthetic(root: Path, size: int, into: Path) -> Path:
    """``size`` bytes made by concatenating real binaries of the cache: an equal part
    of each of the largest (codex's native binary, opencode's Bun binary, ...)."""
    parts = largest_executables(root, 6) or [Path(sys.executable)]
    share = size // len(parts) + 1  # an equal part of each, so every kind is in it
    with into.open("wb") as out:
        written = 0
        while written < size:
            for p in parts:
                taken = 0
                with p.open("rb") as f:
                    while (
                        written < size
                        and taken < share
                        and (chunk := f.read(min(16 << 20, size - written, share - taken)))
                    ):
                        out.write(chunk)
                        written += len(chunk)
                        taken += len(chunk)
                if written >= size:
                    break
    return into


def row(name: str, m: dict[str, Any], target_s: float, target_mb: float) -> dict[str, Any]:
    mb = m["size"] / MB
    scaled = target_s * mb / target_mb
    return {
        "target": name,
        "file": m["path"],
        "size_mb": round(mb, 1),
        "seconds": round(m["seconds"], 2),
        "mb_per_s": round(mb / m["seconds"], 1),
        "peak_rss_mb": round(m["rss_mb"], 1),
        "target_s_scaled": round(scaled, 1),
        "ratio_to_scaled_target": round(m["seconds"] / scaled, 2),
        "target_s_plain": target_s,
        "ratio_to_plain_target": round(m["seconds"] / target_s, 2),
        "files": m["files"],
        "tables": m["tables"],
        "decoded_tables": m["decoded_tables"],
        "lookalikes": m["lookalikes"],
        "reads": m["reads"],
        "notes": m["notes"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument(
        "--synthetic", action="store_true", help="also measure a 230 MB file made of real binaries"
    )
    ap.add_argument(
        "--also",
        nargs="*",
        default=[],
        metavar="PATH",
        help="more targets (measured against the executable target)",
    )
    args = ap.parse_args()
    if args.child:
        return child(args.child)
    root = cache_root()
    rows: list[dict[str, Any]] = []
    bundle = (
        root
        / "claude-code"
        / "2.1.91"
        / "node_modules"
        / "@anthropic-ai"
        / "claude-code"
        / "cli.js"
    )
    if bundle.exists():
        rows.append(
            row(
                "bundle (claude-code 2.1.91 cli.js)",
                measure(bundle),
                BUNDLE_TARGET_S,
                BUNDLE_TARGET_MB,
            )
        )
    else:
        print(f"not cached: {bundle} (promptwitness agents; audit claude-code@2.1.91)")
    exes = largest_executables(root)
    for exe in exes:
        rows.append(
            row(
                f"executable ({exe.name}, {exe.relative_to(root).parts[0]})",
                measure(exe),
                EXE_TARGET_S,
                EXE_TARGET_MB,
            )
        )
    for extra in args.also:
        rows.append(
            row(f"extra ({Path(extra).name})", measure(Path(extra)), EXE_TARGET_S, EXE_TARGET_MB)
        )
    if args.synthetic or not any(e.stat().st_size >= 200 * MB for e in exes):
        with tempfile.TemporaryDirectory(prefix="pw-scan-bench-") as tmp:
            syn = synthetic(root, int(EXE_TARGET_MB * MB), Path(tmp) / "synthetic-230mb")
            rows.append(
                row(
                    "synthetic 230 MB (real binaries concatenated)",
                    measure(syn),
                    EXE_TARGET_S,
                    EXE_TARGET_MB,
                )
            )
    lines = [
        f"scan benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}",
        f"{'target':<46} {'MB':>7} {'s':>7} {'MB/s':>6} {'RSS MB':>7} "
        f"{'target s':>9} {'ratio':>6}  findings",
    ]
    for r in rows:
        lines.append(
            f"{r['target'][:46]:<46} {r['size_mb']:>7.1f} {r['seconds']:>7.2f} "
            f"{r['mb_per_s']:>6.1f} {r['peak_rss_mb']:>7.1f} {r['target_s_scaled']:>9.1f} "
            f"{r['ratio_to_scaled_target']:>6.2f}  {r['files']} files, {r['tables']} tables "
            f"({r['decoded_tables']} decoded), {r['lookalikes']} look-alikes, "
            f"{r['reads']} reads"
        )
    lines.append(
        "ratio = seconds / (target seconds scaled to the file's size); <= 1 meets it. "
        "Targets: 10 MB bundle <= 5 s; 230 MB single-file executable <= 20 s."
    )
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scan_latest.json").write_text(json.dumps(rows, indent=2) + "\n")
    (RESULTS / "scan_latest.txt").write_text(text + "\n")
    return 0 if all(r["ratio_to_scaled_target"] <= 1 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
