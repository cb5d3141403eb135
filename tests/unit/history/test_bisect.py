"""Signatures and the bisect search with a fake audit oracle (history.bisect)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptwitness.errors import UsageError
from promptwitness.history.bisect import parse_signature, search
from promptwitness.history.timeline import Audit, AuditFinding


def finding(factors: dict[str, str], kind: str, severity: str = "covert") -> AuditFinding:
    return AuditFinding(
        factors=factors,
        request="POST /v1/messages [m] #0",
        path="messages[0].content[0].text",
        kind=kind,
        severity=severity,
        control="'",
        observed="\u02bc",
        code_points=("U+0027", "U+02BC"),
    )


AUDIT = Audit(
    "conditioned",
    (
        finding({"endpoint-host": "api.deepseek.com"}, "confusable"),
        finding({"tz": "Asia/Shanghai"}, "date-format"),
        finding({"tz": "Etc/GMT+12"}, "value", "expected"),
    ),
)


@pytest.mark.parametrize(
    ("text", "holds"),
    [
        ("endpoint-host:confusable", True),
        ("endpoint-host=api.deepseek.com:confusable", True),
        ("endpoint-host=api.moonshot.cn:confusable", False),
        ("endpoint-host:date-format", False),
        ("tz:date-format", True),
        ("tz=Asia/Shanghai:date-format", True),
        ("tz:covert", True),
        ("tz=Etc/GMT+12:covert", False),
        ("tz=Etc/GMT+12:expected", True),
        ("locale:any", False),
        ("tz:any", True),
        ("verdict:conditioned", True),
        ("verdict:clean", False),
    ],
)
def test_signature_matching(text: str, holds: bool) -> None:
    sig = parse_signature(text)
    assert sig.holds(AUDIT) is holds
    assert bool(sig.evidence(AUDIT)) is holds


def test_signature_parts_and_evidence() -> None:
    sig = parse_signature("env:PW_REGION=cn:content")
    assert (sig.factor, sig.level, sig.what) == ("env:PW_REGION", "cn", "content")
    ev = parse_signature("endpoint-host:confusable").evidence(AUDIT)
    assert [f.observed for f in ev] == ["\u02bc"]
    # a verdict signature's evidence: its covert and overt findings
    assert len(parse_signature("verdict:conditioned").evidence(AUDIT)) == 2
    assert parse_signature("verdict:clean").evidence(Audit("clean")) == ()


@pytest.mark.parametrize(
    "text",
    ["confusable", ":confusable", "tz:", "tz:nonsense", "verdict:maybe", "tz=:value", "=x:value"],
)
def test_bad_signatures(text: str) -> None:
    with pytest.raises(UsageError):
        parse_signature(text)


class Oracle:
    """holds(i) for i in [first, last]; counts the calls and refuses repeats."""

    def __init__(
        self,
        first: int | None,
        last: int | None,
        extra: set[int] | None = None,
        failing: set[int] | None = None,
    ) -> None:
        self.first, self.last = first, last
        self.extra = extra or set()
        self.failing = failing or set()
        self.calls: list[int] = []

    def __call__(self, i: int) -> bool | None:
        assert i not in self.calls, f"tested {i} twice"
        self.calls.append(i)
        if i in self.failing:
            return None
        inside = self.first is not None and self.last is not None and self.first <= i <= self.last
        return inside or i in self.extra


def test_finds_a_run_in_the_middle_from_a_known_point_in_log_n() -> None:
    n = 287
    o = Oracle(40, 200)
    s = search(n, o, known=91)
    assert (s.first, s.last, s.contiguous) == (40, 200, True)
    assert s.tests == len(o.calls)
    assert s.tests <= 3 + 2 * math.ceil(math.log2(n))


def test_finds_a_run_touching_an_end_without_sampling() -> None:
    o = Oracle(100, 286)
    s = search(287, o)
    assert (s.first, s.last) == (100, 286)
    assert o.calls[:2] == [0, 286]
    assert s.tests <= 2 + math.ceil(math.log2(287))


def test_samples_coarse_to_fine_for_a_positive_point() -> None:
    o = Oracle(60, 80)
    s = search(287, o)
    assert (s.first, s.last) == (60, 80)
    assert o.calls[:4] == [0, 286, 143, 72]  # ends, middle, then the first quarter
    assert s.note == "" and s.contiguous


def test_not_found_says_why() -> None:
    o = Oracle(None, None)
    s = search(100, o, probes=7)
    assert s.first is None and s.last is None
    assert s.tests == 2 + 7
    assert "shorter than the spacing" in s.note


def test_single_release_and_holds_everywhere() -> None:
    assert (search(1, Oracle(0, 0)).first, search(1, Oracle(0, 0)).tests) == (0, 1)
    s = search(50, Oracle(0, 49))
    assert (s.first, s.last, s.tests) == (0, 49, 2)  # both ends hold: one run, by assumption


def test_a_broken_assumption_is_reported() -> None:
    # both ends hold, but the release given as known-positive does not: two runs
    o = Oracle(0, 20, extra={286})
    s = search(287, o, known=100)
    assert (s.first, s.last) == (0, 20)
    assert not s.contiguous
    assert "contradict" in s.note and "index 286" in s.note
    assert "known-positive does not show it" in s.note
    # a second run the tests never touch cannot be seen (documented)
    s2 = search(287, Oracle(140, 150, extra={200}))
    assert (s2.first, s2.last, s2.contiguous) == (140, 150, True)


def test_failed_audits_count_as_not_holding_and_are_noted() -> None:
    s = search(64, Oracle(10, 40, failing={0}), known=20)
    assert (s.first, s.last) == (10, 40)
    assert "could not run" in s.note


def test_bad_known_point() -> None:
    with pytest.raises(UsageError):
        search(10, Oracle(1, 2), known=10)
    with pytest.raises(UsageError):
        search(0, Oracle(None, None))


@settings(max_examples=300)
@given(
    st.integers(1, 400).flatmap(
        lambda n: st.tuples(st.just(n), st.integers(0, n - 1), st.integers(0, n - 1), st.booleans())
    )
)
def test_search_is_exact_and_logarithmic(case: tuple[int, int, int, bool]) -> None:
    n, x, y, give_known = case
    first, last = min(x, y), max(x, y)
    o = Oracle(first, last)
    known = (first + last) // 2 if give_known else None
    s = search(n, o, known=known, probes=n)  # probes=n: every run is findable
    assert (s.first, s.last, s.contiguous) == (first, last, True)
    if give_known or first == 0 or last == n - 1:
        assert s.tests <= 3 + 2 * max(1, math.ceil(math.log2(n)))
