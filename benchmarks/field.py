"""The state of the field: the audit's default design on every profiled agent at its
pinned version, each run in a loopback-only sandbox, and one table of what they do.

    .venv/bin/python benchmarks/field.py [--agent NAME]... [--jobs 2] [--out docs/field]

For each profile with a pinned version (``tested``; an agent installed by its vendor's
script is audited when a copy is installed here, else listed as not installed), runs

    promptwitness audit NAME@VERSION --jobs N --clock NOON --json OUT/NAME.json ...

(``...``: ``--html OUT/NAME.html``) exactly as a user would (account-bound agents run
hermetic, as their profile says). ``--clock``: every run's clock starts at noon UTC of
the day, when every zone of the catalog is on the same date, so the table does not
depend on the hour it was made at (from 16:00 UTC on, Asian zones are on the next
date, and an agent that writes the date shows that value change, expected, in those
zones' cells, which the design then confirms with more runs).

With a progress line per agent and the audit's own progress lines in a log
(``OUT/field.log``), it writes the tables between the ``<!-- field:begin -->`` and
``<!-- field:end -->`` markers of ``OUT/README.md`` (agent, version, how it ran,
verdict, covert and overt findings in one line each, noise, runs, median time per run,
wall time; then the agents that cannot run here) and of the repository's README (a
short table); the prose around the markers is kept. ``OUT/field.json`` holds the rows,
and each agent's JSON and HTML report is beside it. ``--agent`` audits some agents
and keeps the other rows of ``field.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from promptwitness.agents.profiles import PROFILES, Profile  # noqa: E402
from promptwitness.agents.profiles.unavailable import UNAVAILABLE  # noqa: E402
from promptwitness.agents.registry import LOCAL_VERSION, install  # noqa: E402
from promptwitness.errors import InstallError  # noqa: E402


def _findings_line(doc: dict[str, Any], severity: str) -> str:
    """One line: the kinds of the findings of one severity and the factors they follow."""
    by_kind: dict[str, set[str]] = {}
    for f in doc["findings"]:
        if f["severity"] == severity:
            by_kind.setdefault(f["kind"], set()).update(f"{k}={v}" for k, v in f["factors"].items())
    parts = []
    for kind, levels in sorted(by_kind.items()):
        names = sorted({lv.split("=")[0] for lv in levels})
        shown = ", ".join(sorted(levels)[:3]) + (f" +{len(levels) - 3}" if len(levels) > 3 else "")
        parts.append(f"{kind} under {'/'.join(names)} ({shown})")
    return "; ".join(parts) or "none"


def audit(
    profile: Profile, version: str, out: Path, jobs: int, clock: str, log: Path
) -> dict[str, Any]:
    report, html = out / f"{profile.name}.json", out / f"{profile.name}.html"
    argv = [
        str(ROOT / ".venv" / "bin" / "promptwitness"),
        "audit",
        profile.name if version == LOCAL_VERSION else f"{profile.name}@{version}",
        "--jobs",
        str(jobs),
        "--clock",
        clock,
        "--json",
        str(report),
        "--html",
        str(html),
    ]
    t0 = time.monotonic()
    with log.open("a", encoding="utf-8") as f:
        f.write(f"\n== {' '.join(argv[1:])}\n")
        f.flush()
        proc = subprocess.run(
            argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=False
        )
    wall = time.monotonic() - t0
    row: dict[str, Any] = {
        "agent": profile.name,
        "title": profile.title,
        "version": version,
        "how": profile.how(),
        "exit": proc.returncode,
        "wall_s": round(wall, 1),
    }
    if proc.returncode not in (0, 1, 3) or not report.exists():
        row["error"] = f"audit failed (exit {proc.returncode}; see {log.name})"
        return row
    doc = json.loads(report.read_text(encoding="utf-8"))
    durations = [r["duration"] for r in doc["runs"] if r["error"] is None]
    sev = Counter(f["severity"] for f in doc["findings"])
    row.update(
        {
            "verdict": doc["verdict"],
            "runs": len(doc["runs"]),
            "failed_runs": doc["summary"]["failed_runs"],
            "median_run_s": round(statistics.median(durations), 2) if durations else None,
            "covert": sev.get("covert", 0),
            "overt": sev.get("overt", 0),
            "expected": sev.get("expected", 0),
            "noise": len(doc["noise"]),
            "noise_paths": sorted({n["path"] or "(request)" for n in doc["noise"]}),
            "covert_line": _findings_line(doc, "covert"),
            "overt_line": _findings_line(doc, "overt"),
            "clock": doc["design"].get("clock"),
        }
    )
    return row


def _noise(row: dict[str, Any]) -> str:
    paths = row.get("noise_paths") or []
    if not paths:
        return "none"
    shown = ", ".join(f"`{p}`" for p in paths[:2])
    return shown + (f" +{len(paths) - 2}" if len(paths) > 2 else "")


def short_table(rows: list[dict[str, Any]]) -> str:
    """The repository README's table: one line an agent."""
    out = [
        "| agent | version | how it ran | verdict | what changes | s/run | audit |",
        "|---|---|---|---|---|---:|---:|",
    ]
    for r in rows:
        if "error" in r:
            out.append(f"| {r['title']} | {r['version']} | {r['how']} | {r['error']} | | | |")
            continue
        change = (
            "; ".join(f"{sev}: {r[sev + '_line']}" for sev in ("covert", "overt") if r[sev])
            or "nothing"
        )
        out.append(
            f"| {r['title']} | {r['version']} | {r['how']} | {r['verdict']} | {change} | "
            f"{r['median_run_s']} | {r['runs']} runs, {r['wall_s']:.0f} s |"
        )
    return "\n".join(out) + "\n"


