"""aider (PyPI ``aider-chat``), OpenAI Chat Completions through litellm, no tools.

Installed into its own virtual environment (about 690 MB). Headless:
``aider --model openai/gpt-4o --message PROMPT`` with everything interactive or
network-bound turned off. ``OPENAI_API_BASE`` (``/v1``) and ``OPENAI_API_KEY`` point it
at the endpoint; ``LITELLM_LOCAL_MODEL_COST_MAP`` stops litellm fetching its price
list. Known: under ``LANG=zh_CN.UTF-8`` it asks the model to "Reply in Chinese."
"""

from __future__ import annotations

from promptwitness.agents.profiles.base import Profile

PROFILE = Profile(
    name="aider",
    title="aider",
    registry="pypi",
    package="aider-chat",
    bin_name="aider",
    protocol="openai-chat",
    runtime="python",
    args=(
        "--model",
        "openai/gpt-4o",
        "--message",
        "{prompt}",
        "--yes-always",
        "--no-check-update",
        "--no-analytics",
        "--no-show-model-warnings",
        "--no-gitignore",
        "--no-pretty",
        "--no-stream",
    ),
    env={"LITELLM_LOCAL_MODEL_COST_MAP": "True", "AIDER_CHECK_UPDATE": "false"},
    base_url_vars=(("OPENAI_API_BASE", "/v1"),),
    key_vars=("OPENAI_API_KEY",),
    tested="0.86.2",
    notes="PyPI venv; answers: POST /v1/chat/completions",
)
