"""``drift`` over a store (the IO loop): stream the exchanges, feed the sans-IO engine.

Reads with ``Store.iter_exchanges`` (id order, in batches: bounded memory on any store)
and ``Store.request_body``; nothing is written. Exchanges that are not model calls, or
whose body does not parse for its protocol, are counted and skipped; ``agent`` (a
substring of the user agent, any case) is checked on the stored headers before the
body is read. Pass 2 runs only when pass 1 found candidates, and reads only the
exchanges of their groups up to the last id pass 1 saw (so exchanges captured
meanwhile do not change the counts).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from promptwitness.analysis.segments import segments
from promptwitness.drift.engine import Correlator, Scanner, Segmenter, UnitMap, unit_map
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
    last_id: int | None = None,
) -> Iterator[tuple[StoredExchange, Prompt]]:
    needle = agent.casefold() if agent else None
    n = 0
    for x in store.iter_exchanges(since=since, until=until):
        if last_id is not None and x.id > last_id:
            return
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
    keys: dict[GroupKey, GroupKey] = {}
    for x, prompt in _parsed(store, since, until, agent, counts, progress, "pass 1"):
        gk = group_key(prompt, x.method, x.path)
        gk = keys.setdefault(gk, gk)
        scanner.add(
            x.id, x.started, gk, _units(prompt, segmenter), sender(x.client, x.request_headers)
        )
    candidates = scanner.candidates()
    passes = 1
    correlator = Correlator(candidates, opts)
    if candidates:
        passes = 2
        for x, prompt in _parsed(
            store, since, until, agent, None, progress, "pass 2", last_id=counts.last_id
        ):
            gk = group_key(prompt, x.method, x.path)
            if not correlator.wants(gk):
                continue
            attrs = sender_attributes(
                host=x.host,
                client=x.client,
                headers=x.request_headers,
                model=prompt.model,
                run=x.run,
                upstream=x.upstream,
            )
            correlator.add(
                x.id,
                gk,
                _units(prompt, segmenter),
                sender(x.client, x.request_headers),
                attrs,
            )
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
