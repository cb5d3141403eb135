"""OpenAI Codex CLI (npm ``@openai/codex``), OpenAI Responses API.

Headless: ``codex exec --skip-git-repo-check PROMPT``. The npm package is a launcher
plus a Rust binary (about 400 MB installed). ``OPENAI_BASE_URL`` is not honoured: the
endpoint comes from ``~/.codex/config.toml`` (a custom model provider with
``wire_api = "responses"`` and ``env_key``), rendered from the run's environment so the
``endpoint-host`` factor reaches it. Its endpoint must answer ``POST /v1/responses``
with a stream that carries ``response.output_item.done`` and ``response.completed``;
the sink does. Its ``<timezone>`` context comes only from ``/etc/localtime``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from promptwitness.agents.profiles.base import Profile

BASE_URL_VAR = "OPENAI_BASE_URL"
KEY_VAR = "OPENAI_API_KEY"
MODEL = "gpt-5-codex"


def _toml(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def home_files(env: Mapping[str, str]) -> tuple[tuple[str, bytes], ...]:
    base = env.get(BASE_URL_VAR, "http://127.0.0.1:8080/v1")
    text = (
        f"model = {_toml(MODEL)}\n"
        'model_provider = "promptwitness"\n'
        "check_for_update_on_startup = false\n"
        "\n"
        "[model_providers.promptwitness]\n"
        'name = "promptwitness"\n'
        f"base_url = {_toml(base)}\n"
        f"env_key = {_toml(KEY_VAR)}\n"
        'wire_api = "responses"\n'
        "\n"
        "[analytics]\n"
        "enabled = false\n"
    )
    return ((".codex/config.toml", text.encode()),)


PROFILE = Profile(
    name="codex",
    title="OpenAI Codex CLI",
    registry="npm",
    package="@openai/codex",
    bin_name="codex",
    protocol="openai-responses",
    runtime="rust",
    args=("exec", "--skip-git-repo-check", "{prompt}"),
    env={"RUST_LOG": "error"},
    base_url_vars=((BASE_URL_VAR, "/v1"),),
    key_vars=(KEY_VAR,),
    home_files=home_files,
    tested="0.169.0",
    notes="endpoint from ~/.codex/config.toml; answers: POST /v1/responses (SSE, "
    "response.output_item.done + response.completed)",
)
