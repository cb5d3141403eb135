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
        d.derived.append(
            Derived(
                Selection(env_factor(name, ("<unset>", "1")), ("<unset>", "1")), True, ("test",)
            )
        )
    return d


def _discover(
    tmp: Path, sandbox: Sandbox, agent_args: list[str], d: Derivation, group_size: int = 32
) -> DiscoverResult:
    config = ProbeConfig(
        argv=(sys.executable, "-I", "-S", str(AGENT), *agent_args),
        selections=tuple(x.selection for x in d.derived),
        expose=EXPOSE,
        timeout=60,
        pairwise=False,
    )
    with Store.open(tmp) as store:
        return run_discover(config, d, store, group_size=group_size, sandbox=sandbox)


def test_group_testing_finds_the_one_variable_among_many(tmp_path: Path, sandbox: Sandbox) -> None:
    d = _derivation(16, ("Asia/Kathmandu", "Europe/Minsk"))
    res = _discover(
        tmp_path,
        sandbox,
        ["--plant", "invisible:env:ACME_V11", "--plant", "date-format:tz=Asia/Kathmandu"],
        d,
    )
    found = {(tuple(f.factors.items()), f.change.kind) for f in res.probe.analysis.findings}
    assert ((("env:ACME_V11", "1"),), "invisible") in found
    assert ((("tz", "Asia/Kathmandu"),), "date-format") in found
    assert res.probe.verdict == "conditioned"
    outcomes = {x.factor: x.outcome for x in res.leads}
    assert outcomes["env:ACME_V11"] == "finding" and outcomes["tz"] == "finding"
    assert all(o == "no-change" for f, o in outcomes.items() if f not in ("env:ACME_V11", "tz"))
    # the levels of tz are rows of one member each (no other value factor): run alone
    assert [g.members for g in res.groups if g.members[0].startswith("tz=")] == [
        ("tz=Asia/Kathmandu",),
        ("tz=Europe/Minsk",),
    ]
    # 16 inputs in one group, split into parts sized for the share that changes, down
    # to ACME_V11 alone: each changed group inside the one before, smaller
    changed = [g for g in res.groups if g.changed and not g.members[0].startswith("tz=")]
    assert len(changed[0].members) == 16 and changed[-1].members == ("env:ACME_V11",)
    for outer, inner in zip(changed, changed[1:], strict=False):
        assert set(inner.members) < set(outer.members)
    # the parts of a changed group cover it exactly
    for g in changed[:-1]:
        parts = [
            h for h in res.groups if h.depth == g.depth + 1 and set(h.members) <= set(g.members)
        ]
        assert sorted(m for h in parts for m in h.members) == sorted(g.members)
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
    # the zone's one level alone, two groups (32 + 8) cleared: one run each
    assert [len(g.members) for g in res.groups] == [1, 32, 8]
    assert res.runs == 3
    assert res.runs_per_level < 0.2


