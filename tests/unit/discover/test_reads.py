"""discover.reads: environment reads found in JS, Python, .pyc text and binary strings."""

from __future__ import annotations

import py_compile
from pathlib import Path

import pytest

from promptwitness.discover.model import Location
from promptwitness.discover.reads import find_reads
from promptwitness.discover.sources import pyc_text


def reads(text: str, fmt: str = "js") -> set[tuple[str, str]]:
    return {(r.kind, r.name) for r in find_reads(text, fmt, lambda i: Location("f", i))}


@pytest.mark.parametrize(
    ("code", "want"),
    [
        ("const a = process.env.ANTHROPIC_BASE_URL;", ("env", "ANTHROPIC_BASE_URL")),
        ('x = process.env["MY_VAR"]', ("env", "MY_VAR")),
        ("x = process.env[`TICK_VAR`]", ("env", "TICK_VAR")),
        ("x = Bun.env.BUN_ONLY", ("env", "BUN_ONLY")),
        ("x = import.meta.env.VITE_HOST", ("env", "VITE_HOST")),
        ('x = Deno.env.get("DENO_VAR")', ("env", "DENO_VAR")),
        (
            "Intl.DateTimeFormat().resolvedOptions().timeZone",
            ("zone", "Intl.DateTimeFormat().resolvedOptions().timeZone"),
        ),
        ("new Date().getTimezoneOffset()", ("zone", "Date.getTimezoneOffset()")),
        ('d.toLocaleString("en",{timeZoneName:"short"})', ("zone", "timeZoneName format option")),
        (
            "new Intl.NumberFormat().resolvedOptions().locale",
            ("locale", "Intl.DateTimeFormat().resolvedOptions().locale"),
        ),
        ("const l = navigator.language;", ("locale", "navigator.language")),
        ("process.env.LANG", ("locale", "$LANG")),
        ("process.env.TZ", ("zone", "$TZ")),
        ("require('os').hostname()", ("hostname", "os.hostname()")),
        ("os.userInfo().username", ("user", "os.userInfo()")),
        ("X.networkInterfaces()", ("netif", "os.networkInterfaces()")),
        ('fs.readFileSync("/etc/os-release","utf8")', ("file", "/etc/os-release")),
        ("M8().existsSync('/.dockerenv')", ("path", "/.dockerenv")),
        ('await fs.promises.access("/proc/self/cgroup")', ("path", "/proc/self/cgroup")),
        ('p.join(os.homedir(), ".npmrc")', ("path", "~/.npmrc")),
        ('D21.join(Uv3.homedir(),".aws","login","cache")', ("path", "~/.aws/login/cache")),
        ('dns.lookup("api.example.cn", cb)', ("dns", "api.example.cn")),
        ('await r.resolveTxt("_probe.example.com")', ("dns", "_probe.example.com")),
    ],
)
def test_js_rules(code: str, want: tuple[str, str]) -> None:
    assert want in reads(code)


def test_js_destructuring_and_aliases() -> None:
    code = (
        'let{CC:q,HOMEDRIVE:z=`C:${a.sep}`,"QUOTED_KEY":w,...rest}=process.env;'
        "function JS(q=process.env){return q.https_proxy||q.HTTPS_PROXY||q.someMethod}"
        "const e = process.env; if (e.CUSTOM_FLAG) go(); e = other; e.NOT_ENV_ANY_MORE;"
    )
    got = reads(code)
    for name in ("CC", "HOMEDRIVE", "QUOTED_KEY", "https_proxy", "HTTPS_PROXY", "CUSTOM_FLAG"):
        assert ("env", name) in got, name
    assert ("env", "rest") not in got
    assert ("env", "someMethod") not in got
    assert ("env", "NOT_ENV_ANY_MORE") not in got


