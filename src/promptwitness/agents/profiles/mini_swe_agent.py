"""mini-swe-agent (PyPI ``mini-swe-agent``), OpenAI Chat Completions through litellm.

Installed into its own virtual environment (about 755 MB). Headless:
``mini -y --exit-immediately -m openai/gpt-4o -c mini.yaml -c agent.step_limit=1 -t
PROMPT``: yolo mode (no confirmation), its default configuration ``mini.yaml``, and a
limit of one model call. It only finishes when the model runs ``echo
COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT`` through its ``bash`` tool; a plain text answer
is a format error it sends back (up to three in a row), so without the step limit a
run makes three growing requests. With it, the run sends one request (system message
and the task inside its instance template, one ``bash`` tool) and stops with
``LimitsExceeded`` (exit 0; standard input is not a terminal, so it does not ask for
new limits). ``MSWEA_CONFIGURED`` skips the first-run setup questions,
``MSWEA_COST_TRACKING=ignore_errors`` a cost error, ``LITELLM_LOCAL_MODEL_COST_MAP``
litellm's price-list download. litellm reads ``OPENAI_BASE_URL`` before
``OPENAI_API_BASE``; both are set. Its instance template carries ``uname`` (system,
release, version, machine). The sink's text answer is not printed (the format error is).
"""

from __future__ import annotations

from promptwitness.agents.profiles.base import Profile

PROFILE = Profile(
    name="mini-swe-agent",
    title="mini-swe-agent",
    registry="pypi",
    package="mini-swe-agent",
    bin_name="mini",
    protocol="openai-chat",
    runtime="python",
    args=(
        "-y",
        "--exit-immediately",
        "-m",
        "openai/gpt-4o",
        "-c",
        "mini.yaml",
        "-c",
        "agent.step_limit=1",
        "-t",
        "{prompt}",
    ),
    env={
        "MSWEA_CONFIGURED": "true",
        "MSWEA_COST_TRACKING": "ignore_errors",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    },
    base_url_vars=(("OPENAI_BASE_URL", "/v1"), ("OPENAI_API_BASE", "/v1")),
    key_vars=("OPENAI_API_KEY",),
    tested="2.4.6",
    notes="PyPI venv; one model call (agent.step_limit=1); answers: "
    "POST /v1/chat/completions (JSON)",
)
