"""Confirm derived factors with the probe's own runner and analysis (IO: runs).

Given a :class:`~promptwitness.discover.derive.Derivation`, the engine runs:

1. the **control** replicates (as ``probe``: the reference and the noise);
2. **screening** of value factors: one run per derived level (a one-at-a-time cell);
3. **group testing** of binary inputs (a variable set, a path present): groups of at
   most ``group_size`` set at once, two runs each; a group whose runs show a stable
   difference from the control (or fail) is split in halves, again and again, down to
   single inputs; a group that shows nothing clears every input in it with two runs;
4. **confirmation**: every one-at-a-time cell whose runs show a change gets
   ``replicates`` runs (at least 2), then the analysis is run once more over the
   control, the one-at-a-time cells and the groups whose change no single input
   explains (an interaction: kept, so the verdict says inconclusive).

Findings, noise, verdict and exit code are the probe's (``analysis.attribute``); group
cells are screening only and are left out of the final analysis unless they hold an
interaction. An input whose own runs all fail (it breaks the command) is reported as
a lead that breaks the run, not as a finding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from promptwitness.analysis.attribute import Analysis
from promptwitness.discover.derive import Derivation, Derived
from promptwitness.probe.design import Cell, Purpose
from promptwitness.probe.runner import ProbeConfig, ProbeResult, Session
from promptwitness.probe.sandbox import Sandbox
from promptwitness.store import Store

__all__ = ["DiscoverResult", "Group", "Lead", "run_discover"]

Progress = Callable[[str, Mapping[str, Any]], None]


@dataclass
class Group:
    """One group test: which inputs, whether its runs showed a change."""

    cell: str
    members: tuple[str, ...]
    changed: bool
    depth: int

    def to_json(self) -> dict[str, Any]:
        return {"cell": self.cell, "members": list(self.members), "changed": self.changed,
                "depth": self.depth}


@dataclass
class Lead:
    """A derived factor and what its runs showed: ``outcome`` is ``finding`` (a stable
    change attributed to one of its levels), ``no-change``, ``breaks-run`` (its runs
    sent nothing), ``interaction`` (only together with other inputs of its group)."""

    factor: str
    levels: tuple[str, ...]
    binary: bool
    sources: tuple[str, ...]
    outcome: str
    runs: int

    def to_json(self) -> dict[str, Any]:
        return {"factor": self.factor, "levels": list(self.levels), "binary": self.binary,
                "sources": list(self.sources), "outcome": self.outcome, "runs": self.runs}


@dataclass
class DiscoverResult:
    probe: ProbeResult
    derivation: Derivation
    leads: list[Lead]
    groups: list[Group]
    runs: int  # every run besides the control's (screening, groups, confirmation)
    levels: int  # derived levels (non-control), binary inputs count one each
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def runs_per_level(self) -> float:
        return self.runs / self.levels if self.levels else 0.0

    def to_json(self) -> dict[str, Any]:
        d = self.derivation
        return {
            "leads": [x.to_json() for x in self.leads],
            "groups": [g.to_json() for g in self.groups],
            "coverage": {
                "summary": d.coverage_line(),
                "inputs": [i.to_json() for i in d.inputs],
            },
            "notes": list(d.notes),
            "runs": self.runs,
            "derived_levels": self.levels,
            "runs_per_level": round(self.runs_per_level, 3),
            **self.extra,
        }


def _cell(levels: Mapping[str, str], control: Mapping[str, str], purpose: Purpose,
          reason: str) -> Cell:
    return Cell({**control, **levels}, purpose, reason, control=control)


def _changed(analysis: Analysis, cell_id: str) -> bool:
    return any(cell_id in f.cells for f in analysis.findings) or any(
        s.cell == cell_id for s in (*analysis.suspects, *analysis.unresolved))


def run_discover(
    config: ProbeConfig,
    derivation: Derivation,
    store: Store,
    *,
    group_size: int = 32,
    progress: Progress | None = None,
    sandbox: Sandbox | None = None,
) -> DiscoverResult:
    """Screen and confirm every derived factor (``config.selections`` must be the
    derivation's selections, plus any the user added)."""
    own = sandbox is None
    box = sandbox if sandbox is not None else Sandbox(prefork=config.jobs)
    try:
        return _discover(config, derivation, store, box, group_size, progress)
    finally:
        if own:
            box.close()


def _discover(config: ProbeConfig, derivation: Derivation, store: Store, box: Sandbox,
              group_size: int, progress: Progress | None) -> DiscoverResult:
    s = Session(config, store, box, progress)
    control = s.control
    derived = {d.name: d for d in derivation.derived}
    binary = [sel for sel in config.selections if derived.get(sel.name, None) is not None
              and derived[sel.name].binary]
    values = [sel for sel in config.selections if sel not in binary]
    singles: dict[str, Cell] = {}
    value_cells: list[Cell] = []
    for sel in values:
        for level in sel.levels[1:]:
            c = _cell({sel.name: level}, control, "one-at-a-time",
                      f"derived level of {sel.name}")
            value_cells.append(c)
    for sel in binary:
        singles[sel.name] = _cell({sel.name: sel.levels[1]}, control, "one-at-a-time",
                                  f"{sel.name} alone")
    control_cell = _cell({}, control, "control", "the reference and its noise")
    s.begin([control_cell, *value_cells, *singles.values()],
            {"discover": True, "group_size": group_size})
    s.run_control()
    timeout = s.tighten_timeout()
    runs_before = len(s.observations)

    # screening: one run per derived level
    s.run([(c, 1) for c in value_cells], "screen")

    # group testing of binary inputs
    groups: list[Group] = []
    group_cells: dict[str, Cell] = {}
    kept_groups: set[str] = set()
    single_cells: list[Cell] = []
    width = max(2, group_size)
    pending: list[tuple[list[str], int]] = [
        ([sel.name for sel in binary[i:i + width]], 0) for i in range(0, len(binary), width)
    ]
    by_name = {sel.name: sel for sel in binary}
    while pending:
        members, depth = pending.pop(0)
        if len(members) == 1:
            cell = singles[members[0]]
            single_cells.append(cell)
        else:
            levels = {n: by_name[n].levels[1] for n in members}
            cell = _cell(levels, control, "covering", f"group test of {len(members)} inputs")
            group_cells[cell.id] = cell
        # one run; a second only when the first sent something (a run that sends
        # nothing, or hangs, already differs from the control: no need to see it twice)
        s.run([(cell, 1)], "groups")
        if all(o.requests is None for o in s.observations if o.cell == cell.id):
            changed = True
        else:
            s.run([(cell, 2)], "groups")
            analysis = s.analyse(exclude=[c for c in group_cells if c != cell.id])
            changed = _changed(analysis, cell.id)
        if len(members) == 1:
            groups.append(Group(cell.id, tuple(members), changed, depth))
            continue
        groups.append(Group(cell.id, tuple(members), changed, depth))
        if changed:
            half = len(members) // 2
            pending.insert(0, (members[half:], depth + 1))
            pending.insert(0, (members[:half], depth + 1))
            kept_groups.add(cell.id)  # until a part explains its change

    # confirmation of whatever changed in a one-at-a-time cell
    excluded = set(group_cells)
    analysis = s.analyse(exclude=excluded)
    shown = {c for f in analysis.findings for c in f.cells}
    todo = [c for c in [*value_cells, *single_cells] if c.id in shown]
    reps = max(2, config.replicates)
    if todo:
        s.run([(c, reps) for c in todo], "confirm")
        analysis = s.analyse(exclude=excluded)

    # inputs whose own runs all failed: they break the command (a lead, not a finding)
    broken: set[str] = set()
    for cell in single_cells:
        own = [o for o in s.observations if o.cell == cell.id]
        if own and all(o.requests is None for o in own):
            broken.add(cell.id)
    broken_factors = {n for n, c in singles.items() if c.id in broken}
    # groups whose change no member explains: an interaction, kept in the analysis
    found_factors = {k for f in analysis.findings for k in f.factors} | broken_factors
    interactions = [g for g in groups
                    if g.changed and g.cell in kept_groups
                    and not any(m in found_factors for m in g.members)
                    and not any(h.changed and h.depth > g.depth and set(h.members)
                                <= set(g.members) for h in groups)]
    for g in interactions:
        excluded.discard(g.cell)
    excluded |= broken
    analysis = s.analyse(exclude=excluded)
    cells = [control_cell, *value_cells, *single_cells,
             *[group_cells[g.cell] for g in interactions]]
    result = s.finish(cells, analysis, exclude=excluded)

    # leads: what each derived factor's runs showed
    found = {k for f in analysis.findings for k in f.factors}
    per_factor: dict[str, int] = {}
    for o in s.observations[runs_before:]:
        for name, level in o.levels.items():
            if level != control.get(name):
                per_factor[name] = per_factor.get(name, 0) + 1
    leads: list[Lead] = []
    inter = {m for g in interactions for m in g.members}
    for sel in config.selections:
        d: Derived | None = derived.get(sel.name)
        if sel.name in found:
            outcome = "finding"
        elif sel.name in singles and singles[sel.name].id in broken:
            outcome = "breaks-run"
        elif sel.name in inter:
            outcome = "interaction"
        else:
            outcome = "no-change"
        leads.append(Lead(sel.name, sel.levels, bool(d and d.binary),
                          d.sources if d else ("given with --factor",), outcome,
                          per_factor.get(sel.name, 0)))
    n_runs = len(s.observations) - runs_before
    n_levels = sum(len(sel.levels) - 1 for sel in values) + len(binary)
    return DiscoverResult(result, derivation, leads, groups, n_runs, n_levels,
                          {"run_timeout": round(timeout, 1)})


def selections_of(derivation: Derivation) -> tuple[Any, ...]:
    """The derivation's selections, in order (value factors first)."""
    return tuple(d.selection for d in derivation.derived)
