"""Capture and audit an agent release by release (IO edge).

    run_history(source, releases, store, options) -> History      the changelog
    run_bisect(source, releases, signature, store, options) -> Bisect

Each version is captured by one call of ``probe.runner.run_probe``: with no factor
(``selections=()``) the design is the control cell alone, so the probe runs the
version's headless command ``options.runs`` times in the sandbox, identically, and
every run is stored like any probe run. With ``options.audit`` (factor selections)
the same probe also runs the screening cells, and its control replicates are the
version's baseline: one probe per version either way. Reusing the runner keeps one
code path for sandbox, capture server, redaction and store (no copy of its run
logic); the baseline's requests are read back from the store (the probe's control
runs) and cut into segments with ``probe.observe.request_map``, exactly as the
runner's analysis sees them.

A :class:`Source` is where versions come from: :class:`ProfileSource` uses an agent
profile and the package registry (``agents.registry``: versions, install into the
agent cache); tests use a source whose "versions" are command lines.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from promptwitness.agents.profiles.base import HomeFiles, Profile
from promptwitness.capture.env import dummy_keys
from promptwitness.errors import Error
from promptwitness.history.bisect import Search, Signature, search
from promptwitness.history.timeline import (
    Audit,
    AuditFinding,
    RunCapture,
    Timeline,
    VersionCapture,
    build_timeline,
)
from promptwitness.model import Release
from promptwitness.probe.factors import Selection
from promptwitness.probe.observe import SentRequest, request_map
from promptwitness.probe.runner import ProbeConfig, ProbeResult, run_probe
from promptwitness.probe.sandbox import Sandbox
from promptwitness.store import Store

__all__ = [
    "Bisect",
    "History",
    "HistoryOptions",
    "Installed",
    "ProfileSource",
    "Source",
    "capture_version",
    "run_bisect",
    "run_history",
]

Progress = Callable[[str, Mapping[str, Any]], None]


def _quiet(event: str, info: Mapping[str, Any]) -> None:
    del event, info


@dataclass(frozen=True)
class Installed:
    """How to run one installed version headless."""

    argv: tuple[str, ...]
    expose: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    base_url_vars: tuple[tuple[str, str], ...] | None = None  # None: the runner's default
    home_files: HomeFiles | None = None


class Source(Protocol):
    @property
    def name(self) -> str: ...  # e.g. "claude-code"

    @property
    def title(self) -> str: ...  # e.g. "Claude Code"

    def releases(self) -> list[Release]: ...

    def install(self, version: str) -> Installed: ...


@dataclass
class ProfileSource:
    """A real agent: its profile, the registry's releases, the agent cache."""

    profile: Profile
    prompt: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.profile.name

    @property
    def title(self) -> str:
        return self.profile.title

    def releases(self) -> list[Release]:
        from promptwitness.agents.registry import versions

        return versions(self.profile)

    def install(self, version: str) -> Installed:
        """As ``audit`` does: the registry's install (npm or PyPI, cached), its roots
        exposed in the sandbox, a cached Node.js first in PATH when the profile needs one."""
        from promptwitness.agents.registry import install

        inst = install(self.profile, version)
        env = inst.env(self.profile, self.env)
        return Installed(
            argv=self.profile.argv(str(inst.binary), self.prompt),
            expose=inst.roots,
            env=env,
            base_url_vars=self.profile.base_url_vars or None,
            home_files=self.profile.home_files,
        )


@dataclass(frozen=True)
class HistoryOptions:
    runs: int = 2  # identical baseline runs per version (noise); with an audit, at least 3
    audit: tuple[Selection, ...] | None = None  # screening factors; None: no audit
    replicates: int = 2  # per audit cell
    pairwise: bool = False
    timeout: float = 300.0
    jobs: int = 1
    workdir: str | None = None
    # the runs' clock (``ProbeConfig.clock``); the CLI fixes one instant for the whole
    # history, so every version's runs see the same dates
    clock: str = "pinned"


