from __future__ import annotations

from promptwitness.capture.env import (
    BASE_URL_VARS,
    KEY_VARS,
    capture_env,
    dummy_keys,
    secrets_in_env,
)


def test_every_base_url_points_at_the_endpoint() -> None:
    env = capture_env({"PATH": "/bin"}, "127.0.0.1", 4321)
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:4321"
    assert env["OPENAI_BASE_URL"] == "http://127.0.0.1:4321/v1"
    assert env["GOOGLE_GEMINI_BASE_URL"] == "http://127.0.0.1:4321"
    assert all(env[v.name].startswith("http://127.0.0.1:4321") for v in BASE_URL_VARS)
    assert env["PATH"] == "/bin"


def test_ipv6_hosts_are_bracketed() -> None:
    assert capture_env({}, "::1", 80)["ANTHROPIC_BASE_URL"] == "http://[::1]:80"


def test_dummy_keys_only_where_unset() -> None:
    base = {"ANTHROPIC_API_KEY": "sk-ant-real-key-xyz"}
    keys = dummy_keys(base)
    assert "ANTHROPIC_API_KEY" not in keys
    assert set(keys) == {k.name for k in KEY_VARS} - {"ANTHROPIC_API_KEY"}
    assert all("pwdummy" in v for v in keys.values())
    assert dummy_keys({}) != dummy_keys({})  # random each time
    env = capture_env(base, "127.0.0.1", 1, keys)
    assert env["ANTHROPIC_API_KEY"] == "sk-ant-real-key-xyz"
    assert env["OPENAI_API_KEY"] == keys["OPENAI_API_KEY"]


def test_no_proxy_keeps_user_entries_and_adds_loopback() -> None:
    env = capture_env({"NO_PROXY": "corp.example,localhost"}, "127.0.0.1", 1)
    assert env["NO_PROXY"] == "corp.example,localhost,127.0.0.1,::1"
    assert env["no_proxy"] == "127.0.0.1,localhost,::1"


def test_secrets_in_env_finds_key_like_values() -> None:
    found = secrets_in_env(
        {
            "OPENAI_API_KEY": "sk-12345678",
            "GH_TOKEN": "ghp_abcdefgh",
            "PATH": "/usr/bin:/bin",
            "SHORT_TOKEN": "abc",
        }
    )
    assert sorted(found) == ["ghp_abcdefgh", "sk-12345678"]
