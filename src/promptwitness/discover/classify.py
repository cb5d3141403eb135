"""What a found string is (sans-IO apart from reading packaged data): ``classify``.

A string, decoded (``discover.decode``) or plain, is given the kinds of ``model.KINDS``
it matches; ``scan`` reports a table whose strings are ``interesting``. Each kind has
a rule with a dictionary behind it wherever one exists, so that random text rarely
matches by chance (``decode`` relies on that to accept a searched XOR key or ROT
rotation):

- ``url``: ``scheme://netloc...`` for a network scheme (http, https, ws, wss, ftp,
  sftp, ssh, git; ``file://`` with a path).
- ``ip``: an IPv4/IPv6 address or network (CIDR), as ``ipaddress`` parses it (IPv4 in
  dotted-quad form only; IPv6 only in space that is in use: global unicast, unique
  local, link-local, multicast, loopback, IPv4-mapped, NAT64 (``::1``, ``fe80::1``,
  ``2001:db8::/32``), not ``::``, ``8888::`` or ``::77``).
- ``host``: lower-case LDH labels (``[a-z0-9-]``, punycode ``xn--`` too), at least two,
  an optional ``:port``, the last label a top-level domain of the IANA root zone
  (``data/tlds-alpha-by-domain.txt``). Upper case is not a host (``Date.now``,
  ``README.md``: host names in code are written in lower case), nor a two-label name
  whose TLD is mostly seen as a file extension (``setup.py``, ``main.rs``, ``a.zip``;
  ``_FILE_TLDS``). A two-label name (``example.cn``) is both ``host`` and
  ``host-suffix``: it matches itself and every host below it.
- ``host-suffix``: the same with a leading ``.`` or ``*.`` (``.example.cn``,
  ``*.example.cn``, ``.cn``).
- ``zone``: an IANA time zone name as the system's tz database lists it
  (``zoneinfo.available_timezones()``, ``Asia/Shanghai``, backward links such as
  ``PRC`` and ``Asia/Calcutta`` included; a built-in list of common names when the
  system has none), names with a ``/`` matched case-insensitively, and UTC/GMT
  offsets (``UTC+8``, ``GMT-03:00``). Abbreviations (``CST``) are ambiguous, not zones.
- ``locale``: ``ll[_-]RR[.encoding][@modifier]`` and ``ll-Script[-RR]`` with an
  ISO 639 language, ISO 3166 region and ISO 15924 script (``data/locale-codes.txt``):
  ``zh_CN``, ``zh-CN``, ``zh_CN.UTF-8``, ``zh-Hans-CN``, ``es-419``; ``C.UTF-8``,
  ``C.utf8``, ``POSIX``. A bare language (``zh``) is not a locale (two-letter words
  would all be), a lower-case region only where the C library knows the pair
  (``zh_cn``, ``en-us``; ``locale.locale_alias``) so that ``to-do`` and ``it-is`` are
  not locales, and a language with an encoding only for a known encoding
  (``en.UTF-8``).
- ``env-var``: UPPER_SNAKE with at least one underscore (``ANTHROPIC_BASE_URL``),
  optionally written ``$NAME``, ``${NAME}`` or ``%NAME%``, or a well-known name
  without one (``HOME``, ``TZ``, ``LANG``, ``USER``, ``http_proxy``...: ``_ENV_NAMES``).
- ``path``: absolute or home-relative: ``/etc/os-release`` (not ``//host``), ``~``,
  ``~/...``, ``$HOME/...``, ``${HOME}/...``, ``%APPDATA%\\...``, ``C:\\...``,
  ``\\\\server\\share``; one line, no control characters.
- ``distro``: an os-release ``ID`` (``ubuntu``, ``uos``, ``kylin``, ``openEuler``...:
  ``DISTROS``), case-insensitively.
- ``keyword``: a short lower-case word (``[a-z][a-z0-9-]{1,23}``) that is none of the
  above; one keyword says little, a list of them (``interesting``) may be a table.

A string may have several kinds (``example.cn``: host and host-suffix); the empty set
means none. Surrounding white space is ignored; strings longer than ``MAX_LEN`` have no
kind.
"""

from __future__ import annotations

import ipaddress
import locale
import re
import zoneinfo
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources
from urllib.parse import urlsplit

