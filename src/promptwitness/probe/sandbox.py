"""Run one command in a hermetic sandbox, the IO edge of the probe.

A :class:`RunSpec` says what one run is; :meth:`Sandbox.run` executes it. Every run gets

- a new **network namespace** with loopback only (``netns.enter_loopback_only``);
  listening sockets for ``spec.ports`` are created *inside* it on 127.0.0.1 and handed to
  the caller's ``serve`` hook before the command starts, so the capture server serves
  the run's namespace while its own code (and, in pass-through, its upstream
  connections) stays in the caller's process;
- a private **mount namespace**: a fresh overlay on ``/etc`` whose upper layer holds the
  run's ``hosts``, ``hostname``, ``resolv.conf`` (nameserver 127.0.0.1, nothing listens:
  lookups of unknown names fail at once), ``nsswitch.conf``, ``passwd``/``group`` (the
  run's user name owns the run's uid, so ``getpwuid`` agrees with ``USER``), and, when
  ``spec.system_zone`` is set, the ``/etc/localtime`` symlink and ``/etc/timezone``;
  fresh tmpfs on ``/tmp``, ``/home`` and ``/root`` (nothing of the host's users is
  visible); ``HOME`` = ``/home/USER`` (``/root`` for ``root``) holding ``spec.home_files``;
  ``spec.root_files`` anywhere else in the run's root (``/.dockerenv``, ``/opt/...``,
  ``/var/...``; below ``/usr`` on a copy-on-write overlay of the directory, see
  ``jail.root_plan``), never below ``/proc``, ``/dev``, ``/sys``, ``/etc``, HOME, the
  working directory or an exposed path;
  the working directory at the fixed path ``spec.cwd`` (default :data:`WORKDIR`,
  ``/tmp/pw/repo``): a copy-on-write overlay of ``spec.workdir`` or of a fresh git
  repository with fixed commit dates; a fresh ``/proc`` and ``/sys``;
- a **UTS namespace** (``spec.hostname``), an IPC namespace and a **PID namespace**: the
  command is pid 2 under a tiny reaper, and when the command exits or the run times out
  every process it left behind dies with the namespace.

So HOME and the working directory are the same paths in every run; only the ``user``
factor changes HOME (its name is part of what that factor varies). Because ``/tmp``,
``/home`` and ``/root`` are hidden, a command installed below them (the agent cache is
``~/.cache/promptwitness/agents``; pyenv lives in ``/root/.pyenv``) must be listed in
``spec.expose``: it is bound back at the same path, read-only.

Environment (built from nothing but this list, then ``spec.env`` on top; nothing of the
caller's environment is passed):

    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin   HOME=<home>
    USER=<user>  LOGNAME=<user>  SHELL=/bin/bash  TERM=dumb  LANG=C.UTF-8  TMPDIR=/tmp

``spec.env`` holds what factors and the agent profile add (it may override any of the
above, e.g. ``LANG`` by the locale factor or ``PATH`` by a profile).

How: the caller's process may have threads (the capture server), so it never forks
itself; it spawns a fresh single-threaded ``python -m promptwitness.probe.sandbox``
that unshares, binds the listeners, passes their descriptors back over a Unix socket
(SCM_RIGHTS), waits for "go", builds the mounts, forks the reaper (pid 1 of the new PID
namespace) and the command, and reports the exit status. As root the kernel's
namespaces are used directly; otherwise a user namespace maps the caller to root in the
sandbox (needs unprivileged user namespaces), or :class:`SandboxError` says what is needed.
No per-run file is written to the host: every per-run file lives on a tmpfs that
disappears with the run's mount namespace.

A run may be **traced** (``Sandbox.run(spec, trace=...)``, see :class:`Tracing`): the
helper starts ``strace -f`` around bwrap, outside the run, and strace's text comes back
through a pipe in ``RunResult.trace``; the command is confined exactly as in any run
(``discover.trace`` reads the text and adds environment hooks).

Rules: never fall back to the host network or the host's files; a setup failure raises
``SandboxError``; the command's own failure is its exit code.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import re
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptwitness.probe.clock import clock_etc_files
from promptwitness.probe.clock import shim as clock_shim
from promptwitness.probe.jail import (
    BOOT_ID,
    MACHINE_ID,
    RUN_UID,
    TRACE_DIR,
    bwrap_args,
    bwrap_path,
    etc_plan,
    root_plan,
    seccomp_program,
)
from promptwitness.probe.netns import SandboxError, enter_loopback_only
from promptwitness.probe.spec import (
    _VAR_RE,
    BASE_PATH,
    HOME_ROOT,
    REPO_DATE,
    WORKDIR,
    ZONEINFO,
    RunResult,
    RunSpec,
    _check_rel,
    base_env,
    home_for,
)

__all__ = [
    "BASE_PATH",
    "HOME_ROOT",
    "REPO_DATE",
    "WORKDIR",
    "ZONEINFO",
    "RunResult",
    "RunSpec",
    "Sandbox",
    "SandboxError",
    "ServeHook",
    "STRACE_OPTIONS",
    "TRACE_DIR",
    "TRACE_ENV_JOIN",
    "TRACED_SYSCALLS",
    "Tracing",
    "base_env",
    "home_for",
    "strace_path",
]

# What a traced run records (strace's ``-e trace=``): every way to open, stat, test,
# list or execute a path; working-directory changes and process creation (to resolve
# relative paths and follow the run's processes); sockets, connections and datagrams
# (DNS questions, netlink requests); ``ioctl`` (SIOCGIFCONF); the host name and user.
TRACED_SYSCALLS = (
    "open",
    "openat",
    "openat2",
    "creat",
    "stat",
    "lstat",
    "newfstatat",
    "statx",
    "access",
    "faccessat",
    "faccessat2",
    "readlink",
    "readlinkat",
    "getdents",
    "getdents64",
    "execve",
    "execveat",
    "chdir",
    "fchdir",
    "clone",
    "clone3",
    "fork",
    "vfork",
    "socket",
    "connect",
    "sendto",
    "sendmsg",
    "sendmmsg",
    "ioctl",
    "uname",
    "getuid",
    "geteuid",
    "getresuid",
)
# strace's options for a traced run: follow every process (-f) and stop only at the
# recorded calls (--seccomp-bpf); strings in hex (-xx: one unambiguous form for paths
# and buffers, 4096 bytes of them); descriptors with their paths and socket addresses
# (-yy; AT_FDCWD with the working directory); no signals, no attach/exit notes.
STRACE_OPTIONS = ("-f", "--seccomp-bpf", "-qq", "-xx", "-s", "4096", "-yy", "-e", "signal=none")
# A tracing variable of these is put in front of the command's own value (joined by
# the separator), so that the command's own preload, path or options still apply.
TRACE_ENV_JOIN = {"LD_PRELOAD": ":", "PYTHONPATH": ":", "NODE_OPTIONS": " "}


@dataclass(frozen=True)
class Tracing:
    """How a run is traced: ``Sandbox.run(spec, trace=Tracing(...))`` (``trace=True`` is
    ``Tracing()``, the system calls alone).

    ``strace -f`` runs *outside* the run, around bwrap, in the sandbox helper (so in the
    run's loopback-only network namespace and private mount namespace, but not in its
    user namespace: the command still has no capability, ``no_new_privs`` and the
    seccomp filter that refuses ``ptrace``; strace adds a filter of its own that only
    says which calls stop). Its output goes through a pipe to the caller
    (``RunResult.trace``), never to a file; on a timeout or ``cancel`` it holds what
    was traced until then. The lines of bwrap's own setup are in it: the reader
    (``discover.trace.parse_strace``) keeps what follows the command's ``execve``.

    ``files``: the hooks' files (name relative to :data:`TRACE_DIR` -> bytes), created
    by bwrap in the run's ``/run`` tmpfs, read-only; ``env``: variables set by bwrap for
    the command (see :meth:`command_env`; neither strace nor bwrap see them);
    ``syscalls``: what strace records; ``strace``: its path (``None``: found on PATH).
    """

    files: tuple[tuple[str, bytes], ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    syscalls: tuple[str, ...] = TRACED_SYSCALLS
    strace: str | None = None

    def __post_init__(self) -> None:
        for name, data in self.files:
            _check_rel(name)
            if not isinstance(data, bytes):
                raise SandboxError(f"trace file {name!r}: content must be bytes")
        for name, _ in self.env:
            if not _VAR_RE.match(name):
                raise SandboxError(f"not an environment variable name: {name!r}")
        for call in self.syscalls:
            if not re.match(r"^[a-z0-9_]+$", call):
                raise SandboxError(f"not a system call name: {call!r}")

    def command_env(self, environ: Mapping[str, str]) -> dict[str, str]:
        """What bwrap sets for the command given its own environment ``environ``: each
        of ``env``, put in front of the command's own value for the names of
        :data:`TRACE_ENV_JOIN` (``LD_PRELOAD=hook:theirs``), replacing it otherwise."""
        out = {}
        for name, value in self.env:
            own, sep = environ.get(name), TRACE_ENV_JOIN.get(name)
            out[name] = value + sep + own if own and sep is not None else value
        return out


def strace_path(tracing: Tracing) -> str:
    """strace's executable, or a SandboxError that says how to get it."""
    found = tracing.strace or shutil.which("strace", path="/usr/local/bin:/usr/bin:/bin")
    if found is None or not os.access(found, os.X_OK):
        raise SandboxError(
            "strace is required to trace a run: install it (Debian/Ubuntu:"
            " apt-get install strace), or run scripts/setup.sh"
        )
    return found


