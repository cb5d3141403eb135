"""``user``: ``USER``, ``LOGNAME``, the home directory's name and the passwd entry.

The sandbox makes the run's uid belong to this name in its own /etc/passwd, so
``getpwuid``/``os.userInfo()`` agree with ``USER``; HOME is ``/home/NAME`` (``/root``
for root), so this factor, and only this one, changes HOME. Levels: a neutral name
(control), the default accounts of cloud images (Ubuntu, Amazon Linux, Debian/AWS
Marketplace ``admin``, Debian, Azure, Oracle Cloud, CentOS, root), and personal names
in Chinese pinyin and English styles.
"""

from __future__ import annotations

from dataclasses import replace

from promptwitness.probe.factors.base import Factor, FactorContext
from promptwitness.probe.spec import RunSpec

LEVELS = (
    "dev",
    "ubuntu",
    "ec2-user",
    "admin",
    "debian",
    "azureuser",
    "opc",
    "centos",
    "root",
    "zhangwei",
    "jsmith",
)


def check(level: str) -> None:
    RunSpec(argv=("true",), user=level)


def apply(spec: RunSpec, level: str, ctx: FactorContext) -> RunSpec:
    return replace(spec, user=level)


FACTOR = Factor("user", "USER, LOGNAME, home directory name, passwd entry", LEVELS, apply, check)
