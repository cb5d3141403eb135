"""The agent cache (IO on a temporary directory, no network): one install per version,
atomic (nothing half-filled is ever used), errors that say what to do. npm is replaced
by a script on PATH; the PyPI path builds a real virtual environment from a local wheel
with pip's index turned off."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from promptwitness.agents import cache
from promptwitness.agents.cache import InstallError

FAKE_NPM = r"""#!/bin/sh
# fake npm: install --no-audit --no-fund --prefix DIR PKG@VER
echo "$@" >> "$FAKE_NPM_LOG"
prefix=$5; spec=$6
case "$spec" in
  *@9.9.9) echo "npm error code ETARGET" >&2
           echo "npm error notarget No matching version found for $spec." >&2; exit 1 ;;
  nosuch*) echo "npm error code E404" >&2
           echo "npm error 404 '$spec' is not in this registry." >&2; exit 1 ;;
  *nobin*) mkdir -p "$prefix/node_modules"; exit 0 ;;
esac
mkdir -p "$prefix/node_modules/.bin"
printf '#!/bin/sh\necho %s\n' "$spec" > "$prefix/node_modules/.bin/tool"
chmod +x "$prefix/node_modules/.bin/tool"
"""


@pytest.fixture
def fake_npm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    npm = bindir / "npm"
    npm.write_text(FAKE_NPM)
    npm.chmod(0o755)
    log = tmp_path / "npm.log"
    log.touch()
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    monkeypatch.setenv("FAKE_NPM_LOG", str(log))
    monkeypatch.setenv("PROMPTWITNESS_AGENT_CACHE", str(tmp_path / "cache"))
    return log


def _leftovers(name: str) -> list[str]:
    base = cache.cache_root() / name
    return [p.name for p in base.iterdir() if p.name.startswith(".") and p.is_dir()]


def test_npm_install_once_then_a_stat(fake_npm: Path) -> None:
    first = cache.ensure_npm("demo", "pkg", "1.2.3", bin_name="tool")
    assert first == cache.cache_root() / "demo" / "1.2.3" / "node_modules" / ".bin" / "tool"
    assert subprocess.run([str(first)], capture_output=True, text=True).stdout == "pkg@1.2.3\n"
    again = cache.ensure_npm("demo", "pkg", "1.2.3", bin_name="tool")
    assert again == first
    assert len(fake_npm.read_text().splitlines()) == 1  # npm ran once
    assert cache.is_cached("demo", "1.2.3") and cache.cached_versions("demo") == ["1.2.3"]
    assert _leftovers("demo") == []


def test_unknown_version_says_how_to_list_versions(fake_npm: Path) -> None:
    with pytest.raises(InstallError) as err:
        cache.ensure_npm("demo", "pkg", "9.9.9", bin_name="tool")
    msg = str(err.value)
    assert "No matching version" in msg and "promptwitness agents versions demo" in msg
    assert not cache.is_cached("demo", "9.9.9") and _leftovers("demo") == []


def test_unknown_package(fake_npm: Path) -> None:
    with pytest.raises(InstallError) as err:
        cache.ensure_npm("demo", "nosuchpkg", "1.0.0", bin_name="tool")
    assert "E404" in str(err.value) and "agents versions" in str(err.value)


def test_install_without_the_binary_is_not_cached(fake_npm: Path) -> None:
    with pytest.raises(InstallError, match="has no tool binary"):
        cache.ensure_npm("demo", "pkg-nobin", "1.0.0", bin_name="tool")
    assert cache.cached_versions("demo") == [] and _leftovers("demo") == []


def test_half_filled_version_is_replaced(fake_npm: Path) -> None:
    """A version directory without its marker (an old interrupted install) is not used."""
    stale = cache.version_dir("demo", "1.0.0") / "node_modules" / ".bin"
    stale.mkdir(parents=True)
    (stale / "tool").write_text("#!/bin/sh\necho stale\n")
    assert cache.cached_versions("demo") == []
    path = cache.ensure_npm("demo", "pkg", "1.0.0", bin_name="tool")
    assert "stale" not in path.read_text()
    assert len(fake_npm.read_text().splitlines()) == 1


def test_npm_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PROMPTWITNESS_AGENT_CACHE", str(tmp_path / "cache"))
    with pytest.raises(InstallError, match="npm is not installed"):
        cache.ensure_npm("demo", "pkg", "1.0.0", bin_name="tool")


def test_cached_versions_sort_numerically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTWITNESS_AGENT_CACHE", str(tmp_path))
    for v in ("2.1.10", "2.1.9", "2.1.100", "10.0.0", "2.1.9-beta"):
        (tmp_path / "demo" / v).mkdir(parents=True)
        (tmp_path / "demo" / v / cache.MARKER).write_text("{}")
    (tmp_path / "demo" / "3.0.0").mkdir()  # no marker: not a cached version
    assert cache.cached_versions("demo") == ["2.1.9", "2.1.9-beta", "2.1.10", "2.1.100", "10.0.0"]
    assert cache.cached_versions("other") == []


def test_install_hint_only_for_missing_packages() -> None:
    assert "agents versions x" in cache.install_hint(
        "ERROR: No matching distribution found for a==0", "a", "x"
    )
    plain = cache.install_hint("npm error code EACCES\npermission denied", "a", "x")
    assert "agents versions" not in plain and "permission denied" in plain


def test_ensure_node_off_x86_linux_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache.sys, "platform", "darwin")
    with pytest.raises(InstallError, match="install Node.js 22 or later yourself"):
        cache.ensure_node("22.23.5")


def _wheel(where: Path, version: str) -> Path:
    """A minimal pure-Python wheel ``pwdemo`` with a console script ``pwdemo``."""
    name = f"pwdemo-{version}-py3-none-any.whl"
    dist = f"pwdemo-{version}.dist-info"
    files = {
        "pwdemo.py": "def main():\n    print('pwdemo ok')\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: pwdemo\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
        f"{dist}/entry_points.txt": "[console_scripts]\npwdemo = pwdemo:main\n",
    }
    record = "".join(f"{p},,\n" for p in files) + f"{dist}/RECORD,,\n"
    path = where / name
    with zipfile.ZipFile(path, "w") as z:
        for p, text in files.items():
            z.writestr(p, text)
        z.writestr(f"{dist}/RECORD", record)
    return path


def test_pypi_venv_is_relocated_and_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTWITNESS_AGENT_CACHE", str(tmp_path / "cache"))
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _wheel(wheels, "1.0.0")
    offline = ("--no-index", "--find-links", str(wheels))
    script = cache.ensure_pypi("demo", "pwdemo", "1.0.0", bin_name="pwdemo", pip_args=offline)
    final = cache.version_dir("demo", "1.0.0")
    assert script == final / "venv" / "bin" / "pwdemo"
    assert script.read_text().splitlines()[0] == f"#!{final}/venv/bin/python"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([str(script)], capture_output=True, text=True, env=env)
    assert out.stdout == "pwdemo ok\n", out.stderr
    assert _leftovers("demo") == []
    mtime = (final / cache.MARKER).stat().st_mtime_ns
    assert (
        cache.ensure_pypi("demo", "pwdemo", "1.0.0", bin_name="pwdemo", pip_args=offline) == script
    )
    assert (final / cache.MARKER).stat().st_mtime_ns == mtime  # not reinstalled

    with pytest.raises(InstallError) as err:
        cache.ensure_pypi("demo", "pwdemo", "2.0.0", bin_name="pwdemo", pip_args=offline)
    assert "agents versions demo" in str(err.value)
    assert cache.cached_versions("demo") == ["1.0.0"] and _leftovers("demo") == []
    assert sys.executable  # the venv is of the running interpreter
