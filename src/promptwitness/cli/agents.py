"""``agents`` and ``audit``: real agents by name and version."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from promptwitness.cli.common import status, stderr_console, stdout_console
from promptwitness.cli.probe import (
    _env,
    _selections,
    add_probe_options,
    execute,
    hermetic_options,
)
from promptwitness.errors import UsageError

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
    v = gsub.add_parser("versions", help="published versions of one agent, oldest first",
                        description="Published versions of one agent with their dates, "
                                    "oldest first; the registry's latest is marked.")
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


def cmd_agents(args: argparse.Namespace) -> int:
    from promptwitness.agents.cache import cache_root, cached_versions
    from promptwitness.agents.profiles import PROFILES
    from promptwitness.agents.profiles.unavailable import UNAVAILABLE

    rows: list[dict[str, Any]] = [
        {"name": p.name, "title": p.title, "registry": p.registry, "package": p.package,
         "protocol": p.protocol, "tested": p.tested, "min_node": p.min_node,
         "how": p.how(), "account": p.account, "canned_answers": len(p.answers),
         "cached": cached_versions(p.name)}
        for p in PROFILES.values()
    ]
    missing = [{"name": u.name, "title": u.title, "package": u.package, "why": u.why,
                "needs": u.needs} for u in UNAVAILABLE]
    if args.json:
        sys.stdout.write(json.dumps({"cache": str(cache_root()), "agents": rows,
                                     "unavailable": missing}, indent=2) + "\n")
        return 0
    out = stdout_console()
    out.print(f"{len(rows)} agents (cache: {cache_root()})", markup=False, highlight=False,
              soft_wrap=True)
    for r in rows:
        where = f"{r['registry']} {r['package']}"
        out.print(f"  {r['name']:<16} {r['title']} {r['tested'] or '(no pinned version)'}  "
                  f"{r['protocol']}  ({where})", markup=False, highlight=False, soft_wrap=True)
        cached = ", ".join(r["cached"]) or "none"
        out.print(f"  {'':<16} runs with {r['how']}; cached: {cached}",
                  markup=False, highlight=False, soft_wrap=True)
    if missing:
        out.print(f"{len(missing)} cannot run here:", markup=False, highlight=False, soft_wrap=True)
        for m in missing:
            out.print(f"  {m['name']:<16} {m['title']} ({m['package']}): {m['why']}; "
                      f"needs {m['needs']}", markup=False, highlight=False, soft_wrap=True)
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
            "name": profile.name, "registry": profile.registry, "package": profile.package,
            "latest": newest,
            "versions": [{"version": r.version, "published": r.published, "yanked": r.yanked,
                          "cached": r.version in cached} for r in releases],
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return 0
    out = stdout_console()
    for r in releases:
        marks = [m for m, on in (("latest", r.version == newest), ("cached", r.version in cached),
                                 ("tested", r.version == profile.tested),
                                 ("yanked", r.yanked)) if on]
        out.print(f"{r.version:<24} {r.published or '-':<28} {' '.join(marks)}".rstrip(),
                  markup=False, highlight=False, soft_wrap=True)
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from promptwitness.agents.profiles import get_profile
    from promptwitness.agents.registry import install, latest
    from promptwitness.probe.runner import ProbeConfig

    name, version = split_spec(args.agent)
    profile = get_profile(name)
    console = stderr_console()
    if version is None:
        version = latest(profile)
        console.print(f"{profile.title}: latest is {version}", markup=False)
    with status(console, f"installing {profile.package}@{version} "
                         "(cached after the first time)"):
        inst = install(profile, version)
    if profile.account and not args.hermetic:
        args.hermetic = True
        console.print(f"{profile.title} is account-bound: running it hermetic (its vendor's "
                      f"hosts answered in the sandbox, {len(profile.answers)} canned answers)",
                      markup=False)
    if not args.factor and not args.vary_env:
        # an account-bound agent honours no base-URL variable: no endpoint-host levels
        args.factor = [f"{name}={AUDIT_LEVELS[name]}" for name in DEFAULT_AUDIT_FACTORS
                       if not (profile.account and not profile.base_url_vars
                               and name == "endpoint-host")]
    env = inst.env(profile, _env(args.env))
    config = ProbeConfig(
        argv=profile.argv(str(inst.binary), args.prompt), selections=_selections(args),
        replicates=args.replicates, control_replicates=max(3, args.replicates + 1),
        covering_replicates=args.covering_replicates,
        jobs=args.jobs, workdir=args.workdir, pairwise=not args.no_pairwise,
        timeout=args.timeout, env=env, expose=(*inst.roots, *args.expose),
        base_url_vars=profile.base_url_vars or ProbeConfig.base_url_vars,
        home_files=profile.home_files, hermetic=hermetic_options(args, profile),
        clock=args.clock,
    )
    return execute(args, config, f"{profile.title} {version}")
