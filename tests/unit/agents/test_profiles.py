"""Agent profiles (pure data): every profile is complete and coherent, and its
configuration files follow the run's environment (the endpoint-host factor reaches
agents that read their endpoint from a file)."""

from __future__ import annotations

import json
import tomllib

import pytest

from promptwitness.agents.profiles import PROFILES, get_profile
from promptwitness.capture.env import BASE_URL_VARS, KEY_VARS
from promptwitness.cli.agents import endpoint_vars
from promptwitness.errors import UsageError
from promptwitness.probe.factors import FactorContext, endpoint_host
from promptwitness.probe.sandbox import RunSpec
from promptwitness.protocols import ADAPTERS

ALL = sorted(PROFILES.values(), key=lambda p: p.name)


RAW_PROTOCOLS = {"connect-rpc", "augment"}  # stored byte for byte, not parsed into segments


@pytest.mark.parametrize("profile", ALL, ids=lambda p: p.name)
def test_profile_is_coherent(profile) -> None:  # type: ignore[no-untyped-def]
    assert PROFILES[profile.name] is profile
    # a protocol promptwitness parses, or one it stores raw (said in the profile)
    assert profile.protocol in ADAPTERS or (
        profile.protocol in RAW_PROTOCOLS and "raw" in profile.notes
    )
    assert profile.registry in ("npm", "pypi", "local")
    assert profile.bin_name and "/" not in profile.bin_name
    argv = profile.argv("/x/bin", "PROMPT-MARK")
    assert argv[0] == "/x/bin" and "PROMPT-MARK" in argv
    assert profile.prompt in profile.argv("/x/bin")
    # the common variables, or the agent's own (the probe sets a profile's in every run)
    known_urls = {v.name for v in BASE_URL_VARS}
    assert all(v in known_urls or endpoint_vars([v]) for v, _ in profile.base_url_vars)
    # a key record gives a dummy for, or the agent's own with a fixed dummy in its env
    known_keys = {k.name for k in KEY_VARS}
    assert all(k in known_keys or profile.env.get(k) for k in profile.key_vars)
    if profile.account:  # its vendor's hosts, answered hermetic: declared
        assert profile.default_hosts and profile.runtime is not None
    else:  # pointed at the capture server by a variable, with a dummy key
        assert profile.base_url_vars and profile.key_vars
    if profile.node_version is not None:
        assert profile.min_node is not None
        assert int(profile.node_version.split(".")[0]) >= profile.min_node
    for path, data in profile.home_files({}):
        assert not path.startswith("/") and ".." not in path.split("/")
        assert isinstance(data, bytes)


def _files(name: str, env: dict[str, str]) -> dict[str, bytes]:
    return dict(get_profile(name).home_files(env))


@pytest.mark.parametrize("host", ["127.0.0.1", "api.deepseek.com", "llm.gateway.com.cn"])
@pytest.mark.parametrize("name", [n for n, p in PROFILES.items() if p.home_files({})])
def test_endpoint_host_reaches_the_config_file(name: str, host: str) -> None:
    """Apply the endpoint-host factor to a spec as the runner does, render the profile's
    files from the result: a file that names an endpoint names the level's host."""
    profile = get_profile(name)
    ctx = FactorContext(port=8080, base_url_vars=profile.base_url_vars)
    spec = RunSpec(
        argv=("agent",),
        env=tuple((v, f"http://127.0.0.1:8080{s}") for v, s in profile.base_url_vars),
    )
    spec = endpoint_host.FACTOR.apply(spec, host, ctx)
    before = _files(name, {})
    after = _files(name, spec.environ())
    assert set(before) == set(after)
    mentions = [p for p, d in after.items() if b"://" in d]
    for path in mentions:
        assert f"http://{host}:8080".encode() in after[path], after[path]


def test_codex_config_is_valid_toml_with_the_endpoint() -> None:
    files = _files("codex", {"OPENAI_BASE_URL": 'http://h"x:1/v1'})
    doc = tomllib.loads(files[".codex/config.toml"].decode())
    provider = doc["model_providers"][doc["model_provider"]]
    assert provider["base_url"] == 'http://h"x:1/v1'  # quoted, not injected
    assert provider["wire_api"] == "responses"
    assert provider["env_key"] == "OPENAI_API_KEY"


@pytest.mark.parametrize(
    "name, path",
    [
        ("gemini-cli", ".gemini/settings.json"),
        ("opencode", ".config/opencode/opencode.json"),
        ("pi", ".pi/agent/models.json"),
    ],
)
def test_json_configs_parse(name: str, path: str) -> None:
    doc = json.loads(_files(name, {"OPENAI_BASE_URL": "http://a:1/v1"})[path])
    assert isinstance(doc, dict) and doc


def test_json_config_never_holds_the_key() -> None:
    """opencode and pi read the key from the variable: the file does not copy it."""
    env = {"OPENAI_BASE_URL": "http://a:1/v1", "OPENAI_API_KEY": "sk-proj-SECRETVALUE123"}
    for name in ("opencode", "pi", "codex", "gemini-cli"):
        for _, data in get_profile(name).home_files(env):
            assert b"SECRETVALUE" not in data


def test_unknown_agent_names_the_known_ones() -> None:
    with pytest.raises(UsageError) as err:
        get_profile("clade-code")
    assert "claude-code" in str(err.value) and "codex" in str(err.value)


def test_kilocode_writes_opencodes_file_under_its_own_name() -> None:
    """Kilo Code is a fork of opencode: one renderer, its path and schema apart."""
    env = {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    [(kpath, kdata)] = get_profile("kilocode").home_files(env)
    [(opath, odata)] = get_profile("opencode").home_files(env)
    assert (kpath, opath) == (".config/kilo/kilo.json", ".config/opencode/opencode.json")
    kilo, opencode = json.loads(kdata), json.loads(odata)
    assert kilo.pop("$schema") == "https://app.kilo.ai/config.json"
    assert opencode.pop("$schema") == "https://opencode.ai/config.json"
    assert kilo == opencode
    assert kilo["provider"]["promptwitness"]["options"]["baseURL"] == "http://127.0.0.1:9/v1"
