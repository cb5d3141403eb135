"""Which senders get a variant: contingency counts → separators (sans-IO, pure).

For one variant, every exchange that has its template unit is either *with* the variant
(``A`` of them) or *other* (``B``). For each dimension of ``drift.senders`` the counts
of each value on both sides give:

- the values never seen among the others, ``S``; when the exchanges with those values
  are all ``A`` exchanges with the variant, the dimension **separates** the variant:
  ``host=api.corp.cn: 6 of 6 with the variant, 0 of 54 others``. It **explains** it
  when ``S`` names a group (fewer values than the variant has senders, or one value);
  when every sender has its own value (a per-client credential, the client's own
  address) it separates the senders one by one and says nothing about why: reported
  as ``per-sender``, never as the explanation.
- when nothing separates the variant, the best ``partial`` values (the largest
  ``hits/A − other_hits/B``) are reported as such, with a note that nothing the gateway
  knows separates the variant.

Several dimensions explaining equally well (the same number of values) are
*confounded* in that fleet (every client reaching ``api.corp.cn`` also sits in one
subnet): all are reported, with a note that drift cannot tell which one the agent
reads. A dimension whose values were cut (``OTHER`` stands for values past the cap)
is never claimed to separate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from promptwitness.drift.model import Separator, Verdict
from promptwitness.drift.senders import dimension_rank

__all__ = ["OTHER", "separate"]

OTHER = "(other values)"
PARTIALS = 3


def separate(
    with_variant: Mapping[str, Counter[str]],
    others: Mapping[str, Counter[str]],
    variant_total: int,
    other_total: int,
    variant_senders: int,
) -> tuple[tuple[Separator, ...], tuple[str, ...]]:
    """The separators of one variant (explaining first, fewest values first, then
    per-sender ones; partial ones only when nothing explains it) and notes."""
    a, b = variant_total, other_total
    explains: list[Separator] = []
    per_sender: list[Separator] = []
    partial: list[tuple[float, Separator]] = []
    for dim in sorted(set(with_variant) | set(others), key=lambda d: (dimension_rank(d), d)):
        w = with_variant.get(dim, Counter())
        o = others.get(dim, Counter())
        only = sorted((v for v in w if o.get(v, 0) == 0), key=lambda v: (-w[v], v))
        covered = sum(w[v] for v in only)
        if a > 0 and covered == a and OTHER not in only:
            verdict: Verdict = (
                "explains" if len(only) == 1 or len(only) < variant_senders else "per-sender"
            )
            sep = Separator(dim, tuple(only), a, a, 0, b, verdict)
            (explains if verdict == "explains" else per_sender).append(sep)
            continue
        for v in w:
            if v == OTHER:
                continue
            score = w[v] / a - (o.get(v, 0) / b if b else 0.0)
            partial.append((score, Separator(dim, (v,), w[v], a, o.get(v, 0), b, "partial")))
    explains.sort(key=lambda s: (len(s.values), dimension_rank(s.dimension), s.dimension))
    notes: list[str] = []
    if explains:
        best = [s for s in explains if len(s.values) == len(explains[0].values)]
        if len(best) > 1:
            notes.append(
                "confounded: "
                + ", ".join(s.dimension for s in best)
                + " separate the variant equally well in these exchanges; drift cannot "
                "tell which of them the agent reads"
            )
        out = tuple(explains + per_sender)
    else:
        partial.sort(key=lambda p: (-p[0], dimension_rank(p[1].dimension), p[1].dimension))
        top = tuple(s for score, s in partial[:PARTIALS] if score > 0)
        notes.append(
            "nothing the gateway knows separates the exchanges with the variant from the "
            "others" + (" (best partial matches listed)" if top else "")
        )
        out = top + tuple(per_sender)
    if per_sender:
        notes.append(
            ", ".join(s.dimension for s in per_sender)
            + " separate the variant only sender by sender (each sender its own value): "
            "that names no group"
        )
    return out, tuple(notes)
