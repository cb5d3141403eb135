"""``env:NAME``: any environment variable, from ``--vary-env NAME=V1,V2,...``.

The first level is the control. The level ``<unset>`` removes the variable.
"""

from __future__ import annotations

import re

from promptwitness.errors import UsageError
from promptwitness.probe.factors.base import Factor, FactorContext
from promptwitness.probe.spec import RunSpec

PREFIX = "env:"
UNSET = "<unset>"
_VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def env_factor(var: str, levels: tuple[str, ...] | list[str] = ()) -> Factor:
    """The factor ``env:VAR`` with the given levels (the first is the control)."""
    if not _VAR_RE.match(var):
        raise UsageError(f"not an environment variable name: {var!r}")

    def check(level: str) -> None:
        if "\0" in level:
            raise ValueError("NUL in a variable value")

    def apply(spec: RunSpec, level: str, ctx: FactorContext) -> RunSpec:
        return spec.unset_env(var) if level == UNSET else spec.set_env({var: level})

    return Factor(f"{PREFIX}{var}", f"the environment variable {var}", tuple(levels), apply, check)
