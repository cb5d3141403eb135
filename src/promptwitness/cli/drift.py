"""``drift``: covert form variants of shared template text across the senders of a store."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time

import regex

from promptwitness.cli.common import (
    add_store_option,
    open_store,
    stderr_console,
    stdout_console,
    write_report,
)
from promptwitness.errors import UsageError

__all__ = ["add_parsers", "parse_when"]

_RELATIVE = regex.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
PROGRESS_EVERY = 5.0  # seconds between progress lines


def parse_when(text: str, option: str, now: float | None = None) -> float:
    """A UNIX time from ``--since``/``--until``: an ISO 8601 date or date-time (UTC when
    no offset is given), or a duration before now (``90m``, ``24h``, ``7d``, ``2w``)."""
    t = text.strip()
    m = _RELATIVE.fullmatch(t)
    if m is not None:
        return (time.time() if now is None else now) - float(m.group(1)) * _UNIT[m.group(2)]
    try:
        when = dt.datetime.fromisoformat(t.replace("Z", "+00:00") if t.endswith("Z") else t)
    except ValueError:
        raise UsageError(
            f"{option} {text!r}: not a time; give an ISO 8601 date or date-time "
            "(2026-12-06, 2026-12-06T10:00:00+08:00; UTC without an offset) or a "
            "duration before now (90m, 24h, 7d, 2w)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "drift",
        help="find template text that some senders of a store get in another form",
        description=(
            "Over the exchanges of a store (a time window, an agent): group the model "
            "requests by agent, version and request kind, find the lines of template text "
            "they share, and report the lines some senders get in another form (a "
            "look-alike, an invisible code point, whitespace, punctuation, casing, a date "
            "written differently; values such as dates, ids and paths set apart), with "
            "what the gateway knows about the senders that get it (host name, credential "
            "fingerprint, client subnet, headers) and the exchange ids as evidence. Reads "
            "the store only. Exit codes: 0 nothing found, 1 found, 2 error."
        ),
    )
    add_store_option(p)
    p.add_argument("--since", metavar="WHEN", help="exchanges from then on (ISO 8601, or 7d, 24h)")
    p.add_argument("--until", metavar="WHEN", help="exchanges before then (ISO 8601, or 7d, 24h)")
    p.add_argument(
        "--agent",
        metavar="SUBSTR",
        help="only requests whose user agent contains this (any case)",
    )
    p.add_argument(
        "--template-share",
        type=float,
        default=0.5,
        metavar="F",
        help="a line is template text when at least this share of its group's requests "
        "has it (0 < F <= 1; default 0.5)",
    )
    p.add_argument(
        "--min-senders",
        type=int,
        default=2,
        metavar="N",
        help="a variant is a finding when at least N senders (client address and "
        "credential) sent it (default 2)",
    )
    p.add_argument("--json", metavar="FILE", help="write the JSON report here ('-': stdout)")
    p.add_argument("--html", metavar="FILE", help="write a self-contained HTML report here")
    p.add_argument("--sarif", metavar="FILE", help="write a SARIF 2.1.0 report here (for CI)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress, no summary")
    p.set_defaults(func=cmd_drift)


def cmd_drift(args: argparse.Namespace) -> int:
    from promptwitness.drift.model import Options
    from promptwitness.drift.run import run_drift
    from promptwitness.report.drift_terminal import render_drift

    since = parse_when(args.since, "--since") if args.since else None
    until = parse_when(args.until, "--until") if args.until else None
    if since is not None and until is not None and until <= since:
        raise UsageError("--until must be later than --since")
    if not 0 < args.template_share <= 1:
        raise UsageError(f"--template-share must be in (0, 1], not {args.template_share}")
    if args.min_senders < 1:
        raise UsageError(f"--min-senders must be at least 1, not {args.min_senders}")
    if args.agent is not None and not args.agent.strip():
        raise UsageError("--agent needs a non-empty substring of a user agent")
    options = Options(template_share=args.template_share, min_senders=args.min_senders)
    console = stderr_console()
    t0 = time.monotonic()
    last = [t0]

    def progress(phase: str, n: int) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY:
            last[0] = now
            rate = n / max(now - t0, 1e-9)
            console.print(f"drift {phase}: {n:,} exchanges read ({rate:,.0f}/s)", markup=False)

    store = open_store(args, create=False, readonly=True)
    try:
        if not args.quiet:
            console.print(f"drift: reading {store.label}", markup=False, highlight=False)
        report = run_drift(
            store,
            since=since,
            until=until,
            agent=args.agent,
            options=options,
            progress=None if args.quiet else progress,
        )
    finally:
        store.close()
    if not args.quiet:
        took = time.monotonic() - t0
        console.print(
            f"drift: {report.read:,} exchanges in {took:.1f} s, {report.passes} pass"
            + ("es" if report.passes != 1 else ""),
            markup=False,
        )
    doc = report.to_json()
    text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    if args.json == "-":
        sys.stdout.write(text)
    elif args.json:
        write_report(args.json, text, "JSON report", quiet=args.quiet)
    if args.html:
        from promptwitness.report.drift_html import render_drift_html

        write_report(args.html, render_drift_html(report), "HTML report", quiet=args.quiet)
    if args.sarif:
        from promptwitness.report.drift_sarif import drift_sarif
        from promptwitness.report.sarif import dumps

        sarif = drift_sarif(report, command_line=["promptwitness", *sys.argv[1:]])
        write_report(args.sarif, dumps(sarif), "SARIF log", quiet=args.quiet)
    if not args.quiet:
        out = console if args.json == "-" else stdout_console()
        out.print(render_drift(report))
    return report.exit_code
