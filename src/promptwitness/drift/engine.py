"""The drift analysis over a stream of parsed requests (sans-IO): two passes, bounded state.

**Pass 1** (``Scanner``) reads every request once. Per group (``drift.grouping``) it keeps
a table of units (``drift.units``) by key: in how many of the group's requests each key
appears, and per form of it (at most ``Options.max_forms``) the count, a few senders,
the first exchange ids and one example text. The table holds at most
``2 × Options.max_units`` keys: when full, it keeps the ``max_units`` most frequent ones
(template text recurs in most requests, a user's own words once, so the template stays;
a key dropped and seen again starts counting anew). Memory is therefore bounded by
groups × ``max_units``, whatever the number of requests.

**Template.** A unit is template text of its group when its key appears in at least
``Options.template_share`` of the group's requests and its most frequent form was sent
by at least two senders. The user's own messages, file contents and anything else that
differs from request to request never reach that share; lines with per-user values
(paths, dates, ids) do, because values are masked in the key.

**Forms of a unit in a request.** A key can occur more than once in one request (real
Claude Code has ``<examples>``, ``## Examples`` and ``- Examples:`` in three tool
descriptions, and one Bash instruction line twice with other indentation). What a
request sends of a key is therefore the *multiset* of its occurrences' forms (the
sorted tuple of their digests, ``Combo``), and the forms a table counts are those
multisets: occurrences that every request sends side by side are one form, never a
variant of each other.

**Variants.** Every other multiset of a template unit is a candidate variant when it
writes an occurrence *instead of* another: the occurrences in the template multiset and
not in the variant's are paired, in order, with those in the variant's and not in the
template's, and each pair's examples are diffed and classified by the probe's detectors
(``analysis.diff`` and ``analysis.detectors``). A multiset that only adds occurrences
(a user pasting a template line) or only drops some is not another form and makes no
candidate. A variant with covert changes (look-alike, invisible, whitespace,
punctuation, casing, date format) is kept; one with only value or content changes is
set apart as ``expected``.

**Pass 2** (``Correlator``) reads the requests of the groups with candidates again and
counts exactly, for each candidate, the requests with the variant and those with the
template form, their senders, and each sender attribute's values on both sides (at
most ``VALUES_CAP`` values per dimension; the rest pooled). ``drift.correlate`` turns
that into separators. A variant sent by fewer than ``Options.min_senders`` senders is
set apart (``one-sender``) with its counts, not reported as a finding.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from promptwitness.analysis.changes import Change
from promptwitness.analysis.detectors import classify
from promptwitness.analysis.diff import diff_segments
from promptwitness.drift.correlate import OTHER, separate
from promptwitness.drift.grouping import GroupKey
from promptwitness.drift.model import (
    FormSide,
    GroupSummary,
    Options,
    Separator,
    Status,
    Variant,
)
from promptwitness.drift.units import LineMemo, Unit, digest, units_of
from promptwitness.model import Segment

__all__ = [
    "Candidate",
    "Combo",
    "Correlator",
    "Scanner",
    "SegmentUnits",
    "Segmenter",
    "UnitMap",
    "compared",
    "unit_map",
]

EXAMPLE_CHARS = 2000  # code points of an example kept
SENDERS_KEPT = 16  # senders remembered per form in pass 1 (enough to tell 1 from ≥2)
GROUP_SENDERS_CAP = 100_000
VALUES_CAP = 1024  # distinct values counted per dimension and variant side in pass 2
MEMO_UNITS = 200_000  # units remembered by the segment memo
OTHERS_EVIDENCE = 10  # exchange ids kept of the template form's side

Combo = tuple[bytes, ...]
"""The sorted form digests of a key's occurrences in one request (a multiset)."""
Example = tuple[bytes, str, str]
"""``(form digest, segment path, text)`` of one occurrence."""


def compared(seg: Segment) -> bool:
    """Whether a segment's text is compared: text of the body (system blocks, tool
    descriptions and schemas, message parts), not parameters, headers, roles, part
    types or metadata (ids)."""
    if seg.channel != "body":
        return False
    return not (seg.path.endswith((".type", ".role")) or seg.path.startswith("metadata."))


