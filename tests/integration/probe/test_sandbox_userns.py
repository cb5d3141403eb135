"""Without root the sandbox uses a user namespace (the caller is root inside it).

As root, the test drops to ``nobody`` with ``setpriv`` to take that path; as another
user it runs directly. Either way the run must see loopback only, its own host name,
zone, HOME and working directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyseccomp  # type: ignore[import-untyped]

import promptwitness

SRC = str(Path(promptwitness.__file__).resolve().parent.parent)
# the sandbox's one dependency outside the standard library (a single module)
SECCOMP = str(Path(pyseccomp.__file__).resolve().parent)
CHILD = r"""
import json
from promptwitness.probe.sandbox import RunSpec, Sandbox
with Sandbox() as sb:
    r = sb.run(RunSpec(argv=("sh", "-c", "hostname; ls /sys 2>&1 >/dev/null | wc -l;"
                                         " tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ';"
                                         " readlink /etc/localtime;"
                                         " echo $HOME; pwd; git log --format=%cI; id -un"),
                       hostname="nr-box", system_zone="Asia/Tokyo", user="ubuntu"))
    print(json.dumps({"exit": r.exit_code, "out": r.stdout.decode(), "err": r.stderr.decode()}))
"""


def _prefix() -> list[str]:
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to drop root for this test"
    return [setpriv, "--reuid", "65534", "--regid", "65534", "--clear-groups"]


def _python(prefix: list[str], env: dict[str, str]) -> str:
    """An interpreter (3.11+) the unprivileged user can run, with the test's env."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3", sys.executable):
        probe = subprocess.run(
            [*prefix, candidate, "-c", "import sys; assert sys.version_info >= (3, 11)"],
            capture_output=True,
            env=env,
            cwd="/",
        )
        if probe.returncode == 0:
            return candidate
    raise AssertionError("no Python 3.11+ runnable by an unprivileged user")


def test_sandbox_works_through_a_user_namespace() -> None:
    prefix = _prefix()
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "PYTHONPATH": f"{SRC}:{SECCOMP}"}
    out = subprocess.run(
        [*prefix, _python(prefix, env), "-c", CHILD],
        env=env,
        capture_output=True,
        timeout=60,
        cwd="/",
    )
    assert out.returncode == 0, out.stderr.decode()
    doc = json.loads(out.stdout)
    assert doc["exit"] == 0, doc["err"]
    assert doc["out"].splitlines() == [
        "nr-box",
        "1",  # no /sys
        "lo",
        "/usr/share/zoneinfo/Asia/Tokyo",
        "/home/ubuntu",
        "/tmp/pw/repo",
        "2026-01-01T00:00:00+00:00",
        "ubuntu",
    ]
