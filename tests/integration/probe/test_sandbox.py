"""The sandbox, for real: namespaces, files, environment, server hook, teardown.

Needs root or unprivileged user namespaces (the probe's own requirement). Nothing here
addresses anything but loopback.
"""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from promptwitness.probe import factors as F
from promptwitness.probe.sandbox import (
    REPO_DATE,
    WORKDIR,
    RunResult,
    RunSpec,
    Sandbox,
    SandboxError,
)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


def run(sb: Sandbox, *argv: str, **kw: object) -> RunResult:
    result = sb.run(RunSpec(argv=argv, **kw))  # type: ignore[arg-type]
    return result


def sh(sb: Sandbox, script: str, **kw: object) -> str:
    result = run(sb, "sh", "-c", script, **kw)
    assert result.exit_code == 0, result.stderr.decode()
    return result.stdout.decode()


def test_system_zone_is_what_node_and_date_report(sandbox: Sandbox) -> None:
    spec = F.apply_levels(RunSpec(argv=("x",)), {"tz": "UTC", "system-tz": "Asia/Shanghai"})
    assert "TZ" not in spec.environ()
    node = "console.log(Intl.DateTimeFormat().resolvedOptions().timeZone)"
    for argv, expect in (
        (("node", "-e", node), "Asia/Shanghai\n"),
        (("date", "+%Z"), "CST\n"),
        (("cat", "/etc/timezone"), "Asia/Shanghai\n"),
        (("readlink", "/etc/localtime"), "/usr/share/zoneinfo/Asia/Shanghai\n"),
    ):
        result = sandbox.run(RunSpec(argv=argv, env=spec.env, system_zone=spec.system_zone))
        assert result.exit_code == 0, result.stderr.decode()
        assert result.stdout.decode() == expect
    tokyo = sandbox.run(RunSpec(argv=("date", "+%Z"), system_zone="Asia/Tokyo"))
    assert tokyo.stdout == b"JST\n"


def test_tz_variable_wins_over_the_system_zone(sandbox: Sandbox) -> None:
    out = sh(sandbox, "date +%Z", env=(("TZ", "Asia/Kolkata"),), system_zone="Asia/Shanghai")
    assert out == "IST\n"


def test_hostname(sandbox: Sandbox) -> None:
    out = sh(
        sandbox,
        "hostname; cat /etc/hostname; getent hosts $(hostname)",
        hostname="ip-172-31-24-117",
    )
    lines = out.splitlines()
    assert lines[:2] == ["ip-172-31-24-117", "ip-172-31-24-117"]
    assert lines[2].split() == ["127.0.1.1", "ip-172-31-24-117"]
    assert socket.gethostname() != "ip-172-31-24-117"


def test_hosts_entries_resolve_to_loopback_and_other_names_fail_fast(sandbox: Sandbox) -> None:
    spec = F.apply_levels(
        RunSpec(argv=("getent", "hosts", "api.deepseek.com")), {"endpoint-host": "api.deepseek.com"}
    )
    result = sandbox.run(spec)
    assert result.exit_code == 0, result.stderr.decode()
    assert result.stdout.decode().split() == ["127.0.0.1", "api.deepseek.com"]
    started = time.monotonic()
    miss = run(sandbox, "getent", "hosts", "example.org")
    assert miss.exit_code == 2 and miss.stdout == b""
    assert time.monotonic() - started < 3


def test_a_run_sees_only_loopback(sandbox: Sandbox) -> None:
    out = sh(
        sandbox,
        "ip -o link | cut -d: -f2; echo --; tail -n +3 /proc/net/dev | cut -d: -f1;"
        " echo --; ls /sys 2>/dev/null || echo no-sys; echo --; cat /proc/net/route | wc -l",
    )
    links, dev, sysfs, routes = (part.split() for part in out.split("--\n"))
    assert links == ["lo"] and dev == ["lo"] and sysfs == ["no-sys"]  # no /sys at all
    assert routes == ["1"]  # the header only: no IPv4 route at all
    host = Path("/proc/net/dev").read_text()
    assert len(host.splitlines()) > 3, "the host has more than lo; the test proves isolation"


def test_environment_is_only_the_allow_list(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PW_CANARY_7F3A", "leak")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-canary")
    spec = RunSpec(argv=("env", "-0"), env=(("AGENT_VAR", "1"),), user="opc")
    result = sandbox.run(spec)
    got = dict(item.split("=", 1) for item in result.stdout.decode().split("\0") if item)
    assert got == {**spec.environ(), "PWD": spec.cwd}  # bwrap sets PWD after its chdir
    assert "PW_CANARY_7F3A" not in result.stdout.decode()
    assert b"sk-ant-canary" not in result.stdout


