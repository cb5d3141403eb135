"""What one sandboxed run is (:class:`RunSpec`) and what it gave (:class:`RunResult`):
values, with the constants of the run's world (its PATH, working directory, homes) and
the checks a spec must pass. No IO: ``probe.sandbox`` runs specs, factors build them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from promptwitness.errors import SandboxError
from promptwitness.probe.jail import ROOT_FILE_DENY, RUN_TMPFS, SYSTEM_TREES

__all__ = [
    "BASE_PATH",
    "HIDDEN",
    "HOME_ROOT",
    "REPO_DATE",
    "WORKDIR",
    "ZONEINFO",
    "RunResult",
    "RunSpec",
    "base_env",
    "home_for",
]

BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
WORKDIR = "/tmp/pw/repo"
HOME_ROOT = "/home"
ZONEINFO = "/usr/share/zoneinfo"
REPO_DATE = "2026-01-01T00:00:00+00:00"  # author and committer date of the fresh repository
# Mount points that get a fresh tmpfs; a fixed path (cwd, home, exposed) must be under one.
HIDDEN = ("/tmp", "/home", "/root")

_USER_RE = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")
_HOST_RE = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def home_for(user: str) -> str:
    """The home directory of ``user`` inside the sandbox."""
    return "/root" if user == "root" else f"{HOME_ROOT}/{user}"


def base_env(user: str) -> dict[str, str]:
    """The documented allow-list every run starts from (see the module docstring)."""
    return {
        "PATH": BASE_PATH,
        "HOME": home_for(user),
        "USER": user,
        "LOGNAME": user,
        "SHELL": "/bin/bash",
        "TERM": "dumb",
        "LANG": "C.UTF-8",
        "TMPDIR": "/tmp",
    }


def _is_host_name(name: str) -> bool:
    return bool(_HOST_RE.match(name))


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(path == r or path.startswith(r + "/") for r in roots)


def _check_root_path(path: object, deny: Iterable[str], mounts: Iterable[str]) -> None:
    """A root file's path: absolute and normal; not below one of ``deny`` (the kernel's
    trees, ``/etc``, HOME, the working directory, the tracer's directory, an exposed
    host path: writing below that would write the host); not one of ``mounts`` (the
    run's mount points) nor above one."""
    if (
        not isinstance(path, str)
        or not path.startswith("/")
        or path.startswith("//")
        or path == "/"
        or "\0" in path
        or len(path) > 4096
        or os.path.normpath(path) != path
    ):
        raise SandboxError(f"root file path must be absolute and normal: {path!r}")
    for root in deny:
        if _under(path, [root]):
            raise SandboxError(
                f"root file {path!r} is under {root}, where it may not be "
                "(/etc: etc_files; HOME: home_files; cwd: workdir)"
            )
    for mount in mounts:
        if _under(mount, [path]):
            raise SandboxError(f"root file {path!r} would replace {mount}")


def _check_rel(path: str) -> None:
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise SandboxError(f"file path must be relative, without '..': {path!r}")


@dataclass(frozen=True)
class RunSpec:
    """What one run is. Immutable; factors return new specs (``dataclasses.replace``).

    ``env``, ``hosts`` and ``home_files`` are kept sorted, so two specs built by applying
    the same changes in a different order compare equal.
    """

    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()  # added on top of base_env(user)
    hostname: str = "devbox"
    hosts: tuple[str, ...] = ()  # names resolved to 127.0.0.1 by the run's /etc/hosts
    system_zone: str | None = "UTC"  # /etc/localtime + /etc/timezone; None: leave the host's
    home_files: tuple[tuple[str, bytes], ...] = ()  # path relative to HOME -> bytes
    workdir: str | None = None  # host directory copied (copy-on-write); None: fresh git repo
    user: str = "dev"
    cwd: str = WORKDIR
    timeout: float = 300.0
    ports: tuple[int, ...] = ()  # listen on 127.0.0.1:PORT inside; sockets go to the hook
    expose: tuple[str, ...] = ()  # host paths under /tmp, /home, /root kept visible read-only
    udp_ports: tuple[int, ...] = ()  # UDP sockets bound inside; the hook gets "udp:PORT"
    etc_files: tuple[tuple[str, bytes], ...] = ()  # path relative to /etc -> bytes (overlay)
    # absolute path outside /etc and HOME -> bytes (a file) or None (an empty directory)
    root_files: tuple[tuple[str, bytes | None], ...] = ()
    # path relative to the working directory -> bytes, over the template (``.git/config``)
    repo_files: tuple[tuple[str, bytes], ...] = ()
    # UNIX seconds the run's wall clock starts at (``probe.clock``); None: the real time
    clock: float | None = None

    def __post_init__(self) -> None:
        if not self.argv:
            raise SandboxError("RunSpec.argv is empty")
        env = dict(self.env)
        for name in env:
            if not _VAR_RE.match(name):
                raise SandboxError(f"not an environment variable name: {name!r}")
        object.__setattr__(self, "env", tuple(sorted(env.items())))
        hosts = sorted(set(self.hosts))
        for h in hosts:
            if not _is_host_name(h):
                raise SandboxError(f"not a host name: {h!r}")
        object.__setattr__(self, "hosts", tuple(hosts))
        files = dict(self.home_files)
        for p in files:
            _check_rel(p)
        object.__setattr__(self, "home_files", tuple(sorted(files.items())))
        repo = dict(self.repo_files)
        for p in repo:
            _check_rel(p)
        object.__setattr__(self, "repo_files", tuple(sorted(repo.items())))
        etc = dict(self.etc_files)
        for p in etc:
            _check_rel(p)
        object.__setattr__(self, "etc_files", tuple(sorted(etc.items())))
        if not _is_host_name(self.hostname) or len(self.hostname) > 64:
            raise SandboxError(f"not a host name: {self.hostname!r}")
        if not _USER_RE.match(self.user):
            raise SandboxError(f"not a user name: {self.user!r}")
        zone = self.system_zone
        if zone is not None and (
            not zone
            or zone.startswith("/")
            or ".." in zone.split("/")
            or not re.match(r"^[A-Za-z0-9_+/-]+$", zone)
        ):
            raise SandboxError(f"not a zone name: {zone!r}")
        if (
            not self.cwd.startswith("/")
            or ".." in self.cwd.split("/")
            or not _under(self.cwd, HIDDEN)
            or self.cwd in HIDDEN
        ):
            raise SandboxError(f"cwd must be a path below one of {HIDDEN}: {self.cwd!r}")
        for p in self.expose:
            if not p.startswith("/"):
                raise SandboxError(f"exposed path must be absolute: {p!r}")
        for port in self.ports:
            if not 0 < port < 65536:
                raise SandboxError(f"not a port: {port}")
        if len(set(self.ports)) != len(self.ports):
            raise SandboxError(f"duplicate port in {self.ports}")
        for port in self.udp_ports:
            if not 0 < port < 65536:
                raise SandboxError(f"not a port: {port}")
        if len(set(self.udp_ports)) != len(self.udp_ports):
            raise SandboxError(f"duplicate UDP port in {self.udp_ports}")
        if self.timeout <= 0:
            raise SandboxError("timeout must be positive")
        roots = dict(self.root_files)
        deny = [*ROOT_FILE_DENY, self.home, self.cwd, *self.expose]
        mounts = [*deny, *SYSTEM_TREES, *RUN_TMPFS]
        for p, data in roots.items():
            _check_root_path(p, deny, mounts)
            if data is not None and not isinstance(data, bytes):
                raise SandboxError(f"root file {p!r}: content must be bytes or None")
            parent = os.path.dirname(p)
            while parent != "/":
                if roots.get(parent) is not None:
                    raise SandboxError(f"root file {p!r} is below the file {parent!r}")
                parent = os.path.dirname(parent)
        object.__setattr__(self, "root_files", tuple(sorted(roots.items())))

    # -- pure helpers for factors ---------------------------------------------------

    @property
    def home(self) -> str:
        return home_for(self.user)

    def env_get(self, name: str) -> str | None:
        return dict(self.env).get(name)

    def set_env(self, values: Mapping[str, str]) -> RunSpec:
        return replace(self, env=tuple({**dict(self.env), **values}.items()))

    def unset_env(self, *names: str) -> RunSpec:
        return replace(self, env=tuple((k, v) for k, v in self.env if k not in names))

    def add_hosts(self, *names: str) -> RunSpec:
        return replace(self, hosts=self.hosts + tuple(names))

    def set_home_file(self, path: str, data: bytes) -> RunSpec:
        return replace(self, home_files=tuple({**dict(self.home_files), path: data}.items()))

    def set_etc_file(self, path: str, data: bytes) -> RunSpec:
        return replace(self, etc_files=tuple({**dict(self.etc_files), path: data}.items()))

    def set_root_file(self, path: str, data: bytes | None) -> RunSpec:
        return replace(self, root_files=tuple({**dict(self.root_files), path: data}.items()))

    def set_repo_file(self, path: str, data: bytes) -> RunSpec:
        return replace(self, repo_files=tuple({**dict(self.repo_files), path: data}.items()))

    def unset_home_file(self, *paths: str) -> RunSpec:
        return replace(self, home_files=tuple((p, d) for p, d in self.home_files if p not in paths))

    def environ(self) -> dict[str, str]:
        """The command's complete environment: the allow-list, then ``env``."""
        return {**base_env(self.user), **dict(self.env)}


@dataclass(frozen=True)
class RunResult:
    exit_code: int | None  # None: killed on timeout; 128+N: killed by signal N
    stdout: bytes
    stderr: bytes
    duration: float  # seconds, from spawning the sandbox to collecting its result
    command_time: float | None  # seconds, from just before the command's fork to its exit
    timed_out: bool
    cancelled: bool = False  # stopped early because the caller's ``cancel`` event was set
    trace: str | None = None  # a traced run's strace output (see Tracing); None: untraced

    @property
    def overhead(self) -> float | None:
        """Seconds the sandbox added beyond the command's own time."""
        return None if self.command_time is None else self.duration - self.command_time
