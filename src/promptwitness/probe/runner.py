"""Run a probe: every cell of the design, each replicate in its own sandbox (IO edge).

For each run the runner

1. builds the run's :class:`RunSpec` from the probe's base spec (the command, the
   capture environment of ``capture.env`` pointing every base-URL variable at
   ``http://127.0.0.1:PORT``, one set of dummy keys for the whole probe) with the
   cell's levels applied by the factor catalog (``apply_levels``);
2. starts the sandbox, which creates the listening socket on 127.0.0.1:PORT *inside*
   the run's network namespace and hands it to the runner's serve hook, where a
   :class:`CaptureServer` (sink mode, one store run per probe run) serves it from this
   process;
3. waits for the command, stops the server (every exchange is stored), reads the run's
   exchanges back from the store and cuts them into request segments
   (``probe.observe``).

The order: control replicates first (noise), then the one-at-a-time and covering
cells, then whatever confirmation cells the analysis asks for. ``jobs`` runs go at once
(each in its own namespaces; the store is shared and thread-safe).
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from promptwitness.agents.profiles.base import HomeFiles
from promptwitness.analysis.attribute import Analysis, Observation, analyse, verdict
from promptwitness.capture.env import BASE_URL_VARS, capture_env, dummy_keys
from promptwitness.capture.redact import Redactor
from promptwitness.capture.server import CaptureServer, ServerThread
from promptwitness.errors import Error
from promptwitness.probe.design import Cell, confirm, plan
from promptwitness.probe.factors import FactorContext, Selection, apply_levels, control_levels
from promptwitness.probe.observe import SentRequest, request_map
from promptwitness.probe.sandbox import RunResult, RunSpec, Sandbox, SandboxError
from promptwitness.protocols import DEFAULT_ANSWER
from promptwitness.store import Store

__all__ = ["PORT", "ProbeConfig", "ProbeResult", "RunRecord", "run_probe"]

PORT = 8080  # the capture endpoint inside every run's namespace (the same in every run)
STDERR_TAIL = 2000


class ProbeError(Error):
    """The probe could not run at all (exit code 2)."""


@dataclass(frozen=True)
class ProbeConfig:
    argv: tuple[str, ...]
    selections: tuple[Selection, ...]
    replicates: int = 2
    control_replicates: int = 3
    # covering rows only screen for interactions: a stable-looking change there is a
    # suspect, confirmed by pair cells run with ``replicates`` each, so one run is enough
    covering_replicates: int = 1
    jobs: int = 1
    workdir: str | None = None
    pairwise: bool = True
    timeout: float = 300.0
    env: Mapping[str, str] = field(default_factory=dict)  # added to every run (a profile)
    expose: tuple[str, ...] = ()
    answer_text: str = DEFAULT_ANSWER
    base_url_vars: tuple[tuple[str, str], ...] = tuple((v.name, v.suffix) for v in BASE_URL_VARS)
    # files under HOME rendered from each run's final environment (an agent profile's
    # configuration that must point at the endpoint the run's factors chose)
    home_files: HomeFiles | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.argv:
            raise ProbeError("no command to probe")
        if self.replicates < 1 or self.covering_replicates < 1:
            raise ProbeError("--replicates must be at least 1")
        if self.control_replicates < 2:
            raise ProbeError("the control needs at least 2 replicates to measure noise")
        if self.jobs < 1:
            raise ProbeError("--jobs must be at least 1")
        names = [s.name for s in self.selections]
        if len(set(names)) != len(names):
            raise ProbeError(f"a factor is selected twice: {', '.join(names)}")


@dataclass(frozen=True)
class RunRecord:
    """One run of one cell, as the report lists it."""

    run: str  # the store's run id
    cell: str
    replicate: int
    exit_code: int | None
    timed_out: bool
    duration: float
    overhead: float | None
    requests: int
    error: str | None
    stderr_tail: str = ""
    wall: float = 0.0  # seconds for the whole run as the runner saw it (server, store, ...)

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "cell": self.cell,
            "replicate": self.replicate,
            "exit_code": self.exit_code,
            "timed_out": self.timed_out,
            "duration": round(self.duration, 4),
            "overhead": None if self.overhead is None else round(self.overhead, 4),
            "wall": round(self.wall, 4),
            "requests": self.requests,
            "error": self.error,
        }


@dataclass
class ProbeResult:
    probe: str  # the store's run id of the probe as a whole
    config: ProbeConfig
    cells: list[Cell]
    runs: list[RunRecord]
    analysis: Analysis
    verdict: str
    started: float
    finished: float
    store_root: str


Progress = Callable[[str, Mapping[str, Any]], None]


def _no_progress(event: str, info: Mapping[str, Any]) -> None:
    del event, info


class _Runner:
    def __init__(self, config: ProbeConfig, store: Store, sandbox: Sandbox,
                 progress: Progress) -> None:
        self.config = config
        self.store = store
        self.sandbox = sandbox
        self.progress = progress
        self.ctx = FactorContext(port=PORT, base_url_vars=config.base_url_vars)
        self.keys = dummy_keys(config.env)
        self.redactor = Redactor(store.salt(), known_secrets=tuple(self.keys.values()))
        env = capture_env(config.env, "127.0.0.1", PORT, self.keys)
        self.base = RunSpec(
            argv=config.argv, env=tuple(env.items()), workdir=config.workdir,
            timeout=config.timeout, ports=(PORT,), expose=config.expose,
        )
        self.factors = {s.name: s.factor for s in config.selections}
        self.probe_id = ""
        self.records: list[RunRecord] = []
        self.observations: list[Observation] = []
        self._lock = threading.Lock()
        self.done = 0
        self.total = 0

    # -- one run -------------------------------------------------------------------

    def spec(self, cell: Cell) -> RunSpec:
        spec = apply_levels(self.base, cell.levels, self.ctx, self.factors)
        if self.config.home_files is not None:
            for path, data in self.config.home_files(spec.environ()):
                spec = spec.set_home_file(path, data)
        return spec

    def run_one(self, cell: Cell, replicate: int) -> None:
        t0 = time.monotonic()
        spec = self.spec(cell)
        run = self.store.begin_run(
            "probe-run", list(self.config.argv),
            {"probe": self.probe_id, "cell": cell.id, "levels": dict(cell.levels),
             "replicate": replicate, "purpose": cell.purpose},
        )
        server = CaptureServer(self.store, run=run, redactor=self.redactor,
                               answer_text=self.config.answer_text)
        thread = ServerThread(server)

        @contextlib.contextmanager
        def serve(socks: Mapping[int | str, Any]) -> Iterator[None]:
            thread.start(sock=socks[PORT])
            try:
                yield
            finally:
                thread.stop()

        result: RunResult | None = None
        error: str | None = None
        try:
            result = self.sandbox.run(spec, serve=serve)
        except SandboxError as exc:
            error = f"sandbox: {exc}"
        finally:
            thread.stop()
        if server.failures:
            error = "; ".join([*([error] if error else []), *server.failures])
        exchanges = self.store.exchanges(run=run)
        sent = [
            SentRequest(x.method, x.target, tuple(x.request_headers),
                        self.store.request_body(x), x.id)
            for x in exchanges
        ]
        requests = request_map(sent)
        tail = ""
        if result is not None:
            tail = result.stderr[-STDERR_TAIL:].decode("utf-8", "replace")
            if result.timed_out:
                error = error or f"timed out after {self.config.timeout:g} s"
            elif not requests:
                error = error or (f"no request reached the capture server "
                                  f"(exit code {result.exit_code})")
        self.store.end_run(run, None if result is None else result.exit_code)
        failed = error is not None and (not requests or result is None or result.timed_out)
        obs = Observation(cell=cell.id, levels=dict(cell.levels), replicate=replicate,
                          requests=None if failed else requests, error=error)
        rec = RunRecord(
            run=run, cell=cell.id, replicate=replicate,
            exit_code=None if result is None else result.exit_code,
            timed_out=False if result is None else result.timed_out,
            duration=0.0 if result is None else result.duration,
            overhead=None if result is None else result.overhead,
            requests=len(requests), error=error, stderr_tail=tail,
            wall=time.monotonic() - t0,
        )
        with self._lock:
            self.observations.append(obs)
            self.records.append(rec)
            self.done += 1
            done, total = self.done, self.total
        self.progress("run", {"cell": cell.id, "replicate": replicate, "record": rec,
                              "done": done, "total": total})

    # -- phases --------------------------------------------------------------------

    def run_cells(self, work: Sequence[tuple[Cell, int]], phase: str) -> None:
        with self._lock:
            self.total += len(work)
        self.progress("phase", {"phase": phase, "runs": len(work), "total": self.total})
        if self.config.jobs == 1 or len(work) == 1:
            for cell, rep in work:
                self.run_one(cell, rep)
            return
        with ThreadPoolExecutor(max_workers=self.config.jobs,
                                thread_name_prefix="promptwitness-probe") as pool:
            for f in [pool.submit(self.run_one, cell, rep) for cell, rep in work]:
                f.result()


def run_probe(config: ProbeConfig, store: Store, *, progress: Progress | None = None,
              sandbox: Sandbox | None = None) -> ProbeResult:
    """Run the whole probe and analyse it. Raises :class:`ProbeError` (or
    ``SandboxError``) when the probe cannot run at all."""
    report = progress or _no_progress
    own = sandbox is None
    box = sandbox if sandbox is not None else Sandbox(prefork=config.jobs)
    try:
        return _run(config, store, box, report)
    finally:
        if own:
            box.close()


def _run(config: ProbeConfig, store: Store, sandbox: Sandbox, progress: Progress) -> ProbeResult:
    started = time.time()
    r = _Runner(config, store, sandbox, progress)
    cells = plan(list(config.selections), pairwise=config.pairwise)
    control = control_levels(list(config.selections))
    r.probe_id = store.begin_run(
        "probe", list(config.argv),
        {"factors": {s.name: list(s.levels) for s in config.selections},
         "replicates": config.replicates, "control_replicates": config.control_replicates,
         "cells": len(cells), "id": uuid.uuid4().hex},
    )
    for c in cells:  # fail early on a bad spec (e.g. a zone the machine lacks)
        r.spec(c)
    sandbox.template(config.workdir)
    control_cell = cells[0]
    r.run_cells([(control_cell, i) for i in range(config.control_replicates)], "control")
    ok = [o for o in r.observations if o.requests is not None]
    if not ok:
        tail = next((rec.stderr_tail for rec in r.records if rec.stderr_tail), "")
        errors = "; ".join(sorted({rec.error or "" for rec in r.records}))
        store.end_run(r.probe_id, 2)
        raise ProbeError(
            "the command sent no request in any control run, so there is nothing to "
            f"compare ({errors})" + (f"\nits standard error ended with:\n{tail}" if tail else "")
        )
    rest = [(c, i) for c in cells[1:]
            for i in range(config.covering_replicates if c.purpose == "covering"
                           else config.replicates)]
    r.run_cells(rest, "cells")
    result = analyse(r.observations, control)
    if result.suspects:
        extra = confirm(result.suspects, list(config.selections))
        known = {c.id for c in cells}
        extra = [c for c in extra if c.id not in known]
        if extra:
            cells += extra
            r.run_cells([(c, i) for c in extra for i in range(config.replicates)], "confirm")
            result = analyse(r.observations, control)
    order = {c.id: i for i, c in enumerate(cells)}
    r.records.sort(key=lambda rec: (order.get(rec.cell, len(order)), rec.replicate))
    v = verdict(result, all_cells_ran=not result.failed)
    store.end_run(r.probe_id, {"clean": 0, "conditioned": 1}.get(v, 3))
    return ProbeResult(
        probe=r.probe_id, config=config, cells=cells, runs=r.records, analysis=result,
        verdict=v, started=started, finished=time.time(), store_root=str(store.root),
    )
