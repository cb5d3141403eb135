"""The confinement of a run: bubblewrap's arguments, the seccomp filter, the run's /etc.

The probe's sandbox (``probe.sandbox``) prepares a run's network namespace and files;
this module says how the command itself is confined, by `bubblewrap`_ (``bwrap``), the
unprivileged sandbox that Flatpak and others rely on. It was chosen over home-made
namespace code (what promptwitness had before) and over nsjail because it is small,
widely reviewed, packaged by every distribution, needs no daemon and no setuid bit, and
does exactly what a run needs: a new user namespace with every capability dropped and
``no_new_privs``, a root built for the run with ``pivot_root`` from read-only binds, a
fresh ``/proc`` for the run's PID namespace, a minimal ``/dev``, and a seccomp program
loaded right before ``exec``. nsjail does the same but is not packaged for Debian 12 and
wants a configuration language of its own; the network namespace (with the capture
server's listening socket already bound inside it) is created before bwrap runs and
simply inherited, which bwrap supports by not unsharing the network.

What the command sees (its whole file system):

- ``/usr`` read-only, and ``/bin``, ``/sbin``, ``/lib*`` as on the host (symlinks into
  ``/usr`` on a merged-/usr system, read-only binds otherwise);
- ``/etc`` built for the run: an overlay on the host's ``/etc`` in which every entry
  that is not world-readable (``shadow``, private keys) and :data:`ETC_DENY` (secrets
  and host identity) are whited out, with the run's own ``passwd``, ``group``,
  ``hosts``, ``hostname``, ``resolv.conf``, ``nsswitch.conf``, ``timezone``/``localtime``
  and a fixed ``machine-id`` (:data:`MACHINE_ID`) on top, plus the run's ``etc_files``;
- a fresh ``/proc`` (only the run's processes; ``/proc/sys/kernel/random/boot_id`` is
  :data:`BOOT_ID`), a minimal ``/dev`` (null, zero, random, tty, a private ``/dev/shm``),
  no ``/sys``;
- fresh tmpfs on ``/tmp``, ``/var`` (with ``/var/tmp``), ``/run``, ``/home``, ``/root``;
  HOME and the working directory bound from the run's own tmpfs;
- the paths the caller exposes, read-only;
- the run's ``root_files`` (see :func:`root_plan`): files and empty directories created
  for the run anywhere else in its root (``/.dockerenv``, ``/opt/corp/agent.conf``,
  ``/usr/share/foo/marker``), never on the host.

A traced run (``Sandbox.run(..., trace=...)``) differs in exactly two ways: the files of
its tracing hooks are in :data:`TRACE_DIR` (a directory on the run's ``/run`` tmpfs),
and the hooks' variables (``LD_PRELOAD``, ``NODE_OPTIONS``, ``PYTHONPATH``) are set by
bwrap for the command (``--setenv``), not for bwrap itself. The tracer (``strace``)
runs outside, around bwrap; inside, ``ptrace`` stays refused.

Nothing else of the host: not ``/opt``, ``/srv``, ``/mnt``, the caller's checkout, nor
any unix socket (path sockets live under the hidden trees; abstract ones are scoped by
the run's network namespace). Nothing the command writes outlives the run.

The command runs as the run's uid (1000, or 0 for the ``root`` user level) in a user
namespace whose only mapping is the invoking user: no capability in any namespace, an
empty bounding set, ``no_new_privs``, no further user namespaces
(``--disable-userns``), a new session (no ``TIOCSTI`` into the caller's terminal), and
:func:`seccomp_program`. Because the one mapped uid is the caller's, the command keeps
that uid's discretionary access to what it is shown; that is why only world-readable
parts of ``/etc`` are shown, and why exposing a path is the caller's explicit choice.

.. _bubblewrap: https://github.com/containers/bubblewrap
"""

from __future__ import annotations

