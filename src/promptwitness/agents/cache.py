"""Install one version of an npm-published agent into a per-version cache.

Layout: ``$PROMPTWITNESS_AGENT_CACHE`` or ``~/.cache/promptwitness/agents``, then
``NAME/VERSION/`` holding ``node_modules`` and a ``.complete`` marker written last. A
version is installed into a temporary sibling directory and renamed into place, so an
interrupted install never leaves a half-filled version behind; a cached version costs
one ``stat``. A lock file serialises concurrent installs of the same version.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from promptwitness.errors import Error


class InstallError(Error):
    """An agent could not be installed."""


MARKER = ".complete"


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


def ensure_npm(
    name: str, package: str, version: str, *, bin_name: str, timeout: float = 900
) -> Path:
    """Return the path of ``bin_name`` for ``package@version``, installing it if needed."""
    target = version_dir(name, version)
    binary = target / "node_modules" / ".bin" / bin_name
    if (target / MARKER).is_file() and binary.exists():
        return binary
    if shutil.which("npm") is None:
        raise InstallError(
            "npm is not installed; install Node.js and npm (apt-get install nodejs npm)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / MARKER).is_file() and binary.exists():
            return binary
        tmp = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=target.parent))
        try:
            started = time.monotonic()
            proc = subprocess.run(
                [
                    "npm",
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--prefix",
                    str(tmp),
                    f"{package}@{version}",
                ],
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
            if proc.returncode != 0:
                tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
                raise InstallError(f"npm install {package}@{version} failed:\n{tail}")
            if not (tmp / "node_modules" / ".bin" / bin_name).exists():
                raise InstallError(f"{package}@{version} installed but has no {bin_name} binary")
            (tmp / MARKER).write_text(
                json.dumps(
                    {
                        "package": package,
                        "version": version,
                        "seconds": round(time.monotonic() - started, 1),
                    }
                )
                + "\n"
            )
            if target.exists():
                shutil.rmtree(target)
            tmp.rename(target)
        except subprocess.TimeoutExpired:
            raise InstallError(
                f"npm install {package}@{version} took over {timeout:.0f} s"
            ) from None
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return binary
