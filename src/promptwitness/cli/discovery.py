"""``discover``: find what a command conditions on without guessing the factor.

scan (static) + one traced run (dynamic) -> derived factors and levels -> screened and
confirmed by the probe's own runner and analysis (``discover.engine``) -> the probe's
report with the leads and the coverage added. Exit codes as ``probe``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from promptwitness.cli.common import open_store, stderr_console
from promptwitness.cli.probe import (
    add_probe_options,
    config_from_args,
    execute,
    hermetic_options,
)
from promptwitness.errors import UsageError
from promptwitness.probe.command import env_pairs, exposed_paths, resolve_command
from promptwitness.probe.factors import Selection, parse_factor_arg, parse_vary_env

if TYPE_CHECKING:
    from promptwitness.discover.derive import Derivation
    from promptwitness.discover.engine import DiscoverResult
    from promptwitness.discover.model import Observed, ScanReport
    from promptwitness.probe.model import ProbeConfig, ProbeResult
    from promptwitness.store import Store

Progress = Callable[[str, Mapping[str, Any]], None]

# code a runtime loads for itself: never a target of the scan of ``-- CMD``
_SYSTEM_CODE = ("/usr/", "/bin/", "/sbin/", "/lib/", "/lib64/", "/lib32/", "/proc/", "/etc/")


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "discover",
        help="find what an agent conditions on, without guessing the factors",
        description=(
            "Scan the agent's code (decoded string tables, look-alike literals, "
            "environment reads), trace one run of it in the sandbox (paths opened or "
            "probed, variables read, names resolved), derive factors and levels from "
            "what was found (hosts, zones, locales, env:NAME, path:PATH, file:PATH), and "
            "confirm them with the probe's runner and analysis: every level in group "
            "tests (a group that changes is split until the input that changes is "
            "alone), positives confirmed with replicates. The report is the probe's, "
            "with the "
            "leads and the coverage (every input observed, varied or why not). TARGET is "
            "AGENT@VERSION (the agent cache) or -- CMD [ARGS...]. "
            "Exit codes: 0 clean, 1 conditioned, 2 error, 3 inconclusive."
        ),
    )
    add_probe_options(p)
    p.add_argument(
        "--prompt", help="AGENT@VERSION: the task given to the agent (default: the profile's)"
    )
    p.add_argument(
        "--group-size",
        type=int,
        default=32,
        metavar="N",
        help="levels or binary inputs (a variable set, a path present) screened "
        "at once (default 32; a group that changes is split)",
    )
    p.add_argument("--no-scan", action="store_true", help="skip the static scan")
    p.add_argument("--no-trace", action="store_true", help="skip the traced run")
    p.add_argument(
        "--scan-max-seconds",
        type=float,
        default=120.0,
        metavar="S",
        help="time bound of the static scan (default 120)",
    )
    p.add_argument("cmd", nargs=argparse.REMAINDER, metavar="TARGET | -- CMD [ARGS...]")
    p.set_defaults(func=cmd_discover, discover_parser=p)


def _merge_scans(target: str, reports: Sequence[ScanReport]) -> ScanReport:
    from promptwitness.discover.model import ScanReport

    out = ScanReport(target)
    for r in reports:
        out = ScanReport(
            target,
            out.files + r.files,
            out.tables + r.tables,
            out.lookalikes + r.lookalikes,
            out.reads + r.reads,
            out.notes + r.notes,
            out.seconds + r.seconds,
        )
    return out


def _scan(
    targets: Sequence[str], max_seconds: float, say: Callable[[str], None]
) -> ScanReport | None:
    from promptwitness.discover.scan import scan

    reports = []
    for t in targets:
        say(f"scanning {t}")
        reports.append(scan(t, max_seconds=max_seconds))
    if not reports:
        return None
    return _merge_scans(", ".join(targets), reports)


def _trace(
    config: ProbeConfig, store: Store, say: Callable[[str], None]
) -> tuple[list[Observed], list[str], dict[str, Any]]:
    """One traced control run: observed inputs, code files loaded, a summary."""
    from promptwitness.discover import trace as tr
    from promptwitness.probe.runner import traced_run
    from promptwitness.probe.sandbox import Sandbox

    say("tracing one run of the command in the sandbox")
    t0 = time.monotonic()
    tracing = tr.tracing()
    with Sandbox() as box:
        result, error, run = traced_run(config, store, box, tracing)
    if result is None or result.trace is None:
        raise UsageError(f"the traced run failed: {error or 'no trace'}")
    got = tr.read_trace(result)
    summary = {
        "run": run,
        "exit_code": result.exit_code,
        "error": error,
        "seconds": round(time.monotonic() - t0, 3),
        "observed": len(got.observed),
        "runtimes": [r.to_json() for r in got.runtimes],
        "untraceable_env": got.untraceable_env,
        "files_loaded": len(got.files_loaded),
    }
    return list(got.observed), list(got.files_loaded), summary


def _selections(derivation: Derivation, args: argparse.Namespace) -> tuple[Selection, ...]:
    given = [parse_factor_arg(a) for a in args.factor] + [parse_vary_env(a) for a in args.vary_env]
    names = {s.name for s in given}
    derived = [d.selection for d in derivation.derived if d.name not in names]
    for s in given:
        if len(s.levels) < 2:
            raise UsageError(f"factor {s.name} needs at least two levels")
    return (*derived, *given)


def _scan_json(report: ScanReport | None) -> dict[str, Any] | None:
    if report is None:
        return None
    return {
        "files": len(report.files),
        "seconds": round(report.seconds, 3),
        "tables": [t.to_json() for t in report.tables],
        "lookalikes": [x.to_json() for x in report.lookalikes],
        "reads": len(report.reads),
        "notes": list(report.notes),
    }


def _after(res: DiscoverResult, scan: ScanReport | None, trace: dict[str, Any] | None) -> str:
    lines = ["", "discovery:"]
    if scan is not None:
        enc = sum(1 for t in scan.tables if t.encoding != ("plain",))
        lines.append(
            f"  scan: {len(scan.files)} files, {len(scan.tables)} string tables "
            f"({enc} decoded), {len(scan.lookalikes)} look-alike literals, "
            f"{len(scan.reads)} reads in the code, {scan.seconds:.1f} s"
        )
        for t in scan.tables[:10]:
            if t.encoding == ("plain",):
                continue
            shown = ", ".join(t.strings[:4]) + (" …" if len(t.strings) > 4 else "")
            lines.append(f"    {'>'.join(t.encoding)}: {shown}  ({t.location})")
    if trace is not None:
        lines.append(
            f"  trace: {trace['observed']} inputs observed, "
            f"{trace['files_loaded']} code files loaded, {trace['seconds']:.1f} s"
            + (
                f"; variables not traceable: {trace['untraceable_env']}"
                if trace.get("untraceable_env")
                else ""
            )
        )
    counts: dict[str, int] = {}
    for lead in res.leads:
        counts[lead.outcome] = counts.get(lead.outcome, 0) + 1
    lines.append(
        f"  leads: {len(res.leads)} factors derived ("
        + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        + f"), "
        f"{res.levels} levels, {res.runs} runs besides the control "
        f"({res.runs_per_level:.2f} per level)"
    )
    for lead in res.leads:
        if lead.outcome != "no-change":
            src = lead.sources[0] if lead.sources else ""
            lines.append(f"    {lead.outcome}: {lead.factor}  <- {src}")
    lines.append(f"  coverage: {res.derivation.coverage_line()}")
    unvaried = [i for i in res.derivation.inputs if i.factor is None and not i.program]
    for item in unvaried[:20]:
        lines.append(f"    not varied: {item.kind} {item.name}: {item.why_not}")
    if len(unvaried) > 20:
        lines.append(
            f"    … {len(unvaried) - 20} more not varied (the JSON and HTML reports "
            "list every input)"
        )
    for note in res.derivation.notes:
        lines.append(f"  note: {note}")
    return "\n".join(lines[:400])


def cmd_discover(args: argparse.Namespace) -> int:
    from promptwitness.discover.derive import derive
    from promptwitness.discover.engine import run_discover
    from promptwitness.probe.model import ProbeConfig

    cmd = list(args.cmd)
    if len(cmd) > 1 and cmd[0] != "--":  # options written after AGENT@VERSION
        args.cmd = []
        args.discover_parser.parse_args(cmd[1:], namespace=args)
        if args.cmd:
            raise UsageError(f"discover takes one AGENT@VERSION; got also {shlex.join(args.cmd)}")
        cmd = cmd[:1]
    if args.group_size < 2:
        raise UsageError("--group-size must be at least 2")
    console = stderr_console()

    def say(text: str) -> None:
        if not args.quiet:
            console.print(text, markup=False)

    agent_target: str | None = None
    installed: list[str] = []
    if cmd and cmd[0] == "--":
        cmd = resolve_command(cmd[1:], args.workdir) if cmd[1:] else []
        if not cmd:
            raise UsageError("no command given: promptwitness discover [OPTIONS] -- CMD")
        config = config_from_args(
            args,
            cmd,
            selections=(),
            pairwise=False,
            env=env_pairs(args.env),
            expose=exposed_paths(args.expose, cmd),
            hermetic=hermetic_options(args),
        )
        what = " ".join(cmd)
    elif len(cmd) == 1:
        from promptwitness.cli.agents import resolve_agent

        profile, version, inst = resolve_agent(args, cmd[0], "discover", console, quiet=args.quiet)
        config = config_from_args(
            args,
            profile.argv(str(inst.binary), args.prompt),
            selections=(),
            pairwise=False,
            env=inst.env(profile, env_pairs(args.env)),
            expose=(*inst.roots, *args.expose),
            base_url_vars=profile.base_url_vars or ProbeConfig.base_url_vars,
            home_files=profile.home_files,
            hermetic=hermetic_options(args, profile),
        )
        if profile.registry == "local":  # the installed copy: no cache entry to scan;
            # the files its traced run loads, else its executable
            installed = [str(inst.binary)]
        else:
            agent_target = f"{profile.name}@{version}"
        what = f"{profile.title} {version}"
    else:
        raise UsageError("give AGENT@VERSION or -- CMD [ARGS...]")

    observed: list[Observed] = []
    loaded: list[str] = []
    trace_summary: dict[str, Any] | None = None
    if not args.no_trace:
        store = open_store(args)
        try:
            observed, loaded, trace_summary = _trace(config, store, say)
        finally:
            store.close()
    report: ScanReport | None = None
    if not args.no_scan:
        if agent_target is not None:
            targets = [agent_target]
        else:
            own = [p for p in loaded if not p.startswith(_SYSTEM_CODE)]
            named = [p for p in cmd if os.path.isfile(p) and not p.startswith(_SYSTEM_CODE)]
            targets = list(dict.fromkeys(own or installed or named))
        report = _scan(targets, args.scan_max_seconds, say)
    from promptwitness.capture.env import dummy_keys

    set_vars = [*config.env, *dummy_keys(config.env)]
    derivation = derive(
        report,
        observed,
        base_url_vars=[v for v, _ in config.base_url_vars],
        expose=config.expose,
        set_vars=set_vars,
    )
    selections = _selections(derivation, args)
    if not selections:
        say(f"nothing to vary: {derivation.coverage_line()}")
    from dataclasses import replace

    config = replace(config, selections=selections)
    holder: dict[str, DiscoverResult] = {}

    def runner(cfg: ProbeConfig, store: Store, progress: Progress | None) -> ProbeResult:
        res = run_discover(cfg, derivation, store, group_size=args.group_size, progress=progress)
        holder["res"] = res
        return res.probe

    def extra() -> dict[str, Any]:
        res = holder["res"]
        return {"scan": _scan_json(report), "trace": trace_summary, **res.to_json()}

    def after() -> str:
        return _after(holder["res"], report, trace_summary)

    return execute(args, config, what, runner=runner, extra=extra, after=after)
