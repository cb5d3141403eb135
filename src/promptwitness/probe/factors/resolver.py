"""``resolver``: the first name server of the run's ``/etc/resolv.conf``.

A level is a public resolver's address (or ``loopback``, the control: the sandbox's
own ``nameserver 127.0.0.1``). The address is written first and ``127.0.0.1`` after
it: the run's network has loopback only, so a query to the public address fails at
once (no route) and the resolver goes on to ``127.0.0.1`` — where hermetic mode's DNS
answers. So the agent reads a resolver of that country, and name resolution behaves
as in the control. Resolvers: Google, Cloudflare, Quad9 (US/global); 114DNS, AliDNS,
DNSPod, Baidu (China); Yandex (Russia); a private company resolver.
"""

from __future__ import annotations

import ipaddress

from promptwitness.probe.factors.base import Factor, FactorContext
from promptwitness.probe.spec import RunSpec

LOOPBACK_LEVEL = "loopback"
LEVELS = (
    LOOPBACK_LEVEL,
    "8.8.8.8",  # Google
    "1.1.1.1",  # Cloudflare
    "9.9.9.9",  # Quad9
    "114.114.114.114",  # 114DNS (China)
    "223.5.5.5",  # AliDNS (China)
    "119.29.29.29",  # DNSPod / Tencent (China)
    "180.76.76.76",  # Baidu (China)
    "77.88.8.8",  # Yandex (Russia)
    "10.0.0.53",  # a company's own resolver
)


def content(level: str) -> bytes:
    lines = [] if level == LOOPBACK_LEVEL else [f"nameserver {level}"]
    lines += ["nameserver 127.0.0.1", "options timeout:1 attempts:1"]
    return ("\n".join(lines) + "\n").encode()


def check(level: str) -> None:
    if level != LOOPBACK_LEVEL:
        ipaddress.ip_address(level)


def apply(spec: RunSpec, level: str, ctx: FactorContext) -> RunSpec:
    return spec.set_etc_file("resolv.conf", content(level))


FACTOR = Factor("resolver", "the first name server of /etc/resolv.conf", LEVELS, apply, check)
