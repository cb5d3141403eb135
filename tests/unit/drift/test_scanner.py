"""drift.engine: the bounded table keeps the template while users' own lines churn."""

from __future__ import annotations

from promptwitness.analysis.segments import segments
from promptwitness.drift.engine import Correlator, Scanner, Segmenter, unit_map
from promptwitness.drift.grouping import GroupKey, agent_of, group_key
from promptwitness.drift.model import Options
from promptwitness.model import Message, Part, Prompt

KEY = GroupKey("agent", "1.0", "kind")
TEMPLATE = (
    "You are a careful coding assistant working in a terminal.\n"
    "Today{apos}s date is {date}.\n"
    "Keep every answer short and never invent file names.\n"
)


def prompt(i: int, covert: bool) -> Prompt:
    system = TEMPLATE.format(apos="\u2019" if covert else "'", date=f"2026-12-{1 + i % 28:02d}")
    user = f"user {i} asks about the {'quick brown fox jumps'.split()[i % 4]} number {i}"
    user += "".join(f"\nunique words for line {chr(97 + (i + k) % 26) * 9} {k}" for k in range(6))
    return Prompt(
        protocol="anthropic",
        system=(Part("text", system),),
        messages=(Message("user", (Part("text", user),)),),
        headers={"user-agent": "agent/1.0"},
    )


def test_template_survives_a_small_table_and_the_variant_is_found() -> None:
    opts = Options(max_units=8)
    scanner, seg = Scanner(opts), Segmenter()
    maps = []
    for i in range(400):
        um = unit_map(segments(prompt(i, covert=i % 10 == 3)), seg)
        maps.append(um)
        scanner.add(i + 1, float(i), KEY, um, f"client-{i % 40}")
        assert len(scanner.groups[KEY].units) <= 2 * opts.max_units + 8
    (cand,) = scanner.candidates()
    assert not cand.expected and {c.kind for c in cand.changes} == {"confusable"}
    corr = Correlator([cand], opts)
    for i, um in enumerate(maps):
        corr.add(i + 1, KEY, um, f"client-{i % 40}", [("host", "x.cn" if i % 10 == 3 else "y")])
    (v,), apart = corr.variants()
    assert apart == () and v.variant.count == 40 and v.template.count == 360
    assert v.explained_by[0].values == ("x.cn",)


def test_value_changes_alone_make_no_candidate() -> None:
    scanner, seg = Scanner(), Segmenter()
    for i in range(50):
        scanner.add(i + 1, float(i), KEY, unit_map(segments(prompt(i, False)), seg), f"c{i}")
    assert scanner.candidates() == []


def test_groups() -> None:
    assert agent_of("claude-cli/2.1.91 (external, cli)") == ("claude-cli", "2.1.91")
    assert agent_of("curl") == ("curl", "?")
    assert agent_of(None) == ("(no user agent)", "?")
    k = group_key(prompt(0, False), "POST", "/v1/messages")
    assert (k.agent, k.version) == ("agent", "1.0") and "system×1" in k.kind