@pytest.mark.parametrize(
    "code",
    [
        "const h = new URL(u).hostname;",  # a property, not os.hostname()
        "path.resolve('lib/x.js')",  # not a dns read
        "Promise.resolve('a.b.c')",
        "process.env[name]",  # a computed name
        "process.environment.FOO",
        "fs.readFileSync(`/tmp/${id}.json`)",  # a templated path
        "process.env.hasOwnProperty('X')",
    ],
)
def test_js_not_reads(code: str) -> None:
    got = reads(code)
    assert not {
        g for g in got if g[0] in ("env", "hostname", "dns", "file", "path") and g[1] not in ("X",)
    }, got


def test_python_rules() -> None:
    code = """
import os, time, locale, socket, getpass, pathlib
a = os.environ["PY_A"]
b = os.environ.get("PY_B", "x")
c = os.getenv('PY_C')
if "PY_D" in os.environ: pass
z = time.tzname
l = locale.getlocale()
h = socket.gethostname()
u = getpass.getuser()
f = open("/etc/machine-id").read()
e = pathlib.Path("/etc/debian_version").exists()
t = pathlib.Path("/etc/timezone").read_text()
n = os.path.expanduser("~/.config/tool.toml")
ip = socket.gethostbyname("api.example.cn")
"""
    got = reads(code, "python")
    for want in [
        ("env", "PY_A"),
        ("env", "PY_B"),
        ("env", "PY_C"),
        ("env", "PY_D"),
        ("zone", "time.tzname"),
        ("locale", "locale.getlocale()"),
        ("hostname", "socket.gethostname()"),
        ("user", "getpass.getuser()"),
        ("file", "/etc/machine-id"),
        ("path", "/etc/debian_version"),
        ("file", "/etc/timezone"),
        ("path", "~/.config/tool.toml"),
        ("dns", "api.example.cn"),
    ]:
        assert want in got, want


def test_pyc_rules(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text(
        "import os, socket\n"
        "def f():\n    return os.environ.get('PYC_SECRET') or os.getenv('HOME')\n"
        "def g():\n    return socket.gethostname()\n"
        "def h():\n    return open('/etc/os-release').read()\n"
        "def k():\n    return 'NOT_AN_ENV_READ'\n"
    )
    py_compile.compile(str(src), cfile=str(tmp_path / "m.pyc"))
    text = pyc_text((tmp_path / "m.pyc").read_bytes())
    assert text is not None
    got = reads(text, "python-bytecode")
    assert ("env", "PYC_SECRET") in got and ("env", "HOME") in got
    assert ("hostname", "socket.gethostname()") in got
    assert ("file", "/etc/os-release") in got
    assert ("env", "NOT_AN_ENV_READ") not in got


def test_binary_strings_are_conservative() -> None:
    text = "\n".join(
        [
            "some unrelated text",
            "CODEX_SANDBOX_MODE",
            "HOME",
            "failed to read OPENAI_ORG_ID from the environment variable",
            "random words here",
            "x" * 30,
            "x" * 30,
            "x" * 30,
            "LONELY_UPPER_NAME",
            "x" * 30,
            "x" * 30,
            "x" * 30,
            "jsonGLUED_TOGETHER_NAMEtext getenv",
            "/etc/codex/config.toml",
        ]
    )
    got = {
        (r.kind, r.name): r
        for r in find_reads(text, "binary-strings", lambda i: Location("bin", i))
    }
    assert ("env", "CODEX_SANDBOX_MODE") in got  # next to HOME
    assert ("env", "OPENAI_ORG_ID") in got  # its line says environment variable
    assert ("env", "LONELY_UPPER_NAME") not in got
    assert ("env", "GLUED_TOGETHER_NAME") not in got
    assert ("path", "/etc/codex/config.toml") in got
    assert got[("env", "CODEX_SANDBOX_MODE")].context.startswith("binary strings")


def test_locations_and_context() -> None:
    text = "let a = 1;\nconst x = process.env.WHERE_AM_I;"
    (r,) = [
        r
        for r in find_reads(text, "js", lambda i: Location("f.js", i, i))
        if r.name == "WHERE_AM_I"
    ]
    assert r.location.offset == text.index("process.env")
    assert "process.env.WHERE_AM_I" in r.context


def test_other_formats_have_no_reads() -> None:
    assert reads('{"process.env.X": 1}', "json") == set()