# The caller's server: given the listening sockets (port -> socket, each bound inside the
# run's network namespace), return a context that serves them while the command runs.
ServeHook = Callable[[Mapping[int | str, socket.socket]], AbstractContextManager[object]]


# --- the control channel: 4-byte length + JSON, file descriptors by SCM_RIGHTS ------


class _Channel:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""
        self.fds: list[int] = []

    def send(self, obj: Mapping[str, Any], fds: Iterable[int] = ()) -> None:
        data = json.dumps(obj).encode()
        msg = struct.pack(">I", len(data)) + data
        fds = list(fds)
        if fds:
            sent = socket.send_fds(self.sock, [msg], fds)
            msg = msg[sent:]
        if msg:
            self.sock.sendall(msg)

    def recv(self, maxfds: int = 0) -> dict[str, Any] | None:
        """One message, or None at end of stream. Received fds collect in ``self.fds``."""
        while True:
            if len(self.buf) >= 4:
                (n,) = struct.unpack(">I", self.buf[:4])
                if len(self.buf) >= 4 + n:
                    doc = json.loads(self.buf[4 : 4 + n])
                    self.buf = self.buf[4 + n :]
                    assert isinstance(doc, dict)
                    return doc
            if maxfds:
                data, fds, _, _ = socket.recv_fds(self.sock, 65536, maxfds)
                self.fds.extend(fds)
            else:
                data = self.sock.recv(65536)
            if not data:
                if self.buf:
                    raise SandboxError("sandbox control channel closed mid-message")
                return None
            self.buf += data


