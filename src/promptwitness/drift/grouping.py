"""Which requests are compared with which: agent, version and request kind (sans-IO).

Only requests of one agent release and one kind share a template, so ``drift`` compares
within a **group** = (agent, version, kind):

- **agent** and **version** come from the user agent's first product token
  (``claude-cli/2.1.91 (external, cli)`` → ``claude-cli`` ``2.1.91``); a user agent with
  no version keeps its first word and version ``?``; no user agent at all is agent
  ``(no user agent)``. The request's shape (below) then keeps apart agents that send the
  same user agent (SDK defaults such as ``python-httpx/0.28``).
- **kind** is the request's shape: protocol, method and path, how many system blocks,
  and the names of its tools (sorted, as a short digest, with their number), so a
  title-generation call without tools is not compared with the main call.
  ``anthropic POST /v1/messages · system×2 · tools×14 (3f9c0a)``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import regex

from promptwitness.model import Prompt

__all__ = ["GroupKey", "agent_of", "group_key"]

_PRODUCT = regex.compile(r"\s*([^\s/;()]+)(?:/([^\s;()]+))?")


@dataclass(frozen=True, order=True)
class GroupKey:
    agent: str
    version: str
    kind: str

    def label(self) -> str:
        return f"{self.agent} {self.version} · {self.kind}"

    def to_json(self) -> dict[str, str]:
        return {"agent": self.agent, "version": self.version, "kind": self.kind}


def agent_of(user_agent: str | None) -> tuple[str, str]:
    """``(agent, version)`` from a user agent (module docstring)."""
    if not user_agent or not user_agent.strip():
        return "(no user agent)", "?"
    m = _PRODUCT.match(user_agent)
    if m is None or not m.group(1):
        return user_agent.strip()[:60], "?"
    return m.group(1)[:60], (m.group(2) or "?")[:40]


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


def group_key(prompt: Prompt, method: str, path: str) -> GroupKey:
    """The group of one parsed request (module docstring)."""
    agent, version = agent_of(_header(prompt.headers, "user-agent"))
    names = sorted({t.name for t in prompt.tools})
    kind = f"{prompt.protocol} {method} {path} · system×{len(prompt.system)}"
    if names:
        h = hashlib.sha256("\n".join(names).encode("utf-8", "surrogatepass")).hexdigest()[:6]
        kind += f" · tools×{len(prompt.tools)} ({h})"
    return GroupKey(agent, version, kind)
