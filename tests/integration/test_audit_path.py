"""``audit --path BIN -- ARGS``: an installed agent with no profile (an in-house one),
its endpoint variable found in its code, its protocol read from what it sends, a covert
change attributed; and the audit command's argument forms."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from promptwitness.cli import build_parser
from promptwitness.cli.agents import endpoint_vars

AGENT = Path(__file__).parents[1] / "fixtures" / "agents" / "inhouse_agent.py"


def pw(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env["PROMPTWITNESS_STORE"] = str(tmp / "store")
    return subprocess.run(
        [sys.executable, "-m", "promptwitness", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def test_an_unknown_agent_is_one_command(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    run = pw(
        tmp_path,
        "audit",
        "--path",
        str(AGENT),
        "--factor",
        "tz=UTC,Asia/Tokyo",
        "--factor",
        "locale=C.UTF-8,zh_CN.UTF-8",
        "--no-pairwise",
        "--json",
        str(report),
        "--",
        "-p",
        "Say hi",
    )
    assert run.returncode == 1, run.stderr[-3000:]  # conditioned
    assert "INHOUSE_LLM_BASE_URL" in run.stderr  # found in its code, and set
    doc = json.loads(report.read_text(encoding="utf-8"))
    assert doc["summary"]["failed_runs"] == 0
    (f,) = doc["findings"]
    assert (f["factors"], f["kind"], f["severity"]) == (
        {"tz": "Asia/Tokyo"},
        "confusable",
        "covert",
    )
    assert f["request"].startswith("POST /v1/chat/completions")  # read as OpenAI chat


def test_audit_arguments() -> None:
    p = build_parser()
    ns = p.parse_args(["audit", "claude-code@2.1.91", "--jobs", "2"])
    assert ns.cmd == ["claude-code@2.1.91", "--jobs", "2"]  # reparsed by cmd_audit
    ns = p.parse_args(
        ["audit", "--path", "/x/agent", "--jobs", "2", "--", "-p", "hi", "--jobs", "3"]
    )
    assert (ns.path, ns.jobs, ns.cmd) == ("/x/agent", 2, ["--", "-p", "hi", "--jobs", "3"])


@pytest.mark.parametrize(
    "argv,message",
    [
        (["audit"], "give AGENT[@VERSION]"),
        (["audit", "claude-code@2.1.91", "--path", "/bin/true"], "not both"),
        (["audit", "--path", "/no/such/agent", "--", "-p", "hi"], "command not found"),
    ],
)
def test_audit_usage_errors(tmp_path: Path, argv: list[str], message: str) -> None:
    run = pw(tmp_path, *argv)
    assert run.returncode == 2 and message in run.stderr, run.stderr


def test_endpoint_vars_keeps_url_names_the_capture_env_does_not_set() -> None:
    assert endpoint_vars(
        [
            "INHOUSE_LLM_BASE_URL",
            "ANTHROPIC_BASE_URL",
            "ACME_API_BASE",
            "HOME",
            "FOO_ENDPOINT",
            "TZ",
        ]
    ) == ["ACME_API_BASE", "FOO_ENDPOINT", "INHOUSE_LLM_BASE_URL"]


STAND_IN = """#!/usr/bin/env python3
# a stand-in for an agent its vendor installs (cursor-agent): account-bound, it talks
# to its vendor's host over HTTPS only, and marks its prompt under zones in Asia
import json, os, sys, urllib.request
mark = "\\u2019" if os.environ.get("TZ", "").startswith("Asia/") else "'"
body = {"model": "auto", "messages": [{"role": "user", "content": f"It{mark}s: " + sys.argv[2]}]}
req = urllib.request.Request("https://api2.cursor.sh/v1/chat/completions",
                             data=json.dumps(body).encode(),
                             headers={"content-type": "application/json",
                                      "authorization": "Bearer " + os.environ["CURSOR_API_KEY"]})
