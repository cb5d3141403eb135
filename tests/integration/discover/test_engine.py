"""discover's screening, group testing and confirmation, on the planted agent in the
real sandbox: derived factors given by hand (no scan, no trace), ground truth known."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from promptwitness.discover.derive import Derivation, Derived
from promptwitness.discover.engine import DiscoverResult, run_discover
from promptwitness.probe.factors import Selection, env_factor, get
from promptwitness.probe.runner import ProbeConfig
from promptwitness.probe.sandbox import Sandbox
from promptwitness.store import Store

AGENT = Path(__file__).resolve().parents[2] / "fixtures" / "agents" / "planted_agent.py"
EXPOSE = (sys.base_prefix, sys.prefix, str(AGENT.parent))


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as box:
        yield box


def _derivation(n_vars: int, tz_levels: tuple[str, ...] = ()) -> Derivation:
    d = Derivation()
    if tz_levels:
        d.derived.append(Derived(Selection(get("tz"), ("UTC", *tz_levels)), False, ("test",)))
    for i in range(n_vars):
        name = f"ACME_V{i}"
        d.derived.append(Derived(Selection(env_factor(name, ("<unset>", "1")),
                                           ("<unset>", "1")), True, ("test",)))
    return d


def _discover(tmp: Path, sandbox: Sandbox, agent_args: list[str], d: Derivation,
              group_size: int = 32) -> DiscoverResult:
    config = ProbeConfig(
        argv=(sys.executable, "-I", "-S", str(AGENT), *agent_args),
        selections=tuple(x.selection for x in d.derived), expose=EXPOSE, timeout=60,
        pairwise=False,
    )
    with Store.open(tmp) as store:
        return run_discover(config, d, store, group_size=group_size, sandbox=sandbox)


def test_group_testing_finds_the_one_variable_among_many(tmp_path: Path,
                                                         sandbox: Sandbox) -> None:
    d = _derivation(16, ("Asia/Kathmandu", "Europe/Minsk"))
    res = _discover(tmp_path, sandbox, ["--plant", "invisible:env:ACME_V11",
                                        "--plant", "date-format:tz=Asia/Kathmandu"], d)
    found = {(tuple(f.factors.items()), f.change.kind) for f in res.probe.analysis.findings}
    assert ((("env:ACME_V11", "1"),), "invisible") in found
    assert ((("tz", "Asia/Kathmandu"),), "date-format") in found
    assert res.probe.verdict == "conditioned"
    outcomes = {x.factor: x.outcome for x in res.leads}
    assert outcomes["env:ACME_V11"] == "finding" and outcomes["tz"] == "finding"
    assert all(o == "no-change" for f, o in outcomes.items() if f not in ("env:ACME_V11", "tz"))
    # 16 inputs, one group of 16 split 8/8, 4/4, 2/2, 1/1: 1 + 2 + 2 + 2 + 2 groups
    changed = [g for g in res.groups if g.changed]
    assert [len(g.members) for g in changed] == [16, 8, 4, 2, 1]
    assert all(len(g.members) <= 16 for g in res.groups)
    # every finding confirmed by replicates: two runs at least
    assert all(f.support[0] >= 2 for f in res.probe.analysis.findings)
    # cheaper than one run per level with replicates (2 per level)
    assert res.levels == 18
    assert res.runs_per_level <= 1.6, (res.runs, res.levels)


def test_nothing_changes_nothing_is_found(tmp_path: Path, sandbox: Sandbox) -> None:
    d = _derivation(40, ("Asia/Kathmandu",))
    res = _discover(tmp_path, sandbox, [], d, group_size=32)
    assert res.probe.verdict == "clean", res.probe.analysis.findings
    assert all(x.outcome == "no-change" for x in res.leads)
    # two groups (32 + 8) cleared with two runs each, one run for the zone
    assert [len(g.members) for g in res.groups] == [32, 8]
    assert res.runs == 2 + 2 + 1
    assert res.runs_per_level < 0.2


def test_an_input_that_breaks_the_run_is_a_lead_not_a_finding(tmp_path: Path,
                                                               sandbox: Sandbox) -> None:
    # a date the agent cannot parse: it stops before sending (its runs fail)
    d = Derivation(derived=[
        Derived(Selection(env_factor("PW_FIXTURE_DATE", ("<unset>", "not-a-date")),
                          ("<unset>", "not-a-date")), True, ("test",)),
        Derived(Selection(env_factor("ACME_OK", ("<unset>", "1")), ("<unset>", "1")), True,
                ("test",)),
    ])
    config = ProbeConfig(
        argv=(sys.executable, "-I", "-S", str(AGENT)),
        selections=tuple(x.selection for x in d.derived), expose=EXPOSE, timeout=60,
        pairwise=False,
    )
    with Store.open(tmp_path) as store:
        res = run_discover(config, d, store, sandbox=sandbox)
    outcomes = {x.factor: x.outcome for x in res.leads}
    assert outcomes == {"env:PW_FIXTURE_DATE": "breaks-run", "env:ACME_OK": "no-change"}
    assert res.probe.verdict == "clean"


def test_a_change_only_two_inputs_make_together_is_an_interaction(
        tmp_path: Path, sandbox: Sandbox) -> None:
    d = _derivation(8)
    res = _discover(tmp_path, sandbox,
                    ["--pair", "env:ACME_V1=1,env:ACME_V6=1:confusable"], d)
    # the group of 8 changes, neither half (V0-V3, V4-V7) does: an interaction
    assert [(len(g.members), g.changed) for g in res.groups] == [(8, True), (4, False),
                                                                (4, False)]
    outcomes = {x.factor: x.outcome for x in res.leads}
    assert set(outcomes.values()) == {"interaction"}
    assert res.probe.verdict == "inconclusive"
    assert res.probe.analysis.suspects or res.probe.analysis.unresolved
