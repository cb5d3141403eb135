"""Published versions of an agent, and installing one into the cache (IO edge).

    versions(profile) -> list[Release]      every published version, oldest first
    latest(profile) -> str                  the version the registry calls latest
    install(profile, version) -> Installed  the executable, what a sandbox must expose,
                                            and what goes first in PATH (a cached Node)
    ensure(profile, version) -> Path        the executable only

npm: ``npm view PACKAGE time --json`` (versions with their publication times) and
``npm view PACKAGE dist-tags.latest``. PyPI: the JSON API
``https://pypi.org/pypi/PACKAGE/json`` (``info.version``; a release's date is the
earliest upload time of its files). The parsers of both answers are pure.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptwitness.agents.cache import (
    VENV,
    InstallError,
    ensure_node,
    ensure_npm,
    ensure_pypi,
    is_cached,
    node_major,
)
from promptwitness.agents.profiles.base import Profile
from promptwitness.model import Release

__all__ = [
    "Installed",
    "Release",
    "ensure",
    "install",
    "latest",
    "parse_npm_times",
    "parse_pypi",
    "versions",
]

PYPI_JSON = "https://pypi.org/pypi/{name}/json"


@dataclass(frozen=True)
class Installed:
    binary: Path
    roots: tuple[str, ...]  # host directories the agent needs (expose them in a sandbox)
    path_prefix: tuple[str, ...] = ()  # directories to put first in PATH (a cached Node)

    def env(self, profile: Profile, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The variables a sandboxed run of this install needs: the profile's, a cached
        Node.js first in PATH (so ``#!/usr/bin/env node`` finds it), then ``extra``."""
        from promptwitness.probe.spec import BASE_PATH

        env = dict(profile.env)
        if self.path_prefix:
            env["PATH"] = ":".join((*self.path_prefix, BASE_PATH))
        env.update(extra or {})
        return env