def test_an_input_that_breaks_the_run_is_a_lead_not_a_finding(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    # a date the agent cannot parse: it stops before sending (its runs fail)
    d = Derivation(
        derived=[
            Derived(
                Selection(
                    env_factor("PW_FIXTURE_DATE", ("<unset>", "not-a-date")),
                    ("<unset>", "not-a-date"),
                ),
                True,
                ("test",),
            ),
            Derived(
                Selection(env_factor("ACME_OK", ("<unset>", "1")), ("<unset>", "1")),
                True,
                ("test",),
            ),
        ]
    )
    config = ProbeConfig(
        argv=(sys.executable, "-I", "-S", str(AGENT)),
        selections=tuple(x.selection for x in d.derived),
        expose=EXPOSE,
        timeout=60,
        pairwise=False,
    )
    with Store.open(tmp_path) as store:
        res = run_discover(config, d, store, sandbox=sandbox)
    outcomes = {x.factor: x.outcome for x in res.leads}
    assert outcomes == {"env:PW_FIXTURE_DATE": "breaks-run", "env:ACME_OK": "no-change"}
    assert res.probe.verdict == "clean"


def test_a_change_only_two_inputs_make_together_is_an_interaction(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    d = _derivation(8)
    res = _discover(tmp_path, sandbox, ["--pair", "env:ACME_V1=1,env:ACME_V6=1:confusable"], d)
    # the group of 8 changes, none of its parts (V1 and V6 fall in different ones) does:
    # an interaction
    first, *parts = res.groups
    assert (len(first.members), first.changed) == (8, True)
    assert sorted(m for g in parts for m in g.members) == sorted(first.members)
    assert len(parts) >= 2 and not any(g.changed for g in parts)
    assert not any({"env:ACME_V1", "env:ACME_V6"} <= set(g.members) for g in parts)
    outcomes = {x.factor: x.outcome for x in res.leads}
    assert set(outcomes.values()) == {"interaction"}
    assert res.probe.verdict == "inconclusive"
    assert res.probe.analysis.suspects or res.probe.analysis.unresolved


def test_levels_of_several_value_factors_are_screened_together(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    # the first level of each value factor runs alone; the others of the factors whose
    # first level changed nothing go in rows (row k: the k-th other level of each); the
    # row that holds the trigger splits down to it
    d = Derivation(
        derived=[
            Derived(
                Selection(get("tz"), ("UTC", "Asia/Kathmandu", "Europe/Minsk", "Asia/Tokyo")),
                False,
                ("test",),
            ),
            *[
                Derived(
                    Selection(
                        env_factor(f"ACME_MODE{i}", ("<unset>", "a", "b", "c")),
                        ("<unset>", "a", "b", "c"),
                    ),
                    False,
                    ("test",),
                )
                for i in range(3)
            ],
        ]
    )
    res = _discover(tmp_path, sandbox, ["--plant", "date-format:tz=Europe/Minsk"], d)
    found = {(tuple(f.factors.items()), f.change.kind) for f in res.probe.analysis.findings}
    assert found == {((("tz", "Europe/Minsk"),), "date-format")}
    first = [g for g in res.groups if g.depth == 0 and len(g.members) == 1]
    assert {g.members[0] for g in first} == {
        "tz=Asia/Kathmandu",
        "env:ACME_MODE0=a",
        "env:ACME_MODE1=a",
        "env:ACME_MODE2=a",
    }
    rows = [g for g in res.groups if g.depth == 0 and len(g.members) > 1]
    assert [set(g.members) for g in rows] == [
        {"tz=Europe/Minsk", "env:ACME_MODE0=b", "env:ACME_MODE1=b", "env:ACME_MODE2=b"},
        {"tz=Asia/Tokyo", "env:ACME_MODE0=c", "env:ACME_MODE1=c", "env:ACME_MODE2=c"},
    ]
    assert [g.changed for g in rows] == [True, False]
    assert res.levels == 12
    # 4 (first levels) + 2 (rows) + 2 (halves) + 2 (singles) + 1 (confirmation) = 11
    assert res.runs_per_level <= 1.0, (res.runs, res.levels)


def test_a_factor_whose_first_level_changes_runs_its_levels_alone(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    d = Derivation(
        derived=[
            Derived(
                Selection(get("tz"), ("UTC", "Asia/Kathmandu", "Europe/Minsk")), False, ("test",)
            ),
            Derived(
                Selection(env_factor("ACME_MODE", ("<unset>", "a", "b")), ("<unset>", "a", "b")),
                False,
                ("test",),
            ),
        ]
    )
    res = _discover(tmp_path, sandbox, ["--plant", "date-format:tz=Asia/Kathmandu"], d)
    assert all(len(g.members) == 1 for g in res.groups if g.members[0].startswith("tz="))
    assert [g.members for g in res.groups if len(g.members) > 1] == []


def test_inputs_that_cannot_be_set_together_are_split_before_running(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    # a file at /opt/acme and a file under it cannot be made in one run: the group is
    # split at once, each runs alone, nothing fails
    from promptwitness.probe.factors import path_factor

    d = Derivation(
        derived=[
            Derived(
                Selection(path_factor(p, ("absent", "file")), ("absent", "file")), True, ("test",)
            )
            for p in ("/opt/acme", "/opt/acme/info/exclude")
        ]
    )
    res = _discover(tmp_path, sandbox, [], d)
    assert res.probe.verdict == "clean"
    assert sorted(g.members for g in res.groups) == [
        ("path:/opt/acme",),
        ("path:/opt/acme/info/exclude",),
    ]
