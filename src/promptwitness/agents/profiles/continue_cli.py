"""Continue CLI (npm ``@continuedev/cli``, binary ``cn``), OpenAI Chat Completions.

Headless: ``cn -p PROMPT``. The model comes from ``~/.continue/config.yaml`` (a local
agent configuration: one ``provider: openai`` model whose ``apiBase`` is the endpoint and
whose key is the secret ``${{ secrets.OPENAI_API_KEY }}``, which the CLI resolves from the
process environment), rendered from the run's environment. With that file present it
needs no login and asks no Continue host for a configuration. Its read-only headless
tools are Read, List, Bash, Fetch, Checklist, CheckBackgroundJob, AskQuestion, Exit and
Skills; the system text is a ``role: "system"`` message with the date, the working
directory and the git status.

At start it asks ``GET https://api.continue.dev/cn/info?id=MACHINE_ID`` for the latest
version (the id is ``node-machine-id``'s hash of ``/etc/machine-id``; no variable turns
it off). Under ``--isolate`` the lookup fails and the turn goes on; under ``--hermetic``
it gets ``200 {}`` (no version: no update). The metrics variables keep its
OpenTelemetry exporter off even where ``OTEL_*`` variables are set.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from promptwitness.agents.profiles.base import Profile

BASE_URL_VAR = "OPENAI_BASE_URL"
KEY_VAR = "OPENAI_API_KEY"
MODEL = "gpt-4o"


def home_files(env: Mapping[str, str]) -> tuple[tuple[str, bytes], ...]:
    base = env.get(BASE_URL_VAR, "http://127.0.0.1:8080/v1")
    text = (
        "name: promptwitness\n"
        "version: 1.0.0\n"
        "schema: v1\n"
        "models:\n"
        "  - name: fake-model\n"
        "    provider: openai\n"
        f"    model: {MODEL}\n"
        f"    apiBase: {json.dumps(base)}\n"  # a JSON string is a YAML scalar
        f"    apiKey: ${{{{ secrets.{KEY_VAR} }}}}\n"
        "    roles:\n"
        "      - chat\n"
    )
    return ((".continue/config.yaml", text.encode()),)


PROFILE = Profile(
    name="continue-cli",
    title="Continue CLI",
    registry="npm",
    package="@continuedev/cli",
    bin_name="cn",
    protocol="openai-chat",
    runtime="node",
    args=("-p", "{prompt}"),
    env={
        "CONTINUE_METRICS_ENABLED": "0",
        "CONTINUE_CLI_ENABLE_TELEMETRY": "0",
        "FORCE_NO_TTY": "1",
    },
    base_url_vars=((BASE_URL_VAR, "/v1"),),
    key_vars=(KEY_VAR,),
    home_files=home_files,
    tested="1.5.47",
    default_hosts=("api.continue.dev",),  # the version lookup (seen: record --hermetic)
    notes="model in ~/.continue/config.yaml; answers: POST /v1/chat/completions (SSE)",
)
