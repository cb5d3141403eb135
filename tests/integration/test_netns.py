"""The loopback-only network namespace: a process inside sees ``lo`` and nothing else,
and loopback works there. (No packet is ever addressed beyond loopback.)"""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = r"""
import json, socket
from promptwitness.probe import netns
before = netns.interfaces()
netns.enter_loopback_only()
routes = open("/proc/net/route").read().splitlines()[1:]
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
cli = socket.create_connection(srv.getsockname(), timeout=2)
conn, _ = srv.accept(); cli.sendall(b"ping"); got = conn.recv(4)
print(json.dumps({"before": before, "after": netns.interfaces(), "routes": routes,
                  "loopback": got.decode()}))
"""


def test_a_run_sees_only_loopback() -> None:
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr.decode()
    doc = json.loads(out.stdout)
    assert doc["after"] == ["lo"]
    assert doc["routes"] == []  # no IPv4 route at all: nothing beyond 127/8 is reachable
    assert doc["loopback"] == "ping"
    assert len(doc["before"]) >= 1
