"""When does a finding start and stop? Signatures and the search (sans-IO).

    parse_signature("endpoint-host:confusable") -> Signature
    signature.evidence(audit) -> the matching findings;  signature.holds(audit) -> bool
    search(n, holds, known=None) -> Search   (indices into a list of n releases)

A **signature** is ``FACTOR[=LEVEL]:WHAT`` or ``verdict:VERDICT``. ``FACTOR`` is a
factor of the catalog (``env:NAME`` too), ``LEVEL`` one of its levels (any level when
left out), ``WHAT`` a change kind (``confusable``, ``date-format``, ...), a severity
(``covert``, ``overt``, ``expected``) or ``any``. It holds for an audit when one of the
audit's findings is attributed to that factor (at that level) and is of that kind;
``verdict:conditioned`` holds when the audit's verdict is ``conditioned``.

**The search** assumes that the signature holds on *one contiguous run* of releases
(a behaviour that ships in some release and is removed in a later one). It tests both
ends, then a known-positive release when one is given, else (when neither end holds)
points of the range coarse to fine (the middle, then the quarters, ...: at most
``probes`` points) until one holds; from that positive point it bisects to the left
for the first release that holds and to the right for the last one: about
``2 log2(n)`` tests. Every result is cached, so no release is tested twice.

Positives with no negative test between them are taken as one run, so an end that
holds is a boundary at no further cost. When the releases it tested contradict the
assumption the search says so instead of guessing: a tested release outside the run
found that also holds, or one inside it that does not, sets ``contiguous`` False (the
run reported is the one around the positive point the bisection started from). A
second run that no test touches cannot be seen: that is the price of O(log n).
When no point holds, the result is "not found": the signature may still hold on a
run shorter than the spacing of the sampled points.
A test that could not run (``holds`` returns None) counts as "does not hold" and is
listed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from promptwitness.analysis.changes import KINDS
from promptwitness.errors import UsageError
from promptwitness.history.timeline import Audit, AuditFinding

__all__ = ["SEVERITIES", "VERDICTS", "Search", "Signature", "parse_signature", "search"]

SEVERITIES = ("covert", "overt", "expected")
VERDICTS = ("clean", "conditioned", "inconclusive")


@dataclass(frozen=True)
class Signature:
    text: str
    factor: str | None  # None: a verdict signature
    level: str | None
    what: str  # a kind, a severity, "any", or (verdict signature) a verdict

    def evidence(self, audit: Audit) -> tuple[AuditFinding, ...]:
        """The audit's findings that match (for a verdict signature: the covert and
        overt findings when the verdict matches)."""
        if self.factor is None:
            if audit.verdict != self.what:
                return ()
            return tuple(f for f in audit.findings if f.severity != "expected")
        return tuple(f for f in audit.findings if self._matches(f))

    def holds(self, audit: Audit) -> bool:
        if self.factor is None:
            return audit.verdict == self.what
        return any(self._matches(f) for f in audit.findings)

    def _matches(self, f: AuditFinding) -> bool:
        if self.factor is None or self.factor not in f.factors:
            return False
        if self.level is not None and f.factors[self.factor] != self.level:
            return False
        return self.what in ("any", f.kind, f.severity)


def parse_signature(text: str) -> Signature:
    """``FACTOR[=LEVEL]:WHAT`` or ``verdict:VERDICT`` (see the module docstring)."""
    left, sep, what = text.rpartition(":")
    if not sep or not left or not what:
        raise UsageError(
            f"bad signature {text!r}: write FACTOR[=LEVEL]:KIND (e.g. endpoint-host:confusable, "
            "tz=Asia/Shanghai:date-format) or verdict:conditioned"
        )
    if left == "verdict":
        if what not in VERDICTS:
            raise UsageError(f"bad signature {text!r}: a verdict is one of {', '.join(VERDICTS)}")
        return Signature(text, None, None, what)
    if what not in (*KINDS, *SEVERITIES, "any"):
        raise UsageError(
            f"bad signature {text!r}: {what!r} is not a change kind ({', '.join(KINDS)}), "
            f"a severity ({', '.join(SEVERITIES)}) or 'any'"
        )
    factor, eq, level = left.partition("=")
    if not factor or (eq and not level):
        raise UsageError(f"bad signature {text!r}: empty factor or level")
    return Signature(text, factor, level if eq else None, what)


@dataclass(frozen=True)
class Search:
    """Indices into the searched list; ``first``/``last`` None when nothing held."""

    first: int | None
    last: int | None
    tested: tuple[tuple[int, bool | None], ...]  # in the order tested
    contiguous: bool
    note: str

    @property
    def tests(self) -> int:
        return len(self.tested)


def _sample_points(n: int, probes: int) -> list[int]:
    """Interior indices coarse to fine: 1/2, then 1/4 and 3/4, then the eighths, ..."""
    out: list[int] = []
    depth = 1
    while len(out) < probes and 2**depth <= 2 * n:
        for k in range(1, 2**depth, 2):
            i = round(k * (n - 1) / 2**depth)
            if 0 < i < n - 1 and i not in out:
                out.append(i)
                if len(out) >= probes:
                    break
        depth += 1
    return out


def search(
    n: int, holds: Callable[[int], bool | None], known: int | None = None, probes: int = 7
) -> Search:
    """The first and last index at which ``holds`` is true (see the module docstring)."""
    if n < 1:
        raise UsageError("nothing to search: the range is empty")
    if known is not None and not 0 <= known < n:
        raise UsageError("the known-positive release is not in the range")
    results: dict[int, bool | None] = {}
    order: list[int] = []

    def test(i: int) -> bool:
        if i not in results:
            results[i] = holds(i)
            order.append(i)
        return bool(results[i])

    def done(first: int | None, last: int | None, note: str) -> Search:
        positives = [i for i, r in results.items() if r]
        contiguous = True
        if first is not None and last is not None:
            outside = [i for i in positives if not first <= i <= last]
            inside = [i for i, r in results.items() if first <= i <= last and not r]
            if outside or inside:
                contiguous = False
                note = (note + " " if note else "") + (
                    "The tested releases contradict the assumption of one contiguous run"
                    + (
                        f" (it also holds at index {', '.join(map(str, sorted(outside)))})"
                        if outside
                        else ""
                    )
                    + (
                        f" (it does not hold at index {', '.join(map(str, sorted(inside)))})"
                        if inside
                        else ""
                    )
                    + "; the run around the positive point the bisection started from is "
                    "reported."
                )
        failed = [i for i in order if results[i] is None]
        if failed:
            note = (note + " " if note else "") + (
                f"{len(failed)} audit(s) could not run and were taken as 'does not hold'."
            )
        return Search(first, last, tuple((i, results[i]) for i in order), contiguous, note)

    left, right = test(0), test(n - 1)
    positive: int | None = None
    if known is not None and test(known):
        positive = known
    elif left:
        positive = 0
    elif right:
        positive = n - 1
    else:
        for i in _sample_points(n, probes):
            if test(i):
                positive = i
                break
    if positive is None:
        tested = len(order)
        return done(
            None,
            None,
            (
                f"It held at none of the {tested} releases tested"
                + (", the known-positive one included" if known is not None else "")
                + ": it may hold on a run shorter than the spacing of the sampled points, "
                "or nowhere in this range."
            ),
        )
    # first: between the last negative left of the positive point and the positive point
    # Positives with no negative test between them are one run (the assumption), so an
    # end that holds is a boundary without further tests.
    lo = max((i for i, r in results.items() if i < positive and not r), default=-1)
    hi = min(i for i, r in results.items() if lo < i <= positive and r)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if test(mid):
            hi = mid
        else:
            lo = mid
    first = hi
    hi2 = min((i for i, r in results.items() if i > positive and not r), default=n)
    lo2 = max(i for i, r in results.items() if positive <= i < hi2 and r)
    while hi2 - lo2 > 1:
        mid = (lo2 + hi2) // 2
        if test(mid):
            lo2 = mid
        else:
            hi2 = mid
    note = ""
    if known is not None and not results[known]:
        note = "The release given as known-positive does not show it."
    return done(first, lo2, note)
