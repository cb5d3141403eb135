"""probe.jail's pure parts: what a run's /etc hides, the seccomp program, exposure."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from promptwitness.probe import jail


def test_hidden_finds_denied_unreadable_and_special_entries(tmp_path: Path) -> None:
    (tmp_path / "ok.conf").write_text("x")
    (tmp_path / "secret").write_text("x")
    (tmp_path / "secret").chmod(0o600)
    (tmp_path / "shadow").write_text("x")
    (tmp_path / "shadow").chmod(0o644)  # denied by name even when readable
    sub = tmp_path / "ssl"
    (sub / "private").mkdir(parents=True)
    (sub / "private").chmod(0o700)
    (sub / "certs").mkdir()
    (sub / "certs" / "ca.pem").write_text("x")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "link").symlink_to("secret")  # a link is kept: its target decides
    hidden = set(jail._hidden(str(tmp_path), "", frozenset({"shadow"})))
    assert hidden == {"secret", "shadow", "ssl/private", "fifo"}


def test_etc_plan_gives_the_run_its_own_files_over_hidden_ones() -> None:
    plan = jail.etc_plan(
        {"passwd": b"dev:x:1000\n", "ssl/certs/extra.pem": b"pem"},
        {"localtime": "/usr/share/zoneinfo/UTC"},
    )
    assert "passwd" not in plan["hide"]  # replaced, not whited out
    assert {"shadow", "machine-id", "hostname"} & set(plan["hide"]) <= set(jail.ETC_DENY)
    assert plan["files"]["ssl/certs/extra.pem"] == b"pem".hex()
    assert plan["links"] == {"localtime": "/usr/share/zoneinfo/UTC"}
    if os.path.exists("/etc/shadow"):
        assert "shadow" in plan["hide"]


def test_a_run_file_below_a_hidden_directory_hides_its_siblings_one_by_one(tmp_path: Path) -> None:
    (tmp_path / "ssh" / "ssh_config.d").mkdir(parents=True)
    (tmp_path / "ssh" / "ssh_config").write_text("host\n")
    (tmp_path / "ssh" / "ssh_host_ed25519_key").write_text("secret\n")
    (tmp_path / "ssh" / "ssh_config.d" / "host.conf").write_text("host\n")
    (tmp_path / "shadow").write_text("x\n")
    hide = jail._hide_around(["ssh", "shadow"], {"ssh/ssh_config.d/run.conf"}, str(tmp_path))
    assert hide == [
        "ssh/ssh_config",
        "ssh/ssh_config.d/host.conf",
        "ssh/ssh_host_ed25519_key",
        "shadow",
    ]
    # the run's file replaces a hidden entry itself: no whiteout for it, none needed below
    assert jail._hide_around(["ssh"], {"ssh"}, str(tmp_path)) == []
    # a hidden directory the host's /etc cannot list (here: gone): a clear error
    with pytest.raises(jail.SandboxError, match="cannot be listed"):
        jail._hide_around(["gone"], {"gone/x"}, str(tmp_path))


def test_seccomp_program_is_a_bpf_program() -> None:
    prog = jail.seccomp_program()
    assert len(prog) % 8 == 0 and len(prog) > 8 * len(jail.DENIED_SYSCALLS)
    assert jail.seccomp_program() is prog  # built once per process


@pytest.mark.parametrize(
    ("path", "needed"),
    [
        ("/usr/bin/node", False),
        ("/usr", False),
        ("/lib64/ld.so", False),
        ("/root/.cache/promptwitness/agents/x", True),
        ("/opt/tool", True),
        ("/usr2/x", True),
        ("/work/main/.venv", True),
        ("/etc/ssl", True),
    ],
)
def test_needs_expose(path: str, needed: bool) -> None:
    assert jail.needs_expose(path) is needed


def test_bwrap_args_drop_everything_and_bind_exposed_paths_read_only() -> None:
    args = jail.bwrap_args(
        uid=1000,
        hostname="devbox",
        stage="/s",
        home="/home/dev",
        cwd="/tmp/pw/repo",
        expose=("/usr/lib/x", "/opt/agent"),
        seccomp_fd=5,
        status_fd=6,
    )
    joined = " ".join(args)
    for needed in (
        "--unshare-user",
        "--disable-userns",
        "--cap-drop ALL",
        "--unshare-pid",
        "--new-session",
        "--die-with-parent",
        "--seccomp 5",
        "--proc /proc",
        "--ro-bind /opt/agent /opt/agent",
        "--ro-bind /s/etc /etc",
    ):
        assert needed in joined
    assert "/usr/lib/x" not in joined  # under /usr: visible already
    assert "--unshare-net" not in args  # the run keeps the loopback-only namespace made for it
    assert "--share-net" not in args and "--cap-add" not in args
