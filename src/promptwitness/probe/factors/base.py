"""What a factor is, and the helpers factors share (sans-IO).

A :class:`Factor` is a name, a description, default levels (the first is the control)
and a pure ``apply(spec, level, ctx) -> RunSpec`` that returns a new run spec, in the
manner of reprotest's variations. The :class:`FactorContext` carries what comes from the
run's context (the agent profile): the capture endpoint's port and the agent's base-URL
variables.

Rules: no IO; ``apply`` never mutates its input; applying two factors gives the same
spec in either order (factors that touch the same thing, such as ``tz`` and
``system-tz`` or ``proxy`` and ``endpoint-host``, are written to agree).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from promptwitness.capture.env import CAPTURE_PORT, LOOPBACK_NAMES
from promptwitness.errors import SandboxError, UsageError
from promptwitness.probe.spec import RunSpec

__all__ = [
    "Applier",
    "Factor",
    "FactorContext",
    "LOOPBACK",
    "PROXY_VARS",
    "check_host",
    "endpoint_hosts",
    "is_ip",
    "sync_no_proxy",
    "url_host",
]

_HOST_RE = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)

LOOPBACK = LOOPBACK_NAMES
PROXY_VARS = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy")
NO_PROXY_VARS = ("NO_PROXY", "no_proxy")


@dataclass(frozen=True)
class FactorContext:
    """What a factor needs to know about the run beyond the spec (from the agent profile).

    ``base_url_vars``: (variable, path suffix) pairs, e.g. ``("OPENAI_BASE_URL", "/v1")``;
    the endpoint is ``{scheme}://HOST:{port}{suffix}``. ``proxy_port`` is where a proxy
    level points (``None``: the capture port, so proxied requests reach the capture server).
    """

    port: int = CAPTURE_PORT
    base_url_vars: tuple[tuple[str, str], ...] = (("ANTHROPIC_BASE_URL", ""),)
    proxy_port: int | None = None
    scheme: str = "http"

    @property
    def effective_proxy_port(self) -> int:
        return self.port if self.proxy_port is None else self.proxy_port


Applier = Callable[[RunSpec, str, FactorContext], RunSpec]


def _accept(level: str) -> None:
    del level


@dataclass(frozen=True)
class Factor:
    """One thing the probe can vary. ``levels[0]`` is the control level."""

    name: str
    description: str
    levels: tuple[str, ...]
    applier: Applier = field(repr=False, compare=False)
    validator: Callable[[str], None] = field(default=_accept, repr=False, compare=False)

    @property
    def control(self) -> str:
        if not self.levels:
            raise UsageError(f"factor {self.name} has no default levels: give them")
        return self.levels[0]

    def check(self, level: str) -> None:
        """Raise ``UsageError`` when ``level`` is not a valid level of this factor."""
        if not level:
            raise UsageError(f"factor {self.name}: empty level")
        try:
            self.validator(level)
        except (ValueError, SandboxError) as exc:
            raise UsageError(f"factor {self.name}: bad level {level!r}: {exc}") from exc

    def apply(self, spec: RunSpec, level: str, ctx: FactorContext | None = None) -> RunSpec:
        """A new spec with this factor set to ``level`` (pure)."""
        self.check(level)
        try:
            return self.applier(spec, level, ctx or FactorContext())
        except SandboxError as exc:
            raise UsageError(f"factor {self.name}: bad level {level!r}: {exc}") from exc


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def check_host(level: str) -> None:
    if not (is_ip(level) or _HOST_RE.match(level)):
        raise ValueError("not a host name or IP address")


def url_host(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def endpoint_hosts(spec: RunSpec, ctx: FactorContext) -> list[str]:
    """The hosts the agent's base-URL variables point at, in variable order."""
    out: list[str] = []
    for var, _ in ctx.base_url_vars:
        value = spec.env_get(var)
        host = url_host(value) if value else None
        if host and host not in out:
            out.append(host)
    return out


def sync_no_proxy(spec: RunSpec, ctx: FactorContext) -> RunSpec:
    """When a proxy variable is set, list loopback and the capture endpoints' hosts in
    ``NO_PROXY``/``no_proxy`` (agents route loopback through a proxy otherwise); with no
    proxy, leave both unset. A function of the final state, so the order of
    ``proxy`` and ``endpoint-host`` does not matter."""
    if not any(spec.env_get(v) for v in PROXY_VARS):
        return spec.unset_env(*NO_PROXY_VARS)
    hosts = list(LOOPBACK)
    hosts += [h for h in endpoint_hosts(spec, ctx) if h not in hosts]
    value = ",".join(hosts)
    return spec.set_env({v: value for v in NO_PROXY_VARS})
