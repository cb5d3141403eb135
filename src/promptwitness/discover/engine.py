"""Confirm derived factors with the probe's own runner and analysis (IO: runs).

Given a :class:`~promptwitness.discover.derive.Derivation`, the engine runs:

1. the **control** replicates (as ``probe``: the reference and the noise), then sets
   the run timeout from the control's duration (``Session.tighten_timeout``);
2. **group testing** of every derived level. First round: the first derived level of
   every value factor alone, and the binary inputs (a variable set, a path present) in
   groups of at most ``group_size``. A value factor whose first level changed the
   request is "dense" (the user's name, a zone whose date differs): its other levels
   run alone; the other levels of the other value factors go in rows, row k holding the
   k-th of each (no factor twice in a run), at most ``group_size`` at once. A group runs
   once (the control's replicates hold the noise; a change is confirmed on its single
   input). A group whose run shows a difference from the control (or sends nothing)
   is split into parts whose size fits the share of inputs that change, estimated
   from the first groups of its kind (``density``, ``part_size``: halves when changes
   are rare, single inputs when most change), again and again, down to single inputs,
   which are one-at-a-time cells; a group that shows nothing clears every input in
   it. The groups of one round run at once (``--jobs``);
3. **confirmation**: every one-at-a-time cell whose runs show a change gets
   ``replicates`` runs (at least 2), then the analysis is run once more over the
   control, the one-at-a-time cells and the groups whose change no single input
   explains (an interaction: kept, so the verdict says inconclusive).

Findings, noise, verdict and exit code are the probe's (``analysis.attribute``); group
cells are screening only and are left out of the final analysis unless they hold an
interaction. An input whose own runs all fail (it breaks the command) is reported as
a lead that breaks the run, not as a finding.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from promptwitness.analysis.attribute import Analysis
from promptwitness.discover.derive import Derivation, Derived
from promptwitness.errors import UsageError
from promptwitness.probe.design import Cell, Purpose
from promptwitness.probe.factors import apply_levels
from promptwitness.probe.runner import ProbeConfig, ProbeResult, Session
from promptwitness.probe.sandbox import RunSpec, Sandbox
from promptwitness.store import Store

__all__ = ["DiscoverResult", "Group", "Lead", "density", "part_size", "run_discover"]

Progress = Callable[[str, Mapping[str, Any]], None]


@dataclass
class Group:
    """One group test: which inputs, whether its runs showed a change."""

    cell: str
    members: tuple[str, ...]
    changed: bool
    depth: int

    def to_json(self) -> dict[str, Any]:
        return {
            "cell": self.cell,
            "members": list(self.members),
            "changed": self.changed,
            "depth": self.depth,
        }


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
        return {
            "factor": self.factor,
            "levels": list(self.levels),
            "binary": self.binary,
            "sources": list(self.sources),
            "outcome": self.outcome,
            "runs": self.runs,
        }


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


def _cell(
    levels: Mapping[str, str], control: Mapping[str, str], purpose: Purpose, reason: str
) -> Cell:
    return Cell({**control, **levels}, purpose, reason, control=control)


def _changed(analysis: Analysis, cell_id: str) -> bool:
    return any(cell_id in f.cells for f in analysis.findings) or any(
        s.cell == cell_id for s in (*analysis.suspects, *analysis.unresolved)
    )


def density(groups: Sequence[tuple[int, bool]]) -> float:
    """The share of inputs that change the request, estimated (maximum likelihood, on a
    grid) from first-round groups: ``(size, changed)``. A group of ``n`` is clean with
    probability ``(1 - p) ** n``. Half a clean group of the mean size is added, so that
    "every group changed" gives a high estimate, not 1. No group yet: 0.05."""
    if not groups:
        return 0.05
    mean = sum(n for n, _ in groups) / len(groups)
    best, best_ll = 0.05, -math.inf
    for i in range(1, 1000):
        p = i / 1000
        q = math.log1p(-p)
        ll = 0.5 * mean * q + sum(
            math.log(-math.expm1(n * q)) if changed else n * q for n, changed in groups
        )
        if ll > best_ll:
            best, best_ll = p, ll
    return best


def part_size(n: int, p: float) -> int:
    """The size of the parts a changed group of ``n`` is split into, for a share ``p``
    of inputs that change: the ``s`` that minimises the expected runs per input of the
    next round, ``1/s`` (one run per part) plus ``1 - (1-p)**s`` (a part that changes is
    split again, about one run per input). 1: single inputs, which cost one run each
    and are the better choice when most inputs change. Never more than half of ``n``."""
    best, cost = 1, 1.0
    for size in range(2, n // 2 + 1):
        c = 1 / size + 1 - (1 - p) ** size
        if c < cost:
            best, cost = size, c
    return best


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


def _discover(
    config: ProbeConfig,
    derivation: Derivation,
    store: Store,
    box: Sandbox,
    group_size: int,
    progress: Progress | None,
) -> DiscoverResult:
    s = Session(config, store, box, progress)
    control = s.control
    derived = {d.name: d for d in derivation.derived}
    binary = [
        sel
        for sel in config.selections
        if derived.get(sel.name) is not None and derived[sel.name].binary
    ]
    values = [sel for sel in config.selections if sel not in binary]
    # members of the group tests: a binary input by its name; a level of a value factor
    # as NAME=LEVEL. Each has its one-at-a-time cell (``singles``) and its factor.
    singles: dict[str, Cell] = {}
    member_levels: dict[str, tuple[str, str]] = {}
    value_cells: list[Cell] = []
    firsts: list[str] = []  # the first derived level of each value factor
    rests: dict[str, list[str]] = {}  # its other levels, by factor
    for sel in values:
        for k, level in enumerate(sel.levels[1:]):
            m = f"{sel.name}={level}"
            c = _cell({sel.name: level}, control, "one-at-a-time", f"derived level of {sel.name}")
            singles[m], member_levels[m] = c, (sel.name, level)
            value_cells.append(c)
            if k == 0:
                firsts.append(m)
            else:
                rests.setdefault(sel.name, []).append(m)
    for sel in binary:
        singles[sel.name] = _cell(
            {sel.name: sel.levels[1]}, control, "one-at-a-time", f"{sel.name} alone"
        )
        member_levels[sel.name] = (sel.name, sel.levels[1])
    control_cell = _cell({}, control, "control", "the reference and its noise")
    s.begin([control_cell, *singles.values()], {"discover": True, "group_size": group_size})
    s.run_control()
    timeout = s.tighten_timeout()
    runs_before = len(s.observations)

    # group testing. First round: the first derived level of every value factor alone
    # (it tells the factors whose levels change the request, "dense", from the others)
    # and the binary inputs in groups of at most group_size. Then the other levels of
    # the dense factors alone, and those of the others in rows: row k holds the k-th
    # other level of each (no factor twice in a group), at most group_size at once.
    groups: list[Group] = []
    group_cells: dict[str, Cell] = {}
    kept_groups: set[str] = set()
    single_cells: list[Cell] = []
    width = max(2, group_size)
    pending: list[tuple[list[str], int]] = [([m], 0) for m in firsts] + [
        ([sel.name for sel in binary[i : i + width]], 0) for i in range(0, len(binary), width)
    ]
    value_members = set(member_levels) - {sel.name for sel in binary}
    factors = {sel.name: sel.factor for sel in config.selections}
    rows_due = True
    while pending:
        # a wave: every pending group at once (disjoint inputs), so --jobs runs them in
        # parallel; the parts of the groups that changed form the next wave
        wave, pending = pending, []
        batch: list[tuple[list[str], int, Cell]] = []
        for members, depth in wave:
            if len(members) == 1:
                cell = singles[members[0]]
                single_cells.append(cell)
            else:
                levels = dict(member_levels[n] for n in members)
                try:  # inputs that cannot be set together (a path under a file) split
                    apply_levels(RunSpec(argv=("true",)), {**control, **levels}, factors=factors)
                except UsageError:
                    half = len(members) // 2
                    pending += [(members[:half], depth), (members[half:], depth)]
                    continue
                cell = _cell(levels, control, "covering", f"group test of {len(members)} inputs")
                group_cells[cell.id] = cell
            batch.append((members, depth, cell))
        # one run each: the control's replicates hold the noise, so one run tells a
        # group that changes nothing; a change is confirmed by its single input's cell
        s.run([(cell, 1) for _, _, cell in batch], "groups")
        # one analysis for the round: its groups hold disjoint inputs, so a change seen
        # in one of them is that group's (earlier rounds' groups are left out)
        in_wave = {cell.id for _, _, cell in batch}
        analysis = s.analyse(exclude=[c for c in group_cells if c not in in_wave])
        for members, depth, cell in batch:
            if all(o.requests is None for o in s.observations if o.cell == cell.id):
                changed = True  # it sent nothing, or hung: already unlike the control
            else:
                changed = _changed(analysis, cell.id)
            groups.append(Group(cell.id, tuple(members), changed, depth))
            if changed and len(members) > 1:
                kind = members[0] in value_members
                first = [
                    (len(g.members), g.changed)
                    for g in groups
                    if g.depth == 0
                    and len(g.members) > 1
                    and (g.members[0] in value_members) == kind
                ]
                size = part_size(len(members), density(first))
                pending += [
                    (members[i : i + size], depth + 1) for i in range(0, len(members), size)
                ]
                kept_groups.add(cell.id)  # until a part explains its change
        if rows_due:
            rows_due = False
            changed_first = {
                member_levels[g.members[0]][0]
                for g in groups
                if g.changed and g.members[0] in firsts
            }
            rows: list[list[str]] = []
            for name, rest in rests.items():
                if name in changed_first:
                    pending += [([m], 0) for m in rest]
                    continue
                for k, m in enumerate(rest):
                    if k == len(rows):
                        rows.append([])
                    rows[k].append(m)
            pending += [(row[i : i + width], 0) for row in rows for i in range(0, len(row), width)]

    # confirmation of whatever changed in a one-at-a-time cell
    excluded = set(group_cells)
    analysis = s.analyse(exclude=excluded)
    shown = {c for f in analysis.findings for c in f.cells}
    todo = [c for c in single_cells if c.id in shown]
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
    broken_factors = {member_levels[n][0] for n, c in singles.items() if c.id in broken}
    # groups whose change no member explains: an interaction, kept in the analysis
    found_factors = {k for f in analysis.findings for k in f.factors} | broken_factors
    interactions = [
        g
        for g in groups
        if g.changed
        and g.cell in kept_groups
        and not any(member_levels[m][0] in found_factors for m in g.members)
        and not any(
            h.changed and h.depth > g.depth and set(h.members) <= set(g.members) for h in groups
        )
    ]
    for g in interactions:
        excluded.discard(g.cell)
    excluded |= broken
    analysis = s.analyse(exclude=excluded)
    cells = [control_cell, *single_cells, *[group_cells[g.cell] for g in interactions]]
    result = s.finish(cells, analysis, exclude=excluded)

    # leads: what each derived factor's runs showed
    found = {k for f in analysis.findings for k in f.factors}
    per_factor: dict[str, int] = {}
    for o in s.observations[runs_before:]:
        for name, level in o.levels.items():
            if level != control.get(name):
                per_factor[name] = per_factor.get(name, 0) + 1
    leads: list[Lead] = []
    inter = {member_levels[m][0] for g in interactions for m in g.members}
    for sel in config.selections:
        d: Derived | None = derived.get(sel.name)
        if sel.name in found:
            outcome = "finding"
        elif sel.name in broken_factors:
            outcome = "breaks-run"
        elif sel.name in inter:
            outcome = "interaction"
        else:
            outcome = "no-change"
        leads.append(
            Lead(
                sel.name,
                sel.levels,
                bool(d and d.binary),
                d.sources if d else ("given with --factor",),
                outcome,
                per_factor.get(sel.name, 0),
            )
        )
    n_runs = len(s.observations) - runs_before
    n_levels = sum(len(sel.levels) - 1 for sel in values) + len(binary)
    return DiscoverResult(
        result, derivation, leads, groups, n_runs, n_levels, {"run_timeout": round(timeout, 1)}
    )


def selections_of(derivation: Derivation) -> tuple[Any, ...]:
    """The derivation's selections, in order (value factors first)."""
    return tuple(d.selection for d in derivation.derived)
