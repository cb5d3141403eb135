"""Shared steps of the real-agent end-to-end tests (``test_agents_*.py``): install a
pinned version through the agent registry, record one headless run with
``promptwitness record --isolate``, and audit it with ``promptwitness audit``."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.helpers import check_replicates, noon_today, promptwitness

from promptwitness.agents.cache import cache_root
from promptwitness.agents.profiles import get_profile
from promptwitness.agents.registry import Installed, install
from promptwitness.capture.env import capture_env

PORT = 8080  # record --isolate runs in its own network namespace: any port is free
KINDS = {
    "value",
    "date-format",
    "confusable",
    "invisible",
    "whitespace",
    "punctuation",
    "casing",
    "ordering",
    "param",
    "header",
    "content",
    "proxied",
}
AUDIT_FACTORS = ("--factor", "tz=UTC,Asia/Shanghai", "--factor", "locale=C.UTF-8,zh_CN.UTF-8")


@dataclass
class Recorded:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    main: dict[str, Any]  # the `log --json` item of the largest request of the protocol
    doc: dict[str, Any]  # `show --json` of that request
    raw: bytes = b""  # `show --raw` of that request (record's ``model_path`` only)

    @property
    def body(self) -> bytes:
        return self.raw.partition(b"\r\n\r\n")[2] or self.raw.partition(b"\n\n")[2]

    @property
    def system_text(self) -> str:
        return "\n".join(p["text"] or "" for p in self.doc["prompt"]["system"])

    @property
    def message_text(self) -> str:
        return "\n".join(
            c["text"] or "" for m in self.doc["prompt"]["messages"] for c in m["content"]
        )

    @property
    def tools(self) -> set[str]:
        return {t["name"] for t in self.doc["prompt"]["tools"]}


def installed(name: str, version: str) -> Installed:
    return install(get_profile(name), version)


def _pw_env(tmp: Path, store: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "PROMPTWITNESS_STORE": str(store),
        "HOME": str(tmp),
        # the caller's agent cache (HOME is fresh): the pinned version is installed once
        "PROMPTWITNESS_AGENT_CACHE": str(cache_root()),
    }


def record(
    name: str,
    inst: Installed,
    ws: dict[str, Path],
    prompt: str,
    *,
    hermetic: bool = False,
    model_path: str | None = None,
) -> Recorded:
    """One headless run of the agent under ``record --isolate``, its configuration files
    written into a fresh HOME from the environment ``record`` will give it; with
    ``hermetic``, under ``record --hermetic --agent NAME`` instead (the agent as
    installed, its vendor's hosts answered with the profile's canned answers).
    ``model_path``: the path of its model call when its protocol is stored raw (no
    adapter parses it, so its exchanges have no protocol)."""
    profile = get_profile(name)
    path = ":".join((*inst.path_prefix, str(inst.binary.parent), "/usr/local/bin:/usr/bin:/bin"))
    env = {
        **profile.env,
        "PATH": path,
        "HOME": str(ws["home"]),
        "TERM": "dumb",
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
        "PROMPTWITNESS_STORE": str(ws["store"]),
    }
    if not hermetic:  # the profile's own base-URL variables (record sets the common ones)
        env.update(
            {
                var: f"http://127.0.0.1:{PORT}{suffix}"
                for var, suffix in profile.base_url_vars
                if var not in env
            }
        )
    for rel, data in profile.home_files(capture_env(env, "127.0.0.1", PORT)):
        target = ws["home"] / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    t0 = time.monotonic()
    how = (
        ("--hermetic", "--agent", name, *(a for p in inst.roots for a in ("--expose", p)))
        if hermetic
        else ("--isolate", "--port", str(PORT))
    )
    run = promptwitness(
        "record",
        *how,
        "--",
        *profile.argv(profile.bin_name, prompt),
        env=env,
        cwd=ws["repo"],
        timeout=600,
    )
    seconds = time.monotonic() - t0
    log = promptwitness("log", "--json", env=env)
    assert log.returncode == 0, log.stderr.decode()
    calls = [
        x
        for x in json.loads(log.stdout)
        if x["protocol"] == profile.protocol or (model_path is not None and x["path"] == model_path)
    ]
    assert calls, (run.stderr.decode()[-3000:], json.loads(log.stdout))
    main = max(calls, key=lambda x: x["request_size"])
    shown = promptwitness("show", str(main["id"]), "--json", env=env)
    assert shown.returncode == 0, shown.stderr.decode()
    raw = b""
    if model_path is not None:  # no prompt parsed: the request as sent
        out = promptwitness("show", str(main["id"]), "--raw", env=env)
        assert out.returncode == 0, out.stderr.decode()
        raw = out.stdout
    return Recorded(
        run.returncode,
        run.stdout.decode("utf-8", "replace"),
        run.stderr.decode("utf-8", "replace"),
        seconds,
        main,
        json.loads(shown.stdout),
        raw,
    )


def audit(name: str, version: str, tmp: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    """``promptwitness audit NAME@VERSION`` over tz and locale, one factor at a time; the
    exit code and the JSON report, checked for consistency. ``extra``: more options
    (``--hermetic`` for an account-bound agent in its default configuration)."""
    report = tmp / "report.json"
    run = promptwitness(
        "audit",
        f"{name}@{version}",
        *AUDIT_FACTORS,
        "--no-pairwise",
        "--clock",
        noon_today(),  # a pinned clock at which both zones share the date
        *extra,
        "--timeout",
        "180",
        "--json",
        str(report),
        env=_pw_env(tmp, tmp / "store"),
        timeout=1800,
    )
    err = run.stderr.decode("utf-8", "replace")
    assert run.returncode in (0, 1), err
    doc: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    assert doc["schema"] == "promptwitness/probe-report/v1"
    assert doc["verdict"] == {0: "clean", 1: "conditioned"}[run.returncode]
    assert doc["summary"]["failed_runs"] == 0, [r for r in doc["runs"] if r["error"]]
    assert {f["name"] for f in doc["factors"]} == {"tz", "locale"}
    # control x3; tz and locale once each, twice when the first run showed a change
    assert 5 <= len(doc["runs"]) <= 7
    check_replicates(doc)
    assert all(r["requests"] >= 1 and r["exit_code"] == 0 for r in doc["runs"]), doc["runs"]
    for f in doc["findings"]:
        assert set(f["factors"]) <= {"tz", "locale"} and len(f["factors"]) == 1, f
        assert f["kind"] in KINDS, f
        assert f["support"]["replicates"] == f["support"]["of"] >= 2, f
        assert f["control_support"]["replicates"] == 0, f
    counts = doc["summary"]["findings"]
    assert sum(counts.values()) == len(doc["findings"])
    if run.returncode == 0:
        assert counts["covert"] == counts["overt"] == 0
    return run.returncode, doc
