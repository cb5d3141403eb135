"""Agents people install that promptwitness cannot run here, and why (``agents`` shows
them beside the profiles, so a security team sees the gap, not a silence).

Each entry says what was tried and what a run would need. An entry moves to a profile
when the blocker goes away.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["UNAVAILABLE", "Unavailable"]


@dataclass(frozen=True)
class Unavailable:
    name: str
    title: str
    package: str  # where it comes from (registry package, or the vendor's installer)
    why: str  # what was tried and why it does not run here
    needs: str  # what a run would need


UNAVAILABLE: tuple[Unavailable, ...] = (
    Unavailable(
        "amp",
        "Amp",
        "npm @ampcode/cli",
        "its CLI has no model client: it sends the user's message over a WebSocket to "
        "ampcode.com (/api/thread-actors) and the agent loop and the model call run on "
        "the vendor's servers (tried 0.0.1790142911-g7618fb, a Bun binary, hermetic with "
        "a dummy AMP_API_KEY; the latest release's platform package is not on the "
        "registry)",
        "nothing a client-side capture can give: the prompt is built server-side",
    ),
    Unavailable(
        "droid",
        "Factory Droid",
        "npm @factory/cli",
        "the registry has @factory/cli 0.225.1 but its platform binary "
        "@factory/cli-linux-x64 only up to 0.225.2 without 0.225.1; the installed shim "
        "finds no binary and its fallback downloads from the vendor. Run by hand from "
        "the platform package 0.225.2 (droid exec, hermetic, dummy FACTORY_API_KEY, "
        "NODE_USE_SYSTEM_CA=1) it worked with no canned answer: its model call is "
        "POST api.factory.ai/api/llm/o/v1/responses (OpenAI Responses)",
        "a release whose @factory/cli and platform package versions match on the registry",
    ),
    Unavailable(
        "crush",
        "Crush",
        "npm @charmland/crush",
        "every published version (0.92.0-0.96.1) is an install script whose postinstall "
        "downloads the binary from GitHub releases, which this machine cannot reach",
        "a registry package that ships the binary",
    ),
    Unavailable(
        "kimi-code",
        "Kimi Code CLI",
        "PyPI kimi-cli-x",
        "1.45.3 needs Python 3.14 (its code uses 3.14-only syntax); no Python 3.14 is on "
        "this machine or a reachable registry. Its predecessor kimi-cli 1.51.0 is "
        "profiled (kimi-cli)",
        "Python 3.14",
    ),
    Unavailable(
        "qoder",
        "Qoder CLI",
        "npm @qoder-ai/qodercli",
        "1.1.52 reaches its model call with canned token-exchange and user answers, but "
        "the request body is obfuscated (Encode=1: POST api2.qoder.sh/algo/api/v2/"
        "service/pro/sse/agent_chat_generation), the model list too, and the answer "
        "must be an SSE stream a canned JSON answer cannot be",
        "a decoder of its Encode=1 scheme, and canned SSE answers",
    ),
)
