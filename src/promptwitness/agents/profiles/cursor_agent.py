"""Cursor's agent CLI (``cursor-agent``), installed by its vendor's script, not from a
registry: the profile audits the copy installed on this machine.

Install (the vendor's way): ``curl https://cursor.com/install -fsS | bash`` puts
``~/.local/bin/cursor-agent``, a launcher of the version under
``~/.local/share/cursor-agent/versions/``. Headless: ``cursor-agent -p PROMPT
--output-format text`` with ``CURSOR_API_KEY`` (a dummy here). It is account-bound: it
honours no base-URL variable and talks to its vendor's hosts only, so it runs hermetic
(those hosts answered in the sandbox).

Not tried here: the installer downloads from ``downloads.cursor.com``, which this machine
cannot reach, and the package is on no registry this machine can reach. What is known
to stand in the way: its model traffic is Connect-RPC (protobuf over HTTP/2) to
``api2.cursor.sh``, a protocol promptwitness stores raw but does not parse into
segments, so an audit compares bodies, not prompts; the canned answers it needs are
unknown until it runs once (``record --hermetic --agent cursor-agent`` lists every
host and path it asks for).
"""

from __future__ import annotations

from promptwitness.agents.profiles.base import Profile

PROFILE = Profile(
    name="cursor-agent",
    title="Cursor Agent CLI",
    registry="local",
    package="https://cursor.com/install",
    bin_name="cursor-agent",
    protocol="connect-rpc",
    args=("-p", "{prompt}", "--output-format", "text"),
    env={"CURSOR_API_KEY": "key_promptwitness_dummy_0000000000000000"},
    account=True,
    default_hosts=("api2.cursor.sh", "api3.cursor.sh", "repo42.cursor.sh"),
    runtime="node",
    notes="not tried here (not on the registries here); Connect-RPC is stored raw",
)