__all__ = [
    "DISTROS",
    "MAX_LEN",
    "classify",
    "classify_strings",
    "interesting",
    "locale_codes",
    "tlds",
    "zones",
]

MAX_LEN = 2048
"""Longer strings get no kind (a table entry is short; this bounds the work)."""

DISTROS = frozenset(
    {
        # os-release ID values (lower case), the Chinese and cloud vendors' ones included
        "almalinux",
        "alinux",
        "alpine",
        "amzn",
        "anolis",
        "arch",
        "archlinux",
        "asianux",
        "azurelinux",
        "bclinux",
        "centos",
        "clear-linux-os",
        "ctyunos",
        "debian",
        "deepin",
        "endeavouros",
        "euleros",
        "fedora",
        "freebsd",
        "gentoo",
        "hce",
        "kali",
        "kylin",
        "linuxmint",
        "mageia",
        "manjaro",
        "mariner",
        "neokylin",
        "nixos",
        "ol",
        "openanolis",
        "opencloudos",
        "openeuler",
        "openkylin",
        "opensuse",
        "opensuse-leap",
        "opensuse-tumbleweed",
        "photon",
        "raspbian",
        "redhat",
        "rhel",
        "rocky",
        "slackware",
        "sled",
        "sles",
        "tencentos",
        "tlinux",
        "ubuntu",
        "uos",
        "uniontech",
        "zorin",
    }
)
"""Distribution ids (os-release ``ID``/``ID_LIKE`` values) classified as ``distro``.
Ids that are everyday words (``circle``, ``pop``, ``void``, ``elementary``) are left
out: they would make any word list a distro table."""

_ENV_NAMES = frozenset(
    {
        "APPDATA",
        "CI",
        "COMPUTERNAME",
        "DISPLAY",
        "EDITOR",
        "HOME",
        "HOMEDRIVE",
        "HOMEPATH",
        "HOSTNAME",
        "LANG",
        "LANGUAGE",
        "LOGNAME",
        "PATH",
        "PWD",
        "SHELL",
        "TEMP",
        "TERM",
        "TMP",
        "TMPDIR",
        "TZ",
        "USER",
        "USERDOMAIN",
        "USERNAME",
        "USERPROFILE",
        "VISUAL",
        "all_proxy",
        "ftp_proxy",
        "http_proxy",
        "https_proxy",
        "no_proxy",
    }
)
"""Environment variable names without an underscore (or in lower case) that are
well known enough to be ``env-var``."""

_FILE_TLDS = frozenset(
    {
        "java",
        "map",
        "md",
        "ml",
        "mm",
        "mov",
        "pm",
        "ps",
        "py",
        "rs",
        "tf",
        "zip",
    }
)
"""TLDs that, as the last label of a two-label name, are a file extension far more
often than a domain (``setup.py``, ``main.rs``); such a name is no host."""

_FALLBACK_ZONES = (
    "UTC",
    "GMT",
    "Etc/UTC",
    "Etc/GMT",
    "PRC",
    "Asia/Shanghai",
    "Asia/Chongqing",
    "Asia/Harbin",
    "Asia/Urumqi",
    "Asia/Hong_Kong",
    "Asia/Macau",
    "Asia/Taipei",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Asia/Singapore",
    "Asia/Kolkata",
    "Asia/Calcutta",
    "Asia/Dubai",
    "Asia/Tehran",
    "Asia/Jerusalem",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Moscow",
    "Europe/Kyiv",
    "Europe/Kiev",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "America/Toronto",
    "America/Mexico_City",
    "Australia/Sydney",
    "Pacific/Auckland",
    "Africa/Cairo",
    "Africa/Johannesburg",
    "US/Eastern",
    "US/Pacific",
)
"""Zones known without a tz database (Windows without the ``tzdata`` package)."""

