"""How discover sizes the parts of a changed group (discover.engine.density, part_size)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from promptwitness.discover.engine import density, part_size


def test_density_follows_the_share_of_groups_that_changed() -> None:
    assert density([]) == 0.05
    rare = density([(32, False)] * 7 + [(32, True)])
    some = density([(32, False)] * 4 + [(32, True)] * 4)
    most = density([(32, True)] * 8)
    assert rare < some < most < 0.2  # never 1: half a clean group is assumed
    # (1 - p) ** 32 == 1/2 when half of the groups of 32 changed
    assert abs((1 - density([(32, False)] * 50 + [(32, True)] * 50)) ** 32 - 0.5) < 0.02


def test_rare_changes_split_in_large_parts_common_ones_in_single_inputs() -> None:
    assert part_size(32, 0.001) == 16  # halves
    assert 3 <= part_size(32, 0.06) <= 6
    assert part_size(32, 0.5) == 1  # most inputs change: one run each is cheaper
    assert part_size(2, 0.001) == 1  # a pair: its two inputs


@given(st.integers(min_value=1, max_value=512), st.floats(min_value=0.0, max_value=1.0))
def test_a_part_is_a_single_input_or_at_most_half(n: int, p: float) -> None:
    s = part_size(n, p)
    assert s == 1 or 2 <= s <= n // 2


@given(st.lists(st.tuples(st.integers(min_value=2, max_value=64), st.booleans()), max_size=20))
def test_density_is_a_probability(groups: list[tuple[int, bool]]) -> None:
    assert 0.0 < density(groups) < 1.0