@dataclass(frozen=True)
class History:
    agent: str
    title: str
    timeline: Timeline
    captures: tuple[VersionCapture, ...]
    started: float
    finished: float


@dataclass(frozen=True)
class Bisect:
    signature: Signature
    versions: tuple[Release, ...]  # the range searched
    search: Search
    captures: Mapping[str, VersionCapture]  # every version tested, by version
    started: float
    finished: float

    @property
    def first(self) -> str | None:
        return None if self.search.first is None else self.versions[self.search.first].version

    @property
    def last(self) -> str | None:
        return None if self.search.last is None else self.versions[self.search.last].version


# ------------------------------------------------------------------------- one version


def _baseline(result: ProbeResult, store: Store) -> tuple[RunCapture, ...]:
    runs: list[RunCapture] = []
    for rec in result.runs:
        if rec.cell != "control" or rec.timed_out or rec.requests == 0:
            continue
        exchanges = store.exchanges(run=rec.run)
        sent: list[SentRequest] = []
        sizes: dict[str, int] = {}
        for x in exchanges:
            sent.append(
                SentRequest(
                    x.method, x.target, tuple(x.request_headers), store.request_body(x), x.id
                )
            )
        requests = request_map(sent)
        for key, req in zip(requests, sent, strict=True):
            sizes[key] = len(req.body)
        runs.append(RunCapture(requests, sizes))
    return tuple(runs)


def _audit(result: ProbeResult) -> Audit:
    findings = tuple(
        AuditFinding(
            factors=dict(f.factors),
            request=f.request,
            path=f.change.path,
            kind=f.change.kind,
            severity=f.change.severity,
            control=f.change.control,
            observed=f.change.observed,
            code_points=f.change.code_points,
            detail=f.change.detail,
        )
        for f in result.analysis.findings
    )
    return Audit(
        verdict=result.verdict,
        findings=findings,
        runs=len(result.runs),
        failed_runs=sum(1 for r in result.runs if r.error is not None),
        seconds=round(result.finished - result.started, 2),
    )


def capture_version(
    source: Source,
    release: Release,
    store: Store,
    sandbox: Sandbox,
    options: HistoryOptions,
    progress: Progress = _quiet,
    audit: tuple[Selection, ...] | None = None,
    keys: Mapping[str, str] | None = None,
) -> VersionCapture:
    """Install (or reuse) one version and capture its baseline (and audit, when
    ``audit`` or ``options.audit`` gives factors). ``keys``: the dummy API keys of the
    whole history (the same in every version, so that their redacted fingerprints do
    not read as a change; default: fresh ones). Never raises an ``Error``: a version
    that cannot be installed or run is a capture with ``error`` set."""
    t0 = time.monotonic()
    version = release.version
    selections = audit if audit is not None else options.audit
    progress("install", {"version": version})
    try:
        inst = source.install(version)
    except Error as exc:
        return VersionCapture(
            version, release.published, (), f"install: {exc}", seconds=time.monotonic() - t0
        )
    progress("installed", {"version": version, "seconds": time.monotonic() - t0})
    control = max(options.runs, 3) if selections else options.runs
    config = ProbeConfig(
        argv=inst.argv,
        selections=selections or (),
        replicates=options.replicates,
        control_replicates=control,
        jobs=options.jobs,
        workdir=options.workdir,
        pairwise=options.pairwise,
        timeout=options.timeout,
        env={**(keys if keys is not None else dummy_keys({})), **inst.env},
        expose=inst.expose,
        base_url_vars=inst.base_url_vars or ProbeConfig.base_url_vars,
        home_files=inst.home_files,
        clock=options.clock,
    )

    def relay(event: str, info: Mapping[str, Any]) -> None:
        progress(event, {**info, "version": version})

    try:
        result = run_probe(config, store, progress=relay, sandbox=sandbox)
    except Error as exc:
        return VersionCapture(
            version, release.published, (), str(exc), seconds=time.monotonic() - t0
        )
    runs = _baseline(result, store)
    error = (
        None
        if len(runs) >= 2
        else (
            f"only {len(runs)} of {control} baseline runs sent a request; noise cannot be measured"
        )
    )
    return VersionCapture(
        version,
        release.published,
        runs if error is None else (),
        error,
        audit=_audit(result) if selections else None,
        seconds=time.monotonic() - t0,
    )