def test_home_and_cwd_are_fixed_paths(sandbox: Sandbox) -> None:
    script = "pwd; echo $HOME; cd ~ && pwd -P"
    a = sh(sandbox, script)
    b = sh(sandbox, script)
    assert a == b == f"{WORKDIR}\n/home/dev\n/home/dev\n"
    other = sh(sandbox, script, user="azureuser")
    assert other == f"{WORKDIR}\n/home/azureuser\n/home/azureuser\n"  # only HOME's name
    assert sh(sandbox, "echo $HOME; id -un; ls -A /root | wc -l", user="root") == "/root\nroot\n0\n"


def test_user_owns_the_uid(sandbox: Sandbox) -> None:
    spec = F.apply_levels(
        RunSpec(
            argv=(
                "sh",
                "-c",
                "id -un; whoami; echo $USER $LOGNAME; getent passwd $(id -u) | cut -d: -f6",
            )
        ),
        {"user": "ec2-user"},
    )
    result = sandbox.run(spec)
    assert result.stdout.decode() == "ec2-user\nec2-user\nec2-user ec2-user\n/home/ec2-user\n"


def test_fresh_repository_has_fixed_commit(sandbox: Sandbox) -> None:
    script = "git log --format='%H %aI %cI %an <%ae>'; git status --porcelain; git branch"
    a = sh(sandbox, script)
    b = sh(sandbox, "touch new-file; " + script, user="ubuntu")
    first = a.splitlines()[0].split()
    assert first[1] == first[2] == REPO_DATE
    assert a.splitlines()[0] == b.splitlines()[0]  # same commit, byte for byte
    assert "?? new-file" in b
    assert "new-file" not in sh(sandbox, "ls -A")  # changes do not survive the run


def test_workdir_is_copied_not_shared(sandbox: Sandbox, tmp_path: Path) -> None:
    src = tmp_path / "proj"
    src.mkdir()
    (src / "main.py").write_bytes(b"print('hi')\n")
    assert sh(sandbox, "cat main.py; echo changed > main.py", workdir=str(src)) == "print('hi')\n"
    assert (src / "main.py").read_bytes() == b"print('hi')\n"
    assert sh(sandbox, "cat main.py", workdir=str(src)) == "print('hi')\n"


def test_home_files_and_git_email(sandbox: Sandbox) -> None:
    spec = F.apply_levels(
        RunSpec(
            argv=("sh", "-c", "git config user.email; cat ~/.npmrc; cat ~/.config/pip/pip.conf")
        ),
        {"git-email": "dev@moonshot.cn", "registry-mirror": "huaweicloud"},
    )
    result = sandbox.run(spec)
    assert result.exit_code == 0, result.stderr.decode()
    assert result.stdout.decode() == (
        "dev@moonshot.cn\nregistry=https://repo.huaweicloud.com/repository/npm/\n"
        "[global]\nindex-url = https://repo.huaweicloud.com/repository/pypi/simple\n"
    )


def test_host_files_are_hidden_and_tmp_is_fresh(sandbox: Sandbox, tmp_path: Path) -> None:
    marker = tmp_path / "host-only"
    marker.write_text("x")
    out = sh(sandbox, f"test -e {marker} && echo visible || echo hidden; ls -A /tmp; ls -A /home")
    assert out == "hidden\npw\ndev\n"


def test_exposed_paths_are_visible_read_only(sandbox: Sandbox, tmp_path: Path) -> None:
    tool = tmp_path / "tool"
    tool.mkdir()
    (tool / "run.sh").write_text("echo from-tool\n")
    result = run(
        sandbox,
        "sh",
        "-c",
        f"sh {tool}/run.sh; touch {tool}/x 2>/dev/null || echo ro",
        expose=(str(tool),),
    )
    assert result.stdout == b"from-tool\nro\n", result.stderr
    assert not (tool / "x").exists()


def test_server_hook_serves_inside_the_namespace(sandbox: Sandbox) -> None:
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            body = b"hello from the hook"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    @contextmanager
    def serve(socks: Mapping[int | str, socket.socket]) -> Iterator[None]:
        server = http.server.HTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        server.socket.close()
        server.socket = socks[48213]
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield
        finally:
            server.shutdown()
            thread.join()

    code = (
        "import urllib.request as u;"
        "print(u.urlopen('http://api.deepseek.com:48213/v1/x', timeout=5).read().decode())"
    )
    # The interpreter may live under /root (pyenv): expose its installation read-only.
    spec = F.apply_levels(
        RunSpec(
            argv=(sys.executable, "-c", code), ports=(48213,), expose=(sys.base_prefix, sys.prefix)
        ),
        {"endpoint-host": "api.deepseek.com"},
    )
    result = sandbox.run(spec, serve=serve)
    assert result.exit_code == 0, result.stderr.decode()
    assert result.stdout == b"hello from the hook\n"
    assert seen == ["/v1/x"]
    # The port was bound in the run's namespace, not the host's: the host's port is free.
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", 48213))