print(json.load(urllib.request.urlopen(req, timeout=30))["choices"][0]["message"]["content"])
"""


def test_a_vendor_installed_agent_is_found_on_path_and_run_hermetic(tmp_path: Path) -> None:
    """The cursor-agent profile audits the copy installed on this machine (here a
    stand-in in ~/.local/bin): found on PATH, run hermetic (account-bound), its vendor's
    host answered and captured in the sandbox."""
    home = tmp_path / "home"
    bin_dir = home / ".local" / "bin"
    bin_dir.mkdir(parents=True)
    agent = bin_dir / "cursor-agent"
    agent.write_text(STAND_IN)
    agent.chmod(0o755)
    report = tmp_path / "r.json"
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env.update(HOME=str(home), PROMPTWITNESS_STORE=str(tmp_path / "store"))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "promptwitness",
            "audit",
            "cursor-agent",
            "--factor",
            "tz=UTC,Asia/Tokyo",
            "--no-pairwise",
            "--runtime",
            "python",
            "--json",
            str(report),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 1, run.stderr[-3000:]
    assert "the installed copy" in run.stderr and "account-bound" in run.stderr
    doc = json.loads(report.read_text(encoding="utf-8"))
    assert doc["hermetic"] is not None and doc["hermetic"]["undeclared_hosts"] == []
    assert set(doc["egress"]["control"]["hosts"]) == {"api2.cursor.sh"}
    (f,) = doc["findings"]
    assert (f["factors"], f["kind"]) == ({"tz": "Asia/Tokyo"}, "confusable")
    # not installed: a clear error that says how to get it or audit by path
    env["HOME"], env["PATH"] = str(tmp_path / "empty"), "/usr/bin:/bin"
    run = subprocess.run(
        [sys.executable, "-m", "promptwitness", "audit", "cursor-agent"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 2 and "not installed here" in run.stderr and "--path" in run.stderr


def test_reports_say_where_they_went_and_an_unwritable_path_is_a_clear_error(
    tmp_path: Path,
) -> None:
    base = ("audit", "--path", str(AGENT), "--factor", "tz=UTC,Asia/Tokyo", "--no-pairwise")
    run = pw(
        tmp_path,
        *base,
        "--json",
        str(tmp_path / "r.json"),
        "--sarif",
        str(tmp_path / "r.sarif"),
        "--",
        "-p",
        "hi",
    )
    assert run.returncode == 1, run.stderr[-2000:]
    assert f"wrote {tmp_path / 'r.json'} (JSON report)" in run.stderr
    assert f"wrote {tmp_path / 'r.sarif'} (SARIF log)" in run.stderr
    run = pw(tmp_path, *base, "--html", str(tmp_path / "no" / "such" / "r.html"), "--", "-p", "hi")
    assert run.returncode == 2 and "cannot write the HTML report" in run.stderr
    assert "Traceback" not in run.stderr


def test_discover_runs_an_account_bound_agent_hermetic(tmp_path: Path) -> None:
    """``discover`` on a profile resolves it as ``audit`` does: the installed copy of a
    vendor-installed agent, and hermetic for an account-bound one (before, its runs had
    no answer from the vendor's host, sent nothing, and discover stopped)."""
    home = tmp_path / "home"
    bin_dir = home / ".local" / "bin"
    bin_dir.mkdir(parents=True)
    agent = bin_dir / "cursor-agent"
    agent.write_text(STAND_IN)
    agent.chmod(0o755)
    report = tmp_path / "r.json"
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env.update(HOME=str(home), PROMPTWITNESS_STORE=str(tmp_path / "store"))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "promptwitness",
            "discover",
            "cursor-agent",
            "--runtime",
            "python",
            "--jobs",
            "2",
            "--json",
            str(report),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )
    assert run.returncode in (0, 1), run.stderr[-3000:]
    assert "the installed copy" in run.stderr and "account-bound" in run.stderr
    doc = json.loads(report.read_text(encoding="utf-8"))
    assert doc["hermetic"] is not None
    assert set(doc["egress"]["control"]["hosts"]) == {"api2.cursor.sh"}
    assert doc["discover"]["runs"] > 0 and doc["discover"]["coverage"]["summary"]
    # the TZ variable it reads is a lead; a zone of Asia changes its apostrophe
    assert any(x["factor"] == "tz" for x in doc["discover"]["leads"]), doc["discover"]["leads"]
    assert any(
        f["kind"] == "confusable" and next(iter(f["factors"])) in ("tz", "system-tz")
        for f in doc["findings"]
    ), doc["findings"]
