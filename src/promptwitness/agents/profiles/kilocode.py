"""Kilo Code CLI (npm ``@kilocode/cli``, binary ``kilo``), OpenAI Chat Completions.

A fork of opencode: the npm package is a Node launcher plus a Bun binary from the
platform package ``@kilocode/cli-linux-x64`` (about 290 MB installed). Headless:
``kilo run PROMPT``. The provider lives in ``~/.config/kilo/kilo.json``, opencode's
file under another name (``opencode.provider_config``), rendered from the run's
environment.
``KILO_DISABLE_MODELS_FETCH``, ``KILO_DISABLE_AUTOUPDATE``, ``KILO_DISABLE_SHARE``,
``KILO_DISABLE_SESSION_INGEST`` and ``KILO_TELEMETRY_LEVEL=off`` (PostHog) keep it off
most of its vendor's hosts; it still asks ``GET https://api.kilo.ai/api/openrouter/models``
(twice) for its own gateway's model list: under ``--isolate`` that fails at once and the
turn goes on, under ``--hermetic`` it gets ``200 {}``. ``KILO_DISABLE_DEFAULT_PLUGINS``
skips the built-in project-indexing plugin (LanceDB; 10-20 s a run here on a fresh
HOME); the model request was byte-identical with and without it (paths, time and ids
aside). A run still costs about 10 s of CPU (Bun start-up and its in-process server).

Under a probe's pinned clock (the default, shifted back by up to 15 minutes) a run
takes 1-4 minutes instead of 12 s: Bun's condition variables wait for absolute
CLOCK_REALTIME deadlines computed from the shifted clock, already past for the kernel,
so each wait times out at once and spins (2.8 million futex calls a run). Until the
clock shim unshifts those deadlines, audit it with ``--clock real``.

Only some versions are installable from this registry: the launcher's platform package
``@kilocode/cli-linux-x64`` is published for 7.0.33, 7.7.2, 7.7.7 and 7.7.9, so
``@kilocode/cli`` 7.8.1 (and 7.5.x, 7.6.x, 7.7.5) fail at install.
"""

from __future__ import annotations

from promptwitness.agents.profiles.base import Profile
from promptwitness.agents.profiles.opencode import BASE_URL_VAR, provider_config

home_files = provider_config("https://app.kilo.ai/config.json", ".config/kilo/kilo.json")


PROFILE = Profile(
    name="kilocode",
    title="Kilo Code CLI",
    registry="npm",
    package="@kilocode/cli",
    bin_name="kilo",
    protocol="openai-chat",
    runtime="bun",
    args=("run", "{prompt}"),
    env={
        "KILO_DISABLE_MODELS_FETCH": "1",
        "KILO_DISABLE_AUTOUPDATE": "1",
        "KILO_DISABLE_SHARE": "1",
        "KILO_DISABLE_SESSION_INGEST": "1",
        "KILO_TELEMETRY_LEVEL": "off",
        "KILO_DISABLE_DEFAULT_PLUGINS": "1",
    },
    base_url_vars=((BASE_URL_VAR, "/v1"),),
    key_vars=("OPENAI_API_KEY",),
    home_files=home_files,
    tested="7.7.7",
    default_hosts=("api.kilo.ai",),  # its gateway's model list (seen: record --hermetic)
    notes="provider in ~/.config/kilo/kilo.json; answers: POST /v1/chat/completions "
    "(SSE); slow under the pinned clock (Bun spins on past real-time deadlines): "
    "--clock real",
)
