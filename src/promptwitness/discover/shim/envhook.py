"""promptwitness trace hook for Python: report every read of ``os.environ``.

Installed as ``sitecustomize`` (on PYTHONPATH) in a traced run only (discover.trace).
``os._Environ`` (the class of ``os.environ`` and ``os.environb``) and ``os.getenv`` /
``os.getenvb`` are wrapped; each read is reported by a system call the tracer (strace,
outside the sandbox) records: ``os.access`` of a path under the trace directory that
does not exist, ``<trace dir>/m/env/<how>/<0|1|->/<name in hex>``. Then the trace
directory leaves ``sys.path`` and the interpreter's own ``sitecustomize`` (if any) runs.
Runs under any Python 3 the command brings: plain syntax, standard library only.
"""

import os
import sys


def _pw_install() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    base = os.path.dirname(here) + "/m/"
    access = os.access
    state = {"busy": False}

    def report(what: str) -> None:
        if state["busy"]:
            return
        state["busy"] = True
        try:
            access(base + what, os.F_OK)
        except Exception:  # noqa: BLE001, S110 - a report must never disturb the command
            pass
        finally:
            state["busy"] = False

    def hexname(key: object) -> str:
        if isinstance(key, bytes):
            data = key
        elif isinstance(key, str):
            data = key.encode("utf-8", "surrogateescape")
        else:
            return ""
        return data.hex() or "-"

    report("hello/python")
    cls = type(os.environ)
    getitem = cls.__getitem__
    iterate = cls.__iter__

    def how_of(env: object) -> str:
        return "os.environb" if env is getattr(os, "environb", None) else "os.environ"

    def __getitem__(self, key):  # type: ignore[no-untyped-def]
        try:
            value = getitem(self, key)
        except KeyError:
            name = hexname(key)
            if name:
                report("env/" + how_of(self) + "/0/" + name)
            raise
        name = hexname(key)
        if name:
            report("env/" + how_of(self) + "/1/" + name)
        return value

    def __iter__(self):  # type: ignore[no-untyped-def]
        report("env/" + how_of(self) + ".keys/-/2a")
        state["busy"] = True  # the keys themselves are not reads of their own
        try:
            keys = list(iterate(self))
        finally:
            state["busy"] = False
        return iter(keys)

    cls.__getitem__ = __getitem__  # type: ignore[method-assign]
    cls.__iter__ = __iter__  # type: ignore[method-assign]
    for fname, how in (("getenv", "os.getenv"), ("getenvb", "os.getenvb")):
        orig = getattr(os, fname, None)
        if orig is None:
            continue

        def wrapped(key, default=None, _orig=orig, _how=how):  # type: ignore[no-untyped-def]
            env = os.environb if _how == "os.getenvb" else os.environ
            state["busy"] = True
            try:
                found = key in env
            finally:
                state["busy"] = False
            name = hexname(key)
            if name:
                report("env/" + _how + ("/1/" if found else "/0/") + name)
            state["busy"] = True
            try:
                return _orig(key, default)
            finally:
                state["busy"] = False

        setattr(os, fname, wrapped)
    # leave sys.path as the command would have it, then run the interpreter's own
    # sitecustomize (Debian's, a virtualenv's) as if this one were not here
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    # (with the import system's own modules, loaded already: importing importlib here
    # would read files the command itself would not)
    bootstrap = sys.modules.get("_frozen_importlib")
    external = sys.modules.get("_frozen_importlib_external")
    if bootstrap is None or external is None:
        return
    try:
        spec = external.PathFinder.find_spec("sitecustomize", sys.path)
        if spec is not None and spec.loader is not None:
            module = bootstrap.module_from_spec(spec)
            spec.loader.exec_module(module)
    except Exception:  # noqa: BLE001 - the original's failure is reported by site
        import traceback

        traceback.print_exc()


_pw_install()
