"""The escape suite: a hostile command inside a run tries every way out we know of.

Each attempt in tests/fixtures/escape/attempts.py once worked against promptwitness's
earlier sandbox (a probed command kept full root capabilities: it unmounted /proc and
read the host's processes, entered the host's network namespace, unmounted /etc and /tmp
and read a signing key, connected to a host unix socket, read /work, wrote files that
persisted in /var/tmp, /opt and /dev/shm, and saw the host's machine-id and boot_id), or
is one more of the same kind. They run as the agent under test would run: in
``Sandbox.run`` (what ``probe``, ``record --isolate`` and ``--hermetic`` use), with
promptwitness as root (the run's user ``dev`` and ``root``) and as an unprivileged
user. Every attempt must fail, and nothing may be left on the host.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from promptwitness.probe.sandbox import RunSpec, Sandbox

ROOT = Path(__file__).resolve().parents[3]
ATTEMPTS = ROOT / "tests" / "fixtures" / "escape" / "attempts.py"
SYSTEM_PYTHON = "/usr/bin/python3"  # in /usr: visible in every run without exposing


@dataclass
class Host:
    """What the host holds that a run must not reach."""

    marker: str
    tmp: Path
    files: list[str]
    sockets: list[str]
    abstract: str
    persist: list[str]
    host_ids: list[str]
    host_paths: list[str]
    dirs: list[str]
    keep: list[object] = field(default_factory=list)

    def doc(self) -> str:
        return json.dumps(
            {
                "marker": self.marker[::-1],
                "files": self.files,
                "sockets": self.sockets,
                "abstract": self.abstract,
                "persist": self.persist,
                "host_ids": self.host_ids,
                "host_paths": self.host_paths,
                "dirs": self.dirs,
            }
        )


@pytest.fixture()
def host() -> Iterator[Host]:
    token = secrets.token_hex(6)
    marker = f"PW_ESCAPE_MARKER_{token}"
    tmp = Path(tempfile.mkdtemp(prefix="pw-escape-", dir="/tmp"))
    key = tmp / "signing.key"
    key.write_text(f"host signing key {token}\n")
    var_secret = Path(f"/var/tmp/pw-escape-{token}.secret")
    var_secret.write_text("host secret\n")
    var_secret.chmod(0o644)
    keep: list[object] = []
    sockets = []
    for d in ("/var/tmp", "/tmp", "/run"):
        path = f"{d}/pw-escape-{token}.sock"
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.bind(path)
        except OSError:
            s.close()
            continue
        os.chmod(path, 0o777)
        s.listen(4)
        keep.append(s)
        sockets.append(path)
    abstract = f"pw-escape-{token}"
    a = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    a.bind("\0" + abstract)
    a.listen(4)
    keep.append(a)
    # a host process whose environment and command line carry the marker
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)", marker],
        env={"PW_MARKER": marker, "PATH": os.environ.get("PATH", "")},
    )
    ids = [Path("/proc/sys/kernel/random/boot_id").read_text().strip()]
    if os.path.exists("/etc/machine-id"):
        ids.append(Path("/etc/machine-id").read_text().strip())
    persist = [
        f"{d}/pw-persist-{token}"
        for d in ("/var/tmp", "/opt", "/dev/shm", "/tmp", "/root", "/home", "/run", "/usr/local")
    ]
    h = Host(
        marker=marker,
        tmp=tmp,
        files=[str(key), str(var_secret), str(ROOT / "pyproject.toml"), "/etc/shadow"],
        sockets=sockets,
        abstract=abstract,
        persist=persist,
        host_ids=ids,
        host_paths=[
            sys.executable,
            sys.prefix,
            str(ROOT),
            "promptwitness",
            "probe.sandbox",
            "/tmp/pw-sandbox",
        ],
        dirs=[str(ROOT), str(tmp)],
        keep=keep,
    )
    try:
        yield h
    finally:
        proc.kill()
        proc.wait()
        for s in keep:
            s.close()  # type: ignore[attr-defined]
        for p in sockets:
            Path(p).unlink(missing_ok=True)
        var_secret.unlink(missing_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        for p in persist:
            Path(p).unlink(missing_ok=True)


def _check(results: dict[str, str], host: Host) -> None:
    escaped = {k: v for k, v in results.items() if v.startswith("ESCAPED")}
    assert not escaped, json.dumps(escaped, indent=1)
    left = [p for p in host.persist if os.path.exists(p)]
    assert not left, f"a run's writes persisted on the host: {left}"
    # the suite must have run all its attempts (a crash of the script is no pass)
    for name in (
        "capability CapEff",
        "umount /proc",
        "umount /etc",
        "umount -l /tmp",
        "nsenter into another network namespace",
        "syscall setns",
        "syscall bpf",
        "syscall keyctl",
        "syscall ptrace",
        "machine-id replaced",
        "boot_id replaced",
        "connect abstract socket",
        "unshare user",
        f"read {host.files[0]}",
        "see /work",
        "pid 1 names no host path",
    ):
        assert name in results, f"attempt {name!r} did not run: {sorted(results)}"
    for path in host.sockets:
        assert f"connect {path}" in results


def _parse(stdout: bytes, stderr: bytes) -> dict[str, str]:
    try:
        doc = json.loads(stdout)
    except ValueError:
        raise AssertionError(
            f"the attempts script failed: {stdout[-2000:]!r} {stderr[-4000:]!r}"
        ) from None
    assert isinstance(doc, dict)
    return doc


@pytest.mark.skipif(os.getuid() != 0, reason="promptwitness as root: the CI runs as root")
@pytest.mark.parametrize("user", ["dev", "root"])
def test_as_root_every_escape_fails(host: Host, user: str) -> None:
    spec = RunSpec(argv=("x",), user=user)
    spec = RunSpec(
        argv=(SYSTEM_PYTHON, f"{spec.home}/attempts.py", f"{spec.home}/host.json"),
        user=user,
        timeout=120,
        home_files=(("attempts.py", ATTEMPTS.read_bytes()), ("host.json", host.doc().encode())),
    )
    with Sandbox() as box:
        result = box.run(spec)
    assert result.exit_code == 0, result.stderr.decode(errors="replace")
    _check(_parse(result.stdout, result.stderr), host)


DRIVER = """
import json, sys
from promptwitness.probe.sandbox import RunSpec, Sandbox
attempts, doc = sys.argv[1], sys.argv[2]
with Sandbox() as box:
    r = box.run(RunSpec(argv=("/usr/bin/python3", "/home/dev/attempts.py",
                              "/home/dev/host.json"),
                        home_files=(("attempts.py", open(attempts, "rb").read()),
                                    ("host.json", doc.encode())),
                        timeout=120))
