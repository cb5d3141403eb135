"""The probe's factor catalog (sans-IO): what can be varied, and how.

``FACTORS`` maps a name to its :class:`Factor`, in application order. Every factor is
written so that the order does not change the resulting spec (tested), but the table
still lists the ones that share state next to each other, the dependent one second:
``tz`` then ``system-tz`` (TZ vs. the zone files), ``endpoint-host`` then ``proxy``
(NO_PROXY lists the endpoint's host). Adding a factor is one module with a ``FACTOR``
and one line here.

    get("tz")                          -> Factor
    get("env:FOO")                     -> a fresh env factor without default levels
    parse_factor_arg("tz=UTC,Asia/Tokyo") -> Selection(factor, levels)   (CLI --factor)
    parse_vary_env("FOO=a,b")          -> Selection(env:FOO, ("a", "b")) (CLI --vary-env)
    apply_levels(spec, {"tz": "Asia/Tokyo"}, ctx) -> RunSpec
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from promptwitness.errors import UsageError
from promptwitness.probe.factors import (
    endpoint_host,
    git_email,
    git_remote,
    hostname,
    locale,
    os_release,
    proxy,
    registry_mirror,
    resolver,
    system_tz,
    tz,
    user,
)
from promptwitness.probe.factors.base import Factor, FactorContext
from promptwitness.probe.factors.env import PREFIX as ENV_PREFIX
from promptwitness.probe.factors.env import UNSET, env_factor
from promptwitness.probe.factors.inputs import FILE_PREFIX, PATH_PREFIX, file_factor, path_factor
from promptwitness.probe.spec import RunSpec

__all__ = [
    "ENV_PREFIX",
    "FACTORS",
    "FILE_PREFIX",
    "PATH_PREFIX",
    "UNSET",
    "Factor",
    "FactorContext",
    "Selection",
    "apply_levels",
    "control_levels",
    "env_factor",
    "file_factor",
    "path_factor",
    "get",
    "parse_factor_arg",
    "parse_vary_env",
]

FACTORS: dict[str, Factor] = {
    f.name: f
    for f in (
        tz.FACTOR,
        system_tz.FACTOR,
        locale.FACTOR,
        endpoint_host.FACTOR,
        proxy.FACTOR,
        hostname.FACTOR,
        user.FACTOR,
        git_email.FACTOR,
        git_remote.FACTOR,
        registry_mirror.FACTOR,
        os_release.FACTOR,
        resolver.FACTOR,
    )
}


@dataclass(frozen=True)
class Selection:
    """A factor chosen for a probe, with its levels (``levels[0]`` is the control)."""

    factor: Factor
    levels: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.factor.name

    @property
    def control(self) -> str:
        return self.levels[0]


def get(name: str) -> Factor:
    """The factor called ``name``; ``env:VAR`` gives an env factor without levels,
    ``path:PATH`` one with levels ``absent`` and ``file``, ``file:PATH`` one whose
    levels are contents (``as-is`` first)."""
    if name.startswith(ENV_PREFIX):
        return env_factor(name[len(ENV_PREFIX) :])
    if name.startswith(PATH_PREFIX):
        return path_factor(name[len(PATH_PREFIX) :])
    if name.startswith(FILE_PREFIX):
        return file_factor(name[len(FILE_PREFIX) :])
    try:
        return FACTORS[name]
    except KeyError:
        known = ", ".join(
            [*FACTORS, ENV_PREFIX + "NAME", PATH_PREFIX + "PATH", FILE_PREFIX + "PATH"]
        )
        raise UsageError(f"unknown factor {name!r}; known: {known}") from None


def _levels(factor: Factor, text: str) -> tuple[str, ...]:
    levels = tuple(text.split(","))
    for level in levels:
        factor.check(level)
    if len(set(levels)) != len(levels):
        raise UsageError(f"factor {factor.name}: a level is given twice in {text!r}")
    return levels


def parse_factor_arg(arg: str) -> Selection:
    """``NAME`` (default levels) or ``NAME=L1,L2,...`` (those levels; L1 is the control).
    Levels are taken verbatim: no trimming, no case folding."""
    name, sep, rest = arg.partition("=")
    factor = get(name)
    if not sep:
        if not factor.levels:
            raise UsageError(f"factor {name} has no default levels: write {name}=V1,V2,...")
        return Selection(factor, factor.levels)
    levels = _levels(factor, rest)
    if name.startswith(ENV_PREFIX):
        factor = env_factor(name[len(ENV_PREFIX) :], levels)
    elif name.startswith(PATH_PREFIX):
        factor = path_factor(name[len(PATH_PREFIX) :], levels)
    elif name.startswith(FILE_PREFIX):
        factor = file_factor(name[len(FILE_PREFIX) :], levels=levels)
    return Selection(factor, levels)


def parse_vary_env(arg: str) -> Selection:
    """``VAR=V1,V2,...`` from ``--vary-env``: the factor ``env:VAR``."""
    var, sep, _ = arg.partition("=")
    if not sep or not var:
        raise UsageError(f"--vary-env needs VAR=V1,V2,...: {arg!r}")
    return parse_factor_arg(ENV_PREFIX + arg)


def apply_levels(
    spec: RunSpec,
    levels: Mapping[str, str],
    ctx: FactorContext | None = None,
    factors: Mapping[str, Factor] | None = None,
) -> RunSpec:
    """``spec`` with each named factor set to its level, in catalog order (then the
    rest, e.g. ``env:`` factors, in the mapping's order). ``factors`` resolves names
    first (e.g. the selections of a probe), then the catalog."""
    ctx = ctx or FactorContext()
    table = dict(factors or {})
    order = [n for n in FACTORS if n in levels] + [n for n in levels if n not in FACTORS]
    for name in order:
        factor = table.get(name) or get(name)
        spec = factor.apply(spec, levels[name], ctx)
    return spec


def control_levels(selections: list[Selection] | tuple[Selection, ...]) -> dict[str, str]:
    """The control cell of a probe: every selected factor at its control level."""
    return {s.name: s.control for s in selections}
