"""Environment reads in code (sans-IO): what a program asks its machine, found by
pattern, as :class:`~promptwitness.discover.model.Read` values.

Rules, by language. Names are taken only from literals written in the code (a read
through a computed name, ``process.env[k]``, is not reported). ``Read.name`` is the
variable for ``env``, the path for ``file``/``path`` (``~/`` for the home), the host
for ``dns``, and the API for the other kinds (``os.hostname()``).

JavaScript / TypeScript (formats ``js``, ``js-bundle``):

- ``env``: ``process.env.X``, ``process.env["X"]``, ``Bun.env.X``,
  ``import.meta.env.X``, ``Deno.env.get("X")``, destructuring
  ``const {X, Y: y, Z = 1} = process.env``, and, in minified code, an alias
  ``k = process.env`` (also a default parameter) followed within ``ALIAS_WINDOW``
  characters by ``k.X`` / ``k["X"]`` where ``X`` is UPPER_SNAKE or a well-known
  lower-case name (``http_proxy``); ``TZ`` also counts as a ``zone`` read, ``LANG``,
  ``LANGUAGE`` and ``LC_*`` as ``locale``, ``USER``, ``USERNAME``, ``LOGNAME``,
  ``HOME`` as ``user``, ``HOSTNAME`` as ``hostname``.
- ``zone``: ``resolvedOptions().timeZone``, ``getTimezoneOffset()``, a
  ``timeZoneName`` format option; ``locale``: ``resolvedOptions().locale``,
  ``navigator.language(s)``; a bare ``resolvedOptions()`` is both.
- ``hostname``: ``X.hostname()`` (a call: URL's ``hostname`` is a property);
  ``user``: ``X.userInfo()``, ``X.homedir()``, ``X.getuid()``; ``netif``:
  ``X.networkInterfaces()``.
- ``file`` / ``path``: an fs call whose first argument is an absolute or ``~/``
  path literal: ``readFileSync``, ``readFile``, ``createReadStream``, ``open(Sync)``
  read (``file``); ``existsSync``, ``statSync``, ``lstatSync``, ``readdirSync``,
  ``accessSync``, ``realpathSync`` and their callback forms probe (``path``); and
  ``join(X.homedir(), ".aws", "config")``-style home paths (``path``:
  ``~/.aws/config``).
- ``dns``: ``dns.lookup("host")``, ``dns.resolve*("host")``, ``resolve4/6/Txt/...``.

Python (``python``): ``os.environ["X"]``, ``os.environ.get("X")``,
``os.getenv("X")``, ``"X" in os.environ``; ``time.tzname``, ``time.timezone``,
``.astimezone()``, ``tzlocal`` (zone); ``locale.getlocale()`` and friends (locale);
``socket.gethostname()``, ``platform.node()``, ``os.uname()`` (hostname);
``getpass.getuser()``, ``os.getlogin()``, ``pwd.getpw*``, ``Path.home()``,
``expanduser("~")`` (user); ``psutil.net_if_addrs()``, ``netifaces`` (netif);
``open("/etc/...")``, ``Path("/etc/...").read_text()`` (file); ``Path(...).exists()``,
``os.path.exists("/...")``, ``os.listdir("/...")``, ``expanduser("~/.x")`` (path);
``socket.gethostbyname("h")``, ``getaddrinfo("h", ...)``, ``dns.resolver.resolve``
(dns).

Python bytecode (``python-bytecode``, the ``.pyc`` text of ``sources.pyc_text``): a
code object whose names include ``getenv`` or ``environ`` reads each of its
UPPER_SNAKE string constants (``env``); ``gethostname``/``getuser``/``tzname``/
``getlocale``/``net_if_addrs`` among its names are reads of their kind; an absolute
path constant of a code object that calls ``open`` is a ``file`` read.

Native binaries (``binary-strings``): names are not visible in calls, so only
conservatively: an UPPER_SNAKE string standing alone (not glued to other letters, nor
two names found on their own run together) with a well-known variable (``HOME``,
``PATH``, ``HTTPS_PROXY``...) or a mention of the environment (``getenv``,
``environ``, ``env::var``, ``environment variable``) within ``BIN_NEAR`` characters
on its line, or on one of the two short strings (``BIN_NEAR`` characters at most)
around it; a string that is exactly an absolute path under ``/etc``, ``/proc`` or
``/sys`` of lower-case segments (``[a-z0-9._%@+-]``, as system paths are: a
truncated fragment of machine code is not) or under ``~/`` is a ``path`` read. Their
``context`` starts with ``binary strings``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from promptwitness.discover.model import Location, Read

__all__ = ["ALIAS_WINDOW", "KNOWN_ENV", "find_reads"]

ALIAS_WINDOW = 2000
BIN_NEAR = 100  # binary strings: how near an environment mark must be (characters)
CONTEXT = 50
MAX_READS = 20_000  # per text

KNOWN_ENV = frozenset(
    {
        "HOME",
        "PATH",
        "TZ",
        "LANG",
        "LANGUAGE",
        "LC_ALL",
        "LC_CTYPE",
        "LC_MESSAGES",
        "LC_TIME",
        "USER",
        "USERNAME",
        "LOGNAME",
        "SHELL",
        "TERM",
        "TMPDIR",
        "PWD",
        "EDITOR",
        "VISUAL",
        "DISPLAY",
        "HOSTNAME",
        "CI",
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        "XDG_CACHE_HOME",
        "XDG_STATE_HOME",
        "XDG_RUNTIME_DIR",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "all_proxy",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "NODE_EXTRA_CA_CERTS",
        "APPDATA",
        "USERPROFILE",
        "LOCALAPPDATA",
    }
)
"""Variables every platform knows (also what marks an environment neighbourhood in
binary strings)."""

_LOWER_ENV = frozenset(n for n in KNOWN_ENV if n.islower())
_ALSO = {
    "TZ": "zone",
    "LANG": "locale",
    "LANGUAGE": "locale",
    "LC_ALL": "locale",
    "USER": "user",
    "USERNAME": "user",
    "LOGNAME": "user",
    "HOME": "user",
    "HOSTNAME": "hostname",
}
_NOT_VARS = frozenset(
    {
        "hasOwnProperty",
        "toString",
        "constructor",
        "valueOf",
        "propertyIsEnumerable",
        "isPrototypeOf",
        "toLocaleString",
    }
)

_IDENT = r"[A-Za-z_$][\w$]*"
_STR = r"(?P<q>['\"`])(?P<s>[^'\"`\\\n]{1,300})(?P=q)"
_JS_ANCHOR = re.compile(
    r"process\.env|Bun\.env|import\.meta\.env|Deno\.env\.get\(\s*|resolvedOptions\(\s*\)"
    r"|getTimezoneOffset\(\s*\)|timeZoneName\s*:|navigator\.languages?"
    r"|\.(?:hostname|userInfo|homedir|networkInterfaces|getuid)\(\s*\)"
    r"|\(\s*(?=['\"`](?:/(?!/)|~/))|dns\.(?:promises\.)?(?:lookup|resolve\w*)\(\s*"
    r"|\.resolve(?:4|6|Txt|Cname|Any|Srv|Mx|Ns)\(\s*"
)
"""Anchors of the JS rules: each alternative starts with a literal, so ``re`` skips
fast over a 10 MB bundle; the rule is decided by the text around the anchor."""
_FS_CALL = re.compile(
    r"(?:^|[^\w$])(?P<f>readFileSync|readFile|createReadStream|openSync"
    r"|existsSync|statSync|lstatSync|readdirSync|accessSync|realpathSync"
    r"|access|stat|lstat|readdir|exists|open)\s*$"
)
_ALIAS_BEFORE = re.compile(r"(?:^|[^\w$.])(?P<a>[A-Za-z_$][\w$]*)\s*=\s*$")
_FS_READ = frozenset({"readFileSync", "readFile", "createReadStream", "openSync", "open"})
_ABS = r"(?:/(?!/)(?:(?!\$\{)[^'\"`\s\\]){1,250}|~/(?:(?!\$\{)[^'\"`\s\\]){1,250})"
_ARG_PATH = re.compile(r"(?P<q>['\"`])(?P<s>" + _ABS + r")(?P=q)")
_ARG_HOST = re.compile(r"(?P<q>['\"`])(?P<s>[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+)(?P=q)")
_MEMBER = re.compile(r"\s*(?:\.\s*(?P<m>" + _IDENT + r")|\[\s*" + _STR + r"\s*\])")
_HOME_ARGS = re.compile(
    r"\s*,\s*(?P<q>['\"`])(?P<s>[^'\"`\\\n/]{1,100}(?:/[^'\"`\\\n]{0,100})?)"
    r"(?P=q)"
)
_ENV_NAME = r"(?:[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Z]{2,}|" + "|".join(sorted(_LOWER_ENV)) + r")"

_PY_RULES: list[tuple[re.Pattern[str], str, str | None]] = [
    # (pattern, kind, fixed name or None = group "s")
    (re.compile(r"\bos\.environ\s*\[\s*" + _STR + r"\s*\]"), "env", None),
    (re.compile(r"\benviron\.(?:get|pop|setdefault)\(\s*" + _STR), "env", None),
    (re.compile(r"\bgetenv[bs]?\(\s*" + _STR), "env", None),
    (re.compile(_STR + r"\s+(?:not\s+)?in\s+os\.environ\b"), "env", None),
    (re.compile(r"\btime\.(?:tzname|timezone|altzone)\b"), "zone", "time.tzname"),
    (re.compile(r"\.tm_zone\b"), "zone", "time.localtime().tm_zone"),
    (re.compile(r"\.astimezone\(\s*\)"), "zone", "datetime.astimezone()"),
    (re.compile(r"\b(?:tzlocal|get_localzone)\b"), "zone", "tzlocal"),
    (
        re.compile(
            r"\blocale\.(?:getlocale|getdefaultlocale|getpreferredencoding|"
            r"getencoding)\("
        ),
        "locale",
        "locale.getlocale()",
    ),
    (
        re.compile(r"\blocale\.setlocale\([^,()]{1,40},\s*(?P<q>['\"])(?P=q)\s*\)"),
        "locale",
        'locale.setlocale(LC_*, "")',
    ),
    (re.compile(r"\bsocket\.(?:gethostname|getfqdn)\("), "hostname", "socket.gethostname()"),
    (re.compile(r"\bplatform\.(?:node|uname)\(|\bos\.uname\("), "hostname", "os.uname()"),
    (re.compile(r"\bgetpass\.getuser\("), "user", "getpass.getuser()"),
    (re.compile(r"\bos\.getlogin\("), "user", "os.getlogin()"),
    (re.compile(r"\bpwd\.getpw\w*\("), "user", "pwd.getpwuid()"),
    (
        re.compile(r"\bPath\.home\(\s*\)|expanduser\(\s*(?P<q>['\"])~(?P=q)\s*\)"),
        "user",
        "home directory",
    ),
    (re.compile(r"\bos\.get(?:e?uid)\(\s*\)"), "user", "os.getuid()"),
    (
        re.compile(r"\bpsutil\.net_if_\w+\(|\bnetifaces\.\w+\(|\bsocket\.if_nameindex\("),
        "netif",
        "network interfaces",
    ),
    (re.compile(r"\bopen\(\s*" + r"(?P<q>['\"])(?P<s>" + _ABS + r")(?P=q)"), "file", None),
    (
        re.compile(
            r"\bPath\(\s*(?P<q>['\"])(?P<s>" + _ABS + r")(?P=q)\s*\)\s*\.\s*"
            r"(?:read_text|read_bytes|open)\("
        ),
        "file",
        None,
    ),
    (
        re.compile(
            r"\bPath\(\s*(?P<q>['\"])(?P<s>" + _ABS + r")(?P=q)\s*\)\s*\.\s*"
            r"(?:exists|is_file|is_dir|stat|iterdir|glob|resolve)\("
        ),
        "path",
        None,
    ),
    (
        re.compile(
            r"\bos\.(?:path\.(?:exists|isfile|isdir|getsize|islink|realpath)|listdir"
            r"|stat|lstat|access|scandir)\(\s*(?P<q>['\"])(?P<s>" + _ABS + r")(?P=q)"
        ),
        "path",
        None,
    ),
    (re.compile(r"expanduser\(\s*(?P<q>['\"])(?P<s>~/[^'\"\n]{1,200})(?P=q)"), "path", None),
    (
        re.compile(
            r"\bsocket\.(?:gethostbyname|gethostbyname_ex|getaddrinfo)\(\s*"
            r"(?P<q>['\"])(?P<s>[A-Za-z0-9.-]+\.[A-Za-z0-9-]+)(?P=q)"
        ),
        "dns",
        None,
    ),
    (
        re.compile(
            r"\bresolver\.(?:resolve|query)\(\s*"
            r"(?P<q>['\"])(?P<s>[A-Za-z0-9.-]+\.[A-Za-z0-9-]+)(?P=q)"
        ),
        "dns",
        None,
    ),
]

_PYC_CODE = re.compile(r"^# code (?P<qual>\S*) names: (?P<names>.*)$", re.M)
_PYC_STR = re.compile(r"^(?P<q>['\"])(?P<s>[^'\"\\\n]{1,300})(?P=q)$", re.M)
_PYC_KINDS = {
    "gethostname": ("hostname", "socket.gethostname()"),
    "getfqdn": ("hostname", "socket.getfqdn()"),
    "getuser": ("user", "getpass.getuser()"),
    "getlogin": ("user", "os.getlogin()"),
    "tzname": ("zone", "time.tzname"),
    "get_localzone": ("zone", "tzlocal"),
    "getlocale": ("locale", "locale.getlocale()"),
    "getdefaultlocale": ("locale", "locale.getdefaultlocale()"),
    "net_if_addrs": ("netif", "network interfaces"),
}

_BIN_TOKEN = re.compile(r"(?<![A-Za-z0-9_])(?P<s>[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)(?![A-Za-z0-9_])")
_BIN_MARK = re.compile(
    r"getenv|environ|env::var|std::env|os\.Getenv|LookupEnv|environment variable|env var"
    r"|(?<![A-Za-z0-9_])(?:"
    + "|".join(sorted(KNOWN_ENV, key=len, reverse=True))
    + r")(?![A-Za-z0-9_])"
)
_BIN_PATH = re.compile(r"(?:/etc|/proc|/sys)(?:/[a-z0-9._%@+-]+)+/?|~(?:/[A-Za-z0-9._-]+)+/?")


def _context(text: str, start: int, end: int) -> str:
    a = max(0, start - CONTEXT)
    b = min(len(text), end + CONTEXT)
    return text[a:b].replace("\n", " ").replace("\r", " ")


class _Out:
    def __init__(self, text: str, locate: Callable[[int], Location]) -> None:
        self.text = text
        self.locate = locate
        self.reads: list[Read] = []

    def add(self, kind: str, name: str, start: int, end: int, context: str | None = None) -> None:
        if len(self.reads) >= MAX_READS:
            return
        self.reads.append(
            Read(
                kind,
                name,
                self.locate(start),
                context if context is not None else _context(self.text, start, end),
            )
        )

    def env(self, name: str, start: int, end: int, how: str = "") -> None:
        if not name or name in _NOT_VARS or len(name) > 200:
            return
        ctx = _context(self.text, start, end)
        if how:
            ctx = f"{how}: {ctx}"
        self.add("env", name, start, end, ctx)
        also = _ALSO.get(name) or ("locale" if name.startswith("LC_") else None)
        if also:
            self.add(also, f"${name}", start, end, ctx)


def find_reads(text: str, fmt: str, locate: Callable[[int], Location]) -> list[Read]:
    """Every read of ``text`` (a piece of format ``fmt``), in text order per rule."""
    out = _Out(text, locate)
    if fmt in ("js", "js-bundle"):
        _js(out)
    elif fmt == "python":
        _python(out)
    elif fmt == "python-bytecode":
        _pyc(out)
    elif fmt == "binary-strings":
        _binary(out)
    return out.reads


# ------------------------------------------------------------------ JavaScript


def _js(out: _Out) -> None:
    text = out.text
    aliases: list[tuple[str, int]] = []
    destructured: list[tuple[int, int]] = []
    for m in _JS_ANCHOR.finditer(text):
        tok = m.group()
        start, end = m.start(), m.end()
        if tok.endswith("env"):
            if text[end : end + 1].isalnum() or text[end : end + 1] in "_$":
                continue
            mm = _MEMBER.match(text, end)
            if mm is not None:
                name = mm.group("m") or mm.group("s") or ""
                if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                    out.env(name, start, mm.end())
                continue
            before = text[max(0, start - 60) : start]
            if before.rstrip().endswith("=") and not before.rstrip().endswith(("==", "!=")):
                stripped = before.rstrip()[:-1].rstrip()
                if stripped.endswith("}"):
                    destructured.append((start - (len(before) - len(stripped)), end))
                else:
                    am = _ALIAS_BEFORE.search(before)
                    if am is not None:
                        aliases.append((am.group("a"), end))
        elif tok.startswith("Deno"):
            mm = re.match(_STR, text[end : end + 310])
            if mm is not None:
                out.env(mm.group("s"), start, end + mm.end())
        elif tok.startswith("resolvedOptions"):
            after = text[end : end + 12]
            if after.startswith(".timeZone"):
                out.add("zone", "Intl.DateTimeFormat().resolvedOptions().timeZone", start, end + 9)
            elif after.startswith(".locale"):
                out.add("locale", "Intl.DateTimeFormat().resolvedOptions().locale", start, end + 7)
            elif not after.startswith((".calendar", ".numberingSystem", ".hour")):
                out.add("zone", "Intl.DateTimeFormat().resolvedOptions()", start, end)
                out.add("locale", "Intl.DateTimeFormat().resolvedOptions()", start, end)
        elif tok.startswith("getTimezoneOffset"):
            out.add("zone", "Date.getTimezoneOffset()", start, end)
        elif tok.startswith("timeZoneName"):
            out.add("zone", "timeZoneName format option", start, end)
        elif tok.startswith("navigator"):
            if not (text[end : end + 1].isalnum() or text[end : end + 1] in "_$"):
                out.add("locale", tok, start, end)
        elif tok.startswith("."):
            call = tok[1:].split("(")[0]
            if call.startswith("resolve"):
                _dns_arg(out, start, end)
                continue
            kind = {"hostname": "hostname", "networkInterfaces": "netif"}.get(call, "user")
            out.add(kind, f"os.{call}()", start + 1, end)
            if call == "homedir":
                _home_join(out, end)
        elif tok.startswith("("):
            fm = _FS_CALL.search(text[max(0, start - 40) : start])
            if fm is not None:
                mm = _ARG_PATH.match(text, end)
                if mm is not None:
                    kind = "file" if fm.group("f") in _FS_READ else "path"
                    out.add(kind, mm.group("s"), start - len(fm.group("f")), mm.end())
        elif tok.startswith("dns"):
            _dns_arg(out, start, end)
    for alias, pos in aliases:
        _js_alias(out, alias, pos)
    for close, end in destructured:
        _js_destructuring(out, close, end)


def _dns_arg(out: _Out, start: int, end: int) -> None:
    mm = _ARG_HOST.match(out.text, end)
    if mm is not None:
        out.add("dns", mm.group("s").lower(), start, mm.end())


def _home_join(out: _Out, pos: int) -> None:
    parts: list[str] = []
    text = out.text
    while len(parts) < 8:
        mm = _HOME_ARGS.match(text, pos)
        if mm is None:
            break
        parts.append(mm.group("s"))
        pos = mm.end()
    if parts:
        out.add("path", "~/" + "/".join(p.strip("/") for p in parts), pos, pos)


def _js_alias(out: _Out, alias: str, start: int) -> None:
    """``alias = process.env``: ``alias.NAME`` / ``alias["NAME"]`` in the next
    ``ALIAS_WINDOW`` characters, until the alias is bound again."""
    text = out.text
    window = text[start : start + ALIAS_WINDOW]
    name = re.escape(alias)
    pat = re.compile(
        r"(?<![\w$.])"
        + name
        + r"\s*(?:\.\s*(?P<m>"
        + _ENV_NAME
        + r")(?![\w$])|\[\s*(?P<q>['\"`])(?P<s>"
        + _ENV_NAME
        + r")(?P=q)\s*\])"
    )
    rebind = re.compile(r"(?<![\w$.])" + name + r"\s*=(?![=>])|(?<![\w$])function\b")
    stop = rebind.search(window)
    limit = stop.start() if stop is not None else len(window)
    for mm in pat.finditer(window, 0, limit):
        var = mm.group("m") or mm.group("s") or ""
        out.env(var, start + mm.start(), start + mm.end(), how=f"via {alias}=process.env")


def _js_destructuring(out: _Out, close: int, end: int) -> None:
    """``{A, B: b, C = 1} = process.env`` whose ``}`` is at ``close``."""
    text = out.text
    depth = 0
    i = close
    floor = max(0, close - 4000)
    while i >= floor:
        c = text[i]
        if c == "}":
            depth += 1
        elif c == "{":
            depth -= 1
            if depth == 0:
                break
        i -= 1
    if i < floor or depth != 0:
        return
    for key in _top_level_keys(text[i + 1 : close]):
        out.env(key, i, end, how="destructured from process.env")


def _top_level_keys(body: str) -> list[str]:
    keys: list[str] = []
    depth = 0
    start = 0
    parts: list[str] = []
    for j, c in enumerate(body):
        if c in "{[(":
            depth += 1
        elif c in "}])":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(body[start:j])
            start = j + 1
    parts.append(body[start:])
    for part in parts:
        p = part.strip()
        if not p or p.startswith("..."):
            continue
        key = re.split(r"\s*[:=]", p, maxsplit=1)[0].strip().strip("'\"`")
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            keys.append(key)
    return keys


# ------------------------------------------------------------------ Python


def _python(out: _Out) -> None:
    text = out.text
    for pattern, kind, fixed in _PY_RULES:
        for m in pattern.finditer(text):
            name = fixed if fixed is not None else m.group("s")
            if kind == "env":
                if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                    out.env(name, m.start(), m.end())
            else:
                out.add(kind, name.lower() if kind == "dns" else name, m.start(), m.end())


def _pyc(out: _Out) -> None:
    text = out.text
    heads = list(_PYC_CODE.finditer(text))
    for i, h in enumerate(heads):
        names = set(h.group("names").split())
        body_end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        env = bool(names & {"getenv", "environ", "getenvb"})
        opens = "open" in names
        for key, (kind, api) in _PYC_KINDS.items():
            if key in names:
                out.add(kind, api, h.start(), h.end(), f"pyc constants: {h.group('qual')}")
        if not (env or opens):
            continue
        for m in _PYC_STR.finditer(text, h.end(), body_end):
            s = m.group("s")
            snake = re.fullmatch(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+", s) is not None
            if env and (snake or s in KNOWN_ENV):
                out.env(s, m.start(), m.end(), how=f"pyc constants of {h.group('qual')}")
            elif opens and re.fullmatch(_ABS, s):
                out.add("file", s, m.start(), m.end(), f"pyc constants of {h.group('qual')}")


# ------------------------------------------------------------------ binary strings


def _binary(out: _Out) -> None:
    text = out.text
    lines: list[tuple[int, int]] = []
    pos = 0
    n = len(text)
    while pos < n:
        nl = text.find("\n", pos)
        end = n if nl < 0 else nl
        lines.append((pos, end))
        pos = end + 1
    tokens = {m.group("s") for a, b in lines for m in _BIN_TOKEN.finditer(text, a, b)}
    marks = [False] * len(lines)
    for i, (a, b) in enumerate(lines):
        if _BIN_MARK.search(text, a, b):
            marks[i] = True
    for i, (a, b) in enumerate(lines):
        line = text[a:b]
        if _BIN_PATH.fullmatch(line):
            out.add("path", line, a, b, f"binary strings: {line[:120]}")
            continue
        if not (marks[i] or any(marks[max(0, i - 2) : i]) or any(marks[i + 1 : i + 3])):
            continue
        spans = [mk.span() for mk in _BIN_MARK.finditer(line)] if marks[i] else []
        near = len(line) <= BIN_NEAR and any(
            marks[j] and lines[j][1] - lines[j][0] <= BIN_NEAR
            for j in range(max(0, i - 2), min(len(lines), i + 3))
            if j != i
        )
        for m in _BIN_TOKEN.finditer(line):
            name = m.group("s")
            if len(name) > 64 or _glued(name, tokens):
                continue
            # the neighbourhood must show the environment through something else: a
            # mark within BIN_NEAR characters on its line, or a short string next to it
            others = any(
                not (m.start() <= a and b <= m.end())
                and a < m.end() + BIN_NEAR
                and b > m.start() - BIN_NEAR
                for a, b in spans
            )
            if others or near:
                out.add(
                    "env",
                    name,
                    a + m.start(),
                    a + m.end(),
                    f"binary strings: {line[max(0, m.start() - 60) : m.end() + 60]}",
                )


def _glued(name: str, tokens: set[str]) -> bool:
    """Two names of the same strings run together (``A_KEYB_TOKEN``): the parts are
    names found on their own elsewhere."""
    return any(name[:k] in tokens and name[k:] in tokens for k in range(3, len(name) - 2))
