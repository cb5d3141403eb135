"""Attribution (sans-IO): which differences are noise, which are caused by which factor
levels, and which still need confirming.

Every run is compared with the **reference**, the control cell's replicate 0 (the
lowest successful control replicate when 0 failed), request by request
(``diff_segments`` then ``classify``), so every span is in the reference's
coordinates and "the same change" (``Change.key``) means the same thing in every run.

- **Noise** (per request and segment path): the reference-side spans of the changes
  seen in any other control replicate, and of the changes seen in some but not all
  replicates of any one cell. A whole-segment change (a segment or a request added or
  removed: no span) makes the whole segment noisy (span ``None``), and every change in
  it is dropped. Noise is reported and never attributed.
- **Inside noise** (``analysis.noisy``): a noise span is widened to the changes (up to
  ``noisy.GROW`` code points) that overlap or touch it, a *window*. The changes in a
  window are not taken on their own keys but judged by the window's *form*
  (``forms``: digits and letters masked, a UTC offset kept): when every control run has
  the reference's form and the runs of a cell share another one, what differs in form
  (the values set aside) is classified as any change and keyed the same in each run (a
  date in a per-run timestamp written ``2026/12/06``, an offset ``+08:00`` for
  ``+00:00``: ``date-format``). New values stay noise; a window whose form varies
  between identical runs (control replicates, or the replicates of any one cell) stays
  noise whole. A change outside every window (a longer one right next to it too) is
  taken as any.
- **Finding**: a change with the same key in every successful replicate of a cell (at
  least two when the cell was replicated: one survivor cannot tell a stable change
  from noise; ``support`` counts the failed runs too), in no control replicate, not
  dropped as noise, in a cell that varies exactly one factor (attributed to that level)
  or two (attributed to the pair, unless it is already a finding of one of the two
  levels alone). One finding per (cell, change); ``cells`` lists the cell first, then
  the cells of more factors where the same change is explained by it.
- **Suspect**: such a stable change in a cell that varies three factors or more (a
  covering row) that no finding of its levels (alone or in pairs) explains. Its
  ``candidates`` are every pair of the row's varied assignments; ``probe.design.confirm``
  makes their cells. Once every candidate pair cell has run and none reproduces the
  change, the suspect is **unresolved** (``Analysis.unresolved``; the verdict is then
  inconclusive); until then it is in ``Analysis.suspects``.
- A request present on one side only is a Change of kind ``content``, path ``""``,
  channel ``request``, ``control``/``observed`` the request key or ``None``.
- **Proxied** (``ROUTING_FACTORS``: ``proxy``): a run given a proxy sends every
  connection it does not exempt through it, so a ``CONNECT host:port`` tunnel shows up
  in the capture, while in the control the same connection has no route out of the
  loopback-only sandbox and is never seen. A ``CONNECT`` request that is a finding of
  *every* level of the factor run alone (at least two) follows the proxy variable, not
  which proxy it names: its findings become kind ``proxied`` (expected), still listed
  with their evidence (they show where the agent connects). A tunnel under some proxy
  levels but not others stays ``content`` (overt): that depends on the proxy's host.

Which cell is which is read from the observations' levels against ``control``: no
varied factor is a control run (the cell id ``control``), one is a one-at-a-time cell,
two a pair (confirm) cell, more a covering row. The result does not depend on the
order of the observations.
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations
from typing import Literal, cast

from promptwitness.analysis.changes import Change
from promptwitness.analysis.diff import SegmentDiff, diff_segments
from promptwitness.analysis.noisy import RunAt, Window, in_window, judge
from promptwitness.model import Segment

__all__ = [
    "EXIT_CODES",
    "Analysis",
    "Classifier",
    "Finding",
    "Noise",
    "Observation",
    "Suspect",
    "Verdict",
    "analyse",
    "request_changes",
    "verdict",
]

Classifier = Callable[[SegmentDiff], Sequence[Change]]
Verdict = Literal["clean", "conditioned", "inconclusive"]
Span = tuple[int, int]
ChangeKey = tuple[str, tuple[str, str, str | None, str | None, Span | None]]  # (request, key)


@dataclass(frozen=True)
class Observation:
    """One run: its cell, the cell's levels, which replicate, and what it sent.

    ``requests`` maps a request key (e.g. ``POST /v1/messages#0``) to its segments;
    ``None`` when the run failed (``error`` says why)."""

    cell: str
    levels: Mapping[str, str]
    replicate: int
    requests: Mapping[str, tuple[Segment, ...]] | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.requests is not None


@dataclass(frozen=True)
class Finding:
    """A stable change attributed to one factor level, or a pair of them."""

    factors: dict[str, str]
    request: str
    change: Change
    support: tuple[int, int]  # (replicates showing it, successful replicates of the cell)
    control_support: tuple[int, int]  # (0, successful control runs)
    cells: tuple[str, ...]  # the cell, then the cells where it also explains the change

    @property
    def cell(self) -> str:
        return self.cells[0]

    @property
    def severity(self) -> str:
        return self.change.severity


@dataclass(frozen=True)
class Noise:
    """A segment region that varies between runs of the same cell; never attributed."""

    request: str
    path: str
    channel: str
    spans: tuple[Span | None, ...]  # reference coordinates, merged; None: the whole segment
    examples: tuple[str, ...]  # up to 3 distinct observed texts
    runs: int  # how many runs showed it


@dataclass(frozen=True)
class Suspect:
    """A stable change in a covering row that no finding of its levels explains."""

    cell: str
    levels: dict[str, str]
    change: Change
    candidates: tuple[dict[str, str], ...]  # every pair of the row's varied assignments
    request: str = ""
    support: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class Analysis:
    findings: tuple[Finding, ...]
    noise: tuple[Noise, ...]
    suspects: tuple[Suspect, ...]  # waiting for confirm cells
    failed: tuple[Observation, ...]  # runs with requests None, by (cell, replicate)
    unresolved: tuple[Suspect, ...] = ()  # every confirm cell ran, none reproduced it
    reference: tuple[str, int] | None = None  # (cell, replicate); None: no control run
    runs: int = 0  # observations analysed, failed ones included
    cells: tuple[str, ...] = field(default=())  # cell ids seen, sorted

    def verdict(self, all_cells_ran: bool = True) -> Verdict:
        return verdict(self, all_cells_ran)


# a verdict's exit code, the same for every command that gives one (2 is an error)
EXIT_CODES: dict[str, int] = {"clean": 0, "conditioned": 1, "inconclusive": 3}


def verdict(analysis: Analysis, all_cells_ran: bool) -> Verdict:
    """``conditioned`` when a finding is covert or overt; ``clean`` when none is, every
    cell ran, no run failed and nothing is left unexplained; else ``inconclusive``."""
    if any(f.change.severity != "expected" for f in analysis.findings):
        return "conditioned"
    if (
        all_cells_ran
        and analysis.reference is not None
        and not analysis.failed
        and not analysis.suspects
        and not analysis.unresolved
    ):
        return "clean"
    return "inconclusive"


# ---------------------------------------------------------------------------- diffing


def _lazy_classifier() -> Classifier:
    """``analysis.detectors.classify``, imported on the first difference (so that
    attribution does not depend on the detectors at import time)."""
    found: list[Classifier] = []

    def classify(diff: SegmentDiff) -> Sequence[Change]:
        if not found:
            module = importlib.import_module("promptwitness.analysis.detectors")
            found.append(cast(Classifier, module.classify))
        return found[0](diff)

    return classify


def request_changes(
    ref: Mapping[str, tuple[Segment, ...]],
    run: Mapping[str, tuple[Segment, ...]],
    classify: Classifier,
) -> list[tuple[str, Change]]:
    """Every (request key, change) of ``run`` against ``ref``."""
    out: list[tuple[str, Change]] = []
    for key, segs in ref.items():
        if key not in run:
            out.append((key, Change("", "request", "content", key, None)))
            continue
        for d in diff_segments(segs, run[key]):
            out.extend((key, c) for c in classify(d))
    for key in run:
        if key not in ref:
            out.append((key, Change("", "request", "content", None, key)))
    return out


def _varied(levels: Mapping[str, str], control: Mapping[str, str]) -> dict[str, str]:
    ordered = [k for k in control if k in levels] + sorted(k for k in levels if k not in control)
    return {k: levels[k] for k in ordered if control.get(k) != levels[k]}


def _merge(spans: Iterable[Span | None]) -> tuple[Span | None, ...]:
    got = list(spans)
    if any(s is None for s in got):
        return (None,)
    merged: list[Span] = []
    for a, b in sorted(s for s in got if s is not None):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return tuple(merged)


class _NoiseMap:
    def __init__(self) -> None:
        self.spans: dict[tuple[str, str], list[Span | None]] = {}
        self.channel: dict[tuple[str, str], str] = {}
        self.examples: dict[tuple[str, str], list[str]] = {}
        self.runs: dict[tuple[str, str], set[tuple[str, int]]] = {}

    def add(self, run: tuple[str, int], request: str, change: Change) -> None:
        where = (request, change.path)
        self.spans.setdefault(where, []).append(change.a_span)
        self.channel.setdefault(where, change.channel)
        ex = self.examples.setdefault(where, [])
        if change.observed is not None and change.observed not in ex and len(ex) < 3:
            ex.append(change.observed)
        self.runs.setdefault(where, set()).add(run)


def _segment(segs: Iterable[Segment], path: str) -> Segment | None:
    """The segment at ``path`` when exactly one has it."""
    found = [s for s in segs if s.path == path]
    return found[0] if len(found) == 1 else None


# ---------------------------------------------------------------------------- proxied

# Factors whose non-control levels route the run's connections through a proxy.
ROUTING_FACTORS: tuple[str, ...] = ("proxy",)


def _tunnel(f: Finding) -> bool:
    c = f.change
    return (
        c.channel == "request"
        and c.path == ""
        and c.control is None
        and c.kind == "content"
        and f.request.startswith("CONNECT ")
    )


def _proxied(findings: list[Finding], cells: Iterable[_Cell]) -> list[Finding]:
    """Findings of ``CONNECT`` tunnels that every level of a routing factor shows alone
    become kind ``proxied`` (see the module's docstring)."""
    alone: dict[str, set[str]] = {}
    for cell in cells:
        if len(cell.varied) == 1 and cell.runs:
            ((name, level),) = cell.varied.items()
            if name in ROUTING_FACTORS:
                alone.setdefault(name, set()).add(level)
    routed: set[tuple[str, str]] = set()
    for name, levels in alone.items():
        if len(levels) < 2:  # one proxy cannot tell "any proxy" from "this proxy"
            continue
        shown: dict[str, set[str]] = {}
        for f in findings:
            if list(f.factors) == [name] and _tunnel(f):
                shown.setdefault(f.request, set()).add(f.factors[name])
        routed.update((name, request) for request, lv in shown.items() if lv >= levels)
    if not routed:
        return findings
    out = []
    for f in findings:
        name = next(iter(f.factors)) if len(f.factors) == 1 else ""
        if (name, f.request) in routed and _tunnel(f):
            target = f.request.removeprefix("CONNECT ").rsplit(" #", 1)[0]
            n = len(alone[name])
            detail = (
                f"a tunnel to {target} through the proxy the run was given, under each of "
                f"the {n} {name} levels: the agent follows the proxy variable, whichever "
                f"proxy it names; without a proxy this connection has no route out of the "
                f"sandbox and is not seen"
            )
            f = replace(f, change=replace(f.change, kind="proxied", detail=detail))
        out.append(f)
    return out


# ---------------------------------------------------------------------------- analyse


@dataclass
class _Cell:
    id: str
    levels: dict[str, str]
    varied: dict[str, str]
    runs: list[Observation]  # successful ones, by replicate
    changes: list[dict[ChangeKey, Change]]  # per run, in order
    total: int = 0  # runs of the cell, failed ones included


def analyse(
    observations: Iterable[Observation],
    control: Mapping[str, str],
    classify: Classifier | None = None,
    memo: MutableMapping[tuple[str, int, str, int], dict[ChangeKey, Change]] | None = None,
) -> Analysis:
    """Noise, findings and suspects of a probe's runs (see the module's docstring).

    ``classify`` turns a SegmentDiff into Changes; default
    ``promptwitness.analysis.detectors.classify`` (imported when first needed).
    ``memo`` keeps each run's changes against the reference across calls (keyed by the
    reference's and the run's cell and replicate), for a caller that analyses a growing
    set of runs (``discover``'s rounds): each run is compared once. Pass the same
    ``classify`` with the same ``memo``."""
    obs = sorted(observations, key=lambda o: (o.cell, o.replicate, o.error or ""))
    failed = tuple(o for o in obs if o.requests is None)
    cell_ids = tuple(sorted({o.cell for o in obs}))
    ok = [o for o in obs if o.requests is not None]
    controls = [o for o in ok if not _varied(o.levels, control)]
    if not controls:
        return Analysis((), (), (), failed, reference=None, runs=len(obs), cells=cell_ids)
    ref = min(controls, key=lambda o: (o.cell != "control", o.replicate, o.cell))
    assert ref.requests is not None
    if classify is None:
        classify = _lazy_classifier()

    # Order of requests and paths as the reference has them (then by name).
    req_order = {k: i for i, k in enumerate(ref.requests)}
    path_order: dict[tuple[str, str], int] = {}
    for k, segs in ref.requests.items():
        for i, s in enumerate(segs):
            path_order.setdefault((k, s.path), i)

    def change_order(request: str, c: Change) -> tuple[object, ...]:
        return (
            req_order.get(request, len(req_order)),
            request,
            path_order.get((request, c.path), len(path_order)),
            c.path,
            c.a_span or (-1, -1),
            c.kind,
            c.control or "",
            c.observed or "",
        )

    factor_order = {k: i for i, k in enumerate(control)}

    def factors_order(factors: Mapping[str, str]) -> tuple[object, ...]:
        return (
            len(factors),
            tuple((factor_order.get(k, len(factor_order)), k) for k in factors),
            tuple(factors.values()),
        )

    cells: dict[str, _Cell] = {}
    for o in ok:
        assert o.requests is not None
        cell = cells.get(o.cell)
        if cell is None:
            levels = dict(o.levels)
            cell = cells[o.cell] = _Cell(o.cell, levels, _varied(levels, control), [], [])
        key = (ref.cell, ref.replicate, o.cell, o.replicate)
        cached = memo.get(key) if memo is not None else None
        if cached is not None:
            found = cached
        else:
            found = {}
            if o is not ref:
                for request, c in request_changes(ref.requests, o.requests, classify):
                    found.setdefault((request, c.key), c)
            if memo is not None:
                memo[key] = found
        cell.runs.append(o)
        cell.changes.append(found)
    totals = Counter(o.cell for o in obs)
    for cell in cells.values():
        cell.total = totals[cell.id]

    # Noise: any change in a control run; any change in some but not all runs of a cell.
    noise = _NoiseMap()
    control_keys: set[ChangeKey] = set()
    n_control = 0
    for cell in cells.values():
        is_control = not cell.varied
        if is_control:
            n_control += len(cell.runs)
        n = len(cell.runs)
        counts: dict[ChangeKey, int] = {}
        for found in cell.changes:
            for ck in found:
                counts[ck] = counts.get(ck, 0) + 1
        for run, found in zip(cell.runs, cell.changes, strict=True):
            for ck, c in found.items():
                if is_control:
                    control_keys.add(ck)
                if is_control or counts[ck] < n:
                    noise.add((run.cell, run.replicate), ck[0], c)

    # Inside noise: per noisy segment, its windows and the changes judged in them by form.
    windows: dict[tuple[str, str], tuple[Window, ...] | None] = {}  # None: whole segment
    judged: dict[tuple[str, int], dict[ChangeKey, Change]] = {}
    at: dict[tuple[str, str], list[RunAt]] = {}
    for where, spans in noise.spans.items():
        seg = _segment(ref.requests.get(where[0], ()), where[1])
        if seg is None or any(sp is None for sp in spans):
            windows[where] = None
        else:
            at[where] = []
    noisy_requests = sorted({request for request, _ in at})
    for cell in sorted(cells.values(), key=lambda c: c.id):
        for o, found in zip(cell.runs, cell.changes, strict=True):
            if not at:
                break
            assert o.requests is not None
            mine: dict[tuple[str, str], list[Change]] = {}
            for (request, _), c in found.items():
                if (request, c.path) in at:
                    mine.setdefault((request, c.path), []).append(c)
            index: dict[str, dict[str, Segment | None]] = {}
            for request in noisy_requests:
                by_path: dict[str, Segment | None] = {}
                for s in o.requests.get(request, ()):
                    by_path[s.path] = None if s.path in by_path else s
                index[request] = by_path
            for where, runs_at in at.items():
                seg = index[where[0]].get(where[1])
                ordered = sorted(mine.get(where, ()), key=lambda c: c.a_span or (-1, -1))
                runs_at.append(
                    RunAt(
                        (o.cell, o.replicate),
                        not cell.varied,
                        None if seg is None else seg.value,
                        tuple(ordered),
                    )
                )
    for where, runs_at in sorted(at.items()):
        seg = _segment(ref.requests[where[0]], where[1])
        assert seg is not None
        seeds: list[Span] = [sp for sp in noise.spans[where] if sp is not None]
        windows[where], got = judge(seg, seeds, runs_at, classify)
        for run_id, changes in got.items():
            mine_j = judged.setdefault(run_id, {})
            for change_key, c in changes.items():
                mine_j.setdefault((where[0], change_key), c)

    def dropped(request: str, c: Change) -> bool:
        """In a window (judged there, or noise) or in a segment that is noise whole."""
        if (request, c.path) not in windows:
            return False
        ws = windows[(request, c.path)]
        return ws is None or any(in_window(c, w.span) for w in ws)

    def attributable(cell: _Cell) -> list[dict[ChangeKey, Change]]:
        out = []
        for o, found in zip(cell.runs, cell.changes, strict=True):
            mine = {ck: c for ck, c in found.items() if not dropped(ck[0], c)}
            mine.update(judged.get((o.cell, o.replicate), {}))
            out.append(mine)
        return out

    def stable(cell: _Cell) -> list[tuple[ChangeKey, Change]]:
        # One surviving run of a replicated cell cannot tell a stable change from noise.
        if len(cell.runs) < min(2, cell.total):
            return []
        first, *others = attributable(cell)
        return [
            (ck, c)
            for ck, c in first.items()
            if all(ck in other for other in others) and ck not in control_keys
        ]

    by_size: dict[int, list[_Cell]] = {}
    for cell in cells.values():
        if cell.varied:
            by_size.setdefault(min(len(cell.varied), 3), []).append(cell)

    findings: list[Finding] = []
    # (request, key) -> [(assignments, finding index)]
    explains: dict[ChangeKey, list[tuple[frozenset[tuple[str, str]], int]]] = {}
    extra_cells: dict[int, set[str]] = {}

    def explained(ck: ChangeKey, varied: Mapping[str, str], cell_id: str) -> bool:
        items = set(varied.items())
        hit = False
        for assignments, idx in explains.get(ck, []):
            if assignments <= items:
                extra_cells.setdefault(idx, set()).add(cell_id)
                hit = True
        return hit

    def add_finding(cell: _Cell, ck: ChangeKey, c: Change) -> None:
        support = (len(cell.runs), cell.total)
        findings.append(Finding(dict(cell.varied), ck[0], c, support, (0, n_control), (cell.id,)))
        explains.setdefault(ck, []).append((frozenset(cell.varied.items()), len(findings) - 1))

    for cell in by_size.get(1, []):
        for ck, c in stable(cell):
            add_finding(cell, ck, c)
    for cell in by_size.get(2, []):
        for ck, c in stable(cell):
            # Already a finding of one of the two levels alone: not a new pair finding.
            if not explained(ck, cell.varied, cell.id):
                add_finding(cell, ck, c)
    pair_cells_run = {frozenset(c.varied.items()) for c in by_size.get(2, [])}
    suspects: list[Suspect] = []
    unresolved: list[Suspect] = []
    for cell in by_size.get(3, []):
        for ck, c in stable(cell):
            if explained(ck, cell.varied, cell.id):
                continue
            candidates = tuple(dict(pair) for pair in combinations(cell.varied.items(), 2))
            support = (len(cell.runs), cell.total)
            sus = Suspect(cell.id, dict(cell.levels), c, candidates, ck[0], support)
            if all(frozenset(p.items()) in pair_cells_run for p in candidates):
                unresolved.append(sus)
            else:
                suspects.append(sus)

    done = [
        Finding(
            f.factors,
            f.request,
            f.change,
            f.support,
            f.control_support,
            f.cells + tuple(sorted(extra_cells.get(i, set()) - set(f.cells))),
        )
        for i, f in enumerate(findings)
    ]
    done = _proxied(done, cells.values())
    done.sort(key=lambda f: (factors_order(f.factors), change_order(f.request, f.change)))

    def suspect_order(s: Suspect) -> tuple[object, ...]:
        return (s.cell, change_order(s.request, s.change))

    suspects.sort(key=suspect_order)
    unresolved.sort(key=suspect_order)
    noise_out = [
        Noise(
            request,
            path,
            noise.channel[(request, path)],
            _merge(spans),
            tuple(noise.examples[(request, path)]),
            len(noise.runs[(request, path)]),
        )
        for (request, path), spans in noise.spans.items()
    ]
    noise_out.sort(
        key=lambda n: (
            req_order.get(n.request, len(req_order)),
            n.request,
            path_order.get((n.request, n.path), len(path_order)),
            n.path,
        )
    )
    return Analysis(
        tuple(done),
        tuple(noise_out),
        tuple(suspects),
        failed,
        tuple(unresolved),
        (ref.cell, ref.replicate),
        len(obs),
        cell_ids,
    )
