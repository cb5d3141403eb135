"""``history`` end to end on fake "releases" of the synthetic planted agent: each
version is a different command line (plants switched on through a per-version
variable), run in the real sandbox with the real capture server; no network."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from promptwitness.agents.registry import Release
from promptwitness.cli import main
from promptwitness.errors import Error
from promptwitness.history.bisect import parse_signature
from promptwitness.history.document import SCHEMA, to_json
from promptwitness.history.run import (
    HistoryOptions,
    Installed,
    bisect_selections,
    run_bisect,
    run_history,
)
from promptwitness.probe.factors import parse_factor_arg
from promptwitness.probe.sandbox import Sandbox
from promptwitness.report.history_terminal import render_bisect, render_history
from promptwitness.report.terminal import render_to_string
from promptwitness.store import Store

AGENT = Path(__file__).resolve().parents[1] / "fixtures" / "agents" / "planted_agent.py"
EXPOSE = (sys.base_prefix, sys.prefix, str(AGENT.parent))
FLAVOR = ("--plant", "content:env:PW_FLAVOR=new", "--plant", "header:env:PW_FLAVOR=new")
CONFUSABLE = ("--plant", "confusable:endpoint-host=api.deepseek.com")

# version -> (agent arguments, variables); the confusable plant ships in 1.1.0..1.3.0
VERSIONS: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "1.0.0": ((), {}),
    "1.1.0": ((*FLAVOR, *CONFUSABLE), {"PW_FLAVOR": "new"}),
    "1.2.0": (
        (*FLAVOR, *CONFUSABLE, "--plant", "ordering:env:PW_FLAVOR=new"),
        {"PW_FLAVOR": "new"},
    ),
    "1.3.0": ((*CONFUSABLE,), {}),
    "1.4.0": (("--plant", "date-format:tz=Asia/Shanghai"), {}),
}


class FakeSource:
    name = "planted"
    title = "Planted agent"

    def __init__(self) -> None:
        self.installs: list[str] = []

    def releases(self) -> list[Release]:
        return [Release(v, f"2026-0{i + 3}-01T00:00:00Z") for i, v in enumerate(VERSIONS)]

    def install(self, version: str) -> Installed:
        if version not in VERSIONS:
            raise Error(f"no such version {version}")
        self.installs.append(version)
        args, env = VERSIONS[version]
        return Installed(
            argv=(sys.executable, "-I", "-S", str(AGENT), *args), expose=EXPOSE, env=env
        )


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as box:
        yield box


def test_history_lists_what_changed_between_versions(tmp_path: Path, sandbox: Sandbox) -> None:
    src = FakeSource()
    rels = [r for r in src.releases() if r.version in ("1.0.0", "1.1.0", "1.2.0")]
    with Store.open(tmp_path / "store") as store:
        h = run_history(src, rels, store, HistoryOptions(timeout=60), sandbox=sandbox)
    entries = h.timeline.entries
    assert [e.error for e in entries] == [None, None, None]
    assert all(e.runs == 2 and e.audit is None for e in entries)
    assert all(e.noise == () for e in entries)  # the agent is deterministic
    assert [e.tools for e in entries][0] == (
        "Bash",
        "Read",
        "Edit",
        "Grep",
        "TodoWrite",
        "WebFetch",
    )
    s1, s2 = h.timeline.steps
    assert {c.path for c in s1.changes} == {"system[1].text", "headers.x-client-flavor"}
    header = next(c for c in s1.changes if c.path == "headers.x-client-flavor")
    assert (header.diff.a, header.diff.b) == ("standard", "regional")
    assert [c.path for c in s2.changes] == ["tools.order"]
    assert s2.tools_added == () and s2.tools_removed == ()
    sizes = [e.sizes for e in entries]
    assert sizes[0] is not None and sizes[1] is not None
    assert sizes[1].system_bytes > sizes[0].system_bytes  # a sentence was added
    text = render_to_string(render_history(h), width=100)
    assert "1.0.0 → 1.1.0" in text and "{+regional+}" in text and "[-standard-]" in text
    doc = to_json(src.name, src.title, {"spec": "1.0.0..1.2.0"}, "store", history=h)
    assert doc["schema"] == SCHEMA
    assert [v["version"] for v in doc["versions"]] == ["1.0.0", "1.1.0", "1.2.0"]
    assert doc["steps"][1]["changes"][0]["path"] == "tools.order"
    json.dumps(doc)


def test_audit_and_bisect_find_where_the_plant_ships(tmp_path: Path, sandbox: Sandbox) -> None:
    src = FakeSource()
    rels = src.releases()
    sig = parse_signature("endpoint-host:confusable")
    screening = (
        parse_factor_arg("tz=UTC,Asia/Shanghai"),
        parse_factor_arg("endpoint-host=127.0.0.1,api.deepseek.com"),
    )
    sels = bisect_selections(sig, screening, given=False)
    assert [s.name for s in sels] == ["endpoint-host"]
    with Store.open(tmp_path / "store") as store:
        b = run_bisect(src, rels, sig, store, HistoryOptions(timeout=60), sels, sandbox=sandbox)
    assert (b.first, b.last, b.search.contiguous) == ("1.1.0", "1.3.0", True)
    assert b.search.tests == len(src.installs) == len(set(src.installs))
    first = b.captures["1.1.0"]
    assert first.audit is not None and first.audit.verdict == "conditioned"
    (ev,) = sig.evidence(first.audit)
    assert (ev.control, ev.observed) == ("'", "\u2019")
    text = render_to_string(render_bisect(b), width=100)
    assert "holds from 1.1.0" in text and "to 1.3.0" in text
    assert "U+2019 RIGHT SINGLE QUOTATION MARK" in text


def test_cli_history_with_audit_writes_the_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import promptwitness.cli.history as cli_history

    monkeypatch.setattr(cli_history, "make_source", lambda name, args: FakeSource())
    out = tmp_path / "h.json"
    code = main(
        [
            "history",
            "planted",
            "1.3.0,1.4.0",
            "--audit",
            "--timeout",
            "60",
            "--store",
            str(tmp_path / "store"),
            "--json",
            str(out),
        ]
    )
    assert code == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["schema"] == SCHEMA and doc["bisect"] is None
    verdicts = {v["version"]: v["audit"]["verdict"] for v in doc["versions"]}
    assert verdicts == {"1.3.0": "conditioned", "1.4.0": "conditioned"}
    kinds = {
        v["version"]: sorted((next(iter(f["factors"])), f["kind"]) for f in v["audit"]["findings"])
        for v in doc["versions"]
    }
    assert kinds == {"1.3.0": [("endpoint-host", "confusable")], "1.4.0": [("tz", "date-format")]}
    printed = capsys.readouterr().out
    assert "audit findings" in printed and "2026/11/24" in printed


def test_cli_reports_an_unknown_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import promptwitness.cli.history as cli_history

    monkeypatch.setattr(cli_history, "make_source", lambda name, args: FakeSource())
    assert main(["history", "planted", "1.0.0..9.0.0", "--store", str(tmp_path)]) == 2
