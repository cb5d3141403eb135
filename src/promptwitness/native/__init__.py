"""Small C libraries the sandbox preloads into a run (sources here, built on demand).

``build(name, defines)`` compiles ``NAME.c`` of this package with the machine's C
compiler (``cc``/``gcc``) into the cache (``$XDG_CACHE_HOME/promptwitness/native``, or
``PROMPTWITNESS_NATIVE_CACHE``), once per source, defines and machine, and returns its
path, or None and why not. ``scripts/setup.sh`` builds them ahead; a machine with no
compiler runs without them and the report says what that costs.

- ``getenv.c``: reports native programs' environment reads in a traced run
  (``discover.trace``);
- ``clock.c``: starts a run's wall clock at the probe's instant (``probe.clock``).
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

__all__ = ["SHIMS", "SOURCE_DIR", "build", "cache_dir", "defines", "main"]

SOURCE_DIR = Path(__file__).resolve().parent
_lock = threading.Lock()


def cache_dir() -> Path:
    env = os.environ.get("PROMPTWITNESS_NATIVE_CACHE")
    if env:
        return Path(env)
    return (
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        / "promptwitness"
        / "native"
    )


def build(
    name: str, defines: dict[str, str] | None = None, cache: Path | None = None
) -> tuple[Path | None, str]:
    """Compile ``NAME.c`` into a shared library (see the module). Returns (path, "")
    or (None, why not)."""
    src_path = SOURCE_DIR / f"{name}.c"
    src = src_path.read_bytes()
    flags = [f'-D{k}="{v}"' for k, v in sorted((defines or {}).items())]
    digest = hashlib.sha256(src + "\0".join(flags).encode()).hexdigest()[:16]
    cache = cache or cache_dir()
    out = cache / f"{name}-{digest}-{platform.machine() or 'cpu'}.so"
    if out.is_file():
        return out, ""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None, f"no C compiler (cc, gcc) to build the {name} shim"
    with _lock:
        if out.is_file():
            return out, ""
        try:
            cache.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{name}-", suffix=".so", dir=cache)
            os.close(fd)
            proc = subprocess.run(
                [
                    compiler,
                    "-shared",
                    "-fPIC",
                    "-O2",
                    "-Wall",
                    *flags,
                    "-o",
                    tmp,
                    str(src_path),
                    "-ldl",
                ],
                capture_output=True,
                timeout=120,
            )
            if proc.returncode != 0:
                os.unlink(tmp)
                return None, f"the {name} shim did not compile: " + proc.stderr.decode(
                    errors="replace"
                ).strip()[-500:]
            os.chmod(tmp, 0o644)
            os.replace(tmp, out)
        except (OSError, subprocess.SubprocessError) as exc:
            return None, f"cannot build the {name} shim: {exc}"
    return out, ""


# the shims and their compile-time paths (inside the run): the trace directory the
# getenv shim reports under, the file the clock shim reads its offset from
SHIMS: dict[str, dict[str, str]] = {
    "getenv": {"PW_TRACE_DIR": "/run/pw-trace"},
    "clock": {"PW_CLOCK_FILE": "/etc/ld.so.clock"},
}


def defines(name: str) -> dict[str, str]:
    return dict(SHIMS[name])


def main() -> int:
    """``python -m promptwitness.native``: build every shim into the cache
    (``scripts/setup.sh`` does). Prints each path, or why not; exit 1 if one failed."""
    failed = 0
    for name, values in SHIMS.items():
        path, why = build(name, values)
        print(f"{name}: {path}" if path is not None else f"{name}: not built: {why}")
        failed += path is None
    return 1 if failed else 0