# --- the launcher (caller's side) ----------------------------------------------------


def _git(args: list[str], cwd: Path, home: Path) -> None:
    env = {
        "PATH": BASE_PATH,
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "Dev",
        "GIT_AUTHOR_EMAIL": "dev@example.com",
        "GIT_COMMITTER_NAME": "Dev",
        "GIT_COMMITTER_EMAIL": "dev@example.com",
        "GIT_AUTHOR_DATE": REPO_DATE,
        "GIT_COMMITTER_DATE": REPO_DATE,
    }
    try:
        subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        raise SandboxError(
            f"cannot build the fresh git repository: {exc} "
            f"{detail.decode(errors='replace')}".strip()
        ) from exc


def _package_root() -> str:
    import promptwitness

    return str(Path(promptwitness.__file__).resolve().parent.parent)


class Sandbox:
    """Runs :class:`RunSpec` s. Thread-safe: ``run`` may be called from several threads
    at once (each run has its own namespaces). Holds a scratch directory with the
    read-only lower layers of the working directories; ``close`` removes it."""

    def __init__(self, scratch: Path | None = None, *, prefork: int = 0) -> None:
        """``prefork``: keep that many sandbox helpers started ahead of need, so that a
        run does not wait for the helper's interpreter to start (a probe runs hundreds
        of sandboxes; the helper's start is most of a run's overhead)."""
        self._prefork = prefork
        self._spares: list[tuple[subprocess.Popen[bytes], socket.socket]] = []
        self._spawner: threading.Thread | None = None
        self._wake = threading.Event()
        self._closed = False
        self._own = scratch is None
        self.scratch = Path(tempfile.mkdtemp(prefix="pw-sandbox-")) if scratch is None else scratch
        self.scratch.mkdir(parents=True, exist_ok=True)
        (self.scratch / "mnt").mkdir(exist_ok=True)  # each run mounts its own tmpfs here
        self._lock = threading.Lock()
        self._templates: dict[str | None, str] = {}
        self._bwrap = bwrap_path()
        self._seccomp = seccomp_program().hex()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            spares, self._spares = self._spares, []
            spawner = self._spawner
        self._wake.set()
        if spawner is not None:
            spawner.join(timeout=10)
        with self._lock:
            spares += self._spares
            self._spares = []
        for proc, sock in spares:  # EOF on the control socket: the helper exits at once
            sock.close()
            try:
                proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                _killpg(proc.pid)
                proc.communicate()
        if self._own:
            shutil.rmtree(self.scratch, ignore_errors=True)

    def template(self, workdir: str | None) -> str:
        """The lower layer of the working directory: a frozen copy of ``workdir`` taken
        on first use, or a fresh git repository with fixed dates and identity."""
        with self._lock:
            if workdir in self._templates:
                return self._templates[workdir]
            dest = self.scratch / f"tree{len(self._templates)}"
            if workdir is None:
                dest.mkdir()
                (dest / "README.md").write_bytes(b"# project\n")
                home = self.scratch / "githome"
                home.mkdir(exist_ok=True)
                _git(["init", "-q", "-b", "main"], dest, home)
                _git(["add", "-A"], dest, home)
                _git(["commit", "-q", "-m", "Initial commit"], dest, home)
            else:
                src = Path(workdir)
                if not src.is_dir():
                    raise SandboxError(f"workdir is not a directory: {workdir}")
                shutil.copytree(src, dest, symlinks=True)
            self._templates[workdir] = str(dest)
            return str(dest)

    @staticmethod
    def _spawn() -> tuple[subprocess.Popen[bytes], socket.socket]:
        parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            # The control socket is the child's stdin, so its command line (visible to the
            # command as /proc/1/cmdline) is the same in every run.
            proc = subprocess.Popen(
                [sys.executable, "-S", "-m", "promptwitness.probe.sandbox"],
                stdin=child_sock.fileno(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env={"PATH": BASE_PATH, "PYTHONPATH": _package_root()},
                start_new_session=True,
            )
        except OSError as exc:
            parent_sock.close()
            raise SandboxError(f"cannot start the sandbox: {exc}") from exc
        finally:
            child_sock.close()
        return proc, parent_sock

    def _take(self) -> tuple[subprocess.Popen[bytes], socket.socket]:
        """A started helper (a spare when there is one, else a new one); then top the
        spares up. A spare that died meanwhile is reaped and replaced."""
        taken: tuple[subprocess.Popen[bytes], socket.socket] | None = None
        with self._lock:
            while self._spares and taken is None:
                proc, sock = self._spares.pop(0)
                if proc.poll() is None:
                    taken = (proc, sock)
                else:
                    sock.close()
                    proc.communicate()
        if taken is None:
            taken = self._spawn()
        if self._prefork:
            self._top_up()
        return taken

    def _top_up(self) -> None:
        """Start spares from one long-lived thread: a helper dies with the *thread* that
        started it (PR_SET_PDEATHSIG), and a spare must outlive the run's thread (a
        worker of the caller's pool, say)."""
        with self._lock:
            if self._spawner is not None and self._spawner.is_alive():
                self._wake.set()
                return
            self._spawner = threading.Thread(
                target=self._spawn_loop, daemon=True, name="promptwitness-sandbox-spares"
            )
            self._spawner.start()

    def _spawn_loop(self) -> None:
        while not self._closed:
            with self._lock:
                need = len(self._spares) < self._prefork
            if need:
                try:
                    spare = self._spawn()
                except SandboxError:
                    return  # the next run spawns its own helper and reports the error
                with self._lock:
                    if self._closed:
                        closing = True
                    else:
                        closing = False
                        self._spares.append(spare)
                if closing:
                    spare[1].close()
                    spare[0].communicate()
                    return
                continue
            self._wake.wait(timeout=1.0)
            self._wake.clear()

    def run(
        self,
        spec: RunSpec,
        serve: ServeHook | None = None,
        cancel: threading.Event | None = None,
        *,
        trace: bool | Tracing = False,
    ) -> RunResult:
        """Run ``spec`` to completion (or its timeout, or until ``cancel`` is set: then
        every process of the run is killed and the result says ``cancelled``).

        ``trace``: run it under strace (see :class:`Tracing`; ``True``: the system calls
        alone) and return strace's output in ``RunResult.trace``. Tracing is a way of
        running a spec, not part of what the command sees, so it is an argument here
        and not a field of ``RunSpec`` (two runs of one spec, traced or not, are runs of
        the same conditions; a probe's design never varies it)."""
        tracing = Tracing() if trace is True else (trace or None)
        if spec.system_zone is not None and not os.path.isfile(
            os.path.join(ZONEINFO, spec.system_zone)
        ):
            raise SandboxError(f"unknown zone {spec.system_zone!r}: no file under {ZONEINFO}")
        for p in spec.expose:
            if not os.path.exists(p):
                raise SandboxError(f"exposed path does not exist: {p}")
        links = (
            {}
            if spec.system_zone is None
            else {"localtime": os.path.join(ZONEINFO, spec.system_zone)}
        )
        etc = etc_files(spec)
        if spec.clock is not None:
            library, why = clock_shim()
            if library is None:
                raise SandboxError(
                    f"a run with a pinned clock: {why} (bash scripts/setup.sh "
                    "installs one; or --clock real: the runs see the real time)"
                )
            etc.update(clock_etc_files(spec.clock, time.time(), library, etc.get("ld.so.preload")))
        doc = {
            "argv": list(spec.argv),
            "env": spec.environ(),
            "hostname": spec.hostname,
            "home_files": [[p, d.hex()] for p, d in spec.home_files],
            "repo_files": [[p, d.hex()] for p, d in spec.repo_files],
            "user": spec.user,
            "uid": run_uid(spec.user),
            "home": spec.home,
            "cwd": spec.cwd,
            "lower": self.template(spec.workdir),
            "mnt": str(self.scratch / "mnt"),
            "ports": list(spec.ports),
            "udp_ports": list(spec.udp_ports),
            "etc": etc_plan(etc, links),
            "expose": [os.path.abspath(p) for p in spec.expose],
            "bwrap": self._bwrap,
            "seccomp": self._seccomp,
            "root": root_plan(spec.root_files),
        }
        if tracing is not None:
            doc["trace"] = {
                "strace": strace_path(tracing),
                # "?name": a call this architecture does not have (open, stat on arm64)
                "options": [
                    *STRACE_OPTIONS,
                    "-e",
                    "trace=" + ",".join("?" + c for c in tracing.syscalls),
                ],
                "files": [[f"{TRACE_DIR}/{n}", d.hex()] for n, d in tracing.files],
                "env": tracing.command_env(spec.environ()),
            }
        started = time.monotonic()
        proc, parent_sock = self._take()
        ch = _Channel(parent_sock)
        socks: dict[int | str, socket.socket] = {}
        reader: _TraceReader | None = None
        try:
            if tracing is not None:
                trace_r, trace_w = os.pipe()
                reader = _TraceReader(trace_r)
                try:
                    ch.send(doc, fds=[trace_w])
                finally:
                    os.close(trace_w)  # strace holds the only write end: EOF when it ends
            else:
                ch.send(doc)
            ready = ch.recv(maxfds=len(spec.ports) + len(spec.udp_ports))
            if ready is None or "error" in ready:
                raise SandboxError(self._failure(proc, ready))
            keys: list[int | str] = [*spec.ports, *(f"udp:{p}" for p in spec.udp_ports)]
            socks = {key: socket.socket(fileno=fd) for key, fd in zip(keys, ch.fds, strict=True)}
            with serve(socks) if serve is not None else contextlib.nullcontext():
                ch.send({"go": True})
                timed_out = cancelled = False
                deadline = time.monotonic() + spec.timeout
                while True:
                    left = deadline - time.monotonic()
                    step = left if cancel is None else min(left, 0.1)
                    try:
                        out, err = proc.communicate(timeout=max(step, 0.0))
                        break
                    except subprocess.TimeoutExpired:
                        if cancel is not None and cancel.is_set():
                            cancelled = True
                        elif time.monotonic() < deadline:
                            continue
                        else:
                            timed_out = True
                        _killpg(proc.pid)
                        out, err = proc.communicate()
                        break
            parent_sock.settimeout(5)
            msgs = list(iter(ch.recv, None))
        except OSError as exc:
            _killpg(proc.pid)
            proc.communicate()  # reaps the child and closes its pipes
            raise SandboxError(f"lost the sandbox's control channel: {exc}") from exc
        except BaseException:
            _killpg(proc.pid)
            proc.communicate()  # reaps the child and closes its pipes
            raise
        finally:
            for s in socks.values():
                s.close()
            parent_sock.close()
            traced = None if reader is None else reader.finish()
        duration = time.monotonic() - started
        errors = [m["error"] for m in msgs if "error" in m]
        if errors and not (timed_out or cancelled):
            if any(m.get("setup") for m in msgs):
                errors.append(_tail(err))
            raise SandboxError("; ".join(errors))
        final = next((m for m in msgs if "exit" in m), None)
        if final is None and not (timed_out or cancelled):
            raise SandboxError(self._failure(proc, None, err))
        last = err.rstrip(b"\n").rsplit(b"\n", 1)[-1]
        if final is not None and final["exit"] == 1 and last.startswith(b"bwrap: execvp "):
            hint = (
                (
                    "; only /usr and a filtered /etc are visible in the sandbox: expose "
                    "what the command needs"
                )
                if b"No such file" in last
                else ""
            )
            raise SandboxError(
                f"cannot run {spec.argv[0]!r}: "
                f"{last.decode(errors='replace')[len('bwrap: ') :]}{hint}"
            )
        return RunResult(
            exit_code=None if timed_out or cancelled or final is None else int(final["exit"]),
            stdout=out,
            stderr=err,
            duration=duration,
            command_time=None if final is None else final["t_exit"] - final["t_exec"],
            timed_out=timed_out,
            cancelled=cancelled,
            trace=traced,
        )

    @staticmethod
    def _failure(
        proc: subprocess.Popen[bytes], msg: Mapping[str, Any] | None, err: bytes | None = None
    ) -> str:
        if msg is not None and "error" in msg:
            return str(msg["error"])
        if err is None:
            _killpg(proc.pid)
            _, err = proc.communicate()
        return f"the sandbox exited ({proc.wait()}) before reporting: " + _tail(err)


class _TraceReader:
    """Reads strace's output from the pipe while the run goes on (a full pipe would
    stop the traced command), in a thread; ``finish`` waits for the end (strace exits
    with the run's last process, or dies with the helper) and returns the text."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.chunks: list[bytes] = []
        self.thread = threading.Thread(
            target=self._read, daemon=True, name="promptwitness-trace-reader"
        )
        self.thread.start()

    def _read(self) -> None:
        with contextlib.suppress(OSError):
            while chunk := os.read(self.fd, 1 << 16):
                self.chunks.append(chunk)

    def finish(self, timeout: float = 10.0) -> str:
        self.thread.join(timeout)
        if self.thread.is_alive():  # a writer outlived the run: take what there is
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.thread.join(1.0)
        else:
            os.close(self.fd)
        return b"".join(self.chunks).decode("ascii", errors="replace")


def _tail(err: bytes) -> str:
    return " | ".join(err.decode(errors="replace").strip().splitlines()[-5:])


def _killpg(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


# --- inside the sandbox (a fresh, single-threaded interpreter) -----------------------

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1

_libc: ctypes.CDLL | None = None


def _c() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return _libc


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(
    src: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None
) -> None:
    def b(s: str | None) -> bytes | None:
        return None if s is None else s.encode()

    _check(
        _c().mount(b(src), b(target), b(fstype), ctypes.c_ulong(flags), b(data)),
        f"mount {fstype or 'bind'} {src} on {target}",
    )


def _pdeathsig() -> None:
    _c().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def run_uid(user: str) -> int:
    """The uid a run's command has: 0 for the ``root`` user level, else ``RUN_UID``."""
    return 0 if user == "root" else RUN_UID


def etc_files(spec: RunSpec) -> dict[str, bytes]:
    """The files the run's /etc gets of its own (path relative to /etc -> bytes)."""
    user, home, hostname = spec.user, spec.home, spec.hostname
    uid = gid = run_uid(user)
    hosts = [
        "127.0.0.1\tlocalhost\n",
        "::1\tlocalhost ip6-localhost ip6-loopback\n",
        f"127.0.1.1\t{hostname}\n",
    ]
    hosts += [f"127.0.0.1\t{h}\n" for h in spec.hosts if h not in ("localhost", hostname)]
    passwd = [f"{user}:x:{uid}:{gid}:{user}:{home}:/bin/bash\n"]
    group = [f"{user}:x:{gid}:\n"]
    if user != "root":
        passwd.append("root:x:0:0:root:/root:/bin/bash\n")
        group.append("root:x:0:\n")
    passwd.append("nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
    group.append("nogroup:x:65534:\n")
    files = {
        "hosts": "".join(hosts),
        "hostname": hostname + "\n",
        "resolv.conf": "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
        "nsswitch.conf": "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n"
        "networks: files\nprotocols: files\nservices: files\n",
        "passwd": "".join(passwd),
        "group": "".join(group),
        "machine-id": MACHINE_ID + "\n",
    }
    if spec.system_zone is not None:
        files["timezone"] = spec.system_zone + "\n"
    out = {k: v.encode() for k, v in files.items()}
    out.update(dict(spec.etc_files))
    return out


def _mkdirs(path: str) -> None:
    os.makedirs(path, exist_ok=True)


def _write_files(root: str, files: Iterable[tuple[str, str]], mode: int | None = None) -> None:
    """Write ``(relative path, hex bytes)`` pairs under ``root``, making directories."""
    for rel, hexdata in files:
        path = os.path.join(root, rel)
        _mkdirs(os.path.dirname(path))
        with open(path, "wb") as f:
            f.write(bytes.fromhex(hexdata))
        if mode is not None:
            os.chmod(path, mode)


def _build_etc(plan: Mapping[str, Any], mnt: str) -> None:
    """The run's /etc: an overlay whose upper layer (on the run's tmpfs) holds the run's
    own files and links and a whiteout for every host entry the run must not see. One
    mount, read-only once bwrap binds it."""
    up = os.path.join(mnt, "etc-up")
    for rel in plan["hide"]:
        path = os.path.join(up, rel)
        _mkdirs(os.path.dirname(path))
        os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))  # an overlay whiteout
    _write_files(up, plan["files"].items(), 0o644)
    for rel, target in plan["links"].items():
        path = os.path.join(up, rel)
        _mkdirs(os.path.dirname(path))
        os.symlink(target, path)
    _mount(
        "overlay",
        os.path.join(mnt, "etc"),
        "overlay",
        0,
        f"lowerdir=/etc,upperdir={up},workdir={mnt}/etc-work",
    )