@dataclass(frozen=True)
class SegmentUnits:
    """The units of one segment's text, and per key the ``Combo`` of its occurrences."""

    units: tuple[Unit, ...]
    combos: dict[bytes, Combo]

    @classmethod
    def of(cls, text: str, lines: LineMemo | None = None, fill: bool = True) -> SegmentUnits:
        units = units_of(text, lines, fill)
        by_key: dict[bytes, list[bytes]] = {}
        for u in units:
            by_key.setdefault(u.key, []).append(u.form)
        return cls(units, {k: tuple(sorted(v)) for k, v in by_key.items()})


class Segmenter:
    """``SegmentUnits.of`` with a memo by text digest (the same system prompt is cut once)
    and a memo of lines of its own. ``fill = False`` (pass 2) reads both memos without
    adding to them (``units.LineMemo``: what pass 1 left in them is what pass 2 reaches
    last)."""

    def __init__(self, budget: int = MEMO_UNITS) -> None:
        self.budget = budget
        self.fill = True
        self.lines = LineMemo()
        self.size = 0
        self.memo: OrderedDict[tuple[bytes, int], SegmentUnits] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def units(self, text: str) -> SegmentUnits:
        k = (digest(text), len(text))
        got = self.memo.get(k)
        if got is not None:
            self.memo.move_to_end(k)
            self.hits += 1
            return got
        self.misses += 1
        got = SegmentUnits.of(text, self.lines, self.fill)
        if not self.fill:
            return got
        self.memo[k] = got
        self.size += len(got.units) + 1
        while self.size > self.budget and self.memo:
            _, old = self.memo.popitem(last=False)
            self.size -= len(old.units) + 1
        return got


class UnitMap:
    """The units of one request's compared segments: ``combos`` (key → ``Combo``), and
    the occurrences' example texts, cut only when asked for (``examples``)."""

    __slots__ = ("_segments", "combos")

    def __init__(self, combos: dict[bytes, Combo], segs: list[tuple[str, str, SegmentUnits]]):
        self.combos = combos
        self._segments = segs

    def examples(self, key: bytes) -> tuple[Example, ...]:
        """Every occurrence of ``key``, in the request's order."""
        return tuple(
            (u.form, path, text[u.start : u.end][:EXAMPLE_CHARS])
            for path, text, su in self._segments
            if key in su.combos
            for u in su.units
            if u.key == key
        )


def unit_map(segs: Iterable[Segment], segmenter: Segmenter) -> UnitMap:
    """The units of a request's compared segments (``UnitMap``)."""
    combos: dict[bytes, Combo] = {}
    kept: list[tuple[str, str, SegmentUnits]] = []
    for seg in segs:
        if not compared(seg):
            continue
        su = segmenter.units(seg.value)
        if not su.combos:
            continue
        kept.append((seg.path, seg.value, su))
        if not combos:
            combos.update(su.combos)
            continue
        for k, c in su.combos.items():
            prev = combos.get(k)
            combos[k] = c if prev is None else tuple(sorted(prev + c))
    return UnitMap(combos, kept)


@dataclass
class _Form:
    count: int = 0
    senders: set[str] = field(default_factory=set)
    ids: list[int] = field(default_factory=list)
    first: int = 0
    examples: tuple[Example, ...] = ()


@dataclass
class _Unit:
    seen: int = 0
    forms: dict[Combo, _Form] = field(default_factory=dict)
    overflow: int = 0


@dataclass
class _Group:
    key: GroupKey
    exchanges: int = 0
    senders: set[str] = field(default_factory=set)
    senders_capped: bool = False
    first: float = 0.0
    last: float = 0.0
    units: dict[bytes, _Unit] = field(default_factory=dict)
    template: int = 0


@dataclass(frozen=True)
class Candidate:
    """A minority form of a template unit, after pass 1."""

    group: GroupKey
    key: bytes
    form: Combo
    template_form: Combo
    template_text: str
    template_path: str
    text: str
    path: str
    changes: tuple[Change, ...]
    expected: bool  # only value (or content) changes: set apart


