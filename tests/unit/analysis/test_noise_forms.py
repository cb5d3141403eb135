"""Changes of form inside noise (``analysis.noisy`` through ``analysis.attribute``), with
the real detectors: a value that varies between identical runs (a timestamp to the
microsecond) is noise, and a form change inside it is still attributed when the
control's form is stable and every run of the cell changes it the same way."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from promptwitness.analysis.attribute import Analysis, Observation, analyse
from promptwitness.analysis.detectors import classify
from promptwitness.analysis.diff import diff_segments
from promptwitness.model import Segment

REQ = "POST /v1/chat/completions#0"
PATH = "messages[0].content"
CONTROL = {"tz": "UTC"}
SHANGHAI = {"tz": "Asia/Shanghai"}
PROMPT = "You are Kimi. Don't guess.\nThe current time is {}.\nSay hi."

Stamp = Callable[[random.Random], str]


def kimi(hour: str, offset: str) -> Stamp:
    """``datetime.now().astimezone().isoformat()`` under a pinned clock: the seconds
    and microseconds differ from run to run."""
    return lambda rng: (
        f"2026-12-06T{hour}:12:{rng.randint(31, 39)}.{rng.randint(0, 999_999):06d}{offset}"
    )


def one(cell: str, levels: dict[str, str], rep: int, stamp: str) -> Observation:
    segs = (Segment("model", "kimi-k2"), Segment(PATH, PROMPT.format(stamp)))
    return Observation(cell, levels, rep, {REQ: segs})


def observe(cells: Sequence[tuple[dict[str, str], Stamp, int]], seed: int = 7) -> list[Observation]:
    rng = random.Random(seed)
    out = []
    for levels, stamp, reps in cells:
        cid = ",".join(f"{k}={v}" for k, v in levels.items() if CONTROL[k] != v) or "control"
        out += [one(cid, levels, rep, stamp(rng)) for rep in range(reps)]
    return out


def go(obs: list[Observation]) -> Analysis:
    return analyse(obs, CONTROL)


# --------------------------------------------------------------------------- Kimi CLI


def test_kimi_offset_of_another_zone_inside_a_microsecond_timestamp_is_a_value() -> None:
    """The timestamp is noise (its digits differ on every run), and under Asia/Shanghai
    it carries ``+08:00``: the same formatter writing the offset of another zone, as it
    writes another hour. A value inside the noise: no finding, the timestamp stays noise
    (as the date being tomorrow in Shanghai is expected, not covert)."""
    obs = observe([(CONTROL, kimi("04", "+00:00"), 3), (SHANGHAI, kimi("12", "+08:00"), 2)])
    a = go(obs)
    assert [(n.request, n.path) for n in a.noise] == [(REQ, PATH)]
    assert a.findings == () and a.suspects == ()
    assert a.verdict() == "clean"


def test_z_in_the_control_and_an_offset_in_the_cell_is_a_value() -> None:
    """RFC 3339 writes a zero offset ``Z`` and any other ``+08:00`` (Go's time.RFC3339,
    for one): a value too."""
    obs = observe([(CONTROL, kimi("04", "Z"), 3), (SHANGHAI, kimi("12", "+08:00"), 2)])
    a = go(obs)
    assert a.findings == () and a.suspects == ()


def test_the_offset_written_another_way_inside_the_noise_is_found() -> None:
    """The zone's offset dropped its colon under Asia/Shanghai (``+08:00`` → ``+0800``):
    a form change inside the noise (the detectors call a dropped colon punctuation),
    found and attributed; the timestamp stays noise."""
    obs = observe([(CONTROL, kimi("04", "+08:00"), 3), (SHANGHAI, kimi("12", "+0800"), 2)])
    a = go(obs)
    assert [(n.request, n.path) for n in a.noise] == [(REQ, PATH)]
    assert len(a.findings) == 1
    f = a.findings[0]
    assert f.factors == SHANGHAI and f.request == REQ and f.support == (2, 2)
    assert f.control_support == (0, 3)
    c = f.change
    assert (c.path, c.kind, c.severity) == (PATH, "punctuation", "covert")
    # the reference's and the run's own texts, over the whole timestamp
    ref = obs[0].requests[REQ][1].value  # type: ignore[index]
    run0 = next(o for o in obs if o.cell == "tz=Asia/Shanghai" and o.replicate == 0)
    seen = run0.requests[REQ][1].value  # type: ignore[index]
    assert c.a_span is not None and c.b_span is not None
    assert c.control == ref[c.a_span[0] : c.a_span[1]] and c.control.endswith("+08:00")
    assert c.observed == seen[c.b_span[0] : c.b_span[1]] and c.observed.endswith("+0800")
    assert c.observed.startswith("2026-12-06T12:12:")
    assert "9999-99-99A99:99:99.999999±99:99" in c.detail
    assert "9999-99-99A99:99:99.999999±9999" in c.detail
    assert "U+003A COLON" in c.code_points  # the colon dropped, not the noise's digits
    assert a.verdict() == "conditioned"


def test_a_zero_offset_written_two_ways_is_found() -> None:
    """``Z`` in the control, ``+00:00`` in the cell, both a zero offset: two formatters."""
    obs = observe([(CONTROL, kimi("04", "Z"), 3), (SHANGHAI, kimi("04", "+00:00"), 2)])
    a = go(obs)
    assert [(f.factors, f.change.kind) for f in a.findings] == [(SHANGHAI, "date-format")]


def test_new_digits_in_the_noise_stay_noise() -> None:
    """The hour and the seconds differ in the cell (a value), the form does not."""
    obs = observe([(CONTROL, kimi("04", "+08:00"), 3), (SHANGHAI, kimi("12", "+08:00"), 2)])
    a = go(obs)
    assert a.findings == () and a.suspects == ()
    assert [n.path for n in a.noise] == [PATH]
    assert a.verdict() == "clean"


def test_a_one_at_a_time_finding_explains_the_covering_rows() -> None:
    """The key of a change inside noise is the same in every cell that makes it (the
    values are set aside), so a row with the zone is explained, not a suspect."""
    control = {"tz": "UTC", "env:X": "0", "env:Y": "0"}
    rng = random.Random(3)
    obs = []
    cells = [
        control,
        {**control, "tz": "Asia/Shanghai"},
        {**control, "env:X": "1"},
        {**control, "tz": "Asia/Shanghai", "env:X": "1", "env:Y": "1"},
    ]
    for levels in cells:
        cid = ",".join(f"{k}={v}" for k, v in levels.items() if control[k] != v) or "control"
        east = levels["tz"] == "Asia/Shanghai"
        stamp = kimi("12", "+0800") if east else kimi("04", "+08:00")  # the colon dropped
        for rep in range(3 if cid == "control" else 2):
            text = PROMPT.format(stamp(rng))
            obs.append(Observation(cid, levels, rep, {REQ: (Segment(PATH, text),)}))
    a = analyse(obs, control)
    assert [(f.factors, f.change.severity) for f in a.findings] == [
        ({"tz": "Asia/Shanghai"}, "covert")
    ]
    assert a.findings[0].cells == ("tz=Asia/Shanghai", "tz=Asia/Shanghai,env:X=1,env:Y=1")
    assert a.suspects == () and a.unresolved == ()


# ------------------------------------------------------------- Claude Code's date form


def claude(date: str, sep: str) -> Stamp:
    """A date in a per-run timestamp (milliseconds), the date's form by the zone."""
    y, m, d = date.split("-")
    return lambda rng: f"{y}{sep}{m}{sep}{d} 22:37:{rng.randint(40, 49)}.{rng.randint(0, 999):03d}"


