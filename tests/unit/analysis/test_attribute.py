"""Attribution (sans-IO): noise, findings, suspects, the confirm loop and the verdict,
over hand-made observations and a classifier the tests control."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from promptwitness.analysis.attribute import (
    Analysis,
    Observation,
    analyse,
    verdict,
)
from promptwitness.analysis.changes import Change
from promptwitness.analysis.diff import SegmentDiff
from promptwitness.model import Segment
from promptwitness.probe.design import Cell, confirm, plan
from promptwitness.probe.factors import Selection, env_factor, get

REQ = "POST /v1/messages#0"
SYSTEM = "You are Forge. Today's date is 2026-11-24. Don't guess."
APOS = SYSTEM.index("'")  # the apostrophe in "Today's"
DAY = SYSTEM.index("24")
BASE: tuple[Segment, ...] = (
    Segment("model", "claude-x"),
    Segment("system[0].text", SYSTEM),
    Segment("metadata.user_id", "user-0000-session-1111"),
    Segment("params.temperature", "1", "param"),
)

Requests = dict[str, tuple[Segment, ...]]
Agent = Callable[[Mapping[str, str], int], Requests | None]


def classify(d: SegmentDiff) -> list[Change]:
    """Every non-equal op → one Change with exact spans; digits for digits are
    ``value`` (expected), the param channel ``param``, anything else ``content``."""
    if d.a is None or d.b is None:
        return [Change(d.path, d.channel, "content", d.a, d.b)]
    out = []
    for op in d.ops:
        if op.tag == "equal":
            continue
        a, b = d.a[op.a_start : op.a_end], d.b[op.b_start : op.b_end]
        kind = (
            "value"
            if a.isdigit() and b.isdigit()
            else "param"
            if d.channel == "param"
            else "content"
        )
        out.append(
            Change(d.path, d.channel, kind, a, b, (op.a_start, op.a_end), (op.b_start, op.b_end))
        )
    return out


def edit(segs: tuple[Segment, ...], path: str, pos: int, old: str, new: str) -> tuple[Segment, ...]:
    out = []
    for s in segs:
        if s.path == path:
            assert s.value[pos : pos + len(old)] == old
            s = Segment(s.path, s.value[:pos] + new + s.value[pos + len(old) :], s.channel)
        out.append(s)
    return tuple(out)


def sel(name: str, *levels: str) -> Selection:
    return Selection(env_factor(name, levels), levels)


SELECTIONS = [sel("A", "a0", "a1", "a2"), sel("B", "b0", "b1"), sel("C", "c0", "c1")]
CONTROL = {s.name: s.control for s in SELECTIONS}


def cell(**varied: str) -> Cell:
    levels = {**CONTROL, **{f"env:{k}": v for k, v in varied.items()}}
    purpose = "control" if not varied else "one-at-a-time" if len(varied) == 1 else "covering"
    return Cell(levels, purpose, "test cell", CONTROL)


def run(cells: Sequence[Cell], agent: Agent, replicates: int = 3) -> list[Observation]:
    out = []
    for c in cells:
        for r in range(replicates):
            requests = agent(c.levels, r)
            out.append(
                Observation(c.id, c.levels, r, requests, None if requests is not None else "exit 1")
            )
    return out


def constant(levels: Mapping[str, str], rep: int) -> Requests | None:
    return {REQ: BASE}


def when(cond: Mapping[str, str], path: str, pos: int, old: str, new: str) -> Agent:
    def agent(levels: Mapping[str, str], rep: int) -> Requests | None:
        segs = BASE
        if all(levels[f"env:{k}"] == v for k, v in cond.items()):
            segs = edit(segs, path, pos, old, new)
        return {REQ: segs}

    return agent


def go(obs: list[Observation]) -> Analysis:
    return analyse(obs, CONTROL, classify=classify)


# ----------------------------------------------------------------------------- clean


def test_identical_runs_are_clean() -> None:
    cells = plan(SELECTIONS)
    a = go(run(cells, constant))
    assert a.findings == () and a.noise == () and a.suspects == () and a.unresolved == ()
    assert a.failed == () and a.reference == ("control", 0)
    assert a.runs == 3 * len(cells)
    assert verdict(a, all_cells_ran=True) == "clean"
    assert a.verdict(all_cells_ran=False) == "inconclusive"


# ---------------------------------------------------------------------- single factor


def test_a_planted_single_factor_change_is_found_and_attributed() -> None:
    cells = plan(SELECTIONS)
    agent = when({"A": "a1"}, "system[0].text", APOS, "'", "\u2019")
    a = go(run(cells, agent))
    assert len(a.findings) == 1
    f = a.findings[0]
    assert f.factors == {"env:A": "a1"}
    assert f.request == REQ and f.cell == "env:A=a1"
    assert f.change.path == "system[0].text" and f.change.kind == "content"
    assert (f.change.control, f.change.observed) == ("'", "\u2019")
    assert f.change.a_span == (APOS, APOS + 1)
    assert f.support == (3, 3) and f.control_support == (0, 3)
    # Every combined cell with A=a1 shows the same change and is explained by it.
    with_a1 = {c.id for c in cells if c.levels["env:A"] == "a1" and len(c.varied) > 1}
    assert with_a1 and set(f.cells[1:]) == with_a1
    assert a.suspects == () and a.unresolved == () and a.noise == ()
    assert verdict(a, True) == "conditioned"


def test_one_finding_per_cell_grouped_by_factor() -> None:
    def agent(levels: Mapping[str, str], rep: int) -> Requests | None:
        segs = BASE
        if levels["env:C"] == "c1":
            segs = edit(segs, "params.temperature", 0, "1", "0.7")
        if levels["env:A"] != "a0":
            segs = edit(segs, "system[0].text", APOS, "'", "\u02bc")
        return {REQ: segs}

    a = go(run(plan(SELECTIONS), agent, replicates=2))
    assert [(f.factors, f.change.kind) for f in a.findings] == [
        ({"env:A": "a1"}, "content"),
        ({"env:A": "a2"}, "content"),
        ({"env:C": "c1"}, "param"),
    ]
    assert a.findings[2].change.observed == "0.7"
    assert a.suspects == ()


def test_an_expected_value_change_alone_is_clean() -> None:
    agent = when({"B": "b1"}, "system[0].text", DAY, "24", "25")
    a = go(run(plan(SELECTIONS), agent))
    assert [(f.factors, f.change.kind, f.change.severity) for f in a.findings] == [
        ({"env:B": "b1"}, "value", "expected")
    ]
    assert verdict(a, True) == "clean"


def test_a_request_only_one_side_has_is_a_request_change() -> None:
    def agent(levels: Mapping[str, str], rep: int) -> Requests | None:
        reqs = {REQ: BASE}
        if levels["env:B"] == "b1":
            reqs["GET /v1/models#0"] = ()
        return reqs

    a = go(run(plan(SELECTIONS), agent))
    assert len(a.findings) == 1
    f = a.findings[0]
    assert f.factors == {"env:B": "b1"} and f.request == "GET /v1/models#0"
    assert (f.change.path, f.change.channel, f.change.kind) == ("", "request", "content")
    assert (f.change.control, f.change.observed) == (None, "GET /v1/models#0")


def proxy_sel(*levels: str) -> list[Selection]:
    return [Selection(get("proxy"), ("none", *levels)), sel("B", "b0", "b1")]


def tunnel_agent(under: set[str], request: str = "CONNECT telemetry.example.com:443 #0") -> Agent:
    """Sends ``request`` besides the model call when the proxy level is in ``under``."""

    def agent(levels: Mapping[str, str], rep: int) -> Requests | None:
        reqs = {REQ: BASE}
        if levels["proxy"] in under:
            reqs[request] = ()
        return reqs

    return agent


def go_with(selections: list[Selection], agent: Agent) -> Analysis:
    control = {s.name: s.control for s in selections}
    return analyse(run(plan(selections), agent), control, classify=classify)


def test_a_tunnel_under_every_proxy_level_is_proxied_and_clean() -> None:
    levels = ("proxy.corp.internal", "proxy.tencent.com", "proxy.anthropic.com")
    a = go_with(proxy_sel(*levels), tunnel_agent(set(levels)))
    assert sorted(f.factors["proxy"] for f in a.findings) == sorted(levels)
    for f in a.findings:
        assert (f.change.kind, f.change.severity) == ("proxied", "expected")
        assert f.request == "CONNECT telemetry.example.com:443 #0"
        assert "telemetry.example.com:443" in f.change.detail
        assert "3 proxy levels" in f.change.detail
    assert verdict(a, True) == "clean"


def test_a_tunnel_under_some_proxy_levels_only_stays_overt() -> None:
    levels = ("proxy.corp.internal", "proxy.tencent.com", "proxy.anthropic.com")
    a = go_with(proxy_sel(*levels), tunnel_agent({"proxy.tencent.com"}))
    assert [(f.factors, f.change.kind, f.change.severity) for f in a.findings] == [
        ({"proxy": "proxy.tencent.com"}, "content", "overt")
    ]
    assert verdict(a, True) == "conditioned"


def test_one_proxy_level_cannot_tell_any_proxy_from_this_proxy() -> None:
    a = go_with(proxy_sel("proxy.tencent.com"), tunnel_agent({"proxy.tencent.com"}))
    assert [f.change.kind for f in a.findings] == ["content"]
    assert verdict(a, True) == "conditioned"


def test_a_plain_request_under_every_proxy_level_is_not_a_tunnel() -> None:
    levels = ("proxy.corp.internal", "proxy.tencent.com")
    a = go_with(proxy_sel(*levels), tunnel_agent(set(levels), "GET /v1/models #0"))
    assert {f.change.kind for f in a.findings} == {"content"}
    assert verdict(a, True) == "conditioned"


def test_a_tunnel_under_another_factor_is_not_proxied() -> None:
    def agent(levels: Mapping[str, str], rep: int) -> Requests | None:
        reqs = {REQ: BASE}
        if levels["env:B"] == "b1":
            reqs["CONNECT telemetry.example.com:443 #0"] = ()
        return reqs

    a = go_with(proxy_sel("proxy.corp.internal", "proxy.tencent.com"), agent)
    assert [(f.factors, f.change.kind) for f in a.findings] == [({"env:B": "b1"}, "content")]


# ---------------------------------------------------------------------------- noise


def test_a_change_in_only_some_replicates_is_noise_not_a_finding() -> None:
    def agent(levels: Mapping[str, str], rep: int) -> Requests | None:
        segs = BASE
        if levels["env:A"] == "a1" and rep == 1:
            segs = edit(segs, "system[0].text", 0, "You", "Thou")
        return {REQ: segs}

    a = go(run([cell(), cell(A="a1")], agent, replicates=2))
    assert a.findings == () and a.suspects == ()
    assert len(a.noise) == 1
    n = a.noise[0]
    assert (n.request, n.path, n.channel) == (REQ, "system[0].text", "body")
    # "You" → "Thou" is "Y" → "Th" at the code-point level.
    assert n.spans == ((0, 1),) and n.runs == 1 and n.examples == ("Th",)
    assert verdict(a, True) == "clean"


def test_control_replicates_that_differ_are_noise_never_blamed() -> None:
    # The session id changes from run to run; A=a1 also changes it, in every replicate
    # and always the same way: it touches the noise, so it is never attributed.
    sid = BASE[2].value.index("1111")

    def agent(levels: Mapping[str, str], rep: int) -> Requests | None:
        segs = BASE
        if levels["env:A"] == "a1":
            segs = edit(segs, "metadata.user_id", sid, "1111", "9999")
        elif rep > 0:
            segs = edit(segs, "metadata.user_id", sid + 2, "11", f"{rep + 4}{rep + 4}")
        return {REQ: segs}

    a = go(run([cell(), cell(A="a1"), cell(B="b1")], agent))
    assert a.findings == () and a.suspects == ()
    paths = {(n.request, n.path) for n in a.noise}
    assert paths == {(REQ, "metadata.user_id")}
    n = a.noise[0]
    # Control replicates 1 and 2, and B=b1 replicates 1 and 2 (some but not all).
    assert n.runs == 4
    assert n.spans == ((sid + 2, sid + 4),) and n.examples == ("55", "66")
    assert verdict(a, True) == "clean"


def test_a_change_the_control_also_shows_is_not_a_finding() -> None:
    def agent(levels: Mapping[str, str], rep: int) -> Requests | None:
        segs = BASE
        if levels["env:A"] == "a1" or rep == 2:
            segs = edit(segs, "system[0].text", APOS, "'", "\u2019")
        return {REQ: segs}

    a = go(run([cell(), cell(A="a1")], agent))
    assert a.findings == ()
    assert [(n.path, n.spans) for n in a.noise] == [("system[0].text", ((APOS, APOS + 1),))]


def test_a_stable_change_away_from_the_noise_is_still_found() -> None:
    sid = BASE[2].value.index("1111")

    def agent(levels: Mapping[str, str], rep: int) -> Requests | None:
        segs = edit(BASE, "metadata.user_id", sid, "1111", f"{rep:04d}")
        if levels["env:A"] == "a1":
            segs = edit(segs, "metadata.user_id", 0, "user", "USER")
        return {REQ: segs}

    a = go(run([cell(), cell(A="a1")], agent))
    assert [(f.factors, f.change.observed) for f in a.findings] == [({"env:A": "a1"}, "USER")]
    assert [n.path for n in a.noise] == ["metadata.user_id"]


def test_a_change_right_next_to_the_noise_is_found() -> None:
    """Touching is not overlapping: the session id's digits vary between control runs,
    and A=a1 inserts "!" right after them (never in the control). It used to be dropped
    as touching the noise; the id's form (``9999`` → ``9999!``) differs the same way in
    every replicate, so it is a finding."""
    sid = BASE[2].value.index("1111")

    def agent(levels: Mapping[str, str], rep: int) -> Requests | None:
        segs = edit(BASE, "metadata.user_id", sid, "1111", str(rep + 1) * 4)
        if levels["env:A"] == "a1":
            segs = edit(segs, "metadata.user_id", sid + 4, "", "!")
        return {REQ: segs}

    a = go(run([cell(), cell(A="a1"), cell(B="b1")], agent))
    assert [(f.factors, f.change.kind) for f in a.findings] == [({"env:A": "a1"}, "content")]
    c = a.findings[0].change
    # the run's own text over the noisy id: its digits, then the "!"
    assert (c.control, c.observed, c.a_span) == ("1111", "1111!", (sid, sid + 4))
    assert [(n.path, n.spans) for n in a.noise] == [("metadata.user_id", ((sid, sid + 4),))]
    assert verdict(a, True) == "conditioned"


def test_a_longer_insertion_next_to_the_noise_is_found_whatever_the_diff_joins() -> None:
    """Where the digits differ from the reference's the diff joins them and the text
    after them into one change, where they do not it makes two; either way the window
    holds them and the form decides."""
    sid = BASE[2].value.index("1111")
    tail = "-" + "x" * 300

    def agent(levels: Mapping[str, str], rep: int) -> Requests | None:
        segs = edit(BASE, "metadata.user_id", sid, "1111", str(rep + 1) * 4)
        if levels["env:A"] == "a1":
            segs = edit(segs, "metadata.user_id", sid + 4, "", tail)
        return {REQ: segs}

    a = go(run([cell(), cell(A="a1")], agent))
    assert [(f.factors, f.change.observed) for f in a.findings] == [
        ({"env:A": "a1"}, "1111" + tail)
    ]


def test_a_noisy_whole_segment_hides_every_change_in_it() -> None:
    def agent(levels: Mapping[str, str], rep: int) -> Requests | None:
        segs = BASE
        if levels["env:A"] == "a1":
            segs = edit(segs, "system[0].text", APOS, "'", "\u2019")
        if rep == 1:
            segs = tuple(s for s in segs if s.path != "system[0].text")
        return {REQ: segs}

    a = go(run([cell(), cell(A="a1")], agent))
    assert a.findings == ()
    assert [(n.path, n.spans) for n in a.noise] == [("system[0].text", (None,))]


# ---------------------------------------------------------------- pairs and suspects


def test_a_pair_interaction_becomes_a_suspect_then_a_pair_finding() -> None:
    row = cell(A="a1", B="b1", C="c1")
    cells = [cell(), cell(A="a1"), cell(A="a2"), cell(B="b1"), cell(C="c1"), row]
    agent = when({"A": "a1", "B": "b1"}, "system[0].text", SYSTEM.index("Forge"), "F", "f")
    obs = run(cells, agent)
    first = go(obs)
    assert first.findings == () and first.unresolved == ()
    assert len(first.suspects) == 1
    s = first.suspects[0]
    assert s.cell == row.id and s.request == REQ and s.change.observed == "f"
    assert s.candidates == (
        {"env:A": "a1", "env:B": "b1"},
        {"env:A": "a1", "env:C": "c1"},
        {"env:B": "b1", "env:C": "c1"},
    )
    assert verdict(first, True) == "inconclusive"

    extra = confirm(first.suspects, SELECTIONS, existing=cells)
    assert [c.purpose for c in extra] == ["confirm"] * 3
    second = go(obs + run(extra, agent))
    assert second.suspects == () and second.unresolved == ()
    assert [(f.factors, f.change.observed) for f in second.findings] == [
        ({"env:A": "a1", "env:B": "b1"}, "f")
    ]
    assert second.findings[0].cells == ("env:A=a1+env:B=b1", row.id)
    assert verdict(second, True) == "conditioned"


def test_the_whole_loop_over_a_planned_design_attributes_a_pair() -> None:
    agent = when({"A": "a2", "C": "c1"}, "system[0].text", APOS, "'", "\u2019")
    cells = plan(SELECTIONS)
    obs = run(cells, agent, replicates=2)
    a = go(obs)
    extra = confirm(a.suspects, SELECTIONS, existing=cells)
    if extra:
        a = go(obs + run(extra, agent, replicates=2))
    assert [f.factors for f in a.findings] == [{"env:A": "a2", "env:C": "c1"}]
    assert a.suspects == () and a.unresolved == ()


def test_a_change_in_a_pair_cell_explained_by_one_level_is_not_a_pair_finding() -> None:
    agent = when({"A": "a1"}, "system[0].text", APOS, "'", "\u2019")
    cells = [cell(), cell(A="a1"), cell(B="b1"), cell(A="a1", B="b1")]
    a = go(run(cells, agent))
    assert [(f.factors, f.cells) for f in a.findings] == [
        ({"env:A": "a1"}, ("env:A=a1", "env:A=a1+env:B=b1"))
    ]


def test_a_suspect_no_pair_reproduces_stays_unresolved() -> None:
    row = cell(A="a1", B="b1", C="c1")
    cells = [cell(), cell(A="a1"), cell(B="b1"), cell(C="c1"), row]
    agent = when({"A": "a1", "B": "b1", "C": "c1"}, "system[0].text", 0, "Y", "y")
    obs = run(cells, agent)
    first = go(obs)
    assert len(first.suspects) == 1
    extra = confirm(first.suspects, SELECTIONS, existing=cells)
    second = go(obs + run(extra, agent))
    assert second.findings == () and second.suspects == ()
    assert [(s.cell, s.change.observed) for s in second.unresolved] == [(row.id, "y")]
    assert verdict(second, True) == "inconclusive"


# --------------------------------------------------------------------------- failures


def test_failed_runs_are_listed_and_make_the_verdict_inconclusive() -> None:
    def agent(levels: Mapping[str, str], rep: int) -> Requests | None:
        return None if levels["env:B"] == "b1" and rep == 1 else {REQ: BASE}

    a = go(run(plan(SELECTIONS), agent))
    assert a.failed and all(o.requests is None and o.replicate == 1 for o in a.failed)
    assert {o.cell for o in a.failed} == {
        c.id for c in plan(SELECTIONS) if c.levels["env:B"] == "b1"
    }
    assert a.findings == ()
    assert verdict(a, True) == "inconclusive"


def test_a_cell_whose_runs_all_failed_gets_no_finding() -> None:
    def agent(levels: Mapping[str, str], rep: int) -> Requests | None:
        if levels["env:A"] == "a1":
            return None
        segs = BASE
        if levels["env:A"] == "a2":
            segs = edit(segs, "system[0].text", 0, "You", "U")
        return {REQ: segs}

    a = go(run([cell(), cell(A="a1"), cell(A="a2")], agent))
    assert [f.factors for f in a.findings] == [{"env:A": "a2"}]
    assert len(a.failed) == 3
    assert verdict(a, True) == "conditioned"  # a covert/overt finding stands


def test_support_counts_failed_replicates_and_one_survivor_is_not_enough() -> None:
    def agent(levels: Mapping[str, str], rep: int) -> Requests | None:
        if levels["env:A"] != "a0" and rep == 0:
            return None
        if levels["env:A"] != "a0":
            return {REQ: edit(BASE, "system[0].text", APOS, "'", "\u2019")}
        return {REQ: BASE}

    a = go(run([cell(), cell(A="a1")], agent, replicates=3))
    assert [(f.factors, f.support) for f in a.findings] == [({"env:A": "a1"}, (2, 3))]
    assert verdict(a, True) == "conditioned"
    a = go(run([cell(), cell(A="a1")], agent, replicates=2))
    assert a.findings == () and len(a.failed) == 1
    assert verdict(a, True) == "inconclusive"


def test_no_successful_control_run_means_no_reference() -> None:
    def agent(levels: Mapping[str, str], rep: int) -> Requests | None:
        return None if levels["env:A"] == "a0" and levels["env:B"] == "b0" else {REQ: BASE}

    a = go(run([cell(), cell(A="a1")], agent))
    assert a.reference is None and a.findings == () and len(a.failed) == 3
    assert verdict(a, True) == "inconclusive"


def test_the_reference_falls_back_to_the_first_successful_control_replicate() -> None:
    def agent(levels: Mapping[str, str], rep: int) -> Requests | None:
        if levels["env:A"] == "a0" and rep == 0:
            return None
        return (
            {REQ: edit(BASE, "system[0].text", 0, "Y", "y")}
            if levels["env:A"] == "a1"
            else {REQ: BASE}
        )

    a = go(run([cell(), cell(A="a1")], agent))
    assert a.reference == ("control", 1)
    assert [f.factors for f in a.findings] == [{"env:A": "a1"}]
    assert a.findings[0].control_support == (0, 2)


# -------------------------------------------------------------------------- properties


Rule = tuple[dict[str, str], int, str]  # when these levels: put this char at this position

rules = st.lists(
    st.tuples(
        st.dictionaries(
            st.sampled_from(["A", "B", "C"]),
            st.sampled_from(["a1", "a2", "b1", "c1", "b0"]),
            min_size=1,
            max_size=2,
        ),
        st.integers(min_value=0, max_value=len(SYSTEM) - 1),
        st.sampled_from(["\u2019", "x", "\u200b", ""]),
    ),
    max_size=3,
)


def rule_agent(
    rs: list[Rule], noisy: frozenset[tuple[str, int]], fail: frozenset[tuple[str, int]]
) -> Agent:
    def agent(levels: Mapping[str, str], rep: int) -> Requests | None:
        cid = Cell(levels, "covering", "", CONTROL).id
        if (cid, rep) in fail:
            return None
        text = SYSTEM
        for cond, pos, ch in rs:
            if all(levels[f"env:{k}"] == v for k, v in cond.items()):
                text = text[:pos] + ch + text[pos + 1 :]
        segs = (Segment("system[0].text", text), BASE[2])
        if (cid, rep) in noisy:  # a session id that varies between runs: new digits
            segs = (segs[0], Segment("metadata.user_id", f"user-{rep + 1:04d}-session-1111"))
        return {REQ: segs}

    return agent


CELLS = plan(SELECTIONS)
RUN_IDS = [(c.id, r) for c in CELLS for r in range(2)]


@settings(max_examples=40, deadline=None)
@given(
    rules,
    st.frozensets(st.sampled_from(RUN_IDS), max_size=4),
    st.frozensets(st.sampled_from(RUN_IDS[2:]), max_size=2),
    st.randoms(use_true_random=False),
)
def test_the_order_of_observations_does_not_matter(
    rs: list[Rule],
    noisy: frozenset[tuple[str, int]],
    fail: frozenset[tuple[str, int]],
    rnd: random.Random,
) -> None:
    obs = run(CELLS, rule_agent(rs, noisy, fail), replicates=2)
    shuffled = list(obs)
    rnd.shuffle(shuffled)
    a, b = go(obs), go(shuffled)
    assert a == b

    # Whatever the rules, a finding's cell is one where some rule holds and does not in
    # the control (or the other way round), and the noisy session id is never blamed.
    def holds(cond: Mapping[str, str], levels: Mapping[str, str]) -> bool:
        return all(levels[f"env:{k}"] == v for k, v in cond.items())

    for f in a.findings:
        assert f.change.path != "metadata.user_id"
        levels = {**CONTROL, **f.factors}
        assert any(holds(cond, levels) != holds(cond, CONTROL) for cond, _, _ in rs)


segments_st = st.lists(
    st.builds(
        Segment,
        st.text(alphabet="abc.[]0", min_size=1, max_size=6),
        st.text(max_size=20),
        st.sampled_from(["body", "param", "header"]),
    ),
    max_size=5,
)


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(st.text(min_size=1, max_size=10), segments_st, max_size=3),
    st.integers(min_value=1, max_value=3),
)
def test_identical_observations_never_give_a_finding(
    requests: dict[str, list[Segment]], replicates: int
) -> None:
    reqs = {k: tuple(v) for k, v in requests.items()}
    obs = run(CELLS, lambda levels, rep: dict(reqs), replicates=replicates)
    a = analyse(obs, CONTROL, classify=classify)
    assert a.findings == () and a.suspects == () and a.unresolved == () and a.noise == ()
    assert verdict(a, True) == "clean"
    # No difference at all: the detectors are never needed.
    assert analyse(obs, CONTROL) == a


@settings(max_examples=40, deadline=None)
@given(
    rules,
    st.frozensets(st.sampled_from(RUN_IDS), max_size=4),
    st.frozensets(st.sampled_from(RUN_IDS[2:]), max_size=2),
    st.integers(min_value=1, max_value=len(RUN_IDS)),
)
def test_a_memo_over_growing_runs_gives_what_a_fresh_analysis_gives(
    rs: list[Rule],
    noisy: frozenset[tuple[str, int]],
    fail: frozenset[tuple[str, int]],
    cut: int,
) -> None:
    """``discover`` analyses after every round with one memo: the analysis of the runs
    so far is the same with it as without, whatever was analysed before."""
    obs = run(CELLS, rule_agent(rs, noisy, fail), replicates=2)
    memo: dict = {}  # type: ignore[type-arg]
    first = analyse(obs[:cut], CONTROL, classify, memo=memo)
    assert first == analyse(obs[:cut], CONTROL, classify)
    assert analyse(obs, CONTROL, classify, memo=memo) == analyse(obs, CONTROL, classify)
    assert len(memo) >= sum(1 for o in obs if o.requests is not None) - 1
