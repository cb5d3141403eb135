"""Deriving factors and levels from scan findings and traced inputs (sans-IO)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptwitness.discover.derive import MAX_LEVELS, derive, env_value, spread
from promptwitness.discover.model import DecodedTable, Location, Observed, Read, ScanReport
from promptwitness.errors import UsageError
from promptwitness.probe.factors import apply_levels, get, parse_factor_arg
from promptwitness.probe.factors.inputs import normalise
from promptwitness.probe.sandbox import RunSpec

LOC = Location("cli.js", 120, 3)


def table(
    strings: list[str], kinds: list[str], encoding: tuple[str, ...] = ("base64",)
) -> DecodedTable:
    return DecodedTable(encoding, tuple(strings), LOC, "ctx", tuple(kinds))


def scan(*tables: DecodedTable, reads: tuple[Read, ...] = ()) -> ScanReport:
    return ScanReport("t", tables=tables, reads=reads)


def by_name(d: object) -> dict[str, tuple[str, ...]]:
    return {x.name: x.selection.levels for x in d.derived}  # type: ignore[attr-defined]


def test_host_suffixes_become_endpoint_and_proxy_levels() -> None:
    d = derive(
        scan(
            table(
                [".acme-relay.cn", "llm.example.kz", "https://x.corp.example.com/v1"],
                ["host-suffix", "url"],
            )
        )
    )
    levels = by_name(d)
    assert levels["endpoint-host"] == (
        "127.0.0.1",
        "api.acme-relay.cn",
        "llm.example.kz",
        "x.corp.example.com",
    )
    d = derive(scan(table([".llm.example.kz", "*.corp.example"], ["host-suffix"])))
    assert by_name(d)["endpoint-host"][1:] == ("api.llm.example.kz", "api.corp.example")
    assert levels["proxy"][0] == "none"
    assert "proxy.acme-relay.cn" in levels["proxy"]
    src = d.selection("endpoint-host")
    assert src is not None and "base64 table at cli.js:3" in src.sources[0]
    assert not src.binary


def test_zones_and_locales_and_distros() -> None:
    d = derive(
        scan(
            table(["Asia/Kathmandu", "Europe/Minsk", "Not/AZone"], ["zone"]),
            table(["zh-HK", "uz_UZ", "english"], ["locale"]),
            table(["uos", "kylin", "plan9"], ["distro"]),
        )
    )
    levels = by_name(d)
    assert levels["tz"] == ("UTC", "Asia/Kathmandu", "Europe/Minsk")
    assert levels["system-tz"] == ("UTC", "Asia/Kathmandu", "Europe/Minsk")
    assert levels["locale"] == ("C.UTF-8", "zh_HK.UTF-8", "uz_UZ.UTF-8")
    assert levels["os-release"] == ("debian-12", "uos-20", "kylin-v10")


def test_levels_are_bounded_with_a_note() -> None:
    hosts = [f"h{i}.example.cn" for i in range(MAX_LEVELS + 5)]
    d = derive(scan(table(hosts, ["host"])))
    assert len(by_name(d)["endpoint-host"]) == MAX_LEVELS + 1
    assert any("endpoint-host" in n and "12 spread" in n for n in d.notes)
    # spread over the table: its first and last host among them, in order
    levels = by_name(d)["endpoint-host"][1:]
    assert levels[0] == "h0.example.cn" and levels[-1] == f"h{MAX_LEVELS + 4}.example.cn"
    assert list(levels) == sorted(levels, key=lambda h: int(h.split(".")[0][1:]))


@given(
    st.lists(st.text(min_size=1, max_size=3), unique=True, max_size=60),
    st.integers(min_value=1, max_value=20),
)
def test_spread_keeps_order_ends_and_count(items: list[str], n: int) -> None:
    out = spread(items, n)
    assert len(out) == min(n, len(items))
    assert out == [x for x in items if x in out]  # in order, no repeats
    if items and n >= 2:
        assert out[0] == items[0] and out[-1] == items[-1]


def test_keyword_lists_make_hostname_and_host_levels() -> None:
    d = derive(scan(table(["tencent", "bytedance", "Huawei!"], ["keyword"])))
    levels = by_name(d)
    assert levels["hostname"] == ("devbox", "tencent-devbox", "bytedance-devbox", "huawei-devbox")
    assert "api.tencent.com" in levels["endpoint-host"]


def test_traced_variables_paths_and_files() -> None:
    observed = [
        Observed("env", "ACME_REGION_HINT", False, "os.environ"),
        Observed("env", "TZ", False, "getenv"),
        Observed("env", "NODE_OPTIONS", True, "process.env"),
        Observed("env", "ANTHROPIC_API_KEY", True, "process.env"),
        Observed("path", "/opt/acme/.enrolled", False, "stat"),
        Observed("path", "/home/dev/.acme", False, "getdents64"),
        Observed("file", "/etc/acme/tenant", False, "openat"),
        Observed("file", "/etc/os-release", True, "openat"),
        Observed("file", "/usr/lib/x86_64-linux-gnu/libc.so.6", True, "openat"),
        Observed("path", "/agent/node_modules/foo/package.json", False, "openat"),
        Observed("netif", "", None, "netlink"),
    ]
    d = derive(None, observed, expose=["/agent"], set_vars=["ANTHROPIC_API_KEY"])
    levels = by_name(d)
    assert levels["env:ACME_REGION_HINT"] == ("<unset>", "cn-north-1")
    assert levels["path:/opt/acme/.enrolled"] == ("absent", "file")
    assert levels["path:~/.acme"] == ("absent", "dir")  # listed: a directory
    assert levels["file:/etc/acme/tenant"][0] == "as-is"
    binary = {x.name for x in d.derived if x.binary}
    assert binary == {"env:ACME_REGION_HINT", "path:/opt/acme/.enrolled", "path:~/.acme"}
    cov = {(i.kind, i.name): i for i in d.inputs}
    assert cov[("env", "TZ")].factor == "tz"
    assert cov[("env", "NODE_OPTIONS")].factor is None
    assert "runtime" in (cov[("env", "NODE_OPTIONS")].why_not or "")
    assert "set by the probe" in (cov[("env", "ANTHROPIC_API_KEY")].why_not or "")
    assert cov[("file", "/etc/os-release")].factor == "os-release"
    assert cov[("file", "/usr/lib/x86_64-linux-gnu/libc.so.6")].factor is None
    assert cov[("netif", "interfaces")].factor is None
    assert (
        d.coverage_line() == "9 inputs read, 6 varied, 3 not variable (besides 2 files of "
        "the program and its runtime)"
    )
    # catalog inputs read get their factor with its default levels: tz (TZ read) and
    # os-release (/etc/os-release read), each named by what was read
    from promptwitness.probe.factors import FACTORS

    for name in ("tz", "os-release"):
        sel = d.selection(name)
        assert sel is not None and not sel.binary
        assert sel.selection.levels == FACTORS[name].levels
    assert d.selection("os-release").sources == ("read: file /etc/os-release",)
    assert d.selection("locale") is None  # nothing of the locale was read


def test_credentials_and_provider_switches_are_read_not_varied() -> None:
    observed = [
        Observed("env", n, False, "process.env")
        for n in (
            "ACME_API_KEY",
            "GITHUB_TOKEN",
            "CLAUDE_CODE_USE_BEDROCK",
            "ACME_CLIENT_SECRET",
            "CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR",
            "ACME_REGION",
        )
    ]
    d = derive(None, observed)
    assert {x.name for x in d.derived} == {"env:ACME_REGION"}
    cov = {i.name: i for i in d.inputs}
    assert all("credential" in (cov[n].why_not or "") for n in cov if n != "ACME_REGION")


def test_the_projects_git_config_is_covered_by_git_remote() -> None:
    d = derive(
        None,
        [
            Observed("file", "/tmp/pw/repo/.git/config", True, "openat"),
            Observed("file", "/tmp/pw/repo/src/main.py", True, "openat"),
        ],
    )
    cov = {i.name: i for i in d.inputs}
    assert cov["/tmp/pw/repo/.git/config"].factor == "git-remote"
    assert "working directory" in (cov["/tmp/pw/repo/src/main.py"].why_not or "")
    assert d.selection("git-remote") is not None


def test_file_levels_take_values_from_keyword_tables() -> None:
    d = derive(
        scan(table(["gov-cloud", "edu-cloud", "fin-cloud"], ["keyword"])),
        [Observed("file", "/etc/acme/tenant", False, "openat")],
    )
    assert by_name(d)["file:/etc/acme/tenant"][:2] == ("as-is", "text:gov-cloud")


def test_static_reads_count_too() -> None:
    reads = (
        Read("env", "CORP_TENANT", LOC),
        Read("zone", "", LOC),
        Read("file", "/etc/corp.conf", LOC),
        Read("hostname", "", LOC),
    )
    d = derive(scan(reads=reads))
    assert "env:CORP_TENANT" in by_name(d)
    cov = {(i.kind, i.name): i for i in d.inputs}
    assert cov[("zone", "zone")].factor == "tz, system-tz"
    assert cov[("hostname", "hostname")].factor == "hostname"
    assert cov[("file", "/etc/corp.conf")].factor == "file:/etc/corp.conf"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ACME_BASE_URL", "https://api.acme.cn"),
        ("ACME_HOST", "api.acme.cn"),
        ("CORP_REGION", "cn-north-1"),
        ("X_TZ", "Asia/Shanghai"),
        ("APP_LOCALE", "zh_CN.UTF-8"),
        ("MY_PROXY", "http://proxy.corp.internal:3128"),
        ("ACME_USER", "zhangwei"),
        ("IS_ENTERPRISE", "1"),
        ("ACME_CONFIG_DIR", "/tmp/pw-discover"),
        # durations and counts: generous (a 1 ms timeout would break every run)
        ("API_TIMEOUT_MS", "600000"),
        ("ACME_CACHE_TTL", "600"),
        ("MAX_RETRIES", "8"),
        ("ACME_MAX_OUTPUT_TOKENS", "4096"),
    ],
)
def test_env_values_have_the_shape_of_the_name(name: str, value: str) -> None:
    assert env_value(name, ["api.acme.cn"]) == value


def test_derived_selections_apply_to_a_spec() -> None:
    d = derive(
        scan(table(["Asia/Kathmandu"], ["zone"])),
        [
            Observed("env", "ACME_X", False, "getenv"),
            Observed("path", "/opt/acme/marker", False, "stat"),
            Observed("path", "/etc/acme", False, "stat"),
            Observed("file", "/home/dev/.acme/token", False, "openat"),
        ],
    )
    spec = RunSpec(argv=("true",))
    for x in d.derived:
        sel = x.selection
        out = apply_levels(spec, {sel.name: sel.levels[1]}, factors={sel.name: sel.factor})
        assert out != spec, sel.name
    out = apply_levels(
        spec,
        {"path:/opt/acme/marker": "file"},
        factors={"path:/opt/acme/marker": get("path:/opt/acme/marker")},
    )
    assert dict(out.root_files) == {"/opt/acme/marker": b""}
    out = apply_levels(
        spec, {"path:/etc/acme": "file"}, factors={"path:/etc/acme": get("path:/etc/acme")}
    )
    assert dict(out.etc_files) == {"acme": b""}


def test_path_and_file_factors_from_the_command_line() -> None:
    s = parse_factor_arg("path:/opt/corp/marker=absent,dir")
    spec = s.factor.apply(RunSpec(argv=("true",)), "dir")
    assert dict(spec.root_files) == {"/opt/corp/marker": None}
    f = parse_factor_arg("file:~/.corp/region=as-is,cn-north-1")
    spec = f.factor.apply(RunSpec(argv=("true",)), "cn-north-1")
    assert dict(spec.home_files) == {".corp/region": b"cn-north-1\n"}
    assert f.factor.apply(RunSpec(argv=("true",)), "as-is") == RunSpec(argv=("true",))


@pytest.mark.parametrize(
    "bad",
    [
        "relative/x",
        "/proc/self/environ",
        "/dev/null",
        "/",
        "~/../etc",
        "/tmp/pw/repo/x",
        "/sys/kernel",
    ],
)
def test_paths_a_run_cannot_hold_are_refused(bad: str) -> None:
    with pytest.raises(UsageError):
        normalise(bad)


def test_outputs_scratch_and_paths_a_run_cannot_hold_are_not_factors() -> None:
    observed = [
        Observed("path", "/tmp", True, "stat"),  # scratch: its root too
        Observed("path", "/var/tmp", True, "stat"),
        Observed("file", "/home/dev/.acme/tmp/lock-Yx81q.lock", None, "openat"),  # created
        Observed("path", "/proc/self/status", True, "stat"),
        Observed("file", "/home/dev/.acme/region", False, "openat"),  # an input
    ]
    d = derive(None, observed)
    assert {x.name for x in d.derived} == {"file:~/.acme/region"}
    cov = {i.name: i for i in d.inputs}
    assert "scratch" in (cov["/tmp"].why_not or "")
    assert "created by the run" in (cov["~/.acme/tmp/lock-Yx81q.lock"].why_not or "")
    # every derived path or file factor can be applied to a run
    from promptwitness.probe.sandbox import RunSpec

    for x in d.derived:
        for level in x.selection.levels:
            x.selection.factor.apply(RunSpec(argv=("true",)), level)


def test_a_path_above_another_is_made_a_directory() -> None:
    d = derive(
        None,
        [
            Observed("path", "/opt/acme", False, "stat"),
            Observed("path", "/opt/acme/info/exclude", False, "stat"),
        ],
    )
    levels = by_name(d)
    assert levels["path:/opt/acme"] == ("absent", "dir")
    assert levels["path:/opt/acme/info/exclude"] == ("absent", "file")


def test_a_file_opened_with_paths_under_it_is_a_directory_not_a_file() -> None:
    d = derive(
        None,
        [
            Observed("file", "/home/dev/.acme", True, "openat"),
            Observed("file", "/home/dev/.acme/region", False, "openat"),
        ],
    )
    assert {x.name for x in d.derived} == {"file:~/.acme/region"}
    cov = {i.name: i for i in d.inputs}
    assert "a directory" in (cov["~/.acme"].why_not or "")


@pytest.mark.parametrize(
    ("path", "parse"),
    [
        ("/etc/acme/config.toml", lambda b: __import__("tomllib").loads(b.decode())["value"]),
        ("/etc/acme/tenant.env", lambda b: b.decode().strip().partition("VALUE=")[2]),
        ("/etc/acme/site.ini", lambda b: b.decode().split("value = ")[1].strip()),
        ("/etc/acme/tenant", lambda b: b.decode().strip()),
    ],
)
def test_file_contents_parse_in_the_format_the_name_says(path: str, parse: object) -> None:
    d = derive(
        scan(table(["gov-cloud", "edu-cloud"], ["keyword"])),
        [Observed("file", path, False, "openat")],
    )
    sel = d.selection("file:" + path)
    assert sel is not None
    spec = sel.selection.factor.apply(RunSpec(argv=("true",)), "text:gov-cloud")
    data = dict(spec.etc_files)[path.removeprefix("/etc/")]
    assert parse(data) == "gov-cloud"  # type: ignore[operator]
