"""How many runs each cell of a plan gets (probe.runner._replicates)."""

from __future__ import annotations

from promptwitness.probe.design import plan
from promptwitness.probe.factors import Selection, get
from promptwitness.probe.runner import ProbeConfig, _replicates


def _config(names: list[str], levels: int) -> ProbeConfig:
    sels = tuple(Selection(get(n), get(n).levels[:levels]) for n in names)
    return ProbeConfig(argv=("agent",), selections=sels, replicates=3, covering_replicates=1)


def test_rows_of_two_factors_are_pair_cells_and_get_full_replicates() -> None:
    config = _config(["tz", "locale"], 3)
    cells = plan(list(config.selections))
    rows = [c for c in cells if c.purpose == "covering"]
    assert rows and all(len(c.varied) == 2 for c in rows)
    assert all(_replicates(c, config) == 3 for c in rows)


def test_screening_rows_of_three_or_more_factors_run_once() -> None:
    config = _config(["tz", "locale", "hostname", "user"], 3)
    cells = plan(list(config.selections))
    wide = [c for c in cells if c.purpose == "covering" and len(c.varied) >= 3]
    assert wide
    assert all(_replicates(c, config) == 1 for c in wide)
    assert all(_replicates(c, config) == 3 for c in cells if c.purpose == "one-at-a-time")
