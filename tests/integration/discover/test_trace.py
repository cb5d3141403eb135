"""A traced run, for real: the probe's sandbox with strace around bubblewrap and the
environment hooks (discover.trace).

Needs what the sandbox needs (root or unprivileged user namespaces) and strace; Node
(on PATH or in the agent cache) and a C compiler for their parts. Nothing here
addresses anything but loopback: the names resolved go to the run's resolver
(127.0.0.1, where nothing answers).
"""

from __future__ import annotations

import glob
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from promptwitness.discover.model import Observed
from promptwitness.discover.trace import (
    TRACE_DIR,
    TraceResult,
    build_shim,
    files_loaded_by,
    read_trace,
    trace_run,
    tracing,
)
from promptwitness.probe.sandbox import RunSpec, Sandbox

ROOT = Path(__file__).resolve().parents[3]
ATTEMPTS = ROOT / "tests" / "fixtures" / "escape" / "attempts.py"


def test_the_tracer_is_installed() -> None:
    assert shutil.which("strace"), "strace is installed by scripts/setup.sh"


def _node() -> tuple[str, tuple[str, ...]] | None:
    """Node and what to expose for it: on PATH (visible in a run when under /usr), else
    the agent cache's (as tests/e2e finds agents; exposed read-only)."""
    found = shutil.which("node")
    if found and os.path.realpath(found).startswith("/usr/"):
        return found, ()
    home = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    for path in sorted(glob.glob(f"{home}/promptwitness/agents/node/*/node_modules/.bin/node")):
        real = os.path.realpath(path)
        return real, (str(Path(real).parents[1]),)
    return None


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


def has(
    result: TraceResult, kind: str, name: str, present: bool | None = None, how: str | None = None
) -> bool:
    return any(
        o.kind == kind
        and o.name == name
        and (present is None or o.present is present)
        and (how is None or o.how == how)
        for o in result.observed
    )