def _classify(path: str, a: str, b: str) -> list[Change]:
    out: list[Change] = []
    for d in diff_segments([Segment(path, a)], [Segment(path, b)]):
        out.extend(classify(d))
    return out


def _pairs(
    template: Sequence[Example], variant: Sequence[Example]
) -> list[tuple[Example, Example]]:
    """The occurrences the variant writes instead of the template's, paired in order:
    those of the template's multiset not in the variant's with those of the variant's
    not in the template's. Empty when one side only adds occurrences (or drops some)."""

    def minus(a: Sequence[Example], b: Sequence[Example]) -> list[Example]:
        left = Counter(f for f, _, _ in b)
        out = []
        for ex in a:
            if left[ex[0]] > 0:
                left[ex[0]] -= 1
            else:
                out.append(ex)
        return out

    return list(zip(minus(template, variant), minus(variant, template), strict=False))


class Scanner:
    """Pass 1 (module docstring)."""

    def __init__(self, options: Options | None = None) -> None:
        self.options = options or Options()
        self.groups: dict[GroupKey, _Group] = {}

    def add(self, id: int, started: float, group: GroupKey, units: UnitMap, sender: str) -> None:
        g = self.groups.get(group)
        if g is None:
            g = self.groups[group] = _Group(group, first=started)
        g.exchanges += 1
        g.first, g.last = min(g.first, started), max(g.last, started)
        if len(g.senders) < GROUP_SENDERS_CAP:
            g.senders.add(sender)
        else:
            g.senders_capped = True
        opts = self.options
        for key, combo in units.combos.items():
            u = g.units.get(key)
            if u is None:
                u = g.units[key] = _Unit()
            u.seen += 1
            f = u.forms.get(combo)
            if f is None:
                if len(u.forms) >= opts.max_forms:
                    u.overflow += 1
                    continue
                f = u.forms[combo] = _Form(first=id, examples=units.examples(key))
            f.count += 1
            if len(f.senders) < SENDERS_KEPT:
                f.senders.add(sender)
            if len(f.ids) < opts.evidence:
                f.ids.append(id)
        if len(g.units) > 2 * opts.max_units:
            keep = sorted(g.units.items(), key=lambda kv: -kv[1].seen)[: opts.max_units]
            g.units = dict(keep)

    def candidates(self) -> list[Candidate]:
        """The variants of template units (module docstring), in group and id order."""
        out: list[Candidate] = []
        for gk in sorted(self.groups):
            g = self.groups[gk]
            g.template = 0
            for key, u in g.units.items():
                if u.seen < self.options.template_share * g.exchanges or g.exchanges < 2:
                    continue
                ranked = sorted(u.forms.items(), key=lambda kv: (-kv[1].count, kv[1].first))
                dom_key, dom = ranked[0]
                if len(dom.senders) < 2:
                    continue
                g.template += 1
                for fkey, f in ranked[1:]:
                    pairs = _pairs(dom.examples, f.examples)
                    if not pairs:
                        continue
                    changes: list[Change] = []
                    for (_, tpath, ttext), (_, _, vtext) in pairs:
                        changes.extend(_classify(tpath, ttext, vtext))
                    covert = tuple(c for c in changes if c.severity == "covert")
                    (_, tpath, ttext), (_, vpath, vtext) = pairs[0]
                    out.append(
                        Candidate(
                            gk,
                            key,
                            fkey,
                            dom_key,
                            ttext,
                            tpath,
                            vtext,
                            vpath,
                            covert or tuple(changes),
                            not covert,
                        )
                    )
        out.sort(key=lambda c: (c.group, self.groups[c.group].units[c.key].forms[c.form].first))
        return out

    def summaries(self) -> tuple[GroupSummary, ...]:
        return tuple(
            GroupSummary(
                g.key,
                g.exchanges,
                len(g.senders),
                g.senders_capped,
                g.template,
                g.first,
                g.last,
            )
            for g in sorted(self.groups.values(), key=lambda g: (-g.exchanges, g.key))
        )