_NOT_ZONES = frozenset({"localtime", "Factory", "posixrules", "posix", "right"})

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"(?P<lead>\*\.|\.)?(?P<name>{_LABEL}(?:\.{_LABEL})*)\.?(?::\d{{1,5}})?")
_URL = re.compile(r"(?i)(?:https?|wss?|s?ftp|ssh|git|file)://\S+")
_IPISH = re.compile(r"[0-9A-Fa-f:.]+(?:%[0-9A-Za-z]+)?(?:/\d{1,3})?")
_IPV6_USED = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "2000::/3",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
        "::1/128",
        "::ffff:0:0/96",
        "64:ff9b::/96",
    )
)
"""IPv6 space in use (global unicast, unique local, link-local, multicast, loopback,
IPv4-mapped, NAT64): other valid spellings (``8888::``, ``::77``) are reserved space
that code writes only by accident."""
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,2})?")
_OFFSET_ZONE = re.compile(r"(?:UTC|GMT)[+-](?:1[0-4]|0?\d)(?::?[0-5]\d)?")
_LOCALE = re.compile(
    r"(?P<lang>[a-z]{2,3})"
    r"(?:[_-](?P<script>[A-Z][a-z]{3}))?"
    r"(?:[_-](?P<region>[A-Za-z]{2}|\d{3}))?"
    r"(?:\.(?P<enc>[A-Za-z0-9-]{1,20}))?"
    r"(?:@(?P<mod>[A-Za-z0-9]{1,20}))?"
)
_C_LOCALE = re.compile(r"POSIX(?:\.(?:UTF-?8|utf-?8))?|C\.(?:UTF-?8|utf-?8)")
_ENCODING = re.compile(
    r"(?i)utf-?8|utf-?16|iso-?8859-?\d{1,2}|gb18030|gbk|gb2312|big5(?:-hkscs)?|euc-?[a-z]{2}"
    r"|koi8-?[ru]|cp\d{3,4}|ascii|ansi_x3\.4-1968|tis-?620|sjis|shift_jis"
)
_ENV = re.compile(r"(?:\$\{?|%)?(?P<name>[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|[A-Za-z_]+)\}?%?")
_PATH = re.compile(
    r"(?:/[^/\x00-\x1f][^\x00-\x1f]*"
    r"|~(?:[/\\][^\x00-\x1f]*)?"
    r"|\$(?:HOME|\{HOME\}|XDG_[A-Z_]+|\{XDG_[A-Z_]+\})(?:/[^\x00-\x1f]*)?"
    r"|%[A-Za-z_]+%(?:\\[^\x00-\x1f]*)?"
    r"|[A-Za-z]:\\[^\x00-\x1f]*"
    r"|\\\\[^\\\x00-\x1f]+(?:\\[^\x00-\x1f]*)?)"
)
_UPPER_SNAKE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
_KEYWORD = re.compile(r"[a-z][a-z0-9-]{1,23}")


def _data(name: str) -> str:
    return (resources.files("promptwitness.discover") / "data" / name).read_text("utf-8")


@cache
def tlds() -> frozenset[str]:
    """The IANA root zone's top-level domains, lower case (punycode for IDN TLDs)."""
    return frozenset(
        line.strip().lower()
        for line in _data("tlds-alpha-by-domain.txt").splitlines()
        if line.strip() and not line.startswith("#")
    )


