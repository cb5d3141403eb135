"""The environment that points an agent at the capture endpoint (pure).

``record`` sets every base-URL variable the common agents and SDKs read, so that the
agent under test talks to promptwitness whatever its vendor, and gives a dummy key only
where the user has none (a real key is then redacted at the capture edge).

The table is data: a row says which variable, which URL form, and who reads it.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class BaseUrlVar:
    name: str
    suffix: str  # appended to http://HOST:PORT
    readers: str


BASE_URL_VARS: tuple[BaseUrlVar, ...] = (
    BaseUrlVar("ANTHROPIC_BASE_URL", "", "Claude Code, Anthropic SDKs (Python, TypeScript)"),
    BaseUrlVar("OPENAI_BASE_URL", "/v1", "OpenAI SDKs (Python ≥1, Node), Qwen Code, Crush"),
    BaseUrlVar("OPENAI_API_BASE", "/v1", "litellm / aider, OpenAI Python SDK <1, LangChain"),
    BaseUrlVar("GOOGLE_GEMINI_BASE_URL", "", "Gemini CLI, google-genai SDK"),
    BaseUrlVar("GEMINI_API_BASE_URL", "", "some Gemini clients"),
    BaseUrlVar("ANTHROPIC_API_BASE", "", "litellm (anthropic/ models)"),
    BaseUrlVar("DEEPSEEK_BASE_URL", "/v1", "DeepSeek clients, litellm"),
    BaseUrlVar("OPENROUTER_BASE_URL", "/api/v1", "OpenRouter clients"),
)


@dataclass(frozen=True)
class KeyVar:
    name: str
    prefix: str  # a prefix in the provider's key style, so clients accept the form


KEY_VARS: tuple[KeyVar, ...] = (
    KeyVar("ANTHROPIC_API_KEY", "sk-ant-api03-"),
    KeyVar("OPENAI_API_KEY", "sk-proj-"),
    KeyVar("GEMINI_API_KEY", "AIza"),
    KeyVar("DEEPSEEK_API_KEY", "sk-"),
    KeyVar("OPENROUTER_API_KEY", "sk-or-v1-"),
)

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def dummy_key(prefix: str) -> str:
    """A key-shaped random value; random so that it can be found and proven absent."""
    return prefix + "pwdummy" + secrets.token_hex(16)


def _add_no_proxy(value: str | None) -> str:
    have = [v.strip() for v in (value or "").split(",") if v.strip()]
    for name in LOOPBACK_NAMES:
        if name not in have:
            have.append(name)
    return ",".join(have)


# The capture endpoint's port inside a run's network namespace (probe, audit, hermetic
# record): the same in every run, so the environment a run sees never varies with it.
CAPTURE_PORT = 8080
CAPTURE_ORIGIN = f"http://127.0.0.1:{CAPTURE_PORT}"


def is_loopback_host(host: str) -> bool:
    """``127.x.y.z``, ``::1`` or ``localhost`` (brackets and case ignored)."""
    h = host.strip("[]").lower()
    return h == "localhost" or h == "::1" or h.startswith("127.")


def dummy_keys(base: Mapping[str, str]) -> dict[str, str]:
    """A dummy key for every key variable that ``base`` does not set."""
    return {k.name: dummy_key(k.prefix) for k in KEY_VARS if not base.get(k.name)}


def capture_env(
    base: Mapping[str, str],
    host: str,
    port: int,
    keys: Mapping[str, str] | None = None,
    extra_vars: Sequence[tuple[str, str]] = (),
) -> dict[str, str]:
    """The environment for the agent: ``base`` plus every base-URL variable (and the
    ``extra_vars``, (name, suffix) pairs: a profile's or an unknown agent's own) pointing
    at ``http://host:port``, the given dummy ``keys``, and loopback in ``NO_PROXY``.

    Real keys already in ``base`` are kept (pass-through needs them); the caller hands
    every key value to the redactor either way.
    """
    env = dict(base)
    netloc = f"[{host}]" if ":" in host else host
    origin = f"http://{netloc}:{port}"
    for var in BASE_URL_VARS:
        env[var.name] = origin + var.suffix
    for name, suffix in extra_vars:
        env[name] = origin + suffix
    env.update(keys or {})
    for name in ("NO_PROXY", "no_proxy"):
        env[name] = _add_no_proxy(env.get(name))
    return env


def secrets_in_env(env: Mapping[str, str]) -> list[str]:
    """Values of key-like variables, to be redacted wherever they show up."""
    out = []
    for name, value in env.items():
        upper = name.upper()
        if len(value) >= 8 and any(t in upper for t in ("API_KEY", "TOKEN", "SECRET")):
            out.append(value)
    return out