def test_host_files_are_unchanged(sandbox: Sandbox) -> None:
    files = (
        "/etc/hosts",
        "/etc/hostname",
        "/etc/resolv.conf",
        "/etc/passwd",
        "/etc/group",
        "/etc/timezone",
        "/etc/nsswitch.conf",
    )
    before = {f: Path(f).read_bytes() for f in files if os.path.exists(f)}
    link = os.readlink("/etc/localtime")
    host = socket.gethostname()
    spec = F.apply_levels(
        RunSpec(argv=("sh", "-c", "echo x > /etc/motd-pw; true")),
        {
            "system-tz": "Pacific/Kiritimati",
            "hostname": "box-x",
            "endpoint-host": "open.bigmodel.cn",
            "user": "zhangwei",
        },
    )
    assert sandbox.run(spec).exit_code == 0
    assert {f: Path(f).read_bytes() for f in before} == before
    assert os.readlink("/etc/localtime") == link
    assert socket.gethostname() == host
    assert not os.path.exists("/etc/motd-pw")
    assert list((sandbox.scratch / "mnt").iterdir()) == []  # per-run files never hit disk


def test_exit_code_and_streams(sandbox: Sandbox) -> None:
    result = run(sandbox, "sh", "-c", "echo out; echo err >&2; exit 7")
    assert (result.exit_code, result.stdout, result.stderr) == (7, b"out\n", b"err\n")
    assert not result.timed_out
    killed = run(sandbox, "sh", "-c", "kill -9 $$")
    assert killed.exit_code == 128 + 9


def test_missing_command_is_a_sandbox_error(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxError, match="no-such-agent"):
        run(sandbox, "no-such-agent-xyz")


def test_unknown_zone_is_refused_before_running(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxError, match="Mars/Olympus"):
        run(sandbox, "true", system_zone="Mars/Olympus")


def _host_procs(marker: str) -> list[int]:
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if marker in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                    out.append(int(pid))
            except OSError:
                pass
    return out


def test_timeout_kills_everything(sandbox: Sandbox) -> None:
    started = time.monotonic()
    result = run(sandbox, "sh", "-c", "setsid sleep 4242.25 & sleep 4343.5", timeout=0.5)
    assert result.timed_out and result.exit_code is None
    assert time.monotonic() - started < 5
    time.sleep(0.1)
    assert _host_procs("4242.25") == [] and _host_procs("4343.5") == []


def test_leftover_daemons_die_with_the_run(sandbox: Sandbox) -> None:
    result = run(sandbox, "sh", "-c", "setsid sleep 4444.75 >/dev/null 2>&1 & echo started")
    assert result.exit_code == 0 and result.stdout == b"started\n"
    time.sleep(0.1)
    assert _host_procs("4444.75") == []


