"""``agents`` and ``audit``: real agents by name and version."""

from __future__ import annotations

import argparse

from promptwitness.cli.common import stderr_console
from promptwitness.cli.probe import _env, _selections, add_probe_options, execute
from promptwitness.errors import UsageError

DEFAULT_AUDIT_FACTORS = ("tz", "system-tz", "locale", "proxy", "endpoint-host")


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    a = sub.add_parser(
        "audit",
        help="install (or reuse) one version of a known agent and probe it",
        description=(
            "Install AGENT@VERSION into the agent cache (reused when present; without a "
            "version, the registry's latest), then probe it headless with its profile: "
            "its command, endpoint variables, silencing settings and configuration files. "
            "Without --factor: " + ", ".join(DEFAULT_AUDIT_FACTORS) + " with their default "
            "levels. Same report and exit codes as probe (0 clean, 1 conditioned, 2 error, "
            "3 inconclusive)."
        ),
    )
    a.add_argument("agent", metavar="AGENT[@VERSION]")
    a.add_argument("--prompt", help="the task given to the agent (default: the profile's)")
    add_probe_options(a)
    a.set_defaults(func=cmd_audit)


def split_spec(spec: str) -> tuple[str, str | None]:
    """``claude-code@2.1.91`` -> (``claude-code``, ``2.1.91``); no ``@``: version None."""
    name, sep, version = spec.rpartition("@") if "@" in spec[1:] else (spec, "", "")
    if sep and not version:
        raise UsageError(f"empty version in {spec!r}")
    return (name, version or None) if sep else (spec, None)


def cmd_audit(args: argparse.Namespace) -> int:
    from promptwitness.agents.profiles import get_profile
    from promptwitness.agents.registry import ensure, latest
    from promptwitness.probe.runner import ProbeConfig

    name, version = split_spec(args.agent)
    profile = get_profile(name)
    console = stderr_console()
    if version is None:
        version = latest(profile)
        console.print(f"{profile.title}: latest is {version}", markup=False)
    with console.status(f"installing {profile.package}@{version} (cached after the first time)"):
        binary = ensure(profile, version)
    if not args.factor and not args.vary_env:
        args.factor = list(DEFAULT_AUDIT_FACTORS)
    env = {**profile.env, **_env(args.env)}
    root = str(binary.parents[2]) if profile.registry == "npm" else str(binary.parents[1])
    config = ProbeConfig(
        argv=profile.argv(str(binary), args.prompt), selections=_selections(args),
        replicates=args.replicates, control_replicates=max(3, args.replicates + 1),
        jobs=args.jobs, workdir=args.workdir, pairwise=not args.no_pairwise,
        timeout=args.timeout, env=env, expose=(root, *args.expose),
        base_url_vars=profile.base_url_vars or ProbeConfig.base_url_vars,
        home_files=profile.home_files,
    )
    return execute(args, config, f"{profile.title} {version}")