import errno
import functools
import os
import shutil
import stat
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from promptwitness.probe.netns import SandboxError

__all__ = [
    "BOOT_ID",
    "DENIED_SYSCALLS",
    "ETC_DENY",
    "GENERATED_ETC",
    "MACHINE_ID",
    "ROOT_FILE_DENY",
    "RUN_TMPFS",
    "RUN_UID",
    "SYSTEM_TREES",
    "TRACE_DIR",
    "VISIBLE",
    "bwrap_args",
    "bwrap_path",
    "etc_plan",
    "needs_expose",
    "root_plan",
    "seccomp_program",
]

# The host trees a run sees without being told (read-only); everything else must be
# exposed. ``/etc`` is filtered (see etc_plan).
VISIBLE = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ROOT_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
# The read-only system trees of VISIBLE (bound from the host): a root file below one of
# them is put on an overlay of its directory (root_plan), never written through.
SYSTEM_TREES = tuple(v for v in VISIBLE if v != "/etc")
# The fresh tmpfs trees of every run (a root file below one is simply created there).
RUN_TMPFS = ("/tmp", "/var", "/var/tmp", "/run", "/home", "/root")
# Where a traced run finds its hooks (on the run's /run tmpfs; see discover.trace).
TRACE_DIR = "/run/pw-trace"
# Trees a root file may never be in: the kernel's and the run's own (``/etc`` has
# ``etc_files``, HOME ``home_files``), and the tracer's.
ROOT_FILE_DENY = ("/proc", "/dev", "/sys", "/etc", TRACE_DIR)

# Fixed host identity inside every run (the same in every run, so not a difference).
MACHINE_ID = "70726f6d707477697474656e65737321"  # "promptwitness!" in hex, 32 digits
BOOT_ID = "7077a11d-0000-4000-8000-000000000001"
RUN_UID = 1000  # the uid of every user level but ``root``

# /etc entries never shown, whatever their mode: secrets, and the host's identity and
# settings that the run replaces with its own.
ETC_DENY = frozenset(
    {
        ".pwd.lock",
        "adjtime",
        "credstore",
        "credstore.encrypted",
        "crypttab",
        "docker",
        "group-",
        "gshadow",
        "gshadow-",
        "krb5.keytab",
        "machine-id",
        "mtab",
        "NetworkManager",
        "openvpn",
        "passwd-",
        "ppp",
        "shadow",
        "shadow-",
        "ssh",
        "subgid",
        "subgid-",
        "subuid",
        "subuid-",
        "sudoers",
        "sudoers.d",
        "wireguard",
        "wpa_supplicant",
        "containerd",
        "hostname",
        "hosts",
        "resolv.conf",
        "localtime",
        "timezone",
        "passwd",
        "group",
        "nsswitch.conf",
    }
)
# ... of which the run writes its own:
GENERATED_ETC = (
    "hosts",
    "hostname",
    "resolv.conf",
    "nsswitch.conf",
    "passwd",
    "group",
    "machine-id",
)

# System calls a run may not make (EPERM), whatever its uid: namespaces, mounts, other
# processes' memory, the kernel's keyrings, BPF, modules, clocks, and the like.
DENIED_SYSCALLS = (
    "acct",
    "add_key",
    "adjtimex",
    "bpf",
    "chroot",
    "clock_adjtime",
    "clock_settime",
    "delete_module",
    "fanotify_init",
    "finit_module",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "init_module",
    "ioperm",
    "iopl",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mount",
    "mount_setattr",
    "move_mount",
    "name_to_handle_at",
    "open_by_handle_at",
    "open_tree",
    "perf_event_open",
    "pidfd_getfd",
    "pivot_root",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "quotactl",
    "quotactl_fd",
    "reboot",
    "request_key",
    "setns",
    "settimeofday",
    "swapoff",
    "swapon",
    "syslog",
    "umount2",
    "unshare",
    "uselib",
    "userfaultfd",
    "vhangup",
)
# Answered ENOSYS, so that libraries fall back: clone3's flags live in memory a filter
# cannot read (glibc then uses clone, whose flags are checked); io_uring would run
# operations the filter never sees (libuv then uses its thread pool).
_ENOSYS_SYSCALLS = ("clone3", "io_uring_setup", "io_uring_enter", "io_uring_register")
_NS_FLAGS = (
    0x00020000,
    0x02000000,
    0x04000000,
    0x08000000,
    0x10000000,
    0x20000000,
    0x40000000,
    0x00000080,
)  # NEWNS NEWCGROUP NEWUTS NEWIPC NEWUSER NEWPID NEWNET NEWTIME
_TIOCSTI, _TIOCLINUX = 0x5412, 0x541C


