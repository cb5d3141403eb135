"""GitHub Copilot CLI (npm ``@github/copilot``), account-bound: run hermetic.

The npm package is a loader; the platform package (``@github/copilot-linux-x64``) is a
Node single-executable of about 190 MB whose application (``app.js``, ``cli-main.js``
and a Rust ``runtime.node`` that does the HTTP) is embedded as ``copilot.tgz`` and
unpacked into ``~/.cache/copilot/pkg`` at first start: nothing is downloaded.
``COPILOT_AUTO_UPDATE=false`` keeps it from fetching a newer version.

Headless: ``copilot -p PROMPT``, with a dummy OAuth token in ``COPILOT_GITHUB_TOKEN``
(its documented variable; no login flow). Its HTTP client (Rust, reqwest) trusts the
system bundle. What it asks in its default configuration, and the canned answers:

- ``GET api.github.com/copilot_internal/user``: the Copilot account. ``USER``: a Copilot
  Free individual (``chat_enabled``, ``copilot_plan``), its ``endpoints.api`` and
  ``endpoints.telemetry`` (the hosts a real account is given). With ``{}`` it still
  fetches models but resolves none.
- ``GET api.githubcopilot.com/models``: the model catalog. ``MODELS``: one model,
  ``claude-haiku-4.5``, in the CAPI shape (capabilities, limits, ``policy.state``,
  ``model_picker_enabled``, ``supported_endpoints``); the CLI picks it as its default and
  calls it with Anthropic Messages (``POST api.githubcopilot.com/v1/messages``, SSE).
- ``GET api.github.com/repos/github/copilot-cli/releases``: its update check; ``[]``.
- Left to the ``{}`` fallback: ``/copilot_internal/managed_settings`` and
  ``team_customizations`` (no organisation policy), ``/agents/swe/internal/memory/v0/
  enabled``, the GitHub MCP server ``POST /mcp/readonly`` (JSON-RPC that a fixed answer
  cannot serve: it gives up after a few tries, so its tools are absent) and
  ``POST telemetry.individual.githubcopilot.com/telemetry`` (gzipped events, captured).
"""

from __future__ import annotations

import json

from promptwitness.agents.profiles.base import Profile

MODEL = "claude-haiku-4.5"
MODELS = json.dumps(
    {
        "object": "list",
        "data": [
            {
                "id": MODEL,
                "name": "Claude Haiku 4.5",
                "object": "model",
                "vendor": "Anthropic",
                "version": MODEL,
                "preview": False,
                "model_picker_enabled": True,
                "is_chat_default": True,
                "is_chat_fallback": True,
                "billing": {"is_premium": False, "multiplier": 0},
                "capabilities": {
                    "family": MODEL,
                    "object": "model_capabilities",
                    "type": "chat",
                    "tokenizer": "o200k_base",
                    "limits": {
                        "max_context_window_tokens": 200000,
                        "max_output_tokens": 16000,
                        "max_prompt_tokens": 128000,
                    },
                    "supports": {
                        "streaming": True,
                        "tool_calls": True,
                        "parallel_tool_calls": True,
                        "vision": True,
                    },
                },
                "policy": {"state": "enabled", "terms": ""},
                "supported_endpoints": ["/v1/messages", "/chat/completions"],
            }
        ],
    }
)
USER = json.dumps(
    {
        "login": "promptwitness",
        "access_type_sku": "free_limited_copilot",
        "analytics_tracking_id": "00000000000000000000000000000000",
        "assigned_date": None,
        "can_signup_for_limited": False,
        "chat_enabled": True,
        "copilot_plan": "individual",
        "copilotignore_enabled": False,
        "codex_agent_enabled": False,
        "organization_login_list": [],
        "organization_list": [],
        "endpoints": {
            "api": "https://api.githubcopilot.com",
            "telemetry": "https://telemetry.individual.githubcopilot.com",
        },
    }
)

PROFILE = Profile(
    name="copilot",
    title="GitHub Copilot CLI",
    registry="npm",
    package="@github/copilot",
    bin_name="copilot",
    protocol="anthropic",
    args=("-p", "{prompt}"),
    env={
        "COPILOT_GITHUB_TOKEN": "gho_promptwitness0dummy0000000000000000",
        "COPILOT_AUTO_UPDATE": "false",
    },
    account=True,
    default_hosts=(
        "api.github.com",
        "api.githubcopilot.com",
        "telemetry.individual.githubcopilot.com",
    ),
    answers=(
        ("GET", "/copilot_internal/user", 200, USER),
        ("GET", "/models", 200, MODELS),
        ("GET", "/repos/github/copilot-cli/releases", 200, "[]"),
    ),
    runtime="rust",
    tested="1.0.102",
    notes="hermetic: Copilot user, model catalog (claude-haiku-4.5), empty release list; "
    "model call POST api.githubcopilot.com/v1/messages",
)
