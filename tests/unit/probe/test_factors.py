"""The factor catalog: every factor's apply is pure, does what its module says, and
commutes with every other factor (sans-IO)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptwitness.errors import UsageError
from promptwitness.probe import factors as F
from promptwitness.probe.factors import (
    endpoint_host,
    git_email,
    locale,
    proxy,
    registry_mirror,
    tz,
)
from promptwitness.probe.sandbox import RunSpec

CTX = F.FactorContext(
    port=4321, base_url_vars=(("ANTHROPIC_BASE_URL", ""), ("OPENAI_BASE_URL", "/v1"))
)
BASE = RunSpec(argv=("agent", "-p", "hi"))


def env(spec: RunSpec) -> dict[str, str]:
    return dict(spec.env)


def test_catalog_has_the_designed_factors_in_order() -> None:
    assert list(F.FACTORS) == [
        "tz",
        "system-tz",
        "locale",
        "endpoint-host",
        "proxy",
        "hostname",
        "user",
        "git-email",
        "git-remote",
        "registry-mirror",
        "os-release",
        "resolver",
    ]
    for name, factor in F.FACTORS.items():
        assert factor.name == name and factor.description
        assert len(factor.levels) >= 5, name
        assert len(set(factor.levels)) == len(factor.levels), name
        for level in factor.levels:
            factor.check(level)


def test_controls() -> None:
    assert {n: f.control for n, f in F.FACTORS.items()} == {
        "tz": "UTC",
        "system-tz": "UTC",
        "locale": "C.UTF-8",
        "endpoint-host": "127.0.0.1",
        "proxy": "none",
        "hostname": "devbox",
        "user": "dev",
        "git-email": "dev@example.com",
        "git-remote": "github.com",
        "registry-mirror": "default",
        "os-release": "debian-12",
        "resolver": "loopback",
    }


def test_required_levels_are_present() -> None:
    zones = {
        "UTC",
        "Asia/Shanghai",
        "Asia/Urumqi",
        "Asia/Hong_Kong",
        "Asia/Taipei",
        "Asia/Tokyo",
        "Asia/Singapore",
        "Asia/Kolkata",
        "Europe/Moscow",
        "Europe/Berlin",
        "America/New_York",
        "Pacific/Kiritimati",
        "Pacific/Pago_Pago",
    }
    assert zones <= set(F.get("tz").levels) and zones <= set(F.get("system-tz").levels)
    assert {
        "zh_CN.UTF-8",
        "zh_TW.UTF-8",
        "ja_JP.UTF-8",
        "ru_RU.UTF-8",
        "en_US.UTF-8",
        "C.UTF-8",
    } <= set(F.get("locale").levels)
    hosts = set(F.get("endpoint-host").levels)
    assert {
        "127.0.0.1",
        "localhost",
        "api.deepseek.com",
        "api.moonshot.cn",
        "open.bigmodel.cn",
        "api.minimaxi.com",
        "dashscope.aliyuncs.com",
        "qianfan.baidubce.com",
        "ark.cn-beijing.volces.com",
        "openrouter.ai",
        "api.openai.com",
    } <= hosts
    assert any(
        h.endswith(".cn") and h != "api.moonshot.cn" and h != "open.bigmodel.cn" for h in hosts
    )
    assert {"ubuntu", "ec2-user", "admin", "debian", "azureuser", "opc", "centos", "root"} <= set(
        F.get("user").levels
    )
    assert {
        "npmmirror",
        "tuna",
        "aliyun",
        "tencent",
        "huaweicloud",
        "artifactory",
        "default",
    } <= set(F.get("registry-mirror").levels)


# --- each factor, one at a time ------------------------------------------------------


def test_tz_sets_only_TZ() -> None:
    out = F.get("tz").apply(BASE, "Asia/Shanghai", CTX)
    assert env(out) == {"TZ": "Asia/Shanghai"}
    assert out.system_zone == BASE.system_zone


def test_system_tz_sets_zone_files_and_leaves_TZ_unset() -> None:
    control = F.apply_levels(BASE, {"tz": "UTC", "system-tz": "UTC"}, CTX)
    assert env(control) == {"TZ": "UTC"} and control.system_zone == "UTC"
    out = F.apply_levels(BASE, {"tz": "UTC", "system-tz": "Asia/Shanghai"}, CTX)
    assert out.system_zone == "Asia/Shanghai"
    assert "TZ" not in env(out)


def test_tz_and_system_tz_pair_keeps_both() -> None:
    out = F.apply_levels(BASE, {"tz": "Asia/Tokyo", "system-tz": "Asia/Shanghai"}, CTX)
    assert env(out) == {"TZ": "Asia/Tokyo"} and out.system_zone == "Asia/Shanghai"


@pytest.mark.parametrize(
    ("level", "language"),
    [
        ("zh_CN.UTF-8", "zh_CN:zh"),
        ("ja_JP.UTF-8", "ja_JP:ja"),
        ("C.UTF-8", None),
        ("C", None),
        ("POSIX", None),
        ("de", "de"),
        ("sr_RS.UTF-8@latin", "sr_RS:sr"),
    ],
)
def test_locale(level: str, language: str | None) -> None:
    out = F.get("locale").apply(BASE.set_env({"LANGUAGE": "stale"}), level, CTX)
    expect = {"LANG": level, "LC_ALL": level}
    if language is not None:
        expect["LANGUAGE"] = language
    assert env(out) == expect
    assert locale.language(level) == language


def test_endpoint_host_sets_every_base_url_and_a_hosts_entry() -> None:
    out = F.get("endpoint-host").apply(BASE, "api.deepseek.com", CTX)
    assert env(out) == {
        "ANTHROPIC_BASE_URL": "http://api.deepseek.com:4321",
        "OPENAI_BASE_URL": "http://api.deepseek.com:4321/v1",
    }
    assert out.hosts == ("api.deepseek.com",)
    ip = F.get("endpoint-host").apply(BASE, "127.0.0.1", CTX)
    assert ip.hosts == () and env(ip)["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:4321"
    assert (
        env(F.get("endpoint-host").apply(BASE, "::1", CTX))["OPENAI_BASE_URL"]
        == "http://[::1]:4321/v1"
    )
    assert endpoint_host.base_url("localhost", CTX, "/v1") == "http://localhost:4321/v1"


def test_proxy_none_sets_nothing() -> None:
    stale = BASE.set_env({"HTTPS_PROXY": "x", "NO_PROXY": "y", "no_proxy": "y"})
    assert env(F.get("proxy").apply(stale, "none", CTX)) == {}


def test_proxy_host_sets_all_six_variables_and_no_proxy_with_endpoints() -> None:
    spec = F.get("endpoint-host").apply(BASE, "api.moonshot.cn", CTX)
    out = F.get("proxy").apply(spec, "proxy.tencent.com", CTX)
    e = env(out)
    for var in proxy.PROXY_VARS:
        assert e[var] == "http://proxy.tencent.com:4321"
    assert e["NO_PROXY"] == e["no_proxy"] == "127.0.0.1,localhost,::1,api.moonshot.cn"
    assert set(out.hosts) == {"api.moonshot.cn", "proxy.tencent.com"}


def test_proxy_port_and_url_levels() -> None:
    ctx = F.FactorContext(port=1, proxy_port=3128)
    assert (
        env(F.get("proxy").apply(BASE, "proxy.sap.corp", ctx))["HTTPS_PROXY"]
        == "http://proxy.sap.corp:3128"
    )
    out = F.get("proxy").apply(BASE, "socks5h://gw.corp.internal:1080", ctx)
    assert env(out)["ALL_PROXY"] == "socks5h://gw.corp.internal:1080"
    assert out.hosts == ("gw.corp.internal",)
    assert F.get("proxy").apply(BASE, "http://127.0.0.1:9", ctx).hosts == ()


def test_hostname_and_user() -> None:
    assert F.get("hostname").apply(BASE, "ip-172-31-24-117", CTX).hostname == "ip-172-31-24-117"
    out = F.get("user").apply(BASE, "ec2-user", CTX)
    assert out.user == "ec2-user" and out.home == "/home/ec2-user"
    assert out.environ()["USER"] == out.environ()["LOGNAME"] == "ec2-user"
    assert out.cwd == BASE.cwd  # only HOME follows the user
    assert F.get("user").apply(BASE, "root", CTX).home == "/root"


def test_git_email_writes_gitconfig() -> None:
    out = F.get("git-email").apply(BASE, "dev@bytedance.com", CTX)
    assert dict(out.home_files) == {
        ".gitconfig": b"[user]\n\tname = Dev\n\temail = dev@bytedance.com\n"
    }
    assert out.env == ()
    control = F.get("git-email").apply(BASE, "dev@example.com", CTX)
    assert dict(control.home_files)[".gitconfig"] == git_email.gitconfig("dev@example.com")


@pytest.mark.parametrize("bad", ["dev@x.com\n[core]", "no-at-sign", "a b@c.com", 'x"@y.com'])
def test_git_email_refuses_config_injection(bad: str) -> None:
    with pytest.raises(UsageError):
        F.get("git-email").apply(BASE, bad, CTX)


def test_registry_mirror() -> None:
    out = F.get("registry-mirror").apply(BASE, "tencent", CTX)
    npm, pip = registry_mirror.MIRRORS["tencent"]
    assert env(out) == {"npm_config_registry": npm, "PIP_INDEX_URL": pip}
    assert dict(out.home_files) == {
        ".npmrc": f"registry={npm}\n".encode(),
        ".config/pip/pip.conf": f"[global]\nindex-url = {pip}\n".encode(),
    }
    assert out.hosts == ("mirrors.cloud.tencent.com",)
    only_npm = F.get("registry-mirror").apply(BASE, "npmmirror", CTX)
    assert set(env(only_npm)) == {"npm_config_registry"}
    assert set(dict(only_npm.home_files)) == {".npmrc"}
    default = F.get("registry-mirror").apply(out, "default", CTX)
    assert default.env == () and default.home_files == ()
    url = F.get("registry-mirror").apply(BASE, "https://nexus.corp.internal/repo/", CTX)
    assert url.hosts == ("nexus.corp.internal",)
    assert env(url)["PIP_INDEX_URL"] == "https://nexus.corp.internal/repo/"


def test_env_factor() -> None:
    f = F.env_factor("CLAUDE_CODE_USE_BEDROCK", ["0", "1", F.UNSET])
    assert f.name == "env:CLAUDE_CODE_USE_BEDROCK" and f.control == "0"
    assert env(f.apply(BASE, "1", CTX)) == {"CLAUDE_CODE_USE_BEDROCK": "1"}
    assert env(f.apply(BASE.set_env({"CLAUDE_CODE_USE_BEDROCK": "1"}), F.UNSET, CTX)) == {}
    with pytest.raises(UsageError):
        F.env_factor("BAD-NAME", ["a"])


# --- parsing ---------------------------------------------------------------------------


def test_parse_factor_arg() -> None:
    sel = F.parse_factor_arg("tz=UTC,Asia/Tokyo")
    assert sel.name == "tz" and sel.levels == ("UTC", "Asia/Tokyo") and sel.control == "UTC"
    assert F.parse_factor_arg("locale").levels == locale.LOCALES
    env_sel = F.parse_factor_arg("env:FOO=a=b, c")
    assert env_sel.name == "env:FOO" and env_sel.levels == ("a=b", " c")  # verbatim
    assert env_sel.factor.levels == ("a=b", " c")
    vary = F.parse_vary_env("NODE_ENV=development,production")
    assert vary.name == "env:NODE_ENV" and vary.control == "development"


@pytest.mark.parametrize(
    "arg",
    [
        "nope",
        "tz=",
        "tz=UTC,,X",
        "tz=UTC,UTC",
        "env:FOO",
        "proxy=not a host",
        "user=Bad",
        "hostname=a b",
        "registry-mirror=ftp://x",
        "locale=zh CN",
        "system-tz=../x",
        "endpoint-host=http://x",
    ],
)
def test_parse_factor_arg_refuses(arg: str) -> None:
    with pytest.raises(UsageError):
        F.parse_factor_arg(arg)


@pytest.mark.parametrize("arg", ["", "=a,b", "NOEQUALS"])
def test_parse_vary_env_refuses(arg: str) -> None:
    with pytest.raises(UsageError):
        F.parse_vary_env(arg)


def test_get_unknown_names_the_known() -> None:
    with pytest.raises(UsageError, match="system-tz"):
        F.get("timezone")


def test_apply_levels_uses_catalog_order_whatever_the_mapping_order() -> None:
    levels = {
        "proxy": "proxy.baidu.com",
        "endpoint-host": "open.bigmodel.cn",
        "tz": "UTC",
        "system-tz": "Asia/Urumqi",
        "env:X": "1",
    }
    a = F.apply_levels(BASE, levels, CTX)
    b = F.apply_levels(BASE, dict(reversed(list(levels.items()))), CTX)
    assert a == b
    assert "TZ" not in env(a) and env(a)["X"] == "1"
    assert env(a)["NO_PROXY"].endswith(",open.bigmodel.cn")
    sel = F.parse_factor_arg("env:X=1,2")
    assert F.apply_levels(BASE, {"env:X": "2"}, CTX, {"env:X": sel.factor}).env == (("X", "2"),)
    assert F.control_levels([sel, F.parse_factor_arg("tz")]) == {"env:X": "1", "tz": "UTC"}


# --- properties over the whole catalog -------------------------------------------------

FACTOR_LEVELS = st.sampled_from(list(F.FACTORS.values())).flatmap(
    lambda f: st.tuples(st.just(f), st.sampled_from(f.levels))
)


@pytest.mark.parametrize(
    ("fa", "fb"), list(itertools.combinations(F.FACTORS.values(), 2)), ids=lambda f: f.name
)
def test_any_two_factors_commute(fa: F.Factor, fb: F.Factor) -> None:
    # Control and two other levels of each: every control/non-control combination.
    start = F.apply_levels(BASE, {n: f.control for n, f in F.FACTORS.items()}, CTX)
    for la, lb in itertools.product(fa.levels[:3], fb.levels[:3]):
        one = fb.apply(fa.apply(start, la, CTX), lb, CTX)
        two = fa.apply(fb.apply(start, lb, CTX), la, CTX)
        assert one == two, (fa.name, la, fb.name, lb)


@settings(max_examples=200, deadline=None)
@given(FACTOR_LEVELS)
def test_apply_is_pure_and_idempotent(a: tuple[F.Factor, str]) -> None:
    factor, level = a
    before = BASE.set_env({"KEEP": "me"})
    snapshot = (before.env, before.hosts, before.home_files, before.system_zone)
    once = factor.apply(before, level, CTX)
    assert (before.env, before.hosts, before.home_files, before.system_zone) == snapshot
    assert factor.apply(once, level, CTX) == once
    assert once.env_get("KEEP") == "me"


def test_every_one_at_a_time_cell_differs_from_control() -> None:
    control_levels = {n: f.control for n, f in F.FACTORS.items()}
    control = F.apply_levels(BASE, control_levels, CTX)
    for name, factor in F.FACTORS.items():
        cells = [
            F.apply_levels(BASE, {**control_levels, name: lv}, CTX) for lv in factor.levels[1:]
        ]
        assert all(c != control for c in cells), name
        assert all(x != y for x, y in itertools.combinations(cells, 2)), name


def test_tz_control_constant_matches_the_factor() -> None:
    assert F.get("tz").control == tz.CONTROL
    assert F.get("system-tz").control == tz.SYSTEM_CONTROL


def test_git_remote_levels_and_refusals() -> None:
    f = F.get("git-remote")
    spec = f.apply(RunSpec(argv=("x",)), "gitee.com")
    assert dict(spec.repo_files)[".git/config"].count(b"url = https://gitee.com/acme/app.git") == 1
    ssh = dict(f.apply(RunSpec(argv=("x",)), "git@corp.example:a/b.git").repo_files)
    assert b"url = git@corp.example:a/b.git\n" in ssh[".git/config"]
    for bad in ("evil\n[core]\nsshCommand=x", "https://h/p q", "a b", 'x@y:z"w'):
        with pytest.raises(UsageError):
            f.check(bad)
