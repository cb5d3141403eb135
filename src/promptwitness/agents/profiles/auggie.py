"""Auggie, Augment Code's CLI (npm ``@augmentcode/auggie``), account-bound: run hermetic.

Headless: ``auggie --print --quiet PROMPT``. Its credential is an OAuth session (access
token and tenant URL, the JSON of ``~/.augment/session.json``) given in
``AUGMENT_SESSION_AUTH``, its documented variable for automation; here a dummy token and
the tenant ``https://d1.api.augmentcode.com/``. ``AUGMENT_DISABLE_AUTO_UPDATE`` silences
its updater. It speaks Augment's own API to its tenant, not a model provider's: the model
turn is ``POST /chat-stream`` (JSON: the user message in ``nodes[].text_node``, the IDE
state, ``rules``, ``tool_definitions``; the system prompt is added by Augment's servers),
answered with newline-delimited JSON. promptwitness stores that body raw (protocol
``augment``, no adapter): an audit compares it as text, not as segments.

Canned answers (everything else gets the ``{}`` fallback):

- ``POST /get-models``: ``default_model`` empty, no models, no feature flags (the client
  then uses its defaults); ``{}`` fails its conversion.
- ``POST /agents/list-remote-tools``: no remote tools (``{}`` fails its conversion).
- ``POST /chat-stream``: one NDJSON line (it must end in a newline) with the answer text
  and a raw-response node, ``stop_reason`` 1 (end of turn).

Left to the fallback: ``/settings/get-mcp-tenant-configs``, ``/settings/get-mcp-user-
configs``, ``/indexed-commits/get-latest-blobset``, and the ripgrep archive it fetches
from ``github.com`` at first start (the download fails; it goes on).
"""

from __future__ import annotations

import json

from promptwitness.agents.profiles.base import Profile

SESSION = {
    "accessToken": "promptwitness-dummy-access-token-0000000000000000",
    "tenantURL": "https://d1.api.augmentcode.com/",
    "scopes": ["email"],
}
ANSWER = {
    "text": "Hello from promptwitness.",
    "nodes": [{"id": 1, "type": 0, "content": "Hello from promptwitness."}],
    "stop_reason": 1,
}

PROFILE = Profile(
    name="auggie",
    title="Auggie (Augment Code)",
    registry="npm",
    package="@augmentcode/auggie",
    bin_name="auggie",
    protocol="augment",
    args=("--print", "--quiet", "{prompt}"),
    env={"AUGMENT_SESSION_AUTH": json.dumps(SESSION), "AUGMENT_DISABLE_AUTO_UPDATE": "1"},
    account=True,
    default_hosts=("d1.api.augmentcode.com", "github.com"),
    answers=(
        (
            "POST",
            "/get-models",
            200,
            json.dumps({"default_model": "", "models": [], "languages": [], "feature_flags": {}}),
        ),
        ("POST", "/agents/list-remote-tools", 200, json.dumps({"tools": []})),
        ("POST", "/chat-stream", 200, json.dumps(ANSWER) + "\n"),
    ),
    runtime="node",
    min_node=20,
    tested="0.36.0",
    notes="hermetic: model list, remote tools, one NDJSON chat-stream line; Augment's "
    "POST /chat-stream is stored raw (no adapter)",
)
