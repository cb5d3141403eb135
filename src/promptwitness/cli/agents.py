"""``agents`` and ``audit``: real agents by name and version."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from promptwitness.cli.common import status, stderr_console, stdout_console
from promptwitness.cli.probe import (
    add_probe_options,
    config_from_args,
    execute,
    hermetic_options,
    selections_from_args,
)
from promptwitness.errors import UsageError
from promptwitness.probe.command import env_pairs, exposed_paths, resolve_command

if TYPE_CHECKING:
    from promptwitness.agents.profiles import Profile
    from promptwitness.agents.registry import Installed

DEFAULT_AUDIT_FACTORS = ("tz", "system-tz", "locale", "proxy", "endpoint-host")
# The audit's screening levels: the catalog's signals a fingerprinting agent would most
# plausibly key on (mainland China and Hong Kong next to Tokyo, Europe and the US; Chinese
# labs' hosts next to a company gateway and OpenAI), few enough that the whole design,
# pairwise rows included, runs in under 3 minutes for a cached Claude Code on 2 cores.
# ``--factor NAME`` gives a factor's full default levels instead.
AUDIT_LEVELS: dict[str, str] = {
    "tz": "UTC,Asia/Shanghai,Asia/Hong_Kong,Asia/Tokyo,Europe/Berlin,America/New_York",
    "system-tz": "UTC,Asia/Shanghai,Asia/Hong_Kong,Asia/Tokyo,Europe/Berlin,America/New_York",
    "locale": "C.UTF-8,zh_CN.UTF-8,zh_TW.UTF-8,ja_JP.UTF-8,ru_RU.UTF-8,en_US.UTF-8",
    "proxy": "none,proxy.corp.internal,proxy.tencent.com,proxy.alibaba-inc.com,"
    "proxy.corp.google.com,proxy.anthropic.com",
    "endpoint-host": "127.0.0.1,localhost,llm-gateway.corp.internal,api.deepseek.com,"
    "api.moonshot.cn,open.bigmodel.cn,dashscope.aliyuncs.com,api.openai.com",
}


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    g = sub.add_parser(
        "agents",
        help="the real agents promptwitness knows, and their published versions",
        description=(
            "Without a sub-command: every agent profile (name, title, registry and package, "
            "protocol, the version the tests pin) with the versions in the local agent "
            "cache. `agents versions NAME` lists the versions the registry publishes, with "
            "their dates (npm or PyPI; needs the registry)."
        ),
    )
    g.add_argument("--json", action="store_true", help="print JSON")
    g.set_defaults(func=cmd_agents)
    gsub = g.add_subparsers(dest="agents_command", metavar="SUBCOMMAND")
    v = gsub.add_parser(
        "versions",
        help="published versions of one agent, oldest first",
        description="Published versions of one agent with their dates, "
        "oldest first; the registry's latest is marked.",
    )
    v.add_argument("name", metavar="NAME")
    v.add_argument("--json", action="store_true", help="print JSON")
    v.set_defaults(func=cmd_agent_versions)

    a = sub.add_parser(
        "audit",
        help="install (or reuse) one version of a known agent and probe it",
        description=(
            "Install AGENT@VERSION into the agent cache (reused when present; without a "
            "version, the registry's latest), then probe it headless with its profile: "
            "its command, endpoint variables, silencing settings and configuration files. "
            "Without --factor: " + ", ".join(DEFAULT_AUDIT_FACTORS) + " with screening "
            "levels (6-8 each; --factor NAME for a factor's full default levels). "
            "Same report and exit codes as probe (0 clean, 1 conditioned, 2 error, "
            "3 inconclusive). `promptwitness agents` lists the known agents."
        ),
    )
    a.add_argument("--prompt", help="the task given to the agent (default: the profile's)")
    a.add_argument(
        "--path",
        metavar="BIN",
        help="audit an installed agent that has no profile (an in-house or unknown "
        "one): BIN and the arguments after `--` are its headless command; its "
        "code is scanned for the endpoint variables it reads, which point at "
        "the capture server beside the common ones; the protocol is read "
        "from what it sends (--hermetic: the agent as configured)",
    )
    add_probe_options(a)
    a.add_argument(
        "cmd",
        nargs=argparse.REMAINDER,
        metavar="AGENT[@VERSION] | -- ARGS",
        help="a known agent (`promptwitness agents`); with --path, the "
        "arguments of BIN after `--` (e.g. -- -p 'Say hi')",
    )
    a.set_defaults(func=cmd_audit, audit_parser=a, agent=None)


def split_spec(spec: str) -> tuple[str, str | None]:
    """``claude-code@2.1.91`` -> (``claude-code``, ``2.1.91``); no ``@``: version None."""
    name, sep, version = spec.rpartition("@") if "@" in spec[1:] else (spec, "", "")
    if sep and not version:
        raise UsageError(f"empty version in {spec!r}")
    return (name, version or None) if sep else (spec, None)


def cmd_agents(args: argparse.Namespace) -> int:
    from promptwitness.agents.cache import cache_root, cached_versions
    from promptwitness.agents.profiles import PROFILES
    from promptwitness.agents.profiles.unavailable import UNAVAILABLE

    rows: list[dict[str, Any]] = [
        {
            "name": p.name,
            "title": p.title,
            "registry": p.registry,
            "package": p.package,
            "protocol": p.protocol,
            "tested": p.tested,
            "min_node": p.min_node,
            "how": p.how(),
            "account": p.account,
            "canned_answers": len(p.answers),
            "cached": cached_versions(p.name),
        }
        for p in PROFILES.values()
    ]
    missing = [
        {"name": u.name, "title": u.title, "package": u.package, "why": u.why, "needs": u.needs}
        for u in UNAVAILABLE
    ]
    if args.json:
        sys.stdout.write(
            json.dumps(
                {"cache": str(cache_root()), "agents": rows, "unavailable": missing}, indent=2
            )
            + "\n"
        )
        return 0
    out = stdout_console()
    out.print(
        f"{len(rows)} agents (cache: {cache_root()})", markup=False, highlight=False, soft_wrap=True
    )
    for r in rows:
        where = (
            f"installed by its vendor: {r['package']}"
            if r["registry"] == "local"
            else f"{r['registry']} {r['package']}"
        )
        out.print(
            f"  {r['name']:<16} {r['title']} {r['tested'] or '(no pinned version)'}  "
            f"{r['protocol']}  ({where})",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        cached = ", ".join(r["cached"]) or "none"
        out.print(
            f"  {'':<16} runs with {r['how']}; cached: {cached}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if missing:
        out.print(f"{len(missing)} cannot run here:", markup=False, highlight=False, soft_wrap=True)
        for m in missing:
            out.print(
                f"  {m['name']:<16} {m['title']} ({m['package']}): {m['why']}; needs {m['needs']}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    return 0


def cmd_agent_versions(args: argparse.Namespace) -> int:
    from promptwitness.agents.cache import cached_versions
    from promptwitness.agents.profiles import get_profile
    from promptwitness.agents.registry import latest, versions

    profile = get_profile(args.name)
    releases = versions(profile)
    newest = latest(profile)
    cached = set(cached_versions(profile.name))
    if args.json:
        doc = {
            "name": profile.name,
            "registry": profile.registry,
            "package": profile.package,
            "latest": newest,
            "versions": [
                {
                    "version": r.version,
                    "published": r.published,
                    "yanked": r.yanked,
                    "cached": r.version in cached,
                }
                for r in releases
            ],
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return 0
    out = stdout_console()
    for r in releases:
        marks = [
            m
            for m, on in (
                ("latest", r.version == newest),
                ("cached", r.version in cached),
                ("tested", r.version == profile.tested),
                ("yanked", r.yanked),
            )
            if on
        ]
        out.print(
            f"{r.version:<24} {r.published or '-':<28} {' '.join(marks)}".rstrip(),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    return 0


def resolve_agent(
    args: argparse.Namespace, spec: str, verb: str, console: Any, *, quiet: bool = False
) -> tuple[Profile, str, Installed]:
    """``AGENT[@VERSION]`` for ``audit`` and ``discover``: the profile, the version (the
    latest when none is given; the installed copy for an agent its vendor installs) and
    the installed agent, each step said on ``console`` (unless ``quiet``). An
    account-bound agent runs hermetic (``args.hermetic`` set), as its profile declares."""

    def say(text: str) -> None:
        if not quiet:
            console.print(text, markup=False)

    from promptwitness.agents.profiles import get_profile
    from promptwitness.agents.registry import LOCAL_VERSION, install, latest

    name, version = split_spec(spec)
    profile = get_profile(name)
    if profile.registry == "local":  # installed by its vendor's script: the copy here
        if version is not None:
            raise UsageError(
                f"{profile.title} is installed by its vendor, not from a "
                f"registry: {verb} the installed copy ({name}, no version)"
            )
        inst = install(profile, LOCAL_VERSION)
        version = LOCAL_VERSION
        say(f"{profile.title}: the installed copy, {inst.binary}")
    else:
        if version is None:
            version = latest(profile)
            say(f"{profile.title}: latest is {version}")
        with status(
            console,
            f"installing {profile.package}@{version} (cached after the first time)",
            quiet=quiet,
        ):
            inst = install(profile, version)
    if profile.account and not args.hermetic:
        args.hermetic = True
        say(
            f"{profile.title} is account-bound: running it hermetic (its vendor's "
            f"hosts answered in the sandbox, {len(profile.answers)} canned answers)"
        )
    return profile, version, inst


def cmd_audit(args: argparse.Namespace) -> int:
    from promptwitness.probe.model import ProbeConfig

    cmd = list(args.cmd)
    if cmd and cmd[0] != "--":  # AGENT[@VERSION], then options written after it
        args.agent, args.cmd = cmd[0], []
        if cmd[1:]:
            args.audit_parser.parse_args(cmd[1:], namespace=args)
    if args.path is not None:
        if args.agent is not None:
            raise UsageError("give AGENT[@VERSION] or --path BIN, not both")
        return _audit_path(args)
    if args.agent is None:
        raise UsageError(
            "give AGENT[@VERSION] (`promptwitness agents` lists them) or "
            "--path BIN -- ARGS for an agent with no profile"
        )
    if args.cmd:
        raise UsageError(
            f"unexpected arguments {' '.join(args.cmd)!r}: a profile gives the "
            "agent's command (--prompt sets its task)"
        )
    console = stderr_console()
    profile, version, inst = resolve_agent(args, args.agent, "audit", console)
    if not args.factor and not args.vary_env:
        # an account-bound agent honours no base-URL variable: no endpoint-host levels
        args.factor = [
            f"{name}={AUDIT_LEVELS[name]}"
            for name in DEFAULT_AUDIT_FACTORS
            if not (profile.account and not profile.base_url_vars and name == "endpoint-host")
        ]
    env = inst.env(profile, env_pairs(args.env))
    config = config_from_args(
        args,
        profile.argv(str(inst.binary), args.prompt),
        selections=selections_from_args(args),
        env=env,
        expose=(*inst.roots, *args.expose),
        base_url_vars=profile.base_url_vars or ProbeConfig.base_url_vars,
        home_files=profile.home_files,
        hermetic=hermetic_options(args, profile),
    )
    return execute(args, config, f"{profile.title} {version}")


# names of variables that hold an endpoint's URL (a base URL, an API base)
_ENDPOINT_VAR = re.compile(r"(?:BASE_?URL|API_?BASE|API_?URL|ENDPOINT|BASE_?PATH)$")


def endpoint_vars(names: Iterable[str]) -> list[str]:
    """The variable names that look like an endpoint's URL, and that the capture
    environment does not already set (``capture.env.BASE_URL_VARS``)."""
    from promptwitness.capture.env import BASE_URL_VARS

    known = {v.name for v in BASE_URL_VARS}
    return sorted({n for n in names if _ENDPOINT_VAR.search(n) and n not in known})


def _audit_path(args: argparse.Namespace) -> int:
    """``audit --path BIN -- ARGS``: an installed agent with no profile."""
    from promptwitness.discover.scan import scan
    from promptwitness.probe.model import ProbeConfig

    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    argv = resolve_command([args.path, *cmd], args.workdir)
    expose = exposed_paths(args.expose, argv)
    console = stderr_console()
    real = os.path.realpath(argv[0])
    top = os.path.dirname(real)
    if os.path.basename(top) in ("bin", ".bin"):
        top = os.path.dirname(top)
    target = (
        top
        if os.path.isdir(os.path.join(top, "node_modules"))
        or os.path.isfile(os.path.join(top, "package.json"))
        else real
    )
    with status(console, f"scanning {target} for the endpoint variables it reads"):
        report = scan(target, max_seconds=120.0)
    found = endpoint_vars(r.name for r in report.reads if r.kind == "env")
    console.print(
        "endpoint variables read by its code, pointed at the capture server: "
        + (", ".join(found) or "none beyond the common ones"),
        markup=False,
    )
    if not args.factor and not args.vary_env:
        args.factor = [f"{n}={AUDIT_LEVELS[n]}" for n in DEFAULT_AUDIT_FACTORS]
    config = config_from_args(
        args,
        argv,
        selections=selections_from_args(args),
        env=env_pairs(args.env),
        expose=expose,
        base_url_vars=(*ProbeConfig.base_url_vars, *((v, "") for v in found)),
        hermetic=hermetic_options(args),
    )
    return execute(args, config, f"{os.path.basename(argv[0])} (no profile: {real})")
