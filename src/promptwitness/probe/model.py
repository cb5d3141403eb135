"""The probe's values: what a probe is (:class:`ProbeConfig`), what each run gave
(:class:`RunRecord`) and what the probe found (:class:`ProbeResult`). No IO: the runner
(``probe.runner``) makes them, the presenters (``report``) read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from promptwitness.analysis.attribute import Analysis
from promptwitness.capture.env import BASE_URL_VARS
from promptwitness.errors import ProbeError, UsageError
from promptwitness.probe.clock import parse_clock
from promptwitness.probe.design import Cell
from promptwitness.probe.factors import Selection
from promptwitness.protocols import DEFAULT_ANSWER

if TYPE_CHECKING:
    from promptwitness.agents.profiles.base import HomeFiles
    from promptwitness.capture.hermetic import HermeticOptions

__all__ = ["ProbeConfig", "ProbeResult", "RunRecord"]


@dataclass(frozen=True)
class ProbeConfig:
    argv: tuple[str, ...]
    selections: tuple[Selection, ...]
    replicates: int = 2
    control_replicates: int = 3
    # covering rows only screen for interactions: a stable-looking change there is a
    # suspect, confirmed by pair cells run with ``replicates`` each, so one run is enough
    covering_replicates: int = 1
    # a cell runs once and gets its ``replicates`` only when that run shows a change
    # (or fails): a run that shows nothing already clears its levels against the
    # control's replicates. False: every cell gets its replicates up front.
    sequential: bool = True
    # with sequential runs and covering rows: a level that a row of two factors or more
    # holds runs alone only once a row holding it shows a change (the rows run every
    # level already; a level whose rows all show nothing is cleared by them). Off by
    # default: a one-at-a-time cell is the only cell where a level meets the control of
    # every other factor, so only it sees an agent that conditions on one unusual signal
    # in an otherwise ordinary environment, or a factor another one masks (TZ hides the
    # system zone). ``--screen`` turns it on for a faster, weaker audit.
    screen: bool = False
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
    hermetic: HermeticOptions | None = None  # None: base-URL variables only
    # the runs' wall clock (``probe.clock.parse_clock``): "pinned" (every run starts at
    # the probe's instant), "real", or an ISO 8601 instant
    clock: str = "pinned"

    def __post_init__(self) -> None:
        if not self.argv:
            raise ProbeError("no command to probe")
        try:
            parse_clock(self.clock, 0.0)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if self.replicates < 1 or self.covering_replicates < 1:
            raise ProbeError("--replicates must be at least 1")
        if self.control_replicates < 2:
            raise ProbeError("the control needs at least 2 replicates to measure noise")
        if self.jobs < 1:
            raise ProbeError("--jobs must be at least 1")
        for s in self.selections:
            if s.name == "endpoint-host" and "default" in s.levels and self.hermetic is None:
                raise UsageError(
                    "endpoint-host=default (no base-URL variable: the agent's default host) "
                    "needs --hermetic, which captures the vendor's own hosts"
                )
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
    # request key -> the store's exchange id (the evidence a finding points at)
    exchanges: Mapping[str, int] = field(default_factory=dict)

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
    # hermetic mode: per run id, host -> paths, counts, bytes (capture.hermetic.egress)
    egress: dict[str, dict[str, Any]] = field(default_factory=dict)
    # hermetic mode: {ca_trust, preflight, dns_names, tls_failures}; None otherwise
    hermetic: dict[str, Any] | None = None
    clock: float | None = None  # the instant every run's clock started at; None: real
    clock_note: str = ""  # why the clock is real when it was meant to be pinned