BEGIN, END = "<!-- field:begin -->", "<!-- field:end -->"


def splice(path: Path, text: str) -> None:
    """Put ``text`` between the markers of ``path`` (appended with them if absent)."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    block = f"{BEGIN}\n{text}{END}"
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        new = head + block + rest.split(END, 1)[1]
    else:
        new = old + ("\n" if old and not old.endswith("\n") else "") + block + "\n"
    path.write_text(new, encoding="utf-8")


def table(rows: list[dict[str, Any]], skipped: list[tuple[str, str]]) -> str:
    head = (
        "| agent | version | how it ran | verdict | covert | overt | noise | runs | "
        "median s/run | wall s |\n|---|---|---|---|---|---|---:|---:|---:|---:|\n"
    )
    body = []
    for r in rows:
        if "error" in r:
            body.append(
                f"| {r['title']} | {r['version']} | {r['how']} | {r['error']} | | | | | | |"
            )
            continue
        body.append(
            f"| [{r['title']}]({r['agent']}.html) | {r['version']} | {r['how']} | "
            f"{r['verdict']} | {r['covert']}: {r['covert_line']} | "
            f"{r['overt']}: {r['overt_line']} | {_noise(r)} | {r['runs']} | "
            f"{r['median_run_s']} | {r['wall_s']} |"
        )
    text = head + "\n".join(body) + "\n"
    if skipped:
        text += "\nNot audited:\n\n" + "".join(f"- {n}: {why}\n" for n, why in skipped)
    if UNAVAILABLE:
        text += "\nCannot run here (`promptwitness agents`):\n\n" + "".join(
            f"- {u.title} ({u.package}): {u.why}; needs {u.needs}\n" for u in UNAVAILABLE
        )
    return text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agent", action="append", default=[], metavar="NAME")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument(
        "--clock",
        default=None,
        help="the audits' --clock (default: noon UTC of today, when every zone of the "
        "catalog is on the same date; 'pinned' for the audit's own default)",
    )
    ap.add_argument("--out", default=str(ROOT / "docs" / "field"))
    args = ap.parse_args()
    clock = args.clock or time.strftime("%Y-%m-%dT12:00:00Z", time.gmtime())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "field.log"
    log.write_text("", encoding="utf-8")
    chosen = [PROFILES[n] for n in args.agent] if args.agent else list(PROFILES.values())
    previous = out / "field.json"
    kept: dict[str, dict[str, Any]] = {}
    if args.agent and previous.exists():  # re-running some agents keeps the others' rows
        kept = {r["agent"]: r for r in json.loads(previous.read_text(encoding="utf-8"))["rows"]}
    rows: list[dict[str, Any]] = []
    skipped: list[tuple[str, str]] = []
    started = time.monotonic()
    for i, p in enumerate(chosen, 1):
        version = LOCAL_VERSION if p.registry == "local" else p.tested
        if version is None:
            skipped.append((p.title, "no pinned version"))
            continue
        try:
            install(p, version)
        except InstallError as exc:
            skipped.append((p.title, str(exc).split(":")[0]))
            print(f"[{i}/{len(chosen)}] {p.name}: not audited ({exc})", flush=True)
            continue
        print(
            f"[{i}/{len(chosen)}] {p.name}@{version}: auditing "
            f"({time.monotonic() - started:.0f} s so far)",
            flush=True,
        )
        row = audit(p, version, out, args.jobs, clock, log)
        rows.append(row)
        kept.pop(p.name, None)
        print(
            f"[{i}/{len(chosen)}] {p.name}@{version}: "
            + (
                row.get("error")
                or f"{row['verdict']}, {row['covert']} covert, "
                f"{row['overt']} overt, {row['runs']} runs, "
                f"{row['wall_s']} s"
            ),
            flush=True,
        )
        previous.write_text(
            json.dumps({"rows": [*rows, *kept.values()]}, indent=2) + "\n", encoding="utf-8"
        )
    order = {name: i for i, name in enumerate(PROFILES)}
    rows = sorted([*rows, *kept.values()], key=lambda r: order.get(r["agent"], len(order)))
    when = time.strftime("%Y-%m-%d", time.gmtime())
    text = (
        f"Generated by `benchmarks/field.py` on {when}: `promptwitness audit NAME@VERSION "
        f"--jobs {args.jobs} --clock {clock}`, the audit's default design, every run in a "
        "loopback-only sandbox.\n\n" + table(rows, skipped)
    )
    splice(out / "README.md", text)
    if Path(args.out).resolve() == (ROOT / "docs" / "field").resolve():
        splice(ROOT / "README.md", short_table(rows))
    print(text, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
