"""``probe``: run a command under a designed matrix of environments and attribute
every difference in what it sends to the factor that causes it."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from promptwitness.cli.common import (
    add_store_option,
    open_store,
    stderr_console,
    stdout_console,
    write_report,
)
from promptwitness.errors import UsageError
from promptwitness.model import CannedReply
from promptwitness.probe.command import env_pairs, exposed_paths, resolve_command
from promptwitness.probe.factors import FACTORS, Selection, parse_factor_arg, parse_vary_env

if TYPE_CHECKING:
    from promptwitness.agents.profiles.base import Profile
    from promptwitness.capture.hermetic import HermeticOptions
    from promptwitness.probe.model import ProbeConfig, ProbeResult
    from promptwitness.store import Store

EXIT_ERROR = 2
FAIL_ON = {"covert": ("covert",), "overt": ("overt",), "any": ("covert", "overt", "expected")}


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "probe",
        help="find which parts of what a command sends depend on its environment",
        description=(
            "Run CMD in a sandbox (loopback-only network namespace, private /etc, fixed "
            "HOME and working directory) under a designed matrix of environments: control "
            "replicates, every level of every factor one at a time, then a pairwise "
            "covering design. Every difference in what CMD sends to the capture server is "
            "classified and attributed to the factor levels that cause it. Factors: "
            + ", ".join(FACTORS)
            + ", env:NAME. "
            "Exit codes: 0 clean, 1 conditioned, 2 error, 3 inconclusive."
        ),
    )
    add_probe_options(p)
    p.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS...]")
    p.set_defaults(func=cmd_probe)


def add_probe_options(p: argparse.ArgumentParser) -> None:
    """The options ``probe`` shares with ``audit`` (and ``history --audit``)."""
    add_store_option(p)
    p.add_argument(
        "--factor",
        action="append",
        default=[],
        metavar="NAME[=L1,L2,...]",
        help="vary this factor (default levels, or these; L1 is the control); "
        "repeatable; none given: every factor of the catalog",
    )
    p.add_argument(
        "--vary-env",
        action="append",
        default=[],
        metavar="VAR=V1,V2,...",
        help="vary an environment variable (the factor env:VAR); repeatable",
    )
    p.add_argument(
        "--replicates",
        type=int,
        default=2,
        metavar="N",
        help="runs per cell whose first run shows a change (default 2; a cell whose "
        "first run shows none is cleared by the control's runs); the control gets N+1, "
        "at least 3",
    )
    p.add_argument(
        "--all-replicates",
        action="store_true",
        help="give every cell its --replicates runs up front, not only the cells whose "
        "first run shows a change",
    )
    p.add_argument(
        "--screen",
        action="store_true",
        help="let the covering rows screen the levels: a level that a covering row holds "
        "runs alone only once a row holding it shows a change (a clean agent's default "
        "audit: 44 runs, not 71). Weaker: a level then never runs with every other "
        "factor at control, where an agent may condition on it alone, or where another "
        "factor does not mask it (TZ hides the system zone)",
    )
    p.add_argument(
        "--covering-replicates",
        type=int,
        default=1,
        metavar="N",
        help="runs per covering (pairwise screening) row that varies 3+ "
        "factors (default 1: a change seen there is confirmed by pair cells "
        "with --replicates runs; a row of two factors is a pair cell and "
        "gets --replicates)",
    )
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="runs at once (default 1)")
    p.add_argument(
        "--workdir",
        metavar="DIR",
        help="copy this directory as the working directory of every run "
        "(default: a fresh git repository with fixed dates)",
    )
    p.add_argument(
        "--no-pairwise",
        action="store_true",
        help="skip the pairwise covering cells (one factor at a time only)",
    )
    p.add_argument(
        "--timeout", type=float, default=300.0, metavar="S", help="seconds per run (default 300)"
    )
    p.add_argument(
        "--clock",
        default="pinned",
        metavar="WHEN",
        help="the runs' wall clock: 'pinned' (default: every run starts at the "
        "same instant, the start time moved back to 7.5 minutes past a "
        "quarter hour, so no run sees a date change), 'real', or an ISO "
        "8601 instant such as 2026-12-05T23:59:00Z",
    )
    p.add_argument(
        "--expose",
        action="append",
        default=[],
        metavar="PATH",
        help="a host path under /tmp, /home or /root the command needs "
        "(bound read-only at the same path); repeatable",
    )
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="VAR=VALUE",
        help="set this variable in every run; repeatable",
    )
    p.add_argument("--json", metavar="FILE", help="write the JSON report here ('-': stdout)")
    p.add_argument(
        "--html",
        metavar="FILE",
        help="write a self-contained HTML report here (readable offline, printable)",
    )
    p.add_argument("--sarif", metavar="FILE", help="write a SARIF 2.1.0 report here (for CI)")
    p.add_argument(
        "--fail-on",
        choices=sorted(FAIL_ON),
        default=None,
        help="exit 1 for findings of this severity only (any: covert, overt or "
        "expected); default: any covert or overt finding",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress, no summary")
    add_hermetic_options(p)


def add_hermetic_options(p: argparse.ArgumentParser) -> None:
    """``--hermetic`` and its options (``record``, ``probe``, ``audit``)."""
    p.add_argument(
        "--hermetic",
        action="store_true",
        help="run the command as installed (no base-URL variable) and capture "
        "every host it talks to: DNS answers every name with the capture "
        "endpoint, TLS is terminated with a CA made for this run (trusted "
        "through the system bundle files, or the runtime's CA variable "
        "when that is needed), CONNECT is served on the capture port; "
        "endpoint-host gains the level 'default'",
    )
    p.add_argument(
        "--hermetic-answer",
        type=int,
        default=200,
        metavar="STATUS",
        help="hermetic: the status (JSON body {}) for paths of unknown hosts "
        "that no protocol or profile answers (default 200)",
    )
    p.add_argument(
        "--runtime",
        action="append",
        default=[],
        metavar="NAME",
        help="hermetic: the command's runtime, for the CA variable used when "
        "the system bundle is not trusted (node, bun, deno, rust, python, "
        "go); repeatable; default: the profile's, else every runtime that "
        "ignores the system bundle",
    )


def hermetic_options(
    args: argparse.Namespace, profile: Profile | None = None
) -> HermeticOptions | None:
    """The hermetic options of the command line (and the agent profile), or None."""
    if not getattr(args, "hermetic", False):
        return None
    from promptwitness.capture.hermetic import RUNTIMES, HermeticOptions, json_reply
    from promptwitness.capture.tls import CA_TRUST

    if not 100 <= args.hermetic_answer <= 599:
        raise UsageError(f"--hermetic-answer must be an HTTP status, not {args.hermetic_answer}")
    runtimes = tuple(args.runtime)
    for r in runtimes:
        if r not in RUNTIMES and r not in CA_TRUST:
            raise UsageError(
                f"unknown --runtime {r!r}; known: "
                + ", ".join(dict.fromkeys([*RUNTIMES, *CA_TRUST]))
            )
    answers = {}
    if profile is not None:
        if not runtimes and profile.runtime is not None:
            runtimes = (profile.runtime,)
        for method, path, status, body in profile.answers:
            json.loads(body)  # JSON, sent as written (a trailing newline ends an NDJSON line)
            answers[(method, path)] = CannedReply(
                status, (("Content-Type", "application/json"),), (body.encode(),)
            )
    return HermeticOptions(
        answers=answers,
        fallback=json_reply(args.hermetic_answer),
        runtimes=runtimes,
        default_hosts=() if profile is None else profile.default_hosts,
    )


def selections_from_args(args: argparse.Namespace) -> tuple[Selection, ...]:
    chosen = [parse_factor_arg(a) for a in args.factor]
    if getattr(args, "hermetic", False):
        # the agent's default configuration is the control of endpoint-host
        from promptwitness.probe.factors.endpoint_host import DEFAULT

        chosen = [
            Selection(s.factor, (DEFAULT, *s.levels))
            if s.name == "endpoint-host" and "=" not in a
            else s
            for s, a in zip(chosen, args.factor, strict=True)
        ]
    chosen += [parse_vary_env(a) for a in args.vary_env]
    if not args.factor:
        given = {s.name for s in chosen}
        chosen = [Selection(f, f.levels) for f in FACTORS.values() if f.name not in given] + chosen
        if getattr(args, "hermetic", False):
            from promptwitness.probe.factors.endpoint_host import DEFAULT

            chosen = [
                Selection(s.factor, (DEFAULT, *s.levels)) if s.name == "endpoint-host" else s
                for s in chosen
            ]
    for s in chosen:
        if len(s.levels) < 2:
            raise UsageError(f"factor {s.name} needs at least two levels (a control and one more)")
    return tuple(chosen)


def config_from_args(args: argparse.Namespace, argv: Sequence[str], **kw: Any) -> ProbeConfig:
    """A ProbeConfig from the options every probing command shares (replicates, jobs,
    working directory, timeout, pairwise, clock); ``kw`` is what the command decides
    itself (selections, env, expose, hermetic options, a profile's variables)."""
    from promptwitness.probe.model import ProbeConfig

    common: dict[str, Any] = {
        "argv": tuple(argv),
        "replicates": args.replicates,
        "control_replicates": max(3, args.replicates + 1),
        "jobs": args.jobs,
        "workdir": args.workdir,
        "timeout": args.timeout,
        "clock": args.clock,
    }
    if hasattr(args, "all_replicates"):
        common["sequential"] = not args.all_replicates
    if hasattr(args, "screen"):
        common["screen"] = args.screen
    if hasattr(args, "covering_replicates"):
        common["covering_replicates"] = args.covering_replicates
    if hasattr(args, "no_pairwise"):
        common["pairwise"] = not args.no_pairwise
    return ProbeConfig(**{**common, **kw})


def cmd_probe(args: argparse.Namespace) -> int:

    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise UsageError("no command given: promptwitness probe [OPTIONS] -- CMD [ARGS...]")
    cmd = resolve_command(cmd, args.workdir)
    config = config_from_args(
        args,
        cmd,
        selections=selections_from_args(args),
        env=env_pairs(args.env),
        expose=exposed_paths(args.expose, cmd),
        hermetic=hermetic_options(args),
    )
    return execute(args, config, " ".join(cmd))


Runner = Callable[
    ["ProbeConfig", "Store", "Callable[[str, Mapping[str, Any]], None] | None"], "ProbeResult"
]


def execute(
    args: argparse.Namespace,
    config: ProbeConfig,
    what: str,
    *,
    runner: Runner | None = None,
    extra: Callable[[], dict[str, Any]] | None = None,
    after: Callable[[], str] | None = None,
) -> int:
    """Run a configured probe with progress, write the reports, print the summary, and
    return the exit code (0 clean, 1 conditioned, 2 error, 3 inconclusive).

    ``runner`` replaces ``run_probe`` (``discover``'s screening and group tests);
    ``extra()`` is added to the JSON report under ``discover``; ``after()`` is printed
    after the summary."""
    from promptwitness.probe.runner import ProbeError, run_probe
    from promptwitness.probe.sandbox import SandboxError
    from promptwitness.report.probe_json import exit_code, to_json
    from promptwitness.report.probe_terminal import render_probe

    def default_runner(
        config: ProbeConfig, store: Store, progress: Callable[[str, Mapping[str, Any]], None] | None
    ) -> ProbeResult:
        return run_probe(config, store, progress=progress)

    run = runner or default_runner
    selections = config.selections
    console = stderr_console()
    store = open_store(args)
    try:
        if args.quiet:
            result = run(config, store, None)
        else:
            console.print(
                f"probing {what}: {len(selections)} factors ("
                + ", ".join(f"{s.name}×{len(s.levels)}" for s in selections[:12])
                + (f", … {len(selections) - 12} more" if len(selections) > 12 else "")
                + ")",
                markup=False,
            )
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            ) as bar:
                task = bar.add_task("runs", total=None)
                plain = not console.is_terminal  # a log, not a terminal: a line now and then
                last = [time.monotonic()]

                def progress(event: str, info: Mapping[str, Any]) -> None:
                    if event == "clock":
                        bar.console.print(
                            "clock: "
                            + (
                                f"every run starts at {info['clock']}"
                                if info["clock"] != "real"
                                else "the real time"
                            )
                            + (f" ({info['note']})" if info["note"] else ""),
                            markup=False,
                        )
                    elif event == "phase":
                        bar.update(task, total=info["total"], description=f"{info['phase']} runs")
                        if plain:
                            console.print(
                                f"{info['phase']}: {info['runs']} runs "
                                f"({info['total']} in all so far)",
                                markup=False,
                            )
                    elif event == "run":
                        bar.update(task, completed=info["done"])
                        if plain and time.monotonic() - last[0] >= 5:
                            last[0] = time.monotonic()
                            console.print(f"{info['done']}/{info['total']} runs done", markup=False)
                        rec = info["record"]
                        if rec.error:
                            bar.console.print(
                                f"run {rec.cell} #{rec.replicate}: {rec.error}",
                                style="yellow",
                                markup=False,
                            )

                result = run(config, store, progress)
    except (ProbeError, SandboxError) as exc:
        console.print(f"promptwitness: error: {exc}", markup=False)
        return EXIT_ERROR
    finally:
        store.close()
    doc = to_json(result)
    if extra is not None:
        doc["discover"] = extra()
    if args.json == "-":
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
    elif args.json:
        write_report(
            args.json,
            json.dumps(doc, ensure_ascii=False, indent=2) + "\n",
            "JSON report",
            quiet=args.quiet,
        )
    if not args.quiet:
        out = console if args.json == "-" else stdout_console()
        out.print(render_probe(result))
        if after is not None:
            out.print(after(), markup=False, highlight=False)
    code = exit_code(result.verdict)
    if code in (0, 1) and args.fail_on is not None:
        severities = FAIL_ON[args.fail_on]
        hit = any(f.change.severity in severities for f in result.analysis.findings)
        code = 1 if hit else 0
    if getattr(args, "html", None):
        from promptwitness.report.evidence import probe_evidence
        from promptwitness.report.html import render_probe_html

        page = render_probe_html(
            result, probe_evidence(result), exit_code=code, discover=doc.get("discover")
        )
        write_report(args.html, page, "HTML report", quiet=args.quiet)
    if getattr(args, "sarif", None):
        from promptwitness.report.sarif import dumps, probe_sarif

        sarif = probe_sarif(result, exit_code=code, command_line=["promptwitness", *sys.argv[1:]])
        write_report(args.sarif, dumps(sarif), "SARIF log", quiet=args.quiet)
    return code