@cache
def locale_codes() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(languages, regions, scripts) of ``data/locale-codes.txt``."""
    sections: dict[str, set[str]] = {"language": set(), "region": set(), "script": set()}
    for line in _data("locale-codes.txt").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in sections:
            sections[parts[0]].add(parts[1])
    return (
        frozenset(sections["language"]),
        frozenset(sections["region"]),
        frozenset(sections["script"]),
    )


@cache
def _locale_pairs() -> frozenset[str]:
    """``lang_region`` pairs the C library knows (``zh_cn``), lower case."""
    pairs = set()
    for key in locale.locale_alias:
        base = key.split(".", 1)[0].split("@", 1)[0]
        if "_" in base:
            pairs.add(base)
    return frozenset(pairs)


@cache
def zones() -> tuple[frozenset[str], dict[str, str]]:
    """(zone names, lower-case name -> name for the names with a ``/``)."""
    try:
        names = set(zoneinfo.available_timezones())
    except Exception:  # an unreadable tz database is no zone at all, not an error
        names = set()
    if not names:
        names = set(_FALLBACK_ZONES)
    names -= _NOT_ZONES
    names = {n for n in names if not n.startswith(("posix/", "right/"))}
    return frozenset(names), {n.lower(): n for n in names if "/" in n}


def _host_kinds(s: str) -> set[str]:
    m = _HOST.fullmatch(s)
    if m is None:
        return set()
    labels = m["name"].split(".")
    tld = labels[-1]
    if tld not in tlds():
        return set()
    if m["lead"]:
        return {"host-suffix"}
    if len(labels) < 2:
        return set()
    if len(labels) == 2:
        return set() if tld in _FILE_TLDS else {"host", "host-suffix"}
    return {"host"}


def _is_url(s: str) -> bool:
    if _URL.fullmatch(s) is None:
        return False
    try:
        parts = urlsplit(s)
        host = parts.hostname
    except ValueError:
        return False
    if parts.scheme.lower() == "file":
        return bool(parts.path)
    return bool(host)


def _is_ip(s: str) -> bool:
    if _IPISH.fullmatch(s) is None:
        return False
    if ":" not in s and _IPV4.fullmatch(s) is None:
        return False
    if ":" in s and (
        s.count(":") < 2 or not any(c in "0123456789abcdefABCDEF" for c in s.split("%", 1)[0])
    ):
        return False
    try:
        if "/" in s:
            address = ipaddress.ip_network(s, strict=False).network_address
        else:
            address = ipaddress.ip_address(s)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        return any(address in net for net in _IPV6_USED)
    return True


def _is_zone(s: str) -> bool:
    names, lower = zones()
    if s in names or ("/" in s and s.lower() in lower):
        return True
    return _OFFSET_ZONE.fullmatch(s) is not None


def _is_locale(s: str) -> bool:
    if _C_LOCALE.fullmatch(s):
        return True
    m = _LOCALE.fullmatch(s)
    if m is None:
        return False
    langs, regions, scripts = locale_codes()
    lang, script, region, enc = m["lang"], m["script"], m["region"], m["enc"]
    if lang not in langs:
        return False
    if script is not None and script not in scripts:
        return False
    if region is not None:
        if region.isdigit():
            ok = True
        elif region.isupper():
            ok = region in regions
        else:
            ok = region.islower() and f"{lang}_{region}" in _locale_pairs()
        if not ok:
            return False
    if enc is not None and _ENCODING.fullmatch(enc) is None and region is None:
        return False
    return script is not None or region is not None or enc is not None


def _is_env(s: str) -> bool:
    m = _ENV.fullmatch(s)
    if m is None:
        return False
    name = m["name"]
    wrapped = s != name
    if wrapped and s not in (f"${name}", f"${{{name}}}", f"%{name}%"):
        return False
    return _UPPER_SNAKE.fullmatch(name) is not None or name in _ENV_NAMES


def classify(s: str) -> frozenset[str]:
    """The kinds of ``model.KINDS`` that ``s`` matches (see the module's rules)."""
    s = s.strip()
    if not s or len(s) > MAX_LEN:
        return frozenset()
    kinds: set[str] = set()
    first = s[0]
    if "://" in s:
        if _is_url(s):
            kinds.add("url")
        return frozenset(kinds)
    if (first.isdigit() or ":" in s) and _is_ip(s):
        kinds.add("ip")
    if "." in s and not kinds:
        kinds |= _host_kinds(s)
    if not kinds and _is_zone(s):
        kinds.add("zone")
    if not kinds and first.isalpha() and _is_locale(s):
        kinds.add("locale")
    if not kinds and s.casefold() in DISTROS:
        kinds.add("distro")
    if not kinds and _is_env(s):
        kinds.add("env-var")
    if not kinds and (first in "/~$%\\" or s[1:2] == ":") and _PATH.fullmatch(s):
        kinds.add("path")
    if not kinds and _KEYWORD.fullmatch(s):
        kinds.add("keyword")
    return frozenset(kinds)


def classify_strings(strings: Iterable[str]) -> tuple[str, ...]:
    """The sorted union of the strings' kinds (for ``DecodedTable.kinds``)."""
    found: set[str] = set()
    for s in strings:
        found |= classify(s)
    return tuple(sorted(found))


def interesting(strings: Sequence[str]) -> bool:
    """Worth reporting: a string of a kind other than ``keyword``, or a keyword list
    (at least three of the strings are keywords)."""
    keywords = 0
    for s in strings:
        kinds = classify(s)
        if kinds - {"keyword"}:
            return True
        if kinds:
            keywords += 1
    return keywords >= 3
