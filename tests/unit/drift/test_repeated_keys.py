"""drift.engine: a line whose key occurs more than once in every request.

Real Claude Code 2.1.91 has ``<examples>``, ``## Examples`` and ``- Examples:`` in three
tool descriptions, and one Bash instruction twice with other indentation and
punctuation. Every request sends them side by side, so they are one form of their key
(the multiset of occurrences), not variants of each other: before, drift reported six
covert "variants" sent by every client (0 with the template form) on real traffic
(tests/e2e/test_drift_claude_code.py)."""

from __future__ import annotations

from promptwitness.analysis.segments import segments
from promptwitness.drift.engine import Correlator, Scanner, Segmenter, unit_map
from promptwitness.drift.grouping import GroupKey
from promptwitness.model import Message, Part, Prompt, Tool

KEY = GroupKey("agent", "1.0", "kind")


def prompt(i: int, *, conditioned: bool = False, pasted: bool = False) -> Prompt:
    apos = "\u02bc" if conditioned else "'"
    system = (
        "You are a careful coding assistant working in a terminal.\n"
        f"Today{apos}s date is 2026-12-{1 + i % 28:02d}.\n"
        "Keep every answer short and never invent file names.\n"
        "Today's date is repeated here for the checker.\n"  # another key
        "  - Run a git diff command to see the staged changes.\n"
    )
    user = f"question number {i} about {'abcdefghijklmnop'[i % 16] * 10}"
    if pasted:
        user += "\nToday's date is 2026-12-06.\n"
    return Prompt(
        protocol="anthropic",
        system=(Part("text", system),),
        messages=(Message("user", (Part("text", user),)),),
        tools=(
            Tool("Plan", "Enter plan mode.\n\n## Examples\n\nA plan.\n"),
            Tool("Skill", "Run a skill.\n- Examples:\n  a skill\n"),
            Tool(
                "Bash", "Run a command.\n    - Run a git diff command to see the staged changes\n"
            ),
        ),
        headers={"user-agent": "agent/1.0"},
    )


def test_occurrences_sent_side_by_side_are_one_form() -> None:
    scanner, seg = Scanner(), Segmenter()
    for i in range(40):
        scanner.add(i + 1, float(i), KEY, unit_map(segments(prompt(i)), seg), f"c{i % 8}")
    assert scanner.candidates() == []


def test_a_user_pasting_a_template_line_adds_an_occurrence_not_a_form() -> None:
    scanner, seg = Scanner(), Segmenter()
    for i in range(40):
        um = unit_map(segments(prompt(i, pasted=i % 5 == 0)), seg)
        scanner.add(i + 1, float(i), KEY, um, f"c{i % 8}")
    assert scanner.candidates() == []


def test_one_occurrence_written_otherwise_is_still_a_variant() -> None:
    scanner, seg = Scanner(), Segmenter()
    maps = []
    for i in range(40):
        um = unit_map(segments(prompt(i, conditioned=i % 4 == 1, pasted=i == 7)), seg)
        maps.append(um)
        scanner.add(i + 1, float(i), KEY, um, f"c{i % 8}")
    (cand,) = [c for c in scanner.candidates() if not c.expected]
    assert {c.kind for c in cand.changes} == {"confusable"}
    assert cand.template_text.startswith("Today's") and cand.text.startswith("Today\u02bcs")
    corr = Correlator([cand])
    for i, um in enumerate(maps):
        corr.add(i + 1, KEY, um, f"c{i % 8}", [("host", "x.cn" if i % 4 == 1 else "y")])
    (v,), _ = corr.variants()
    # the exchange that also pasted the line has neither multiset exactly: counted nowhere
    assert (v.variant.count, v.template.count) == (10, 29)
    assert v.explained_by[0].values == ("x.cn",)