@dataclass
class _Side:
    count: int = 0
    senders: set[str] = field(default_factory=set)
    ids: list[int] = field(default_factory=list)
    values: dict[str, Counter[str]] = field(default_factory=dict)


def _count(side: _Side, id: int, sender: str, attrs: Sequence[tuple[str, str]], cap: int) -> None:
    side.count += 1
    if len(side.senders) < GROUP_SENDERS_CAP:
        side.senders.add(sender)
    if len(side.ids) < cap:
        side.ids.append(id)
    seen: set[str] = set()
    for dim, value in attrs:
        if dim in seen:
            continue
        seen.add(dim)
        c = side.values.setdefault(dim, Counter())
        if value in c or len(c) < VALUES_CAP:
            c[value] += 1
        else:
            c[OTHER] += 1


class Correlator:
    """Pass 2 (module docstring)."""

    def __init__(self, candidates: Sequence[Candidate], options: Options | None = None) -> None:
        self.options = options or Options()
        self.candidates = list(candidates)
        self.by_group: dict[GroupKey, list[int]] = {}
        for i, c in enumerate(self.candidates):
            self.by_group.setdefault(c.group, []).append(i)
        self.sides = [(_Side(), _Side()) for _ in self.candidates]

    def wants(self, group: GroupKey) -> bool:
        return group in self.by_group

    def keys(self, group: GroupKey) -> frozenset[bytes]:
        """The unit keys of the group's candidates (all pass 2 needs of a request)."""
        return frozenset(self.candidates[i].key for i in self.by_group.get(group, ()))

    def add(
        self,
        id: int,
        group: GroupKey,
        units: UnitMap,
        sender: str,
        attrs: Sequence[tuple[str, str]],
    ) -> None:
        for i in self.by_group.get(group, ()):
            c = self.candidates[i]
            combo = units.combos.get(c.key)
            if combo is None:
                continue
            with_v, other = self.sides[i]
            if combo == c.form:
                _count(with_v, id, sender, attrs, self.options.evidence)
            elif combo == c.template_form:
                _count(other, id, sender, attrs, min(OTHERS_EVIDENCE, self.options.evidence))

    def variants(self) -> tuple[tuple[Variant, ...], tuple[Variant, ...]]:
        """``(findings, set apart)``, numbered ``V1``, ``V2``, ... findings first."""
        found: list[tuple[Candidate, _Side, _Side]] = []
        apart: list[tuple[Candidate, _Side, _Side]] = []
        for c, (w, o) in zip(self.candidates, self.sides, strict=True):
            if w.count == 0:
                continue
            if c.expected or len(w.senders) < self.options.min_senders:
                apart.append((c, w, o))
            else:
                found.append((c, w, o))
        out: list[Variant] = []
        rows = [(c, w, o, True) for c, w, o in found] + [(c, w, o, False) for c, w, o in apart]
        for n, (c, w, o, is_finding) in enumerate(rows, start=1):
            status: Status = "finding" if is_finding else "expected" if c.expected else "one-sender"
            seps: tuple[Separator, ...] = ()
            notes: tuple[str, ...] = ()
            if status == "expected":
                notes = ("only values differ (the probe's detectors find no covert change)",)
            else:
                seps, notes = separate(w.values, o.values, w.count, o.count, len(w.senders))
            if status == "one-sender":
                notes = (
                    f"sent by {len(w.senders)} sender(s) only (fewer than "
                    f"{self.options.min_senders}): a split this small is not a finding",
                    *notes,
                )
            out.append(
                Variant(
                    id=f"V{n}",
                    group=c.group,
                    status=status,
                    template=FormSide(
                        o.count, len(o.senders), c.template_text, c.template_path, tuple(o.ids)
                    ),
                    variant=FormSide(w.count, len(w.senders), c.text, c.path, tuple(w.ids)),
                    changes=c.changes,
                    separators=seps,
                    notes=notes,
                )
            )
        k = len(found)
        return tuple(out[:k]), tuple(out[k:])
