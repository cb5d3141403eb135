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

Hermetic mode (``ProbeConfig.hermetic``): no base-URL variable in the base spec (the
agent as installed; ``endpoint-host`` levels may still set one), and every run's
namespace also gets the hermetic endpoints of ``capture.hermetic`` (DNS on 53, TLS on
443 with the probe's CA, plain HTTP on 80, CONNECT on the capture port), run by a
``probe.hermetic.HermeticSession``. How the CA is trusted is decided once, by a preflight
control run with the system bundle alone: when a client rejected our certificate there,
every run also gets the runtime's CA variable.
Every exchange with every host is captured; the report's ``egress`` lists them per run.

The order: control replicates first (noise), then the one-at-a-time and covering
cells, then whatever confirmation cells the analysis asks for. Sequential replicates
(``ProbeConfig.sequential``, the default): every cell runs once; a cell whose run shows a
change from the control (or fails) is then topped up to its replicates, and a change
is a finding only if every replicate shows it. A cell whose one run shows nothing is
cleared by the control's replicates, which hold the noise, as in ``discover``'s group
tests; that saves about a quarter of the runs of a clean agent's audit. ``jobs`` runs go at once
(each in its own namespaces; the store is shared and thread-safe).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from promptwitness.analysis.attribute import (
    EXIT_CODES,
    Analysis,
    Observation,
    analyse,
    verdict,
)
from promptwitness.capture.env import CAPTURE_PORT, capture_env, dummy_keys
from promptwitness.capture.hermetic import (
    DNS_PORT,
    HTTP_PORT,
    HTTPS_PORT,
    egress,
    host_name,
)
from promptwitness.capture.redact import Redactor
from promptwitness.capture.server import CaptureServer, ServerConfig, ServerThread
from promptwitness.capture.tls import CertificateAuthority
from promptwitness.errors import (
    ProbeError as ProbeError,
)
from promptwitness.model import CannedReply
from promptwitness.probe.clock import describe as describe_clock
from promptwitness.probe.clock import parse_clock
from promptwitness.probe.clock import shim as clock_shim
from promptwitness.probe.design import Cell, confirm, plan
from promptwitness.probe.factors import FactorContext, apply_levels, control_levels
from promptwitness.probe.hermetic import HermeticRun, HermeticSession
from promptwitness.probe.model import ProbeConfig, ProbeResult, RunRecord
from promptwitness.probe.observe import SentRequest, keyed_requests
from promptwitness.probe.sandbox import RunResult, RunSpec, Sandbox, SandboxError, Tracing
from promptwitness.store import Store

__all__ = ["PORT", "ProbeConfig", "ProbeResult", "RunRecord", "Session", "run_probe", "traced_run"]

PORT = CAPTURE_PORT  # the capture endpoint inside every run's namespace
STDERR_TAIL = 2000


Progress = Callable[[str, Mapping[str, Any]], None]


def _no_progress(event: str, info: Mapping[str, Any]) -> None:
    del event, info


def canned_answers_used(
    answers: Mapping[tuple[str, str], CannedReply], egress: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The profile's canned vendor answers (hermetic mode) and how many runs asked for
    each: part of the evidence (the capture depended on what they said)."""
    asked_by_run = [
        {tuple(k.split(" ", 1)) for h in doc.values() for k in h.get("paths", {})} for doc in egress
    ]
    out = []
    for (method, path), reply in sorted(answers.items()):
        n = sum(
            1 for asked in asked_by_run if any(p == path and method in ("*", m) for m, p in asked)
        )
        out.append({"method": method, "path": path, "status": reply.status, "runs": n})
    return out


def _resolve_clock(text: str, now: float) -> tuple[float | None, str]:
    """The probe's clock instant (None: real) and, when ``pinned`` had to fall back to
    the real time, why."""
    instant = parse_clock(text, now)
    if instant is None:
        return None, ""
    _, why = clock_shim()
    if not why:
        return instant, ""
    if text.strip() == "pinned":
        return None, f"the clock could not be pinned: {why}"
    raise ProbeError(f"--clock {text}: {why} (bash scripts/setup.sh installs a C compiler)")


class _Runner:
    def __init__(
        self, config: ProbeConfig, store: Store, sandbox: Sandbox, progress: Progress
    ) -> None:
        self.config = config
        self.store = store
        self.sandbox = sandbox
        self.progress = progress
        self.ctx = FactorContext(port=PORT, base_url_vars=config.base_url_vars)
        self.keys = dummy_keys(config.env)
        self.redactor = Redactor(store.salt(), known_secrets=tuple(self.keys.values()))
        self.session: HermeticSession | None = None
        self.clock, self.clock_note = _resolve_clock(config.clock, time.time())
        if config.hermetic is None:
            env = capture_env(
                config.env, "127.0.0.1", PORT, self.keys, extra_vars=config.base_url_vars
            )
            self.base = RunSpec(
                argv=config.argv,
                env=tuple(env.items()),
                workdir=config.workdir,
                timeout=config.timeout,
                ports=(PORT,),
                expose=config.expose,
                clock=self.clock,
            )
        else:
            # the agent as installed: no base-URL variable, no NO_PROXY; keys only
            # valid from before the runs' clock too (a --clock instant in the past)
            start = min(time.time(), self.clock if self.clock is not None else time.time())
            ca = CertificateAuthority.generate(now=dt.datetime.fromtimestamp(start, dt.UTC))
            self.session = HermeticSession(ca, config.hermetic, port=PORT)
            env = {**dict(config.env), **self.keys}
            self.base = RunSpec(
                argv=config.argv,
                env=tuple(env.items()),
                workdir=config.workdir,
                timeout=config.timeout,
                ports=(PORT, DNS_PORT, HTTP_PORT, HTTPS_PORT),
                udp_ports=(DNS_PORT,),
                expose=config.expose,
                clock=self.clock,
            )
        self.egress: dict[str, dict[str, Any]] = {}
        self.dns_names: dict[str, None] = {}
        self.tls_failures: list[dict[str, Any]] = []
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
        if self.session is not None:
            spec = self.session.spec(spec)
        return spec

    def execute(
        self,
        spec: RunSpec,
        run: str,
        cancel_on_reject: bool = False,
        trace: Tracing | None = None,
    ) -> tuple[RunResult | None, str | None, HermeticRun | None]:
        """Run ``spec`` in the sandbox with a capture server (and, in hermetic mode,
        the hermetic endpoints: ``HermeticSession.run``) serving it; every exchange is
        stored on return."""
        opts = self.config.hermetic
        server = CaptureServer(
            self.store,
            ServerConfig(
                run=run,
                answer_text=self.config.answer_text,
                answers={} if opts is None else opts.answers,
                fallback=None if opts is None else opts.fallback,
            ),
            redactor=self.redactor,
        )
        hermetic: HermeticRun | None = None
        result: RunResult | None = None
        error: str | None = None
        if self.session is not None:
            hermetic = self.session.run(
                self.sandbox, spec, server, cancel_on_reject=cancel_on_reject, trace=trace
            )
            result = hermetic.result
            if hermetic.sandbox_error is not None:
                error = f"sandbox: {hermetic.sandbox_error}"
        else:
            thread = ServerThread(server)

            @contextlib.contextmanager
            def serve(socks: Mapping[int | str, Any]) -> Iterator[None]:
                thread.start(sock=socks[PORT])
                try:
                    yield
                finally:
                    thread.stop()

            try:
                if trace is not None:
                    result = self.sandbox.run(spec, serve=serve, trace=trace)
                else:
                    result = self.sandbox.run(spec, serve=serve)
            except SandboxError as exc:
                error = f"sandbox: {exc}"
            finally:
                thread.stop()
        if server.failures:
            error = "; ".join([*([error] if error else []), *server.failures])
        return result, error, hermetic

    def preflight(self) -> dict[str, Any]:
        """Hermetic mode: one control run with the system bundle alone; when a client
        rejected our certificate, every run also gets the runtime's CA variable."""
        assert self.session is not None
        cell = plan(list(self.config.selections), pairwise=False)[0]
        spec = self.spec(cell)
        run = self.store.begin_run(
            "probe-preflight",
            list(self.config.argv),
            {"probe": self.probe_id, "cell": cell.id, "ca_trust": self.session.trust.label},
        )
        result, error, hermetic = self.execute(spec, run, cancel_on_reject=True)
        self.store.end_run(run, None if result is None else result.exit_code)
        assert hermetic is not None
        self.session.learn(hermetic)
        return {
            "run": run,
            "system_bundle_rejected_by": hermetic.refused_by,
            "exit_code": None if result is None else result.exit_code,
            "timed_out": bool(result and result.timed_out),
            "stopped_at_rejection": bool(result and result.cancelled),
            "error": error,
        }

    def run_one(self, cell: Cell, replicate: int) -> None:
        t0 = time.monotonic()
        spec = self.spec(cell)
        run = self.store.begin_run(
            "probe-run",
            list(self.config.argv),
            {
                "probe": self.probe_id,
                "cell": cell.id,
                "levels": dict(cell.levels),
                "replicate": replicate,
                "purpose": cell.purpose,
            },
        )
        result, error, hermetic_run = self.execute(spec, run)
        hermetic = None if hermetic_run is None else hermetic_run.hermetic
        exchanges = self.store.exchanges(run=run)
        on_host = hermetic is not None
        sent = [
            SentRequest(
                x.method,
                x.target,
                tuple(x.request_headers),
                self.store.request_body(x),
                x.id,
                host_name(x.host) if on_host else None,
            )
            for x in exchanges
        ]
        if hermetic is not None:
            failures = [h.as_dict() for h in hermetic.tls_log.failures()]
            with self._lock:
                self.egress[run] = egress(exchanges)
                for name in hermetic.dns_log.names():
                    self.dns_names.setdefault(name, None)
                self.tls_failures += [{"run": run, **f} for f in failures]
        keyed = keyed_requests(sent)
        requests = {key: segs for key, _, segs in keyed}
        exchange_ids = {key: req.exchange for key, req, _ in keyed if req.exchange is not None}
        tail = ""
        if result is not None:
            tail = result.stderr[-STDERR_TAIL:].decode("utf-8", "replace")
            if result.timed_out:
                error = error or f"timed out after {spec.timeout:g} s"
            elif not requests:
                error = error or (
                    f"no request reached the capture server (exit code {result.exit_code})"
                )
        self.store.end_run(run, None if result is None else result.exit_code)
        failed = error is not None and (not requests or result is None or result.timed_out)
        obs = Observation(
            cell=cell.id,
            levels=dict(cell.levels),
            replicate=replicate,
            requests=None if failed else requests,
            error=error,
        )
        rec = RunRecord(
            run=run,
            cell=cell.id,
            replicate=replicate,
            exit_code=None if result is None else result.exit_code,
            timed_out=False if result is None else result.timed_out,
            duration=0.0 if result is None else result.duration,
            overhead=None if result is None else result.overhead,
            requests=len(requests),
            error=error,
            stderr_tail=tail,
            wall=time.monotonic() - t0,
            exchanges=exchange_ids,
        )
        with self._lock:
            self.observations.append(obs)
            self.records.append(rec)
            self.done += 1
            done, total = self.done, self.total
        self.progress(
            "run",
            {"cell": cell.id, "replicate": replicate, "record": rec, "done": done, "total": total},
        )

    # -- phases --------------------------------------------------------------------

    def run_cells(self, work: Sequence[tuple[Cell, int]], phase: str) -> None:
        with self._lock:
            self.total += len(work)
        self.progress("phase", {"phase": phase, "runs": len(work), "total": self.total})
        if self.config.jobs == 1 or len(work) == 1:
            for cell, rep in work:
                self.run_one(cell, rep)
            return
        with ThreadPoolExecutor(
            max_workers=self.config.jobs, thread_name_prefix="promptwitness-probe"
        ) as pool:
            for f in [pool.submit(self.run_one, cell, rep) for cell, rep in work]:
                f.result()


def _replicates(cell: Cell, config: ProbeConfig) -> int:
    """Runs of a cell. A covering row that varies three factors or more only screens:
    what it shows is a suspect until pair cells confirm it, so it runs
    ``covering_replicates`` times. A row that varies two factors *is* a pair cell (the
    analysis attributes to it directly), so it needs the full ``replicates``."""
    if cell.purpose == "covering" and len(cell.varied) >= 3:
        return config.covering_replicates
    return config.replicates


def run_probe(
    config: ProbeConfig,
    store: Store,
    *,
    progress: Progress | None = None,
    sandbox: Sandbox | None = None,
) -> ProbeResult:
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


class Session:
    """One probe in progress, for designs that choose their next cells from what the
    last ones showed (``discover``'s screening and group testing; ``run_probe`` uses it
    for its fixed plan). One store run for the probe, one runner, one analysis.

        s = Session(config, store, sandbox, progress)
        s.begin(cells)                # the probe's run, spec checks, hermetic preflight
        s.run_control()               # the control replicates (ProbeError: nothing sent)
        s.run([(cell, n), ...], "cells")   # each cell topped up to n runs
        s.analyse(exclude={cell ids}) # the analysis of every run so far (but those cells)
        s.finish(cells, analysis)     # the ProbeResult (the store's probe run ended)
    """

    def __init__(
        self, config: ProbeConfig, store: Store, sandbox: Sandbox, progress: Progress | None = None
    ) -> None:
        self.config = config
        self.store = store
        self.sandbox = sandbox
        self.started = time.time()
        self.runner = _Runner(config, store, sandbox, progress or _no_progress)
        self.control = control_levels(list(config.selections))
        self.hermetic: dict[str, Any] | None = None
        self._runs: Counter[str] = Counter()
        # each run's changes against the reference, computed once over the rounds
        self._memo: dict[tuple[str, int, str, int], dict[Any, Any]] = {}

    @property
    def observations(self) -> list[Observation]:
        return self.runner.observations

    def begin(self, cells: Sequence[Cell], meta: Mapping[str, Any] | None = None) -> None:
        config, r = self.config, self.runner
        r.probe_id = self.store.begin_run(
            "probe",
            list(config.argv),
            {
                "factors": {s.name: list(s.levels) for s in config.selections},
                "replicates": config.replicates,
                "control_replicates": config.control_replicates,
                "cells": len(cells),
                "id": uuid.uuid4().hex,
                **dict(meta or {}),
            },
        )
        for c in cells:  # fail early on a bad spec (e.g. a zone the machine lacks)
            r.spec(c)
        r.progress("clock", {"clock": describe_clock(r.clock), "note": r.clock_note})
        self.sandbox.template(config.workdir)
        if config.hermetic is not None:
            r.progress("phase", {"phase": "preflight", "runs": 1, "total": 0})
            preflight = r.preflight()
            assert r.session is not None
            self.hermetic = {"ca_trust": r.session.trust.label, "preflight": preflight}

    def run(self, work: Sequence[tuple[Cell, int]], phase: str) -> None:
        """Run each cell until it has had ``n`` runs (replicates numbered on)."""
        todo: list[tuple[Cell, int]] = []
        for cell, n in work:
            have = self._runs[cell.id]
            todo += [(cell, i) for i in range(have, n)]
            self._runs[cell.id] = max(have, n)
        if todo:
            self.runner.run_cells(todo, phase)

    def runs_of(self, cell: str) -> int:
        """How many runs of ``cell`` have been started so far."""
        return self._runs[cell]

    def run_control(self) -> Cell:
        """The control replicates; ProbeError when no control run sent anything."""
        control_cell = plan(list(self.config.selections), pairwise=False)[0]
        self.run([(control_cell, self.config.control_replicates)], "control")
        r = self.runner
        if not any(o.requests is not None for o in r.observations):
            tail = next((rec.stderr_tail for rec in r.records if rec.stderr_tail), "")
            errors = "; ".join(sorted({rec.error or "" for rec in r.records}))
            self.store.end_run(r.probe_id, 2)
            raise ProbeError(
                "the command sent no request in any control run, so there is nothing to "
                f"compare ({errors})"
                + (f"\nits standard error ended with:\n{tail}" if tail else "")
            )
        return control_cell

    def tighten_timeout(self, factor: float = 4.0, floor: float = 10.0) -> float:
        """From now on, a run times out after ``factor`` times the slowest control run
        (at least ``floor`` seconds, at most the configured timeout): a screening run
        whose inputs make the command hang (another provider, a prompt for a login)
        costs seconds, not the whole timeout. Returns the timeout in force."""
        done = [
            rec.duration
            for rec in self.runner.records
            if rec.cell == "control" and not rec.timed_out and rec.error is None
        ]
        if not done:
            return self.runner.base.timeout
        limit = min(self.config.timeout, max(floor, factor * max(done)))
        self.runner.base = replace(self.runner.base, timeout=limit)
        return limit

    def analyse(self, exclude: Iterable[str] = ()) -> Analysis:
        skip = set(exclude)
        return analyse(
            [o for o in self.runner.observations if o.cell not in skip],
            self.control,
            memo=self._memo,
        )

    def finish(
        self, cells: list[Cell], result: Analysis, exclude: Iterable[str] = ()
    ) -> ProbeResult:
        """The probe's result; the runs of ``exclude``d cells are left out of the
        report's runs (they are in the store)."""
        r, config = self.runner, self.config
        skip = set(exclude)
        order = {c.id: i for i, c in enumerate(cells)}
        records = [rec for rec in r.records if rec.cell not in skip]
        records.sort(key=lambda rec: (order.get(rec.cell, len(order)), rec.replicate))
        v = verdict(result, all_cells_ran=not result.failed)
        self.store.end_run(r.probe_id, EXIT_CODES.get(v, 3))
        hermetic = self.hermetic
        if hermetic is not None:
            hermetic["dns_names"] = list(r.dns_names)
            hermetic["tls_failures"] = r.tls_failures
            hermetic["default_hosts"] = (
                list(config.hermetic.default_hosts) if config.hermetic is not None else []
            )
            if config.hermetic is not None:
                hermetic["canned_answers"] = canned_answers_used(
                    config.hermetic.answers, r.egress.values()
                )
        return ProbeResult(
            probe=r.probe_id,
            config=config,
            cells=[c for c in cells if c.id not in skip],
            runs=records,
            analysis=result,
            verdict=v,
            started=self.started,
            finished=time.time(),
            store_root=self.store.label,
            egress=r.egress,
            hermetic=hermetic,
            clock=r.clock,
            clock_note=r.clock_note,
        )


def traced_run(
    config: ProbeConfig,
    store: Store,
    sandbox: Sandbox,
    tracing: Tracing,
    progress: Progress | None = None,
) -> tuple[RunResult | None, str | None, str]:
    """One run of ``config``'s control cell under ``tracing`` (``discover``'s dynamic
    discovery), served by a capture server like any probe run, so the command gets as
    far as a probed one. Returns the sandbox's result (with ``trace``), the error if
    any, and the store's run id. In hermetic mode the CA trust is decided by a preflight
    run first, as in a probe."""
    r = _Runner(config, store, sandbox, progress or _no_progress)
    cell = plan(list(config.selections), pairwise=False)[0]
    r.probe_id = store.begin_run("discover-trace", list(config.argv), {"id": uuid.uuid4().hex})
    sandbox.template(config.workdir)
    if config.hermetic is not None:
        r.preflight()
    run = store.begin_run("probe-trace", list(config.argv), {"probe": r.probe_id, "cell": cell.id})
    result, error, _ = r.execute(r.spec(cell), run, trace=tracing)
    code = None if result is None else result.exit_code
    store.end_run(run, code)
    store.end_run(r.probe_id, code)
    return result, error, run


def _shows_change(result: Analysis, observations: Sequence[Observation], cell: str) -> bool:
    """Whether a cell's runs so far show a change from the control (a finding or a
    suspect of the cell), or failed (no request: rerun it)."""
    return (
        any(cell in f.cells for f in result.findings)
        or any(s.cell == cell for s in (*result.suspects, *result.unresolved))
        or any(o.cell == cell and o.requests is None for o in observations)
    )


def screened(cells: Sequence[Cell]) -> dict[tuple[str, str], Cell]:
    """The one-at-a-time cells whose level some row of two factors or more holds, by
    level: the rows screen them (``ProbeConfig.screen``)."""
    held = {a for c in cells if c.purpose == "covering" for a in c.varied.items()}
    out: dict[tuple[str, str], Cell] = {}
    for c in cells:
        if c.purpose == "one-at-a-time":
            ((level),) = c.varied.items()
            if level in held:
                out[level] = c
    return out


def _run(config: ProbeConfig, store: Store, sandbox: Sandbox, progress: Progress) -> ProbeResult:
    s = Session(config, store, sandbox, progress)
    cells = plan(list(config.selections), pairwise=config.pairwise)
    s.begin(cells)
    s.run_control()
    first = 1 if config.sequential else None
    # screening (--screen): the covering rows run every non-control level, several at
    # once; a level runs alone only once a row holding it shows a change (its cell
    # "wakes"). A clean agent's audit then costs the control and the rows: about 40 %
    # fewer runs, but no level meets the control of every other factor unless woken.
    asleep = screened(cells) if config.sequential and config.screen else {}
    waiting = {c.id for c in asleep.values()}
    s.run([(c, first or _replicates(c, config)) for c in cells[1:] if c.id not in waiting], "cells")
    result = s.analyse()
    known = {c.id for c in cells}
    while True:
        woken = []
        if asleep:
            for c in cells[1:]:
                if len(c.varied) < 2 or not s.runs_of(c.id):
                    continue
                if _shows_change(result, s.observations, c.id):
                    woken += [asleep.pop(a) for a in c.varied.items() if a in asleep]
        # sequential: a cell whose first run shows a change gets its other replicates;
        # a suspect of a covering row gets its pair cells (one run each, first), once
        # the cells of its levels alone have run (they may explain it)
        due = [
            (c, _replicates(c, config))
            for c in cells[1:]
            if 0 < s.runs_of(c.id) < _replicates(c, config)
            and _shows_change(result, s.observations, c.id)
        ]
        extra = [
            c
            for c in (
                confirm(result.suspects, list(config.selections))
                if result.suspects and not woken
                else []
            )
            if c.id not in known
        ]
        if not due and not extra and not woken:
            break
        cells += extra
        known |= {c.id for c in extra}
        if woken:
            s.run([(c, first or _replicates(c, config)) for c in woken], "one-at-a-time")
        if due:
            s.run(due, "replicates")
        if extra:
            s.run([(c, first or config.replicates) for c in extra], "confirm")
        result = s.analyse()
    # the cells the rows cleared stay in the design, with no run and the reason
    cleared = {c.id for c in asleep.values()}
    cells = [
        Cell(c.levels, c.purpose, SCREENED_REASON, c.control) if c.id in cleared else c
        for c in cells
    ]
    return s.finish(cells, result)


SCREENED_REASON = (
    "Not run alone: the covering rows that hold this level (with levels of other factors) "
    "showed no change from the control, which clears it; it would have run alone, with "
    "replicates, had one of them shown a change."
)
