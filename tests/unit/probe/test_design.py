"""The experiment design (sans-IO): cells, their ids, the covering array, confirm cells."""

from __future__ import annotations

from collections import Counter
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptwitness.analysis.attribute import Suspect
from promptwitness.analysis.changes import Change
from promptwitness.errors import UsageError
from promptwitness.probe.design import Cell, confirm, covering_array, describe, plan
from promptwitness.probe.factors import FACTORS, Selection, env_factor


def sel(name: str, *levels: str) -> Selection:
    return Selection(env_factor(name, levels), levels)


def uncovered_pairs(selections: list[Selection], cells: list[Cell]) -> set[object]:
    """Pairs of non-control levels of two factors that no cell runs together."""
    need = {
        ((a.name, la), (b.name, lb))
        for a, b in combinations(selections, 2)
        for la in a.levels[1:]
        for lb in b.levels[1:]
    }
    for c in cells:
        need -= set(combinations(c.varied.items(), 2))
    return need


def bound(sizes: list[int]) -> int:
    a, b = sorted(sizes)[-2:]
    return a * b


# ------------------------------------------------------------------------------ Cell


def test_cell_ids_levels_and_varied() -> None:
    control = {"locale": "C.UTF-8", "tz": "UTC"}
    c0 = Cell(control, "control", "the control")
    assert c0.id == "control" and c0.varied == {} and c0.levels == control
    c1 = Cell({"locale": "C.UTF-8", "tz": "Asia/Tokyo"}, "one-at-a-time", "r", control)
    assert c1.id == "tz=Asia/Tokyo"
    assert c1.varied == {"tz": "Asia/Tokyo"}
    c2 = Cell({"locale": "ja_JP", "tz": "Asia/Tokyo"}, "confirm", "r", control)
    assert c2.id == "locale=ja_JP+tz=Asia/Tokyo"
    assert c2.varied == {"locale": "ja_JP", "tz": "Asia/Tokyo"}
    # levels is a fresh dict in factor order; the cell itself is hashable.
    assert list(c2.levels) == ["locale", "tz"]
    c2.levels["tz"] = "changed"
    assert c2.levels["tz"] == "Asia/Tokyo"
    assert len({c1, c2, Cell(dict(c2.levels), "confirm", "r", control)}) == 2


def test_cell_id_follows_factor_order_not_name_order() -> None:
    control = {"tz": "UTC", "locale": "C"}
    c = Cell({"tz": "Asia/Tokyo", "locale": "ja_JP"}, "covering", "r", control)
    assert c.id == "tz=Asia/Tokyo+locale=ja_JP"


# ------------------------------------------------------------------------------ plan


def test_plan_control_then_one_at_a_time_then_covering() -> None:
    selections = [
        sel("A", "a0", "a1", "a2"),
        sel("B", "b0", "b1", "b2", "b3"),
        sel("C", "c0", "c1"),
    ]
    cells = plan(selections)
    assert cells[0].purpose == "control" and cells[0].id == "control"
    assert cells[0].levels == {"env:A": "a0", "env:B": "b0", "env:C": "c0"}
    purposes = [c.purpose for c in cells]
    assert purposes == sorted(purposes, key=["control", "one-at-a-time", "covering"].index)
    singles = [c for c in cells if c.purpose == "one-at-a-time"]
    assert [c.id for c in singles] == [
        "env:A=a1",
        "env:A=a2",
        "env:B=b1",
        "env:B=b2",
        "env:B=b3",
        "env:C=c1",
    ]
    for c in cells:
        assert list(c.levels) == ["env:A", "env:B", "env:C"]
        assert c.reason.endswith(".") and len(c.reason) > 20
    covering = [c for c in cells if c.purpose == "covering"]
    assert all(len(c.varied) >= 2 for c in covering)
    assert len({c.id for c in cells}) == len(cells)
    assert not uncovered_pairs(selections, cells)
    assert len(covering) <= bound([2, 3, 1]) * 1.5
    # Deterministic.
    assert [c.id for c in plan(selections)] == [c.id for c in cells]


def test_plan_without_pairwise_or_with_one_factor_has_no_covering_rows() -> None:
    selections = [sel("A", "a0", "a1", "a2"), sel("B", "b0", "b1")]
    cells = plan(selections, pairwise=False)
    assert [c.purpose for c in cells] == ["control"] + ["one-at-a-time"] * 3
    cells = plan([sel("A", "a0", "a1", "a2")])
    assert [c.id for c in cells] == ["control", "env:A=a1", "env:A=a2"]


def test_plan_factor_with_only_its_control_level_is_never_varied() -> None:
    selections = [sel("A", "a0", "a1", "a2"), sel("B", "b0"), sel("C", "c0", "c1", "c2")]
    cells = plan(selections)
    assert all(c.levels["env:B"] == "b0" for c in cells)
    assert not uncovered_pairs(selections, cells)


