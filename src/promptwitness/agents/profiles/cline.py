"""Cline CLI (npm ``cline``), OpenAI Chat Completions.

Headless: ``cline PROMPT`` (standard input closed prints the answer and exits). The npm
package is a Node wrapper that runs a Bun single-file binary (optional dependency
``@cline/cli-linux-x64``). Its provider is the state ``cline auth -p openai -k KEY -m
MODEL -b URL/v1`` writes, ``~/.cline/data/settings/providers.json`` (an
``openai-compatible`` provider with ``baseUrl``, ``apiKey`` and ``model``): the profile
writes that file, rendered from the run's environment, instead of running the separate
``auth`` step. ``CLINE_NO_AUTO_UPDATE`` skips its update check.
``CLINE_SESSION_BACKEND_MODE=local`` keeps its sessions in the process: by default
(``auto``) every run starts a detached hub daemon (``cline --cline-hub-daemon``) that
outlives the command (a sandbox's PID namespace ends it; outside one it must be ended by
its id); the model request is byte-identical either way. The stream must carry a
``finish_reason``; the sink's does. It is a Bun binary: its timed waits take absolute
``CLOCK_REALTIME`` deadlines, which the clock shim shifts back to the real clock (a
run takes 5-6 s under the pinned clock, as on the real one).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from promptwitness.agents.profiles.base import Profile

BASE_URL_VAR = "OPENAI_BASE_URL"
KEY_VAR = "OPENAI_API_KEY"
MODEL = "fake-model"


def home_files(env: Mapping[str, str]) -> tuple[tuple[str, bytes], ...]:
    """What ``cline auth -p openai -k KEY -m MODEL -b URL/v1`` writes (3.0.65)."""
    providers = {
        "version": 1,
        "lastUsedProvider": "openai-compatible",
        "modes": {},
        "providers": {
            "openai-compatible": {
                "settings": {
                    "provider": "openai-compatible",
                    "apiKey": env.get(KEY_VAR, "sk-promptwitness"),
                    "model": MODEL,
                    "baseUrl": env.get(BASE_URL_VAR, "http://127.0.0.1:8080/v1"),
                },
                "updatedAt": "2026-01-01T00:00:00.000Z",
                "tokenSource": "manual",
            }
        },
    }
    data = (json.dumps(providers, indent=2) + "\n").encode()
    return ((".cline/data/settings/providers.json", data),)


PROFILE = Profile(
    name="cline",
    title="Cline CLI",
    registry="npm",
    package="cline",
    bin_name="cline",
    protocol="openai-chat",
    runtime="bun",
    args=("{prompt}",),
    env={"CLINE_NO_AUTO_UPDATE": "1", "CLINE_SESSION_BACKEND_MODE": "local"},
    base_url_vars=((BASE_URL_VAR, "/v1"),),
    key_vars=(KEY_VAR,),
    home_files=home_files,
    tested="3.0.65",
    notes="provider in ~/.cline/data/settings/providers.json (what `cline auth` writes); "
    "answers: POST /v1/chat/completions (SSE, finish_reason)",
)