def test_parallel_runs_are_isolated(sandbox: Sandbox) -> None:
    results: dict[str, bytes] = {}

    def one(name: str) -> None:
        results[name] = run(sandbox, "sh", "-c", "sleep 0.2; hostname", hostname=name).stdout

    threads = [threading.Thread(target=one, args=(f"box{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {f"box{i}": f"box{i}\n".encode() for i in range(3)}


def test_overhead_is_reported(sandbox: Sandbox) -> None:
    result = run(sandbox, "true")
    assert result.command_time is not None and result.overhead is not None
    assert 0 <= result.command_time < result.duration


def test_node_is_available() -> None:
    assert shutil.which("node"), "node is needed for the Intl check"


def test_a_failing_hook_stops_the_run(sandbox: Sandbox) -> None:
    @contextmanager
    def broken(socks: Mapping[int | str, socket.socket]) -> Iterator[None]:
        raise RuntimeError("server could not start")
        yield  # pragma: no cover

    with pytest.raises(RuntimeError, match="could not start"):
        sandbox.run(RunSpec(argv=("sleep", "4545.5"), ports=(48214,)), serve=broken)
    time.sleep(0.1)
    assert _host_procs("4545.5") == []


def _wait_spares(box: Sandbox, n: int) -> None:
    deadline = time.monotonic() + 10
    while len(box._spares) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(box._spares) == n


def test_prefork_keeps_a_started_helper_and_close_ends_it(tmp_path: Path) -> None:
    box = Sandbox(tmp_path / "scratch", prefork=1)
    try:
        first = box.run(RunSpec(argv=("true",)))
        assert first.exit_code == 0
        _wait_spares(box, 1)
        spare_proc = box._spares[0][0]
        assert spare_proc.poll() is None  # started, waiting for its run
        second = box.run(RunSpec(argv=("sh", "-c", "exit 7")))
        assert second.exit_code == 7
        assert spare_proc.poll() is not None  # the spare ran the second run
        _wait_spares(box, 1)
        last = box._spares[0][0]
    finally:
        box.close()
    assert last.poll() is not None and box._spares == []  # nothing left running


def test_spares_outlive_the_thread_whose_run_started_them(tmp_path: Path) -> None:
    """A helper dies with the thread that started it (PR_SET_PDEATHSIG): runs from a
    short-lived worker thread must not leave dead spares for the next run."""
    box = Sandbox(tmp_path / "scratch", prefork=2)
    try:
        for _ in range(3):
            worker = threading.Thread(target=lambda: box.run(RunSpec(argv=("true",))))
            worker.start()
            worker.join()
            _wait_spares(box, 2)
            time.sleep(0.05)  # a spare killed by its parent thread's exit would be dead now
            assert all(p.poll() is None for p, _ in box._spares)
            assert box.run(RunSpec(argv=("true",))).exit_code == 0
    finally:
        box.close()


def test_udp_socket_inside_and_etc_files(sandbox: Sandbox) -> None:
    """A UDP socket bound inside the run's namespace (for the hermetic DNS responder)
    answers the command; extra /etc files (a CA bundle) replace the host's, in the run only."""
    got: list[bytes] = []

    @contextmanager
    def serve(socks: Mapping[int | str, socket.socket]) -> Iterator[None]:
        udp = socks["udp:5353"]
        assert udp.type == socket.SOCK_DGRAM

        def loop() -> None:
            data, addr = udp.recvfrom(512)
            got.append(data)
            udp.sendto(b"pong:" + data, addr)

        t = threading.Thread(target=loop, daemon=True)
        t.start()
        yield
        t.join(timeout=5)

    code = (
        "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5);"
        "s.sendto(b'ping', ('127.0.0.1', 5353)); print(s.recvfrom(64)[0].decode());"
        "print(open('/etc/ssl/certs/ca-certificates.crt').read())"
    )
    spec = RunSpec(
        argv=(sys.executable, "-c", code),
        udp_ports=(5353,),
        etc_files=(("ssl/certs/ca-certificates.crt", b"RUN-ONLY-BUNDLE\n"),),
        expose=(sys.base_prefix, sys.prefix),
    )
    result = sandbox.run(spec, serve=serve)
    assert result.exit_code == 0, result.stderr.decode()
    assert got == [b"ping"]
    assert result.stdout.decode().split() == ["pong:ping", "RUN-ONLY-BUNDLE"]
    host_bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    if host_bundle.exists():
        assert b"RUN-ONLY-BUNDLE" not in host_bundle.read_bytes()


def test_a_run_file_below_a_hidden_etc_directory(sandbox: Sandbox) -> None:
    """/etc/ssh is hidden from runs; a run given its own /etc/ssh/ssh_config.d/x.conf
    (a derived ``file:`` factor) sees that file and nothing else of the host's /etc/ssh
    (the discover run of 2026-12-06 failed its setup on it: the whiteout of ssh was in
    the way)."""
    spec = RunSpec(
        argv=("sh", "-c", "cd /etc/ssh && find . | sort"),
        etc_files=(("ssh/ssh_config.d/x.conf", b"Host *\n"),),
    )
    result = sandbox.run(spec)
    assert result.exit_code == 0, result.stderr.decode()
    assert result.stdout.decode().split() == [".", "./ssh_config.d", "./ssh_config.d/x.conf"]


def test_cancel_stops_the_run_and_everything_it_started(sandbox: Sandbox) -> None:
    cancel = threading.Event()
    timer = threading.Timer(0.3, cancel.set)
    timer.start()
    t0 = time.monotonic()
    result = sandbox.run(
        RunSpec(argv=("sh", "-c", "sleep 30 & sleep 30"), timeout=60), cancel=cancel
    )
    assert time.monotonic() - t0 < 10
    assert result.cancelled and not result.timed_out and result.exit_code is None
    # a run that is not cancelled is not marked
    done = sandbox.run(RunSpec(argv=("true",)), cancel=threading.Event())
    assert done.exit_code == 0 and not done.cancelled