def bwrap_path() -> str:
    """The bubblewrap executable, or a SandboxError that says how to get it."""
    found = shutil.which("bwrap", path="/usr/local/bin:/usr/bin:/bin")
    if found is None:
        raise SandboxError(
            "bubblewrap (bwrap) is required to confine runs: install it "
            "(Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf "
            "install bubblewrap), or run scripts/setup.sh"
        )
    return found


@functools.lru_cache(maxsize=1)
def seccomp_program() -> bytes:
    """The run's seccomp filter as a compiled BPF program (what ``bwrap --seccomp``
    loads). Built with libseccomp, which gets the architecture checks right (a foreign
    or x32 system call number is refused by the architecture test, not matched against
    the native table); default: allow."""
    try:
        import pyseccomp as sc  # type: ignore[import-untyped]
    except (ImportError, RuntimeError) as exc:  # RuntimeError: libseccomp not found
        raise SandboxError(
            f"libseccomp is required to confine runs ({exc}): install "
            "libseccomp2 (Debian/Ubuntu) and the pyseccomp package"
        ) from exc
    import tempfile

    f = sc.SyscallFilter(sc.ALLOW)
    for name in DENIED_SYSCALLS:
        try:
            f.add_rule(sc.ERRNO(errno.EPERM), name)
        except (OSError, ValueError, RuntimeError):  # unknown on this architecture
            continue
    for name in _ENOSYS_SYSCALLS:
        try:
            f.add_rule(sc.ERRNO(errno.ENOSYS), name)
        except (OSError, ValueError, RuntimeError):
            continue
    for flag in _NS_FLAGS:
        f.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    for request in (_TIOCSTI, _TIOCLINUX):
        f.add_rule(sc.ERRNO(errno.EPERM), "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, request))
    with tempfile.TemporaryFile() as tmp:
        f.export_bpf(tmp)
        tmp.seek(0)
        return tmp.read()


def _world_readable(st: os.stat_result) -> bool:
    need = stat.S_IROTH | (stat.S_IXOTH if stat.S_ISDIR(st.st_mode) else 0)
    return st.st_mode & need == need


def _hidden(path: str, rel: str, deny: frozenset[str] = frozenset()) -> Iterator[str]:
    """Paths (relative to /etc) below ``path`` a run must not see: denied names, what is
    not world-readable (a directory is then hidden whole), and what is neither a file,
    a directory nor a symlink."""
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return
    for name in names:
        child, crel = os.path.join(path, name), f"{rel}{name}"
        if name in deny:
            yield crel
            continue
        try:
            st = os.lstat(child)
        except OSError:
            continue
        if stat.S_ISLNK(st.st_mode):
            continue
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)) or not _world_readable(st):
            yield crel
        elif stat.S_ISDIR(st.st_mode):
            yield from _hidden(child, crel + "/")


@functools.lru_cache(maxsize=1)
def _host_hidden() -> tuple[str, ...]:
    return tuple(_hidden("/etc", "", ETC_DENY))


