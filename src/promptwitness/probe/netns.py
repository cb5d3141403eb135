"""Enter a new network namespace that has loopback only (IO edge).

The calling process moves into a fresh network namespace (and, without root, a fresh
user namespace mapping the caller to root inside it), then brings ``lo`` up. Everything
started afterwards — the capture server and the agent under test — shares that namespace,
so the agent can reach the capture endpoint on 127.0.0.1 and nothing else.

Rules: call it before any thread is started (``unshare(CLONE_NEWUSER)`` refuses a
multi-threaded process); it never falls back to the host network: failure raises
``SandboxError`` with what is needed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import os
import socket
import struct

from promptwitness.errors import (
    SandboxError as SandboxError,
)

CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1


def _unshare(flags: int) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.unshare(flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def bring_loopback_up() -> None:
    """Set IFF_UP on ``lo`` with the same ioctl ``ip link set lo up`` uses."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sh14x", b"lo", 0)
        flags = struct.unpack("16sh14x", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, ifreq))[1]
        fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack("16sh14x", b"lo", flags | IFF_UP))


def interfaces() -> list[str]:
    """Names of the network interfaces this process can see."""
    return [name for _, name in socket.if_nameindex()]


def enter_loopback_only() -> None:
    """Move this process into a new network namespace with only ``lo``, which is up."""
    uid, gid = os.getuid(), os.getgid()
    try:
        if uid == 0:
            _unshare(CLONE_NEWNET)
        else:
            _unshare(CLONE_NEWUSER | CLONE_NEWNET)
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"0 {uid} 1")
            _write("/proc/self/gid_map", f"0 {gid} 1")
        bring_loopback_up()
    except OSError as exc:
        raise SandboxError(
            f"cannot create a loopback-only network namespace: {exc}. "
            "Run as root, or enable unprivileged user namespaces "
            "(sysctl kernel.unprivileged_userns_clone=1, "
            "user.max_user_namespaces > 0, and no AppArmor restriction on unshare)."
        ) from exc
    if interfaces() != ["lo"]:
        raise SandboxError(f"new network namespace is not loopback-only: {interfaces()}")