def test_a_slash_date_inside_a_noisy_timestamp_is_found() -> None:
    obs = observe(
        [(CONTROL, claude("2026-12-05", "-"), 3), (SHANGHAI, claude("2026-12-06", "/"), 2)]
    )
    a = go(obs)
    assert len(a.findings) == 1
    c = a.findings[0].change
    assert (a.findings[0].factors, c.kind) == (SHANGHAI, "date-format")
    assert c.control is not None and c.control.startswith("2026-12-05 22:37:")
    assert c.observed is not None and c.observed.startswith("2026/12/06 22:37:")
    assert "form '9999-99-99 99:99:99.999' → '9999/99/99 99:99:99.999'" in c.detail


def test_a_date_that_only_follows_the_zone_inside_a_noisy_timestamp_is_noise() -> None:
    obs = observe(
        [(CONTROL, claude("2026-12-05", "-"), 3), (SHANGHAI, claude("2026-12-06", "-"), 2)]
    )
    assert go(obs).findings == ()


def test_a_control_whose_form_varies_stays_noise() -> None:
    """One control run writes the slash date: the form is not stable between identical
    runs, so the cell's slash date is not attributed."""
    rng = random.Random(5)
    dash, slash = claude("2026-12-05", "-"), claude("2026-12-05", "/")
    stamps = [dash, dash, slash]
    obs = observe([(SHANGHAI, claude("2026-12-06", "/"), 2)], seed=5)
    obs += [one("control", CONTROL, rep, stamp(rng)) for rep, stamp in enumerate(stamps)]
    a = go(obs)
    assert a.findings == () and [n.path for n in a.noise] == [PATH]


def test_a_cell_whose_runs_disagree_on_the_form_gets_nothing() -> None:
    rng = random.Random(9)
    obs = observe([(CONTROL, claude("2026-12-05", "-"), 3)])
    for rep, sep in enumerate(["/", "."]):
        obs.append(one("tz=Asia/Shanghai", SHANGHAI, rep, claude("2026-12-06", sep)(rng)))
    assert go(obs).findings == ()


# ------------------------------------------------------------------------- properties

# A per-run value: every digit field can differ between runs (fixed widths).
FIELDS = ("2026", "12", "06", "04", "12", "33", "123456")
TEMPLATE = "{}-{}-{}T{}:{}:{}.{}+00:00"


