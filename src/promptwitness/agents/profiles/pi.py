"""pi (npm ``@mariozechner/pi-coding-agent``), OpenAI Chat Completions.

Headless: ``pi --provider promptwitness --model fake-model -p PROMPT``. The provider is
defined in ``~/.pi/agent/models.json`` (``api: "openai-completions"``, ``baseUrl``,
``apiKey``), rendered from the run's environment. Plain streaming is enough.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from promptwitness.agents.profiles.base import Profile

BASE_URL_VAR = "OPENAI_BASE_URL"
KEY_VAR = "OPENAI_API_KEY"


def home_files(env: Mapping[str, str]) -> tuple[tuple[str, bytes], ...]:
    models = {
        "providers": {
            "promptwitness": {
                "baseUrl": env.get(BASE_URL_VAR, "http://127.0.0.1:8080/v1"),
                "api": "openai-completions",
                "apiKey": KEY_VAR,  # pi resolves a variable name to its value
                "models": [{"id": "fake-model", "name": "fake-model"}],
            }
        }
    }
    return ((".pi/agent/models.json", (json.dumps(models, indent=2) + "\n").encode()),)


PROFILE = Profile(
    name="pi",
    title="pi coding agent",
    registry="npm",
    package="@mariozechner/pi-coding-agent",
    bin_name="pi",
    protocol="openai-chat",
    runtime="node",
    args=("--provider", "promptwitness", "--model", "fake-model", "-p", "{prompt}"),
    env={"PI_SKIP_VERSION_CHECK": "1"},
    base_url_vars=((BASE_URL_VAR, "/v1"),),
    key_vars=(KEY_VAR,),
    home_files=home_files,
    tested="0.73.1",
    notes="provider in ~/.pi/agent/models.json; answers: POST /v1/chat/completions (SSE)",
)
