"""``drift`` over a store (the IO loop): stream the exchanges, feed the sans-IO engine.

Reads with ``Store.iter_exchanges`` (id order, in batches: bounded memory on any store)
and ``Store.request_body``; nothing is written. Exchanges that are not model calls, or
whose body does not parse for its protocol, are counted and skipped; ``agent`` (a
substring of the user agent, any case) is checked on the stored headers before the
body is read. Pass 2 runs only when pass 1 found candidates, and reads only the
exchanges of their groups up to the last id pass 1 saw (so exchanges captured
meanwhile do not change the counts).

Pass 1 remembers, per model call it counted, its id and its group (``_Seen``: two
compact arrays, 12 bytes an exchange, the one part of drift's memory that grows with
the store: 1.2 MB per 100,000 exchanges). Pass 2 walks the same ids: an exchange pass 1
did not count, or of a group without candidates, is skipped before its body is read;
the others are parsed again (their units are not kept), except those whose body
(``request_sha256``) was already seen in pass 2: identical bodies have identical
units (a bounded memo of their combos).
"""

from __future__ import annotations

from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from promptwitness.analysis.segments import segments
from promptwitness.drift.engine import (
    Combo,
    Correlator,
    Scanner,
    Segmenter,
    UnitMap,
    unit_map,
)
from promptwitness.drift.grouping import GroupKey, group_key
from promptwitness.drift.model import DriftReport, Options
from promptwitness.drift.senders import sender, sender_attributes
from promptwitness.model import Prompt
from promptwitness.protocols import parse_request
from promptwitness.store import Store
from promptwitness.store.db import StoredExchange

__all__ = ["Progress", "run_drift"]

Progress = Callable[[str, int], None]
"""``progress(phase, exchanges read so far)``; phases ``pass 1``, ``pass 2``."""

BODY_MEMO = 4096
"""Bodies (by ``request_sha256``) whose candidate combos pass 2 remembers."""


@dataclass
class _Seen:
    """The model calls pass 1 counted: their ids (increasing) and group numbers."""

    ids: array[int] = field(default_factory=lambda: array("q"))
    groups: array[int] = field(default_factory=lambda: array("i"))
    at: int = 0

    def group_of(self, id: int) -> int | None:
        """The group number of ``id`` (asked in increasing order), None when pass 1 did
        not count it."""
        ids, n = self.ids, len(self.ids)
        while self.at < n and ids[self.at] < id:
            self.at += 1
        if self.at < n and ids[self.at] == id:
            return self.groups[self.at]
        return None


@dataclass
class _Counts:
    read: int = 0
    model_calls: int = 0
    not_model_calls: int = 0
    unparsable: int = 0
    other_agents: int = 0
    last_id: int = 0


def _user_agent(x: StoredExchange) -> str:
    return next((v for k, v in x.request_headers if k.lower() == "user-agent"), "")


def _parsed(
    store: Store,
    since: float | None,
    until: float | None,
    agent: str | None,
    counts: _Counts | None,
    progress: Progress | None,
    phase: str,
) -> Iterator[tuple[StoredExchange, Prompt]]:
    needle = agent.casefold() if agent else None
    n = 0
    for x in store.iter_exchanges(since=since, until=until):
        n += 1
        if progress is not None and n % 1000 == 0:
            progress(phase, n)
        if counts is not None:
            counts.read += 1
            counts.last_id = x.id
        if x.protocol is None:
            if counts is not None:
                counts.not_model_calls += 1
            continue
        if x.parse_error:
            if counts is not None:
                counts.unparsable += 1
            continue
        if needle is not None and needle not in _user_agent(x).casefold():
            if counts is not None:
                counts.other_agents += 1
            continue
        outcome = parse_request(x.raw_request(store.request_body(x)))
        if outcome.prompt is None:
            if counts is not None:
                counts.unparsable += 1
            continue
        if counts is not None:
            counts.model_calls += 1
        yield x, outcome.prompt
    if progress is not None:
        progress(phase, n)


def _units(prompt: Prompt, segmenter: Segmenter) -> UnitMap:
    return unit_map(segments(prompt), segmenter)


def _pass2(
    store: Store,
    since: float | None,
    until: float | None,
    progress: Progress | None,
    last_id: int,
    keys: dict[GroupKey, int],
    seen: _Seen,
    correlator: Correlator,
    segmenter: Segmenter,
) -> None:
    """Pass 2 (module docstring): the exchanges pass 1 counted, of the groups with
    candidates, into ``correlator``."""
    wanted = {n: gk for gk, n in keys.items() if correlator.wants(gk)}
    watched = {gk: correlator.keys(gk) for gk in wanted.values()}
    memo: OrderedDict[str, tuple[str | None, dict[bytes, Combo]]] = OrderedDict()
    segmenter.fill = False  # read what pass 1 left in the memos, add nothing
    n = 0
    for x in store.iter_exchanges(since=since, until=until):
        if x.id > last_id:
            break
        n += 1
        if progress is not None and n % 1000 == 0:
            progress("pass 2", n)
        number = seen.group_of(x.id)
        gk = wanted.get(number) if number is not None else None
        if gk is None:
            continue
        known = memo.get(x.request_sha256)
        if known is None:
            outcome = parse_request(x.raw_request(store.request_body(x)))
            if outcome.prompt is None:  # pass 1 parsed it: the store changed meanwhile
                continue
            got = _units(outcome.prompt, segmenter).combos
            known = (outcome.prompt.model, {k: got[k] for k in watched[gk] if k in got})
            memo[x.request_sha256] = known
            if len(memo) > BODY_MEMO:
                memo.popitem(last=False)
        else:
            memo.move_to_end(x.request_sha256)
        model, combos = known
        attrs = sender_attributes(
            host=x.host,
            client=x.client,
            headers=x.request_headers,
            model=model,
            run=x.run,
            upstream=x.upstream,
        )
        correlator.add(x.id, gk, UnitMap(combos, []), sender(x.client, x.request_headers), attrs)
    if progress is not None:
        progress("pass 2", n)


def run_drift(
    store: Store,
    *,
    since: float | None = None,
    until: float | None = None,
    agent: str | None = None,
    options: Options | None = None,
    progress: Progress | None = None,
) -> DriftReport:
    """The drift report of the store's exchanges in ``[since, until)`` (module docstring)."""
    opts = options or Options()
    segmenter = Segmenter()
    scanner = Scanner(opts)
    counts = _Counts()
    keys: dict[GroupKey, int] = {}
    seen = _Seen()
    for x, prompt in _parsed(store, since, until, agent, counts, progress, "pass 1"):
        gk = group_key(prompt, x.method, x.path)
        number = keys.setdefault(gk, len(keys))
        seen.ids.append(x.id)
        seen.groups.append(number)
        scanner.add(
            x.id, x.started, gk, _units(prompt, segmenter), sender(x.client, x.request_headers)
        )
    candidates = scanner.candidates()
    passes = 1
    correlator = Correlator(candidates, opts)
    if candidates:
        passes = 2
        _pass2(store, since, until, progress, counts.last_id, keys, seen, correlator, segmenter)
    findings, apart = correlator.variants()
    return DriftReport(
        store=store.label,
        since=since,
        until=until,
        agent=agent,
        options=opts,
        read=counts.read,
        model_calls=counts.model_calls,
        not_model_calls=counts.not_model_calls,
        unparsable=counts.unparsable,
        other_agents=counts.other_agents,
        groups=scanner.summaries(),
        findings=findings,
        set_apart=apart,
        passes=passes,
    )
