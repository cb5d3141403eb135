"""What the HTML and SARIF presenters need from the store (the IO edge of reporting).

A :class:`~promptwitness.probe.runner.ProbeResult` names runs and request keys but
carries no bodies; the store has them. :func:`probe_evidence` reads, for the report's
reference run (control replicate 0) and for the first successful replicate of every
finding's cell, the exchange behind each request key the report refers to, and
returns an :data:`Evidence` mapping ``(run id, request key) -> RequestEvidence``. The
presenters take that mapping as an optional argument, so they stay pure (and a report
without it simply has no "exact request bytes" sections).

:func:`diff_report` builds the input of the ``diff`` presenters: the two exchanges as
evidence and their segment differences, classified once here (the presenters never
recompute anything).

Request keys are the probe's (``probe.observe``). The runner recorded each run's keys
with their exchange ids (``RunRecord.exchanges``): the evidence is read by those ids,
never by keying a run's exchanges again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from promptwitness.analysis.changes import Change
from promptwitness.analysis.diff import SegmentDiff
from promptwitness.errors import NotFound
from promptwitness.probe.model import ProbeResult
from promptwitness.store import Store, StoredExchange

__all__ = [
    "MAX_BODY",
    "DiffReport",
    "Evidence",
    "RequestEvidence",
    "diff_report",
    "evidence_runs",
    "probe_evidence",
]

MAX_BODY = 1 << 20  # bytes of one body kept for a report (the store keeps them all)


@dataclass(frozen=True)
class RequestEvidence:
    """One captured request as the store has it (credentials already redacted at capture)."""

    run: str | None
    request: str  # the probe's request key, or ``#ID METHOD TARGET`` for a diff
    exchange: int  # the store's exchange id (``promptwitness show --raw ID``)
    method: str
    target: str
    http_version: str
    headers: tuple[tuple[str, str], ...]
    body: bytes  # at most MAX_BODY bytes (decoded when sent with a Content-Encoding)
    body_size: int  # the whole body's size (decoded)
    coding: str | None = None  # "gzip: 18,944 bytes received, 98,404 decoded", or None

    @property
    def truncated(self) -> int:
        """Bytes of the body left out of ``body``."""
        return self.body_size - len(self.body)

    def head_text(self) -> str:
        """Request line and headers, one per line (rebuilt from the stored fields)."""
        lines = [f"{self.method} {self.target} HTTP/{self.http_version}"]
        lines += [f"{k}: {v}" for k, v in self.headers]
        return "\n".join(lines) + "\n"

    def body_text(self) -> str:
        """The body as text: UTF-8, a byte that is not valid UTF-8 kept as a lone
        surrogate U+DC80..U+DCFF (``surrogateescape``), which every marker shows with its
        code, so the exact bytes can be read back."""
        return self.body.decode("utf-8", "surrogateescape")


Evidence = Mapping[tuple[str, str], RequestEvidence]


def _evidence(store: Store, x: StoredExchange, request: str) -> RequestEvidence:
    body = store.request_body(x)
    coding = None
    decoded = x.decoded_request_body(body)
    if decoded is not None:  # a compressed body is shown decoded, and said so
        coding = (
            f"{', '.join(decoded.codings)}: {len(body):,} bytes stored, "
            f"{len(decoded.body):,} decoded"
        )
        if decoded.error is not None:
            coding += f" (could not be decoded in full: {decoded.error})"
        body = decoded.body
    return RequestEvidence(
        run=x.run,
        request=request,
        exchange=x.id,
        method=x.method,
        target=x.target,
        http_version=x.http_version,
        headers=tuple(x.request_headers),
        body=body[:MAX_BODY],
        body_size=len(body),
        coding=coding,
    )


def evidence_runs(result: ProbeResult) -> dict[str, set[str]]:
    """Run id -> the request keys a report of ``result`` refers to: the reference run's
    requests of every finding, and each finding's request in the first successful
    replicate of its cell (pure)."""
    a = result.analysis
    want: dict[str, set[str]] = {}
    ok = [r for r in result.runs if r.error is None]
    ref = a.reference
    ref_run = next((r.run for r in result.runs if ref and (r.cell, r.replicate) == ref), None)
    for f in a.findings:
        if ref_run is not None:
            want.setdefault(ref_run, set()).add(f.request)
        run = next((r.run for r in ok if r.cell == f.cell), None)
        if run is not None:
            want.setdefault(run, set()).add(f.request)
    return want


def probe_evidence(
    result: ProbeResult, store: Store | None = None
) -> dict[tuple[str, str], RequestEvidence]:
    """The raw requests a report of ``result`` refers to, read from ``store`` (default:
    ``Store.open(result.store_root)``, closed again). Missing runs or requests are left
    out, never invented."""
    ids = {r.run: r.exchanges for r in result.runs}
    own = store is None
    st = Store.open(result.store_root) if store is None else store
    try:
        out: dict[tuple[str, str], RequestEvidence] = {}
        for run, requests in sorted(evidence_runs(result).items()):
            for request in sorted(requests):
                ex_id = ids.get(run, {}).get(request)
                if ex_id is None:
                    continue
                try:
                    x = st.get(ex_id)
                except NotFound:
                    continue
                out[(run, request)] = _evidence(st, x, request)
        return out
    finally:
        if own:
            st.close()


@dataclass(frozen=True)
class DiffReport:
    """Two captured requests and how their prompts differ (the ``diff`` command)."""

    a: RequestEvidence
    b: RequestEvidence
    changes: tuple[tuple[SegmentDiff, tuple[Change, ...]], ...]  # each differing segment
    store_root: str

    @property
    def identical(self) -> bool:
        return not self.changes

    @property
    def same_values(self) -> bool:
        """The prompts' values are identical; only the JSON serialisation differs."""
        return bool(self.changes) and all(d.channel == "serialisation" for d, _ in self.changes)


def exchange_key(x: StoredExchange) -> str:
    return f"#{x.id} {x.method} {x.target}"


def diff_report(
    store: Store,
    xa: StoredExchange,
    xb: StoredExchange,
    diffs: Iterable[SegmentDiff],
    forms: Iterable[tuple[SegmentDiff, Sequence[Change]]] = (),
) -> DiffReport:
    """Read both requests and classify every differing segment (``analysis.detectors``);
    ``forms``: the bodies' serialisation differences (``analysis.serialisation.
    compare_forms``), already classified, listed after the segments."""
    from promptwitness.analysis.detectors import classify

    return DiffReport(
        a=_evidence(store, xa, exchange_key(xa)),
        b=_evidence(store, xb, exchange_key(xb)),
        changes=tuple((d, tuple(classify(d))) for d in diffs)
        + tuple((d, tuple(cs)) for d, cs in forms),
        store_root=store.label,
    )
