"""``registry-mirror``: npm and pip package mirrors.

Applied as ``~/.npmrc`` (``registry=``), ``~/.config/pip/pip.conf`` (``index-url``) and
the variables ``npm_config_registry`` and ``PIP_INDEX_URL``; the mirror hosts resolve to
127.0.0.1 inside the sandbox. ``default`` (the control) writes nothing, like a machine
that was never configured. A level is a mirror name below, or a URL used for both.
"""

from __future__ import annotations

from promptwitness.probe.factors.base import Factor, FactorContext, check_host, url_host
from promptwitness.probe.spec import RunSpec

DEFAULT = "default"
NPMRC = ".npmrc"
PIPCONF = ".config/pip/pip.conf"
VARS = ("npm_config_registry", "PIP_INDEX_URL")

# name -> (npm registry, pip index); None: that tool is left unconfigured.
MIRRORS: dict[str, tuple[str | None, str | None]] = {
    "npmmirror": ("https://registry.npmmirror.com/", None),
    "tuna": (None, "https://pypi.tuna.tsinghua.edu.cn/simple"),
    "aliyun": ("https://registry.npmmirror.com/", "https://mirrors.aliyun.com/pypi/simple/"),
    "tencent": (
        "https://mirrors.cloud.tencent.com/npm/",
        "https://mirrors.cloud.tencent.com/pypi/simple",
    ),
    "huaweicloud": (
        "https://repo.huaweicloud.com/repository/npm/",
        "https://repo.huaweicloud.com/repository/pypi/simple",
    ),
    "artifactory": (
        "https://artifactory.corp.internal/artifactory/api/npm/npm-remote/",
        "https://artifactory.corp.internal/artifactory/api/pypi/pypi-remote/simple",
    ),
    "upstream": ("https://registry.npmjs.org/", "https://pypi.org/simple"),  # explicit defaults
}
LEVELS = (DEFAULT, *MIRRORS)


def urls(level: str) -> tuple[str | None, str | None]:
    if level == DEFAULT:
        return (None, None)
    if level in MIRRORS:
        return MIRRORS[level]
    return (level, level)


def check(level: str) -> None:
    if level == DEFAULT or level in MIRRORS:
        return
    host = url_host(level) if level.startswith(("http://", "https://")) else None
    if not host or any(c.isspace() or ord(c) < 32 for c in level):
        raise ValueError(f"not a mirror name ({', '.join(LEVELS)}) or an http(s) URL")
    check_host(host)


def apply(spec: RunSpec, level: str, ctx: FactorContext) -> RunSpec:
    npm, pip = urls(level)
    spec = spec.unset_env(*VARS).unset_home_file(NPMRC, PIPCONF)
    if npm is not None:
        spec = spec.set_env({"npm_config_registry": npm})
        spec = spec.set_home_file(NPMRC, f"registry={npm}\n".encode())
    if pip is not None:
        spec = spec.set_env({"PIP_INDEX_URL": pip})
        spec = spec.set_home_file(PIPCONF, f"[global]\nindex-url = {pip}\n".encode())
    hosts = {h for h in (url_host(u) for u in (npm, pip) if u) if h}
    return spec.add_hosts(*sorted(hosts))


FACTOR = Factor(
    "registry-mirror",
    ".npmrc registry, pip index-url, npm_config_registry, PIP_INDEX_URL",
    LEVELS,
    apply,
    check,
)