sys.stdout.buffer.write(r.stdout)
sys.stderr.buffer.write(r.stderr)
sys.exit(r.exit_code if r.exit_code is not None else 99)
"""


@pytest.mark.skipif(os.getuid() != 0, reason="becomes an unprivileged user with setpriv")
def test_as_a_user_every_escape_fails(host: Host) -> None:
    """promptwitness itself run by ``nobody``: the sandbox then stands on unprivileged
    user namespaces. The package (and pyseccomp) are copied where ``nobody`` can read
    them, and the system's Python runs them."""
    import pyseccomp  # type: ignore[import-untyped]

    share = Path(tempfile.mkdtemp(prefix="pw-escape-user-", dir="/var/tmp"))
    try:
        shutil.copytree(
            ROOT / "src" / "promptwitness",
            share / "lib" / "promptwitness",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        shutil.copy(pyseccomp.__file__, share / "lib" / "pyseccomp.py")
        (share / "attempts").mkdir()
        shutil.copy(ATTEMPTS, share / "attempts" / "attempts.py")
        for dirpath, _dirs, filenames in os.walk(share):
            os.chmod(dirpath, 0o755)
            for f in filenames:
                os.chmod(os.path.join(dirpath, f), 0o644)
        proc = subprocess.run(
            [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                SYSTEM_PYTHON,
                "-c",
                DRIVER,
                str(share / "attempts" / "attempts.py"),
                host.doc(),
            ],
            env={
                "PATH": "/usr/bin:/bin",
                "PYTHONPATH": str(share / "lib"),
                "HOME": "/tmp",
                "PYTHONDONTWRITEBYTECODE": "1",
            },
            capture_output=True,
            timeout=300,
            cwd="/tmp",
        )
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-4000:]
        _check(_parse(proc.stdout, proc.stderr), host)
    finally:
        shutil.rmtree(share, ignore_errors=True)
