"""The run's clock, for real: the clock shim in the sandbox (C, Node and Python programs
see the run's instant; nothing in their environment; timers real), and a probe whose
runs would each see another second, pinned so that a form change of that timestamp is
attributed instead of drowned in noise (the CI run of 2026-12-05 that crossed midnight
lost the Asia/Shanghai date form that way)."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from promptwitness.probe.clock import describe, shim
from promptwitness.probe.factors import Selection, get
from promptwitness.probe.runner import ProbeConfig, run_probe
from promptwitness.probe.sandbox import RunSpec, Sandbox
from promptwitness.store import Store

AGENT = Path(__file__).resolve().parents[2] / "fixtures" / "agents" / "planted_agent.py"
EXPOSE = (sys.base_prefix, sys.prefix, str(AGENT.parent))
INSTANT = dt.datetime(2026, 12, 5, 23, 59, 0, tzinfo=dt.UTC).timestamp()


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    assert shim()[0] is not None, shim()[1]  # setup.sh installs the compiler
    with Sandbox() as box:
        yield box  # type: ignore[misc]


def _out(box: Sandbox, argv: list[str], **kw: object) -> str:
    r = box.run(RunSpec(argv=tuple(argv), expose=EXPOSE, **kw))  # type: ignore[arg-type]
    assert r.exit_code == 0, r.stderr.decode()
    return r.stdout.decode().strip()


def test_every_runtime_sees_the_instant(sandbox: Sandbox) -> None:
    node = shutil.which("node")
    assert node is not None
    c = int(_out(sandbox, ["date", "-u", "+%s"], clock=INSTANT))
    js = float(_out(sandbox, [node, "-e", "console.log(Date.now() / 1000)"], clock=INSTANT))
    py = float(
        _out(
            sandbox,
            [sys.executable, "-I", "-S", "-c", "import time; print(time.time())"],
            clock=INSTANT,
        )
    )
    for seen in (c, js, py):
        assert INSTANT <= seen < INSTANT + 5, (describe(seen), describe(INSTANT))
    # the zone still applies on top: Shanghai is already on the next day
    assert (
        _out(sandbox, ["date", "+%F"], clock=INSTANT, system_zone="Asia/Shanghai") == "2026-12-06"
    )
    assert _out(sandbox, ["date", "-u", "+%F"], clock=INSTANT) == "2026-12-05"


def test_runs_made_apart_start_at_the_same_instant_and_tick(sandbox: Sandbox) -> None:
    script = "date -u +%s.%N; sleep 1; date -u +%s.%N"
    first = [float(x) for x in _out(sandbox, ["sh", "-c", script], clock=INSTANT).split()]
    time.sleep(1.2)
    second = [float(x) for x in _out(sandbox, ["sh", "-c", script], clock=INSTANT).split()]
    assert abs(first[0] - second[0]) < 0.9  # same start, though 2 s apart for real
    for a, b in (first, second):
        assert 0.95 < b - a < 3  # it ticks, at the real rate (sleep uses the real timer)
    real = float(_out(sandbox, ["date", "-u", "+%s.%N"]))
    assert abs(real - time.time()) < 5  # no clock: the real time


def test_the_pinned_clock_leaves_no_trace_in_the_environment(sandbox: Sandbox) -> None:
    show = [sys.executable, "-I", "-S", "-c", "import os; print(sorted(os.environ))"]
    assert _out(sandbox, show, clock=INSTANT) == _out(sandbox, show)
    shm = _out(sandbox, ["sh", "-c", "ls -A /dev/shm | wc -l"], clock=INSTANT)
    assert shm == "0"


def _probe(tmp_path: Path, sandbox: Sandbox, clock: str) -> dict:  # type: ignore[type-arg]
    from promptwitness.report.probe_json import to_json

    config = ProbeConfig(
        argv=(
            sys.executable,
            "-I",
            "-S",
            str(AGENT),
            "--real-clock-seconds",
            "--linger",
            "1.1",
            "--plant",
            "date-format:tz=Asia/Shanghai",
        ),
        selections=(Selection(get("tz"), ("UTC", "Asia/Shanghai")),),
        expose=EXPOSE,
        timeout=60,
        clock=clock,
        pairwise=False,
    )
    with Store.open(tmp_path / clock.replace(":", "")) as store:
        return to_json(run_probe(config, store, sandbox=sandbox))


def test_a_timestamp_that_changes_every_second_is_not_noise_under_a_pinned_clock(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """Each run lasts more than a second, so on the real clock every run writes another
    time (as every run writes another date across midnight): the timestamp is noise.
    Pinned, every run writes the same time and the form change is a covert finding. On
    the real clock the planted date form of Asia/Shanghai is inside the noise; it was
    lost there until the analysis compared the noisy value's form (``analysis.noisy``),
    and is found there now."""
    doc = _probe(tmp_path, sandbox, "pinned")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:(07|22|37|52):30Z", doc["design"]["clock"])
    assert doc["noise"] == [], json.dumps(doc["noise"])[:2000]
    found = {
        (f["kind"], f["severity"])
        for f in doc["findings"]
        if f["factors"] == {"tz": "Asia/Shanghai"}
    }
    assert ("date-format", "covert") in found, doc["findings"]
    real = _probe(tmp_path, sandbox, "real")
    assert real["design"]["clock"] == "real"
    assert real["noise"], "on the real clock each run wrote another second"
    inside = [f for f in real["findings"] if f["kind"] == "date-format"]
    assert [f["factors"] for f in inside] == [{"tz": "Asia/Shanghai"}], real["findings"]


WAITS = r"""
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <time.h>
static struct timespec soon(void) {  /* 300 ms from now, on the real-time clock */
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_nsec += 300000000;
    if (t.tv_nsec >= 1000000000) { t.tv_sec++; t.tv_nsec -= 1000000000; }
    return t;
}
int main(void) {
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    sem_t s;
    struct timespec t0, t1, d;
    sem_init(&s, 0, 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_mutex_lock(&m);
    d = soon(); pthread_cond_timedwait(&c, &m, &d);
    pthread_mutex_unlock(&m);
    d = soon(); sem_timedwait(&s, &d);
    d = soon(); clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &d, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%.3f\n", (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    return 0;
}
"""


def test_absolute_deadlines_wait_as_long_under_a_clock_in_the_past(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """A program that waits until "now + 300 ms" on the real-time clock (a condition
    variable, a semaphore, clock_nanosleep) waits 300 ms, though its clock is a year
    behind: without the shim shifting those deadlines back, each wait ended at once and
    Bun-built agents spun at 100 % of a core."""
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc is not None
    src, exe = tmp_path / "waits.c", tmp_path / "waits"
    src.write_text(WAITS)
    subprocess.run([cc, "-O2", "-o", str(exe), str(src), "-lpthread"], check=True)
    year_ago = time.time() - 365 * 86400
    for clock in (None, year_ago):
        r = sandbox.run(RunSpec(argv=(str(exe),), expose=(str(tmp_path),), clock=clock))
        assert r.exit_code == 0, r.stderr.decode()
        assert 0.85 < float(r.stdout) < 5, (clock, r.stdout)
