"""drift.units: a key blind to form, a form blind to values (hypothesis properties)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from promptwitness.analysis.forms import find_dates
from promptwitness.drift.units import MIN_KEY, form_of, key_of, units_of, value_spans

LINE = "Today's date is {date}. The time is {time}; the project lives in {path} ({n} files).\n"
LAYOUTS = ("%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y", "%B %d, %Y", "%Y年%m月%d日")

dates = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2090, 12, 31))
times = st.times().map(lambda t: t.strftime("%H:%M:%S"))
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=12)
paths = st.lists(names, min_size=1, max_size=5).map(lambda p: "/" + "/".join(p))
numbers = st.integers(min_value=0, max_value=10**9)


def line(layout: str, d: dt.date, t: str, path: str, n: int) -> str:
    return LINE.format(date=d.strftime(layout), time=t, path=path, n=n)


@given(st.sampled_from(LAYOUTS), dates, dates, times, times, paths, paths, numbers, numbers)
def test_value_only_edits_never_change_the_form(
    layout: str,
    d1: dt.date,
    d2: dt.date,
    t1: str,
    t2: str,
    p1: str,
    p2: str,
    n1: int,
    n2: int,
) -> None:
    a, b = line(layout, d1, t1, p1, n1), line(layout, d2, t2, p2, n2)
    assert key_of(a) == key_of(b)
    assert form_of(a) == form_of(b)
    (ua,), (ub,) = units_of(a), units_of(b)
    assert (ua.key, ua.form) == (ub.key, ub.form)


@given(dates, st.sampled_from(LAYOUTS), st.sampled_from(LAYOUTS))
def test_a_date_written_differently_is_another_form_of_the_same_key(
    d: dt.date, la: str, lb: str
) -> None:
    a = LINE.format(date=d.strftime(la), time="10:00", path="/p", n=1)
    b = LINE.format(date=d.strftime(lb), time="10:00", path="/p", n=1)
    assert key_of(a) == key_of(b)
    assert (form_of(a) == form_of(b)) == (la == lb)


TEMPLATE = "Always answer in the language of the user's message, and keep your answers short."
LOOKALIKES = {
    "a": "\u0430",
    "e": "\u0435",
    "o": "\u043e",
    "p": "\u0440",
    "c": "\u0441",
    "'": "\u2019",
}
INVISIBLE = ("\u200b", "\u200d", "\u2060", "\ufeff", "\u00ad", "\U000e0041")


@given(st.data())
def test_a_lookalike_in_template_text_is_always_another_form(data: st.DataObject) -> None:
    spots = [i for i, c in enumerate(TEMPLATE) if c in LOOKALIKES]
    i = data.draw(st.sampled_from(spots))
    changed = TEMPLATE[:i] + LOOKALIKES[TEMPLATE[i]] + TEMPLATE[i + 1 :]
    assert key_of(changed) == key_of(TEMPLATE)
    assert form_of(changed) != form_of(TEMPLATE)


@given(st.integers(min_value=0, max_value=len(TEMPLATE)), st.sampled_from(INVISIBLE))
def test_an_invisible_code_point_is_always_another_form(i: int, ch: str) -> None:
    changed = TEMPLATE[:i] + ch + TEMPLATE[i:]
    assert key_of(changed) == key_of(TEMPLATE)
    assert form_of(changed) != form_of(TEMPLATE)


@given(st.sampled_from([" ", "  ", "\t", "\u00a0", "\u2009"]), st.integers(1, 3))
def test_whitespace_punctuation_and_line_breaks_are_form(space: str, breaks: int) -> None:
    base = TEMPLATE + "\n"
    variants = [
        base.replace(" ", space, 1),
        TEMPLATE + "\n" * (breaks + 1),
        base.replace(",", ";"),
        base.replace(".", "\u2026"),
        base.replace("Always", "always"),
    ]
    for v in variants:
        if v == base:
            continue
        assert key_of(v) == key_of(base), v
        assert form_of(v) != form_of(base), v


def test_different_words_are_different_units() -> None:
    assert key_of("Reply in English.") != key_of("Reply in Chinese.")


def test_short_lines_and_values_alone_are_not_units() -> None:
    assert units_of("ok\n\n2026-12-06\n/home/alice/x\n") == ()
    text = "x" * MIN_KEY
    assert len(units_of(text)) == 1


def test_values_are_found_around_dates() -> None:
    text = "see https://example.com/a/b on 2026-12-06 at /srv/data, id 0123abcd4567ef89"
    kinds = [(text[s:e], d) for s, e, d in value_spans(text)]
    assert ("https://example.com/a/b", False) in kinds
    assert ("2026-12-06", True) in kinds
    assert ("/srv/data", False) in kinds
    assert ("0123abcd4567ef89", False) in kinds
    assert list(find_dates("2026/12/06")) == [(0, 10)]