def stamp_of(digits: Sequence[str], template: str = TEMPLATE) -> str:
    return template.format(*digits)


def digits_st() -> st.SearchStrategy[list[str]]:
    return st.tuples(
        *(st.text("0123456789", min_size=len(f), max_size=len(f)) for f in FIELDS)
    ).map(list)


def observations(
    controls: Sequence[str], cell: Sequence[str], levels: dict[str, str] = SHANGHAI
) -> list[Observation]:
    obs = [
        Observation("control", CONTROL, rep, {REQ: (Segment(PATH, PROMPT.format(s)),)})
        for rep, s in enumerate(controls)
    ]
    cid = ",".join(f"{k}={v}" for k, v in levels.items())
    obs += [
        Observation(cid, levels, rep, {REQ: (Segment(PATH, PROMPT.format(s)),)})
        for rep, s in enumerate(cell)
    ]
    return obs


def noisy_controls(base: list[str], others: list[list[str]]) -> list[list[str]]:
    """Three control runs whose microseconds all differ (so the value is noise)."""
    runs = [base, *others]
    for k, run in enumerate(runs):
        run[-1] = f"{k}{run[-1][1:]}"
    return runs


@settings(max_examples=40, deadline=None)
@given(
    digits_st(),
    st.lists(digits_st(), min_size=2, max_size=2),
    st.lists(digits_st(), min_size=1, max_size=3),
)
def test_new_values_inside_a_noisy_value_never_make_a_finding(
    base: list[str], others: list[list[str]], cell: list[list[str]]
) -> None:
    controls = noisy_controls(base, others)
    a = go(observations([stamp_of(d) for d in controls], [stamp_of(d) for d in cell]))
    assert a.findings == () and a.suspects == ()
    assert [n.path for n in a.noise] == [PATH]


# Form changes a cell can make in the value (a template of the same fields).
MUTATIONS = {
    "slash date": "{}/{}/{}T{}:{}:{}.{}+00:00",
    "dotted date": "{}.{}.{}T{}:{}:{}.{}+00:00",
    "space for T": "{}-{}-{} {}:{}:{}.{}+00:00",
    "offset without its colon": "{}-{}-{}T{}:{}:{}.{}+0000",
    "zero offset as Z": "{}-{}-{}T{}:{}:{}.{}Z",
    "no offset": "{}-{}-{}T{}:{}:{}.{}",
    "full-width colon": "{}-{}-{}T{}：{}：{}.{}+00:00",
    "zero-width space": "{}-{}-{}T{}:{}:{}.{}\u200b+00:00",
    "no-break space": "{}-{}-{}\u00a0{}:{}:{}.{}+00:00",
    "apostrophe": "{}-{}-{}T{}:{}:{}.{}+00:00'",
}


def kinds_without_noise(template: str) -> set[str]:
    """What the detectors call the same change when no digit differs."""
    a = PROMPT.format(stamp_of(FIELDS))
    b = PROMPT.format(stamp_of(FIELDS, template))
    return {
        c.kind for d in diff_segments((Segment(PATH, a),), (Segment(PATH, b),)) for c in classify(d)
    }


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(sorted(MUTATIONS)),
    digits_st(),
    st.lists(digits_st(), min_size=2, max_size=2),
    st.lists(digits_st(), min_size=1, max_size=3),
)
def test_a_consistent_form_change_inside_a_stable_noisy_form_is_always_found(
    name: str, base: list[str], others: list[list[str]], cell: list[list[str]]
) -> None:
    template = MUTATIONS[name]
    controls = noisy_controls(base, others)
    a = go(observations([stamp_of(d) for d in controls], [stamp_of(d, template) for d in cell]))
    expected = kinds_without_noise(template)
    assert expected and "value" not in expected, name
    assert a.findings, name
    assert {f.change.kind for f in a.findings} == expected, name
    assert all(f.factors == SHANGHAI and f.change.path == PATH for f in a.findings)
    assert a.suspects == ()


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(sorted(MUTATIONS)),
    st.integers(min_value=0, max_value=2),
    digits_st(),
    st.lists(digits_st(), min_size=2, max_size=2),
    st.lists(digits_st(), min_size=1, max_size=3),
)
def test_a_noisy_value_whose_control_form_varies_never_makes_a_finding(
    mutation: str,
    which: int,
    base: list[str],
    others: list[list[str]],
    cell: list[list[str]],
) -> None:
    """One control run writes the value in the form the cell writes it in: that form is
    the control's own variation, never attributed. (A form change the control never
    makes, elsewhere in the value, is another matter: the tests above.)"""
    in_cell = mutation
    controls = noisy_controls(base, others)
    stamps = [
        stamp_of(d, MUTATIONS[mutation] if k == which else TEMPLATE) for k, d in enumerate(controls)
    ]
    a = go(observations(stamps, [stamp_of(d, MUTATIONS[in_cell]) for d in cell]))
    assert a.findings == () and a.suspects == ()