def test_plan_rejects_a_factor_given_twice() -> None:
    with pytest.raises(UsageError):
        plan([sel("A", "a0", "a1"), sel("A", "a0", "a2")])


def test_plan_default_catalog_covers_every_pair_near_the_bound() -> None:
    selections = [Selection(f, f.levels) for f in FACTORS.values()]
    cells = plan(selections)
    covering = [c for c in cells if c.purpose == "covering"]
    assert not uncovered_pairs(selections, cells)
    sizes = [len(s.levels) - 1 for s in selections]
    assert bound(sizes) <= len(covering) <= 1.5 * bound(sizes)
    assert sum(c.purpose == "one-at-a-time" for c in cells) == sum(sizes)
    assert len({c.id for c in cells}) == len(cells)


@pytest.mark.parametrize(
    "sizes",
    [
        [5, 6, 7, 8, 9, 10, 11, 12, 13],
        [13, 5, 12, 6, 11, 7, 10, 8, 9],
        [12, 12, 5, 12, 8, 10, 7, 13, 9],
        [5, 5, 13, 13, 9, 9, 7, 7, 11],
    ],
)
def test_covering_array_of_nine_factors_is_within_one_and_a_half_of_the_bound(
    sizes: list[int],
) -> None:
    rows = covering_array(sizes)
    for i, j in combinations(range(len(sizes)), 2):
        have = {(r[i], r[j]) for r in rows}
        assert all((a, b) in have for a in range(sizes[i]) for b in range(sizes[j])), (i, j)
    assert len(rows) <= 1.5 * bound(sizes)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=6), min_size=0, max_size=6))
def test_covering_array_covers_every_pair(sizes: list[int]) -> None:
    rows = covering_array(sizes)
    assert rows == covering_array(sizes)  # deterministic
    for r in rows:
        assert len(r) == len(sizes)
        assert all(v is None or 0 <= v < sizes[i] for i, v in enumerate(r))
    for i, j in combinations(range(len(sizes)), 2):
        have = {(r[i], r[j]) for r in rows}
        assert all((a, b) in have for a in range(sizes[i]) for b in range(sizes[j]))
    live = [s for s in sizes if s]
    if len(live) >= 2:
        assert len(rows) >= bound(live)


# --------------------------------------------------------------------------- confirm


def suspect(cell: str, levels: dict[str, str], path: str = "system[0].text") -> Suspect:
    varied = {k: v for k, v in levels.items() if not v.endswith("0")}
    return Suspect(
        cell,
        levels,
        Change(path, "body", "confusable", "'", "\u2019", (3, 4), (3, 4)),
        tuple(dict(p) for p in combinations(varied.items(), 2)),
        "POST /v1/messages#0",
    )


def test_confirm_makes_one_pair_cell_per_candidate_deduplicated() -> None:
    selections = [sel("A", "a0", "a1"), sel("B", "b0", "b1"), sel("C", "c0", "c1", "c2")]
    s1 = suspect("row1", {"env:A": "a1", "env:B": "b1", "env:C": "c1"})
    s2 = suspect("row2", {"env:A": "a1", "env:B": "b1", "env:C": "c2"}, "tools[Bash].description")
    cells = confirm([s1, s2], selections)
    ids = [c.id for c in cells]
    assert ids == [
        "env:A=a1+env:B=b1",
        "env:A=a1+env:C=c1",
        "env:B=b1+env:C=c1",
        "env:A=a1+env:C=c2",
        "env:B=b1+env:C=c2",
    ]
    for c in cells:
        assert c.purpose == "confirm" and len(c.varied) == 2
        assert set(c.levels) == {"env:A", "env:B", "env:C"}
        assert c.reason.endswith(".")
    assert "row1" in cells[0].reason and "1 other suspect" in cells[0].reason
    assert "row2" in cells[3].reason and "tools[Bash].description" in cells[3].reason
    # Cells already planned or run are not asked for again.
    again = confirm([s1, s2], selections, existing=cells[:2])
    assert [c.id for c in again] == ids[2:]


def test_confirm_rejects_a_level_that_is_not_selected() -> None:
    selections = [sel("A", "a0", "a1"), sel("B", "b0", "b1")]
    bad = suspect("row", {"env:A": "a1", "env:B": "b9"})
    with pytest.raises(UsageError):
        confirm([bad], selections)


def test_describe_says_what_runs_and_why() -> None:
    selections = [sel("A", "a0", "a1", "a2"), sel("B", "b0", "b1", "b2")]
    cells = plan(selections)
    text = describe(cells)
    counts = Counter(c.purpose for c in cells)
    assert text.splitlines()[0] == (
        f"{len(cells)} cell(s): 1 control, {counts['one-at-a-time']} one-at-a-time, "
        f"{counts['covering']} covering."
    )
    for c in cells:
        assert f"{c.id} [{c.purpose}]: {c.reason}" in text.splitlines()
