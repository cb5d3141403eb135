"""Gemini CLI (npm ``@google/gemini-cli``), Gemini ``generateContent``.

Headless: ``gemini --skip-trust -p PROMPT``. The endpoint is ``GOOGLE_GEMINI_BASE_URL``
with ``GEMINI_API_KEY``; ``~/.gemini/settings.json`` selects API-key authentication
(otherwise it asks how to log in) and turns off update checks and usage statistics.
The first request is the model router's ``:generateContent`` in JSON mode, which wants
``{complexity_reasoning, complexity_score}`` (the sink answers the smallest value the
request's schema accepts, so the chosen model does not change because of the sink);
then ``:streamGenerateContent?alt=sse``, whose chunks need a ``finishReason``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from promptwitness.agents.profiles.base import Profile

SETTINGS = {
    "security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": False}},
    "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
    "privacy": {"usageStatisticsEnabled": False},
    "telemetry": {"enabled": False},
}


def home_files(env: Mapping[str, str]) -> tuple[tuple[str, bytes], ...]:
    del env  # the endpoint is a variable; the settings do not depend on the run
    return ((".gemini/settings.json", (json.dumps(SETTINGS, indent=2) + "\n").encode()),)


PROFILE = Profile(
    name="gemini-cli",
    title="Gemini CLI",
    registry="npm",
    package="@google/gemini-cli",
    bin_name="gemini",
    protocol="gemini",
    runtime="node",
    default_hosts=("generativelanguage.googleapis.com",),  # seen: record --hermetic
    args=("--skip-trust", "-p", "{prompt}"),
    env={"GEMINI_CLI_NO_RELAUNCH": "true", "NO_BROWSER": "true"},
    base_url_vars=(("GOOGLE_GEMINI_BASE_URL", ""),),
    key_vars=("GEMINI_API_KEY",),
    home_files=home_files,
    min_node=20,
    tested="0.61.0",
    notes="answers: POST /v1beta/models/M:generateContent (router, JSON mode) then "
    ":streamGenerateContent?alt=sse with finishReason",
)
