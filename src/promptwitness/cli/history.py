"""``history``: an agent's prompt across releases, and a bisect of a finding."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from promptwitness.cli.common import (
    add_store_option,
    open_store,
    status,
    stderr_console,
    stdout_console,
    write_report,
)
from promptwitness.errors import UsageError
from promptwitness.probe.clock import describe, parse_clock

if TYPE_CHECKING:
    from promptwitness.history.run import Bisect, History, Source
    from promptwitness.probe.factors import Selection

EXIT_ERROR = 2
SCREENING = ("tz=UTC,Asia/Shanghai", "endpoint-host=127.0.0.1,api.deepseek.com")


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "history",
        help="the changelog of an agent's prompt across releases; bisect a finding",
        description=(
            "Install (or reuse) every release of AGENT in RANGE, run each headless in the "
            "sandbox twice (what differs between the two runs is noise and is excluded), "
            "and print what changed from release to release in the main model request: "
            "tools added and removed, tool descriptions and schemas, system blocks, the "
            "first message, parameters and headers (version-number-only changes marked "
            "as expected), and the sizes. RANGE: A..B (every published version from A to "
            "B; either end may be left out) or a comma list (V1,V2,...). --audit probes "
            "every release with a fast screening set as well; --bisect SIGNATURE finds "
            "the first and the last release for which a finding holds, with O(log n) "
            "audits. Exit codes: 0 done (bisect: found), 2 error, 3 some release could "
            "not be captured (bisect: not found, or not one contiguous run)."
        ),
    )
    p.add_argument("agent", metavar="AGENT", help="a known agent, e.g. claude-code")
    p.add_argument("range", metavar="RANGE", help="A..B, or V1,V2,... (see above)")
    p.add_argument(
        "--every",
        type=int,
        metavar="N",
        help="keep every N-th release of the range (both ends always kept)",
    )
    p.add_argument(
        "--max",
        type=int,
        dest="most",
        metavar="N",
        help="keep at most N releases, evenly spread (both ends always kept)",
    )
    p.add_argument(
        "--order",
        choices=("version", "published"),
        default="version",
        help="order of an A..B range: by version number (default) or by the "
        "registry's publication time",
    )
    p.add_argument(
        "--audit",
        action="store_true",
        help="also probe every release with a screening set (default: --factor "
        + " --factor ".join(SCREENING)
        + ", one factor at a time) and show "
        "each release's verdict and findings",
    )
    p.add_argument(
        "--factor",
        action="append",
        default=[],
        metavar="NAME[=L1,L2,...]",
        help="the screening factors of --audit and --bisect (repeatable; replaces the default set)",
    )
    p.add_argument(
        "--pairwise", action="store_true", help="screen pairs of factor levels too (slower)"
    )
    p.add_argument(
        "--bisect",
        metavar="SIGNATURE",
        help="FACTOR[=LEVEL]:KIND (e.g. endpoint-host:confusable, "
        "tz=Asia/Shanghai:date-format) or verdict:conditioned: find the first "
        "and last release of RANGE for which it holds (every release of RANGE "
        "is a candidate; --every/--max thin out the timeline only)",
    )
    p.add_argument(
        "--bisect-known",
        metavar="VERSION",
        help="a release known to show the signature (saves the search for one)",
    )
    p.add_argument(
        "--bisect-probes",
        type=int,
        default=7,
        metavar="N",
        help="at most N points sampled to find a positive release when neither "
        "end is one and none is known (default 7)",
    )
    p.add_argument(
        "--runs",
        type=int,
        default=2,
        metavar="N",
        help="identical runs per release to measure noise (default 2)",
    )
    p.add_argument(
        "--replicates", type=int, default=2, metavar="N", help="runs per screening cell (default 2)"
    )
    p.add_argument(
        "--timeout", type=float, default=300.0, metavar="S", help="seconds per run (default 300)"
    )
    p.add_argument(
        "--clock",
        default="pinned",
        metavar="WHEN",
        help="the runs' wall clock: 'pinned' (default: every run of every "
        "version starts at the same instant, the history's start time moved "
        "back to 7.5 minutes past a quarter hour, so no run sees a date "
        "change), 'real', or an ISO "
        "8601 instant such as 2026-12-05T23:59:00Z",
    )
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="runs at once (default 1)")
    p.add_argument("--prompt", help="the task given to the agent (default: the profile's)")
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="VAR=VALUE",
        help="set this variable in every run; repeatable",
    )
    add_store_option(p)
    p.add_argument(
        "--json", metavar="FILE", help="write promptwitness/history/v1 JSON here ('-': stdout)"
    )
    p.add_argument(
        "--html",
        metavar="FILE",
        help="write a self-contained HTML report here (timeline chart, changes, audits, bisect)",
    )
    p.add_argument(
        "--sarif",
        metavar="FILE",
        help="write SARIF 2.1.0 here (one result per audit finding per release)",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress, no summary")
    p.set_defaults(func=cmd_history)


def make_source(name: str, args: argparse.Namespace) -> Source:
    """The source of releases for AGENT (tests replace this function)."""
    from promptwitness.agents.profiles import get_profile
    from promptwitness.history.run import ProfileSource
    from promptwitness.probe.command import env_pairs

    return ProfileSource(get_profile(name), prompt=args.prompt, env=env_pairs(args.env))


def _screening(args: argparse.Namespace) -> tuple[Selection, ...]:
    from promptwitness.probe.factors import parse_factor_arg

    chosen = tuple(parse_factor_arg(a) for a in (args.factor or SCREENING))
    for s in chosen:
        if len(s.levels) < 2:
            raise UsageError(f"factor {s.name} needs at least two levels (a control and one more)")
    return chosen


class _Reporter:
    """Progress on standard error: one status line, and a line per finished release."""

    def __init__(self, bar: Progress | None) -> None:
        self.bar = bar
        self.task = bar.add_task("", total=None) if bar is not None else None
        self.version = ""
        self.runs = ""

    def _show(self, what: str) -> None:
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, description=f"{self.version} {what}")

    def __call__(self, event: str, info: Mapping[str, Any]) -> None:
        if self.bar is None:
            return
        if event == "version":
            total = info.get("total")
            self.version = f"{info['version']}" + (
                f" ({info['index']}/{total})" if total else f" (audit {info['index']})"
            )
        elif event == "install":
            self._show("installing (cached after the first time)")
        elif event == "installed":
            self._show(f"installed in {info['seconds']:.1f} s")
        elif event == "phase":
            self.runs = str(info["total"])
            self._show(f"{info['phase']} runs")
        elif event == "run":
            self._show(f"run {info['done']}/{self.runs}")
        elif event in ("captured", "audited"):
            cap = info["capture"]
            line = f"{info['version']}: "
            if cap.error is not None:
                line += f"failed: {cap.error}"
            else:
                line += f"{len(cap.runs)} identical runs"
                if cap.audit is not None:
                    line += f", audit {cap.audit.verdict} ({len(cap.audit.findings)} findings)"
                if event == "audited":
                    line += f", signature {'holds' if info['holds'] else 'does not hold'}"
            self.bar.console.print(
                line + f"  [{cap.seconds:.1f} s]", markup=False, style="yellow" if cap.error else ""
            )


def cmd_history(args: argparse.Namespace) -> int:
    from promptwitness.history.bisect import parse_signature
    from promptwitness.history.document import to_json
    from promptwitness.history.run import (
        HistoryOptions,
        bisect_selections,
        run_bisect,
        run_history,
    )
    from promptwitness.history.versions import sample, select
    from promptwitness.probe.sandbox import Sandbox
    from promptwitness.report.history_terminal import render_bisect, render_history

    if args.runs < 2:
        raise UsageError("--runs must be at least 2 (two identical runs measure the noise)")
    signature = parse_signature(args.bisect) if args.bisect else None
    source = make_source(args.agent, args)
    console = stderr_console()
    with status(console, f"listing {source.title} releases"):
        releases = source.releases()
    in_range = select(releases, args.range, order=args.order)
    chosen = sample(in_range, every=args.every, most=args.most)
    screening = _screening(args)
    options = HistoryOptions(
        runs=args.runs,
        audit=screening if args.audit else None,
        replicates=args.replicates,
        pairwise=args.pairwise,
        timeout=args.timeout,
        jobs=args.jobs,
        clock=_clock(args.clock),
    )
    history: History | None = None
    bisect: Bisect | None = None
    store = open_store(args)
    if not args.quiet:
        what = f"{len(chosen)} of {len(in_range)} release(s) in {args.range}"
        console.print(
            f"{source.title}: "
            + (
                f"bisect {signature.text} over {len(in_range)} release(s)"
                if signature and not args.audit
                else what
            ),
            markup=False,
        )
    try:
        with (
            Sandbox() as box,
            Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=console,
                transient=True,
                disable=args.quiet,
            ) as bar,
        ):
            report = _Reporter(None if args.quiet else bar)
            if signature is None or args.audit:
                history = run_history(source, chosen, store, options, report, sandbox=box)
            if signature is not None:
                sels = (
                    screening
                    if args.audit
                    else bisect_selections(signature, screening, given=bool(args.factor))
                )
                bisect = run_bisect(
                    source,
                    in_range,
                    signature,
                    store,
                    options,
                    sels,
                    known=args.bisect_known,
                    progress=report,
                    sandbox=box,
                    probes=args.bisect_probes,
                    cache=None
                    if history is None
                    else {c.version: c for c in history.captures if c.audit is not None},
                )
    finally:
        store.close()
    range_info = {
        "spec": args.range,
        "order": args.order,
        "every": args.every,
        "max": args.most,
        "in_range": len(in_range),
        "selected": [r.version for r in chosen],
    }
    doc = to_json(source.name, source.title, range_info, store.label, history, bisect)
    text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    if args.json == "-":
        sys.stdout.write(text)
    elif args.json:
        write_report(args.json, text, "JSON report", quiet=args.quiet)
    if not args.quiet:
        out = console if args.json == "-" else stdout_console()
        if history is not None:
            out.print(render_history(history))
        if bisect is not None:
            out.print(render_bisect(bisect))
    code = _exit_code(history, bisect)
    if args.html:
        from promptwitness.report.history_html import render_history_html

        write_report(args.html, render_history_html(doc), "HTML report", quiet=args.quiet)
    if args.sarif:
        from promptwitness.report.sarif import dumps, history_sarif

        write_report(
            args.sarif,
            dumps(
                history_sarif(doc, exit_code=code, command_line=["promptwitness", *sys.argv[1:]])
            ),
            "SARIF log",
            quiet=args.quiet,
        )
    return code


def _exit_code(history: History | None, bisect: Bisect | None) -> int:
    if bisect is not None and (bisect.first is None or not bisect.search.contiguous):
        return 3
    if history is not None:
        ok = sum(1 for e in history.timeline.entries if e.error is None)
        if ok == 0:
            return EXIT_ERROR
        if ok < len(history.timeline.entries):
            return 3
    return 0


def _clock(text: str) -> str:
    """``--clock`` fixed once for the whole history: ``pinned`` becomes the instant."""
    try:
        instant = parse_clock(text, time.time())
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return "real" if instant is None else describe(instant)
