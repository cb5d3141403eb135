"""``system-tz``: the system zone as the OS sets it, ``TZ`` unset.

Applied by the sandbox as the ``/etc/localtime`` symlink and ``/etc/timezone`` in the
run's private mount namespace, so Node's ``Intl``, glibc and Codex's
``/etc/localtime`` reader all report the zone. At a level other than its control it
removes ``TZ`` when ``TZ`` holds the ``tz`` factor's control value (in a pair with a
varied ``tz`` the variable stays, which is that cell's point).
"""

from __future__ import annotations

from dataclasses import replace

from promptwitness.probe.factors import tz
from promptwitness.probe.factors.base import Factor, FactorContext
from promptwitness.probe.spec import RunSpec

CONTROL = tz.SYSTEM_CONTROL


def check(level: str) -> None:
    RunSpec(argv=("true",), system_zone=level)  # the spec's own zone-name rule


def apply(spec: RunSpec, level: str, ctx: FactorContext) -> RunSpec:
    spec = replace(spec, system_zone=level)
    if level != CONTROL and spec.env_get("TZ") == tz.CONTROL:
        spec = spec.unset_env("TZ")
    return spec


FACTOR = Factor(
    "system-tz",
    "the system zone (/etc/localtime, /etc/timezone), TZ unset",
    tz.ZONES,
    apply,
    check,
)
