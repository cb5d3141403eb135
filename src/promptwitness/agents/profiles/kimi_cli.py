"""Kimi CLI (PyPI ``kimi-cli``, Moonshot AI), OpenAI Chat Completions (its ``kimi``
provider).

Installed into its own virtual environment of Python 3.13 (the package needs 3.12 or
later; promptwitness runs on 3.11): ``pythonX.Y`` from pyenv or PATH (``python``).
Pinned at 1.51.0, the last release that runs: 1.52.0 (September 2026, the package is
archived) short-circuits every entry point to a deprecation notice, and with no
arguments pipes the Kimi Code installer from its CDN into bash. Its successor on PyPI,
``kimi-cli-x`` (Kimi Code CLI), needs Python 3.14 (``except A, B:`` syntax), which this
machine lacks.

Headless: ``kimi --print -p PROMPT`` (print mode: no approval questions). With no
configured model it builds a ``kimi`` provider from ``KIMI_BASE_URL`` (``/v1``),
``KIMI_API_KEY`` (a fixed dummy) and ``KIMI_MODEL_NAME``, and writes its default
``~/.kimi/config.toml`` itself; no login. One request, ``POST /v1/chat/completions``
(SSE): a system message with the current date and time in ISO form (microseconds,
UTC offset), the working directory and its listing, 16 tools. Headers carry a device id
(``~/.kimi/device_id``, random per HOME), the host name and the kernel release.
Telemetry goes to ``telemetry-logs.kimi.com`` (unreachable here; kept on disk).
"""

from __future__ import annotations

from promptwitness.agents.profiles.base import Profile

PROFILE = Profile(
    name="kimi-cli",
    title="Kimi CLI",
    registry="pypi",
    package="kimi-cli",
    bin_name="kimi",
    protocol="openai-chat",
    runtime="python",
    python="3.13",
    args=("--print", "-p", "{prompt}"),
    env={
        "KIMI_API_KEY": "sk-pwdummy0000000000000000000000000000000000000000",
        "KIMI_MODEL_NAME": "kimi-for-coding",
        "KIMI_CLI_NO_AUTO_UPDATE": "1",
    },
    base_url_vars=(("KIMI_BASE_URL", "/v1"),),
    key_vars=("KIMI_API_KEY",),
    tested="1.51.0",
    notes="PyPI venv of Python 3.13; endpoint KIMI_BASE_URL; answers: "
    "POST /v1/chat/completions (SSE)",
)