C_PROBE = r"""
#include <stdio.h>
#include <stdlib.h>
int main(void) {
    const char *region = getenv("CORP_REGION");
    printf("c %s %s\n", region ? region : "-", getenv("CORP_TENANT") ? "t" : "-");
    return 0;
}
"""
JS_PROBE = """
const region = process.env.CORP_REGION;
console.log('node', region, 'CORP_TENANT' in process.env);
require('dns').lookup('node.telemetry.example.cn', () => {});
"""
PY_PROBE = """
import os
print("python", os.environ.get("CORP_REGION"), os.getenv("CORP_TENANT"))
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("probes")
    (d / "probe.js").write_text(JS_PROBE)
    (d / "probe.py").write_text(PY_PROBE)
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is not None:
        (d / "probe.c").write_text(C_PROBE)
        subprocess.run(
            [cc, "-O1", "-o", str(d / "getenv_probe"), str(d / "probe.c")],
            check=True,
            capture_output=True,
        )
    return d


def test_a_scripts_inputs_are_observed(sandbox: Sandbox, workdir: Path) -> None:
    node = _node()
    native = (workdir / "getenv_probe").exists()
    script = "\n".join(
        [
            "cat /etc/os-release >/dev/null",
            "test -e /etc/corp-marker || echo no-marker",
            'ls "$HOME/.config" >/dev/null',
            f"{node[0]} probe.js" if node else "true",
            "python3 probe.py",
            "./getenv_probe" if native else "true",
            "getent hosts telemetry.example.cn || echo unresolved",
        ]
    )
    spec = RunSpec(
        argv=("sh", "-c", script),
        workdir=str(workdir),
        env=(("CORP_REGION", "cn-north-1"),),
        expose=node[1] if node else (),
        home_files=((".config/corp/settings.json", b"{}\n"),),
        timeout=120,
    )
    r = trace_run(spec, sandbox=sandbox)
    out = r.result.stdout.decode()
    assert r.exit_code == 0, r.result.stderr.decode()[-2000:]
    # the hooks change nothing the command computes
    assert "no-marker" in out and "python cn-north-1 None" in out and "unresolved" in out

    assert has(r, "file", "/etc/os-release", True, "openat")
    assert has(r, "path", "/etc/corp-marker", False)
    assert has(r, "path", "/home/dev/.config", True, "getdents")
    assert has(r, "dns", "telemetry.example.cn")
    assert has(r, "env", "CORP_REGION", True, "os.environ")
    assert has(r, "env", "CORP_TENANT", False, "os.getenv")
    assert has(r, "file", "/tmp/pw/repo/probe.py", True, "openat")
    assert "/tmp/pw/repo/probe.py" in r.files_loaded
    runtimes = {(x.runtime, x.env_traced) for x in r.runtimes}
    assert ("python", True) in runtimes and ("native", True) in runtimes
    if node:
        assert "node cn-north-1 false" in out
        assert has(r, "env", "CORP_REGION", True, "process.env")
        assert has(r, "env", "CORP_TENANT", False, "process.env.has")
        assert has(r, "dns", "node.telemetry.example.cn")
        assert "/tmp/pw/repo/probe.js" in r.files_loaded
        assert ("node", True) in runtimes
        # a Node read is one read (the Proxy's), not also the runtime's getenv
        assert not has(r, "env", "CORP_REGION", how="getenv") or native
    if native:
        assert "c cn-north-1 -" in out
        assert has(r, "env", "CORP_REGION", True, "getenv")
        assert has(r, "env", "CORP_TENANT", False, "getenv")
        assert any(x.path == "/tmp/pw/repo/getenv_probe" and x.env_traced for x in r.runtimes)

    # neither the sandbox's own setup nor the hooks are the command's reads
    names = {o.name for o in r.observed}
    assert not [n for n in names if n.startswith((TRACE_DIR, "/newroot", "/oldroot"))]
    assert "/usr/bin/bwrap" not in names and "/proc/self/uid_map" not in names
    assert not any(
        n.startswith("/proc/") and n.endswith(("/uid_map", "/gid_map", "/ns")) for n in names
    )
    assert not r.notes, r.notes
    json.dumps(r.to_json())  # the report's form


def test_native_reads_need_the_c_compiler(sandbox: Sandbox, workdir: Path) -> None:
    assert (workdir / "getenv_probe").exists(), "the C compiler is installed by setup.sh"
    shim, why = build_shim()
    assert shim is not None, why
    spec = RunSpec(argv=("./getenv_probe",), workdir=str(workdir), env=(("CORP_REGION", "eu"),))
    r = trace_run(spec, sandbox=sandbox, shim=shim)
    assert r.result.stdout == b"c eu -\n"
    assert [o for o in r.observed if o.kind == "env" and o.name.startswith("CORP_")] == [
        Observed("env", "CORP_REGION", True, "getenv"),
        Observed("env", "CORP_TENANT", False, "getenv"),
    ]


def test_node_hostname(sandbox: Sandbox) -> None:
    node = _node()
    assert node is not None, "Node.js is installed by scripts/setup.sh"
    r = trace_run(
        RunSpec(argv=(node[0], "-e", "require('os').hostname()"), expose=node[1]), sandbox=sandbox
    )
    assert r.exit_code == 0, r.result.stderr.decode()
    assert has(r, "hostname", "", True, "uname")
    assert len(r.observed) > 20  # the runtime's own start: libraries, ICU, its variables
    print(f"node -e \"require('os').hostname()\": {len(r.observed)} observed inputs")


def test_hooks_off_and_untraced_runs(sandbox: Sandbox) -> None:
    spec = RunSpec(
        argv=(
            "sh",
            "-c",
            "echo ${LD_PRELOAD:-none} ${NODE_OPTIONS:-none}; test -e /etc/corp-marker || true",
        )
    )
    r = trace_run(spec, sandbox=sandbox, hooks=False)
    assert r.result.stdout == b"none none\n"
    assert has(r, "path", "/etc/corp-marker", False)
    assert not r.of_kind("env") and not r.runtimes and r.notes
    plain = sandbox.run(spec)
    assert plain.trace is None and plain.stdout == b"none none\n"
    assert read_trace(plain).notes == ("the run was not traced",)


def test_the_traced_commands_own_variables_stay_first_class(sandbox: Sandbox) -> None:
    """A spec's own NODE_OPTIONS/PYTHONPATH/LD_PRELOAD still apply (the hooks come first)
    and reads of them are recorded as the spec has them."""
    spec = RunSpec(
        argv=("python3", "-c", "import os, corpmod; print(os.environ['PYTHONPATH'])"),
        env=(("PYTHONPATH", "/home/dev/lib"),),
        home_files=(("lib/corpmod.py", b"X = 1\n"),),
    )
    r = trace_run(spec, sandbox=sandbox)
    assert r.exit_code == 0, r.result.stderr.decode()
    assert r.result.stdout.decode().strip().endswith(":/home/dev/lib")
    assert has(r, "env", "PYTHONPATH", True, "os.environ")


def test_files_loaded_by_a_command() -> None:
    loaded = files_loaded_by(["python3", "-c", "import json"])
    assert any(p.endswith("/python3") or "/python3." in p for p in loaded)
    assert any(p.endswith((".pyc", ".py")) and "/json/" in p for p in loaded)
    assert any(".so" in p for p in loaded)
    assert not any(p.startswith(TRACE_DIR) for p in loaded)


def test_root_files_under_trace(sandbox: Sandbox) -> None:
    spec = RunSpec(
        argv=("sh", "-c", "cat /opt/corp/agent.conf /usr/share/pw-trace-test/m"),
        root_files=(
            ("/opt/corp/agent.conf", b"region=cn\n"),
            ("/usr/share/pw-trace-test/m", b"m\n"),
        ),
    )
    r = trace_run(spec, sandbox=sandbox)
    assert r.result.stdout == b"region=cn\nm\n"
    assert has(r, "file", "/opt/corp/agent.conf", True, "openat")
    assert not [o for o in r.observed if o.name.startswith("/newroot")]  # bwrap's creation


# --- the sandbox's guarantees hold under tracing ---------------------------------------


@pytest.fixture()
def host_doc() -> Iterator[tuple[str, list[str]]]:
    """What the host holds that a traced run must not reach (as tests/integration/probe/
    test_escape.py, smaller): a process whose environment holds a marker, a secret file,
    paths a write must not persist to, the host's ids."""
    token = secrets.token_hex(6)
    marker = f"PW_TRACE_ESCAPE_{token}"
    tmp = Path(tempfile.mkdtemp(prefix="pw-trace-escape-", dir="/tmp"))
    secret = tmp / "signing.key"
    secret.write_text(f"host key {token}\n")
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)", marker],
        env={"PW_MARKER": marker, "PATH": os.environ.get("PATH", "")},
    )
    persist = [f"{d}/pw-trace-persist-{token}" for d in ("/var/tmp", "/opt", "/dev/shm", "/tmp")]
    ids = [Path("/proc/sys/kernel/random/boot_id").read_text().strip()]
    if os.path.exists("/etc/machine-id"):
        ids.append(Path("/etc/machine-id").read_text().strip())
    doc = json.dumps(
        {
            "marker": marker[::-1],
            "files": [str(secret), "/etc/shadow"],
            "sockets": [],
            "abstract": f"pw-trace-{token}",
            "persist": persist,
            "host_ids": ids,
            "dirs": [str(ROOT), str(tmp)],
            "host_paths": [sys.executable, str(ROOT), "promptwitness", "strace", "/tmp/pw-sandbox"],
        }
    )
    try:
        yield doc, persist
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
        for p in persist:
            Path(p).unlink(missing_ok=True)


