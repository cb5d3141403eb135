"""RunSpec: validation, normal form, and the environment allow-list (pure)."""

from __future__ import annotations

import pytest

from promptwitness.probe.sandbox import BASE_PATH, WORKDIR, RunSpec, SandboxError, base_env


def test_environment_is_the_allow_list_plus_spec_env() -> None:
    spec = RunSpec(argv=("agent",), env=(("FOO", "1"), ("LANG", "zh_CN.UTF-8")), user="ubuntu")
    assert spec.environ() == {
        "PATH": BASE_PATH,
        "HOME": "/home/ubuntu",
        "USER": "ubuntu",
        "LOGNAME": "ubuntu",
        "SHELL": "/bin/bash",
        "TERM": "dumb",
        "LANG": "zh_CN.UTF-8",
        "TMPDIR": "/tmp",
        "FOO": "1",
    }


def test_base_env_has_exactly_the_documented_names() -> None:
    assert set(base_env("dev")) == {
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "TERM",
        "LANG",
        "TMPDIR",
    }
    assert base_env("root")["HOME"] == "/root"
    assert base_env("dev")["LANG"] == "C.UTF-8"


def test_fixed_paths_by_default() -> None:
    a, b = RunSpec(argv=("x",)), RunSpec(argv=("y",), user="dev")
    assert a.cwd == b.cwd == WORKDIR
    assert a.home == b.home == "/home/dev"
    assert RunSpec(argv=("x",), user="admin").cwd == WORKDIR


def test_normal_form_makes_order_irrelevant() -> None:
    a = RunSpec(argv=("x",)).set_env({"B": "2"}).set_env({"A": "1"}).add_hosts("b.cn", "a.cn")
    b = RunSpec(argv=("x",)).add_hosts("a.cn").set_env({"A": "1", "B": "2"}).add_hosts("b.cn")
    assert a == b
    assert a.env == (("A", "1"), ("B", "2"))
    assert a.hosts == ("a.cn", "b.cn")


def test_helpers_return_new_specs() -> None:
    base = RunSpec(argv=("x",))
    changed = base.set_env({"A": "1"}).set_home_file(".npmrc", b"registry=x\n")
    assert base.env == () and base.home_files == ()
    assert changed.env_get("A") == "1"
    assert changed.unset_env("A").env == ()
    assert changed.unset_home_file(".npmrc").home_files == ()
    assert changed.set_env({"A": "2"}).env_get("A") == "2"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"argv": ()},
        {"env": (("BAD NAME", "x"),)},
        {"env": (("1X", "x"),)},
        {"hosts": ("bad host",)},
        {"hosts": ("-x.com",)},
        {"hostname": "a" * 65},
        {"hostname": "with space"},
        {"user": "Root"},
        {"user": "a/b"},
        {"user": ""},
        {"system_zone": "../etc/passwd"},
        {"system_zone": "/usr/share/zoneinfo/UTC"},
        {"system_zone": "Asia/Tokyo;rm"},
        {"home_files": (("../x", b""),)},
        {"home_files": (("/etc/x", b""),)},
        {"home_files": ((".config//x", b""),)},
        {"cwd": "/etc/repo"},
        {"cwd": "/tmp"},
        {"cwd": "/tmp/../etc"},
        {"ports": (0,)},
        {"ports": (80, 80)},
        {"expose": ("relative",)},
        {"timeout": 0},
    ],
)
def test_invalid_specs_are_refused(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"argv": ("x",), **kwargs}
    with pytest.raises(SandboxError):
        RunSpec(**args)  # type: ignore[arg-type]


def test_no_zone_means_leave_the_host_zone() -> None:
    assert RunSpec(argv=("x",), system_zone=None).system_zone is None
    assert RunSpec(argv=("x",)).system_zone == "UTC"
