"""``path:PATH`` and ``file:PATH``: a path that exists or not, a file's content.

Discovery (``promptwitness discover``) derives these from what a traced run probed or
read; a user may name them too (``--factor path:/etc/corp-agent=absent,file``).

``PATH`` is absolute (``/etc/corp/agent.conf``, ``/opt/corp/marker``) or under the
run's home (``~/.config/corp/token``: the home of the run's user, whatever ``user``
sets). Where it goes in the run: under ``/etc`` into the run's own ``/etc`` overlay;
under ``~`` into the run's home; anything else into the run's root
(``RunSpec.root_files``: created for that run only, never on the host). Paths the run
cannot hold (``/proc``, ``/sys``, ``/dev``, the working directory) are refused.

- ``path:PATH`` levels: ``absent`` (the control: nothing is created), ``file`` (an
  empty regular file), ``dir`` (an empty directory).
- ``file:PATH`` levels: ``as-is`` (the control: the run's default), or a content. The
  factor holds a table ``level -> bytes`` (discovery names levels after their origin:
  ``ubuntu-24.04``, ``text:cn-north-1``); a level given on the command line that is not
  in the table is written as text, with a final newline.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import replace

from promptwitness.errors import UsageError
from promptwitness.probe.factors.base import Factor, FactorContext
from promptwitness.probe.spec import RunSpec

PATH_PREFIX = "path:"
FILE_PREFIX = "file:"
ABSENT = "absent"
AS_IS = "as-is"
PATH_LEVELS = (ABSENT, "file", "dir")
_REFUSED = ("/proc", "/sys", "/dev", "/tmp/pw")


def normalise(path: str) -> str:
    """``PATH`` as a factor names it: absolute and normalised, or ``~/...``."""
    if path.startswith("~/"):
        rest = posixpath.normpath(path[2:])
        if rest.startswith("..") or rest in (".", ""):
            raise UsageError(f"not a path under the home: {path!r}")
        return "~/" + rest
    if not path.startswith("/") or "\0" in path:
        raise UsageError(f"not an absolute path or ~/PATH: {path!r}")
    norm = posixpath.normpath(path)
    if norm == "/" or any(norm == r or norm.startswith(r + "/") for r in _REFUSED):
        raise UsageError(f"a run cannot hold its own {path!r}")
    return norm


def place(spec: RunSpec, path: str, data: bytes | None) -> RunSpec:
    """``spec`` with ``path`` created in the run: a file with ``data``, or an empty
    directory when ``data`` is None."""
    path = normalise(path)
    if path.startswith("~/"):
        rel = path[2:]
        if data is None:
            rel += "/.keep"  # a directory: the home holds files only
            data = b""
        return spec.set_home_file(rel, data)
    if path.startswith("/etc/"):
        rel = path[len("/etc/") :]
        if data is None:
            rel += "/.keep"
            data = b""
        return spec.set_etc_file(rel, data)
    if spec.user != "root" and path.startswith("/root/"):
        raise UsageError(f"{path!r} is under root's home, hidden from the run's user")
    files = dict(getattr(spec, "root_files", ()))
    files[path] = data
    return replace(spec, root_files=tuple(sorted(files.items())))


def path_factor(path: str, levels: tuple[str, ...] | list[str] = PATH_LEVELS[:2]) -> Factor:
    """``path:PATH``: ``absent`` (control), ``file`` or ``dir``."""
    norm = normalise(path)

    def check(level: str) -> None:
        if level not in PATH_LEVELS:
            raise ValueError("a path level is " + ", ".join(PATH_LEVELS))

    def apply(spec: RunSpec, level: str, ctx: FactorContext) -> RunSpec:
        if level == ABSENT:
            return spec
        return place(spec, norm, b"" if level == "file" else None)

    return Factor(f"{PATH_PREFIX}{norm}", f"whether {norm} exists", tuple(levels), apply, check)


def file_factor(
    path: str,
    contents: Mapping[str, bytes] | None = None,
    levels: tuple[str, ...] | list[str] | None = None,
) -> Factor:
    """``file:PATH`` with ``contents`` (level -> bytes); ``levels`` default to
    ``as-is`` then the table's levels."""
    norm = normalise(path)
    table = dict(contents or {})
    if levels is None:
        levels = (AS_IS, *[k for k in table if k != AS_IS])

    def check(level: str) -> None:
        if "\0" in level:
            raise ValueError("NUL in a file level")

    def apply(spec: RunSpec, level: str, ctx: FactorContext) -> RunSpec:
        if level == AS_IS:
            return spec
        data = table.get(level)
        if data is None:
            data = (level.removeprefix("text:") + "\n").encode()
        return place(spec, norm, data)

    return Factor(f"{FILE_PREFIX}{norm}", f"the content of {norm}", tuple(levels), apply, check)
