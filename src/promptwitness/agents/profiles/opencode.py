"""opencode (npm ``opencode-ai``), OpenAI Chat Completions.

Headless: ``opencode run PROMPT``. The provider lives in
``~/.config/opencode/opencode.json`` (an OpenAI-compatible provider with
``options.baseURL`` and the key read from ``OPENAI_API_KEY`` through ``{env:...}``),
rendered from the run's environment. ``OPENCODE_DISABLE_MODELS_FETCH`` and
``OPENCODE_DISABLE_AUTOUPDATE`` keep it off the network. The stream must carry a
``finish_reason``, or it loops (hundreds of requests a minute).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from promptwitness.agents.profiles.base import HomeFiles, Profile

BASE_URL_VAR = "OPENAI_BASE_URL"


def provider_config(schema: str, path: str) -> HomeFiles:
    """The home files of opencode and its forks (Kilo Code): one JSON file at ``path``
    (``$schema``: ``schema``) with an OpenAI-compatible provider whose ``baseURL`` is
    the run's ``OPENAI_BASE_URL`` and whose key is read from ``OPENAI_API_KEY``."""

    def home_files(env: Mapping[str, str]) -> tuple[tuple[str, bytes], ...]:
        config = {
            "$schema": schema,
            "autoupdate": False,
            "share": "disabled",
            "model": "promptwitness/fake-model",
            "provider": {
                "promptwitness": {
                    "npm": "@ai-sdk/openai-compatible",
                    "name": "promptwitness",
                    "options": {
                        "baseURL": env.get(BASE_URL_VAR, "http://127.0.0.1:8080/v1"),
                        "apiKey": "{env:OPENAI_API_KEY}",
                    },
                    "models": {"fake-model": {"name": "fake-model"}},
                }
            },
        }
        return ((path, (json.dumps(config, indent=2) + "\n").encode()),)

    return home_files


home_files = provider_config("https://opencode.ai/config.json", ".config/opencode/opencode.json")


PROFILE = Profile(
    name="opencode",
    title="opencode",
    registry="npm",
    package="opencode-ai",
    bin_name="opencode",
    protocol="openai-chat",
    runtime="bun",
    args=("run", "{prompt}"),
    env={"OPENCODE_DISABLE_MODELS_FETCH": "1", "OPENCODE_DISABLE_AUTOUPDATE": "1"},
    base_url_vars=((BASE_URL_VAR, "/v1"),),
    key_vars=("OPENAI_API_KEY",),
    home_files=home_files,
    tested="1.18.33",
    notes="provider in ~/.config/opencode/opencode.json; answers: POST /v1/chat/completions "
    "(SSE, finish_reason)",
)
