"""Published versions of an agent, and installing one into the cache (IO edge).

    versions(profile) -> list[Release]      every published version, oldest first
    latest(profile) -> str                  the version the registry calls latest
    ensure(profile, version) -> Path        the agent's executable, installed if needed

npm: ``npm view PACKAGE time --json`` (versions with their publication times) and
``npm view PACKAGE dist-tags.latest``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from promptwitness.agents.cache import InstallError, ensure_npm
from promptwitness.agents.profiles.base import Profile

__all__ = ["Release", "ensure", "latest", "versions"]


@dataclass(frozen=True)
class Release:
    version: str
    published: str | None  # ISO 8601, as the registry gives it


def _npm(*args: str, timeout: float = 120) -> str:
    if shutil.which("npm") is None:
        raise InstallError("npm is not installed; install Node.js and npm (apt-get install npm)")
    proc = subprocess.run(["npm", *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise InstallError(f"npm {' '.join(args)} failed:\n{tail}")
    return proc.stdout


def versions(profile: Profile) -> list[Release]:
    if profile.registry != "npm":
        raise InstallError(f"{profile.name}: listing {profile.registry} versions is not supported")
    times = json.loads(_npm("view", profile.package, "time", "--json") or "{}")
    out = [Release(v, t) for v, t in times.items() if v not in ("created", "modified")]
    return sorted(out, key=lambda r: (r.published or "", r.version))


def latest(profile: Profile) -> str:
    if profile.registry != "npm":
        raise InstallError(f"{profile.name}: {profile.registry} is not supported")
    return _npm("view", profile.package, "dist-tags.latest").strip()


def ensure(profile: Profile, version: str) -> Path:
    if profile.registry != "npm":
        raise InstallError(f"{profile.name}: installing from {profile.registry} is not supported")
    return ensure_npm(profile.name, profile.package, version, bin_name=profile.bin_name)