def _npm(*args: str, timeout: float = 120) -> str:
    if shutil.which("npm") is None:
        raise InstallError("npm is not installed; install Node.js and npm (apt-get install npm)")
    proc = subprocess.run(
        ["npm", *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        hint = ""
        if "E404" in proc.stderr:
            hint = "\nthe npm registry does not know this package"
        raise InstallError(f"npm {' '.join(args)} failed:\n{tail}{hint}")
    return proc.stdout


def _pypi(package: str, timeout: float = 60) -> dict[str, Any]:
    url = PYPI_JSON.format(name=urllib.parse.quote(package))
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - fixed https
            doc = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise InstallError(f"PyPI does not know the package {package!r}") from None
        raise InstallError(f"PyPI answered {exc.code} for {url}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise InstallError(f"cannot reach PyPI ({url}): {exc}") from None
    except ValueError:
        raise InstallError(f"PyPI sent something that is not JSON for {url}") from None
    if not isinstance(doc, dict):
        raise InstallError(f"unexpected answer from {url}")
    return doc


def _order(releases: list[Release]) -> list[Release]:
    return sorted(releases, key=lambda r: (r.published or "", r.version))


def parse_npm_times(doc: object) -> list[Release]:
    """``npm view PKG time --json`` -> releases, oldest first (pure)."""
    if not isinstance(doc, dict):
        return []
    out = [
        Release(v, t if isinstance(t, str) else None)
        for v, t in doc.items()
        if v not in ("created", "modified")
    ]
    return _order(out)


def parse_pypi(doc: object) -> tuple[list[Release], str | None]:
    """PyPI's JSON API answer -> (releases oldest first, latest version) (pure). A
    release without files has no date; one whose files are all yanked is marked."""
    if not isinstance(doc, dict):
        return [], None
    info = doc.get("info")
    latest = info.get("version") if isinstance(info, dict) else None
    releases = doc.get("releases")
    out: list[Release] = []
    if isinstance(releases, dict):
        for version, files in releases.items():
            files = [f for f in files if isinstance(f, dict)] if isinstance(files, list) else []
            times = [
                t
                for f in files
                if isinstance(t := f.get("upload_time_iso_8601") or f.get("upload_time"), str)
            ]
            yanked = bool(files) and all(f.get("yanked") is True for f in files)
            out.append(Release(str(version), min(times) if times else None, yanked))
    return _order(out), latest if isinstance(latest, str) else None


def versions(profile: Profile) -> list[Release]:
    if profile.registry == "npm":
        return parse_npm_times(json.loads(_npm("view", profile.package, "time", "--json") or "{}"))
    if profile.registry == "pypi":
        return parse_pypi(_pypi(profile.package))[0]
    raise InstallError(f"{profile.name}: listing {profile.registry} versions is not supported")


def latest(profile: Profile) -> str:
    if profile.registry == "local":
        return LOCAL_VERSION
    if profile.registry == "npm":
        return _npm("view", profile.package, "dist-tags.latest").strip()
    if profile.registry == "pypi":
        found = parse_pypi(_pypi(profile.package))[1]
        if not found:
            raise InstallError(f"PyPI names no latest version of {profile.package}")
        return found
    raise InstallError(f"{profile.name}: {profile.registry} is not supported")


def _python_home(venv: Path) -> str | None:
    """The base installation a venv's interpreter lives in (from ``pyvenv.cfg``)."""
    try:
        text = (venv / "pyvenv.cfg").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "home":
            home = Path(value.strip())  # .../bin
            return str(home.parent if home.name == "bin" else home)
    return None


def node_for(profile: Profile) -> tuple[str, ...]:
    """Directories to put first in PATH so that ``profile`` gets the Node it needs: none
    when the machine's node is new enough, else a cached Node of ``node_version``."""
    if profile.registry != "npm" or profile.min_node is None:
        return ()
    have = node_major()
    if have is not None and have >= profile.min_node:
        return ()
    if profile.node_version is None:
        found = "no node" if have is None else f"Node {have}"
        raise InstallError(
            f"{profile.title} needs Node.js {profile.min_node} or later and this machine has "
            f"{found}; install a newer Node.js and put it first in PATH"
        )
    return (str(ensure_node(profile.node_version)),)


def python_for(profile: Profile) -> str | None:
    """The interpreter a PyPI profile's virtual environment is made with: None for the
    running one, else ``python{profile.python}`` from pyenv (``$PYENV_ROOT``,
    ``~/.pyenv``) or PATH."""
    want = profile.python
    if profile.registry != "pypi" or want is None:
        return None
    if want == f"{sys.version_info[0]}.{sys.version_info[1]}":
        return sys.executable
    name = f"python{want}"
    roots = [
        os.environ.get("PYENV_ROOT"),
        str(Path.home() / ".pyenv"),
        str(Path(pwd.getpwuid(os.getuid()).pw_dir) / ".pyenv"),
    ]  # HOME may be a test's
    for root in dict.fromkeys(r for r in roots if r):
        for exe in sorted(Path(root, "versions").glob(f"{want}.*/bin/{name}"), reverse=True):
            if os.access(exe, os.X_OK):
                return str(exe)
    found = shutil.which(name)
    if found is None:
        raise InstallError(
            f"{profile.title} needs Python {want} and this machine has no {name} (looked in "
            f"pyenv and PATH); install it (pyenv install {want}) or put {name} on PATH"
        )
    return found


LOCAL_VERSION = "installed"  # the version of an agent installed by its vendor's installer


def find_local(profile: Profile) -> Installed:
    """An agent its vendor installs with a script (not from a registry): the copy on
    PATH (``$HOME/.local/bin`` included), its installation directory exposed."""
    search = os.pathsep.join([os.environ.get("PATH", ""), str(Path.home() / ".local" / "bin")])
    found = shutil.which(profile.bin_name, path=search)
    if found is None:
        raise InstallError(
            f"{profile.title} is not installed here ({profile.bin_name} is not on PATH): "
            f"install it with its vendor's installer ({profile.package}), or give its path: "
            f"promptwitness audit --path /path/to/{profile.bin_name} -- ARGS"
        )
    real = Path(os.path.realpath(found))
    top = real.parent.parent if real.parent.name == "bin" else real.parent
    return Installed(Path(found), tuple(dict.fromkeys((str(top), str(Path(found).parent)))))


def install(profile: Profile, version: str) -> Installed:
    """Install ``profile``'s package at ``version`` (once; cached) and say how to run it
    (``local``: the copy already installed, any version)."""
    if profile.registry == "local":
        return find_local(profile)
    if profile.registry == "npm":
        prefix = node_for(profile)
        binary = ensure_npm(profile.name, profile.package, version, bin_name=profile.bin_name)
        top = binary.parents[2]  # NAME/VERSION (node_modules/.bin/BIN)
        roots = [str(top), *(str(Path(p).parent) for p in prefix)]
        return Installed(binary, tuple(roots), prefix)
    if profile.registry == "pypi":
        python = None if is_cached(profile.name, version) else python_for(profile)
        binary = ensure_pypi(
            profile.name, profile.package, version, bin_name=profile.bin_name, python=python
        )
        top = binary.parents[2]  # NAME/VERSION (venv/bin/BIN)
        roots = [str(top)]
        home = _python_home(top / VENV)
        if home and home not in roots:
            roots.append(home)
        real = os.path.realpath(top / VENV / "bin" / "python")
        base = str(Path(real).parents[1])
        if base not in roots and not any(base.startswith(r + "/") for r in roots):
            roots.append(base)
        return Installed(binary, tuple(roots))
    raise InstallError(f"{profile.name}: installing from {profile.registry} is not supported")


def ensure(profile: Profile, version: str) -> Path:
    return install(profile, version).binary