@pytest.mark.parametrize("user", ["dev", "root"])
def test_escape_attempts_still_fail_under_trace(
    sandbox: Sandbox, host_doc: tuple[str, list[str]], user: str
) -> None:
    doc, persist = host_doc
    home = RunSpec(argv=("x",), user=user).home
    spec = RunSpec(
        argv=("/usr/bin/python3", f"{home}/attempts.py", f"{home}/host.json"),
        user=user,
        timeout=180,
        home_files=(("attempts.py", ATTEMPTS.read_bytes()), ("host.json", doc.encode())),
    )
    result = sandbox.run(spec, trace=tracing())
    assert result.exit_code == 0, result.stderr.decode(errors="replace")[-3000:]
    attempts = json.loads(result.stdout)
    escaped = {k: v for k, v in attempts.items() if v.startswith("ESCAPED")}
    assert not escaped, json.dumps(escaped, indent=1)
    for name in (
        "capability CapEff",
        "no_new_privs set",
        "seccomp filter on",
        "umount /proc",
        "syscall ptrace",
        "syscall setns",
        "syscall bpf",
        "unshare user",
        "nsenter into another network namespace",
        "loopback only",
        "pid 1 names no host path",
        "host environment marker in /proc",
        "see /work",
        "machine-id replaced",
        "boot_id replaced",
    ):
        assert name in attempts, f"attempt {name!r} did not run: {sorted(attempts)}"
    assert not [p for p in persist if os.path.exists(p)]
    # and the trace saw the attempts (ptrace refused inside; strace outside kept tracing)
    r = read_trace(result, spec)
    assert has(r, "path", "/etc/shadow") or has(r, "file", "/etc/shadow")
