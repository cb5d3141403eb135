"""The run's clock (``probe.clock``): the pinned instant's rule, ``--clock`` parsing,
and the /etc files that start a run's clock."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promptwitness.probe.clock import (
    CLOCK_FILE,
    QUARTER,
    SHIM_FILE,
    clock_etc_files,
    describe,
    parse_clock,
    pinned,
)

# zones whose offsets are not whole hours, and the two ends of the range
ZONES = (
    "UTC",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "America/St_Johns",
    "Australia/Eucla",
    "Pacific/Kiritimati",
    "Etc/GMT+12",
    "Asia/Shanghai",
)
# From 1995-05 on: every offset of these zones since then is a whole quarter hour (before
# 1995, Pacific/Kiritimati was UTC-10:40; local mean times were not quarter hours at all).
NOW = st.floats(min_value=8e8, max_value=4e9, allow_nan=False)


@given(NOW)
def test_pinned_is_in_the_last_quarter_hour_and_half_way_through_one(now: float) -> None:
    p = pinned(now)
    assert now - QUARTER < p <= now
    assert (p - QUARTER / 2) % QUARTER == 0


@given(NOW, st.floats(min_value=0, max_value=QUARTER / 2 - 1))
def test_no_zone_changes_date_during_a_run_shorter_than_the_margin(
    now: float, elapsed: float
) -> None:
    start = pinned(now)
    for zone in ZONES:
        tz = ZoneInfo(zone)
        a = dt.datetime.fromtimestamp(start, tz).date()
        b = dt.datetime.fromtimestamp(start + elapsed, tz).date()
        assert a == b, (zone, describe(start), elapsed)


def test_the_incident_window_pins_to_a_time_before_midnight() -> None:
    # the CI run that lost the Shanghai date form ran across 2026-12-06T00:00Z
    before = dt.datetime(2026, 12, 5, 23, 58, 10, tzinfo=dt.UTC).timestamp()
    assert describe(pinned(before)) == "2026-12-05T23:52:30Z"
    after = dt.datetime(2026, 12, 6, 0, 3, 0, tzinfo=dt.UTC).timestamp()
    assert describe(pinned(after)) == "2026-12-05T23:52:30Z"


def test_parse_clock() -> None:
    now = dt.datetime(2026, 12, 6, 1, 10, 0, tzinfo=dt.UTC).timestamp()
    assert parse_clock("pinned", now) == pinned(now)
    assert parse_clock("real", now) is None
    assert describe(parse_clock("2026-12-05T23:59:00Z", now)) == "2026-12-05T23:59:00Z"
    assert describe(parse_clock("2026-12-05T23:59:00", now)) == "2026-12-05T23:59:00Z"
    assert describe(parse_clock("2026-12-06T07:59:00+08:00", now)) == "2026-12-05T23:59:00Z"
    assert describe(parse_clock("2026-12-05T23:59:00.250Z", now)) == "2026-12-05T23:59:00.250Z"
    for bad in ("yesterday", "", "2026-13-01", "12:00"):
        with pytest.raises(ValueError, match="--clock"):
            parse_clock(bad, now)
    assert describe(None) == "real"


def test_clock_files_carry_the_offset_and_keep_a_preload() -> None:
    files = clock_etc_files(1000.0, 1250.5, b"ELF", preload=b"/lib/other.so\n\n")
    assert files[CLOCK_FILE] == b"-250.500000\n"
    assert files[SHIM_FILE] == b"ELF"
    assert files["ld.so.preload"] == f"/etc/{SHIM_FILE}\n/lib/other.so\n".encode()
    assert clock_etc_files(2000.0, 1000.0, b"ELF")[CLOCK_FILE] == b"+1000.000000\n"


def test_the_shims_are_built_for_the_paths_the_sandbox_uses() -> None:
    from promptwitness import native
    from promptwitness.probe.jail import TRACE_DIR

    assert native.defines("clock") == {"PW_CLOCK_FILE": "/etc/" + CLOCK_FILE}
    assert native.defines("getenv") == {"PW_TRACE_DIR": TRACE_DIR}