def _hide_around(hidden: Sequence[str], own: set[str], root: str = "/etc") -> list[str]:
    """The whiteouts of ``hidden`` (paths relative to ``root``), except where a run's own
    file lies below a hidden directory (``ssh/ssh_config.d/x`` under the hidden ``ssh``):
    a whiteout there would stop the file's directory from being made, so that
    directory's host entries are whited out one by one instead, recursively along the
    path to the file, and the run's file shows alone. Raises SandboxError when the
    host's directory cannot be listed (its entries could not be hidden)."""
    out: list[str] = []
    for h in hidden:
        if h in own:
            continue
        below = {p for p in own if p.startswith(h + "/")}
        if not below:
            out.append(h)
            continue
        try:
            entries = sorted(os.listdir(os.path.join(root, h)))
        except OSError as exc:
            raise SandboxError(
                f"cannot give the run its own /etc/{min(below)}: the host's "
                f"/etc/{h}, which runs do not see, cannot be listed ({exc})"
            ) from None
        out += _hide_around([f"{h}/{e}" for e in entries], own, root)
    return out


def etc_plan(generated: Mapping[str, bytes], links: Mapping[str, str]) -> dict[str, Any]:
    """The run's /etc as an overlay on the host's: ``hide`` (whiteouts: paths relative
    to /etc, from a walk of the host's /etc done once per process), ``files`` (the run's
    own, path -> hex bytes) and ``links`` (path -> target) in the upper layer."""
    own = set(generated) | set(links)
    return {
        "hide": _hide_around(_host_hidden(), own),
        "files": {p: d.hex() for p, d in sorted(generated.items())},
        "links": dict(sorted(links.items())),
    }


def _is_under(path: str, root: str) -> bool:
    return root == "/" or path == root or path.startswith(root + "/")


def root_plan(root_files: Sequence[tuple[str, bytes | None]]) -> dict[str, Any]:
    """How a run's ``root_files`` (absolute path -> bytes for a file, ``None`` for an
    empty directory; validated by ``RunSpec``) are made, reading the host's trees:

    - below a system tree (``/usr``, and ``/bin``, ``/lib``... which may be symlinks into
      ``/usr``): the deepest directory above the path that exists on the host (symlinks
      resolved; it must stay inside a system tree) gets a copy-on-write **overlay** whose
      upper layer, on the run's tmpfs, holds the new entries; nested directories share
      the overlay of the topmost. ``overlays``: ``[{"dir", "files": {rel: hex},
      "dirs": [rel]}]``;
    - anywhere else (the run's own root tmpfs: ``/.dockerenv``, ``/opt/...``, ``/srv``;
      or its fresh ``/tmp``, ``/var``, ``/run``, ``/home``, ``/root``): created by bwrap
      in the run's root (``--dir``, ``--file``), parents included. ``files``:
      ``{path: hex}``, ``dirs``: ``[path]``.

    An existing directory given as ``None`` keeps its host content; an existing file is
    replaced (in the run only). Raises SandboxError when a path resolves out of the
    system trees (a symlink to elsewhere)."""
    groups: dict[str, dict[str, bytes | None]] = {}
    files: dict[str, str] = {}
    dirs: list[str] = []
    for path, data in sorted(root_files):
        if not any(_is_under(path, t) for t in SYSTEM_TREES):
            if data is None:
                dirs.append(path)
            else:
                files[path] = data.hex()
            continue
        anchor = os.path.dirname(path)
        while not os.path.lexists(anchor):
            anchor = os.path.dirname(anchor)
        real = os.path.realpath(anchor)
        if not os.path.isdir(real) or not any(
            _is_under(real, t) and not os.path.islink(t) for t in SYSTEM_TREES
        ):
            raise SandboxError(
                f"root file {path!r}: {anchor} leads out of the system trees ({real})"
            )
        rel = os.path.relpath(path, anchor)
        if data is None and os.path.isdir(os.path.join(real, rel)):
            continue  # an existing directory: nothing to make
        groups.setdefault(real, {})[rel] = data
    overlays: list[dict[str, Any]] = []
    for top in sorted(groups):
        merged_into = next((o for o in overlays if _is_under(top, o["dir"])), None)
        entries = groups[top]
        if merged_into is not None:
            prefix = os.path.relpath(top, merged_into["dir"])
            target = merged_into
            entries = {os.path.join(prefix, r): d for r, d in entries.items()}
        else:
            target = {"dir": top, "files": {}, "dirs": []}
            overlays.append(target)
        for rel, d in entries.items():
            if d is None:
                target["dirs"].append(rel)
            else:
                target["files"][rel] = d.hex()
    return {"overlays": overlays, "files": files, "dirs": dirs}


