"""RANGE parsing, ordering and even sampling (history.versions)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptwitness.agents.registry import Release
from promptwitness.errors import UsageError
from promptwitness.history.versions import sample, select, version_key

# Publication order disagrees with version order on purpose (as on the npm registry).
RELEASES = [
    Release("2.0.9", "2026-02-01T00:00:00Z"),
    Release("2.1.0", "2026-03-03T00:00:00Z"),
    Release("2.1.2", "2026-03-05T00:00:00Z"),
    Release("2.1.10", "2026-07-23T00:00:00Z"),  # published late
    Release("2.1.3-beta.1", "2026-03-06T00:00:00Z"),
    Release("2.1.3", "2026-03-07T00:00:00Z"),
    Release("1.0.5", "2026-03-08T00:00:00Z"),  # an old line republished in 2026
    Release("2.1.20", "2026-04-01T00:00:00Z"),
]


def _v(rs: list[Release]) -> list[str]:
    return [r.version for r in rs]


def test_version_key_orders_numerically_with_prereleases_first() -> None:
    vs = ["2.1.10", "2.1.9", "2.1.3", "2.1.3-beta.1", "2.1.3-beta.10", "2.1.3-beta.2", "10.0.0"]
    assert sorted(vs, key=version_key) == [
        "2.1.3-beta.1",
        "2.1.3-beta.2",
        "2.1.3-beta.10",
        "2.1.3",
        "2.1.9",
        "2.1.10",
        "10.0.0",
    ]


def test_range_by_version_excludes_other_lines_and_prereleases() -> None:
    assert _v(select(RELEASES, "2.1.0..2.1.20")) == ["2.1.0", "2.1.2", "2.1.3", "2.1.10", "2.1.20"]


def test_range_by_publication_time_keeps_the_registry_order() -> None:
    assert _v(select(RELEASES, "2.1.0..2.1.20", order="published")) == [
        "2.1.0",
        "2.1.2",
        "2.1.3",
        "2.1.20",
        "2.1.10",
    ]


def test_open_ended_ranges() -> None:
    assert _v(select(RELEASES, "..2.1.2")) == ["1.0.5", "2.0.9", "2.1.0", "2.1.2"]
    assert _v(select(RELEASES, "2.1.10..")) == ["2.1.10", "2.1.20"]


def test_prerelease_end_includes_prereleases() -> None:
    assert _v(select(RELEASES, "2.1.2..2.1.3-beta.1")) == ["2.1.2", "2.1.3-beta.1"]


def test_comma_list_in_the_order_written_without_duplicates() -> None:
    assert _v(select(RELEASES, "2.1.20, 2.1.0,2.1.20")) == ["2.1.20", "2.1.0"]


@pytest.mark.parametrize(
    "spec", ["", "2.1.1..2.1.20", "2.1.0..9.9.9", "2.1.20..2.1.0", "2.1.0,,2.1.2", "7.7.7"]
)
def test_bad_ranges_are_usage_errors(spec: str) -> None:
    with pytest.raises(UsageError):
        select(RELEASES, spec)


def test_every_keeps_both_ends() -> None:
    assert sample(list(range(10)), every=3) == [0, 3, 6, 9]
    assert sample(list(range(11)), every=3) == [0, 3, 6, 9, 10]


def test_max_spreads_evenly() -> None:
    assert sample(list(range(287)), most=10) == [0, 32, 64, 95, 127, 159, 191, 222, 254, 286]
    assert sample([1, 2, 3], most=10) == [1, 2, 3]


def test_every_then_max() -> None:
    assert sample(list(range(100)), every=2, most=3) == [0, 50, 99]


@pytest.mark.parametrize(("every", "most"), [(0, None), (None, 1)])
def test_bad_sampling(every: int | None, most: int | None) -> None:
    with pytest.raises(UsageError):
        sample([1, 2, 3], every=every, most=most)


@given(
    st.lists(st.integers(), min_size=1, max_size=300, unique=True),
    st.one_of(st.none(), st.integers(1, 20)),
    st.one_of(st.none(), st.integers(2, 30)),
)
def test_sampling_properties(items: list[int], every: int | None, most: int | None) -> None:
    out = sample(items, every=every, most=most)
    assert out[0] == items[0] and out[-1] == items[-1]
    pos = [items.index(x) for x in out]
    assert pos == sorted(set(pos))  # a subsequence, in order, no repeats
    if most is not None:
        assert len(out) <= most
    if every is None and most is None:
        assert out == items
