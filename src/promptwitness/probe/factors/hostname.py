"""``hostname``: the UTS host name of the run (also in its /etc/hosts and /etc/hostname).

Levels: a neutral developer box (control), a cloud image default, an EC2 internal
name, a laptop, a Windows-style desktop name, a CI runner, Chinese and US corporate
host-naming styles.
"""

from __future__ import annotations

from dataclasses import replace

from promptwitness.probe.factors.base import Factor, FactorContext
from promptwitness.probe.spec import RunSpec

LEVELS = (
    "devbox",
    "ubuntu",
    "ip-172-31-24-117",
    "zhangweis-MacBook-Pro",
    "DESKTOP-7H2K9QF",
    "runner-3f9a2b1c",
    "bj-dev-01.corp.internal",
    "dev-vm.tencent.com",
    "devbox.corp.google.com",
)


def check(level: str) -> None:
    RunSpec(argv=("true",), hostname=level)


def apply(spec: RunSpec, level: str, ctx: FactorContext) -> RunSpec:
    return replace(spec, hostname=level)


FACTOR = Factor("hostname", "the UTS host name", LEVELS, apply, check)
