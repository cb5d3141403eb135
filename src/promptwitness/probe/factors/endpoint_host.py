"""``endpoint-host``: the host name in the agent's base-URL variable(s).

Every base-URL variable of the context is set to ``{scheme}://LEVEL:{port}{suffix}``
and the sandbox's hosts file resolves LEVEL to 127.0.0.1, where the capture server
listens: the agent believes it talks to that provider or gateway. Levels: the loopback
address (control), ``localhost``, a generic company gateway, the API hosts of other
model providers and relays (the Chinese labs DeepSeek, Moonshot/Kimi, Zhipu/BigModel,
MiniMax, Alibaba DashScope/Bailian, Baidu Qianfan, ByteDance Volcano Engine Ark;
OpenRouter; OpenAI) and a generic ``.cn`` gateway name.

The level ``default`` unsets every base-URL variable of the context: the agent talks
to its vendor's default host, which only the hermetic mode (``--hermetic``: DNS and TLS
inside the run's namespace) captures; the probe's configuration refuses it otherwise.
It is not among the default levels; ``--hermetic`` puts it first (the control).

Known gap: the scheme is the context's (``http``).
"""

from __future__ import annotations

from promptwitness.probe.factors.base import (
    Factor,
    FactorContext,
    check_host,
    is_ip,
    sync_no_proxy,
)
from promptwitness.probe.spec import RunSpec

DEFAULT = "default"  # no base-URL variable at all (hermetic mode only)
LEVELS = (
    "127.0.0.1",
    "localhost",
    "llm-gateway.corp.internal",  # a company's own gateway
    "api.deepseek.com",
    "api.moonshot.cn",
    "open.bigmodel.cn",
    "api.minimaxi.com",
    "dashscope.aliyuncs.com",
    "qianfan.baidubce.com",
    "ark.cn-beijing.volces.com",
    "openrouter.ai",
    "api.openai.com",
    "llm.gateway.com.cn",  # a generic .cn relay
)


def base_url(level: str, ctx: FactorContext, suffix: str) -> str:
    host = f"[{level}]" if ":" in level else level
    return f"{ctx.scheme}://{host}:{ctx.port}{suffix}"


def check(level: str) -> None:
    if level != DEFAULT:
        check_host(level)


def apply(spec: RunSpec, level: str, ctx: FactorContext) -> RunSpec:
    if level == DEFAULT:
        return sync_no_proxy(spec.unset_env(*(var for var, _ in ctx.base_url_vars)), ctx)
    spec = spec.set_env({var: base_url(level, ctx, suffix) for var, suffix in ctx.base_url_vars})
    if not is_ip(level):
        spec = spec.add_hosts(level)
    return sync_no_proxy(spec, ctx)


FACTOR = Factor(
    "endpoint-host",
    "the host in the agent's base-URL variable, resolved to the capture server",
    LEVELS,
    apply,
    check,
)