def _build_overlays(overlays: Iterable[Mapping[str, Any]], mnt: str) -> list[tuple[str, str]]:
    """The copy-on-write overlays of system directories that get root files
    (``jail.root_plan``): lower the host's directory, upper on the run's tmpfs.
    Returns (mount on the stage, directory) pairs for bwrap to bind read-only."""
    out = []
    for i, ov in enumerate(overlays):
        up, work, point = (os.path.join(mnt, f"sys{i}{x}") for x in ("-up", "-work", ""))
        for d in (up, work, point):
            os.mkdir(d)
        for rel in ov["dirs"]:
            _mkdirs(os.path.join(up, rel))
        _write_files(up, ov["files"].items(), 0o644)
        _mount("overlay", point, "overlay", 0, f"lowerdir={ov['dir']},upperdir={up},workdir={work}")
        out.append((point, str(ov["dir"])))
    return out


def _stage(doc: Mapping[str, Any]) -> tuple[str, list[tuple[str, str]]]:
    """The run's own files, on a tmpfs in this helper's private mount namespace (the
    caller has unshared it): ``etc``, ``home``, ``repo`` (a copy-on-write overlay of the
    working-directory template), ``boot_id``, and the overlays of system directories
    with root files (returned: what bwrap binds where). bwrap binds them into the run's
    root; nothing here reaches the host's disk, and it all disappears with the
    namespace."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing propagates back to the host
    mnt = doc["mnt"]
    _mount("pw-run", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    for d in ("etc", "etc-up", "etc-work", "home", "repo-up", "repo-work", "repo"):
        os.mkdir(os.path.join(mnt, d))
    with open(os.path.join(mnt, "boot_id"), "w") as f:
        f.write(BOOT_ID + "\n")
    _build_etc(doc["etc"], mnt)
    home = os.path.join(mnt, "home")
    os.chmod(home, 0o700 if doc["user"] == "root" else 0o755)
    _write_files(home, doc["home_files"])
    _write_files(os.path.join(mnt, "repo-up"), doc.get("repo_files", ()))  # over the template
    _mount(
        "overlay",
        f"{mnt}/repo",
        "overlay",
        0,
        f"lowerdir={doc['lower']},upperdir={mnt}/repo-up,workdir={mnt}/repo-work",
    )
    return str(mnt), _build_overlays(doc["root"]["overlays"], mnt)


def _memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name, 0)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _child_main() -> int:
    ch = _Channel(socket.socket(fileno=os.dup(0)))  # dup: not inherited by the command
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    try:
        _pdeathsig()
        doc = ch.recv(maxfds=1)  # a traced run: the write end of the trace pipe
        if doc is None:
            return 0
        trace_fd = ch.fds.pop(0) if doc.get("trace") and ch.fds else None
        if trace_fd is not None:
            os.set_inheritable(trace_fd, False)
        enter_loopback_only()
        listeners = []
        for port in doc["ports"]:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            s.listen(128)
            listeners.append(s)
        for port in doc.get("udp_ports", ()):
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.bind(("127.0.0.1", port))
            listeners.append(u)
        ch.send({"ready": doc["ports"]}, fds=[s.fileno() for s in listeners])
        for s in listeners:
            s.close()
        go = ch.recv()
        if not go or not go.get("go"):
            return 0
        _check(_c().unshare(CLONE_NEWNS), "unshare the mount namespace")
        stage, overlays = _stage(doc)
        seccomp_fd = _memfd("pw-seccomp", bytes.fromhex(doc["seccomp"]))
        status_r, status_w = os.pipe()
        trace = doc.get("trace") or {}
        made = [
            (_memfd("pw-file", bytes.fromhex(h)), path, "0644")
            for path, h in doc["root"]["files"].items()
        ]
        made += [
            (_memfd("pw-trace", bytes.fromhex(h)), path, "0444")
            for path, h in trace.get("files", ())
        ]
        args = bwrap_args(
            uid=doc["uid"],
            hostname=doc["hostname"],
            stage=stage,
            home=doc["home"],
            cwd=doc["cwd"],
            expose=doc["expose"],
            seccomp_fd=seccomp_fd,
            status_fd=status_w,
            overlays=overlays,
            files=made,
            dirs=doc["root"]["dirs"],
            setenv=trace.get("env"),
        )
        args_fd = _memfd("pw-args", b"".join(a.encode() + b"\0" for a in args))
        fds = [args_fd, seccomp_fd, *(fd for fd, _, _ in made)]
        # bwrap's own command line (the run's pid 1) is the same in every run
        cmd = [doc["bwrap"], "--args", str(args_fd), "--", *doc["argv"]]
        if trace_fd is not None:
            # strace opens the pipe anew (close-on-exec): neither bwrap nor the command
            # inherits a descriptor of the trace
            cmd = [
                trace["strace"],
                *trace["options"],
                "-o",
                f"/proc/{os.getpid()}/fd/{trace_fd}",
                "--",
                *cmd,
            ]
        t_exec = time.monotonic()
        proc = subprocess.Popen(
            cmd, env=doc["env"], pass_fds=(*fds, status_w), stdin=0, preexec_fn=_pdeathsig
        )
    except (OSError, SandboxError, subprocess.SubprocessError) as exc:
        ch.send({"error": f"sandbox setup failed: {exc}"})
        return 125
    os.close(status_w)
    for fd in fds:
        os.close(fd)
    rc = proc.wait()
    if trace_fd is not None:  # only now: strace opens it after its exec
        os.close(trace_fd)
    t_exit = time.monotonic()
    with os.fdopen(status_r, "rb") as f:
        status = f.read().decode(errors="replace")
    if '"child-pid"' not in status:
        ch.send({"error": "bubblewrap could not set up the run", "setup": True})
        return 125
    ch.send({"exit": rc if rc >= 0 else 128 - rc, "t_exec": t_exec, "t_exit": t_exit})
    return 0


if __name__ == "__main__":
    sys.exit(_child_main())