def needs_expose(path: str) -> bool:
    """True when ``path`` is not visible in a run unless exposed."""
    return not any(path == v or path.startswith(v + "/") for v in VISIBLE if v != "/etc")


def bwrap_args(
    *,
    uid: int,
    hostname: str,
    stage: str,
    home: str,
    cwd: str,
    expose: Sequence[str],
    seccomp_fd: int,
    status_fd: int,
    overlays: Sequence[tuple[str, str]] = (),
    files: Sequence[tuple[int, str, str]] = (),
    dirs: Sequence[str] = (),
    setenv: Mapping[str, str] | None = None,
) -> list[str]:
    """bwrap's options for one run, passed through ``--args FD`` so that the command
    line of the run's pid 1 is ``bwrap --args N -- COMMAND...`` and names no host path
    but the command's own. ``stage`` is the run's own tmpfs
    (``etc``, ``home``, ``repo``, ``boot_id``), prepared by the caller.

    ``overlays``: (source on the stage, directory) bound read-only over a system
    directory (root files there, see :func:`root_plan`); ``dirs`` and ``files``
    (descriptor, path, octal mode): directories and files bwrap creates in the run's
    root after every mount (root files elsewhere, the tracing hooks); ``setenv``:
    variables set for the command only (the tracing hooks')."""
    a = [
        "--unshare-user",
        "--uid",
        str(uid),
        "--gid",
        str(uid),
        "--disable-userns",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname",
        hostname,
        "--cap-drop",
        "ALL",
        "--die-with-parent",
        "--new-session",
        "--ro-bind",
        "/usr",
        "/usr",
    ]
    for name in _ROOT_LINKS:
        p = "/" + name
        if os.path.islink(p):
            a += ["--symlink", os.readlink(p), p]
        elif os.path.isdir(p):
            a += ["--ro-bind", p, p]
    a += [
        "--ro-bind",
        f"{stage}/etc",
        "/etc",
        "--proc",
        "/proc",
        "--ro-bind",
        f"{stage}/boot_id",
        "/proc/sys/kernel/random/boot_id",
        "--dev",
        "/dev",
        "--perms",
        "1777",
        "--tmpfs",
        "/tmp",
        "--tmpfs",
        "/var",
        "--perms",
        "1777",
        "--dir",
        "/var/tmp",
        "--tmpfs",
        "/run",
        "--perms",
        "0755",
        "--tmpfs",
        "/home",
        "--perms",
        "0700",
        "--tmpfs",
        "/root",
    ]
    a += ["--bind", f"{stage}/home", home, "--bind", f"{stage}/repo", cwd]
    for p in expose:
        if needs_expose(p):
            a += ["--ro-bind", p, p]
    for src, dest in overlays:
        a += ["--ro-bind", src, dest]
    for d in dirs:
        a += ["--perms", "0755", "--dir", d]
    for fd, dest, mode in files:
        a += ["--perms", mode, "--file", str(fd), dest]
    for name, value in sorted((setenv or {}).items()):
        a += ["--setenv", name, value]
    a += ["--seccomp", str(seccomp_fd), "--json-status-fd", str(status_fd), "--chdir", cwd]
    return a
