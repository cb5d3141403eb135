"""RunSpec.root_files for real: a run sees the files and directories made for it, the
next run does not, and the host never does (nor does its /usr change).

Needs root or unprivileged user namespaces (the sandbox's own requirement).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyseccomp  # type: ignore[import-untyped]
import pytest

import promptwitness
from promptwitness.probe.sandbox import RunSpec, Sandbox

SRC = str(Path(promptwitness.__file__).resolve().parent.parent)
SECCOMP = str(Path(pyseccomp.__file__).resolve().parent)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


@pytest.fixture()
def token() -> str:
    return secrets.token_hex(4)


def sh(sb: Sandbox, script: str, **kw: object) -> str:
    r = sb.run(RunSpec(argv=("sh", "-c", script), **kw))  # type: ignore[arg-type]
    assert r.exit_code == 0, r.stderr.decode()
    return r.stdout.decode()


def test_a_run_sees_its_root_files_and_the_next_does_not(sandbox: Sandbox, token: str) -> None:
    docker_before = os.stat("/.dockerenv") if os.path.exists("/.dockerenv") else None
    files = {
        "/.dockerenv": b"pw\n",
        f"/opt/corp-{token}/agent.conf": b"region=cn-north-1\n",
        f"/usr/share/pw-{token}/marker": b"marker\n",
        f"/usr/lib/pw-{token}.conf": b"lib\n",
        f"/bin/pw-{token}-tool": b"tool\n",  # /bin may be a link into /usr: same overlay
        f"/var/lib/corp-{token}/state": b"state\n",
        f"/srv/pw-{token}": None,
        f"/usr/share/pw-{token}/empty": None,
    }
    script = (
        f"cat /.dockerenv /opt/corp-{token}/agent.conf /usr/share/pw-{token}/marker "
        f"/usr/lib/pw-{token}.conf /bin/pw-{token}-tool /var/lib/corp-{token}/state; "
        f"test -d /srv/pw-{token} && test -d /usr/share/pw-{token}/empty && echo dirs; "
        # the rest of an overlaid system directory is still there, read-only
        "test -d /usr/share/zoneinfo && echo zoneinfo; "
        f"echo x > /usr/share/pw-{token}/marker 2>/dev/null || echo read-only; "
        f"stat -c %a /opt/corp-{token}/agent.conf"
    )
    out = sh(sandbox, script, root_files=tuple(files.items()))
    assert out.splitlines() == [
        "pw",
        "region=cn-north-1",
        "marker",
        "lib",
        "tool",
        "state",
        "dirs",
        "zoneinfo",
        "read-only",
        "644",
    ]
    later = sh(
        sandbox,
        "for p in /.dockerenv /opt/corp-* /usr/share/pw-* /srv/pw-*; do "
        "test -e $p && echo $p; done; true",
    )
    assert later == ""  # a later run: none of it (the host's /.dockerenv is not shown either)
    for path in files:
        if path != "/.dockerenv":
            assert not os.path.lexists(path), f"{path} reached the host"
    after = os.stat("/.dockerenv") if os.path.exists("/.dockerenv") else None
    assert (docker_before is None) == (after is None)
    if docker_before is not None and after is not None:
        assert (docker_before.st_mtime_ns, docker_before.st_size) == (
            after.st_mtime_ns,
            after.st_size,
        )


def test_root_files_with_every_other_part_of_a_spec(sandbox: Sandbox, token: str) -> None:
    out = sh(
        sandbox,
        f"cat /etc/corp.conf ~/.corp /opt/pw-{token}; ls /tmp/pw-{token}",
        etc_files=(("corp.conf", b"etc\n"),),
        home_files=((".corp", b"home\n"),),
        root_files=((f"/opt/pw-{token}", b"root\n"), (f"/tmp/pw-{token}/x", b"")),
    )
    assert out.splitlines() == ["etc", "home", "root", "x"]


CHILD = r"""
import json, sys
from promptwitness.probe.sandbox import RunSpec, Sandbox
token = sys.argv[1]
with Sandbox() as sb:
    r = sb.run(RunSpec(argv=("sh", "-c", f"cat /usr/share/pw-{token}/m /opt/pw-{token}; id -u"),
                       root_files=((f"/usr/share/pw-{token}/m", b"usr\n"),
                                   (f"/opt/pw-{token}", b"opt\n"))), trace=True)
    print(json.dumps({"exit": r.exit_code, "out": r.stdout.decode(), "err": r.stderr.decode(),
                      "traced": bool(r.trace and "execve(" in r.trace)}))
"""


def test_root_files_and_tracing_through_a_user_namespace(token: str) -> None:
    """promptwitness run by ``nobody``: the overlay of a system directory and the trace
    both work from an unprivileged user namespace."""
    assert os.geteuid() == 0, "run the suite as root (scripts/test.sh): it drops to nobody"
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to drop root for this test"
    assert shutil.which("strace"), "strace is installed by scripts/setup.sh"
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "PYTHONPATH": f"{SRC}:{SECCOMP}"}
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    out = subprocess.run(
        [
            setpriv,
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            python,
            "-c",
            CHILD,
            token,
        ],
        env=env,
        capture_output=True,
        timeout=120,
        cwd="/",
    )
    assert out.returncode == 0, out.stderr.decode()[-3000:]
    doc = json.loads(out.stdout)
    assert doc["exit"] == 0, doc["err"]
    assert doc["out"].splitlines() == ["usr", "opt", "1000"]
    assert doc["traced"]
    assert not os.path.lexists(f"/usr/share/pw-{token}")
