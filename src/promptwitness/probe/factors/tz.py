"""``tz``: the ``TZ`` variable (the system zone is the ``system-tz`` factor).

Levels span regions and day boundaries: mainland China (Shanghai, and Urumqi, which
keeps Beijing time officially but is often set apart), Hong Kong, Taipei, Tokyo,
Singapore, Kolkata (a half-hour offset), Moscow, Berlin, New York, and the extremes
Kiritimati (UTC+14) and Pago Pago (UTC-11), which are on different calendar days for
most of every UTC day.

Coupled with ``system-tz``: at its control level ``TZ`` yields to a varied system zone
(it is left unset), so a ``system-tz`` cell is not shadowed by ``TZ=UTC``.
"""

from __future__ import annotations

import re

from promptwitness.probe.factors.base import Factor, FactorContext
from promptwitness.probe.spec import RunSpec

ZONES = (
    "UTC",
    "Asia/Shanghai",
    "Asia/Urumqi",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Asia/Tokyo",
    "Asia/Singapore",
    "Asia/Kolkata",
    "Europe/Moscow",
    "Europe/Berlin",
    "America/New_York",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
)
CONTROL = ZONES[0]
SYSTEM_CONTROL = "UTC"  # system-tz's control level (kept here to avoid an import cycle)


def check(level: str) -> None:
    # A zone name or a POSIX TZ string ("CST-8", ":Asia/Tokyo"); no spaces or controls.
    if not re.match(r"^[A-Za-z0-9_+\-/:.,<>]+$", level):
        raise ValueError("not a zone name or POSIX TZ string")


def apply(spec: RunSpec, level: str, ctx: FactorContext) -> RunSpec:
    if level == CONTROL and spec.system_zone not in (None, SYSTEM_CONTROL):
        return spec.unset_env("TZ")
    return spec.set_env({"TZ": level})


FACTOR = Factor("tz", "the TZ environment variable", ZONES, apply, check)
