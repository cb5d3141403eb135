"""The registry of real-agent profiles: one module per agent, one line here."""

from __future__ import annotations

from promptwitness.agents.profiles import (
    aider,
    auggie,
    claude_code,
    cline,
    codex,
    continue_cli,
    copilot,
    cursor_agent,
    gemini_cli,
    grok_cli,
    kilocode,
    kimi_cli,
    mini_swe_agent,
    opencode,
    openhands,
    pi,
    qwen_code,
)
from promptwitness.agents.profiles.base import HomeFiles, Profile
from promptwitness.errors import UsageError

__all__ = ["PROFILES", "HomeFiles", "Profile", "get_profile"]

PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        claude_code.PROFILE,
        codex.PROFILE,
        gemini_cli.PROFILE,
        qwen_code.PROFILE,
        opencode.PROFILE,
        pi.PROFILE,
        aider.PROFILE,
        cursor_agent.PROFILE,
        cline.PROFILE,
        continue_cli.PROFILE,
        grok_cli.PROFILE,
        mini_swe_agent.PROFILE,
        kimi_cli.PROFILE,
        kilocode.PROFILE,
        copilot.PROFILE,
        auggie.PROFILE,
        openhands.PROFILE,
    )
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise UsageError(f"unknown agent {name!r}; known: {', '.join(sorted(PROFILES))}") from None
