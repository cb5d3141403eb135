"""Claude Code (npm ``@anthropic-ai/claude-code``), Anthropic Messages.

Headless: ``claude -p PROMPT --output-format json`` in a git repository, standard
input closed. Versions up to 2.1.91 ship ``cli.js`` (Node); 2.1.120 and later a Bun
single-file binary of 230-380 MB. Its endpoint must answer ``HEAD /`` and
``POST /v1/messages?beta=true`` (streamed); the sink does both. In hermetic mode (no
base-URL variable) it also asks its own host for settings and policy limits.
"""

from __future__ import annotations

from promptwitness.agents.profiles.base import Profile

PROFILE = Profile(
    name="claude-code",
    title="Claude Code",
    registry="npm",
    package="@anthropic-ai/claude-code",
    bin_name="claude",
    protocol="anthropic",
    args=("-p", "{prompt}", "--output-format", "json"),
    env={"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1"},
    base_url_vars=(("ANTHROPIC_BASE_URL", ""),),
    key_vars=("ANTHROPIC_API_KEY",),
    notes="answers: HEAD /, POST /v1/messages?beta=true (SSE)",
    default_hosts=("api.anthropic.com",),
    answers=(
        ("GET", "/api/claude_code/policy_limits", 200, "{}"),
        ("GET", "/api/claude_code/settings", 200, "{}"),
    ),
    runtime="node",
    tested="2.1.91",
)