# --------------------------------------------------------------------------- commands


def run_history(
    source: Source,
    releases: Sequence[Release],
    store: Store,
    options: HistoryOptions,
    progress: Progress = _quiet,
    sandbox: Sandbox | None = None,
) -> History:
    """Capture every release (in the order given) and build the timeline."""
    started = time.time()
    box = sandbox if sandbox is not None else Sandbox()
    keys = dummy_keys({})
    try:
        captures: list[VersionCapture] = []
        for n, rel in enumerate(releases, 1):
            progress("version", {"version": rel.version, "index": n, "total": len(releases)})
            cap = capture_version(source, rel, store, box, options, progress, keys=keys)
            captures.append(cap)
            progress("captured", {"version": rel.version, "capture": cap})
    finally:
        if sandbox is None:
            box.close()
    return History(
        source.name,
        source.title,
        build_timeline(source.name, captures),
        tuple(captures),
        started,
        time.time(),
    )


def bisect_selections(
    signature: Signature, screening: tuple[Selection, ...], given: bool
) -> tuple[Selection, ...]:
    """The factors a bisect audit varies: the user's (``given``), else only the
    signature's factor (its screening levels, narrowed to control + LEVEL when the
    signature names one), else the whole screening set."""
    if given or signature.factor is None:
        return screening
    from promptwitness.probe.factors import get

    sel = next((s for s in screening if s.name == signature.factor), None)
    if sel is None:
        factor = get(signature.factor)
        if not factor.levels and signature.level is None:
            return screening
        sel = Selection(factor, factor.levels)
    if signature.level is not None:
        control = sel.levels[0] if sel.levels else signature.level
        if signature.level == control:
            return (sel,)
        sel = Selection(sel.factor, (control, signature.level))
    return (sel,)


def run_bisect(
    source: Source,
    releases: Sequence[Release],
    signature: Signature,
    store: Store,
    options: HistoryOptions,
    selections: tuple[Selection, ...],
    known: str | None = None,
    progress: Progress = _quiet,
    sandbox: Sandbox | None = None,
    probes: int = 7,
    cache: Mapping[str, VersionCapture] | None = None,
) -> Bisect:
    """Audit as few releases as the search needs (``history.bisect.search``).

    ``cache``: audits already made with the same ``selections`` (by version), reused
    instead of audited again (they count as tests of the search all the same)."""
    started = time.time()
    versions = tuple(releases)
    index = {r.version: i for i, r in enumerate(versions)}
    known_i = None
    if known is not None:
        if known not in index:
            from promptwitness.errors import UsageError

            raise UsageError(f"--bisect-known {known} is not in the range")
        known_i = index[known]
    box = sandbox if sandbox is not None else Sandbox()
    keys = dummy_keys({})
    captures: dict[str, VersionCapture] = {}

    def holds(i: int) -> bool | None:
        rel = versions[i]
        known_cap = (cache or {}).get(rel.version)
        if known_cap is not None and known_cap.audit is not None:
            captures[rel.version] = known_cap
            return signature.holds(known_cap.audit)
        progress("version", {"version": rel.version, "index": len(captures) + 1, "total": None})
        cap = capture_version(
            source, rel, store, box, options, progress, audit=selections, keys=keys
        )
        captures[rel.version] = cap
        ok = None if cap.audit is None else signature.holds(cap.audit)
        progress("audited", {"version": rel.version, "capture": cap, "holds": ok})
        return ok

    try:
        found = search(len(versions), holds, known_i, probes=probes)
    finally:
        if sandbox is None:
            box.close()
    return Bisect(signature, versions, found, captures, started, time.time())
