"""The run's clock: every run of one probe starts at the same wall-clock instant.

A probe compares runs made minutes apart. When those minutes cross a midnight, the
date an agent writes into its prompt changes between runs, the control replicates
disagree on it, the date becomes noise, and a covert change of the date's *form*
(``2026-12-05`` → ``2026/12/05`` for one zone) touches that noise and is never
attributed. The same holds for any zone's midnight, not only UTC's, and for an hour or
a minute an agent might render. So the probe pins the clock: each run's wall clock
starts at the probe's **clock instant** and ticks from there, whatever the real time.

How: a small preloaded library (``native/clock.c``, built with the C compiler by
``scripts/setup.sh`` or on first use), listed in the run's own ``/etc/ld.so.preload``
and reading the run's offset (seconds, computed when the run starts) from
``/etc/ld.so.clock``. It shifts the real-time clocks only: monotonic clocks, timers and
timeouts are untouched. Nothing is added to the command's environment (no
``LD_PRELOAD``, no variable at all), no file is made: libfaketime, the obvious choice,
writes ``FAKETIME_SHARED`` into every process's environment and makes semaphores under
``/dev/shm``, tells an audited agent could test for. What the shim does not reach:
programs that read the time without the C library (Go binaries read the vDSO
themselves, statically linked programs) and file times (``stat``): those are real.
A machine with no C compiler runs on the real time; the report says which clock a
probe ran on.

The default instant (:func:`pinned`) is the probe's start time moved back to 7.5
minutes past a quarter hour. Every zone's midnight falls on a quarter hour of UTC, so
a run shorter than 7.5 minutes (the default run timeout is 5) never sees any zone's
date change while it runs, and every run of the probe sees the same dates.
"""

from __future__ import annotations

import datetime as dt

from promptwitness import native

__all__ = [
    "CLOCK_FILE",
    "QUARTER",
    "SHIM_FILE",
    "clock_etc_files",
    "describe",
    "parse_clock",
    "pinned",
    "shim",
]

QUARTER = 900.0  # seconds: every zone's offset from UTC is a multiple of 15 minutes
_MARGIN = QUARTER / 2

CLOCK_FILE = "ld.so.clock"  # under the run's /etc: the offset
SHIM_FILE = "ld.so.clock.so"  # under the run's /etc: the library


def pinned(now: float) -> float:
    """The default clock instant for a probe started at ``now`` (UNIX seconds): the
    latest instant ``<= now`` that is 7.5 minutes past a quarter hour of UTC."""
    return ((now - _MARGIN) // QUARTER) * QUARTER + _MARGIN


def parse_clock(text: str, now: float) -> float | None:
    """``--clock``'s value: ``pinned`` (:func:`pinned` of ``now``), ``real`` (None: the
    runs see the real time), or an ISO 8601 instant (``2026-12-05T23:59:00Z``; no
    offset means UTC). Raises ValueError with a message for anything else."""
    t = text.strip()
    if t == "pinned":
        return pinned(now)
    if t == "real":
        return None
    try:
        when = dt.datetime.fromisoformat(t.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"--clock {text!r}: expected 'pinned', 'real' or an ISO 8601 instant "
            "such as 2026-12-05T23:59:00Z"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def describe(instant: float | None) -> str:
    """``2026-12-06T01:07:30Z`` or ``real`` (what reports and progress lines show)."""
    if instant is None:
        return "real"
    when = dt.datetime.fromtimestamp(instant, dt.UTC)
    text = when.isoformat(timespec="milliseconds" if instant % 1 else "seconds")
    return text.replace("+00:00", "Z")


def shim() -> tuple[bytes | None, str]:
    """The clock shim's bytes (built once into the cache), or None and why not."""
    global _shim
    if _shim is None:
        path, why = native.build("clock", native.defines("clock"))
        if path is None:
            return None, why
        _shim = path.read_bytes()
    return _shim, ""


_shim: bytes | None = None


def clock_etc_files(
    instant: float, now: float, library: bytes, preload: bytes | None = None
) -> dict[str, bytes]:
    """The run's ``/etc`` files that start its clock at ``instant`` when it is really
    ``now``: the offset (to the microsecond), the shim, and ``ld.so.preload`` (the shim
    first, then the lines of ``preload``, a preload the run already had)."""
    rc = f"{instant - now:+.6f}\n".encode()
    first = ("/etc/" + SHIM_FILE).encode()
    lines = [first]
    if preload:
        lines += [ln for ln in preload.split(b"\n") if ln.strip() and ln != first]
    return {CLOCK_FILE: rc, SHIM_FILE: library, "ld.so.preload": b"\n".join(lines) + b"\n"}
