"""Grok CLI (npm ``@vibe-kit/grok-cli``), OpenAI Chat Completions (xAI's API).

Headless: ``grok -p PROMPT``: one turn, each message printed as a JSON line. The
endpoint is ``GROK_BASE_URL`` (``/v1``), also written as ``baseURL`` in
``~/.grok/user-settings.json`` (rendered from the run's environment, so a plain
``record`` reaches it too); the key is ``GROK_API_KEY`` (a fixed dummy). The model is
its default, ``grok-code-fast-1``. It also loads a ``.env`` file from the working
directory (dotenv). Plain streaming is enough.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from promptwitness.agents.profiles.base import Profile

BASE_URL_VAR = "GROK_BASE_URL"
KEY_VAR = "GROK_API_KEY"
MODEL = "grok-code-fast-1"


def home_files(env: Mapping[str, str]) -> tuple[tuple[str, bytes], ...]:
    base = env.get(BASE_URL_VAR) or env.get("OPENAI_BASE_URL", "http://127.0.0.1:8080/v1")
    settings = {"baseURL": base, "defaultModel": MODEL, "models": [MODEL], "settingsVersion": 2}
    return ((".grok/user-settings.json", (json.dumps(settings, indent=2) + "\n").encode()),)


PROFILE = Profile(
    name="grok-cli",
    title="Grok CLI",
    registry="npm",
    package="@vibe-kit/grok-cli",
    bin_name="grok",
    protocol="openai-chat",
    runtime="node",
    args=("-p", "{prompt}"),
    env={KEY_VAR: "xai-pwdummy00000000000000000000000000000000"},
    base_url_vars=((BASE_URL_VAR, "/v1"),),
    key_vars=(KEY_VAR,),
    home_files=home_files,
    tested="0.0.34",
    notes="endpoint GROK_BASE_URL and ~/.grok/user-settings.json; answers: "
    "POST /v1/chat/completions (SSE)",
)
