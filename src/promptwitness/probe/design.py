"""The probe's experiment design (sans-IO): which cells to run, and why.

A :class:`Cell` assigns a level to every selected factor. The design is:

1. the **control** (every factor at ``levels[0]``), run several times: the reference
   every other run is compared with, and the measure of noise;
2. **one at a time**: every non-control level of every factor, alone, all other
   factors at control. A stable difference from the control in such a cell has one
   possible cause, that level;
3. **covering rows** (``pairwise``): a strength-2 covering array over the non-control
   levels, so that every pair of non-control levels of two different factors runs
   together at least once. A difference that no single level explains there is a
   *suspect* (``analysis.attribute``) and names the pairs to confirm;
4. **confirm** cells (``confirm``): one pair of levels, everything else at control.

The covering array is built by IPOG (Lei & Tai), deterministically: factors with the
most levels first, the first two as their full product, every further factor by
horizontal growth (IPOG-F: the row and level that cover most uncovered pairs, again
and again) then
vertical growth (the pairs left over go into rows with free places, or new rows).
Places that no pair needs stay at the control level, so a row varies as few factors as
it can (fewer candidates when it shows a suspect). The row count is close to the lower
bound ``max(l_i * l_j)`` over the two largest factors (tested on the default catalog).

    plan(selections, pairwise=True) -> [Cell]        control, one-at-a-time, covering
    confirm(suspects, selections, existing=()) -> [Cell]   pair cells for the suspects
    describe(cells) -> str                           what runs and why, one line a cell

Cell ids are stable and readable: ``control``, ``tz=Asia/Tokyo``,
``locale=ja_JP.UTF-8+tz=Asia/Tokyo`` (the varied assignments, in factor order).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING, Literal

from promptwitness.errors import UsageError

if TYPE_CHECKING:
    from promptwitness.analysis.attribute import Suspect
    from promptwitness.probe.factors import Selection

__all__ = ["Cell", "Purpose", "confirm", "covering_array", "describe", "plan"]

Purpose = Literal["control", "one-at-a-time", "covering", "confirm"]
Pairs = tuple[tuple[str, str], ...]


def _pairs(levels: Mapping[str, str] | Iterable[tuple[str, str]]) -> Pairs:
    items = levels.items() if isinstance(levels, Mapping) else levels
    return tuple((str(k), str(v)) for k, v in items)


@dataclass(frozen=True, init=False)
class Cell:
    """One environment of the probe: a level for every selected factor.

    ``Cell(levels, purpose, reason, control=None)``. ``levels`` is kept in factor order
    as a tuple of pairs (``assignments``, hashable); ``cell.levels`` gives a dict.
    ``control`` is the control assignment the cell is read against (``None``: the
    cell's own levels when ``purpose`` is ``control``, else no factor is at control and
    every assignment counts as varied).
    """

    assignments: Pairs
    purpose: Purpose
    reason: str
    control: Pairs

    def __init__(
        self,
        levels: Mapping[str, str] | Iterable[tuple[str, str]],
        purpose: Purpose,
        reason: str = "",
        control: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> None:
        assignments = _pairs(levels)
        ctrl = (assignments if purpose == "control" else ()) if control is None else _pairs(control)
        object.__setattr__(self, "assignments", assignments)
        object.__setattr__(self, "purpose", purpose)
        object.__setattr__(self, "reason", reason)
        object.__setattr__(self, "control", ctrl)

    @property
    def levels(self) -> dict[str, str]:
        """Every selected factor → its level, in factor order."""
        return dict(self.assignments)

    @property
    def varied(self) -> dict[str, str]:
        """The assignments that differ from the control, in factor order."""
        ctrl = dict(self.control)
        return {k: v for k, v in self.assignments if ctrl.get(k) != v}

    @property
    def id(self) -> str:
        varied = self.varied
        if not varied:
            return "control"
        return "+".join(f"{k}={v}" for k, v in varied.items())


# --------------------------------------------------------------------------- covering


def covering_array(sizes: Sequence[int]) -> list[tuple[int | None, ...]]:
    """A strength-2 covering array for factors with ``sizes[i]`` values each (IPOG).

    Each row gives every factor a value index, or ``None`` where no pair needs one.
    Every pair of values of two different factors occurs in at least one row. Factors
    with no value are always ``None``. Deterministic.
    """
    live = [i for i, s in enumerate(sizes) if s > 0]
    if len(live) < 2:
        return []
    # Largest factors first: their product is the lower bound and the starting rows.
    order = sorted(live, key=lambda i: (-sizes[i], i))
    d = [sizes[i] for i in order]
    rows: list[list[int | None]] = [[a, b] for a in range(d[0]) for b in range(d[1])]
    for k in range(2, len(d)):
        uncovered = {(j, v, w) for j in range(k) for v in range(d[j]) for w in range(d[k])}
        _grow_horizontally(rows, k, d[k], uncovered)
        # Vertical growth: the pairs left go into a row with free places, or a new row.
        for j, v, w in sorted(uncovered):
            if (j, v, w) not in uncovered:
                continue
            target: list[int | None] | None = None
            for row in rows:
                if (row[j] is None or row[j] == v) and (row[k] is None or row[k] == w):
                    target = row
                    break
            if target is None:
                target = [None] * (k + 1)
                rows.append(target)
            target[j] = v
            target[k] = w
            for jj in range(k):
                vj = target[jj]
                if vj is not None:
                    uncovered.discard((jj, vj, w))
    out: list[tuple[int | None, ...]] = []
    for row in rows:
        full: list[int | None] = [None] * len(sizes)
        for pos, i in enumerate(order):
            full[i] = row[pos]
        out.append(tuple(full))
    return out


def _grow_horizontally(
    rows: list[list[int | None]], k: int, size: int, uncovered: set[tuple[int, int, int]]
) -> None:
    """IPOG-F's horizontal growth: give column ``k`` to rows one at a time, always the
    (row, value) that covers most uncovered pairs (ties: first row, lowest value);
    rows for which no value gains anything keep a free place (``None``)."""
    gain = [[0] * size for _ in rows]
    holders: dict[tuple[int, int], list[int]] = {}
    for r, row in enumerate(rows):
        for j in range(k):
            v = row[j]
            if v is not None:
                holders.setdefault((j, v), []).append(r)
                for w in range(size):
                    gain[r][w] += (j, v, w) in uncovered
    pending = list(range(len(rows)))
    chosen: list[int | None] = [None] * len(rows)
    while pending:
        best_gain, best_pos, best_w = 0, -1, -1
        for pos, r in enumerate(pending):
            g = gain[r]
            for w in range(size):
                if g[w] > best_gain:
                    best_gain, best_pos, best_w = g[w], pos, w
        if best_gain == 0:
            break
        r = pending.pop(best_pos)
        chosen[r] = best_w
        row = rows[r]
        for j in range(k):
            v = row[j]
            if v is not None and (j, v, best_w) in uncovered:
                uncovered.discard((j, v, best_w))
                for other in holders[(j, v)]:
                    gain[other][best_w] -= 1
    for r, row in enumerate(rows):
        row.append(chosen[r])


# ------------------------------------------------------------------------------ plan


def _check(selections: Sequence[Selection]) -> None:
    names = [s.name for s in selections]
    dup = sorted(n for n, c in Counter(names).items() if c > 1)
    if dup:
        raise UsageError(f"factor selected twice: {', '.join(dup)}")
    for s in selections:
        if not s.levels:
            raise UsageError(f"factor {s.name} has no levels")
        if len(set(s.levels)) != len(s.levels):
            raise UsageError(f"factor {s.name}: a level is given twice")


def _fmt(levels: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in levels.items())


def plan(selections: Sequence[Selection], pairwise: bool = True) -> list[Cell]:
    """The cells of a probe: control, every non-control level alone, then (``pairwise``,
    two factors or more) the rows of a covering array over the non-control levels."""
    _check(selections)
    control = {s.name: s.control for s in selections}
    cells = [
        Cell(
            control,
            "control",
            "The control: every factor at its control level"
            + (f" ({_fmt(control)})" if control else "")
            + "; every other run is compared with its first replicate, and its "
            "replicates measure the noise.",
            control,
        )
    ]
    for s in selections:
        for level in s.levels[1:]:
            cells.append(
                Cell(
                    {**control, s.name: level},
                    "one-at-a-time",
                    f"{s.name}={level} alone, every other factor at control: a stable "
                    f"difference from the control here can only come from {s.name}={level}.",
                    control,
                )
            )
    if not pairwise:
        return cells
    seen = {c.id for c in cells}
    sizes = [len(s.levels) - 1 for s in selections]
    rows = covering_array(sizes)
    covered: set[tuple[tuple[str, str], tuple[str, str]]] = set()
    kept: list[tuple[dict[str, str], int]] = []
    for row in rows:
        levels = dict(control)
        for s, value in zip(selections, row, strict=True):
            if value is not None:
                levels[s.name] = s.levels[value + 1]
        cell = Cell(levels, "covering", "", control)
        if cell.id in seen:  # equals a one-at-a-time cell (or the control), or a repeat
            continue
        seen.add(cell.id)
        varied = list(cell.varied.items())
        new = {p for p in combinations(varied, 2) if p not in covered}
        covered |= new
        kept.append((levels, len(new)))
    for n, (levels, new_pairs) in enumerate(kept, 1):
        cells.append(
            Cell(
                levels,
                "covering",
                f"Covering row {n} of {len(kept)}: runs {new_pairs} pair(s) of non-control "
                "levels together for the first time (with the other rows, every pair of "
                "levels of two factors runs at least once); a stable difference that no "
                "single level explains names the pairs to confirm.",
                control,
            )
        )
    return cells


# --------------------------------------------------------------------------- confirm


def confirm(
    suspects: Iterable[Suspect],
    selections: Sequence[Selection],
    existing: Iterable[Cell] = (),
) -> list[Cell]:
    """The pair cells that narrow the suspects down: for each candidate pair, those two
    levels with every other factor at control. Deduplicated against each other and
    against ``existing`` cells (e.g. those already run)."""
    _check(selections)
    control = {s.name: s.control for s in selections}
    known = {s.name: set(s.levels) for s in selections}
    skip = {c.id for c in existing}
    order: list[str] = []
    cells: dict[str, tuple[dict[str, str], list[str]]] = {}
    for suspect in suspects:
        what = (
            f"the {suspect.change.kind} change at {suspect.request or '?'} "
            f"{suspect.change.path or '(request)'} seen in covering row {suspect.cell}"
        )
        for pair in suspect.candidates:
            for name, level in pair.items():
                if name not in known or level not in known[name]:
                    raise UsageError(f"suspect names {name}={level}, which is not selected")
            levels = {**control, **pair}
            cid = Cell(levels, "confirm", "", control).id
            if cid in skip:
                continue
            if cid not in cells:
                cells[cid] = (levels, [])
                order.append(cid)
            cells[cid][1].append(what)
    out: list[Cell] = []
    for cid in order:
        levels, whats = cells[cid]
        pair_text = " with ".join(
            f"{k}={v}" for k, v in Cell(levels, "confirm", "", control).varied.items()
        )
        more = f" (and {len(whats) - 1} other suspect(s))" if len(whats) > 1 else ""
        out.append(
            Cell(
                levels,
                "confirm",
                f"Confirms {whats[0]}{more}: {pair_text} together, every other factor at "
                "control; if the change appears here it is attributed to this pair.",
                control,
            )
        )
    return out


# -------------------------------------------------------------------------- describe


def describe(cells: Sequence[Cell]) -> str:
    """What runs and why: a count by purpose, then one line per cell (id: reason)."""
    counts = Counter(c.purpose for c in cells)
    purposes: tuple[Purpose, ...] = ("control", "one-at-a-time", "covering", "confirm")
    head = (
        f"{len(cells)} cell(s): "
        + ", ".join(f"{counts[p]} {p}" for p in purposes if counts[p])
        + "."
    )
    lines = [head]
    lines += [f"{c.id} [{c.purpose}]: {c.reason}" for c in cells]
    return "\n".join(lines)
