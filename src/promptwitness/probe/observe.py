"""What one run sent, as the analysis sees it: request keys and segments (sans-IO).

A run may send several requests (a reachability ``HEAD /``, a token count, a small
title call with another model, the main call). Each becomes one entry of the run's
``requests`` mapping, keyed so that the same request of two runs gets the same key:

    "METHOD PATH [MODEL] #N"      a model call (MODEL when the prompt names one)
    "METHOD PATH #N"              anything else
    "METHOD HOST/PATH #N"         anything else, in hermetic mode (the host it went to)

In hermetic mode every host is captured, so a request that is not a model call carries
its host (``POST statsig.anthropic.com/v1/rgstr #0``); model calls stay host-free, so that
the ``endpoint-host`` levels (the vendor's default host, a base-URL host) compare the
same logical request.

``N`` counts the requests with the same ``METHOD PATH [MODEL]`` in the order they
arrived (0 for the first), so a run's second main call is ``... #1`` whatever came in
between. PATH is the target without its query; the query is part of the segments.

Segments of a request:
- a model call (its body parsed into a Prompt): every segment of
  ``analysis.segments.segments`` (which includes the request headers that describe
  the agent, not the transport), plus ``target`` (channel ``request``: path and query),
  plus the body's form segments (channel ``serialisation``:
  ``analysis.serialisation.form_segments`` of the body, decoded first when it was sent
  with a ``Content-Encoding``): how the JSON is written, which the values do not show;
- anything else: ``target``, ``headers.NAME`` (the same header selection) and, when
  the body is not empty, ``body`` (channel ``body``): the body as text when it is
  UTF-8, else ``body.sha256`` with the digest — raw bytes stay in the store;
- a model call whose body is not valid for its protocol: as "anything else", plus
  ``parse-error`` (channel ``request``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from promptwitness.analysis.segments import escape_name, segments
from promptwitness.analysis.serialisation import form_segments
from promptwitness.model import RawRequest, Segment
from promptwitness.protocols import parse_request
from promptwitness.protocols.common import select_headers
from promptwitness.protocols.encoding import decode_request

__all__ = ["SentRequest", "request_forms", "request_map"]


@dataclass(frozen=True)
class SentRequest:
    """One captured request of a run (already redacted)."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    exchange: int | None = None  # the store's id, for the report
    host: str | None = None  # hermetic mode: the host it was sent to (no default port)


def _other(req: SentRequest) -> list[Segment]:
    out = [Segment("target", req.target, "request")]
    for name, value in select_headers(req.headers).items():
        out.append(Segment(f"headers.{escape_name(name)}", value, "header"))
    if req.body:
        try:
            out.append(Segment("body", req.body.decode("utf-8"), "body"))
        except UnicodeDecodeError:
            out.append(Segment("body.sha256", hashlib.sha256(req.body).hexdigest(), "body"))
    return out


def request_forms(raw: RawRequest) -> tuple[Segment, ...]:
    """The form segments of a request's JSON body (decoded when it has a content
    coding); ``()`` when the body is not JSON or cannot be decoded."""
    decoded, error = decode_request(raw)
    return () if error is not None else form_segments(decoded.body)


def keyed_requests(
    requests: Iterable[SentRequest],
) -> list[tuple[str, SentRequest, tuple[Segment, ...]]]:
    """The run's requests with their keys (as in the module docstring) and segments, in
    arrival order."""
    counts: dict[str, int] = {}
    out: list[tuple[str, SentRequest, tuple[Segment, ...]]] = []
    for req in requests:
        path = req.target.split("?", 1)[0]
        raw = RawRequest(req.method, req.target, req.headers, req.body)
        outcome = parse_request(raw)
        base = f"{req.method} {path}"
        if outcome.prompt is not None:
            if outcome.prompt.model:
                base += f" [{outcome.prompt.model}]"
            segs = [
                *segments(outcome.prompt),
                Segment("target", req.target, "request"),
                *request_forms(raw),
            ]
        else:
            segs = _other(req)
            if req.host:
                base = f"{req.method} {req.host}{path}"
            if outcome.error is not None:
                segs.append(Segment("parse-error", outcome.error, "request"))
        n = counts[base] = counts.get(base, -1) + 1
        out.append((f"{base} #{n}", req, tuple(segs)))
    return out


def request_map(requests: Iterable[SentRequest]) -> dict[str, tuple[Segment, ...]]:
    """The run's requests keyed as in the module docstring, in arrival order."""
    return {key: segs for key, _, segs in keyed_requests(requests)}
