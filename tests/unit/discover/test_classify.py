"""Kinds of found strings (discover.classify): each rule, its dictionaries, and what
must not match by accident."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptwitness.discover.classify import (
    DISTROS,
    MAX_LEN,
    classify,
    classify_strings,
    interesting,
    locale_codes,
    tlds,
    zones,
)
from promptwitness.discover.model import KINDS


def kinds(s: str) -> set[str]:
    return set(classify(s))


# -- dictionaries ------------------------------------------------------------------------


def test_packaged_tld_list_is_the_iana_root_zone() -> None:
    names = tlds()
    assert len(names) > 1400
    assert {"com", "cn", "io", "ai", "pa", "xn--fiqs8s"} <= names  # xn--fiqs8s: .中国
    assert all(n == n.lower() and "." not in n for n in names)


def test_packaged_locale_codes() -> None:
    languages, regions, scripts = locale_codes()
    assert {"zh", "en", "ja", "fil", "yue"} <= languages
    assert {"CN", "TW", "US", "DE"} <= regions and len(regions) == 249
    assert {"Hans", "Hant", "Latn", "Cyrl"} <= scripts


def test_zone_database_is_available() -> None:
    names, lower = zones()
    assert "Asia/Shanghai" in names and "localtime" not in names
    assert lower["asia/shanghai"] == "Asia/Shanghai"


# -- each kind ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("s", "expected"),
    [
        ("api.example.cn", {"host"}),
        ("api.example.com.cn", {"host"}),
        ("example.cn", {"host", "host-suffix"}),
        ("bun.sh", {"host", "host-suffix"}),
        ("api.example.cn:443", {"host"}),
        ("api.example.cn.", {"host"}),
        ("xn--fiqs8s.xn--fiqs8s", {"host", "host-suffix"}),
        (".example.cn", {"host-suffix"}),
        ("*.example.cn", {"host-suffix"}),
        (".cn", {"host-suffix"}),
        ("  .example.cn \n", {"host-suffix"}),
    ],
)
def test_hosts_and_suffixes(s: str, expected: set[str]) -> None:
    assert kinds(s) == expected


@pytest.mark.parametrize(
    "s",
    [
        "index.js",  # js is no TLD
        "setup.py",  # .py is Paraguay, but a two-label *.py is a file
        "main.rs",
        "archive.zip",
        "README.md",
        "Date.now",  # upper case: code, not a host
        "API.EXAMPLE.CN",
        "a.b",
        "example",
        "-bad.example.cn",
        "exa_mple.cn",
        "cn",
    ],
)
def test_not_hosts(s: str) -> None:
    assert not kinds(s) & {"host", "host-suffix"}


@pytest.mark.parametrize(
    "s",
    [
        "https://api.example.cn/v1/messages",
        "http://localhost:8080",
        "wss://x.example.com",
        "HTTPS://API.EXAMPLE.CN",
        "file:///etc/os-release",
        "git://example.org/repo.git",
    ],
)
def test_urls(s: str) -> None:
    assert kinds(s) == {"url"}


@pytest.mark.parametrize("s", ["https://", "http:///path", "javascript://x y", "ftp://"])
def test_not_urls(s: str) -> None:
    assert "url" not in kinds(s)


@pytest.mark.parametrize(
    "s",
    [
        "127.0.0.1",
        "10.0.0.0/8",
        "192.168.1.0/24",
        "::1",
        "fe80::1%eth0",
        "2001:db8::/32",
        "fd00::/8",
        "::ffff:1.2.3.4",
        "ff02::1",
    ],
)
def test_ips(s: str) -> None:
    assert kinds(s) == {"ip"}


@pytest.mark.parametrize(
    "s",
    [
        "1.2.3",
        "256.1.1.1",
        "1.2.3.4.5",
        "::",
        "8888::",
        "::77",
        "a:b",
        "1",
        "0x7f000001",
    ],
)
def test_not_ips(s: str) -> None:
    assert "ip" not in kinds(s)


@pytest.mark.parametrize(
    "s",
    [
        "Asia/Shanghai",
        "asia/shanghai",
        "America/Argentina/Buenos_Aires",
        "PRC",
        "UTC",
        "Etc/GMT-8",
        "Asia/Calcutta",
        "UTC+8",
        "GMT-03:00",
        "UTC+05:30",
    ],
)
def test_zones(s: str) -> None:
    assert kinds(s) == {"zone"}


@pytest.mark.parametrize("s", ["CST", "Asia/Atlantis", "localtime", "UTC+25", "Shanghai"])
def test_not_zones(s: str) -> None:
    assert "zone" not in kinds(s)


@pytest.mark.parametrize(
    "s",
    [
        "zh_CN",
        "zh-CN",
        "zh_CN.UTF-8",
        "zh_CN.GB18030",
        "zh-Hans",
        "zh-Hans-CN",
        "es-419",
        "en_US.utf8",
        "sr_RS@latin",
        "fil_PH",
        "C.UTF-8",
        "C.utf8",
        "POSIX",
        "en-us",
        "zh-cn",
        "en.UTF-8",
    ],
)
def test_locales(s: str) -> None:
    assert kinds(s) == {"locale"}


@pytest.mark.parametrize(
    "s",
    [
        "zh",
        "en",
        "C",
        "to-do",
        "it-is",
        "no-op",
        "xx_CN",
        "zh_XX",
        "zh-Abcd",
        "en.foo",
    ],
)
def test_not_locales(s: str) -> None:
    assert "locale" not in kinds(s)


@pytest.mark.parametrize(
    "s",
    [
        "ANTHROPIC_BASE_URL",
        "LC_ALL",
        "HOME",
        "TZ",
        "LANG",
        "USER",
        "$HOME",
        "${HOME}",
        "%APPDATA%",
        "http_proxy",
        "NO_PROXY",
    ],
)
def test_env_vars(s: str) -> None:
    assert kinds(s) == {"env-var"}


@pytest.mark.parametrize("s", ["MAXVALUE", "Home", "_", "A_", "$HOME}", "lower_snake"])
def test_not_env_vars(s: str) -> None:
    assert "env-var" not in kinds(s)


@pytest.mark.parametrize(
    "s",
    [
        "/etc/os-release",
        "/proc/version",
        "~",
        "~/.npmrc",
        "$HOME/.config/x",
        "${HOME}/x",
        "%APPDATA%\\npm",
        "C:\\Users\\me",
        "\\\\server\\share",
        "/Library/Application Support",
    ],
)
def test_paths(s: str) -> None:
    assert kinds(s) == {"path"}


@pytest.mark.parametrize("s", ["//cdn.example.com/x", "etc/os-release", "/etc/\nx", "/"])
def test_not_paths(s: str) -> None:
    assert "path" not in kinds(s)


@pytest.mark.parametrize(
    "s",
    [
        "ubuntu",
        "Ubuntu",
        "uos",
        "kylin",
        "openEuler",
        "anolis",
        "alinux",
        "tencentos",
        "openkylin",
        "deepin",
        "arch",
    ],
)
def test_distros(s: str) -> None:
    assert kinds(s) == {"distro"}


def test_everyday_words_are_no_distros() -> None:
    assert not {"circle", "pop", "void", "elementary"} & DISTROS
    assert kinds("circle") == {"keyword"}


@pytest.mark.parametrize(
    ("s", "expected"),
    [
        ("deepseek", {"keyword"}),
        ("moonshot", {"keyword"}),
        ("zhipu-ai", {"keyword"}),
        ("Hello", set()),
        ("hello world", set()),
        ("x", set()),
        ("", set()),
        ("   ", set()),
        ("a" * 30, set()),
    ],
)
def test_keywords(s: str, expected: set[str]) -> None:
    assert kinds(s) == expected


def test_too_long_is_nothing() -> None:
    assert classify("a." * MAX_LEN + "cn") == frozenset()


# -- tables ------------------------------------------------------------------------------


def test_classify_strings_is_the_sorted_union() -> None:
    assert classify_strings([".example.cn", "Asia/Shanghai", "hello", "Hello world"]) == (
        "host-suffix",
        "keyword",
        "zone",
    )
    assert classify_strings([]) == ()


def test_interesting() -> None:
    assert interesting(["nothing here", ".example.cn"])
    assert interesting(["ANTHROPIC_BASE_URL"])
    assert interesting(["deepseek", "moonshot", "minimax"])  # a keyword list
    assert not interesting(["deepseek", "moonshot"])  # two words are not one
    assert not interesting(["Hello world", "Some text."])
    assert not interesting([])


# -- properties --------------------------------------------------------------------------

LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
KNOWN_TLDS = sorted(t for t in tlds() if not t.startswith("xn--"))


@given(st.lists(LABEL, min_size=2, max_size=4), st.sampled_from(KNOWN_TLDS))
def test_any_name_under_a_known_tld_is_a_host(labels: list[str], tld: str) -> None:
    name = ".".join([*labels, tld])
    assert "host" in kinds(name)
    assert kinds("." + name) == {"host-suffix"}


@settings(max_examples=300)
@given(st.text(max_size=80))
def test_classify_never_raises_and_returns_known_kinds(s: str) -> None:
    found = classify(s)
    assert found <= set(KINDS)
    assert "keyword" not in found or len(found) == 1
