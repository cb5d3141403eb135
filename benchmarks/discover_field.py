"""``scan`` and ``discover`` on every profiled agent at its pinned version: what each
hides, what it reads, what of that changes its request, and the coverage.

    .venv/bin/python benchmarks/discover_field.py [--agent NAME[@VERSION]]... [--jobs 2]
        [--reports DIR]

For each agent (every profile with a pinned version, or the ``--agent`` ones; a version
after ``@`` picks another release, e.g. ``claude-code@2.1.0``), runs, as a user would:

    promptwitness scan NAME@VERSION --json DIR/NAME@VERSION.scan.json
    promptwitness discover NAME@VERSION --jobs N --json DIR/NAME@VERSION.json

(account-bound agents run hermetic, as their profile says), with a progress line per
step on standard output and the commands' own progress lines in
``benchmarks/results/discover_field.log``.
Each agent becomes one row (scan: files, seconds, string tables and how many were
decoded, look-alike literals, environment reads; discover: verdict, derived factors and
levels, runs and runs per level, seconds, the factors of the covert, overt and expected
findings, and the coverage sentence). The rows are kept in
``benchmarks/results/discover_field.json`` (a re-run of some agents keeps the others'
rows) and written as a table between the ``<!-- discover-field:begin -->`` and
``<!-- discover-field:end -->`` markers of ``docs/discover.md``, and as a short table
(tables decoded, levels derived, runs, what changes) between the same markers of the
repository's README. DIR (``--reports``)
defaults to a temporary directory, removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from promptwitness.agents.profiles import PROFILES  # noqa: E402

ROWS = ROOT / "benchmarks" / "results" / "discover_field.json"
DOC = ROOT / "docs" / "discover.md"
README = ROOT / "README.md"
BEGIN, END = "<!-- discover-field:begin -->", "<!-- discover-field:end -->"
SEVERITIES = ("covert", "overt", "expected")


def factors_line(findings: list[dict[str, Any]], severity: str) -> str:
    """The factors of the findings of one severity: names, variables (``env:``) counted."""
    names = {k for f in findings if f["severity"] == severity for k in f["factors"]}
    variables = sum(1 for n in names if n.startswith("env:"))
    shown = sorted(n for n in names if not n.startswith("env:"))
    if variables:
        shown.append(f"{variables} variable{'s' if variables != 1 else ''}")
    return ", ".join(shown)


def scan_cell(doc: dict[str, Any]) -> str:
    tables = doc["tables"]
    decoded = sum(1 for t in tables if t["encoding"] != ["plain"])
    return (
        f"{len(doc['files']):,} files, {doc['seconds']:.0f} s: {len(tables)} tables "
        f"({decoded} decoded), {len(doc['lookalikes'])} look-alike literals, "
        f"{len(doc['reads'])} reads"
    )


def discover_cell(doc: dict[str, Any], seconds: float) -> str:
    d = doc["discover"]
    confirmed = sum(1 for x in d["leads"] if x["outcome"] == "finding")
    head = (
        f"**{doc['verdict']}**; {len(d['leads'])} factors, {d['derived_levels']} levels, "
        f"{d['runs']} runs ({d['runs_per_level']:.2f}/level), {seconds:.0f} s; "
        f"{confirmed} factors confirmed"
    )
    parts = [head]
    for severity in SEVERITIES:
        line = factors_line(doc["findings"], severity)
        if line:
            parts.append(f"{severity}: {line}")
    return "; ".join(parts) + f". Coverage: {d['coverage']['summary']}"


def run(argv: list[str], log: Path) -> tuple[int, float]:
    t0 = time.monotonic()
    with log.open("a", encoding="utf-8") as f:
        f.write(f"\n== {' '.join(argv[1:])}\n")
        f.flush()
        proc = subprocess.run(
            argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False
        )
    return proc.returncode, time.monotonic() - t0


def one(target: str, jobs: int, out: Path, log: Path) -> dict[str, Any]:
    pw = str(ROOT / ".venv" / "bin" / "promptwitness")
    row: dict[str, Any] = {"agent": target.replace("@", " "), "ran": time.strftime("%Y-%m-%d")}
    scan_json = out / f"{target}.scan.json"
    code, _ = run([pw, "scan", target, "--json", str(scan_json)], log)
    if code != 0 or not scan_json.exists():
        row["scan"] = f"scan failed (exit {code}, see the log)"
    else:
        row["scan"] = scan_cell(json.loads(scan_json.read_text(encoding="utf-8")))
    report = out / f"{target}.json"
    argv = [pw, "discover", target, "--jobs", str(jobs), "--json", str(report)]
    code, seconds = run(argv, log)
    if code not in (0, 1, 3) or not report.exists():
        row["discover"] = f"discover failed (exit {code}, see the log)"
    else:
        row["discover"] = discover_cell(json.loads(report.read_text(encoding="utf-8")), seconds)
    row["seconds"] = round(seconds, 1)
    return row


def table(rows: list[dict[str, Any]]) -> str:
    head = "| agent | ran | scan | discover (no factor given) |\n|---|---|---|---|\n"
    return head + "".join(
        f"| {r['agent']} | {r['ran']} | {r['scan']} | {r['discover']} |\n" for r in rows
    )


_CELL = re.compile(
    r"\*\*(?P<verdict>\w+)\*\*; (?P<factors>\d+) factors, (?P<levels>\d+) levels, "
    r"(?P<runs>\d+) runs \((?P<per>[\d.]+)/level\)"
)
_TABLES = re.compile(r"(?P<tables>\d+) tables \((?P<decoded>\d+) decoded\)")


def short_table(rows: list[dict[str, Any]]) -> str:
    """The README's table: per agent, the string tables decoded, the levels derived and
    the runs that swept them, and the factors whose findings it confirmed."""
    head = (
        "| agent | tables decoded | derived levels | runs (per level) | verdict: what changes |\n"
        "|---|---:|---:|---:|---|\n"
    )
    body = []
    for r in rows:
        m, t = _CELL.search(r["discover"]), _TABLES.search(r["scan"])
        if m is None:
            body.append(f"| {r['agent']} | | | | {r['discover'].split('. ')[0]} |")
            continue
        what = r["discover"].split(". Coverage:")[0].split("; ")
        changes = "; ".join(p for p in what if p.startswith(SEVERITIES)) or "nothing"
        decoded = f"{t['decoded']} of {t['tables']}" if t else ""
        body.append(
            f"| {r['agent']} | {decoded} | {m['levels']} | {m['runs']} ({m['per']}) | "
            f"{m['verdict']}: {changes} |"
        )
    return head + "\n".join(body) + "\n"


def splice(path: Path, text: str) -> None:
    old = path.read_text(encoding="utf-8")
    if BEGIN not in old or END not in old:
        raise SystemExit(f"{path}: no {BEGIN} ... {END} markers to write the table between")
    head, rest = old.split(BEGIN, 1)
    path.write_text(f"{head}{BEGIN}\n{text}{END}{rest.split(END, 1)[1]}", encoding="utf-8")


def order(agent: str) -> tuple[int, str]:
    names = list(PROFILES)
    name, _, version = agent.partition(" ")
    return (names.index(name) if name in names else len(names), version)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agent", action="append", default=[], metavar="NAME[@VERSION]")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--reports", type=Path, help="keep the scan and discover reports here")
    args = ap.parse_args()
    targets = []
    for a in args.agent or [n for n, p in PROFILES.items() if p.tested]:
        name, _, version = a.partition("@")
        if name not in PROFILES:
            raise SystemExit(f"no profile {name!r}: one of {', '.join(PROFILES)}")
        version = version or PROFILES[name].tested or ""
        if not version:
            raise SystemExit(f"{name}: no pinned version; give one (NAME@VERSION)")
        targets.append(f"{name}@{version}")
    out = args.reports or Path(tempfile.mkdtemp(prefix="pw-discover-field-"))
    out.mkdir(parents=True, exist_ok=True)
    log = ROOT / "benchmarks" / "results" / "discover_field.log"
    log.write_text("", encoding="utf-8")
    kept = {}
    if ROWS.exists():
        kept = {r["agent"]: r for r in json.loads(ROWS.read_text(encoding="utf-8"))["rows"]}
    started = time.monotonic()
    try:
        for i, target in enumerate(targets, 1):
            print(
                f"[{i}/{len(targets)}] {target}: scan and discover "
                f"({time.monotonic() - started:.0f} s so far; log {log})",
                flush=True,
            )
            row = one(target, args.jobs, out, log)
            kept[row["agent"]] = row
            print(f"[{i}/{len(targets)}] {target}: {row['discover']}", flush=True)
            rows = sorted(kept.values(), key=lambda r: order(r["agent"]))
            ROWS.parent.mkdir(parents=True, exist_ok=True)
            ROWS.write_text(json.dumps({"rows": rows}, indent=2) + "\n", encoding="utf-8")
            splice(DOC, table(rows))
            splice(README, short_table(rows))
    finally:
        if args.reports is None:
            shutil.rmtree(out, ignore_errors=True)
    print(table(sorted(kept.values(), key=lambda r: order(r["agent"]))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
