"""RunSpec.root_files (files and directories created in a run's root) and the tracing
options of a run (pure, or reading the host's trees only)."""

from __future__ import annotations

import os

import pytest

from promptwitness.probe.jail import TRACE_DIR, bwrap_args, root_plan
from promptwitness.probe.sandbox import RunSpec, SandboxError, Tracing


def test_root_files_are_kept_sorted_and_compare_equal() -> None:
    a = RunSpec(argv=("x",)).set_root_file("/opt/corp/b", b"2").set_root_file("/.dockerenv", b"")
    b = RunSpec(argv=("x",), root_files=(("/.dockerenv", b""), ("/opt/corp/b", b"2")))
    assert a == b
    assert a.root_files == (("/.dockerenv", b""), ("/opt/corp/b", b"2"))
    assert RunSpec(argv=("x",)).set_root_file("/srv/d", None).root_files == (("/srv/d", None),)


@pytest.mark.parametrize(
    "path",
    [
        "/.dockerenv",
        "/opt/corp/agent.conf",
        "/usr/share/foo/marker",
        "/srv/x",
        "/var/lib/corp",
        "/run/corp.pid",
        "/tmp/other",
        "/home/other/.corp",
        "/root/.corp",
        "/bin/corp-helper",
        "/usr/lib/os-release",
    ],
)
def test_allowed_root_paths(path: str) -> None:
    assert RunSpec(argv=("x",), root_files=((path, b"x"),)).root_files == ((path, b"x"),)


@pytest.mark.parametrize(
    "path",
    [
        "relative/x",
        "/",
        "//x",
        "/opt/../etc/x",
        "/opt/./x",
        "/opt/x/",
        "/opt/\0x",
        "/proc/x",
        "/proc",
        "/dev/shm/x",
        "/sys/class/net/x",
        "/etc/os-release",
        "/etc",
        "/home/dev/.npmrc",
        "/home/dev",
        "/home",
        "/tmp/pw/repo/x",
        "/tmp/pw",
        "/tmp",
        "/usr",
        "/var",
        "/var/tmp",
        "/run",
        "/lib",
        TRACE_DIR,
        TRACE_DIR + "/x",
    ],
)
def test_refused_root_paths(path: str) -> None:
    with pytest.raises(SandboxError):
        RunSpec(argv=("x",), root_files=((path, b"x"),))


def test_root_paths_that_would_write_the_host_or_the_runs_own_trees() -> None:
    with pytest.raises(SandboxError, match="under /opt/agent"):  # exposed: the host's
        RunSpec(argv=("x",), expose=("/opt/agent",), root_files=(("/opt/agent/x", b""),))
    with pytest.raises(SandboxError, match="would replace /opt/agent"):
        RunSpec(argv=("x",), expose=("/opt/agent",), root_files=(("/opt", None),))
    with pytest.raises(SandboxError):  # root's HOME when the user is root
        RunSpec(argv=("x",), user="root", root_files=(("/root/.corp", b""),))
    with pytest.raises(SandboxError, match="below the file"):
        RunSpec(argv=("x",), root_files=(("/opt/a", b"file"), ("/opt/a/b", b"")))
    with pytest.raises(SandboxError, match="bytes or None"):
        RunSpec(argv=("x",), root_files=(("/opt/a", "text"),))  # type: ignore[arg-type]
    # a directory may hold entries
    RunSpec(argv=("x",), root_files=(("/opt/a", None), ("/opt/a/b", b"")))


def test_root_plan_splits_system_trees_from_the_runs_root() -> None:
    plan = root_plan(
        [
            ("/.dockerenv", b"d"),
            ("/opt/corp", None),
            ("/opt/corp/x", b"1"),
            ("/usr/share/pw-test-missing/marker", b"m"),
            ("/usr/share/pw-test-missing/sub/deeper", None),
            ("/usr/share/pw-test-other", b"o"),
        ]
    )
    assert plan["files"] == {"/.dockerenv": b"d".hex(), "/opt/corp/x": b"1".hex()}
    assert plan["dirs"] == ["/opt/corp"]
    # one overlay on the deepest existing directory (/usr/share), the rest under it
    assert plan["overlays"] == [
        {
            "dir": os.path.realpath("/usr/share"),
            "files": {"pw-test-missing/marker": b"m".hex(), "pw-test-other": b"o".hex()},
            "dirs": ["pw-test-missing/sub/deeper"],
        }
    ]


def test_root_plan_follows_the_system_links_and_merges_nested_overlays() -> None:
    plan = root_plan([("/bin/pw-test-tool", b"#!/bin/sh\n"), ("/usr/pw-test-top", b"t")])
    dirs = [o["dir"] for o in plan["overlays"]]
    assert dirs == ["/usr"]  # /bin -> /usr/bin (merged /usr): nested in /usr's overlay
    rel = os.path.relpath(os.path.realpath("/bin"), "/usr")
    assert plan["overlays"][0]["files"] == {
        f"{rel}/pw-test-tool": b"#!/bin/sh\n".hex(),
        "pw-test-top": b"t".hex(),
    }
    # an existing directory asked as a directory: nothing to make
    assert root_plan([("/usr/share", None)]) == {"overlays": [], "files": {}, "dirs": []}


def test_root_plan_refuses_a_path_through_a_file() -> None:
    with pytest.raises(SandboxError, match="leads out of the system trees"):
        root_plan([("/usr/bin/env/x", b"")])  # /usr/bin/env is a file


def test_bwrap_args_make_root_files_after_every_mount() -> None:
    args = bwrap_args(
        uid=1000,
        hostname="devbox",
        stage="/s",
        home="/home/dev",
        cwd="/tmp/pw/repo",
        expose=(),
        seccomp_fd=5,
        status_fd=6,
        overlays=[("/s/sys0", "/usr/share")],
        files=[(9, "/opt/x", "0644")],
        dirs=["/srv/d"],
        setenv={"LD_PRELOAD": "/run/pw-trace/getenv.so"},
    )
    joined = " ".join(args)
    assert "--ro-bind /s/sys0 /usr/share" in joined
    assert "--perms 0755 --dir /srv/d" in joined and "--perms 0644 --file 9 /opt/x" in joined
    assert "--setenv LD_PRELOAD /run/pw-trace/getenv.so" in joined
    last_mount = max(i for i, a in enumerate(args) if a in ("--tmpfs", "--bind", "--ro-bind"))
    assert args.index("--file") > last_mount and args.index("/srv/d") > last_mount


def test_tracing_puts_its_variables_in_front_of_the_commands() -> None:
    t = Tracing(
        env=(
            ("LD_PRELOAD", "/h.so"),
            ("NODE_OPTIONS", "--require /p.cjs"),
            ("PYTHONPATH", "/py"),
            ("PW_X", "1"),
        )
    )
    own = {"LD_PRELOAD": "/theirs.so", "NODE_OPTIONS": "--max-old-space-size=4096", "PW_X": "0"}
    assert t.command_env(own) == {
        "LD_PRELOAD": "/h.so:/theirs.so",
        "NODE_OPTIONS": "--require /p.cjs --max-old-space-size=4096",
        "PYTHONPATH": "/py",
        "PW_X": "1",
    }
    with pytest.raises(SandboxError):
        Tracing(files=(("../x", b""),))
    with pytest.raises(SandboxError):
        Tracing(env=(("BAD NAME", "x"),))
    with pytest.raises(SandboxError):
        Tracing(syscalls=("openat; rm",))
