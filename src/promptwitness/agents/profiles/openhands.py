"""OpenHands CLI (PyPI ``openhands``, OpenHands SDK), OpenAI Chat Completions through
litellm.

Installed into its own virtual environment of Python 3.12 (the package needs exactly
3.12; promptwitness runs on 3.11): ``python3.12`` from pyenv or PATH. About 790 MB.
Pinned at 1.16.0, the newest release. The other package, ``openhands-ai``, is the
OpenHands server (web GUI); not profiled.

Headless: ``openhands --headless --override-with-envs -t PROMPT`` (headless mode
approves every action). Without ``--override-with-envs`` it ignores ``LLM_*`` (and
says so) and reads only its saved settings (``~/.openhands/agent_settings.json``). With
it and no saved settings, it builds its default agent from ``LLM_MODEL``
(``openai/gpt-4o``), ``LLM_API_KEY`` (a fixed dummy) and ``LLM_BASE_URL`` (``/v1``);
no login, nothing written to ``agent_settings.json``. One request,
``POST /v1/chat/completions`` (JSON, through the OpenAI Python SDK): a system message
in two text parts (its instructions; then the local date and time to the microsecond,
no UTC offset, the working directory and ``Linux (kernel RELEASE)``), six tools
(terminal, file_editor, task_tracker, task, finish, think) and
``prompt_cache_key`` (the conversation id). A text answer ends the run (exit 0).
It also clones its public skills (``git clone`` of a GitHub repository into
``~/.openhands/cache/skills``), which fails here; with them, the system message would
list them in ``<available_skills>``. ``LITELLM_LOCAL_MODEL_COST_MAP`` skips litellm's
price-list download, ``OPENHANDS_SUPPRESS_BANNER`` the SDK banner.
"""

from __future__ import annotations

from promptwitness.agents.profiles.base import Profile

PROFILE = Profile(
    name="openhands",
    title="OpenHands",
    registry="pypi",
    package="openhands",
    bin_name="openhands",
    protocol="openai-chat",
    runtime="python",
    python="3.12",
    args=("--headless", "--override-with-envs", "-t", "{prompt}"),
    env={
        "LLM_API_KEY": "sk-pwdummy0000000000000000000000000000000000000000",
        "LLM_MODEL": "openai/gpt-4o",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "OPENHANDS_SUPPRESS_BANNER": "1",
    },
    base_url_vars=(("LLM_BASE_URL", "/v1"),),
    key_vars=("LLM_API_KEY",),
    tested="1.16.0",
    notes="PyPI venv of Python 3.12; endpoint LLM_BASE_URL (--override-with-envs); "
    "answers: POST /v1/chat/completions (JSON)",
)
