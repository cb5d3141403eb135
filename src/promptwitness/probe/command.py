"""How a command given on the command line becomes a run's command (no IO beyond
looking at the caller's file system): its program resolved so the sandbox finds it,
the host paths it needs exposed, and ``--env`` pairs. One resolution for ``probe``,
``audit --path``, ``discover -- CMD`` and ``record --hermetic``.
"""

from __future__ import annotations

import os
import shutil

from promptwitness.errors import UsageError
from promptwitness.probe.jail import needs_expose
from promptwitness.probe.spec import BASE_PATH

__all__ = ["env_pairs", "exposed_paths", "resolve_command"]


def env_pairs(pairs: list[str]) -> dict[str, str]:
    """``--env VAR=VALUE`` options as a mapping."""
    out: dict[str, str] = {}
    for item in pairs:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UsageError(f"--env needs VAR=VALUE: {item!r}")
        out[name] = value
    return out


def resolve_command(argv: list[str], workdir: str | None) -> list[str]:
    """argv as the sandbox must see it (its working directory is not the caller's): the
    program as a full path unless the sandbox's PATH finds it; an argument that names an
    existing relative path here (and not in ``workdir``) made absolute."""
    exe = argv[0]
    if "/" in exe:
        if not os.path.exists(exe):
            raise UsageError(f"command not found: {exe}")
        exe = os.path.abspath(exe)
    elif not shutil.which(exe, path=BASE_PATH):
        found = shutil.which(exe)
        if found is None:
            raise UsageError(f"command not found: {exe}")
        exe = found
    rest = []
    for arg in argv[1:]:
        local = not arg.startswith(("-", "/")) and os.path.exists(arg)
        if local and not (workdir and os.path.exists(os.path.join(workdir, arg))):
            arg = os.path.abspath(arg)
        rest.append(arg)
    return [exe, *rest]


def exposed_paths(paths: list[str], argv: list[str]) -> tuple[str, ...]:
    """The user's paths, plus what the command needs from outside the sandbox's visible
    trees (only /usr and a filtered /etc are there; see ``probe.jail``): for the program
    and every argument that is an existing path elsewhere, its directory (the
    installation above a ``bin`` directory), both as given and with symlinks resolved (a
    venv's python, an npm ``.bin`` link)."""
    out = [os.path.abspath(p) for p in paths]

    def add(path: str) -> None:
        if needs_expose(path) and path not in out:
            out.append(path)

    for cand in argv:
        if not os.path.exists(cand) or (cand is not argv[0] and "/" not in cand):
            continue
        for p in dict.fromkeys((os.path.abspath(cand), os.path.realpath(cand))):
            if not needs_expose(p):
                continue
            top = os.path.dirname(p) if os.path.isfile(p) else p
            if os.path.basename(top) in ("bin", ".bin"):
                top = os.path.dirname(top)
            add(top)
    return tuple(out)
